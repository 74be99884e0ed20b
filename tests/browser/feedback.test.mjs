// Helpful / not helpful on ClubOS's own answers, from the thread's story: an operator marks the
// FAQ's answer not helpful with a correction (a case for review), changes their mind (the verdict
// is replaced, not added), and the customer's "nope, same problem" shows as their verdict. Phone
// size first, as operators use it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PHONE, World, eventually, guard, launchBrowser, loggedIn, missingPrereq, newPage, shot } from './world.mjs';

let browser;
before(async () => { if (!missingPrereq()) browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

test('phone: an automated answer marked not helpful with a correction, then helpful; the customer\'s verdict shows', async (t) => {
  if (!guard(t)) return;
  const w = await World.create({ users: [['ana', 'operator']] });
  t.after(() => w.stop());
  const api = await w.session('ana');

  // A customer asks what the FAQ answers: ClubOS answers on its own, no escalation.
  const customer = '+15555550161';
  await w.text(customer, 'how much for an hour?');
  const thread = await eventually(async () => {
    const r = await api.call('GET', '/v1/threads?limit=5');
    const th = (r.body.items || [])[0];
    if (!th || th.state !== 'verified') return null;
    const full = await api.call('GET', '/v1/threads/' + th.id);
    return full.body.messages.some((m) => m.direction === 'out' && m.automated) ? full.body : null;
  }, { timeout: 20_000, what: 'the FAQ answer sent' });
  const answer = thread.messages.find((m) => m.direction === 'out' && m.automated);

  const page = await newPage(browser, w, PHONE);
  await loggedIn(page, w, 'ana');
  await page.evaluate((id) => { location.hash = '#/thread/' + id; }, thread.id);
  const box = page.locator(`[data-test=feedback][data-action-id="${answer.action_id}"]`);
  await box.waitFor();
  assert.equal(await page.locator('[data-test=message][data-direction=in] [data-test=feedback]').count(), 0, 'no buttons on the customer\'s own texts');

  // Not helpful, with what it should have said.
  await box.locator('summary').click();
  await box.locator('[data-test=feedback-correction]').fill('Also say the $40 off-peak rate before 4 pm.');
  await box.locator('[data-test=feedback-unhelpful]').click();
  const status = page.locator(`[data-test=feedback-status-${answer.action_id}]`);
  await status.filter({ hasText: /Marked not helpful: case #\d+ for review/ }).waitFor();
  await page.locator('[data-test=verdict]', { hasText: 'ana: not helpful' }).filter({ hasText: '$40 off-peak' }).waitFor();
  assert.equal(await page.locator(`[data-test=feedback][data-action-id="${answer.action_id}"] [data-test=feedback-unhelpful]`).getAttribute('aria-pressed'), 'true');
  await shot(page, 'phone-feedback-unhelpful');
  let fb = (await api.call('GET', '/v1/threads/' + thread.id)).body.feedback;
  assert.equal(fb.length, 1);
  assert.deepEqual([fb[0].by, fb[0].helpful, fb[0].correction, fb[0].version], ['operator:' + w.who('ana'), false, 'Also say the $40 off-peak rate before 4 pm.', 1]);

  // Changed mind: helpful replaces it.
  await page.locator(`[data-test=feedback][data-action-id="${answer.action_id}"] [data-test=feedback-helpful]`).click();
  await page.locator(`[data-test=feedback-status-${answer.action_id}]`).filter({ hasText: /Marked helpful \(your earlier verdict replaced\)/ }).waitFor();
  await page.locator('[data-test=verdict]', { hasText: 'ana: helpful' }).waitFor();
  assert.equal(await page.locator('[data-test=verdict]').count(), 1, 'replaced, not added');
  fb = (await api.call('GET', '/v1/threads/' + thread.id)).body.feedback;
  assert.deepEqual([fb.length, fb[0].helpful, fb[0].version], [1, true, 2]);

  // The customer says it did not help: their verdict shows under the answer, live.
  await w.text(customer, 'nope, same problem');
  await page.locator('[data-test=verdict]', { hasText: 'customer: said it did not help' }).waitFor({ timeout: 15_000 });
  await shot(page, 'phone-feedback-customer');
  assert.deepEqual(page.errors, []);
  assert.deepEqual(page.offsite, [], 'no request leaves the page');
});
