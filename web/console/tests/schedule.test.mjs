// Browser tests of schedules and the cut-over readiness verdict in the
// console (issue 13.1, 13.3, 13.6): the task list shows each task's verdict
// and sorts by it; the task page shows the verdict with its reasons, the
// schedule, the next check time and the skipped checks, and edits the
// schedule (a bad one is refused with the server's reason).
// Environment as console.test.mjs (set by run.sh).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { chromium } from 'playwright-core';
import { Client } from './seed.mjs';

const BASE = process.env.SMS_BASE_URL;
const DOMAIN = process.env.SMS_DOMAIN || 'acme';
const PASSWORD = process.env.SMS_PASSWORD;
const ARTIFACTS = process.env.ARTIFACT_DIR || path.resolve('test-results');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const HOUR = 3600 * 1000;

let browser;
let page;
const problems = [];
const ids = {};
const suffix = randomUUID().slice(0, 6); // unique names in a shared database

async function shot(name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

function dir(dirCheck, total, different = 0) {
  return {
    dir_check: dirCheck, num_total_files: total, num_different_files: different,
    num_target_miss_files: 0, num_target_more_files: 0,
  };
}

async function upload(agent, taskId, finished, dirs) {
  await agent.call('POST', `/v3/tasks/${taskId}/consistency-result`, {
    run_id: randomUUID(), check_result: 'success', started_time: finished - 60000,
    finished_time: finished, mode: 'hash', consistency_result: dirs,
  });
}

before(async () => {
  assert.ok(BASE, 'SMS_BASE_URL is set');
  const agent = await new Client(BASE).login(DOMAIN, 'agent-web', PASSWORD);
  const op = await new Client(BASE).login(DOMAIN, 'olivia', PASSWORD);
  const src = (await agent.call('POST', '/v3/sources', {
    name: `sched-${suffix}`, hostname: `sched-${suffix}.example.internal`, ip: '10.0.0.31',
    os_type: 'LINUX', os_version: 'Debian 12', agent_version: '0.3.0',
  })).body.id;
  const task = async (name) => (await op.call('POST', '/v3/tasks', {
    name, type: 'MIGRATE_FILE', os_type: 'LINUX', source_server: { id: src },
    target_server: { name: `${name}-new`, ip: '10.1.0.31', verify_uri: 'file:///mnt/copy' },
    is_need_consistency_check: true,
  })).body.id;
  ids.ready = await task(`cutover-ready-${suffix}`);
  ids.blocked = await task(`cutover-blocked-${suffix}`);
  for (const id of [ids.ready, ids.blocked]) {
    await op.call('POST', `/v3/tasks/${id}/configuration-setting`, {
      configurations: [{ config_key: 'CONSISTENCY_DIR', config_value: '/data' }],
    });
  }
  await op.call('POST', `/v3/tasks/${ids.ready}/configuration-setting`, {
    configurations: [{ config_key: 'CONSISTENCY_SCHEDULE', config_value: 'TZ=Asia/Shanghai 0 2 * * *' }],
  });
  const now = Date.now();
  await upload(agent, ids.ready, now - 2 * HOUR, [dir('/data', 120)]);
  await upload(agent, ids.ready, now - HOUR, [dir('/data', 120)]);
  await upload(agent, ids.blocked, now - HOUR, [dir('/data', 120, 132)]);

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext({ viewport: { width: 1366, height: 850 } });
  page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()} @ ${page.url()}`); });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.setDefaultTimeout(10000);
  await page.goto(`${BASE}/console/#/signin`);
  await page.getByLabel('Domain').fill(DOMAIN);
  await page.getByLabel('User name').fill('olivia');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#tasks-table').waitFor();
});

after(async () => {
  if (page) await shot('schedule-zz-last-page').catch(() => {});
  if (browser) await browser.close();
});

test('the task list shows the cut-over verdict and sorts by it', async () => {
  await page.getByLabel('Sort').selectOption('cutover_readiness');
  await page.waitForURL(/sort=cutover_readiness/);
  await page.locator('#tasks-table tbody tr').first().waitFor();
  const ready = page.locator('#tasks-table tbody tr', { hasText: `cutover-ready-${suffix}` });
  await ready.locator('[data-readiness="ready"]').waitFor();
  assert.match(await ready.textContent(), /Can cut over/);
  assert.match(await ready.textContent(), /next /, 'the next check time is shown');
  // Ready tasks come first: ours is on the first page, above every not
  // ready one.
  const verdicts = await page.locator('#tasks-table tbody [data-readiness]')
    .evaluateAll((els) => els.map((e) => e.dataset.readiness));
  const firstNotReady = verdicts.indexOf('not_ready');
  const lastReady = verdicts.lastIndexOf('ready');
  assert.ok(lastReady >= 0, `a ready task is listed: ${verdicts}`);
  assert.ok(firstNotReady === -1 || lastReady < firstNotReady, `ready first: ${verdicts}`);
  await shot('schedule-01-tasks-by-readiness');
  assert.deepEqual(problems, []);
});

test('the task page shows the verdict, its reasons and the schedule', async () => {
  await page.goto(`${BASE}/console/#/tasks/${ids.blocked}`);
  await page.locator('#readiness').waitFor();
  assert.match(await page.locator('#readiness').textContent(), /Not yet/);
  assert.match(await page.locator('#readiness').textContent(), /132 files differ in the last check/);
  assert.equal((await page.locator('#schedule').textContent()).trim(), 'none');

  await page.goto(`${BASE}/console/#/tasks/${ids.ready}`);
  await page.locator('#readiness').waitFor();
  assert.match(await page.locator('#readiness').textContent(), /Can cut over/);
  assert.match(await page.locator('#readiness').textContent(), /since /);
  assert.equal((await page.locator('#schedule').textContent()).trim(), 'TZ=Asia/Shanghai 0 2 * * *');
  assert.notEqual((await page.locator('#next-check').textContent()).trim(), '–');
  assert.equal((await page.locator('#skipped-checks').textContent()).trim(), '0');
  await shot('schedule-02-task-ready');
  assert.deepEqual(problems, []);
});

test('the schedule is edited on the task page; a bad one says why', async () => {
  await page.goto(`${BASE}/console/#/tasks/${ids.blocked}`);
  const input = page.getByLabel('Schedule', { exact: true });
  await input.waitFor();
  await input.fill('@every 30s');
  await page.getByRole('button', { name: 'Save configuration' }).click();
  await page.getByRole('alert').filter({ hasText: 'shorter than the minimum' }).waitFor();
  // The refused save answered 400 on purpose; Chromium logs it.
  problems.splice(0, problems.length);
  await input.fill('@every 6h');
  await page.getByRole('button', { name: 'Save configuration' }).click();
  await page.locator('#schedule', { hasText: '@every 6h' }).waitFor();
  assert.notEqual((await page.locator('#next-check').textContent()).trim(), '–');
  await shot('schedule-03-edited');
  assert.deepEqual(problems, []);
});
