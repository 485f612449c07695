// Browser tests of the tenant's consistency settings (views/settings.js,
// issue 13.5): an admin reads and sets the domain's default retention, the
// API's refusal of a bad value is shown with the part it names, clearing it
// gives the server's default back; an operator and a viewer read it with no
// form, and the API still refuses their PUT. Against the real server (run.sh).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Client } from './seed.mjs';
import { openBrowser, BASE, DOMAIN, PASSWORD } from './browser.mjs';

let b;
let page;
let admin;

before(async () => {
  assert.ok(BASE, 'SMS_BASE_URL is set');
  admin = await new Client(BASE).login(DOMAIN, 'ada', PASSWORD);
  // A fresh start whatever ran before.
  await admin.call('PUT', '/v3/consistency-settings', { retention: '' });
  // Signing in lands on the task list: one task, when this file runs alone.
  const agent = await new Client(BASE).login(DOMAIN, 'agent-web', PASSWORD);
  const op = await new Client(BASE).login(DOMAIN, 'olivia', PASSWORD);
  const name = `settings-${randomUUID().slice(0, 6)}`;
  const source = (await agent.call('POST', '/v3/sources', {
    name, hostname: `${name}.example.internal`, ip: '10.0.0.51', os_type: 'LINUX',
    os_version: 'Debian 12', agent_version: '0.3.0',
  })).body.id;
  await op.call('POST', '/v3/tasks', {
    name: `${name} /srv`, type: 'MIGRATE_FILE', os_type: 'LINUX', source_server: { id: source },
    target_server: { name: `${name}-new`, ip: '10.1.0.51', verify_uri: 'file:///mnt/target' },
    is_need_consistency_check: true,
  });
  b = await openBrowser();
  page = b.page;
});

after(async () => {
  if (b) {
    await b.shot('settings-zz-last-page').catch(() => {});
    await b.browser.close();
  }
});

const stored = async () => (await admin.call('GET', '/v3/consistency-settings')).body.retention;

test('an admin sees the precedence and sets the domain\'s default retention', async () => {
  await b.signIn('ada');
  await page.getByRole('link', { name: 'Settings', exact: true }).click();
  await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
  assert.equal(await page.locator('#retention-value').textContent(), 'not set');
  assert.match(await page.locator('#retention-meaning').textContent(), /server's default applies/);
  const levels = await page.locator('#retention-precedence li').allTextContents();
  assert.equal(levels.length, 3);
  assert.match(levels[0], /task's own CONSISTENCY_RETENTION/);
  assert.match(levels[1], /This domain's default/);
  assert.match(levels[2], /server's default/);

  await page.getByLabel('Default retention').fill('runs=10,days=30');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByText('Retention saved.').waitFor();
  await page.locator('#retention-value', { hasText: 'runs=10,days=30' }).waitFor();
  assert.equal(await page.locator('#retention-meaning').textContent(),
    'Keeps the file-level details of the newest 10 runs and every run of the last 30 days; '
    + 'older runs keep their per-directory counters only.');
  assert.equal(await stored(), 'runs=10,days=30');
  await b.shot('settings-01-admin');

  // What the page shows after a reload is what the server keeps.
  await page.reload();
  await page.locator('#retention-value', { hasText: 'runs=10,days=30' }).waitFor();
  assert.equal(await page.getByLabel('Default retention').inputValue(), 'runs=10,days=30');
});

test('a bad value is refused with the part the API names, and nothing changes', async () => {
  await page.getByLabel('Default retention').fill('runs=5,days=x');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  const alert = page.locator('#settings-form').getByRole('alert');
  await alert.filter({ hasText: 'days=x' }).waitFor();
  assert.match(await alert.textContent(), /retention/);
  assert.match(await alert.textContent(), /SMS\.1002/);
  assert.equal(await page.locator('#retention-value').textContent(), 'runs=10,days=30');
  assert.equal(await stored(), 'runs=10,days=30');
  await b.shot('settings-02-refused');
  b.problems.splice(0, b.problems.length); // the 400 under test
});

test('an operator and a viewer read the value with no form; the API refuses their PUT', async () => {
  for (const user of ['olivia', 'victor']) {
    await b.signOut();
    await b.signIn(user);
    await page.getByRole('link', { name: 'Settings', exact: true }).click();
    await page.locator('#retention-value', { hasText: 'runs=10,days=30' }).waitFor();
    await page.locator('#settings-readonly').waitFor();
    assert.equal(await page.locator('#settings-form').count(), 0, user);
    const c = await new Client(BASE).login(DOMAIN, user, PASSWORD);
    const refused = await c.call('PUT', '/v3/consistency-settings', { retention: 'runs=1' },
      { expect: [403] });
    assert.equal(refused.body.error_code, 'SMS.9004', user);
  }
  await b.shot('settings-03-viewer');
  assert.equal(await stored(), 'runs=10,days=30');
});

test('an agent\'s token reads no settings (the console shows it no link)', async () => {
  const agent = await new Client(BASE).login(DOMAIN, 'agent-web', PASSWORD);
  const refused = await agent.call('GET', '/v3/consistency-settings', undefined, { expect: [403] });
  assert.equal(refused.body.error_code, 'SMS.9004');
});

test('an admin clears it: the server\'s default applies again', async () => {
  await b.signOut();
  await b.signIn('ada');
  await page.getByRole('link', { name: 'Settings', exact: true }).click();
  await page.locator('#retention-value', { hasText: 'runs=10,days=30' }).waitFor();
  await page.getByRole('button', { name: 'Clear' }).click();
  await page.getByText('Retention cleared').waitFor();
  await page.locator('#retention-value', { hasText: 'not set' }).waitFor();
  assert.equal(await page.getByLabel('Default retention').inputValue(), '');
  assert.equal(await stored(), '');
});

test('no page logged an error', () => {
  assert.deepEqual(b.problems, []);
});
