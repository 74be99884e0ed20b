// ClubOS operator console: one ES module, no framework, no build step (docs/console.md says why).
// Pages are hash routes; every answer from the API is rendered as DOM nodes built with h() (never
// innerHTML with data). Live updates come from GET /v1/events (SSE, cookie-authenticated), with
// polling every 10 s when the stream fails.

const POLL_MS = 10_000;
const CATEGORIES = ['tech', 'booking', 'access', 'faq', 'emergency'];
const ACTION_DONE = new Set(['verified', 'escalated', 'rejected', 'cancelled']);

// ---------- state ----------
// Cards the inbox shows before "Show all": a screenful or three on a phone, cheap to draw.
const INBOX_FIRST = 100;
const S = {
  user: null,          // {name, role}
  csrf: '',
  controls: null,      // GET /v1/emergency-stop
  escalations: [],     // GET /v1/escalations?status=open
  status: null,        // GET /v1/status (locations, doors), null when missing
  page: null,          // current route name
  threadId: null,      // open thread
  threadToken: 0,      // selection token: a stale thread fetch never renders over another
  viewToken: 0,        // same for whole pages
  thread: null,        // last rendered thread (with actions' details)
  watchers: new Map(), // action id -> (transition) => void, for buttons waiting on the world
  filters: { location: '', reason: '', mine: false },
  missing: new Set(),  // routes the server answered 404/405 for (shown, and in the report)
};

// ---------- DOM helpers ----------
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'test') el.dataset.test = v;
    else if (k === 'class') el.className = v;
    else if (k === 'onclick' && tag === 'button') {
      // One tap, one request: while what the tap started is under way the button is disabled
      // and further taps do nothing (a double tap must not text the customer twice).
      el.addEventListener('click', async (ev) => {
        if (el.dataset.busy) return;
        const r = v(ev);
        if (!r || typeof r.then !== 'function') return;
        el.dataset.busy = '1'; el.disabled = true;
        try { await r; } finally { delete el.dataset.busy; el.disabled = false; }
      });
    } else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else if (k === 'style') el.style.cssText = v;  // through the CSSOM: the CSP refuses style attributes
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : String(kid));
  }
  return el;
}
const $ = (sel, root = document) => root.querySelector(sel);
const main = () => $('#main');
// replaceChildren does not flatten arrays (it would print "[object HTMLDivElement]"): this does.
function mount(...kids) { main().replaceChildren(...kids.flat(Infinity).filter((k) => k !== null && k !== undefined && k !== false)); }
function toast(text) {
  const t = $('#toast');
  t.textContent = text;
  t.classList.add('show');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => t.classList.remove('show'), 3500);
}
// A status line under a button: aria-live so a screen reader hears what happened.
function statusLine(test) { return h('div', { class: 'status', test, 'aria-live': 'polite' }); }
function say(line, text, kind) {
  line.textContent = text;
  line.className = 'status' + (kind ? ' ' + kind : '');
}

// A live re-render must not lose what a button said (nor the line a watcher writes to): the old
// status elements themselves move into the new page.
function takeStatuses() {
  const m = new Map();
  for (const el of main().querySelectorAll('.status[data-test]')) if (el.textContent) m.set(el.dataset.test, el);
  return m;
}
function putStatuses(m, fallback) {
  for (const [test, el] of m) {
    const fresh = main().querySelector('.status[data-test="' + test + '"]');
    if (fresh) fresh.replaceWith(el);
    else if (fallback) fallback.append(el);
  }
}

// ---------- time ----------
function hhmm(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false });
}
function when(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  const today = new Date().toDateString() === d.toDateString();
  return today ? hhmm(iso) : d.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false });
}
function age(iso) {
  if (!iso) return '';
  const s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  if (s < 60) return s + 's';
  const m = Math.floor(s / 60);
  if (m < 60) return m + 'm';
  const hrs = Math.floor(m / 60);
  if (hrs < 48) return hrs + 'h ' + (m % 60) + 'm';
  return Math.floor(hrs / 24) + 'd';
}

// ---------- API ----------
class ApiError extends Error {
  constructor(status, code, message, body) { super(message); this.status = status; this.code = code; this.body = body; }
}
async function api(method, path, body, { quiet404 = false, retried = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = S.csrf || '';
  let res;
  try {
    res = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, 'network', 'The server could not be reached (' + e.message + ')');
  }
  const text = await res.text();
  let j = null;
  try { j = text ? JSON.parse(text) : null; } catch { j = null; }
  if (!res.ok) {
    const err = j && j.error ? j.error : {};
    // A login in another tab replaced this tab's session (and its CSRF token): read the session
    // again; the same person retries once, another person's session starts over as theirs.
    if (res.status === 403 && err.code === 'csrf' && !retried && S.user) {
      const s = await api('GET', '/v1/session').catch(() => null);
      if (s && s.user && s.user.name === S.user.name) {
        S.csrf = s.csrf_token || '';
        return api(method, path, body, { quiet404, retried: true });
      }
      if (s && s.user) { onSession(s); throw new ApiError(403, 'csrf', 'You are now logged in as ' + s.user.name + ' (another tab): nothing was sent; try again.', j); }
    }
    if ((res.status === 404 && /^no route for/.test(err.message || '')) || res.status === 405) S.missing.add(method + ' ' + path.split('?')[0]);
    if (res.status === 401 && path !== '/v1/session') { onLoggedOut(); }
    const msg = err.message || (res.status + ' ' + res.statusText);
    const e = new ApiError(res.status, err.code || 'http_' + res.status, msg, j);
    e.retryAfter = res.headers.get('Retry-After');
    if (quiet404 && res.status === 404) return null;
    throw e;
  }
  return j;
}
const isAdmin = () => S.user && S.user.role === 'admin';
const escUrgent = (e) => (e.priority <= 1 || e.reason === 'emergency' || (/^emergency_/.test(e.reason || '') && e.reason !== 'emergency_stop'));

// ---------- session ----------
async function boot() {
  $('#logout').addEventListener('click', logout);
  window.addEventListener('hashchange', route);
  try {
    const s = await api('GET', '/v1/session');
    onSession(s);
  } catch (e) {
    if (e.status === 401) return showLogin();
    if (e.status === 404) {
      // No session route on this server yet: only an --insecure-dev server answers without one.
      S.missing.add('GET /v1/session');
      onSession({ user: { name: 'dev', role: 'admin' }, csrf_token: '' });
      return;
    }
    mount(h('p', { class: 'status err', test: 'boot-error' }, e.message));
  }
}
function onSession(s) {
  S.user = s.user;
  S.csrf = s.csrf_token || '';
  $('#who').textContent = S.user.name + ' · ' + S.user.role;
  $('#logout').hidden = false;
  $('#nav').hidden = false;
  document.body.classList.toggle('is-admin', isAdmin());
  for (const a of document.querySelectorAll('.admin-only')) a.hidden = !isAdmin();
  startLive();
  refreshControls();
  // The inbox reads the escalations itself when it renders; any other page needs them for the
  // badge and the emergency bar.
  if (location.hash && location.hash !== '#/login' && !location.hash.startsWith('#/inbox')) refreshEscalations();
  loadStatus();
  if (!location.hash || location.hash === '#/login') location.hash = '#/inbox';
  else route();
}
function onLoggedOut() {
  if (!S.user) return;
  S.user = null;
  stopLive();
  showLogin('Your session ended. Log in again.');
}
async function logout() {
  try { await api('DELETE', '/v1/session'); } catch { /* logged out either way */ }
  S.user = null; S.csrf = '';
  stopLive();
  showLogin();
}
function showLogin(note) {
  $('#nav').hidden = true; $('#logout').hidden = true; $('#who').textContent = '';
  $('#stop-banner').hidden = true; $('#urgent-bar').hidden = true;
  const name = h('input', { id: 'login-name', name: 'username', autocomplete: 'username', required: true, test: 'login-name' });
  const pass = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true, test: 'login-password' });
  const line = statusLine('login-error');
  const btn = h('button', { type: 'submit', test: 'login-submit' }, 'Log in');
  const form = h('form', { class: 'card login', test: 'login-form', onsubmit: async (ev) => {
    ev.preventDefault();
    btn.disabled = true;
    say(line, 'Logging in…');
    try {
      const s = await api('POST', '/v1/session', { name: name.value.trim(), password: pass.value });
      pass.value = '';
      say(line, '');
      onSession(s);
    } catch (e) {
      // Never say which of the two was wrong.
      if (e.status === 401) say(line, 'Wrong name or password.', 'err');
      else if (e.status === 429) say(line, 'Too many failed attempts. Try again in ' + (e.retryAfter || 'a few') + ' seconds.', 'err');
      else say(line, e.message, 'err');
      pass.value = '';
      pass.focus();
    } finally { btn.disabled = false; }
  } },
  h('h1', {}, 'ClubOS operator console'),
  note ? h('p', { class: 'muted' }, note) : null,
  h('label', { for: 'login-name' }, 'Name'), name,
  h('label', { for: 'login-password' }, 'Password'), pass,
  h('div', { class: 'row', style: 'margin-top:.75rem' }, btn), line);
  mount(form);
  name.focus();
}

// ---------- live updates ----------
const L = { es: null, lastId: null, pollTimer: null, retryTimer: null, errors: 0, mode: 'connecting', eventsJson: true };
function setLive(mode) {
  L.mode = mode;
  const el = $('#live');
  el.textContent = mode;
  el.className = 'live ' + mode;
  el.dataset.mode = mode;
}
function startLive() {
  stopLive();
  if (!('EventSource' in window)) return startPolling();
  let es;
  const resume = L.lastId ? '?after=' + encodeURIComponent(L.lastId) : '';
  try { es = new EventSource('/v1/events' + resume, { withCredentials: true }); } catch { return startPolling(); }
  L.es = es;
  setLive('connecting');
  es.addEventListener('open', () => {
    const wasPolling = L.mode === 'polling';
    L.errors = 0; setLive('live'); stopPolling();
    if (wasPolling) { refreshEscalations(); refreshControls(); }  // what happened meanwhile
  });
  es.addEventListener('cursor', (ev) => { if (ev.lastEventId) L.lastId = ev.lastEventId; });
  es.addEventListener('transition', (ev) => {
    if (ev.lastEventId) L.lastId = ev.lastEventId;
    try { onTransition(JSON.parse(ev.data)); } catch (e) { console.error(e); }
  });
  es.addEventListener('controls', () => { refreshControls(); if (S.page === 'controls') refreshControlsPage(); });
  es.addEventListener('error', () => {
    L.errors += 1;
    // CLOSED: the server refused the stream (no route, 401, wrong type); EventSource will not retry.
    if (es.readyState === EventSource.CLOSED || L.errors >= 3) {
      es.close();
      L.es = null;
      startPolling();
      clearTimeout(L.retryTimer);
      L.retryTimer = setTimeout(() => { if (S.user) startLive(); }, 60_000);
    } else if (L.errors >= 2) setLive('reconnecting');
    // else: the server ended one answer of the stream, as it does; EventSource reconnects at once.
  });
}
function stopLive() {
  if (L.es) { L.es.close(); L.es = null; }
  stopPolling();
  clearTimeout(L.retryTimer);
}
function startPolling() {
  setLive('polling');
  if (L.pollTimer) return;
  const tick = async () => {
    if (!S.user) return;
    let got = false;
    if (L.eventsJson) {
      try {
        const r = await api('GET', '/v1/events' + (L.lastId ? '?after=' + encodeURIComponent(L.lastId) : ''));
        if (r && Array.isArray(r.items)) {
          const first = L.lastId === null;
          if (r.last_id !== undefined && r.last_id !== null) L.lastId = String(r.last_id);
          if (!first) for (const t of r.items) onTransition(t);
          got = true;
        }
      } catch (e) { if (e.status === 404 || e.status === 405 || e.status === 406) L.eventsJson = false; }
    }
    // Without the JSON feed, read everything on the page again.
    refreshControls();
    if (!got) {
      // No feed of transitions: read each action a button waits on.
      for (const [id, fn] of S.watchers) api('GET', '/v1/actions/' + id).then((a) => fn({ to: a.state, event: a.state })).catch(() => {});
      refreshEscalations();
      if (S.page === 'thread' || S.page === 'suggestions') route(true);
    }
  };
  tick();
  L.pollTimer = setInterval(tick, POLL_MS);
}
function stopPolling() { clearInterval(L.pollTimer); L.pollTimer = null; }

function debounce(fn, ms) {
  let t = null;
  return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
}
// At most one read of the queue in flight and one waiting: a burst of transitions costs one more
// read, and the first of them is read within a frame or two (a debounce would wait the burst out).
function coalesced(fn, ms) {
  let scheduled = false, running = false, again = false;
  const run = async () => {
    scheduled = false; running = true;
    try { await fn(); } finally { running = false; if (again) { again = false; kick(); } }
  };
  const kick = () => {
    if (running) { again = true; return; }
    if (!scheduled) { scheduled = true; setTimeout(run, ms); }
  };
  return kick;
}
const refreshEscalationsSoon = coalesced(() => refreshEscalations(), 30);
const refreshThreadSoon = debounce(() => { if (S.page === 'thread') loadThread(S.threadId, true); }, 200);
const refreshPageSoon = debounce(() => { if (S.page === 'suggestions') route(true); }, 400);

function onTransition(t) {
  const w = t.machine === 'action' ? S.watchers.get(Number(t.entity_id)) : null;
  if (w) w(t);
  // The queue changes only when a thread enters, moves within or leaves `escalated`.
  if (t.machine === 'thread' && (t.to === 'escalated' || t.from === 'escalated')) refreshEscalationsSoon();
  if (S.page === 'thread' && S.threadId !== null) {
    const mine = (t.machine === 'thread' && Number(t.entity_id) === S.threadId) || Number(t.thread_id) === S.threadId
      || (t.machine === 'action' && S.thread && S.thread.actions.some((a) => a.id === Number(t.entity_id)));
    if (mine) refreshThreadSoon();
  }
  if (S.page === 'suggestions') refreshPageSoon();
}

// Tell, on a status line, what the world did with an action: "queued", then each state the stream
// shows, ending with "verified" only when the verification transition arrives.
function watchAction(id, line, label) {
  say(line, label + ': queued (action #' + id + ')');
  line.dataset.actionId = id;
  line.dataset.state = 'queued';
  const done = (t) => {
    line.dataset.state = t.to;
    if (t.to === 'verified') { say(line, label + ': verified (action #' + id + ')', 'ok'); S.watchers.delete(id); }
    else if (ACTION_DONE.has(t.to)) { say(line, label + ': ' + t.to + ' (' + t.event.replace(/_/g, ' ') + ', action #' + id + ')', 'err'); S.watchers.delete(id); }
    else say(line, label + ': ' + t.to.replace(/_/g, ' ') + ' (action #' + id + ')');
  };
  S.watchers.set(id, done);
  // The stream may have passed already (or be down): read the action once to catch up.
  api('GET', '/v1/actions/' + id).then((a) => {
    if (line.dataset.state === 'queued' && a && a.state && a.state !== 'received') done({ to: a.state, event: a.state });
  }).catch(() => {});
}

// ---------- controls (emergency stop banner, on every page) ----------
async function refreshControls() {
  try {
    S.controls = await api('GET', '/v1/emergency-stop');
  } catch { return; }
  if (!S.user) return;  // logged out meanwhile: nothing of theirs over the login page
  const b = $('#stop-banner');
  const stops = (S.controls && S.controls.stops) || [];
  if (S.controls && S.controls.engaged && stops.length) {
    b.replaceChildren('EMERGENCY STOP engaged: ',
      ...stops.map((s, i) => h('span', { test: 'stop-banner-item' }, i ? '; ' : '', s.scope + ' by ' + s.by + ' at ' + hhmm(s.at) + ' (' + s.reason + ')')),
      ' ', h('a', { href: '#/controls' }, 'Controls'));
    b.hidden = false;
  } else b.hidden = true;
}

// ---------- escalations (inbox data, and the emergency bar on every page) ----------
async function refreshEscalations() {
  let items = [];
  try {
    let after = null;
    for (let page = 0; page < 5; page++) {  // at most 1,000: an inbox longer than that is a different problem
      const r = await api('GET', '/v1/escalations?status=open&limit=200' + (after ? '&after=' + encodeURIComponent(after) : ''));
      items = items.concat(r.items || []);
      if (!r.next) break;
      after = r.next;
    }
  } catch (e) {
    if (S.page === 'inbox') { const l = $('[data-test=inbox-error]'); if (l) say(l, e.message, 'err'); }
    return;
  }
  if (!S.user) return;  // logged out meanwhile
  S.escalations = items;
  const open = items.length;
  $('#nav-count').textContent = open ? String(open) : '';
  const urgent = items.filter((e) => escUrgent(e) && !e.claimed_by);
  const bar = $('#urgent-bar');
  if (urgent.length) {
    bar.replaceChildren(urgent.length === 1 ? 'Unclaimed emergency: ' : urgent.length + ' unclaimed emergencies: ',
      ...urgent.slice(0, 3).map((e, i) => h('a', { href: '#/thread/' + e.thread_id, test: 'urgent-link' }, i ? ', ' : '', '#' + e.thread_id + ' ' + e.location + (e.bay ? ' bay ' + e.bay : ''))));
    bar.hidden = false;
    document.title = '(!) ClubOS console';
  } else { bar.hidden = true; document.title = 'ClubOS console'; }
  if (S.page === 'inbox') renderInboxList();
}

async function loadStatus() {
  try { S.status = await api('GET', '/v1/status'); } catch { S.status = null; }
  return S.status;
}
function locations() {
  const ids = new Set();
  if (S.status && S.status.locations) for (const l of S.status.locations) ids.add(l.id);
  for (const e of S.escalations) ids.add(e.location);
  return [...ids].sort();
}

// ---------- router ----------
function route(refresh) {
  if (!S.user) return;
  const hash = location.hash || '#/inbox';
  const m = hash.match(/^#\/([a-z]+)(?:\/(\d+))?/);
  const page = m ? m[1] : 'inbox';
  const id = m && m[2] ? Number(m[2]) : null;
  // A knowledge document's id is no number: #/knowledge/faq.price.
  const doc = page === 'knowledge' ? decodeURIComponent((hash.match(/^#\/knowledge\/([A-Za-z0-9._-]+)/) || [])[1] || '') : '';
  const same = page === S.page && id === S.threadId;
  S.page = page;
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('on', a.dataset.page === page || (page === 'thread' && a.dataset.page === 'inbox'));
  if (page !== 'thread') { S.threadId = null; S.thread = null; }
  const token = ++S.viewToken;
  if (!(refresh === true && same)) mount(h('p', { class: 'muted', test: 'loading' }, 'Loading…'));
  switch (page) {
    case 'inbox': return renderInbox();
    case 'thread': S.threadId = id; return loadThread(id, refresh === true && same);
    case 'controls': return renderControls(token);
    case 'suggestions': return renderSuggestions(token);
    case 'policy': return renderPolicy(token);
    case 'knowledge': return doc ? renderKnowledgeDocument(doc, token) : renderKnowledge(token);
    case 'status': return renderStatus(token);
    default: location.hash = '#/inbox';
  }
}
const current = (token) => token === S.viewToken;

// ---------- inbox ----------
function renderInbox() {
  const f = S.filters;
  const loc = h('select', { id: 'f-location', test: 'filter-location', onchange: (e) => { f.location = e.target.value; renderInboxList(); } },
    h('option', { value: '' }, 'All locations'), locations().map((l) => h('option', { value: l }, l)));
  loc.value = f.location;
  const reasons = [...new Set(S.escalations.map((e) => e.reason).filter(Boolean))].sort();
  const rsn = h('select', { id: 'f-reason', test: 'filter-reason', onchange: (e) => { f.reason = e.target.value; renderInboxList(); } },
    h('option', { value: '' }, 'All reasons'), reasons.map((r) => h('option', { value: r }, r)));
  rsn.value = f.reason;
  const mine = h('input', { type: 'checkbox', id: 'f-mine', test: 'filter-mine', checked: f.mine, onchange: (e) => { f.mine = e.target.checked; renderInboxList(); } });
  mount(
    h('h1', {}, 'Inbox'),
    h('div', { class: 'filters' },
      h('div', {}, h('label', { for: 'f-location' }, 'Location'), loc),
      h('div', {}, h('label', { for: 'f-reason' }, 'Reason'), rsn),
      h('label', { class: 'inline', for: 'f-mine' }, mine, 'Mine only')),
    statusLine('inbox-error'),
    h('div', { id: 'inbox-list', test: 'inbox-list', 'aria-live': 'polite' }));
  renderInboxList();
  refreshEscalations();
}
function fillOptions(sel, values, all) {
  if (!sel) return;
  const have = [...sel.options].slice(1).map((o) => o.value).join('|');
  if (have === values.join('|')) return;
  const v = sel.value;
  sel.replaceChildren(h('option', { value: '' }, all), ...values.map((x) => h('option', { value: x }, x)));
  sel.value = values.includes(v) ? v : '';
}
function renderInboxList() {
  const list = $('#inbox-list');
  if (!list) return;
  const f = S.filters;
  fillOptions($('#f-location'), locations(), 'All locations');
  fillOptions($('#f-reason'), [...new Set(S.escalations.map((e) => e.reason).filter(Boolean))].sort(), 'All reasons');
  const items = S.escalations.filter((e) => (!f.location || e.location === f.location) && (!f.reason || e.reason === f.reason)
    && (!f.mine || e.claimed_by === S.user.name));
  // The API's order already is priority, then the longest waiting; kept as is.
  if (!items.length) { list.replaceChildren(h('p', { class: 'muted', test: 'inbox-empty' }, S.escalations.length ? 'Nothing matches the filters.' : 'No open escalations.')); return; }
  // A phone shows the first ones (the most urgent, the longest waiting); the rest on a tap.
  const shown = S.inboxAll ? items : items.slice(0, INBOX_FIRST);
  const more = items.length > shown.length
    ? h('button', { type: 'button', class: 'link', test: 'inbox-more', onclick: () => { S.inboxAll = true; renderInboxList(); } },
      'Show all ' + items.length)
    : null;
  list.replaceChildren(...shown.map((e) => {
    const urgent = escUrgent(e);
    return h('a', { class: 'card esc' + (urgent && !e.claimed_by ? ' urgent' : ''), href: '#/thread/' + e.thread_id, test: 'escalation', 'data-thread-id': e.thread_id, 'data-urgent': urgent ? 'true' : 'false' },
      h('div', { class: 'row' },
        urgent ? h('span', { class: 'badge urgent', test: 'urgent-badge' }, 'EMERGENCY') : null,
        h('span', { class: 'badge reason', test: 'esc-reason' }, e.reason || 'unknown'),
        h('span', { class: 'badge' }, 'P' + e.priority),
        h('span', { class: 'muted grow', style: 'text-align:right', title: e.escalated_at, test: 'esc-age' }, 'waiting ' + age(e.escalated_at))),
      h('div', { class: 'title' }, '#' + e.thread_id + ' · ' + e.location + (e.bay !== undefined && e.bay !== null ? ' · bay ' + e.bay : '') + ' · ' + e.customer),
      e.detail ? h('div', { class: 'muted' }, e.detail) : null,
      h('div', { class: 'row' },
        e.claimed_by ? h('span', { class: 'badge claimed', test: 'esc-claimed' }, 'claimed by ' + e.claimed_by) : h('span', { class: 'badge warn', test: 'esc-unclaimed' }, 'unclaimed'),
        e.paused_until && new Date(e.paused_until) > new Date() ? h('span', { class: 'badge warn' }, 'automation paused') : null,
        e.category ? h('span', { class: 'badge' }, e.category) : null));
  }), ...(more ? [more] : []));
}
setInterval(() => { if (S.page === 'inbox') renderInboxList(); }, 30_000);  // ages

// ---------- thread ----------
async function loadThread(id, refresh) {
  if (S.page !== 'thread' || S.threadId !== id) return;  // the operator has moved on
  const token = ++S.threadToken;
  let t;
  try {
    t = await api('GET', '/v1/threads/' + id);
    // Each action's whole story: attempts, outcome, transitions.
    const details = await Promise.all((t.actions || []).map((a) => api('GET', '/v1/actions/' + a.id).catch(() => a)));
    t.actions = details;
  } catch (e) {
    if (token !== S.threadToken || S.threadId !== id) return;
    mount(h('p', { class: 'status err', test: 'thread-error' }, e.message));
    return;
  }
  // The selection token: a slow answer for thread A never renders over thread B.
  if (token !== S.threadToken || S.threadId !== id || S.page !== 'thread') return;
  S.thread = t;
  renderThread(t, refresh);
}

function bayOf(t) { const e = (t.intent && t.intent.entities) || {}; return t.bay ?? e.bay ?? (t.intent && t.intent.bay) ?? null; }
function kv(obj, test) {
  if (!obj || typeof obj !== 'object') return h('p', { class: 'muted' }, 'none');
  return h('dl', { class: 'kv', test }, Object.entries(obj).flatMap(([k, v]) => [h('dt', {}, k),
    h('dd', {}, v === null ? '—' : typeof v === 'object' ? (Array.isArray(v) && v.every((x) => typeof x !== 'object') ? v.join(', ') : JSON.stringify(v)) : String(v))]));
}

function renderThread(t, refresh) {
  // Keep what the operator is typing across live re-renders.
  const keep = {};
  if (refresh) for (const el of main().querySelectorAll('textarea[id], input[id], select[id]')) keep[el.id] = el.value;
  const keepStatus = refresh ? takeStatuses() : new Map();

  const me = S.user.name;
  const esc = t.escalation;
  const claimedBy = t.claimed_by || (esc && esc.claimed_by);
  const escalated = t.state === 'escalated';
  const paused = t.paused_until && new Date(t.paused_until) > new Date();

  const actLine = statusLine('thread-status');
  const claimBtn = h('button', { type: 'button', test: 'claim', onclick: () => doClaim(t, false, actLine) }, 'Claim');
  const takeClaimBtn = h('button', { type: 'button', class: 'secondary', test: 'claim-take-over', onclick: () => doClaim(t, true, actLine) }, 'Take claim from ' + claimedBy);

  const head = h('section', { class: 'card', test: 'thread-head' },
    h('div', { class: 'row' },
      h('h1', { class: 'grow', test: 'thread-title' }, 'Thread #' + t.id),
      h('span', { class: 'badge', test: 'thread-state' }, t.state)),
    h('dl', { class: 'kv' },
      h('dt', {}, 'customer'), h('dd', { test: 'thread-customer' }, t.customer),
      h('dt', {}, 'location'), h('dd', {}, t.location + (bayOf(t) ? ' · bay ' + bayOf(t) : '')),
      h('dt', {}, 'priority'), h('dd', {}, String(t.priority)),
      h('dt', {}, 'category'), h('dd', {}, t.category || '—'),
      h('dt', {}, 'escalation'), h('dd', { test: 'thread-reason' }, t.escalation_reason ? t.escalation_reason + (esc && esc.detail ? ': ' + esc.detail : '') : '—'),
      h('dt', {}, 'claimed by'), h('dd', { test: 'thread-claimed-by' }, claimedBy || 'nobody')),
    h('div', { class: 'row' },
      escalated && !claimedBy ? claimBtn : null,
      escalated && claimedBy && claimedBy !== me ? takeClaimBtn : null),
    actLine);

  // Take over / hand back.
  const pauseLine = statusLine('pause-status');
  const pause = h('section', { class: 'card' + (paused ? ' paused' : ''), test: 'pause-box' },
    paused ? h('p', { test: 'paused-banner' }, 'Automation paused until ' + hhmm(t.paused_until) + ' by ' + (t.paused_by || 'an operator'))
      : h('p', { class: 'muted', test: 'automation-on' }, 'Automation is answering this thread.'),
    h('div', { class: 'row' },
      paused ? h('button', { type: 'button', test: 'hand-back', onclick: () => doPause(t, 'hand-back', pauseLine) }, 'Hand back')
        : h('button', { type: 'button', class: 'secondary', test: 'take-over', onclick: () => doPause(t, 'takeover', pauseLine) }, 'Take over')),
    pauseLine);

  // Messages and reply.
  const msgs = h('section', { class: 'card', test: 'messages' }, h('h2', {}, 'Messages'),
    (t.messages || []).map((m) => h('div', { class: 'msg ' + (m.direction === 'inbound' || m.direction === 'in' ? 'in' : 'out'), test: 'message', 'data-direction': m.direction },
      h('div', {}, m.body), h('div', { class: 'meta' }, (m.direction === 'inbound' || m.direction === 'in' ? m.from : 'to ' + m.to) + ' · ' + when(m.received_at)),
      m.automated && m.action_id ? renderFeedback(t, m) : null)),
    t.messages_truncated ? h('p', { class: 'muted' }, 'Older messages not shown.') : null);
  const replyText = h('textarea', { id: 'reply-text', test: 'reply-text', maxlength: 1600, placeholder: 'Text the customer (pauses automation)' });
  const replyLine = statusLine('reply-status');
  const reply = h('form', { class: 'card', test: 'reply-form', onsubmit: (ev) => { ev.preventDefault(); doReply(t, replyText, replyLine); } },
    h('label', { for: 'reply-text' }, 'Reply to ' + t.customer), replyText,
    h('div', { class: 'row', style: 'margin-top:.5rem' }, h('button', { type: 'submit', test: 'reply-send' }, 'Send reply')), replyLine);

  // Resolve.
  let resolve = null;
  if (escalated) {
    const what = h('input', { id: 'resolve-what', test: 'resolve-what', maxlength: 200, required: true, placeholder: 'e.g. reset bay 3 by hand, customer playing' });
    const note = h('input', { id: 'resolve-note', test: 'resolve-note', placeholder: 'optional note' });
    const line = statusLine('resolve-status');
    const takeOver = claimedBy && claimedBy !== me;
    resolve = h('form', { class: 'card', test: 'resolve-form', onsubmit: (ev) => { ev.preventDefault(); doResolve(t, what, note, takeOver, line); } },
      h('h2', {}, 'Resolve'), h('label', { for: 'resolve-what' }, 'What was done'), what, h('label', { for: 'resolve-note' }, 'Note'), note,
      takeOver ? h('p', { class: 'muted' }, 'Claimed by ' + claimedBy + ': resolving takes it over.') : null,
      h('div', { class: 'row', style: 'margin-top:.5rem' }, h('button', { type: 'submit', test: 'resolve-submit' }, 'Resolve')), line);
  }

  // Why: the routing decision and the policy facts.
  const d = t.decision || {};
  const intent = t.intent || {};
  const why = h('section', { class: 'card', test: 'decision' }, h('h2', {}, 'Why'),
    h('dl', { class: 'kv' },
      h('dt', {}, 'category'), h('dd', { test: 'decision-category' }, intent.category || t.category || '—'),
      h('dt', {}, 'confidence'), h('dd', { test: 'decision-confidence' }, intent.confidence !== undefined ? String(intent.confidence) : '—'),
      h('dt', {}, 'asks for'), h('dd', {}, intent.action || intent.kind || '—'),
      h('dt', {}, 'outcome'), h('dd', { test: 'decision-outcome' }, d.outcome || d.kind || '—')),
    h('h3', {}, 'Reasons'),
    h('ul', { test: 'decision-reasons' }, (d.reasons || intent.reasons || []).map((r) => h('li', {}, typeof r === 'string' ? r : JSON.stringify(r)))),
    h('p', { class: 'muted' }, 'router ' + (intent.router || '—') + (d.policy_version ? ' · policy v' + d.policy_version : '') + (intent.must_escalate ? ' · must escalate: ' + intent.must_escalate : '') + ((intent.flags || []).length ? ' · flags: ' + intent.flags.join(', ') : '')),
    h('details', { open: true }, h('summary', {}, 'Policy facts'), kv(d.facts, 'policy-facts')),
    h('details', {}, h('summary', {}, 'Entities'), kv(intent.entities, 'intent')));

  // Actions.
  const acts = h('section', { class: 'card', test: 'actions' }, h('h2', {}, 'Actions'),
    (t.actions || []).length ? t.actions.map((a) => renderAction(a)) : h('p', { class: 'muted' }, 'No actions.'));

  const perform = renderPerform(t);

  // The whole timeline: the thread's and its actions' transitions, with who did each.
  const all = [];
  for (const x of t.transitions || []) all.push({ ...x, machine: 'thread', entity: t.id });
  for (const a of t.actions || []) for (const x of a.transitions || []) all.push({ ...x, machine: 'action', entity: a.id, kind: a.kind });
  all.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.id - b.id));
  const timeline = h('section', { class: 'card', test: 'timeline' }, h('h2', {}, 'Timeline'),
    h('ol', { class: 'timeline' }, all.map((x) => h('li', { class: x.machine, test: 'transition' },
      h('span', { class: 'muted' }, when(x.at) + ' '),
      x.machine === 'action' ? h('b', {}, x.kind + ' #' + x.entity + ' ') : h('b', {}, 'thread '),
      (x.from || '·') + ' → ' + x.to + ' (' + x.event + ')', ' by ', h('span', { test: 'transition-actor' }, x.actor),
      x.reason ? h('div', { class: 'muted' }, x.reason) : null))),
    t.transitions_truncated ? h('p', { class: 'muted' }, 'Later transitions not shown.') : null);

  const back = h('p', {}, h('a', { href: '#/inbox', test: 'back' }, '← Inbox'));
  mount(back, head, pause,
    h('div', { class: 'thread-grid' }, h('div', {}, msgs, reply, resolve), h('div', {}, why, acts, perform)), timeline);
  for (const [id, v] of Object.entries(keep)) {
    const el = document.getElementById(id);
    if (el && el.value !== v) { el.value = v; if (el.tagName === 'SELECT') el.dispatchEvent(new Event('change')); }
  }
  putStatuses(keepStatus, null);
}

// Helpful / not helpful on ClubOS's own answers, with an optional correction: the operator's
// verdict replaces their earlier one; every verdict on the answer (the customer's "that didn't
// help" too) is listed under it.
function renderFeedback(t, m) {
  const id = m.action_id;
  const all = (t.feedback || []).filter((f) => f.action_id === id);
  const mine = all.find((f) => f.by === 'operator:' + S.user.name);
  const line = statusLine('feedback-status-' + id);
  const correction = h('textarea', { id: 'correction-' + id, test: 'feedback-correction', maxlength: 2000, rows: 2, placeholder: 'What should it have said? (optional)' });
  const mark = (helpful) => h('button', { type: 'button', class: 'secondary' + (mine && mine.helpful === helpful ? ' chosen' : ''), test: helpful ? 'feedback-helpful' : 'feedback-unhelpful',
    'aria-pressed': mine && mine.helpful === helpful ? 'true' : 'false', onclick: () => doFeedback(t, id, helpful, correction, line) }, helpful ? 'Helpful' : 'Not helpful');
  return h('div', { class: 'feedback', test: 'feedback', 'data-action-id': id },
    all.length ? h('ul', { class: 'verdicts', test: 'verdicts' }, all.map((f) => h('li', { test: 'verdict' },
      (f.source === 'customer' ? 'customer: said it did not help' : f.by.replace(/^operator:/, '') + ': ' + (f.helpful ? 'helpful' : 'not helpful')) +
      (f.correction ? ' — “' + f.correction + '”' : '')))) : null,
    h('div', { class: 'row' }, mark(true), mark(false)),
    h('details', {}, h('summary', {}, 'Add a correction'), h('label', { for: 'correction-' + id }, 'Correction (goes with “not helpful”)'), correction),
    line);
}

function renderAction(a) {
  const line = statusLine('action-status-' + a.id);
  const pending = a.state === 'awaiting_confirmation';
  const finished = ['verified', 'escalated'].includes(a.state);  // where rollback_flagged is a row
  const reason = h('input', { id: 'rollback-reason-' + a.id, test: 'rollback-reason', placeholder: 'why it needs undoing' });
  return h('div', { class: 'card', test: 'action', 'data-action-id': a.id, 'data-state': a.state },
    h('div', { class: 'row' },
      h('b', { class: 'grow' }, a.kind + ' #' + a.id),
      h('span', { class: 'badge', test: 'action-state' }, a.state),
      a.result ? h('span', { class: 'badge ' + (a.result === 'success' ? 'claimed' : 'warn'), test: 'action-result' }, a.result) : null,
      a.rollback_needed ? h('span', { class: 'badge urgent', test: 'rollback-flag' }, 'rollback needed') : null,
      a.human_override ? h('span', { class: 'badge' }, 'by hand') : null),
    h('div', { class: 'muted' }, 'by ' + a.triggered_by + ' · ' + a.reason + ' · ' + JSON.stringify(a.target || {})),
    a.error ? h('div', { class: 'status err' }, a.error) : null,
    (a.attempts || []).length ? h('div', { test: 'attempts' }, h('h3', {}, 'Attempts'),
      h('ol', {}, a.attempts.map((x) => h('li', {}, when(x.started_at) + ' → ' + (x.outcome || 'running') + (x.detail ? ' (' + x.detail + ')' : ''))))) : null,
    a.outcome ? h('details', { test: 'outcome' }, h('summary', {}, 'Outcome / verification: ' + (a.outcome.result || a.outcome.state)), kv(a.outcome)) : null,
    pending ? h('div', { class: 'row' },
      h('button', { type: 'button', test: 'action-confirm', onclick: () => doDecide(a, 'confirm', line) }, 'Confirm'),
      h('button', { type: 'button', class: 'secondary', test: 'action-reject', onclick: () => doDecide(a, 'reject', line) }, 'Reject')) : null,
    finished && !a.rollback_needed ? h('details', {}, h('summary', {}, 'Flag for rollback'),
      h('label', { for: 'rollback-reason-' + a.id }, 'Why'), reason,
      h('div', { class: 'row', style: 'margin-top:.4rem' }, h('button', { type: 'button', class: 'danger', test: 'flag-rollback', onclick: () => doFlag(a, reason, line) }, 'Flag rollback needed'))) : null,
    line);
}

function renderPerform(t) {
  const loc = S.status && S.status.locations ? S.status.locations.find((l) => l.id === t.location) : null;
  const kind = h('select', { id: 'perform-kind', test: 'perform-kind' },
    h('option', { value: 'reset_trackman' }, 'Reset TrackMan'),
    h('option', { value: 'reboot_pc' }, 'Reboot bay PC'),
    h('option', { value: 'unlock_door', disabled: !isAdmin() }, isAdmin() ? 'Unlock door' : 'Unlock door (admins only)'));
  const bay = h('input', { id: 'perform-bay', test: 'perform-bay', type: 'number', min: 1, value: bayOf(t) || '' });
  const doors = loc && loc.doors ? loc.doors : [];
  const door = doors.length ? h('select', { id: 'perform-door', test: 'perform-door' }, doors.map((d) => h('option', { value: d.id }, d.name + ' (' + d.id + ')')))
    : h('input', { id: 'perform-door', test: 'perform-door', placeholder: 'door id', value: t.location + '-front' });
  const why = h('input', { id: 'perform-reason', test: 'perform-reason', value: 'operator from the console' });
  const line = statusLine('perform-status');
  const confirmBox = h('div', { class: 'card confirm-box', test: 'confirm-box', hidden: true });
  const bayRow = h('div', {}, h('label', { for: 'perform-bay' }, 'Bay'), bay);
  const doorRow = h('div', { hidden: true }, h('label', { for: 'perform-door' }, 'Door'), door);
  const showKind = () => { const d = kind.value === 'unlock_door'; bayRow.hidden = d; doorRow.hidden = !d; };
  kind.addEventListener('change', () => { showKind(); confirmBox.hidden = true; });
  // The "are you sure" names one door: any change to what would be sent takes it back.
  for (const el of [door, bay]) el.addEventListener('change', () => { confirmBox.hidden = true; });
  const go = () => {
    const k = kind.value;
    const target = k === 'unlock_door' ? { location: t.location, door: door.value } : { location: t.location, bay: Number(bay.value) };
    const body = { kind: k, target, reason: why.value || 'operator from the console', thread_id: t.id, human_override: true };
    if (k === 'unlock_door') {
      // A door by hand opens a real door: a second, explicit "are you sure", which sends exactly
      // the request it names.
      confirmBox.replaceChildren(h('p', {}, h('b', {}, 'Unlock ' + door.value + ' at ' + t.location + ' now?'), ' This opens a real door for anyone standing there.'),
        h('div', { class: 'row' },
          h('button', { type: 'button', class: 'danger', test: 'confirm-unlock', onclick: () => { confirmBox.hidden = true; return doPerform(body, line); } }, 'Yes, unlock it'),
          h('button', { type: 'button', class: 'secondary', test: 'cancel-unlock', onclick: () => { confirmBox.hidden = true; say(line, 'Not unlocked.'); } }, 'Cancel')));
      confirmBox.hidden = false;
      return undefined;
    }
    return doPerform(body, line);
  };
  queueMicrotask(showKind);  // a re-render may have put back another kind (renderThread keeps selects)
  return h('section', { class: 'card', test: 'perform' }, h('h2', {}, 'Act'),
    h('label', { for: 'perform-kind' }, 'Action'), kind, bayRow, doorRow,
    h('label', { for: 'perform-reason' }, 'Reason (the SOP it follows)'), why,
    h('div', { class: 'row', style: 'margin-top:.5rem' }, h('button', { type: 'button', test: 'perform-submit', onclick: () => go() }, 'Perform')),
    confirmBox, line);
}

// ---------- thread commands: every one says what happened, when it happened ----------
async function busy(btnOrLine, fn) {
  const buttons = main().querySelectorAll('button');
  try { return await fn(); } finally { for (const b of buttons) b.disabled = false; }
}
async function doClaim(t, takeOver, line) {
  say(line, 'Claiming…');
  try {
    const r = await api('POST', '/v1/escalations/' + t.id + '/claim', takeOver ? { take_over: true } : {});
    say(line, 'Claimed by ' + r.claimed_by + '.', 'ok');
    loadThread(t.id, true);
    refreshEscalations();
  } catch (e) { say(line, e.message, 'err'); }
}
async function doPause(t, what, line) {
  say(line, what === 'takeover' ? 'Taking over…' : 'Handing back…');
  try {
    const r = await api('POST', '/v1/threads/' + t.id + '/' + what, {});
    if (what === 'takeover') say(line, 'Automation paused until ' + hhmm(r.paused_until) + ' by ' + (r.paused_by || S.user.name) + '.', 'ok');
    else say(line, 'Handed back: automation answers this thread again.', 'ok');
    loadThread(t.id, true);
  } catch (e) { say(line, e.message, 'err'); }
}
async function doReply(t, textEl, line) {
  const text = textEl.value.trim();
  if (!text) { say(line, 'Write the reply first.', 'err'); return; }
  say(line, 'Sending…');
  try {
    const r = await api('POST', '/v1/threads/' + t.id + '/reply', { text });
    textEl.value = '';
    if (r.action_id) watchAction(r.action_id, line, 'Reply');
    else say(line, 'Reply queued.');
    if (r.paused_until) toast('Automation paused until ' + hhmm(r.paused_until));
    loadThread(t.id, true);
  } catch (e) { say(line, e.message, 'err'); }
}
async function doResolve(t, what, note, takeOver, line) {
  if (!what.value.trim()) { say(line, 'Say what was done.', 'err'); return; }
  say(line, 'Resolving…');
  const body = { resolution: what.value.trim() };
  if (note.value.trim()) body.note = note.value.trim();
  if (takeOver) body.take_over = true;
  try {
    await api('POST', '/v1/escalations/' + t.id + '/resolve', body);
    say(line, 'Resolved: thread closed.', 'ok');
    toast('Thread #' + t.id + ' resolved');
    refreshEscalations();
    loadThread(t.id, true);
  } catch (e) { say(line, e.message, 'err'); }
}
async function doDecide(a, what, line) {
  say(line, what === 'confirm' ? 'Confirming…' : 'Rejecting…');
  try {
    await api('POST', '/v1/actions/' + a.id + '/' + what, {});
    if (what === 'confirm') watchAction(a.id, line, 'Confirmed ' + a.kind);
    else say(line, 'Rejected by ' + S.user.name + '.', 'ok');
  } catch (e) { say(line, e.message, 'err'); }
}
async function doFeedback(t, actionId, helpful, correctionEl, statusEl) {
  // A live re-render may have replaced the box (keeping its text) and moved the status line shown
  // before it into the new page: read, clear and write the ones on the page now.
  const box = () => document.getElementById('correction-' + actionId) || correctionEl;
  const line = main().querySelector('.status[data-test="feedback-status-' + actionId + '"]') || statusEl;
  const correction = box().value.trim();
  const body = { helpful };
  if (!helpful && correction) body.correction = correction;
  if (helpful && correction) { say(line, 'A correction goes with “not helpful”.', 'err'); return; }
  say(line, 'Saving…');
  try {
    const r = await api('POST', '/v1/actions/' + actionId + '/feedback', body);
    box().value = '';
    say(line, (r.helpful ? 'Marked helpful' : 'Marked not helpful') + (r.replaced ? ' (your earlier verdict replaced)' : '') +
      (r.case && r.case.state === 'new' ? ': case #' + r.case.id + ' for review.' : '.'), 'ok');
    loadThread(t.id, true);
  } catch (e) { say(line, e.message, 'err'); }
}
async function doFlag(a, reasonEl, line) {
  const reason = reasonEl.value.trim();
  if (!reason) { say(line, 'Say why it needs undoing.', 'err'); return; }
  try {
    await api('POST', '/v1/actions/' + a.id + '/flag-rollback', { reason });
    say(line, 'Flagged: rollback needed (operators notified; nothing was undone).', 'ok');
  } catch (e) { say(line, e.message, 'err'); }
}
async function doPerform(body, line) {
  say(line, 'Requesting…');
  try {
    const r = await api('POST', '/v1/actions', body);
    watchAction(r.action_id, line, body.kind.replace(/_/g, ' '));
  } catch (e) { say(line, e.message, 'err'); }
}

// ---------- controls ----------
function refreshControlsPage() { renderControls(++S.viewToken); }
async function renderControls(token) {
  await Promise.all([refreshControls(), S.status ? null : loadStatus()]);
  if (!current(token)) return;
  const c = S.controls || { stops: [], toggles: {} };
  const prev = $('[data-test=controls-status]');
  const line = statusLine('controls-status');
  if (prev) { line.textContent = prev.textContent; line.className = prev.className; }
  const scope = h('select', { id: 'stop-scope', test: 'stop-scope' },
    h('option', { value: 'global' }, 'Everything (global)'),
    locations().map((l) => h('option', { value: 'location:' + l }, 'Location ' + l)),
    CATEGORIES.map((k) => h('option', { value: 'category:' + k }, 'Category ' + k)));
  const reason = h('input', { id: 'stop-reason', test: 'stop-reason', required: true, placeholder: 'why (shown to everyone)' });
  const engage = h('form', { class: 'card', test: 'stop-form', onsubmit: async (ev) => {
    ev.preventDefault();
    if (!reason.value.trim()) { say(line, 'Say why you stop it.', 'err'); return; }
    say(line, 'Engaging…');
    try {
      const r = await api('POST', '/v1/emergency-stop', { engaged: true, scope: scope.value, reason: reason.value.trim() });
      say(line, 'Emergency stop engaged for ' + scope.value + (r && r.actions_stopped !== undefined ? ' (' + r.actions_stopped + ' queued actions halted)' : '') + '.', 'ok');
      await refreshControls();
      refreshControlsPage();
    } catch (e) { say(line, e.message, 'err'); }
  } },
  h('h2', {}, 'Emergency stop'),
  h('p', { class: 'muted' }, 'Halts every autonomous action in the scope at once; customers asking for one are escalated to you.'),
  h('label', { for: 'stop-scope' }, 'Scope'), scope, h('label', { for: 'stop-reason' }, 'Reason'), reason,
  h('div', { class: 'row', style: 'margin-top:.5rem' }, h('button', { type: 'submit', class: 'danger', test: 'stop-engage' }, 'Engage emergency stop')));
  const stops = h('div', { class: 'card', test: 'stops' }, h('h2', {}, 'Engaged'),
    (c.stops || []).length ? c.stops.map((s) => h('div', { class: 'row', test: 'stop', 'data-scope': s.scope },
      h('div', { class: 'grow' }, h('b', {}, s.scope), ' by ' + s.by + ' at ' + when(s.at), h('div', { class: 'muted' }, s.reason)),
      h('button', { type: 'button', class: 'secondary', test: 'stop-release', onclick: async () => {
        say(line, 'Releasing ' + s.scope + '…');
        try {
          await api('POST', '/v1/emergency-stop', { engaged: false, scope: s.scope, reason: 'released from the console by ' + S.user.name });
          say(line, 'Released ' + s.scope + '.', 'ok');
          await refreshControls();
          refreshControlsPage();
        } catch (e) { say(line, e.message, 'err'); }
      } }, 'Release'))) : h('p', { class: 'muted', test: 'no-stops' }, 'No emergency stop is engaged.'));
  const tg = c.toggles || {};
  const toggle = (key, label) => {
    const box = h('input', { type: 'checkbox', id: 'toggle-' + key, test: 'toggle-' + key, checked: tg[key] !== false, onchange: async (ev) => {
      const want = ev.target.checked;
      say(line, 'Saving…');
      try {
        await api('POST', '/v1/emergency-stop', { toggles: { [key]: want } });
        say(line, label + (want ? ' on.' : ' off: ClubOS stores suggestions for you instead.'), 'ok');
        refreshControls();
      } catch (e) { ev.target.checked = !want; say(line, e.message, 'err'); }
    } });
    return h('label', { class: 'inline', for: 'toggle-' + key }, box, label);
  };
  mount(h('h1', {}, 'Controls'), line, stops, engage,
    h('div', { class: 'card', test: 'toggles' }, h('h2', {}, 'Automation'), toggle('auto_send', 'Auto-send answers'), toggle('auto_execute', 'Auto-execute actions')));
}

// ---------- suggestions ----------
async function renderSuggestions(token) {
  let r;
  try { r = await api('GET', '/v1/suggestions?status=pending'); } catch (e) {
    if (current(token)) mount(h('h1', {}, 'Suggestions'), h('p', { class: 'status err' }, e.message));
    return;
  }
  if (!current(token)) return;
  const keep = {};
  for (const el of main().querySelectorAll('textarea[id]')) keep[el.id] = el.value;
  const keepStatus = takeStatuses();
  const items = r.items || [];
  mount(h('h1', {}, 'Suggestions'),
    h('p', { class: 'muted' }, 'What ClubOS would have done while auto-send or auto-execute is off. Approving runs it, marked as by hand.'),
    items.length ? items.map(renderSuggestion) : h('p', { class: 'muted', test: 'suggestions-empty' }, 'No pending suggestions.'),
    h('div', { id: 'handled' }));
  for (const [id, v] of Object.entries(keep)) { const el = document.getElementById(id); if (el) el.value = v; }
  putStatuses(keepStatus, $('#handled'));
}
function suggestionText(s) { return s.text ?? (s.params && s.params.text) ?? (s.target && s.target.text) ?? null; }
function renderSuggestion(s) {
  const line = statusLine('suggestion-status-' + s.id);
  const text = suggestionText(s);
  const isMsg = s.kind === 'send_message';
  const edit = isMsg ? h('textarea', { id: 'suggestion-text-' + s.id, test: 'suggestion-text', maxlength: 1600 }, text || '') : null;
  const approve = async () => {
    say(line, 'Approving…');
    const body = {};
    if (isMsg && edit && edit.value.trim() && edit.value !== (text || '')) body.text = edit.value.trim();
    try {
      const r = await api('POST', '/v1/suggestions/' + s.id + '/approve', body);
      if (r.action_id) watchAction(r.action_id, line, 'Approved ' + s.kind.replace(/_/g, ' '));
      else say(line, 'Approved.', 'ok');
    } catch (e) { handledElsewhere(s, e, line); }
  };
  const reject = async () => {
    say(line, 'Rejecting…');
    try { await api('POST', '/v1/suggestions/' + s.id + '/reject', {}); say(line, 'Rejected by ' + S.user.name + '.', 'ok'); }
    catch (e) { handledElsewhere(s, e, line); }
  };
  return h('div', { class: 'card', test: 'suggestion', 'data-suggestion-id': s.id, 'data-thread-id': s.thread_id },
    h('div', { class: 'row' }, h('b', { class: 'grow' }, s.kind.replace(/_/g, ' ') + ' · ' + JSON.stringify(s.target || {})),
      h('a', { href: '#/thread/' + s.thread_id }, 'thread #' + s.thread_id)),
    h('div', { class: 'muted' }, s.reason + ' · expires ' + hhmm(s.expires_at)),
    isMsg ? [h('label', { for: 'suggestion-text-' + s.id }, 'Message (edit before sending)'), edit] : null,
    h('div', { class: 'row', style: 'margin-top:.5rem' },
      h('button', { type: 'button', test: 'suggestion-approve', onclick: approve }, isMsg ? 'Approve and send' : 'Approve'),
      h('button', { type: 'button', class: 'secondary', test: 'suggestion-reject', onclick: reject }, 'Reject')),
    line);
}
// A 409 on a suggestion: someone else was first. Say who, from the suggestion's own record.
async function handledElsewhere(s, e, line) {
  if (e.status !== 409) { say(line, e.message, 'err'); return; }
  let by = null, state = null;
  for (const st of ['approved', 'rejected', 'expired']) {
    try {
      const r = await api('GET', '/v1/suggestions?status=' + st + '&limit=200');
      const f = (r.items || []).find((x) => x.id === s.id);
      if (f) { by = f.decided_by; state = f.state; break; }
    } catch { /* fall through to the API's message */ }
  }
  if (by) say(line, 'Already handled by ' + by + ' (' + state + ').', 'err');
  else say(line, 'Already handled: ' + e.message, 'err');
}

// ---------- policy ----------
async function renderPolicy(token) {
  if (!isAdmin()) { mount(h('h1', {}, 'Policy'), h('p', { class: 'muted' }, 'Admins only.')); return; }
  let c;
  try { c = await api('GET', '/v1/config'); } catch (e) {
    if (current(token)) mount(h('h1', {}, 'Policy'), h('p', { class: 'status err' }, e.message));
    return;
  }
  if (!current(token)) return;
  const keepStatus = takeStatuses();
  const line = statusLine('policy-status');
  const versions = c.versions || [];
  const proposals = versions.filter((v) => v.state === 'proposed' || v.state === 'pending');
  const history = versions.filter((v) => !(v.state === 'proposed' || v.state === 'pending'));
  const profileText = h('textarea', { id: 'proposal-profile', test: 'proposal-profile', rows: 12, style: 'font-family:monospace;font-size:.8rem' }, JSON.stringify(c.profile, null, 2));
  const note = h('input', { id: 'proposal-note', test: 'proposal-note', placeholder: 'why' });
  const propose = h('form', { class: 'card', test: 'proposal-form', onsubmit: async (ev) => {
    ev.preventDefault();
    let profile;
    try { profile = JSON.parse(profileText.value); } catch (e2) { say(line, 'The profile is not valid JSON: ' + e2.message, 'err'); return; }
    try {
      const r = await api('POST', '/v1/config/proposals', { profile, note: note.value || undefined });
      say(line, 'Proposed version ' + r.version + '. Another admin must approve it.', 'ok');
      renderPolicy(++S.viewToken);
    } catch (e) { say(line, e.message, 'err'); }
  } }, h('h2', {}, 'Propose a change'), h('label', { for: 'proposal-profile' }, 'Profile (JSON)'), profileText,
  h('label', { for: 'proposal-note' }, 'Note'), note, h('div', { class: 'row', style: 'margin-top:.5rem' }, h('button', { type: 'submit', test: 'proposal-submit' }, 'Propose')));

  mount(h('h1', {}, 'Policy'), line,
    h('div', { class: 'card', test: 'policy-active' }, h('h2', {}, 'Active: version ' + c.active_version),
      h('details', {}, h('summary', {}, 'Profile'), h('pre', {}, JSON.stringify(c.profile, null, 2)))),
    h('h2', {}, 'Proposals'),
    proposals.length ? proposals.map((v) => renderProposal(v, line)) : h('p', { class: 'muted', test: 'no-proposals' }, 'No open proposals.'),
    propose,
    h('h2', {}, 'History'),
    h('div', { test: 'policy-history' }, history.map((v) => h('div', { class: 'card', test: 'policy-version', 'data-version': v.version },
      h('div', { class: 'row' }, h('b', { class: 'grow' }, 'v' + v.version + ' · ' + v.state), v.version !== c.active_version && (v.approved_by || v.state === 'superseded') ?
        h('button', { type: 'button', class: 'secondary', test: 'policy-restore', onclick: async () => {
          try {
            const r = await api('POST', '/v1/config/rollback', { version: v.version, note: 'restored from the console' });
            say(line, 'Restored v' + v.version + ' as v' + r.version + '.', 'ok');
            renderPolicy(++S.viewToken);
          } catch (e) { say(line, e.message, 'err'); }
        } }, 'Restore') : null),
      h('div', { class: 'muted' }, 'proposed by ' + v.proposed_by + ' ' + when(v.proposed_at) + (v.approved_by ? ' · approved by ' + v.approved_by + ' ' + when(v.approved_at) : '') + (v.note ? ' · ' + v.note : ''))))));
  putStatuses(keepStatus, null);
}
function renderProposal(v, pageLine) {
  const line = statusLine('proposal-status-' + v.version);
  const replay = h('div', { test: 'replay' });
  return h('div', { class: 'card', test: 'proposal', 'data-version': v.version },
    h('div', { class: 'row' }, h('b', { class: 'grow' }, 'v' + v.version + ' by ' + v.proposed_by), h('span', { class: 'muted' }, when(v.proposed_at))),
    v.note ? h('p', {}, v.note) : null,
    h('h3', {}, 'Diff against the active profile'), h('pre', { test: 'proposal-diff' }, JSON.stringify(v.diff, null, 2)),
    h('div', { class: 'row' },
      h('button', { type: 'button', class: 'secondary', test: 'proposal-replay', onclick: async () => {
        say(line, 'Replaying the last 7 days…');
        try {
          const r = await api('GET', '/v1/config/proposals/' + v.version + '/replay?days=7');
          const changed = r.changed || [];
          replay.replaceChildren(h('p', { test: 'replay-summary' }, r.replayed + ' decisions replayed, ' + changed.length + ' would change.'),
            h('ul', { test: 'replay-changed' }, changed.slice(0, 50).map((x) => h('li', {}, typeof x === 'string' ? x : JSON.stringify(x)))));
          say(line, '');
        } catch (e) { say(line, e.message, 'err'); }
      } }, 'Replay last 7 days'),
      h('button', { type: 'button', test: 'proposal-approve', onclick: async () => {
        say(line, 'Approving…');
        try {
          await api('POST', '/v1/config/proposals/' + v.version + '/approve');
          say(pageLine, 'Approved v' + v.version + ': it is the active profile now.', 'ok');
          renderPolicy(++S.viewToken);
        } catch (e) { say(line, e.message, 'err'); }
      } }, 'Approve'),
      h('button', { type: 'button', class: 'secondary', test: 'proposal-reject', onclick: async () => {
        say(line, 'Rejecting…');
        try {
          await api('POST', '/v1/config/proposals/' + v.version + '/reject', {});
          say(pageLine, 'Rejected v' + v.version + '.', 'ok');
          renderPolicy(++S.viewToken);
        } catch (e) { say(line, e.message, 'err'); }
      } }, 'Reject')),
    replay, line);
}

// ---------- knowledge (docs/knowledge.md) ----------
// A line diff as the API gives it ("- old", "+ new", "  same"), each line marked for its colour.
function diffView(text, test) {
  return h('pre', { class: 'diff', test }, (text || '').split('\n').filter((l) => l !== '').map((l) =>
    h('span', { class: l.startsWith('+ ') ? 'add' : l.startsWith('- ') ? 'del' : 'same' }, l + '\n')));
}
function replayView(r) {
  if (!r) return h('p', { class: 'muted', test: 'kreplay-summary' }, 'Not dry-run yet.');
  const changed = r.changed || [];
  return h('div', { test: 'kreplay' },
    h('p', { test: 'kreplay-summary' }, r.replayed + ' past decisions replayed, ' + r.touched + ' cite this document, ' + changed.length + ' would change' + (r.truncated ? ' (the newest only: older ones left out)' : '') + '.'),
    changed.length ? h('ul', { test: 'kreplay-changed' }, changed.slice(0, 20).map((c) => h('li', {},
      h('a', { href: '#/thread/' + c.thread_id }, '#' + c.thread_id), ' “' + c.text + '”',
      h('div', { class: 'muted' }, 'now: ' + c.before), h('div', {}, 'then: ' + c.after)))) : null);
}

async function renderKnowledge(token, notice) {
  let k, open, conflicts;
  const q = S.knowledgeQuery || '';
  try {
    [k, open, conflicts] = await Promise.all([
      api('GET', '/v1/knowledge' + (q ? '?q=' + encodeURIComponent(q) : '')),
      api('GET', '/v1/knowledge/proposals?state=open'),
      api('GET', '/v1/knowledge/conflicts?state=open')]);
  } catch (e) {
    if (current(token)) mount(h('h1', {}, 'Knowledge'), h('p', { class: 'status err', test: 'knowledge-error' }, e.message));
    return;
  }
  if (!current(token)) return;
  const line = statusLine('knowledge-status');
  const search = h('input', { type: 'search', id: 'knowledge-q', test: 'knowledge-q', placeholder: 'Search SOPs and FAQ answers', value: q });
  const form = h('form', { class: 'row', test: 'knowledge-search', onsubmit: (ev) => {
    ev.preventDefault(); S.knowledgeQuery = search.value.trim(); renderKnowledge(++S.viewToken);
  } }, search, h('button', { type: 'submit' }, 'Search'));
  const rv = k.reviewer || {};
  const runs = rv.runs || [];
  const reviewer = h('div', { class: 'card', test: 'reviewer' },
    h('div', { class: 'row' }, h('b', { class: 'grow' }, 'Reviewer: ' + (!rv.configured ? 'not configured' : rv.degraded ? 'degraded: proposals wait, operators were told' : 'ok')),
      rv.configured ? h('button', { type: 'button', class: 'secondary', test: 'reviewer-run', onclick: async () => {
        try {
          const r = await api('POST', '/v1/knowledge/review', {});
          say(line, r.queued ? 'The reviewer will read the new cases now.' : 'A review is pending already.', 'ok');
        } catch (e) { say(line, e.message, 'err'); }
      } }, 'Review now') : null),
    runs.length ? h('div', { class: 'muted', test: 'reviewer-last' }, 'last run ' + when(runs[0].at) + ': ' + runs[0].outcome + ', ' + runs[0].cases + ' cases, ' + runs[0].proposals + ' proposals' + (runs[0].detail ? ' · ' + runs[0].detail : '')) : null);
  const proposals = open.proposals || [];
  const docs = k.documents || [];
  mount(h('h1', {}, 'Knowledge'), line, form, reviewer,
    h('h2', {}, 'Proposals waiting for a person (' + proposals.length + ')'),
    proposals.length ? h('div', { test: 'kproposals' }, proposals.map((p) => knowledgeProposal(p, (msg) => renderKnowledge(++S.viewToken, msg))))
      : h('p', { class: 'muted', test: 'no-kproposals' }, 'No open proposals.'),
    (conflicts.conflicts || []).length ? [h('h2', {}, 'Conflicts'), h('div', { test: 'kconflicts' }, conflicts.conflicts.map((c) => h('div', { class: 'card', test: 'kconflict' },
      h('div', { class: 'row' }, h('b', { class: 'grow' }, c.documents.map((d, i) => [i ? ' vs ' : '', h('a', { href: '#/knowledge/' + encodeURIComponent(d) }, d)])),
        h('button', { type: 'button', class: 'secondary', test: 'kconflict-resolve', onclick: async () => {
          try { await api('POST', '/v1/knowledge/conflicts/' + c.id + '/resolve', {}); renderKnowledge(++S.viewToken, 'Conflict marked resolved.'); } catch (e) { say(line, e.message, 'err'); }
        } }, 'Resolved')),
      h('p', {}, c.reason), h('div', { class: 'muted' }, 'found by ' + c.found_by + ' ' + when(c.created_at)))))] : null,
    h('h2', {}, q ? 'Documents matching “' + q + '” (' + docs.length + ')' : 'Documents (' + docs.length + ')'),
    h('div', { test: 'kdocuments' }, docs.map((d) => h('a', { class: 'card', href: '#/knowledge/' + encodeURIComponent(d.id), test: 'kdocument', 'data-id': d.id },
      h('div', { class: 'row' }, h('b', { class: 'grow' }, d.title), h('span', { class: 'muted' }, d.id + ' v' + d.version)),
      h('div', { class: 'muted' }, d.category + ' · ' + d.action + ' · ' + (d.locations || []).join(', ') + (d.open_proposals ? ' · ' + d.open_proposals + ' open proposal(s)' : '') + (d.open_conflicts ? ' · conflict' : ''))))));
  if (notice) say(line, notice, 'ok');
}

// One proposal: its reasoning, diff and dry run, and the decisions a person may take.
// `after(notice)` draws the page again with the notice.
function knowledgeProposal(summary, after) {
  const line = statusLine('kproposal-status-' + summary.id);
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const card = h('div', { class: 'card', test: 'kproposal', 'data-id': summary.id },
    h('div', { class: 'row' }, h('b', { class: 'grow' }, h('a', { href: '#/knowledge/' + encodeURIComponent(summary.document_id) }, summary.document_id), ' · proposal ' + summary.id),
      h('span', { class: 'muted' }, (summary.author_kind === 'model' ? 'by the reviewer model ' : 'by ') + summary.author + ' ' + when(summary.created_at))),
    h('p', { test: 'kproposal-reasoning' }, summary.reasoning), body, line);
  const note = h('input', { test: 'kproposal-note', placeholder: 'note (why you reject it)' });
  api('GET', '/v1/knowledge/proposals/' + summary.id).then((p) => {
    const replay = h('div', {}, replayView(p.replay));
    body.replaceChildren(
      h('h3', {}, 'Change against v' + p.base_version), diffView(p.diff, 'kproposal-diff'),
      h('h3', {}, 'Dry run over past threads'), replay,
      p.case_ids && p.case_ids.length ? h('div', { class: 'muted' }, 'cases: ' + p.case_ids.join(', ')) : null,
      p.state !== 'open' ? h('p', { class: 'muted' }, p.state + ' by ' + p.decided_by) : h('div', { class: 'row', style: 'margin-top:.5rem' },
        h('button', { type: 'button', test: 'kproposal-approve', onclick: async () => {
          say(line, 'Approving…');
          try {
            const r = await api('POST', '/v1/knowledge/proposals/' + p.id + '/approve', {});
            after('Approved: ' + p.document_id + ' v' + r.approved_version + ' answers from now on.');
          } catch (e) { say(line, e.message, 'err'); }
        } }, 'Approve'),
        h('button', { type: 'button', class: 'secondary', test: 'kproposal-replay', onclick: async () => {
          say(line, 'Replaying…');
          try { const r = await api('POST', '/v1/knowledge/proposals/' + p.id + '/replay', {}); replay.replaceChildren(replayView(r.replay)); say(line, ''); } catch (e) { say(line, e.message, 'err'); }
        } }, 'Replay again'),
        note,
        h('button', { type: 'button', class: 'secondary', test: 'kproposal-reject', onclick: async () => {
          try {
            await api('POST', '/v1/knowledge/proposals/' + p.id + '/reject', note.value.trim() ? { note: note.value.trim() } : {});
            after('Rejected proposal ' + p.id + '.');
          } catch (e) { say(line, e.message, 'err'); }
        } }, 'Reject')));
  }).catch((e) => say(line, e.message, 'err'));
  return card;
}

async function renderKnowledgeDocument(id, token, notice) {
  let d;
  try { d = await api('GET', '/v1/knowledge/documents/' + encodeURIComponent(id)); } catch (e) {
    if (current(token)) mount(h('p', {}, h('a', { href: '#/knowledge' }, '← Knowledge')), h('p', { class: 'status err', test: 'kdocument-error' }, e.message));
    return;
  }
  if (!current(token)) return;
  const line = statusLine('kdocument-status');
  const again = (msg) => renderKnowledgeDocument(id, ++S.viewToken, msg);
  const versions = d.versions || [];
  const active = versions.find((v) => v.active) || versions[0];
  const text = h('textarea', { id: 'kpropose-content', test: 'kpropose-content', rows: 14, style: 'font-family:monospace;font-size:.8rem' }, active ? active.content : '');
  const reasoning = h('input', { id: 'kpropose-reasoning', test: 'kpropose-reasoning', placeholder: 'why (customers and the reviewer read this)' });
  const propose = h('form', { class: 'card', test: 'kpropose', onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const r = await api('POST', '/v1/knowledge/documents/' + encodeURIComponent(id) + '/proposals', { content: text.value, reasoning: reasoning.value.trim(), base_version: d.active_version });
      again('Proposed (proposal ' + r.id + '): another person must approve it.');
    } catch (e) { say(line, e.message, 'err'); }
  } }, h('h2', {}, 'Propose a change'), h('label', { for: 'kpropose-content' }, 'The whole document (header and body)'), text,
  h('label', { for: 'kpropose-reasoning' }, 'Reasoning'), reasoning, h('div', { class: 'row', style: 'margin-top:.5rem' }, h('button', { type: 'submit', test: 'kpropose-submit' }, 'Propose')));
  const open = (d.proposals || []).filter((p) => p.state === 'open');
  mount(h('p', {}, h('a', { href: '#/knowledge', test: 'back' }, '← Knowledge')),
    h('h1', { test: 'kdocument-title' }, id + ' · v' + d.active_version), line,
    active ? h('pre', { test: 'kdocument-active' }, active.content) : null,
    open.length ? [h('h2', {}, 'Open proposals'), open.map((p) => knowledgeProposal(p, again))] : null,
    propose,
    h('h2', {}, 'Versions'),
    h('div', { test: 'kversions' }, versions.map((v) => h('div', { class: 'card', test: 'kversion', 'data-version': v.version },
      h('div', { class: 'row' }, h('b', { class: 'grow' }, 'v' + v.version + (v.active ? ' · active' : '') + ' · ' + v.source),
        !v.active ? h('button', { type: 'button', class: 'secondary', test: 'kversion-restore', onclick: async () => {
          try {
            const r = await api('POST', '/v1/knowledge/documents/' + encodeURIComponent(id) + '/restore', { version: v.version, note: 'restored from the console' });
            again('Restored v' + v.version + ' as v' + r.version + '.');
          } catch (e) { say(line, e.message, 'err'); }
        } }, 'Restore') : null),
      h('div', { class: 'muted' }, 'by ' + v.author + (v.approved_by ? ', approved by ' + v.approved_by : '') + ' ' + when(v.created_at) + (v.reason ? ' · ' + v.reason : '')),
      v.diff ? h('details', {}, h('summary', {}, 'Diff against the version before'), diffView(v.diff, 'kversion-diff')) : null))),
    h('h2', {}, 'History'),
    h('ul', { test: 'khistory' }, (d.history || []).map((e) => h('li', {}, when(e.at) + ' · ' + e.event + (e.version ? ' v' + e.version : '') + (e.proposal_id ? ' (proposal ' + e.proposal_id + ')' : '') + ' · ' + e.actor + (e.note ? ' · ' + e.note : '')))));
  if (notice) say(line, notice, 'ok');
}

// ---------- facility status ----------
async function renderStatus(token) {
  let st;
  try { st = await api('GET', '/v1/status'); S.status = st; } catch (e) {
    if (current(token)) mount(h('h1', {}, 'Facility status'), h('p', { class: 'status err', test: 'status-error' }, e.message));
    return;
  }
  let users = null;
  if (isAdmin()) { try { users = await api('GET', '/v1/users'); } catch { users = null; } }
  if (!current(token)) return;
  const today = st.today || {};
  mount(h('h1', {}, 'Facility status'),
    h('div', { class: 'card', test: 'today' }, h('h2', {}, 'Today'),
      h('dl', { class: 'kv' },
        h('dt', {}, 'messages'), h('dd', { test: 'today-messages' }, String(today.messages ?? '—')),
        h('dt', {}, 'automated'), h('dd', {}, today.automated_share !== undefined && today.automated_share !== null ? Math.round(today.automated_share * 100) + '%' : '—'),
        h('dt', {}, 'median text → verified'), h('dd', {}, today.median_message_to_verified_s !== undefined && today.median_message_to_verified_s !== null ? today.median_message_to_verified_s.toFixed(1) + ' s' : '—'),
        h('dt', {}, 'escalations'), h('dd', {}, Object.entries(today.escalations_by_reason || {}).map(([k, v]) => k + ' ' + v).join(', ') || 'none'))),
    h('div', { class: 'card', test: 'integrations' }, h('h2', {}, 'Integrations'),
      (st.integrations || []).map((i) => h('div', { test: 'integration', 'data-healthy': String(!!i.healthy) },
        h('span', { class: 'dot ' + (i.healthy ? 'on' : 'off') }), h('b', {}, i.name), ' ', h('span', { class: 'muted' }, i.detail || (i.healthy ? 'healthy' : 'unhealthy'))))),
    (st.locations || []).map((l) => h('div', { class: 'card', test: 'location', 'data-location': l.id }, h('h2', {}, l.name || l.id),
      h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Bay'), h('th', {}, 'Agent'), h('th', {}, 'Last heartbeat'))),
        h('tbody', {}, (l.bays || []).map((b) => h('tr', { test: 'bay' },
          h('td', {}, String(b.bay)),
          h('td', {}, b.agent ? [h('span', { class: 'dot ' + (b.agent.online ? 'on' : 'off') }), b.agent.online ? 'online' : 'offline'] : h('span', { class: 'muted' }, b.control || 'NinjaOne')),
          h('td', {}, b.agent && b.agent.last_heartbeat_at ? age(b.agent.last_heartbeat_at) + ' ago' : '—'))))),
      h('p', {}, 'Doors: ', (l.doors || []).map((d) => d.name + ' (' + d.id + ')' + (d.state ? ' ' + d.state : '')).join(', ') || 'none'))),
    users ? renderUsers(users) : null);
}
function renderUsers(u) {
  const line = statusLine('users-status');
  const name = h('input', { id: 'user-name', test: 'user-name', autocomplete: 'off' });
  const role = h('select', { id: 'user-role', test: 'user-role' }, h('option', { value: 'operator' }, 'operator'), h('option', { value: 'admin' }, 'admin'));
  const pass = h('input', { id: 'user-password', test: 'user-password', type: 'password', autocomplete: 'new-password' });
  return h('div', { class: 'card', test: 'users' }, h('h2', {}, 'Users'),
    h('table', {}, h('tbody', {}, (u.items || u.users || []).map((x) => h('tr', {}, h('td', {}, x.name), h('td', {}, x.role), h('td', {}, x.disabled ? 'disabled' : ''),
      h('td', {}, x.disabled || x.name === S.user.name ? null : h('button', { type: 'button', class: 'secondary', test: 'user-disable', onclick: async () => {
        try { await api('POST', '/v1/users/' + encodeURIComponent(x.name) + '/disable', {}); say(line, x.name + ' disabled.', 'ok'); route(true); } catch (e) { say(line, e.message, 'err'); }
      } }, 'Disable')))))),
    h('form', { onsubmit: async (ev) => {
      ev.preventDefault();
      try { await api('POST', '/v1/users', { name: name.value.trim(), role: role.value, password: pass.value }); pass.value = ''; say(line, 'User added.', 'ok'); route(true); }
      catch (e) { say(line, e.message, 'err'); }
    } }, h('label', { for: 'user-name' }, 'Name'), name, h('label', { for: 'user-role' }, 'Role'), role, h('label', { for: 'user-password' }, 'Password'), pass,
    h('div', { class: 'row', style: 'margin-top:.5rem' }, h('button', { type: 'submit', test: 'user-add' }, 'Add user'))), line);
}

// For tests and the curious: what the server did not answer.
window.clubosConsole = { missing: () => [...S.missing], state: S };
boot();
