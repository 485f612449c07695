// The console's pure helpers (no browser needed): verdicts and counters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bytes, issueCount, runTotals, runVerdict, mode, duration, num, scopeLabel, span,
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
