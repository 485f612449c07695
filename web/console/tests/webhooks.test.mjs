// Browser tests of the webhook settings (views/webhooks.js, issue 13.6): an
// admin adds webhooks (the secret shown once), a run's deliveries reach a
// receiver on loopback signed with that secret, each webhook's delivery log
// shows status, latency and attempt, a webhook is deleted; any other role
// sees the API's refusal. Against the real server (run.sh).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { seedWebhookTask, Client } from './seed.mjs';
import { openBrowser, BASE, DOMAIN, PASSWORD } from './browser.mjs';

const SECRET = 'console-test-secret-0123456789';

let b;
let page;
let facts;
let receiver;
let port;
const received = []; // {path, headers, body}

async function until(what, fn, ms = 20000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

before(async () => {
  assert.ok(BASE, 'SMS_BASE_URL is set');
  // The receiver: /ok answers 200, anything else 500.
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      received.push({ path: req.url, headers: req.headers, body });
      res.writeHead(req.url === '/ok' ? 200 : 500, { 'Content-Type': 'text/plain' });
      res.end(req.url === '/ok' ? 'ok' : 'not now');
    });
  });
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  port = receiver.address().port;
  facts = await seedWebhookTask(BASE, { domain: DOMAIN, operator: ['olivia', PASSWORD], agent: ['agent-web', PASSWORD] });
  b = await openBrowser();
  page = b.page;
});

after(async () => {
  if (b) {
    await b.shot('webhooks-zz-last-page').catch(() => {});
    await b.browser.close();
  }
  if (receiver) receiver.close();
});

const rows = () => page.locator('#webhooks-table tbody tr');

test('an admin adds a webhook and sees its secret once', async () => {
  await b.signIn('ada');
  await page.getByRole('link', { name: 'Webhooks', exact: true }).click();
  await page.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor();
  await page.getByText('No webhook yet').waitFor();

  await page.getByLabel('URL').fill(`http://127.0.0.1:${port}/ok`);
  for (const box of await page.locator('input[name=events]').all()) await box.uncheck();
  await page.locator('input[name=events][value="run.finished"]').check();
  await page.getByLabel('Secret (optional)').fill(SECRET);
  await page.getByRole('button', { name: 'Add webhook' }).click();
  await page.locator('#webhook-secret-notice').waitFor();
  assert.equal(await page.locator('#webhook-new-secret').textContent(), SECRET);
  await rows().first().waitFor();
  assert.match(await rows().first().textContent(), /run\.finished/);
  await b.shot('webhooks-01-added');

  // One more, to a receiver that fails, with a secret the server makes.
  await page.getByLabel('URL').fill(`http://127.0.0.1:${port}/fail`);
  for (const box of await page.locator('input[name=events]').all()) await box.uncheck();
  await page.locator('input[name=events][value="run.finished"]').check();
  await page.getByRole('button', { name: 'Add webhook' }).click();
  await page.locator('#webhook-secret-notice', { hasText: '/fail' }).waitFor();
  assert.match(await page.locator('#webhook-new-secret').textContent(), /^whsec_/);
  await page.locator('#webhooks-table tbody tr', { hasText: '/fail' }).waitFor();
  assert.equal(await rows().count(), 2);

  // Shown once: a fresh load of the page, and the API, have no secret.
  await page.reload();
  await rows().nth(1).waitFor();
  assert.equal(await page.locator('#webhook-secret-notice').count(), 0);
  assert.equal(await page.getByText(SECRET).count(), 0);
  const admin = await new Client(BASE).login(DOMAIN, 'ada', PASSWORD);
  const list = (await admin.call('GET', '/v3/webhooks')).body;
  assert.equal(list.count, 2);
  assert.ok(list.webhooks.every((w) => w.secret === undefined));
});

test('the API\'s refusal of a bad webhook is shown with the field it names', async () => {
  await page.getByLabel('URL').fill('ftp://127.0.0.1/hook');
  await page.getByRole('button', { name: 'Add webhook' }).click();
  await page.locator('#webhook-form').getByRole('alert').filter({ hasText: 'url' }).waitFor();
  for (const box of await page.locator('input[name=events]').all()) await box.uncheck();
  await page.getByLabel('URL').fill(`http://127.0.0.1:${port}/ok`);
  await page.getByRole('button', { name: 'Add webhook' }).click();
  await page.locator('#webhook-form').getByRole('alert').filter({ hasText: 'events' }).waitFor();
  assert.equal(await rows().count(), 2, 'nothing was added');
  // Those 400s were the answers under test; Chromium logs them.
  b.problems.splice(0, b.problems.length);
});

test('a run\'s deliveries arrive signed and each webhook\'s log shows status, latency and attempt', async () => {
  const runId = await facts.upload(3);
  const ok = await until('the delivery to /ok', () => received.find((r) => r.path === '/ok'));
  await until('the delivery to /fail', () => received.find((r) => r.path === '/fail'));
  // Signed with the secret given in the console (Stripe's scheme).
  const body = JSON.parse(ok.body);
  assert.equal(body.type, 'run.finished');
  assert.equal(body.run_id, runId);
  assert.equal(body.task_id, facts.task);
  const sig = Object.fromEntries(ok.headers['x-sms-signature'].split(',').map((kv) => kv.split('=')));
  const want = crypto.createHmac('sha256', SECRET).update(`${sig.t}.${ok.body}`).digest('hex');
  assert.equal(sig.v1, want);
  assert.equal(ok.headers['idempotency-key'], body.id);

  await page.locator('#webhooks-table tbody tr', { hasText: '/ok' }).getByRole('link', { name: 'Deliveries' }).click();
  await page.getByRole('heading', { name: `http://127.0.0.1:${port}/ok`, level: 1 }).waitFor();
  const first = page.locator('#deliveries-table tbody tr').first();
  await until('the /ok log', async () => {
    if (await first.count()) return true;
    await page.locator('#deliveries-refresh').click();
    return false;
  });
  const cells = await first.locator('td').allTextContents();
  assert.equal(cells[1], 'run.finished');
  assert.equal(cells[2], runId.slice(0, 8));
  assert.equal(cells[3], '1');
  assert.equal(cells[4], '200');
  assert.match(cells[5], /^\d[\d,]* ms$/);
  assert.equal(cells[6], 'delivered');
  await b.shot('webhooks-02-delivered');

  await page.getByRole('link', { name: 'Webhooks', exact: true }).first().click();
  await page.locator('#webhooks-table tbody tr', { hasText: '/fail' }).getByRole('link', { name: 'Deliveries' }).click();
  const failed = page.locator('#deliveries-table tbody tr').first();
  await until('the /fail log', async () => {
    if (await failed.count()) return true;
    await page.locator('#deliveries-refresh').click();
    return false;
  });
  const fcells = await failed.locator('td').allTextContents();
  assert.equal(fcells[4], '500');
  assert.equal(fcells[6], 'pending', 'retried later');
  assert.equal(fcells[7], 'HTTP 500');
  await b.shot('webhooks-03-failing');
});

test('an admin deletes a webhook', async () => {
  await page.getByRole('link', { name: 'Webhooks', exact: true }).first().click();
  await page.locator('#webhooks-table tbody tr', { hasText: '/fail' }).waitFor();
  page.once('dialog', (d) => d.accept());
  await page.getByRole('button', { name: `Delete http://127.0.0.1:${port}/fail` }).click();
  await page.getByText('Webhook deleted.').waitFor();
  await until('one row', async () => (await rows().count()) === 1);
  assert.match(await rows().first().textContent(), /\/ok/);
  const admin = await new Client(BASE).login(DOMAIN, 'ada', PASSWORD);
  assert.equal((await admin.call('GET', '/v3/webhooks')).body.count, 1);
});

test('an operator has no webhook link and sees the API\'s refusal', async () => {
  await b.signOut();
  await b.signIn('olivia');
  assert.equal(await page.getByRole('link', { name: 'Webhooks', exact: true }).count(), 0);
  await page.goto(`${BASE}/console/#/webhooks`);
  await page.getByRole('alert').filter({ hasText: 'webhooks need the admin role' }).waitFor();
  assert.equal(await page.locator('#webhook-form').count(), 0);
  b.problems.splice(0, b.problems.length); // the 403 under test
  await b.shot('webhooks-04-operator');
});

test('no page logged an error', () => {
  assert.deepEqual(b.problems, []);
});
