// Browser tests of "Download these files" on a run's page (js/file_export.js):
// every differing file of the run, or of the directory and status chosen, as
// CSV or JSON, complete (page after page of GET .../details), named by what
// it holds, formula-safe, and a message that stays when it cannot be made.
// Against the real server (run.sh), seeded through the API.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Client, dir, uploadRun } from './seed.mjs';
import { openBrowser, BASE, DOMAIN, PASSWORD } from './browser.mjs';

const TOTAL = 2345; // three pages of 1,000
let b;
let page;
let task;
let run;

before(async () => {
  assert.ok(BASE, 'SMS_BASE_URL is set');
  const agent = await new Client(BASE).login(DOMAIN, 'agent-web', PASSWORD);
  const op = await new Client(BASE).login(DOMAIN, 'olivia', PASSWORD);
  const source = (await agent.call('POST', '/v3/sources', {
    name: 'files-01', hostname: 'files-01.example.internal', ip: '10.0.0.71', os_type: 'LINUX',
    os_version: 'Debian 12', agent_version: '0.3.0',
  })).body.id;
  task = (await op.call('POST', '/v3/tasks', {
    name: 'files-01 /srv', type: 'MIGRATE_FILE', os_type: 'LINUX', source_server: { id: source },
    target_server: { name: 'files-01-new', ip: '10.1.0.71', verify_uri: 'ssh://verify@files-01-new:22/' },
    is_need_consistency_check: true,
  })).body.id;
  const t = Date.UTC(2026, 10, 30, 8, 0, 0);
  const side = (salt) => ({ type: 'file', size: 100 + salt, mtime: t, mode: 0o644, uid: 0, gid: 0, hash: `${salt}`.padEnd(32, 'a') });
  const files = [];
  for (let i = 0; i < TOTAL - 3; i += 1) {
    const d = i % 3 === 0 ? '/srv/b' : '/srv/a';
    files.push(i % 5 === 0
      ? { dir_check: d, path: `miss/f-${String(i).padStart(5, '0')}`, status: 'target_miss', source: side(1) }
      : { dir_check: d, path: `diff/f-${String(i).padStart(5, '0')}`, status: 'different', reason: 'content', source: side(1), target: side(2) });
  }
  files.push({ dir_check: '/srv/a', path: '=HYPERLINK("http://x","y")', status: 'different', reason: 'content', source: side(1), target: side(2) });
  files.push({ dir_check: '/srv/a', path: 'line\nbreak, "quoted"', status: 'different', reason: 'content', source: side(1), target: side(2) });
  files.push({
    dir_check: '/srv/a', path: 'bad-\\xFF', path_b64: Buffer.from([0x62, 0x61, 0x64, 0x2d, 0xff]).toString('base64'),
    status: 'target_miss', source: side(1),
  });
  const a = files.filter((f) => f.dir_check === '/srv/a');
  const count = (list, s) => list.filter((f) => f.status === s).length;
  const bDir = files.filter((f) => f.dir_check === '/srv/b');
  const now = Date.now();
  run = await uploadRun(agent, task, {
    check_result: 'success', started_time: now - 60000, finished_time: now, mode: 'hash',
    consistency_result: [dir('/srv/a', 9000, count(a, 'different'), count(a, 'target_miss')),
      dir('/srv/b', 9000, count(bDir, 'different'), count(bDir, 'target_miss'))],
  }, files);
  b = await openBrowser();
  page = b.page;
  await b.signIn('victor'); // a viewer may read and download
});

after(async () => {
  if (b) {
    await b.shot('files-zz-last-page').catch(() => {});
    await b.browser.close();
  }
});

async function downloadFiles(format) {
  await page.locator('#files-format').selectOption(format);
  const [download] = await Promise.all([
    page.waitForEvent('download', { timeout: 60000 }),
    page.locator('#files-export').click(),
  ]);
  return { name: download.suggestedFilename(), text: fs.readFileSync(await download.path(), 'utf8') };
}

// RFC 4180 rows (quoted fields may hold commas, quotes and line breaks).
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i += 1; } else if (c === '"') quoted = false; else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(field); field = ''; } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field); rows.push(row); row = []; field = ''; i += 1;
    } else field += c;
  }
  return rows;
}

test('every differing file of the run downloads as CSV: complete, formula-safe, named by the task', async () => {
  await page.goto(`${BASE}/console/#/tasks/${task}/runs/${run}`);
  await page.locator('#files-table').waitFor();
  const { name, text } = await downloadFiles('csv');
  assert.match(name, /^consistency-files-files-01-srv-\d{4}-\d{2}-\d{2}-\d{4}\.csv$/);
  assert.ok(text.startsWith('\uFEFF'), 'a UTF-8 byte-order mark for spreadsheets');
  const rows = parseCsv(text.slice(1));
  assert.deepEqual(rows[0].slice(0, 6), ['dir_check', 'path', 'path_b64', 'status', 'reason', 'first_seen_time']);
  assert.equal(rows.length - 1, TOTAL, 'every file, once');
  assert.equal(new Set(rows.slice(1).map((r) => `${r[0]}|${r[1]}`)).size, TOTAL);
  const byPath = Object.fromEntries(rows.slice(1).map((r) => [r[1], r]));
  assert.ok(byPath['\'=HYPERLINK("http://x","y")'], 'a formula is neutralised');
  assert.ok(!rows.slice(1).some((r) => r.some((cell) => /^[=+\-@]/.test(cell))), 'no cell starts a formula');
  assert.ok(byPath['line\nbreak, "quoted"'], 'line breaks, commas and quotes survive');
  const bad = byPath['bad-\\xFF'];
  assert.equal(bad[2], Buffer.from([0x62, 0x61, 0x64, 0x2d, 0xff]).toString('base64'));
  assert.equal(bad[3], 'target_miss');
  assert.equal(byPath['diff/f-00001'][8], '2026-11-30T08:00:00.000Z');
  assert.equal(byPath['diff/f-00001'][9], '0644');
  assert.match(await page.locator('#files-export-status').textContent(), /^2,345 files saved as consistency-files-/);
});

test('the directory and status chosen narrow the download, as JSON too', async () => {
  await page.locator('#details-dir').selectOption('/srv/b');
  await page.waitForFunction(() => location.hash.includes('dir='));
  await page.locator('#details-status').selectOption('target_miss');
  await page.waitForFunction(() => location.hash.includes('status='));
  await page.locator('#files-table').waitFor();
  const { name, text } = await downloadFiles('json');
  assert.match(name, /^consistency-files-files-01-srv-srv-b-target_miss-\d{4}-\d{2}-\d{2}-\d{4}\.json$/);
  const body = JSON.parse(text);
  assert.equal(body.run_id, run);
  assert.equal(body.dir_check, '/srv/b');
  assert.equal(body.status, 'target_miss');
  const expected = Array.from({ length: TOTAL - 3 }, (_, i) => i).filter((i) => i % 3 === 0 && i % 5 === 0).length;
  assert.equal(body.count, expected);
  assert.equal(body.files.length, expected);
  assert.ok(body.files.every((f) => f.dir_check === '/srv/b' && f.status === 'target_miss'));
});

test('a page that fails stops the download with how far it got; too many files are refused first', async () => {
  await page.goto(`${BASE}/console/#/tasks/${task}/runs/${run}`);
  await page.locator('#files-table').waitFor();
  let pages = 0;
  await page.route('**/consistency-result/details?*limit=1000*', (route) => {
    pages += 1;
    if (pages === 2) {
      return route.fulfill({
        status: 503, contentType: 'application/json',
        body: JSON.stringify({ error_code: 'SMS.2008', error_msg: 'storage unavailable' }),
      });
    }
    return route.continue();
  });
  await page.locator('#files-export').click();
  const msg = page.locator('#files-export-message [role=alert]');
  await msg.waitFor();
  assert.equal(await msg.textContent(),
    'Download stopped after 1,000 files: storage unavailable (SMS.2008) Nothing was saved.');
  await page.unroute('**/consistency-result/details?*limit=1000*');

  // More than one download holds (the count as a server would send it).
  await page.route('**/consistency-result/details?*limit=1000*', async (route) => {
    const resp = await route.fetch();
    const body = await resp.json();
    await route.fulfill({ response: resp, json: { ...body, count: 2000000 } });
  });
  await page.locator('#files-export').click();
  await page.locator('#files-export-message [role=alert]', { hasText: 'Cannot download' }).waitFor();
  assert.equal(await msg.textContent(),
    'Cannot download: 2,000,000 files are more than one download holds (1,000,000): choose a directory or a status first.');
  await page.unroute('**/consistency-result/details?*limit=1000*');
});

test('no page threw or logged a script error', () => {
  assert.deepEqual(b.problems.filter((p) => !/Failed to load resource/.test(p)), []);
});
