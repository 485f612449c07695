// Formatting of times, sizes, counts and statuses for display.

const nf = new Intl.NumberFormat('en-US');

export function num(n) {
  return n === undefined || n === null ? '–' : nf.format(n);
}

export function bytes(n) {
  if (n === undefined || n === null) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = Number(n);
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

function pad(n) {
  return String(n).padStart(2, '0');
}

// Epoch milliseconds -> "2026-11-29 10:31:05" in the browser's time zone.
export function dateTime(ms) {
  if (!ms) return '–';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function isoUtc(ms) {
  return ms ? new Date(ms).toISOString() : '';
}

// "3 min ago", "2 h ago", "5 d ago"
export function ago(ms, now = Date.now()) {
  if (!ms) return 'never';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

// How long from fromMs to toMs, in its largest unit: "45 s", "12 min",
// "5 h", "3 d" (the age of a difference).
export function span(fromMs, toMs) {
  if (!fromMs || !toMs) return '–';
  const s = Math.max(0, Math.round((toMs - fromMs) / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} d`;
}

export function duration(fromMs, toMs) {
  if (!fromMs || !toMs || toMs < fromMs) return '–';
  const s = Math.round((toMs - fromMs) / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

// File mode bits -> "0644"
export function mode(m) {
  if (m === undefined || m === null) return '–';
  return `0${(m & 0o7777).toString(8).padStart(3, '0')}`;
}

export function shortHash(hash) {
  if (!hash) return '–';
  return hash.length > 16 ? `${hash.slice(0, 12)}…` : hash;
}

// Counters that mean "not equal": the four SMS counters minus total, plus ours.
export const ISSUE_KEYS = [
  ['num_different_files', 'different', 'Different'],
  ['num_target_miss_files', 'target_miss', 'Missing on target'],
  ['num_target_more_files', 'target_more', 'Extra on target'],
  ['num_changed_files', 'changed', 'Changed during check'],
  ['num_error_files', 'error', 'Errors'],
  ['num_metadata_different_files', 'metadata_different', 'Metadata differs'],
  // Issue 12: a re-read disagreed with a hash cache whose metadata matched.
  ['num_corrupt_files', 'corrupt', 'Corrupt (content changed, metadata did not)'],
];

// What the hash caches saved (issue 12): not issues, shown beside them.
export const CACHE_KEYS = ['num_cached_files', 'num_bytes_read',
  'num_target_cached_files', 'num_target_bytes_read'];

// "Full" or "Inconsistent files only" (a re-check of a previous run's
// differences).
export function scopeLabel(run) {
  return run && run.scope === 'inconsistent' ? 'Inconsistent files only' : 'Full';
}

export const STATUS_LABEL = Object.fromEntries(
  ISSUE_KEYS.map(([, status, label]) => [status, label]));

export function issueCount(dir) {
  return ISSUE_KEYS.reduce((sum, [key]) => sum + (dir[key] || 0), 0);
}

export function runTotals(run) {
  const t = { num_total_files: 0, num_bytes_verified: 0 };
  for (const [key] of ISSUE_KEYS) t[key] = 0;
  for (const key of CACHE_KEYS) t[key] = 0;
  for (const d of run.consistency_result || []) {
    for (const key of Object.keys(t)) t[key] += d[key] || 0;
  }
  return t;
}

// The verdict of a run at a glance: consistent | differences | failed.
export function runVerdict(run) {
  if (!run) return 'none';
  if (run.check_result === 'failed') return 'failed';
  if (run.consistent === true) return 'consistent';
  if (run.consistent === false) return 'differences';
  return issueCount(runTotals(run)) === 0 ? 'consistent' : 'differences';
}

export const VERDICT_LABEL = {
  consistent: 'Consistent',
  differences: 'Differences',
  failed: 'Failed',
  running: 'Running',
  none: 'No runs yet',
};

// What happened to a file between two runs (GET .../consistency-result/changes).
export const CHANGE_LABEL = {
  new: 'New',
  resolved: 'Resolved',
  persisting: 'Persisting',
};
