// Browser tests of what the console shows when things are not plain: a
// failed run (no green zeros, why it failed, no directory), a re-check of the
// inconsistent files (its files are the ones checked again), the task list's
// cut-over reason in words, exports named by what they hold with a message
// that stays when one cannot be made (an API refusal, more than 200 tasks),
// the server not answering (a message and "Try again", no script error), a
// deleted task, a session that ended, and a narrow window. Against the real
// server (run.sh), seeded through the API as an agent would upload.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client, dir, uploadRun } from './seed.mjs';
import { openBrowser, BASE, DOMAIN, PASSWORD } from './browser.mjs';

const HOUR = 3600 * 1000;
let b;
let page;
let op;
let source;
const ids = {};
const runs = {};

before(async () => {
  assert.ok(BASE, 'SMS_BASE_URL is set');
  const agent = await new Client(BASE).login(DOMAIN, 'agent-web', PASSWORD);
  op = await new Client(BASE).login(DOMAIN, 'olivia', PASSWORD);
  source = (await agent.call('POST', '/v3/sources', {
    name: 'state-01', hostname: 'state-01.example.internal', ip: '10.0.0.61', os_type: 'LINUX',
    os_version: 'Debian 12', agent_version: '0.3.0',
  })).body.id;
  const task = async (name) => (await op.call('POST', '/v3/tasks', {
    name, type: 'MIGRATE_FILE', os_type: 'LINUX', source_server: { id: source },
    target_server: { name: 'state-01-new', ip: '10.1.0.61', verify_uri: 'ssh://verify@state-01-new:22/' },
    is_need_consistency_check: true,
  })).body.id;
  const now = Date.now();
  ids.failed = await task('state failed');
  runs.failed = await uploadRun(agent, ids.failed, {
    check_result: 'failed', error_msg: 'target /mnt/new: No such file or directory',
    started_time: now - HOUR, finished_time: now - HOUR + 500, mode: 'hash', consistency_result: [],
  });
  ids.recheck = await task('state recheck');
  const full = await uploadRun(agent, ids.recheck, {
    check_result: 'success', started_time: now - 3 * HOUR, finished_time: now - 3 * HOUR + 9000, mode: 'hash',
    consistency_result: [dir('/data', 120000, 900, 40, 0, { num_changed_files: 2, num_error_files: 3 })],
  });
  runs.recheck = await uploadRun(agent, ids.recheck, {
    check_result: 'success', scope: 'inconsistent', base_run_id: full,
    started_time: now - 2 * HOUR, finished_time: now - 2 * HOUR + 3000, mode: 'hash',
    consistency_result: [dir('/data', 945, 10, 0, 0, { num_changed_files: 1, num_error_files: 3 })],
  });
  ids.dirs = await task('state dirs');
  runs.dirs = await uploadRun(agent, ids.dirs, {
    check_result: 'success', started_time: now - HOUR, finished_time: now - HOUR + 2000, mode: 'hash',
    consistency_result: [dir('/a', 10, 5), dir('/b', 1000, 1, 1), dir('/c', 50, 0, 9)],
  });
  ids.since = await task('state since');
  await uploadRun(agent, ids.since, {
    check_result: 'success', started_time: now - 5 * HOUR, finished_time: now - 5 * HOUR + 1000, mode: 'hash',
    consistency_result: [dir('/x', 500, 60, 30)],
  });
  await uploadRun(agent, ids.since, {
    check_result: 'success', started_time: now - HOUR, finished_time: now - HOUR + 1000, mode: 'hash',
    consistency_result: [dir('/x', 500, 54, 45)],
  });
  ids.doomed = await task('state deleted');
  // 101 runs: the oldest is past the newest 100 a result list holds.
  ids.old = await task('state old runs');
  for (let i = 0; i < 101; i += 1) {
    const id = await uploadRun(agent, ids.old, {
      check_result: 'success', started_time: now - (200 - i) * HOUR, finished_time: now - (200 - i) * HOUR + 1000,
      mode: 'hash', consistency_result: [dir('/old', 700 + i, i === 0 ? 7 : 0)],
    });
    if (i === 0) runs.oldest = id;
  }
  b = await openBrowser();
  page = b.page;
  await b.signIn('olivia');
});

after(async () => {
  if (b) {
    await b.shot('states-zz-last-page').catch(() => {});
    await b.browser.close();
  }
});

// Chromium logs each refused request ("Failed to load resource: ... 404"):
// the answers these tests provoke. Anything else is a problem.
const scriptProblems = () => b.problems.filter((p) => !/Failed to load resource/.test(p));

test('a failed run says it failed and why, with no green zero and no directory', async () => {
  await page.goto(`${BASE}/console/#/tasks/${ids.failed}/runs/${runs.failed}`);
  const alert = page.locator('#run-failed');
  await alert.waitFor();
  assert.match(await alert.textContent(), /This run failed: target \/mnt\/new: No such file or directory/);
  assert.match(await alert.textContent(), /stopped before it checked any directory/);
  assert.equal(await page.locator('.stats .stat.good').count(), 0, 'no counter of a failed run is "good"');
  assert.match(await page.locator('#directories').textContent(), /The run failed before it checked any directory/);
  assert.equal(await page.locator('#dirs-table').count(), 0);
  await page.locator('#details-results').getByText('The run failed: it listed no file.').waitFor();
  await b.shot('states-01-failed-run');
  // the task's latest-run card too
  await page.goto(`${BASE}/console/#/tasks/${ids.failed}`);
  await page.locator('#latest-run').getByText('The run failed:').waitFor();
  assert.equal(await page.locator('#latest-run .stat.good').count(), 0);
});

test('a re-check counts the files it checked again, and the task shows changed and error counts', async () => {
  await page.goto(`${BASE}/console/#/tasks/${ids.recheck}`);
  await page.locator('#latest-run').waitFor();
  const stat = (root, label) => page.locator(`${root} .stat`, { hasText: label }).locator('.stat-value');
  assert.equal(await stat('#latest-run', 'Files checked again').textContent(), '945');
  assert.equal(await page.locator('#latest-run .stat', { hasText: 'Files on source' }).count(), 0);
  assert.equal(await stat('#latest-run', 'Changed during check').textContent(), '1');
  assert.equal(await stat('#latest-run', 'Errors').textContent(), '3');
  await page.goto(`${BASE}/console/#/tasks/${ids.recheck}/runs/${runs.recheck}`);
  await page.locator('#dirs-table').waitFor();
  assert.equal(await stat('.stats-wide', 'Files checked again').textContent(), '945');
  // its comparison says its Files is no count of the source
  await page.goto(`${BASE}/console/#/tasks/${ids.recheck}/runs/${runs.recheck}/changes`);
  await page.locator('#changes-recheck-note').waitFor();
  assert.match(await page.locator('#changes-dirs tbody tr').first().locator('td').first().textContent(), /^945 −119,055$/);
});

test('a run\'s directories: worst first, and each column header sorts, keyboard included', async () => {
  await page.goto(`${BASE}/console/#/tasks/${ids.dirs}/runs/${runs.dirs}`);
  await page.locator('#dirs-table').waitFor();
  const order = () => page.locator('#dirs-table tbody th').allTextContents();
  const sortOf = (label) => page.locator('#dirs-table thead th', { has: page.getByRole('button', { name: `${label}: sort by it` }) })
    .getAttribute('aria-sort');
  assert.deepEqual(await order(), ['/c', '/a', '/b']);
  assert.equal(await sortOf('Files not equal'), 'descending');
  assert.deepEqual(await page.locator('#dirs-table tbody tr').first().locator('td.num').allTextContents(),
    ['50', '0', '9', '0', '0', '0', '0', '0']);
  await page.getByRole('button', { name: 'Files: sort by it' }).click();
  assert.deepEqual(await order(), ['/b', '/c', '/a']);
  assert.equal(await sortOf('Files'), 'descending');
  assert.equal(await sortOf('Files not equal'), null);
  await page.keyboard.press('Enter'); // the focus stays on the header just used
  assert.deepEqual(await order(), ['/a', '/c', '/b']);
  assert.equal(await sortOf('Files'), 'ascending');
  await page.getByRole('button', { name: 'Directory: sort by it' }).click();
  assert.deepEqual(await order(), ['/a', '/b', '/c']);
  await page.getByRole('button', { name: 'Different: sort by it' }).click();
  assert.deepEqual(await order(), ['/a', '/b', '/c']);
  await page.getByRole('button', { name: 'Missing on target: sort by it' }).click();
  assert.deepEqual(await order(), ['/c', '/b', '/a']);
});

test('the task list counts the other differences too, and marks a re-check', async () => {
  await page.goto(`${BASE}/console/#/tasks?name=${encodeURIComponent('state recheck')}`);
  const row = page.locator('#tasks-table tbody tr', { hasText: 'state recheck' });
  await row.waitFor();
  // files checked again, different, missing, extra, other (1 changed + 3 errors)
  assert.equal((await row.locator('td.num').allTextContents()).join('|'), '945|10|0|0|4');
  assert.match(await row.locator('td.num').last().getAttribute('title'), /Changed during check: 1\nErrors: 3/);
  assert.equal(await row.locator('td.latest .tag').textContent(), 're-check');
});

test('the task list says why a task cannot cut over, in words', async () => {
  await page.goto(`${BASE}/console/#/tasks?name=${encodeURIComponent('state failed')}`);
  const cell = page.locator('#tasks-table tbody tr', { hasText: 'state failed' }).locator('td.readiness');
  await cell.waitFor();
  assert.equal(await cell.locator('[data-readiness]').textContent(), 'Not yet');
  const reason = await cell.locator('.reason').textContent();
  assert.match(reason, /the last check failed/);
  assert.match(await cell.getAttribute('title'), /the last check failed/);
});

const exportAs = async (format, allRuns = false) => {
  await page.getByLabel('Format').selectOption(format);
  await page.getByLabel('Every run, not only the latest').setChecked(allRuns);
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.locator('#export-button').click(),
  ]);
  return download.suggestedFilename();
};

test('an export is named by its task and time; a refused one leaves its reason on the page', async () => {
  await page.goto(`${BASE}/console/#/tasks?name=${encodeURIComponent('state recheck')}`);
  await page.getByLabel('Select state recheck').check();
  assert.match(await exportAs('csv'), /^consistency-state-recheck-\d{4}-\d{2}-\d{2}-\d{4}\.csv$/);
  assert.match(await exportAs('json', true), /^consistency-state-recheck-all-runs-\d{4}-\d{2}-\d{2}-\d{4}\.json$/);
  await page.getByText(/Exported 1 task as consistency-state-recheck-all-runs-/).waitFor();

  // The server refuses (here: a stand-in answer for the export call only).
  await page.route('**/v3/tasks/consistency-results/export*', (route) => route.fulfill({
    status: 400, contentType: 'application/json',
    body: JSON.stringify({ error_code: 'SMS.1004', error_msg: 'task_info: at most 200 items' }),
  }));
  await page.locator('#export-button').click();
  const msg = page.locator('#export-message [role=alert]');
  await msg.waitFor();
  assert.equal(await msg.textContent(), 'Export failed: task_info: at most 200 items (SMS.1004)');
  await page.waitForTimeout(4500); // longer than a toast lasts
  assert.equal(await msg.count(), 1, 'the reason stays');
  await page.unroute('**/v3/tasks/consistency-results/export*');
  await exportAs('csv');
  assert.equal(await msg.count(), 0, 'and goes with the next export');
  await page.getByRole('button', { name: 'Clear selection' }).click();
});

test('more than 200 selected tasks: the console says so and asks nothing of the server', async () => {
  const have = (await op.call('GET', '/v3/tasks?limit=1')).body.count;
  const extra = [];
  for (let i = have; i <= 200; i += 1) {
    extra.push((await op.call('POST', '/v3/tasks', {
      name: `state bulk ${String(i).padStart(3, '0')}`, type: 'MIGRATE_FILE', os_type: 'LINUX',
      source_server: { id: source }, target_server: { name: 'bulk', ip: '10.1.0.99', verify_uri: 'ssh://verify@bulk:22/' },
    })).body.id);
  }
  try {
    await page.goto(`${BASE}/console/#/tasks`);
    for (;;) {
      await page.locator('#tasks-table').waitFor();
      await page.getByLabel('Select every task on this page').check();
      const next = page.getByRole('button', { name: 'Next ›' });
      if (await next.isDisabled()) break;
      const range = await page.locator('.pager-range').textContent();
      await next.click();
      await page.waitForFunction((r) => document.querySelector('.pager-range')
        && document.querySelector('.pager-range').textContent !== r, range);
    }
    await page.getByText(/^\d+ tasks selected$/).waitFor();
    let asked = 0;
    page.on('request', (r) => { if (r.url().includes('/export')) asked += 1; });
    await page.locator('#export-button').click();
    const msg = page.locator('#export-message [role=alert]');
    await msg.waitFor();
    assert.match(await msg.textContent(), /^Cannot export \d+ tasks at once: an export takes at most 200\./);
    assert.equal(asked, 0);
    await page.getByRole('button', { name: 'Clear selection' }).click();
  } finally {
    for (const id of extra) await op.call('DELETE', `/v3/tasks/${id}`);
  }
});

test('when the server does not answer, the page says so and "Try again" recovers', async () => {
  await page.route('**/v3/**', (route) => route.abort('connectionrefused'));
  await page.goto(`${BASE}/console/#/tasks/${ids.recheck}`);
  const alert = page.locator('main [role=alert]');
  await alert.waitFor();
  assert.match(await alert.textContent(), /The server does not answer .*check that sms-server is running/);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'page-retry');
  await b.shot('states-02-server-down');
  await page.unroute('**/v3/**');
  await page.getByRole('button', { name: 'Try again' }).click();
  await page.getByRole('heading', { name: 'state recheck', level: 1 }).waitFor();
  assert.deepEqual(scriptProblems(), [], 'a network failure is no script error');
});

test('the task page opens what changed since the previous run in one click', async () => {
  await page.goto(`${BASE}/console/#/tasks/${ids.recheck}`);
  await page.locator('#latest-changes').click();
  await page.getByRole('heading', { name: 'Differences the re-check resolved', level: 1 }).waitFor();
  assert.match(page.url(), new RegExp(`#/tasks/${ids.recheck}/runs/${runs.recheck}/changes$`));
  await page.goto(`${BASE}/console/#/tasks/${ids.failed}`);
  await page.locator('#latest-run').getByText('The run failed:').waitFor();
  assert.equal(await page.locator('#latest-changes').count(), 0, 'a failed run has no changes');
});

test('the task page says what moved since the previous full check', async () => {
  await page.goto(`${BASE}/console/#/tasks/${ids.since}`);
  const since = page.locator('#since-last-run');
  await since.waitFor();
  assert.deepEqual(await since.locator('li').allTextContents(),
    ['Different: 60 → 54 (−6)', 'Missing on target: 30 → 45 (+15)']);
  assert.match(await since.textContent(), /^Since the previous full check \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\):/);
  // a re-check and a failed run have none (their own pages compare them)
  await page.goto(`${BASE}/console/#/tasks/${ids.recheck}`);
  await page.locator('#latest-run').waitFor();
  assert.equal(await page.locator('#since-last-run').count(), 0);
});

test('a deleted task: the API\'s 404 in words, with a way back', async () => {
  await op.call('DELETE', `/v3/tasks/${ids.doomed}`);
  await page.goto(`${BASE}/console/#/tasks/${ids.doomed}`);
  await page.locator('main [role=alert]').getByText('The task does not exist.').waitFor();
  assert.equal(await page.locator('#page-retry').count(), 0, 'trying again would find nothing either');
  await page.getByRole('link', { name: '‹ Back to the tasks' }).click();
  await page.locator('#tasks-table').waitFor();
});

test('a task deleted while its page watches a check: the page says so and stops asking', async () => {
  const id = (await op.call('POST', '/v3/tasks', {
    name: 'state watched', type: 'MIGRATE_FILE', os_type: 'LINUX', source_server: { id: source },
    target_server: { name: 'w', ip: '10.1.0.62', verify_uri: 'ssh://verify@w:22/' },
  })).body.id;
  await op.call('POST', `/v3/tasks/${id}/configuration-setting`, {
    configurations: [{ config_key: 'CONSISTENCY_DIR', config_value: '/data' }],
  });
  await op.call('POST', `/v3/tasks/${id}/action`, { operation: 'consistency_check' });
  await page.goto(`${BASE}/console/#/tasks/${id}`);
  await page.locator('.facts').getByText('Running').waitFor();
  await op.call('DELETE', `/v3/tasks/${id}`);
  await page.locator('#task-gone').waitFor({ timeout: 15000 });
  let asked = 0;
  page.on('request', (r) => { if (r.url().includes(id)) asked += 1; });
  await page.waitForTimeout(6000);
  assert.equal(asked, 0, 'no more polling');
});

test('a session that ended on the server sends to sign-in, and back to the page after it', async () => {
  const token = await page.evaluate(() => sessionStorage.getItem('sms.console.token'));
  await fetch(`${BASE}/v3/auth/tokens`, { method: 'DELETE', headers: { 'X-Auth-Token': token, 'X-Subject-Token': token } });
  await page.goto(`${BASE}/console/#/tasks/${ids.recheck}`);
  await page.getByText('Your session has ended. Please sign in again.').waitFor();
  await page.getByLabel('User name').fill('olivia');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'state recheck', level: 1 }).waitFor();
});

test('a selection for export does not outlive the session', async () => {
  await page.goto(`${BASE}/console/#/tasks?name=${encodeURIComponent('state recheck')}`);
  await page.getByLabel('Select state recheck').check();
  await page.getByText('1 task selected').waitFor();
  await b.signOut();
  await b.signIn('victor');
  await page.getByText('0 tasks selected').waitFor();
  assert.ok(await page.locator('#export-button').isDisabled());
});

test('an agent\'s user is told the console is not for its role, and nothing fails', async () => {
  await b.signOut();
  await page.getByLabel('Domain').fill(DOMAIN);
  await page.getByLabel('User name').fill('agent-web');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#no-console-role').waitFor();
  assert.match(await page.locator('#no-console-role').textContent(), /agent-web has the role agent, which is for sms-agent/);
  await page.goto(`${BASE}/console/#/sources`);
  await page.locator('#no-console-role').waitFor();
  assert.equal(await page.locator('main [role=alert]').count(), 0, 'no refusal from the API: nothing was asked');
  await b.signOut();
  await b.signIn('olivia');
});

test('a narrow window: the top bar wraps, nothing runs off the page, sign-out is reachable', async () => {
  await page.setViewportSize({ width: 390, height: 800 });
  for (const hash of ['#/tasks', `#/tasks/${ids.recheck}`, `#/tasks/${ids.recheck}/runs/${runs.recheck}`]) {
    await page.goto(`${BASE}/console/${hash}`);
    await page.locator('h1').first().waitFor();
    await page.waitForTimeout(300);
    const [scroll, inner] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    assert.ok(scroll <= inner, `${hash}: page ${scroll}px wide in a ${inner}px window`);
    const out = await page.getByRole('button', { name: 'Sign out' }).boundingBox();
    assert.ok(out && out.x >= 0 && out.x + out.width <= inner, `${hash}: sign-out within the window`);
  }
  await b.shot('states-03-narrow-run');
  await page.setViewportSize({ width: 1366, height: 850 });
});

test('the keyboard reaches the content first: the skip link moves the focus to the page', async () => {
  await page.goto(`${BASE}/console/#/sources`);
  await page.reload();
  await page.locator('#sources-table').waitFor();
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to content');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'main');
  // the page stays (the link is no route)
  assert.match(page.url(), /#\/sources$/);
  assert.equal(await page.locator('#sources-table').count(), 1);
});

test('a run older than the newest 100 opens, and so does its comparison; an unknown run is said so', async () => {
  await page.goto(`${BASE}/console/#/tasks/${ids.old}/runs/${runs.oldest}`);
  await page.locator('#dirs-table').waitFor();
  assert.deepEqual((await page.locator('#dirs-table tbody tr').first().locator('td.num').allTextContents()).slice(0, 2),
    ['700', '7']);
  await page.goto(`${BASE}/console/#/tasks/${ids.old}/runs/${runs.oldest}/changes`);
  await page.locator('#changes-results').waitFor();
  await page.goto(`${BASE}/console/#/tasks/${ids.old}/runs/00000000-0000-4000-8000-000000000000`);
  await page.getByText('The run does not exist.').waitFor();
  assert.equal(await page.locator('#page-retry').count(), 0);
});

test('no page threw or logged a script error', () => {
  assert.deepEqual(scriptProblems(), []);
});
