// Policy (admins): a proposal replayed over the last 7 days, refused to its proposer, approved by a
// second admin. Roles: an operator cannot unlock a door by hand; an admin can, after a second
// "are you sure".
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DESKTOP, PHONE, World, guard, launchBrowser, loggedIn, missingPrereq, newPage, shot } from './world.mjs';

let browser;
before(async () => { if (!missingPrereq()) browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

test('desktop: the proposer is refused its own approval; a second admin approves; history shows both', async (t) => {
  if (!guard(t)) return;
  const w = await World.create({ users: [['root', 'admin'], ['rita', 'admin']] });
  t.after(() => w.stop());
  const a = await newPage(browser, w, DESKTOP);
  await loggedIn(a, w, 'root');
  await a.click('[data-test=nav-policy]');
  await a.locator('[data-test=policy-active]', { hasText: 'version 1' }).waitFor();
  const profile = JSON.parse(await a.inputValue('[data-test=proposal-profile]'));
  profile.faq.confidence_threshold = 0.8;
  await a.fill('[data-test=proposal-profile]', JSON.stringify(profile, null, 2));
  await a.fill('[data-test=proposal-note]', 'fewer FAQ guesses');
  await a.click('[data-test=proposal-submit]');
  await a.locator('[data-test=policy-status]', { hasText: /Proposed version 2/ }).waitFor();
  const card = a.locator('[data-test=proposal][data-version="2"]');
  await card.waitFor();
  assert.match(await card.locator('[data-test=proposal-diff]').textContent(), /0\.8/);
  await card.locator('[data-test=proposal-replay]').click();
  await card.locator('[data-test=replay-summary]').waitFor();
  await card.locator('[data-test=proposal-approve]').click();
  const refusal = card.locator('[data-test=proposal-status-2]');
  await refusal.filter({ hasText: /.+/ }).waitFor();
  await refusal.filter({ hasText: /other|own|proposer|another/i }).waitFor();
  assert.match(await refusal.getAttribute('class'), /err/);
  await shot(a, 'desktop-policy-refused');

  const b = await newPage(browser, w, DESKTOP);
  await loggedIn(b, w, 'rita');
  await b.click('[data-test=nav-policy]');
  await b.locator('[data-test=proposal][data-version="2"] [data-test=proposal-approve]').click();
  await b.locator('[data-test=policy-status]', { hasText: /Approved v2/ }).waitFor();
  await b.locator('[data-test=policy-active]', { hasText: 'version 2' }).waitFor();
  assert.match(await b.locator('[data-test=policy-history]').textContent(), new RegExp('approved by .*' + w.who('rita')));
  await shot(b, 'desktop-policy-approved');
  assert.deepEqual([...a.errors, ...b.errors], []);
});

test('phone: an operator cannot unlock a door by hand; an admin can, after "are you sure"', async (t) => {
  if (!guard(t)) return;
  const w = await World.create({ users: [['ana', 'operator'], ['root', 'admin']] });
  t.after(() => w.stop());
  await w.text('+15555550160', 'can I talk to a real person, the door will not open');
  const s = await w.session('root');
  let threadId;
  for (let i = 0; i < 50 && !threadId; i++) {
    const r = await s.call('GET', '/v1/escalations');
    threadId = r.body.items?.[0]?.thread_id;
    if (!threadId) await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok(threadId, 'the thread escalated');

  const op = await newPage(browser, w, PHONE);
  await loggedIn(op, w, 'ana');
  await op.goto(w.url + '/#/thread/' + threadId);
  const unlock = op.locator('[data-test=perform-kind] option[value=unlock_door]');
  await unlock.waitFor({ state: 'attached' });
  if (!w.insecure) {
    assert.equal(await unlock.isDisabled(), true, 'the operator is not offered a door unlock');
    assert.match(await unlock.textContent(), /admins only/);
    // Forced past the UI, the server refuses it, and the console says so.
    await op.evaluate(() => { document.querySelector('[data-test=perform-kind] option[value=unlock_door]').disabled = false; });
    await op.selectOption('[data-test=perform-kind]', 'unlock_door');
    await op.click('[data-test=perform-submit]');
    await op.click('[data-test=confirm-unlock]');
    await op.locator('[data-test=perform-status]', { hasText: /admin|forbidden|not allowed|may not/i }).waitFor();
    assert.match(await op.locator('[data-test=perform-status]').getAttribute('class'), /err/);
    await shot(op, 'phone-operator-unlock-refused');
  }

  const ad = await newPage(browser, w, PHONE);
  await loggedIn(ad, w, 'root');
  await ad.goto(w.url + '/#/thread/' + threadId);
  await ad.locator('[data-test=perform-kind]').waitFor();
  await ad.selectOption('[data-test=perform-kind]', 'unlock_door');
  await ad.click('[data-test=perform-submit]');
  await ad.locator('[data-test=confirm-box]').waitFor();
  assert.match(await ad.locator('[data-test=confirm-box]').textContent(), /Unlock .* now\?/);
  await shot(ad, 'phone-admin-unlock-confirm');
  // Record every text the status line shows: "queued" must come first, "verified" only once the
  // action's verification is in its history.
  await ad.evaluate(() => {
    window.statusLog = [];
    const el = document.querySelector('[data-test=perform-status]');
    new MutationObserver(() => window.statusLog.push(el.textContent)).observe(el, { childList: true, characterData: true, subtree: true });
  });
  await ad.click('[data-test=confirm-unlock]');
  const st = ad.locator('[data-test=perform-status]');
  await st.filter({ hasText: /verified/ }).waitFor({ timeout: 30_000 });
  const log = await ad.evaluate(() => window.statusLog.filter(Boolean));
  const q = log.findIndex((x) => /queued/.test(x));
  const v = log.findIndex((x) => /verified/.test(x));
  assert.ok(q >= 0 && q < v, 'queued before verified: ' + JSON.stringify(log));
  const actionId = Number(await st.getAttribute('data-action-id'));
  const action = await s.call('GET', '/v1/actions/' + actionId);
  assert.equal(action.body.kind, 'unlock_door');
  assert.equal(action.body.state, 'verified');
  assert.ok(action.body.transitions.some((x) => x.event === 'verification_passed'), 'the door event was verified');
  assert.match(action.body.triggered_by, new RegExp(w.who('root')));
  await shot(ad, 'phone-admin-unlock-verified');
  assert.deepEqual([...op.errors, ...ad.errors], []);
});
