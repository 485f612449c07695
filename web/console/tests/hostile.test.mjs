// Browser tests of hostile names (views: run.js, ui.js pathHeader): markup in
// a task or file name stays text, spaces stay as they are, characters that do
// not show (controls, a right-to-left override) show as escapes, a name that
// is not valid UTF-8 shows as the API encodes it, a very long path wraps
// inside its column, and "copy" puts the exact path on the clipboard. Two
// mtimes a millisecond apart show their milliseconds (else they read the
// same and only their colour says they differ). Against the real server
// (run.sh), seeded through the API as an agent would upload.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client, dir, uploadRun } from './seed.mjs';
import { openBrowser, BASE, DOMAIN, PASSWORD } from './browser.mjs';

let b;
let page;
let task;
let run;
let dirsRun;

const TASK_NAME = '<img src=x onerror="window.__pwned=1"> & <b>bold</b>';
const LONG = `${Array.from({ length: 14 }, (_, i) => `${String(i).padStart(2, '0')}${'d'.repeat(198)}`).join('/')}/leaf.txt`;
const BYTES = Buffer.from([0x62, 0x61, 0x64, 0x2d, 0xff, 0xfe, 0x2e, 0x62, 0x69, 0x6e]); // bad-\xFF\xFE.bin

function side(salt, mtime) {
  return { type: 'file', size: 12, mtime, mode: 0o644, uid: 0, gid: 0, hash: `${salt}`.repeat(32).slice(0, 32) };
}

before(async () => {
  assert.ok(BASE, 'SMS_BASE_URL is set');
  const agent = await new Client(BASE).login(DOMAIN, 'agent-web', PASSWORD);
  const op = await new Client(BASE).login(DOMAIN, 'olivia', PASSWORD);
  const source = (await agent.call('POST', '/v3/sources', {
    name: 'odd-01', hostname: 'odd-01.example.internal', ip: '10.0.0.51', os_type: 'LINUX',
    os_version: 'Debian 12', agent_version: '0.3.0',
  })).body.id;
  task = (await op.call('POST', '/v3/tasks', {
    name: TASK_NAME, type: 'MIGRATE_FILE', os_type: 'LINUX', source_server: { id: source },
    target_server: { name: 'odd-01-new', ip: '10.1.0.51', verify_uri: 'ssh://verify@odd-01-new:22/' },
    is_need_consistency_check: true,
  })).body.id;
  const t = Date.UTC(2026, 10, 30, 8, 0, 5, 120);
  const diff = (path, extra = {}) => ({
    dir_check: '/h', path, status: 'different', reason: 'content', source: side(1, t), target: side(2, t), ...extra,
  });
  const files = [
    diff('<script>window.__pwned=2</script>.txt'),
    diff(' two  spaces '),
    diff('line\nbreak.txt'),
    diff('rtl-\u202Egnp.exe'),
    diff('=HYPERLINK("http://x")'),
    diff(LONG),
    diff('mtime.txt', { reason: 'mtime', source: side(1, t), target: side(1, t + 1) }),
    {
      dir_check: '/h', path: 'bad-\\xFF\\xFE.bin', path_b64: BYTES.toString('base64'),
      status: 'target_miss', source: side(1, t),
    },
  ];
  const now = Date.now();
  run = await uploadRun(agent, task, {
    check_result: 'success', started_time: now - 60000, finished_time: now, mode: 'hash',
    consistency_result: [dir('/h', 8, 7, 1)],
  }, files);
  dirsRun = await uploadRun(agent, task, {
    check_result: 'success', started_time: now - 30000, finished_time: now - 20000, mode: 'hash',
    consistency_result: [dir('/h', 8), dir('/srv/\u202Etxt.exe', 3, 1)],
  });
  b = await openBrowser();
  page = b.page;
  await b.page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE });
  await b.signIn('olivia');
});

after(async () => {
  if (b) {
    await b.shot('hostile-zz-last-page').catch(() => {});
    await b.browser.close();
  }
});

// The row of the file whose shown path contains `text`.
const row = (text) => page.locator('#files-table tbody tr', { hasText: text });

test('a task name with markup is shown as text, in the list and on its page', async () => {
  await page.getByLabel('Name').fill(TASK_NAME);
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.getByText('1–1 of 1 tasks').waitFor();
  const link = page.locator('#tasks-table tbody th a');
  assert.equal(await link.textContent(), TASK_NAME);
  assert.equal(await page.locator('main img[src=x]').count(), 0);
  await link.click();
  await page.getByRole('heading', { level: 1 }).filter({ hasText: '<b>bold</b>' }).waitFor();
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
});

test('file names keep their spaces, escape what does not show, and never run as markup', async () => {
  await page.goto(`${BASE}/console/#/tasks/${task}/runs/${run}`);
  await page.locator('#files-table').waitFor();
  await b.shot('hostile-01-run');
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.equal(await page.locator('#files-table script').count(), 0);
  assert.equal(await row('<script>window.__pwned=2</script>.txt').count(), 1);

  // Spaces as they are: white-space pre-wrap, text with both spaces.
  const spaces = row('two').locator('th.path');
  assert.equal(await spaces.textContent(), ' two  spaces ');
  assert.equal(await spaces.evaluate((el) => getComputedStyle(el).whiteSpace), 'pre-wrap');

  // A newline and a right-to-left override show as escapes, marked.
  const nl = row('break.txt').locator('th.path');
  assert.equal(await nl.locator('.hidden-char').textContent(), '\\n');
  assert.equal(await nl.textContent(), 'line\\nbreak.txthidden characters');
  const rtl = row('gnp.exe').locator('th.path');
  assert.equal(await rtl.locator('.hidden-char').textContent(), '\\u202E');
  assert.equal(await rtl.locator('.hidden-char').getAttribute('title'), 'U+202E: a character that does not show');
  assert.doesNotMatch(await rtl.textContent(), /\u202E/, 'the override itself is not in the page');

  // Not valid UTF-8: the API's \xHH form and a tag.
  const bad = row('bad-').locator('th.path');
  assert.equal(await bad.textContent(), 'bad-\\xFF\\xFE.binbytes');
});

test('a very long path wraps inside its column, and the page does not scroll sideways', async () => {
  const cell = row('leaf.txt').locator('th.path');
  const box = await cell.boundingBox();
  assert.ok(box.width < 700, `the path column is ${box.width}px wide`);
  assert.ok(box.height > 100, 'the long path wraps onto many lines');
  const [scroll, inner] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  assert.ok(scroll <= inner, `page ${scroll}px wide in a ${inner}px window`);
});

test('copy puts the exact full path on the clipboard; bytes as a bash $\'...\' word', async () => {
  await row('gnp.exe').getByRole('button', { name: 'Copy the full path' }).click();
  await page.getByText('Path copied.').waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), '/h/rtl-\u202Egnp.exe');
  await row('break.txt').getByRole('button', { name: 'Copy the full path' }).click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), '/h/line\nbreak.txt');
  await row('bad-').getByRole('button', { name: 'Copy the full path' }).click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), "$'/h/bad-\\xff\\xfe.bin'");
  // keyboard: the button is reachable and works with Enter
  await row('two').getByRole('button', { name: 'Copy the full path' }).focus();
  await page.keyboard.press('Enter');
  await page.waitForFunction(async () => (await navigator.clipboard.readText()) === '/h/ two  spaces ');
});

test('each copy button names the file it copies', async () => {
  assert.equal(await row('two').locator('button.copy-path').getAttribute('aria-label'), 'Copy the full path of  two  spaces ');
  const long = await row('leaf.txt').locator('button.copy-path').getAttribute('aria-label');
  assert.equal(long.length, 'Copy the full path of '.length + 80);
  assert.ok(long.endsWith('…'));
});

test('two mtimes a millisecond apart show their milliseconds', async () => {
  const cells = row('mtime.txt').locator('td.side');
  assert.match(await cells.nth(0).textContent(), /08:00:05\.120|:05\.120/);
  assert.match(await cells.nth(1).textContent(), /:05\.121/);
  // equal mtimes keep the plain form
  assert.doesNotMatch(await row('two').locator('td.side').first().textContent(), /\.\d{3}/);
});

test('a directory name with a direction override shows it as an escape', async () => {
  await page.goto(`${BASE}/console/#/tasks/${task}/runs/${dirsRun}`);
  await page.locator('#dirs-table').waitFor();
  const th = page.locator('#dirs-table tbody th').first();
  assert.equal(await th.textContent(), '/srv/\\u202Etxt.exe');
  assert.equal(await th.locator('.hidden-char').textContent(), '\\u202E');
});

test('copy works where the Clipboard API does not (plain http to another host)', async () => {
  // As over http://10.x: not a secure context, so no navigator.clipboard
  // writes; the page falls back to the copy command.
  await page.addInitScript(() => Object.defineProperty(window, 'isSecureContext', { get: () => false }));
  await page.goto(`${BASE}/console/#/tasks/${task}/runs/${run}`);
  await page.reload();
  await page.locator('#files-table').waitFor();
  await page.evaluate(() => navigator.clipboard.writeText('before'));
  await row('gnp.exe').getByRole('button', { name: 'Copy the full path' }).click();
  await page.getByText('Path copied.').waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), '/h/rtl-\u202Egnp.exe');
});

test('no page logged an error', () => {
  assert.deepEqual(b.problems, []);
});
