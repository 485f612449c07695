// Browser tests of the console: Debian's Chromium driven by playwright-core,
// against a real sms-server on loopback seeded through its API.
// Environment (set by run.sh): SMS_BASE_URL (the server, or the dev proxy in
// front of it), SMS_DOMAIN, SMS_PASSWORD (every test user's), ARTIFACT_DIR.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { seed, Client } from './seed.mjs';

const BASE = process.env.SMS_BASE_URL;
const DOMAIN = process.env.SMS_DOMAIN || 'acme';
const PASSWORD = process.env.SMS_PASSWORD;
const ARTIFACTS = process.env.ARTIFACT_DIR || path.resolve('test-results');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

let browser;
let context;
let page;
let facts;
const problems = []; // console errors and uncaught exceptions, from every page

async function shot(name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

async function signIn(user) {
  await page.goto(`${BASE}/console/#/signin`);
  await page.getByLabel('Domain').fill(DOMAIN);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#tasks-table').waitFor();
}

async function signOut() {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'SMS Consistency' }).waitFor();
}

before(async () => {
  assert.ok(BASE, 'SMS_BASE_URL is set');
  assert.ok(PASSWORD, 'SMS_PASSWORD is set');
  facts = await seed(BASE, { domain: DOMAIN, operator: ['olivia', PASSWORD], agent: ['agent-web', PASSWORD] });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  context = await browser.newContext({ viewport: { width: 1366, height: 850 }, acceptDownloads: true });
  page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()} @ ${page.url()}`); });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.setDefaultTimeout(10000);
});

after(async () => {
  if (page) await shot('zz-last-page').catch(() => {});
  if (browser) await browser.close();
});

test('the sign-in page rejects a wrong password and accepts the right one', async () => {
  await page.goto(`${BASE}/console/`);
  await page.getByLabel('Domain').waitFor();
  await shot('01-sign-in');
  await page.getByLabel('Domain').fill(DOMAIN);
  await page.getByLabel('User name').fill('olivia');
  await page.getByLabel('Password').fill('not-the-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'not correct' }).waitFor();
  // That failed login was answered 403 on purpose; Chromium logs it.
  problems.splice(0, problems.length);
  // keyboard only: the password field has the focus after a failure
  assert.equal(await page.evaluate(() => document.activeElement.name), 'password');
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press('Enter');
  await page.locator('#tasks-table').waitFor();
  assert.equal(await page.locator('#who-role').textContent(), 'operator');
  const token = await page.evaluate(() => sessionStorage.getItem('sms.console.token'));
  assert.ok(token && token.length > 20, 'the token is in sessionStorage');
  const local = await page.evaluate(() => localStorage.length);
  assert.equal(local, 0, 'nothing in localStorage');
});

test('the tasks table pages, shows the latest run and filters', async () => {
  await page.getByText(`1–20 of ${facts.taskCount} tasks`).waitFor();
  const row = page.locator('#tasks-table tbody tr', { hasText: 'web-01 /srv' });
  await assert.doesNotReject(row.getByText('Differences').waitFor());
  assert.equal((await row.locator('td.num').allTextContents()).join('|'), '54,461|132|12|3|0');
  await shot('02-tasks');
  await page.getByRole('button', { name: 'Next ›' }).click();
  await page.getByText(`21–${facts.taskCount} of ${facts.taskCount} tasks`).waitFor();
  await page.getByRole('button', { name: '‹ Previous' }).click();
  await page.getByText(`1–20 of ${facts.taskCount} tasks`).waitFor();

  await page.getByLabel('Source').selectOption({ label: 'db-01' });
  await page.waitForFunction(() => location.hash.includes('source='));
  await page.locator('#tasks-table tbody tr', { hasText: 'db-01 /var/lib/postgresql' }).getByText('Failed', { exact: true }).waitFor();
  assert.equal(await page.locator('#tasks-table tbody tr', { hasText: 'web-01' }).count(), 0);
  await page.getByRole('button', { name: 'Clear', exact: true }).click();
  await page.getByText(`1–20 of ${facts.taskCount} tasks`).waitFor();

  // find a task by name
  await page.getByLabel('Name').fill('web-01 /srv');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.getByText('1–1 of 1 tasks').waitFor();
  await page.getByRole('link', { name: 'web-01 /srv' }).click();
  await page.getByRole('heading', { name: 'web-01 /srv', level: 1 }).waitFor();
  assert.equal(await page.locator('textarea[name=dirs]').inputValue(), '/srv/www\n/srv/data\n/srv/logs');
  assert.equal(await page.locator('#runs-table tbody tr').count(), 4);
  await shot('03-task');
});

test('a run shows its worst directory first and pages through its differing files', async () => {
  await page.locator('#latest-run').getByRole('link', { name: 'Open run' }).click();
  await page.locator('#dirs-table').waitFor();
  const firstDir = await page.locator('#dirs-table tbody tr').first().locator('th').textContent();
  assert.equal(firstDir, '/srv/data', 'the worst directory is listed first');
  await shot('04-run');

  await page.getByRole('link', { name: '130 Different in /srv/data' }).click();
  await page.getByText('1–50 of 130 files').waitFor();
  assert.equal(await page.locator('#details-status').inputValue(), 'different');
  const page1 = await page.locator('#files-table tbody th.path').allTextContents();
  assert.equal(page1.length, 50);
  assert.equal(page1[0], 'uploads/2026/11/img-0000.jpg');
  await shot('05-files');
  await page.locator('#details-next').click();
  await page.getByText('51–100 of 130 files').waitFor();
  const page2 = await page.locator('#files-table tbody th.path').allTextContents();
  assert.equal(page2[0], 'uploads/2026/11/img-0050.jpg');
  assert.ok(!page2.some((p) => page1.includes(p)), 'pages do not overlap');
  await page.locator('#details-next').click();
  await page.getByText('101–130 of 130 files').waitFor();
  assert.equal(await page.locator('#files-table tbody tr').count(), 30);
  assert.ok(await page.locator('#details-next').isDisabled(), 'no page after the last');
  await page.locator('#details-prev').click();
  await page.getByText('51–100 of 130 files').waitFor();

  await page.locator('#details-status').selectOption('target_miss');
  await page.getByText('1–12 of 12 files').waitFor();
  const row = page.locator('#files-table tbody tr').first();
  assert.match(await row.textContent(), /Missing on target/);
  assert.match(await row.textContent(), /absent/);
});

test('the selected tasks export as XLSX, JSON and CSV with the latest run of each', async () => {
  await page.getByRole('link', { name: 'Tasks', exact: true }).first().click();
  await page.locator('#tasks-table').waitFor();
  await page.getByLabel('Select web-01 /srv').check();
  await page.getByLabel('Select web-01 /etc').check();
  await page.getByText('2 tasks selected').waitFor();
  const exportAs = async (format) => {
    await page.getByLabel('Format').selectOption(format);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('#export-button').click(),
    ]);
    const file = await download.path();
    fs.copyFileSync(file, path.join(ARTIFACTS, `export.${format}`));
    return { name: download.suggestedFilename(), data: fs.readFileSync(file) };
  };
  const xlsx = await exportAs('xlsx');
  assert.match(xlsx.name, /\.xlsx$/);
  assert.equal(xlsx.data.subarray(0, 2).toString('latin1'), 'PK', 'an XLSX file is a zip');
  const json = JSON.parse((await exportAs('json')).data.toString('utf8'));
  assert.equal(json.count, 4);
  const csvFile = await exportAs('csv');
  assert.match(csvFile.name, /\.csv$/);
  const csv = csvFile.data.toString('utf8').replace(/^\uFEFF/, '');
  const lines = csv.trim().split(/\r?\n/);
  assert.match(lines[0], /^source_name,source_id,task_id,task_name,run_id,finished_time,check_result,dir_check,num_total_files,num_different_files,num_target_miss_files,num_target_more_files/);
  const rows = lines.slice(1).map((l) => l.split(','));
  assert.equal(rows.length, 4, 'three directories of /srv and one of /etc');
  const data = rows.find((r) => r[7] === '/srv/data');
  assert.ok(data, 'a row for /srv/data');
  assert.deepEqual(data.slice(8, 12), ['52311', '130', '12', '3']);
  assert.equal(data[3], 'web-01 /srv');
  assert.equal(data[4], facts.srvLatest);
  assert.ok(rows.some((r) => r[3] === 'web-01 /etc' && r[7] === '/etc' && r[9] === '0'));
});

test('an operator configures a task, starts a check, sees its run arrive, and stops another', async () => {
  await page.goto(`${BASE}/console/#/tasks/${facts.tasks.etc}`);
  await page.locator('#start-check').waitFor();
  await page.locator('textarea[name=dirs]').fill('/etc\n/opt/app');
  await page.getByLabel('Mode').selectOption('quick');
  await page.getByRole('button', { name: 'Save configuration' }).click();
  await page.getByText('Configuration saved.').waitFor();
  await page.locator('textarea[name=dirs]').waitFor();
  const api = await new Client(BASE).login(DOMAIN, 'olivia', PASSWORD);
  const cfg = (await api.call('GET', `/v3/tasks/${facts.tasks.etc}/configuration-setting`)).body.configurations;
  const byKey = Object.fromEntries(cfg.map((c) => [c.config_key, c.config_value]));
  assert.equal(byKey.CONSISTENCY_DIR, '/etc,/opt/app');
  assert.equal(byKey.CONSISTENCY_MODE, 'quick');

  await page.locator('#start-check').click();
  await page.locator('.facts').getByText('Running').waitFor();
  assert.equal((await api.call('GET', `/v3/tasks/${facts.tasks.etc}`)).body.state, 'RUNNING');

  // The agent picks the check up and reports; the open page shows the new run
  // by itself.
  const agent = await new Client(BASE).login(DOMAIN, 'agent-web', PASSWORD);
  const cmd = (await agent.call('GET', `/v3/sources/${facts.sources.web}/command`)).body;
  assert.equal(cmd.command_name, 'CONSISTENCY_CHECK');
  assert.deepEqual(cmd.command_param.dirs, ['/etc', '/opt/app']);
  assert.equal(cmd.command_param.mode, 'quick');
  const now = Date.now();
  await agent.call('POST', `/v3/tasks/${facts.tasks.etc}/consistency-result`, {
    run_id: cmd.command_param.run_id, check_result: 'success', mode: 'quick',
    started_time: now - 4000, finished_time: now,
    consistency_result: [
      { dir_check: '/etc', num_total_files: 1203, num_different_files: 0, num_target_miss_files: 0, num_target_more_files: 0 },
      { dir_check: '/opt/app', num_total_files: 77, num_different_files: 0, num_target_miss_files: 1, num_target_more_files: 0 },
    ],
  });
  await page.locator('#runs-table tbody tr').nth(1).waitFor({ timeout: 20000 });
  await page.locator('.facts').getByText('Ready').waitFor();
  await page.locator('#latest-run').getByText('Differences').waitFor();
  assert.equal(await page.locator('#latest-run .stat.bad .stat-value').first().textContent(), '1');

  // A queued check can be stopped.
  await page.locator('#start-check').click();
  await page.locator('.facts').getByText('Running').waitFor();
  await page.locator('#stop-check').click();
  await page.locator('.facts').getByText('Stopped').waitFor();
});

test('the sources page lists each agent and whether it is connected', async () => {
  await page.getByRole('link', { name: 'Sources', exact: true }).click();
  await page.locator('#sources-table').waitFor();
  const web = page.locator('#sources-table tbody tr', { hasText: 'web-01' });
  assert.match(await web.textContent(), /web-01\.example\.internal/);
  assert.match(await web.textContent(), /0\.3\.0/);
  assert.match(await web.textContent(), /Connected/);
  const db = page.locator('#sources-table tbody tr', { hasText: 'db-01' });
  assert.match(await db.textContent(), /0\.2\.9/);
  await shot('06-sources');
});

test('a viewer sees no button that would change anything', async () => {
  await signOut();
  const token = await page.evaluate(() => sessionStorage.getItem('sms.console.token'));
  assert.equal(token, null, 'sign-out forgets the token');
  await signIn('victor');
  assert.equal(await page.locator('#who-role').textContent(), 'viewer');
  await page.goto(`${BASE}/console/#/tasks/${facts.tasks.srv}`);
  await page.getByRole('heading', { name: 'web-01 /srv', level: 1 }).waitFor();
  await page.locator('#runs-table').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Start check' }).count(), 0);
  assert.equal(await page.getByRole('button', { name: 'Stop' }).count(), 0);
  assert.equal(await page.getByRole('button', { name: 'Save configuration' }).count(), 0);
  assert.equal(await page.locator('textarea[name=dirs]').getAttribute('readonly'), '');
  await shot('07-task-as-viewer');
  // and the server agrees: the viewer's token may not start a check
  const viewer = await new Client(BASE).login(DOMAIN, 'victor', PASSWORD);
  const r = await viewer.call('POST', `/v3/tasks/${facts.tasks.srv}/action`, { operation: 'consistency_check' }, { expect: [403] });
  assert.equal(r.body.error_code, 'SMS.9004');
});

test('signing out revokes the token on the server', async () => {
  const token = await page.evaluate(() => sessionStorage.getItem('sms.console.token'));
  await signOut();
  const resp = await fetch(`${BASE}/v3/tasks`, { headers: { 'X-Auth-Token': token } });
  assert.equal(resp.status, 403);
  assert.equal((await resp.json()).error_code, 'SMS.9002');
});

test('no page logged an error', () => {
  assert.deepEqual(problems, []);
});
