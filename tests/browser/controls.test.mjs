// The controls from the phone layout: an unclaimed emergency impossible to miss; the emergency stop
// engaged with who and why, a banner on every page, a reset request escalated `emergency_stop`,
// then released. Desktop: the auto-send toggle.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DESKTOP, PHONE, World, guard, launchBrowser, loggedIn, missingPrereq, newPage, shot } from './world.mjs';

let browser;
before(async () => { if (!missingPrereq()) browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

test('phone: an unclaimed emergency shows on every page until someone claims it', async (t) => {
  if (!guard(t)) return;
  const w = await World.create({ users: [['ana', 'operator']] });
  t.after(() => w.stop());
  const page = await newPage(browser, w, PHONE);
  await loggedIn(page, w, 'ana');
  await page.goto(w.url + '/#/status');
  await w.text('+15555550140', 'there is smoke coming out of the projector in bay 3!');
  const bar = page.locator('[data-test=urgent-bar]');
  await bar.filter({ hasText: /Unclaimed emergency/ }).waitFor({ timeout: 15_000 });
  await shot(page, 'phone-urgent-bar');
  await page.click('[data-test=nav-inbox]');
  const card = page.locator('[data-test=escalation][data-urgent=true]');
  await card.waitFor();
  assert.match(await card.textContent(), /EMERGENCY/);
  assert.match(await card.getAttribute('class'), /urgent/);
  await card.click();
  await page.click('[data-test=claim]');
  await page.locator('[data-test=thread-claimed-by]', { hasText: w.who('ana') }).waitFor();
  await bar.waitFor({ state: 'hidden', timeout: 15_000 });
  assert.deepEqual(page.errors, []);
});

test('phone: engage the emergency stop, see a reset request escalate emergency_stop, release it', async (t) => {
  if (!guard(t)) return;
  const w = await World.create({ users: [['ana', 'operator']] });
  t.after(() => w.stop());
  const page = await newPage(browser, w, PHONE);
  await loggedIn(page, w, 'ana');
  await page.click('[data-test=nav-controls]');
  await page.locator('[data-test=no-stops]').waitFor();
  await page.selectOption('[data-test=stop-scope]', 'global');
  await page.fill('[data-test=stop-reason]', 'bay PCs misbehaving after the update');
  await page.click('[data-test=stop-engage]');
  await page.locator('[data-test=controls-status]', { hasText: /engaged/ }).waitFor();
  const banner = page.locator('[data-test=stop-banner]');
  await banner.filter({ hasText: new RegExp('global by .*' + w.who('ana') + '.*bay PCs misbehaving') }).waitFor();
  await page.locator('[data-test=stop][data-scope=global]').waitFor();
  await shot(page, 'phone-stop-engaged');

  // The banner is on every page.
  for (const nav of ['nav-inbox', 'nav-status', 'nav-suggestions']) {
    await page.click(`[data-test=${nav}]`);
    assert.ok(await banner.isVisible(), 'the stop banner shows on ' + nav);
  }
  await page.click('[data-test=nav-inbox]');
  await w.text('+15555550141', 'the trackman in bay 2 is frozen, can you reset it');
  const card = page.locator('[data-test=escalation]', { hasText: 'emergency_stop' });
  await card.waitFor({ timeout: 15_000 });
  await shot(page, 'phone-stop-escalation');

  await page.click('[data-test=nav-controls]');
  await page.click('[data-test=stop-release]');
  await page.locator('[data-test=controls-status]', { hasText: /Released global/ }).waitFor();
  await banner.waitFor({ state: 'hidden' });
  await page.locator('[data-test=no-stops]').waitFor();
  assert.deepEqual(page.errors, []);
});

test('desktop: auto-send off from the controls is what the server holds', async (t) => {
  if (!guard(t)) return;
  const w = await World.create({ users: [['root', 'admin']] });
  t.after(() => w.stop());
  const page = await newPage(browser, w, DESKTOP);
  await loggedIn(page, w, 'root');
  await page.click('[data-test=nav-controls]');
  const box = page.locator('[data-test=toggle-auto_send]');
  await box.waitFor();
  assert.equal(await box.isChecked(), true);
  await box.uncheck();
  await page.locator('[data-test=controls-status]', { hasText: /Auto-send answers off/ }).waitFor();
  const s = await w.session('root');
  const c = await s.call('GET', '/v1/emergency-stop');
  assert.equal(c.body.toggles.auto_send, false);
  await shot(page, 'desktop-controls');
});
