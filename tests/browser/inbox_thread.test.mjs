// Log in, the live inbox, a thread's whole story, claim, reply (take over), hand back, resolve:
// at phone size (390x844) and desktop size (1280x800).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DESKTOP, PHONE, World, eventually, guard, launchBrowser, login, loggedIn, missingPrereq, newPage, shot } from './world.mjs';

let browser;
before(async () => { if (!missingPrereq()) browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

for (const [size, viewport] of [['phone', PHONE], ['desktop', DESKTOP]]) {
  test(`${size}: a wrong password is refused without saying which part was wrong, then the right one logs in`, async (t) => {
    if (!guard(t)) return;
    const w = await World.create({ users: [['ana', 'operator']] });
    t.after(() => w.stop());
    const page = await newPage(browser, w, viewport);
    await login(page, w, 'ana', { password: 'not-the-password' });
    const err = page.locator('[data-test=login-error]');
    await err.filter({ hasText: /wrong/i }).waitFor();
    const text = (await err.textContent()).toLowerCase();
    assert.match(text, /wrong name or password/);
    assert.doesNotMatch(text, /unknown user|no such user|password is wrong|name is wrong/);
    await shot(page, `${size}-login-refused`);
    await page.fill('[data-test=login-password]', w.users.ana.password);
    await page.click('[data-test=login-submit]');
    await page.locator('[data-test=who]', { hasText: 'ana' }).waitFor();
    await page.locator('[data-test=inbox-list]').waitFor();
    assert.deepEqual(page.errors, []);
    assert.deepEqual(page.offsite, [], 'no request leaves the page');
  });

  test(`${size}: an escalation appears live; the thread tells the whole story; claim, reply, hand back, resolve`, async (t) => {
    if (!guard(t)) return;
    const w = await World.create({ users: [['ana', 'operator']] });
    t.after(() => w.stop());
    const page = await newPage(browser, w, viewport);
    await loggedIn(page, w, 'ana');
    await page.locator('[data-test=inbox-empty]').waitFor();
    if (!w.insecure) await page.locator('[data-test=live-status][data-mode=live]').waitFor({ timeout: 10_000 });

    // A simulated customer asks for a person: the router escalates it; the inbox shows it without a reload.
    const customer = '+15555550123';
    await w.text(customer, 'can I talk to a real person please, my booking is wrong');
    const card = page.locator('[data-test=escalation]').first();
    await card.waitFor({ timeout: 15_000 });
    assert.match(await card.textContent(), /operator_requested/);
    assert.match(await card.textContent(), /\*\*\*0123/, 'the customer is masked');
    assert.match(await card.textContent(), /unclaimed/);
    assert.doesNotMatch(await page.locator('[data-test=inbox-list]').textContent(), /\bnull\b|undefined/, 'no stray text in the list');
    await shot(page, `${size}-inbox-live`);
    const threadId = Number(await card.getAttribute('data-thread-id'));

    await card.click();
    await page.waitForURL(new RegExp('#/thread/' + threadId + '$'));
    await page.locator('[data-test=thread-title]', { hasText: '#' + threadId }).waitFor();
    assert.match(await page.locator('[data-test=messages]').textContent(), /real person/);
    assert.match(await page.locator('[data-test=decision]').textContent(), /operator_requested|human|escalate/i);
    assert.ok(await page.locator('[data-test=transition]').count() >= 2, 'the timeline shows the transitions');
    assert.match(await page.locator('[data-test=timeline]').textContent(), /escalated/);
    await shot(page, `${size}-thread`);

    // Claim: the button says it happened, and the claim shows.
    await page.click('[data-test=claim]');
    await page.locator('[data-test=thread-claimed-by]', { hasText: w.who('ana') }).waitFor();
    assert.match(await page.locator('[data-test=timeline]').textContent(), /claimed/);

    // Reply: sent as a send_message action; automation pauses on the thread.
    const before = (await w.smsTo(customer)).length;
    await page.fill('[data-test=reply-text]', 'Hi, this is Ana. I am fixing your booking now.');
    await page.click('[data-test=reply-send]');
    const replyStatus = page.locator('[data-test=reply-status]');
    await replyStatus.filter({ hasText: /queued|executing|executed|verified/ }).waitFor();
    await page.locator('[data-test=paused-banner]').filter({ hasText: new RegExp('Automation paused until \\d\\d:\\d\\d by .*' + w.who('ana')) }).waitFor();
    await replyStatus.filter({ hasText: /verified/ }).waitFor({ timeout: 20_000 });
    await eventually(async () => (await w.smsTo(customer)).some((m) => /fixing your booking/.test(m.text || m.content || m.body)), { what: 'the reply reached the customer' });
    await page.locator('[data-test=message][data-direction=out]', { hasText: 'fixing your booking' }).waitFor();
    await shot(page, `${size}-thread-taken-over`);

    // The customer's next text shows in the thread, live, and ClubOS does not answer it.
    await w.text(customer, 'thanks! also the trackman in bay 2 is frozen');
    await page.locator('[data-test=message]', { hasText: 'bay 2 is frozen' }).waitFor({ timeout: 15_000 });
    await new Promise((r) => setTimeout(r, 2500));  // debounce (300 ms) + routing: time to answer if it would
    const sent = await w.smsTo(customer);
    assert.equal(sent.length, before + 1, 'only the operator\'s reply went out: ' + JSON.stringify(sent.map((m) => m.text || m.content)));

    // Hand back.
    await page.click('[data-test=hand-back]');
    await page.locator('[data-test=automation-on]').waitFor();
    await page.locator('[data-test=pause-status]', { hasText: /Handed back/ }).waitFor();

    // Resolve, with what was done.
    await page.fill('[data-test=resolve-what]', 'moved the booking by phone; bay 2 reset by hand');
    await page.click('[data-test=resolve-submit]');
    await page.locator('[data-test=thread-state]', { hasText: 'closed' }).waitFor();
    assert.match(await page.locator('[data-test=timeline]').textContent(), /resolved/);
    await shot(page, `${size}-thread-resolved`);
    await page.click('[data-test=back]');
    await page.locator('[data-test=inbox-empty]').waitFor();
    assert.deepEqual(page.errors, []);
    assert.deepEqual(page.offsite, []);
  });
}
