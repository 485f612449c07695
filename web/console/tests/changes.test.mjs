// Browser tests of "what changed since the last run" (views/changes.js,
// issues 13.6 and 12): a run links to its changes; the filters, ages,
// per-directory counter changes and marker paging show what
// GET .../consistency-result/changes answers; a re-check of the
// inconsistent files shows what it resolved. Against the real server
// (run.sh), seeded through the API (seed.mjs seedChanges).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { seedChanges, Client } from './seed.mjs';
import { openBrowser, BASE, DOMAIN, PASSWORD } from './browser.mjs';

let b;
let page;
let facts;

before(async () => {
  assert.ok(BASE, 'SMS_BASE_URL is set');
  facts = await seedChanges(BASE, { domain: DOMAIN, operator: ['olivia', PASSWORD], agent: ['agent-web', PASSWORD] });
  b = await openBrowser();
  page = b.page;
  await b.signIn('victor'); // a viewer may read changes
});

after(async () => {
  if (b) {
    await b.shot('changes-zz-last-page').catch(() => {});
    await b.browser.close();
  }
});

// The paths listed, without the directory shown before each (two directories).
const paths = async () => (await page.locator('#changes-table tbody th.path').allTextContents())
  .map((p) => p.replace(/^\/(data|logs)\//, ''));
const runHash = (run) => `${BASE}/console/#/tasks/${facts.task}/runs/${run}`;

test('a run links to its changes since the previous full check, with each counter\'s change', async () => {
  await page.goto(runHash(facts.runs.next));
  await page.locator('#dirs-table').waitFor();
  await page.getByRole('link', { name: 'Changes since previous run' }).click();
  await page.getByRole('heading', { name: 'Changes since the previous run', level: 1 }).waitFor();
  await page.locator('#changes-table').waitFor();
  // The older run is the full check 72 h ago, linked.
  const from = page.locator('#changes-from-run a');
  assert.equal(await from.getAttribute('href'), `#/tasks/${facts.task}/runs/${facts.runs.full}`);
  assert.doesNotMatch(await page.locator('#changes-from-run').textContent(), /null|undefined/);
  // /data: different 3 -> 43, missing 1 -> 1.
  const data = page.locator('#changes-dirs tbody tr', { hasText: '/data' });
  const cells = await data.locator('td').allTextContents();
  assert.equal(cells[0], '940 +40');
  assert.equal(cells[1], '43 +40');
  assert.equal(cells[2], '1 ±0');
  assert.equal(await data.locator('td').nth(1).getAttribute('title'), '3 → 43');
  await b.shot('changes-01-since-previous');
});

test('the change filter narrows to new, resolved and persisting, with each difference\'s age', async () => {
  await page.locator('#changes-change').selectOption('resolved');
  await page.waitForFunction(() => location.hash.includes('change=resolved'));
  await page.locator('#changes-table').waitFor();
  assert.deepEqual(await paths(), ['a.txt']);
  const resolved = page.locator('#changes-table tbody tr').first();
  assert.match(await resolved.textContent(), /Resolved/);
  assert.match(await resolved.textContent(), /was Different/);
  // a.txt differed from the first run (72 h ago) until this one (24 h ago).
  assert.equal(await resolved.locator('.age').textContent(), '2 d');

  await page.locator('#changes-change').selectOption('persisting');
  await page.waitForFunction(() => location.hash.includes('change=persisting'));
  await page.locator('#changes-table').waitFor();
  assert.deepEqual(await paths(), ['b.txt', 'c.txt', 'm1.txt']);
  const m1 = page.locator('#changes-table tbody tr', { hasText: 'm1.txt' });
  assert.match(await m1.textContent(), /Missing on target/);
  assert.equal(await m1.locator('.age').textContent(), '2 d');
  assert.match(await m1.locator('td').last().getAttribute('title'), /first found by the run of/);

  await page.locator('#changes-change').selectOption('new');
  await page.waitForFunction(() => location.hash.includes('change=new'));
  await page.locator('#changes-table').waitFor();
  const first = await paths();
  assert.equal(first.length, 41, 'd.txt and the 40 files of batch/');
  assert.equal(first[0], 'batch/f-00.dat');
  assert.ok(await page.locator('#changes-next').isDisabled());
  assert.match(await page.locator('#changes-table tbody tr').first().textContent(), /new in this run/);
  await b.shot('changes-02-new');
});

test('changes page by marker', async () => {
  await page.locator('#changes-limit').selectOption('25');
  await page.waitForFunction(() => location.hash.includes('limit=25'));
  await page.getByText('files 1–25, more follow').waitFor();
  const page1 = await paths();
  await page.locator('#changes-next').click();
  await page.getByText('files 26–41').waitFor();
  const page2 = await paths();
  assert.equal(page2.length, 16);
  assert.ok(!page2.some((p) => page1.includes(p)), 'pages do not overlap');
  assert.equal(page2[page2.length - 1], 'd.txt');
  assert.ok(await page.locator('#changes-next').isDisabled(), 'no page after the last');
  await page.locator('#changes-prev').click();
  await page.getByText('files 1–25, more follow').waitFor();
  assert.deepEqual(await paths(), page1);
});

test('a re-check of the inconsistent files shows the differences it resolved', async () => {
  await page.goto(runHash(facts.runs.check));
  await page.locator('#run-scope').getByText('Inconsistent files only').waitFor();
  // the run it re-checked, linked (issue 12.5)
  assert.equal(await page.locator('#run-base a').getAttribute('href'),
    `#/tasks/${facts.task}/runs/${facts.runs.next}`);
  await page.getByRole('link', { name: 'Resolved differences' }).click();
  await page.getByRole('heading', { name: 'Differences the re-check resolved', level: 1 }).waitFor();
  await page.locator('#changes-table').waitFor();
  // compared with the run it re-checked, not the full check of 72 h ago
  assert.equal(await page.locator('#changes-from-run a').getAttribute('href'),
    `#/tasks/${facts.task}/runs/${facts.runs.next}`);
  assert.equal(await page.locator('#changes-change').inputValue(), 'resolved');
  const first = await paths();
  assert.equal(first.length, 43, 'b, d, m1 and the 40 files of batch/');
  assert.ok(first.includes('b.txt') && first.includes('m1.txt') && !first.includes('c.txt'));
  await b.shot('changes-03-recheck-resolved');

  // c.txt is still different: persisting since the first run.
  await page.locator('#changes-change').selectOption('persisting');
  await page.waitForFunction(() => location.hash.includes('change=persisting'));
  await page.locator('#changes-table').waitFor();
  assert.deepEqual(await paths(), ['c.txt']);
  // Every change: the re-check's choice is kept in the address.
  await page.locator('#changes-change').selectOption('');
  await page.waitForFunction(() => location.hash.includes('change=all'));
  await page.locator('#changes-table').waitFor();
  assert.equal((await paths()).length, 44);
});

test('the older run can be chosen, and a run with none before it says why', async () => {
  await page.goto(`${runHash(facts.runs.check)}/changes?change=all`);
  await page.locator('#changes-table').waitFor();
  await page.locator('#changes-from').selectOption(facts.runs.full);
  await page.waitForFunction((id) => location.hash.includes(`from=${id}`), facts.runs.full);
  await page.locator('#changes-table').waitFor();
  assert.equal(await page.locator('#changes-from-run a').getAttribute('href'),
    `#/tasks/${facts.task}/runs/${facts.runs.full}`);

  await page.goto(runHash(facts.runs.full));
  await page.getByRole('link', { name: 'Changes since previous run' }).click();
  await page.getByRole('alert').filter({ hasText: 'no successful run of the same directories' }).waitFor();
  // That 404 was the answer under test; Chromium logs it.
  b.problems.splice(0, b.problems.length);
  // and the server agrees
  const api = await new Client(BASE).login(DOMAIN, 'victor', PASSWORD);
  const r = await api.call('GET', `/v3/tasks/${facts.task}/consistency-result/changes?to=${facts.runs.full}`,
    undefined, { expect: [404] });
  assert.match(r.body.error_msg, /no successful run/);
});

test('no page logged an error', () => {
  assert.deepEqual(b.problems, []);
});
