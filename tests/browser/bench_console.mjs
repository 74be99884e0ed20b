// The operator console at size, measured (a benchmark, not a test): run by scripts/bench-console,
// which seeds the database and starts `clubos serve` and `clubos sim`; this file measures and
// prints. Environment (all set by the script): BENCH_URL, BENCH_DATABASE_URL, BENCH_PSQL,
// BENCH_OPERATOR(_PASSWORD|_TOKEN), BENCH_SERVICE_TOKEN, BENCH_SAMPLES, BENCH_RENDERS, BENCH_LIVE,
// BENCH_THREADS, BENCH_ESCALATIONS, BENCH_SEED_S, BENCH_OUT.
// Three parts, each with its baseline measured in the same run:
//   api    sequential GETs of the inbox's queries beside /healthz (no database) and /readyz (one
//          trivial query), interleaved round by round so drift hits all of them alike;
//   render Chromium, navigation start to the inbox drawn (the console reads up to 1,000 and draws
//          the first 100, the rest on "Show all"), over several reloads; and the first load's
//          compressed transfer size;
//   live   an escalating customer text via POST /v1/messages (the real flow), from the commit of
//          its `escalated` transition (pg_xact_commit_timestamp) to a MutationObserver in the open
//          inbox seeing its card; baseline: POST to that commit.
// Both clocks are this machine's wall clock (Date.now() in the page, the database's clock_timestamp
// behind the commit timestamp).
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { launchBrowser } from './world.mjs';

const env = (k, d) => { const v = process.env[k]; if (v === undefined || v === '') { if (d === undefined) throw new Error(k + ' is unset (run scripts/bench-console)'); return d; } return v; };
const BASE = env('BENCH_URL');
const DB = env('BENCH_DATABASE_URL');
const PSQL = env('BENCH_PSQL', 'psql');
const OPERATOR = env('BENCH_OPERATOR');
const PASSWORD = env('BENCH_OPERATOR_PASSWORD');
const OP_TOKEN = env('BENCH_OPERATOR_TOKEN');
const SERVICE_TOKEN = env('BENCH_SERVICE_TOKEN');
const SAMPLES = Number(env('BENCH_SAMPLES', '200'));
const RENDERS = Number(env('BENCH_RENDERS', '10'));
const LIVE = Number(env('BENCH_LIVE', '30'));
const OUT = env('BENCH_OUT', '');
const FACILITY_LINE = '+15555550199';  // bedford, config/clubos.example.json
// The targets.
const TARGET = { api_p99_ms: 20, render_ms: 300, live_p99_ms: 500, first_load_kb: 150 };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return null;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
const r2 = (x) => (x === null ? null : Math.round(x * 100) / 100);
const stats = (xs) => ({ n: xs.length, p50: r2(pct(xs, 50)), p90: r2(pct(xs, 90)), p99: r2(pct(xs, 99)), max: r2(Math.max(...xs)) });
function sql(q) {
  const r = spawnSync(PSQL, ['-qtA', '-F', '\t', '-v', 'ON_ERROR_STOP=1', DB, '-c', q], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error('psql: ' + r.stderr);
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => l.split('\t'));
}
const log = (...a) => console.error('  ', ...a);

// ---------- api ----------
async function get(path, token) {
  const res = await fetch(BASE + path, { headers: token ? { Authorization: 'Bearer ' + token, Accept: 'application/json' } : {} });
  const text = await res.text();
  if (res.status !== 200) throw new Error('GET ' + path + ': ' + res.status + ' ' + text.slice(0, 300));
  return { bytes: text.length, json: text.startsWith('{') ? JSON.parse(text) : null };
}
// The console's whole inbox: pages of 200 while the server says there is more, at most 5.
async function wholeInbox() {
  let after = null; let items = 0; let pages = 0; let bytes = 0;
  for (; pages < 5; ) {
    const r = await get('/v1/escalations?status=open&limit=200' + (after ? '&after=' + encodeURIComponent(after) : ''), OP_TOKEN);
    pages += 1; items += r.json.items.length; bytes += r.bytes;
    if (!r.json.next) break;
    after = r.json.next;
  }
  return { items, pages, bytes };
}

async function benchApi() {
  const cases = [
    ['healthz', () => get('/healthz')],
    ['readyz', () => get('/readyz')],
    ['escalations_limit_50', () => get('/v1/escalations?status=open&limit=50', OP_TOKEN)],
    ['escalations_limit_200', () => get('/v1/escalations?status=open&limit=200', OP_TOKEN)],
    ['inbox_all_pages', () => wholeInbox()],
  ];
  const sizes = {};
  for (const [name, f] of cases) { const r = await f(); sizes[name] = r.bytes; if (name === 'inbox_all_pages') sizes.inbox = r; }
  for (let i = 0; i < 20; i++) for (const [, f] of cases) await f();  // warm-up: connections, plans, caches
  const t = Object.fromEntries(cases.map(([n]) => [n, []]));
  for (let i = 0; i < SAMPLES; i++) {
    for (const [name, f] of cases) {
      const t0 = performance.now();
      await f();
      t[name].push(performance.now() - t0);
    }
  }
  const out = {};
  for (const [name] of cases) out[name] = stats(t[name]);
  const base = out.readyz.p50;
  for (const [name] of cases) out[name].p50_over_readyz = r2(out[name].p50 / base);
  out.response_bytes = { escalations_limit_50: sizes.escalations_limit_50, escalations_limit_200: sizes.escalations_limit_200 };
  out.inbox = sizes.inbox;
  return out;
}

// ---------- browser ----------
// Before any script of the page: record, against navigation start (performance.now()), when the
// first card, 50 cards and every expected card are in the document; and the first Date.now() at
// which each thread id's card was seen (the live part).
function observerScript() {
  window.__bench = { first: null, fifty: null, all: null, expected: Number(sessionStorage.getItem('bench-expected') || 0), seen: {} };
  const b = window.__bench;
  const check = (recs) => {
    const now = Date.now();
    for (const r of recs) for (const n of r.addedNodes) {
      if (n.nodeType !== 1) continue;
      const id = n.dataset && n.dataset.threadId;
      if (id && !(id in b.seen)) b.seen[id] = now;
    }
    if (b.all !== null) return;
    const c = document.querySelectorAll('[data-test=escalation]').length;
    const t = performance.now();
    if (c >= 1 && b.first === null) b.first = t;
    if (c >= Math.min(50, b.expected || 50) && b.fifty === null) b.fifty = t;
    if (b.expected && c >= b.expected) b.all = t;
  };
  new MutationObserver(check).observe(document, { childList: true, subtree: true });
  // A click on Inbox (capture phase: before the app's own handlers) starts a route-change sample.
  document.addEventListener('click', (ev) => {
    if (!ev.target.closest || !ev.target.closest('[data-test=nav-inbox]')) return;
    b.clickAt = performance.now(); b.first = null; b.fifty = null; b.all = null;
  }, true);
}

async function loginUi(page) {
  await page.locator('[data-test=login-form]').waitFor();
  await page.fill('[data-test=login-name]', OPERATOR);
  await page.fill('[data-test=login-password]', PASSWORD);
  await page.click('[data-test=login-submit]');
  await page.locator('[data-test=who]', { hasText: OPERATOR }).waitFor();
}

// The page's own assets on a first (cold) load: the document and /ui/*, not API answers.
async function transferSizes(page) {
  return page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const res = performance.getEntriesByType('resource').filter((e) => new URL(e.name).pathname.startsWith('/ui/'));
    const once = new Map();  // the first fetch of each (a later one is a revalidation)
    for (const e of res) { const p = new URL(e.name).pathname; if (!once.has(p)) once.set(p, e); }
    const rows = [nav, ...once.values()].map((e) => ({ path: new URL(e.name).pathname, transfer: e.transferSize, encoded: e.encodedBodySize, decoded: e.decodedBodySize }));
    return rows;
  });
}

// A desktop page with the observer installed before any script of its own, and its errors.
async function observedPage(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.addInitScript(observerScript);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return { context, page, errors };
}

async function benchRender(browser, expected) {
  const { context, page, errors } = await observedPage(browser);
  // The first load: nothing cached, not logged in (the login page loads the same assets).
  await page.goto(BASE + '/');
  await loginUi(page);
  await page.waitForLoadState('load');
  await sleep(500);  // the icon and manifest, fetched after load
  const assets = await transferSizes(page);
  await page.evaluate((n) => sessionStorage.setItem('bench-expected', String(n)), expected);

  const loads = [];
  let inboxRequests = 0;
  page.on('request', (q) => { if (new URL(q.url()).pathname === '/v1/escalations') inboxRequests += 1; });
  for (let i = 0; i < RENDERS + 1; i++) {
    inboxRequests = 0;
    await page.reload();  // a whole load: boot, session, the inbox's pages, render (assets revalidated: 304)
    const b = await page.waitForFunction(() => window.__bench.all !== null && window.__bench, null, { timeout: 30_000, polling: 50 }).then((h) => h.jsonValue());
    const count = await page.locator('[data-test=escalation]').count();
    await sleep(300);  // requests still under way after the cards are in count too
    if (i > 0) loads.push({ first: b.first, fifty: b.fifty, all: b.all, cards: count, requests: inboxRequests });  // the first one warms up
    await sleep(300);
  }
  // Route change inside the running app: Status page, then a click on Inbox.
  const clicks = [];
  for (let i = 0; i < RENDERS; i++) {
    await page.click('[data-test=nav-status]');
    await page.locator('[data-test=escalation]').first().waitFor({ state: 'detached' });
    await page.evaluate(() => { window.__bench.clickAt = null; });
    await page.click('[data-test=nav-inbox]');
    const b = await page.waitForFunction(() => window.__bench.clickAt !== null && window.__bench.all !== null && window.__bench, null, { timeout: 30_000, polling: 50 }).then((h) => h.jsonValue());
    clicks.push(b.all - b.clickAt);
    await sleep(300);
  }
  await context.close();
  const sum = (k) => assets.reduce((a, r) => a + (r[k] || 0), 0);
  return {
    expected_cards: expected,
    cards_rendered: loads.map((l) => l.cards),
    inbox_requests_per_load: loads.map((l) => l.requests),
    reload_to_first_card_ms: stats(loads.map((l) => l.first)),
    reload_to_50_cards_ms: stats(loads.map((l) => l.fifty)),
    reload_to_all_cards_ms: stats(loads.map((l) => l.all)),
    route_click_to_all_cards_ms: stats(clicks),
    first_load: { assets, transfer_bytes: sum('transfer'), encoded_body_bytes: sum('encoded'), decoded_body_bytes: sum('decoded') },
    page_errors: errors,
  };
}

async function post(path, body, token) {
  const res = await fetch(BASE + path, { method: 'POST', headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json', Accept: 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  if (res.status >= 300) throw new Error('POST ' + path + ': ' + res.status + ' ' + text.slice(0, 300));
  return JSON.parse(text);
}

async function benchLive(browser) {
  const { context, page, errors } = await observedPage(browser);
  await page.goto(BASE + '/');
  await loginUi(page);
  await page.locator('[data-test=escalation]').first().waitFor({ timeout: 30_000 });
  await page.locator('[data-test=live-status][data-mode=live]').waitFor({ timeout: 15_000 });
  // Every card drawn (the worst case): a new escalation of an ordinary priority sorts after the
  // 100 the console draws first, behind hundreds of older ones.
  if (await page.locator('[data-test=inbox-more]').count()) await page.click('[data-test=inbox-more]');
  await sleep(1000);
  const run = Date.now() % 1_000_000;
  const samples = [];
  const missed = [];
  for (let i = 0; i < LIVE + 3; i++) {
    const phone = '+1555' + String((run * 100 + i) % 10_000_000).padStart(7, '0');
    const tPost = Date.now();
    const a = await post('/v1/messages', { from: phone, to: FACILITY_LINE, body: 'I want a refund for last night', external_id: 'bench-console-' + run + '-' + i }, SERVICE_TOKEN);
    const id = String(a.thread_id);
    let seenAt = null;
    try {
      seenAt = await page.waitForFunction((tid) => window.__bench.seen[tid] || null, id, { timeout: 15_000, polling: 100 }).then((h) => h.jsonValue());
    } catch { missed.push(id); }
    const row = sql(`SELECT (extract(epoch FROM pg_xact_commit_timestamp(xid(tx))) * 1000)::float8,
                            (extract(epoch FROM at) * 1000)::float8, coalesce(reason, '')
                     FROM transitions WHERE entity = 'thread' AND entity_id = ${Number(id)} AND to_state = 'escalated'
                     ORDER BY id LIMIT 1`)[0];
    if (!row) { missed.push(id + ' (not escalated)'); continue; }
    const [commit, at] = [Number(row[0]), Number(row[1])];
    if (i >= 3 && seenAt !== null) samples.push({ thread_id: Number(id), post_to_commit: commit - tPost, commit_to_seen: seenAt - commit, at_to_commit: commit - at, reason: row[2] });
    await sleep(1200 + Math.floor(Math.random() * 400));  // the flow's follow-up transitions settle
  }
  const reasons = [...new Set(samples.map((s) => s.reason))];
  const cards = await page.locator('[data-test=escalation]').count();
  await context.close();
  return {
    samples: samples.length, missed, reasons, cards_on_page_at_end: cards,
    commit_to_card_ms: stats(samples.map((s) => s.commit_to_seen)),
    post_to_escalated_commit_ms: stats(samples.map((s) => s.post_to_commit)),
    transition_at_to_commit_ms: stats(samples.map((s) => s.at_to_commit)),
    page_errors: errors,
  };
}

// ---------- main ----------
const result = {
  bench: 'console', at: new Date().toISOString(),
  seed: { threads: Number(env('BENCH_THREADS', '0')), open_escalations: Number(env('BENCH_ESCALATIONS', '0')), seconds: Number(env('BENCH_SEED_S', '0')) },
  targets: TARGET,
};
console.error('==> inbox API: ' + SAMPLES + ' samples each after 20 warm-up rounds');
result.api = await benchApi();
// The console draws its first INBOX_FIRST cards (console/app.js), the rest on "Show all".
const INBOX_FIRST = 100;
const expected = Math.min(result.api.inbox.items, INBOX_FIRST);
const browser = await launchBrowser();
try {
  console.error('==> inbox render in Chromium: ' + RENDERS + ' reloads and ' + RENDERS + ' route changes, ' + expected + ' cards');
  result.render = await benchRender(browser, expected);
  console.error('==> escalation to open inbox: ' + LIVE + ' samples after 3 warm-up');
  result.live = await benchLive(browser);
} finally { await browser.close(); }
result.verdict = {
  api_p99_under_20ms: result.api.escalations_limit_50.p99 < TARGET.api_p99_ms,
  api_console_page_p99_under_20ms: result.api.escalations_limit_200.p99 < TARGET.api_p99_ms,
  render_p50_under_300ms: result.render.reload_to_all_cards_ms.p50 < TARGET.render_ms,
  render_p90_under_300ms: result.render.reload_to_all_cards_ms.p90 < TARGET.render_ms,
  live_p99_under_500ms: result.live.commit_to_card_ms.p99 !== null && result.live.commit_to_card_ms.p99 < TARGET.live_p99_ms,
  first_load_under_150kb: result.render.first_load.transfer_bytes < TARGET.first_load_kb * 1024,
};
if (OUT) writeFileSync(OUT, JSON.stringify(result, null, 2) + '\n');

const A = result.api; const R = result.render; const V = result.live; const ok = (b) => (b ? 'met' : 'MISSED');
const line = (name, s, extra = '') => console.log(`${name.padEnd(44)} ${String(s.p50).padStart(8)} ${String(s.p90).padStart(8)} ${String(s.p99).padStart(8)} ${String(s.max).padStart(8)}  ${extra}`);
console.log(`\nClubOS console at ${result.seed.threads} threads, ${result.seed.open_escalations} open escalations (${A.inbox.items} in the console's inbox, ${A.inbox.pages} pages; it draws the first ${expected})`);
console.log(`${'ms'.padEnd(44)} ${'p50'.padStart(8)} ${'p90'.padStart(8)} ${'p99'.padStart(8)} ${'max'.padStart(8)}`);
line('GET /healthz (no database)', A.healthz);
line('GET /readyz (one query)', A.readyz);
line('GET /v1/escalations?status=open&limit=50', A.escalations_limit_50, `p50 ${A.escalations_limit_50.p50_over_readyz}x readyz; p99 < 20: ${ok(result.verdict.api_p99_under_20ms)}`);
line('GET ...&limit=200 (the console\'s page)', A.escalations_limit_200, `p50 ${A.escalations_limit_200.p50_over_readyz}x readyz; p99 < 20: ${ok(result.verdict.api_console_page_p99_under_20ms)}`);
line(`the console's whole inbox (${A.inbox.pages} pages)`, A.inbox_all_pages, `${Math.round(A.inbox.bytes / 1024)} KB JSON`);
line('reload to first card (Chromium)', R.reload_to_first_card_ms);
line('reload to 50 cards', R.reload_to_50_cards_ms);
line(`reload to all ${expected} cards`, R.reload_to_all_cards_ms, `< 300: p50 ${ok(result.verdict.render_p50_under_300ms)}, p90 ${ok(result.verdict.render_p90_under_300ms)}`);
line('Inbox click to all cards (route change)', R.route_click_to_all_cards_ms);
line('message POST to escalated commit (baseline)', V.post_to_escalated_commit_ms);
line('escalated commit to card in open inbox', V.commit_to_card_ms, `p99 < 500: ${ok(result.verdict.live_p99_under_500ms)} (${V.samples} samples${V.missed.length ? ', missed ' + V.missed.length : ''})`);
console.log(`first load, page's own assets: ${(R.first_load.transfer_bytes / 1024).toFixed(1)} KB transferred (${(R.first_load.encoded_body_bytes / 1024).toFixed(1)} KB bodies, ${(R.first_load.decoded_body_bytes / 1024).toFixed(1)} KB decoded); < 150 KB: ${ok(result.verdict.first_load_under_150kb)}`);
console.log(`GET /v1/escalations per reload: ${R.inbox_requests_per_load.join(', ')} (the whole inbox is ${A.inbox.pages} pages)`);
if (R.page_errors.length || V.page_errors.length) console.log('page errors: ' + JSON.stringify([...R.page_errors, ...V.page_errors]));
