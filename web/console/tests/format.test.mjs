// The console's pure helpers (no browser needed): verdicts and counters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bytes, issueCount, runTotals, runVerdict, mode, duration, num, scopeLabel, span,
  pathSegments, hasHiddenChars, shellBytes, copyablePath, exportFileName, dateTime, dateTimeMs,
} from '../js/format.js';

const dir = (over) => ({
  dir_check: '/d', num_total_files: 10, num_different_files: 0, num_target_miss_files: 0,
  num_target_more_files: 0, ...over,
});

test('a run is consistent only when it succeeded with nothing unequal', () => {
  assert.equal(runVerdict(null), 'none');
  assert.equal(runVerdict({ check_result: 'failed', consistency_result: [] }), 'failed');
  assert.equal(runVerdict({ check_result: 'success', consistency_result: [dir()] }), 'consistent');
  assert.equal(runVerdict({ check_result: 'success', consistency_result: [dir({ num_target_more_files: 1 })] }), 'differences');
  // the server's own verdict wins when present
  assert.equal(runVerdict({ check_result: 'success', consistent: false, consistency_result: [dir()] }), 'differences');
  // our extension counters count too
  assert.equal(runVerdict({ check_result: 'success', consistency_result: [dir({ num_error_files: 2 })] }), 'differences');
});

test('totals add every directory; issues leave out the total', () => {
  const run = { consistency_result: [dir({ num_different_files: 2 }), dir({ num_target_miss_files: 3, num_changed_files: 1 })] };
  const t = runTotals(run);
  assert.equal(t.num_total_files, 20);
  assert.equal(t.num_different_files, 2);
  assert.equal(issueCount(t), 6);
});

test('numbers, sizes, modes and durations read well', () => {
  assert.equal(num(1234567), '1,234,567');
  assert.equal(num(undefined), '–');
  assert.equal(bytes(512), '512 B');
  assert.equal(bytes(1536), '1.50 KiB');
  assert.equal(bytes(5 * 1024 ** 3), '5.00 GiB');
  assert.equal(mode(0o100644), '0644');
  assert.equal(duration(0, 1000), '–');
  assert.equal(duration(1000, 126000), '2 min 5 s');
});

test('corrupt files are issues; cache savings are totals, not issues', () => {
  const run = {
    check_result: 'success',
    consistency_result: [
      dir({ num_cached_files: 7, num_bytes_read: 100 }),
      dir({ num_corrupt_files: 1, num_cached_files: 2, num_bytes_read: 50 }),
    ],
  };
  const t = runTotals(run);
  assert.equal(t.num_corrupt_files, 1);
  assert.equal(t.num_cached_files, 9);
  assert.equal(t.num_bytes_read, 150);
  assert.equal(issueCount(t), 1);
  assert.equal(runVerdict(run), 'differences');
  assert.equal(scopeLabel(run), 'Full');
  assert.equal(scopeLabel({ scope: 'inconsistent' }), 'Inconsistent files only');
});

test('the age of a difference is given in its largest unit', () => {
  const t = 1_800_000_000_000;
  assert.equal(span(t, t), '0 s');
  assert.equal(span(t, t + 59_000), '59 s');
  assert.equal(span(t, t + 61 * 60_000), '1 h');
  assert.equal(span(t, t + 47 * 3600_000), '1 d');
  assert.equal(span(t + 5, t), '0 s', 'never negative');
  assert.equal(span(0, t), '–');
});

test('a name shows each character that does not show as an escape, and nothing else changes', () => {
  assert.deepEqual(pathSegments('plain name.txt'), [{ text: 'plain name.txt' }]);
  assert.deepEqual(pathSegments(''), [{ text: '' }]);
  assert.deepEqual(pathSegments('a\nb\tc'), [
    { text: 'a' }, { hidden: '\\n', code: 'U+000A' }, { text: 'b' }, { hidden: '\\t', code: 'U+0009' }, { text: 'c' }]);
  assert.deepEqual(pathSegments('x\u202Egnp.exe'), [
    { text: 'x' }, { hidden: '\\u202E', code: 'U+202E' }, { text: 'gnp.exe' }]);
  assert.deepEqual(pathSegments('\u0000\u007f\u0085\u200b\u2066\ufeff').map((s) => s.code),
    ['U+0000', 'U+007F', 'U+0085', 'U+200B', 'U+2066', 'U+FEFF']);
  // what shows as itself stays: markup, spaces, CJK, emoji (with its joiner)
  for (const name of ['<b>x</b>', ' two  spaces ', '文件.txt', '👩\u200d💻.txt', 'bad-\\xFF']) {
    assert.deepEqual(pathSegments(name), [{ text: name }]);
    assert.equal(hasHiddenChars(name), false);
  }
  assert.equal(hasHiddenChars('a\rb'), true);
});

test('copy gives the exact path, or a name that is not UTF-8 as its bytes in a bash $\'...\' word', () => {
  assert.equal(copyablePath({ dir_check: '/srv/data', path: 'a b/c.txt' }), '/srv/data/a b/c.txt');
  assert.equal(copyablePath({ dir_check: '/', path: 'etc/x' }), '/etc/x');
  assert.equal(copyablePath({ dir_check: '/h', path: 'bad-\\xFF', path_b64: Buffer.from([0x62, 0xff, 0x27, 0x5c, 0x0a]).toString('base64') }),
    "$'/h/b\\xff\\'\\\\\\x0a'");
  assert.equal(shellBytes([...Buffer.from('é', 'utf8')]), "$'\\xc3\\xa9'");
});

test('an export is named by what it holds and when, in safe characters', () => {
  const now = new Date(2026, 11, 3, 18, 51, 7);
  assert.equal(exportFileName(['web-01 /srv'], { ext: 'csv', now }), 'consistency-web-01-srv-2026-12-03-1851.csv');
  assert.equal(exportFileName(['<b>x</b> & "y"/..'], { ext: 'json', now }), 'consistency-b-x-b-y-2026-12-03-1851.json');
  assert.equal(exportFileName(['a', 'b', 'c'], { ext: 'xlsx', allRuns: true, now }), 'consistency-3-tasks-all-runs-2026-12-03-1851.xlsx');
  assert.equal(exportFileName(['文件'], { ext: 'csv', now }), 'consistency-task-2026-12-03-1851.csv');
  assert.ok(exportFileName(['x'.repeat(300)], { ext: 'csv', now }).length < 100);
});

test('milliseconds show when asked, after the same seconds', () => {
  const t = new Date(2026, 10, 30, 8, 0, 5, 7).getTime();
  assert.equal(dateTimeMs(t), `${dateTime(t)}.007`);
  assert.equal(dateTimeMs(0), '–');
});

test('a file list CSV quotes what needs it and neutralises formulas as the server\'s export does', async () => {
  const { csvField, fileRow, filesCsv } = await import('../js/file_export.js');
  const { filesExportName } = await import('../js/format.js');
  assert.equal(csvField('plain/path.txt'), 'plain/path.txt');
  assert.equal(csvField('=1+1'), "'=1+1");
  assert.equal(csvField('+x'), "'+x");
  assert.equal(csvField('-x'), "'-x");
  assert.equal(csvField('@x'), "'@x");
  assert.equal(csvField('\tx'), "'\tx");
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField('two\nlines'), '"two\nlines"');
  assert.equal(csvField(' spaced '), '" spaced "');
  assert.equal(csvField(undefined), '');
  assert.equal(csvField(0), '0');
  const row = fileRow({
    dir_check: '/d', path: 'p', status: 'target_miss', first_seen_time: Date.UTC(2026, 0, 2),
    source: { type: 'file', size: 5, mtime: Date.UTC(2026, 0, 1), mode: 0o100755, hash: 'h' },
  });
  assert.deepEqual(row, ['/d', 'p', '', 'target_miss', '', '2026-01-02T00:00:00.000Z',
    'file', 5, '2026-01-01T00:00:00.000Z', '0755', 'h', '', '', '', '', '']);
  const csv = filesCsv([]);
  assert.ok(csv.startsWith('\uFEFFdir_check,path,path_b64,status'));
  assert.ok(csv.endsWith('\r\n'));
  const now = new Date(2026, 11, 3, 18, 51);
  assert.equal(filesExportName('web-01 /srv', { dir: '/srv/data', status: 'different', ext: 'csv', now }),
    'consistency-files-web-01-srv-srv-data-different-2026-12-03-1851.csv');
  assert.equal(filesExportName('x', { ext: 'json', now }), 'consistency-files-x-2026-12-03-1851.json');
});

test('what changed since the previous full check of the same directories, from the counters', async () => {
  const { sinceLastRun } = await import('../js/format.js');
  const run = (id, over, extra = {}) => ({
    run_id: id, check_result: 'success', consistency_result: [dir({ dir_check: '/a', ...over })], ...extra,
  });
  const runs = [
    run('r4', { num_different_files: 54, num_target_miss_files: 45 }),
    run('r3', { num_different_files: 1 }, { scope: 'inconsistent' }), // a re-check: skipped
    { run_id: 'r2', check_result: 'failed', consistency_result: [] }, // failed: skipped
    { run_id: 'rx', check_result: 'success', consistency_result: [dir({ dir_check: '/other' })] }, // other dirs
    run('r1', { num_different_files: 60, num_target_miss_files: 30 }),
  ];
  const since = sinceLastRun(runs);
  assert.equal(since.from.run_id, 'r1');
  assert.deepEqual(since.changes, [
    ['num_different_files', 'Different', 60, 54],
    ['num_target_miss_files', 'Missing on target', 30, 45]]);
  assert.deepEqual(sinceLastRun([run('a', {}), run('b', {})]).changes, []);
  assert.equal(sinceLastRun([run('only', {})]), null);
  assert.equal(sinceLastRun([runs[1], runs[4]]), null, 'a re-check is compared on its own page');
  assert.equal(sinceLastRun([]), null);
});
