// The suggestions queue: with auto-send off, ClubOS stores what it would have answered; two
// operators approve it at once from two browsers: one wins, the other sees "already handled by".
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DESKTOP, PHONE, World, eventually, guard, launchBrowser, loggedIn, missingPrereq, newPage, shot } from './world.mjs';

let browser;
before(async () => { if (!missingPrereq()) browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

test('phone + desktop: two sessions approve one suggestion; one wins, the other is told who handled it', async (t) => {
  if (!guard(t)) return;
  const w = await World.create({ users: [['ana', 'operator'], ['bo', 'operator']] });
  t.after(() => w.stop());
  const s = await w.session('ana');
  const off = await s.call('POST', '/v1/emergency-stop', { toggles: { auto_send: false } });
  assert.equal(off.status, 200, JSON.stringify(off.body));
  const customer = '+15555550150';
  await w.text(customer, 'how much for an hour?');
  await eventually(async () => ((await s.call('GET', '/v1/suggestions')).body.items || []).length === 1, { what: 'a suggestion' });

  const a = await newPage(browser, w, PHONE);
  const b = await newPage(browser, w, DESKTOP);
  await loggedIn(a, w, 'ana');
  await loggedIn(b, w, 'bo');
  for (const p of [a, b]) {
    await p.click('[data-test=nav-suggestions]');
    await p.locator('[data-test=suggestion]').first().waitFor();
  }
  const text = a.locator('[data-test=suggestion-text]');
  const suggested = await text.inputValue();
  await shot(a, 'phone-suggestions');
  const before = (await w.smsTo(customer)).length;
  await Promise.all([a.click('[data-test=suggestion-approve]'), b.click('[data-test=suggestion-approve]')]);
  const status = (p) => p.locator('[data-test^=suggestion-status-]').first();
  const won = async (p) => /Approved|queued|verified|executed/.test(await status(p).textContent());
  const lost = async (p) => /Already handled/.test(await status(p).textContent());
  await eventually(async () => ((await won(a)) && (await lost(b))) || ((await won(b)) && (await lost(a))), { what: 'one winner, one "already handled"' });
  const [winner, loser, winnerName] = (await won(a)) ? [a, b, 'ana'] : [b, a, 'bo'];
  assert.match(await status(loser).textContent(), new RegExp('Already handled by .*' + w.who(winnerName)));
  await status(winner).filter({ hasText: /verified/ }).waitFor({ timeout: 20_000 });
  await shot(loser, (loser === a ? 'phone' : 'desktop') + '-suggestion-already-handled');
  assert.equal((await w.smsTo(customer)).length, before + 1, 'the answer went out once');
  assert.deepEqual([...a.errors, ...b.errors], []);
  // Last, as it needs the message text in GET /v1/suggestions: the operator edits what they approve.
  assert.ok(suggested.length > 0, 'the suggested answer is shown for editing (GET /v1/suggestions gives its text)');
});
