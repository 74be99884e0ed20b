// The knowledge page: search, a reviewer model's proposal with its diff and dry run, approved by a
// person; a person's own proposal refused to its author and approved by another; versions with
// diffs, and a restore; the next customer answered from the approved version. Phone size, as
// operators use it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PHONE, World, eventually, guard, launchBrowser, loggedIn, missingPrereq, newPage, shot } from './world.mjs';

let browser;
before(async () => { if (!missingPrereq()) browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

const CORRECTION = 'Bays are $45/hour before 5pm and $60/hour after. Members get 20% off every booking.';

// The customer's question answered on its own; the thread and its answer's action.
async function answered(w, api, customer, question) {
  await w.text(customer, question);
  return eventually(async () => {
    const r = await api.call('GET', '/v1/threads?limit=20');
    for (const th of r.body.items || []) {
      if (th.state !== 'verified') continue;
      const full = await api.call('GET', '/v1/threads/' + th.id);
      const texts = full.body.messages.filter((m) => m.direction === 'in').map((m) => m.body || m.text);
      const out = full.body.messages.find((m) => m.direction === 'out' && m.automated);
      if (out && texts.includes(question) && !seen.has(th.id)) { seen.add(th.id); return { thread: full.body, answer: out }; }
    }
    return null;
  }, { timeout: 20_000, what: 'the answer to ' + question });
}
const seen = new Set();

test('phone: the reviewer proposes from a correction, a person approves, the next customer gets it; a person\'s own proposal needs someone else', async (t) => {
  if (!guard(t)) return;
  const w = await World.create({
    users: [['ana', 'operator'], ['ben', 'operator']],
    // The reviewer is this world's simulator, as the vendors are.
    config: (c) => { c.integrations.reviewer.base_url = c.integrations.openphone.base_url; return c; },
  });
  t.after(() => w.stop());
  const ana = await w.session('ana');

  // An answer, marked not helpful with the right one: a case about faq.price.
  const first = await answered(w, ana, '+15555550171', 'how much for an hour?');
  const fb = await ana.call('POST', '/v1/actions/' + first.answer.action_id + '/feedback', { helpful: false, correction: CORRECTION });
  assert.equal(fb.status, 200, JSON.stringify(fb.body));

  const page = await newPage(browser, w, PHONE);
  await loggedIn(page, w, 'ana');
  await page.evaluate(() => { location.hash = '#/knowledge'; });
  await page.locator('[data-test=reviewer]', { hasText: 'Reviewer: ok' }).waitFor();
  await page.locator('[data-test=no-kproposals]').waitFor();
  await page.locator('[data-test=reviewer-run]').click();
  await page.locator('[data-test=knowledge-status]', { hasText: 'The reviewer will read the new cases now.' }).waitFor();
  const proposal = await eventually(async () => {
    const r = await ana.call('GET', '/v1/knowledge/proposals?state=open');
    return (r.body.proposals || []).find((p) => p.author_kind === 'model' && p.replay) || null;
  }, { timeout: 20_000, what: 'the reviewer\'s proposal' });
  assert.equal(proposal.document_id, 'faq.price');
  await page.reload();
  const card = page.locator(`[data-test=kproposal][data-id="${proposal.id}"]`);
  await card.waitFor();
  await card.locator('[data-test=kproposal-diff] .add', { hasText: 'Members get 20% off' }).waitFor();
  await card.locator('[data-test=kproposal-diff] .del', { hasText: '$45/hour before 5pm and $60/hour after, up to 4' }).waitFor();
  await card.locator('[data-test=kreplay-summary]', { hasText: /1 would change/ }).waitFor();
  await card.locator('[data-test=kreplay-changed] li', { hasText: 'how much for an hour?' }).waitFor();
  await shot(page, 'phone-knowledge-proposal');

  // The model wrote it from ana's correction: not hers to approve alone. Ben approves it.
  await card.locator('[data-test=kproposal-approve]').click();
  await card.locator('.status', { hasText: 'your own correction' }).waitFor();
  assert.equal((await ana.call('GET', '/v1/knowledge/documents/faq.price')).body.active_version, 1, 'nothing changed');
  const benPage = await newPage(browser, w, PHONE);
  await loggedIn(benPage, w, 'ben');
  await benPage.evaluate(() => { location.hash = '#/knowledge'; });
  const benCard = benPage.locator(`[data-test=kproposal][data-id="${proposal.id}"]`);
  await benCard.locator('[data-test=kproposal-diff] .add', { hasText: 'Members get 20% off' }).waitFor();
  await benCard.locator('[data-test=kproposal-approve]').click();
  await benPage.locator('[data-test=knowledge-status]', { hasText: 'Approved: faq.price v2 answers from now on.' }).waitFor();
  const next = await eventually(async () => {
    const r = await answered(w, ana, '+15555550172', 'how much for an hour?');
    return r;
  }, { timeout: 30_000, what: 'the next customer\'s answer' });
  const sent = (await ana.call('GET', '/v1/actions/' + next.answer.action_id)).body;
  assert.match(JSON.stringify(sent), /Members get 20% off/, 'the next customer gets the approved answer');

  // Search.
  await page.locator('[data-test=knowledge-q]').fill('gift');
  await page.locator('[data-test=knowledge-search] button').click();
  await page.locator('h2', { hasText: 'Documents matching “gift”' }).waitFor();
  await page.locator('[data-test=kdocument][data-id="faq.gift_card"]').waitFor();
  assert.equal(await page.locator('[data-test=kdocument][data-id="faq.hours"]').count(), 0);

  // A person's own proposal on the hours: refused to its author, approved by ben.
  await page.evaluate(() => { location.hash = '#/knowledge/faq.hours'; });
  await page.locator('[data-test=kdocument-title]', { hasText: 'faq.hours · v1' }).waitFor();
  const content = await page.locator('[data-test=kpropose-content]').inputValue();
  const lines = content.split('\n');
  const body = lines.findIndex((l, i) => i > 0 && l === '---') + 1;
  lines.splice(body, lines.length - body, 'We are open 24/7, every day of the year, holidays included.', '');
  await page.locator('[data-test=kpropose-content]').fill(lines.join('\n'));
  await page.locator('[data-test=kpropose-reasoning]').fill('holiday hours were missing');
  await page.locator('[data-test=kpropose-submit]').click();
  await page.locator('[data-test=kdocument-status]', { hasText: /Proposed \(proposal \d+\): another person must approve it/ }).waitFor();
  const mine = page.locator('[data-test=kproposal]').first();
  await mine.locator('[data-test=kproposal-approve]').click();
  await mine.locator('.status', { hasText: /author|own/i }).waitFor();
  assert.equal((await ana.call('GET', '/v1/knowledge/documents/faq.hours')).body.active_version, 1, 'nothing changed');

  await benPage.evaluate(() => { location.hash = '#/knowledge/faq.hours'; });
  const theirs = benPage.locator('[data-test=kproposal]').first();
  await theirs.locator('[data-test=kproposal-diff] .add', { hasText: 'holidays included' }).waitFor();
  await theirs.locator('[data-test=kproposal-approve]').click();
  await benPage.locator('[data-test=kdocument-status]', { hasText: 'Approved: faq.hours v2 answers from now on.' }).waitFor();
  await benPage.locator('[data-test=kdocument-title]', { hasText: 'faq.hours · v2' }).waitFor();

  // Versions with diffs, and a restore.
  await benPage.locator('[data-test=kversion][data-version="2"]', { hasText: 'active · approval' }).waitFor();
  await benPage.locator('[data-test=kversion][data-version="2"] summary').click();
  await benPage.locator('[data-test=kversion][data-version="2"] [data-test=kversion-diff] .add', { hasText: 'holidays included' }).waitFor();
  await benPage.locator('[data-test=kversion][data-version="1"] [data-test=kversion-restore]').click();
  await benPage.locator('[data-test=kdocument-status]', { hasText: 'Restored v1 as v3.' }).waitFor();
  await benPage.locator('[data-test=khistory] li', { hasText: 'restored v3' }).waitFor();
  await shot(benPage, 'phone-knowledge-document');
  const doc = (await ana.call('GET', '/v1/knowledge/documents/faq.hours')).body;
  assert.deepEqual([doc.active_version, doc.versions.length], [3, 3]);
  assert.equal(doc.versions[0].content, doc.versions[2].content, 'v3 is v1 again');

  assert.deepEqual(page.errors, []);
  assert.deepEqual(benPage.errors, []);
  assert.deepEqual(page.offsite, [], 'no request leaves the page');
});
