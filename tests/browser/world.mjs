// One world per test: a fresh database on the private Postgres scripts/test starts
// (CLUBOS_TEST_DATABASE_URL, an admin URL), `clubos migrate`, `clubos sim` (vendors + customers),
// `clubos serve --port 0 --workers 2` pointed at it, and users made with `clubos user add`.
// A real headless Chromium (Debian's /usr/bin/chromium) drives the console through playwright-core;
// never a downloaded browser.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(HERE, '../..');
const CHROMIUM = '/usr/bin/chromium';
export const FACILITY_LINE = '+15555550199';  // bedford, config/clubos.example.json
export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1280, height: 800 };
export const ARTIFACTS = join(process.env.CLUBOS_BUILD || join(ROOT, 'build'), 'browser-artifacts');
const IN_CI = process.env.CI === 'true';

// What the suite needs from the machine. Under CI=true a missing piece fails the test; elsewhere
// it is skipped with the reason.
export function missingPrereq() {
  if (!process.env.CLUBOS_TEST_DATABASE_URL) return 'CLUBOS_TEST_DATABASE_URL is unset (scripts/test sets it)';
  const bin = clubosBin();
  if (!existsSync(bin)) return 'no clubos binary at ' + bin + ' (CLUBOS_BIN)';
  if (!existsSync(CHROMIUM)) return 'no ' + CHROMIUM + ' (apt-get install chromium)';
  const psql = spawnSync('psql', ['--version']);
  if (psql.status !== 0) return 'no psql (apt-get install postgresql-client)';
  return null;
}
export function guard(t) {
  const why = missingPrereq();
  if (!why) return true;
  if (IN_CI) throw new Error('CI=true and ' + why);
  t.skip(why);
  return false;
}
function clubosBin() { return process.env.CLUBOS_BIN || join(ROOT, 'build', 'clubos'); }

export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.unref();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
  });
}

function psql(adminUrl, sql) {
  const r = spawnSync('psql', [adminUrl, '-v', 'ON_ERROR_STOP=1', '-q', '-c', sql], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error('psql: ' + sql + ': ' + r.stderr);
}

// Starts a clubos subcommand and resolves with the first stdout line matching `ready`.
function start(args, env, ready, logFile) {
  return new Promise((res, rej) => {
    const p = spawn(clubosBin(), args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const log = [];
    let out = '';
    const timer = setTimeout(() => { p.kill('SIGKILL'); rej(new Error(args[0] + ' did not start: ' + log.join('').slice(-2000))); }, 20_000);
    p.stdout.on('data', (d) => {
      out += d; log.push(String(d));
      const m = out.match(ready);
      if (m) { clearTimeout(timer); res({ proc: p, match: m, log }); }
    });
    p.stderr.on('data', (d) => { log.push(String(d)); if (log.length > 4000) log.splice(0, 1000); });
    p.on('exit', (code) => { clearTimeout(timer); rej(new Error(args[0] + ' exited ' + code + ': ' + log.join('').slice(-2000))); });
    p.logFile = logFile;
    p.logLines = log;
  });
}

let worldCount = 0;

// console/ from disk, everything else passed to serve: same origin, as the embedded console is.
async function devProxy(w) {
  const { createServer: http } = await import('node:http');
  const types = { html: 'text/html', js: 'text/javascript', css: 'text/css', svg: 'image/svg+xml', webmanifest: 'application/manifest+json' };
  const srv = http((req, res) => {
    const path = req.url.split('?')[0];
    const file = path === '/' ? 'index.html' : path.slice(1);
    if (/^[a-z.]+$/.test(file) && existsSync(join(ROOT, 'console', file))) {
      res.writeHead(200, { 'Content-Type': types[file.split('.').pop()] || 'application/octet-stream' });
      return res.end(readFileSync(join(ROOT, 'console', file)));
    }
    const up = new URL(w.apiUrl);
    import('node:http').then(({ request }) => {
      const p = request({ host: up.hostname, port: up.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode, r.headers);
        r.pipe(res);
      });
      p.on('error', (e) => { res.writeHead(502); res.end(String(e)); });
      req.pipe(p);
    });
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  w.proxy = srv;
  return 'http://127.0.0.1:' + srv.address().port;
}

export class World {
  static async create({ users = [], config = (c) => c } = {}) {
    const w = new World();
    w.dir = mkdtempSync(join(tmpdir(), 'clubos-browser-'));
    const admin = process.env.CLUBOS_TEST_DATABASE_URL;
    w.dbName = 'clubos_browser_' + process.pid + '_' + (++worldCount) + '_' + Date.now().toString(36);
    psql(admin, 'CREATE DATABASE ' + w.dbName);
    const u = new URL(admin);
    u.pathname = '/' + w.dbName;
    w.adminUrl = admin;
    w.dbUrl = u.toString();
    const simPort = await freePort();
    w.sim = 'http://127.0.0.1:' + simPort;

    // The example facility, pointed at this world's simulator, at test pace.
    const cfg = JSON.parse(readFileSync(join(ROOT, 'config/clubos.example.json'), 'utf8').split('http://127.0.0.1:9090').join(w.sim));
    cfg.flow.debounce_ms = 300;
    cfg.flow.verify_poll_ms = 300;
    cfg.integrations.verify_timeout_ms.reset_trackman = 8000;
    w.configPath = join(w.dir, 'config.json');
    writeFileSync(w.configPath, JSON.stringify(config(cfg), null, 2));

    const agentKey = (d) => 'browser-agent-key-' + d + '-0123456789';
    w.env = {
      PATH: process.env.PATH, HOME: process.env.HOME || '/tmp', TZ: process.env.TZ || 'UTC',
      CLUBOS_DATABASE_URL: w.dbUrl,
      CLUBOS_LOG_LEVEL: 'warn',
      // Test secrets: the simulator expects the same ones ClubOS sends. Never real ones.
      CLUBOS_OPENPHONE_API_KEY: 'browser-openphone-key',
      CLUBOS_NINJAONE_CLIENT_ID: 'browser-ninja-client', CLUBOS_NINJAONE_CLIENT_SECRET: 'browser-ninja-secret',
      CLUBOS_UNIFI_TOKEN: 'browser-unifi-token',
      // The simulator's model endpoint (OperatorGPT's and the knowledge reviewer's, when a world's
      // config points them at it).
      CLUBOS_LLM_API_KEY: 'browser-llm-key', CLUBOS_REVIEWER_API_KEY: 'browser-llm-key',
      CLUBOS_SLACK_WEBHOOK_URL: w.sim + '/services/T0BROWSER/B0BROWSER/browser',
      CLUBOS_OPENPHONE_SIGNING_SECRET: 'YnJvd3Nlci1zaWduaW5nLXNlY3JldA==',
      CLUBOS_AGENT_KEYS: ['201', '202', '203', '204'].map((d) => d + ':' + agentKey(d)).join(','),
      // A service token so that serve starts without --insecure-dev; people log in as themselves.
      CLUBOS_API_TOKENS: 'service:browser-tests:browser-service-token-0123456789',
    };
    const mig = spawnSync(clubosBin(), ['migrate'], { env: w.env, encoding: 'utf8' });
    if (mig.status !== 0) throw new Error('clubos migrate: ' + mig.stderr);
    // The example facility's FAQ answers and procedures, as scripts/demo imports them.
    const sop = spawnSync(clubosBin(), ['sop', 'import', join(ROOT, 'knowledge')], { env: w.env, encoding: 'utf8' });
    if (sop.status !== 0) throw new Error('clubos sop import: ' + sop.stderr);

    w.users = {};
    // Development only, never in CI: CLUBOS_BROWSER_INSECURE_DEV=1 runs serve --insecure-dev (every
    // caller is the admin `dev`) for a server without sessions yet; CLUBOS_CONSOLE_DEV_PROXY=1 serves
    // console/ from disk in front of serve for a binary without the embedded console.
    w.insecure = process.env.CLUBOS_BROWSER_INSECURE_DEV === '1' && !IN_CI;
    if (!w.insecure) for (const [name, role] of users) w.addUser(name, role);
    else for (const [name, role] of users) w.users[name] = { name, role, password: 'x' };

    const serveArgs = ['serve', '--port', '0', '--workers', '2', '--config', w.configPath];
    const env = { ...w.env };
    if (w.insecure) { serveArgs.push('--insecure-dev'); delete env.CLUBOS_API_TOKENS; }
    const serve = await start(serveArgs, env, /listening on ([\d.]+):(\d+)/);
    w.serveProc = serve.proc;
    w.apiUrl = 'http://127.0.0.1:' + serve.match[2];
    w.url = w.apiUrl;
    if (process.env.CLUBOS_CONSOLE_DEV_PROXY === '1' && !IN_CI) w.url = await devProxy(w);
    const sim = await start(['sim', '--port', String(simPort), '--config', w.configPath, '--clubos-url', w.url,
      '--reset-delay-ms', '1000', '--agent-poll-ms', '300', '--sms-delivery-ms', '100'], w.env, /listening on/);
    w.simProc = sim.proc;
    return w;
  }

  // `clubos user add NAME --role R`, the password on stdin.
  addUser(name, role) {
    const password = 'pw-' + name + '-correct-horse';
    const r = spawnSync(clubosBin(), ['user', 'add', name, '--role', role], { env: this.env, input: password + '\n', encoding: 'utf8' });
    if (r.status !== 0) throw new Error('clubos user add ' + name + ' --role ' + role + ' failed (' + r.status + '): ' + (r.stderr || r.stdout));
    this.users[name] = { name, role, password };
    return this.users[name];
  }

  // A simulated customer texts the facility (signed webhook from the simulator, as OpenPhone would).
  async text(from, body, to = FACILITY_LINE) {
    const r = await fetch(this.sim + '/_sim/customer', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ from, to, body }) });
    const j = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error('sim customer: ' + r.status + ' ' + JSON.stringify(j));
    return j;
  }

  // What the simulated OpenPhone sent to a number (the customer's side of the thread).
  async smsTo(phone) {
    const r = await fetch(this.sim + '/_sim/state');
    const s = await r.json();
    return (s.sms_outbox || []).filter((m) => (Array.isArray(m.to) ? m.to.includes(phone) : m.to === phone));
  }

  // The API as a logged-in person, from node (setup and cross-checks, not the thing under test).
  async session(name) {
    const u = this.users[name];
    if (this.insecure) return { call: (m, p, j) => rawCall(this.apiUrl, m, p, j, {}), csrf: '', user: { name: 'dev', role: 'admin' } };
    const r = await fetch(this.apiUrl + '/v1/session', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: u.name, password: u.password }) });
    if (r.status !== 200) throw new Error('login ' + name + ': ' + r.status + ' ' + (await r.text()));
    const body = await r.json();
    const cookie = (r.headers.getSetCookie ? r.headers.getSetCookie() : [r.headers.get('set-cookie')]).map((c) => c.split(';')[0]).join('; ');
    const call = async (method, path, json) => {
      const headers = { Cookie: cookie, Accept: 'application/json' };
      if (method !== 'GET') headers['X-CSRF-Token'] = body.csrf_token;
      if (json !== undefined) headers['Content-Type'] = 'application/json';
      const res = await fetch(this.apiUrl + path, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) });
      const text = await res.text();
      let j = null; try { j = JSON.parse(text); } catch { j = text; }
      return { status: res.status, body: j };
    };
    return { call, csrf: body.csrf_token, user: body.user };
  }

  async stop() {
    for (const p of [this.simProc, this.serveProc]) {
      if (!p || p.exitCode !== null) continue;
      const done = new Promise((res) => p.once('exit', res));
      p.kill('SIGTERM');
      const t = setTimeout(() => p.kill('SIGKILL'), 8000);
      await done;
      clearTimeout(t);
    }
    if (this.proxy) { this.proxy.closeAllConnections?.(); this.proxy.close(); }
    try { psql(this.adminUrl, 'DROP DATABASE IF EXISTS ' + this.dbName + ' WITH (FORCE)'); } catch { /* the cluster goes away with scripts/test */ }
    rmSync(this.dir, { recursive: true, force: true });
  }

  // The name the history records for a user (`dev` for everyone under --insecure-dev).
  who(name) { return this.insecure ? 'dev' : name; }

  serveLog() { return this.serveProc ? this.serveProc.logLines.join('').slice(-4000) : ''; }
}

async function rawCall(base, method, path, json, headers) {
  const h = { Accept: 'application/json', ...headers };
  if (json !== undefined) h['Content-Type'] = 'application/json';
  const res = await fetch(base + path, { method, headers: h, body: json === undefined ? undefined : JSON.stringify(json) });
  const text = await res.text();
  let j = null; try { j = JSON.parse(text); } catch { j = text; }
  return { status: res.status, body: j };
}

// ---------- page helpers ----------
export async function newPage(browser, world, viewport) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1, isMobile: viewport.width < 600, hasTouch: viewport.width < 600 });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  // No request leaves the page: anything not to this world's server is a failure.
  page.offsite = [];
  await context.route('**/*', (route) => {
    const u = route.request().url();
    if (u.startsWith(world.url + '/') || u === world.url) return route.continue();
    page.offsite.push(u);
    return route.abort();
  });
  return page;
}

export async function login(page, world, name, { password } = {}) {
  await page.goto(world.url + '/');
  if (world.insecure) return;
  await page.locator('[data-test=login-form]').waitFor();
  await page.fill('[data-test=login-name]', name);
  await page.fill('[data-test=login-password]', password ?? world.users[name].password);
  await page.click('[data-test=login-submit]');
}

export async function loggedIn(page, world, name) {
  await login(page, world, name);
  await page.locator('[data-test=who]', { hasText: world.insecure ? 'dev' : name }).waitFor();
}

export async function shot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, name + '.png'), fullPage: false });
}

export async function eventually(fn, { timeout = 15_000, interval = 200, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try { const v = await fn(); if (v) return v; } catch (e) { last = e; }
    if (Date.now() > end) throw new Error('timed out waiting for ' + what + (last ? ': ' + last.message : ''));
    await new Promise((r) => setTimeout(r, interval));
  }
}
