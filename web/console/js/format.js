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

// Epoch milliseconds -> "2026-11-29 10:31:05.123": for two times that differ
// by less than the second dateTime() shows.
export function dateTimeMs(ms) {
  if (!ms) return '–';
  return `${dateTime(ms)}.${String(new Date(ms).getMilliseconds()).padStart(3, '0')}`;
}

// Characters a file name may hold that would not show as themselves: C0 and
// C1 controls, DEL, and the invisible or direction-changing ones (a
// right-to-left override makes "x\u202Egnp.exe" read "xexe.png").
const HIDDEN = /[\u0000-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/u;
const HIDDEN_G = new RegExp(HIDDEN.source, 'gu');
const SHORT_ESCAPE = { '\n': '\\n', '\t': '\\t', '\r': '\\r' };

// A name split for display: [{text}, {hidden: '\\n', code: 'U+000A'}, ...],
// each hidden character as an escape, so what is shown is what is there.
export function pathSegments(text) {
  const out = [];
  let last = 0;
  for (const m of String(text).matchAll(HIDDEN_G)) {
    if (m.index > last) out.push({ text: text.slice(last, m.index) });
    const cp = m[0].codePointAt(0);
    const hex = cp.toString(16).toUpperCase().padStart(4, '0');
    out.push({ hidden: SHORT_ESCAPE[m[0]] || `\\u${hex}`, code: `U+${hex}` });
    last = m.index + m[0].length;
  }
  if (last < text.length || out.length === 0) out.push({ text: text.slice(last) });
  return out;
}

export function hasHiddenChars(text) {
  return HIDDEN.test(String(text));
}

// The bytes of a name as a bash $'...' word: what to paste into a shell for
// a name that is not valid UTF-8 (the clipboard holds text, not bytes).
export function shellBytes(bytes) {
  let s = "$'";
  for (const b of bytes) {
    if (b === 0x27 || b === 0x5c) s += `\\${String.fromCharCode(b)}`;
    else if (b >= 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return `${s}'`;
}

// What "copy path" puts on the clipboard for a FileDiff: dir_check/path as
// it is, or for a name that is not valid UTF-8 (path_b64) its exact bytes as
// a bash $'...' word.
export function copyablePath(f) {
  const dir = String(f.dir_check || '').replace(/\/?$/, '/');
  if (!f.path_b64) return `${dir}${f.path}`;
  const raw = atob(f.path_b64);
  const bytes = [...new TextEncoder().encode(dir)];
  for (let i = 0; i < raw.length; i += 1) bytes.push(raw.charCodeAt(i));
  return shellBytes(bytes);
}

// The name of an exported file: what, how much and when, in characters
// every file system takes ("consistency-web-01-srv-2026-12-03-1851.csv").
const safeName = (s) => String(s).normalize('NFKD').replace(/[^A-Za-z0-9._-]+/g, '-')
  .replace(/-+/g, '-').replace(/^[-.]+|[-.]+$/g, '').slice(0, 60);

function fileStamp(now) {
  const p = (n) => String(n).padStart(2, '0');
  return `${now.getFullYear()}-${p(now.getMonth() + 1)}-${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}`;
}

export function exportFileName(taskNames, { allRuns = false, ext, now = new Date() }) {
  const what = taskNames.length === 1 ? (safeName(taskNames[0]) || 'task') : `${taskNames.length}-tasks`;
  return `consistency-${what}${allRuns ? '-all-runs' : ''}-${fileStamp(now)}.${ext}`;
}

// The name of a run's file list: "consistency-files-web-01-srv-srv-data-different-2026-12-03-1851.csv"
// (the task, then the directory and status chosen, if any).
export function filesExportName(taskName, { dir = '', status = '', ext, now = new Date() }) {
  const parts = [safeName(taskName) || 'task', safeName(dir), safeName(status)].filter(Boolean);
  return `consistency-files-${parts.join('-')}-${fileStamp(now)}.${ext}`;
}

// What changed since the previous comparable run, from the runs' counters
// (newest first, as GET .../consistency-result lists them): the previous
// successful full check of the same directories, as the changes page
// compares by default. -> {from, changes: [[key, label, before, now]]} for
// the counters of difference that moved; null when `latest` is no
// successful full check or none came before it.
export function sinceLastRun(runs) {
  const latest = runs[0];
  const full = (r) => r && r.check_result === 'success' && r.scope !== 'inconsistent';
  if (!full(latest)) return null;
  const dirsOf = (r) => (r.consistency_result || []).map((d) => d.dir_check).sort().join('\n');
  const from = runs.slice(1).find((r) => full(r) && dirsOf(r) === dirsOf(latest));
  if (!from) return null;
  const a = runTotals(from);
  const b = runTotals(latest);
  const changes = ISSUE_KEYS.filter(([key]) => a[key] !== b[key])
    .map(([key, , label]) => [key, label, a[key], b[key]]);
  return { from, changes };
}
