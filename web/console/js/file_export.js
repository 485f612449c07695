// A run's differing files as a file (views/run.js): the console pages through
// GET .../consistency-result/details (1,000 a page, the API's maximum) with
// the directory and status chosen, and writes CSV or JSON. The server's
// export (POST .../export) has one row per directory, not per file.
import { isoUtc } from './format.js';

export const FILES_PAGE = 1000;
// At most this many files in one download: about 250 MB of CSV in the tab.
export const FILES_EXPORT_MAX = 1000000;

const COLUMNS = ['dir_check', 'path', 'path_b64', 'status', 'reason', 'first_seen_time',
  'source_type', 'source_size', 'source_mtime', 'source_mode', 'source_hash',
  'target_type', 'target_size', 'target_mtime', 'target_mode', 'target_hash'];

function mode(m) {
  return m === undefined || m === null ? '' : `0${(m & 0o7777).toString(8).padStart(3, '0')}`;
}

// One file as the CSV's columns (times in ISO-8601 UTC, modes in octal).
export function fileRow(f) {
  const side = (s) => (s
    ? [s.type, s.size, s.mtime ? isoUtc(s.mtime) : '', mode(s.mode), s.hash]
    : ['', '', '', '', '']);
  return [f.dir_check, f.path, f.path_b64 || '', f.status, f.reason || '',
    f.first_seen_time ? isoUtc(f.first_seen_time) : '', ...side(f.source), ...side(f.target)];
}

// An RFC 4180 field, neutralised as the server's export is: a cell that a
// spreadsheet would read as a formula (= + - @, tab, CR first) gets a
// leading apostrophe.
export function csvField(value) {
  let s = value === undefined || value === null ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) || /^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

// The CSV text of `files`, a UTF-8 byte-order mark first (so a spreadsheet
// reads the names as UTF-8), CRLF line ends.
export function filesCsv(files) {
  const lines = [COLUMNS.join(',')];
  for (const f of files) lines.push(fileRow(f).map(csvField).join(','));
  return `\uFEFF${lines.join('\r\n')}\r\n`;
}

// {task_id, run_id, dir_check, status, count, files} as JSON.
export function filesJson(meta, files) {
  return JSON.stringify({ ...meta, count: files.length, files });
}

// Reads every page: fetchPage(marker) -> {count, files, next_marker}.
// onProgress(read, count) after each page; stops when cancelled() is true
// (-> null). A page that fails throws, naming how far it got.
export async function collectFiles(fetchPage, { onProgress = () => {}, cancelled = () => false } = {}) {
  const files = [];
  let marker = '';
  let count = 0;
  for (;;) {
    let page;
    try {
      page = await fetchPage(marker);
    } catch (err) {
      err.read = files.length;
      throw err;
    }
    if (cancelled()) return null;
    if (files.length === 0) {
      count = page.count || 0;
      if (count > FILES_EXPORT_MAX) {
        const err = new Error(`${count.toLocaleString('en-US')} files are more than one download holds `
          + `(${FILES_EXPORT_MAX.toLocaleString('en-US')}): choose a directory or a status first.`);
        err.read = 0;
        throw err;
      }
    }
    for (const f of page.files || []) files.push(f);
    onProgress(files.length, count);
    if (!page.next_marker || !(page.files || []).length) break;
    marker = page.next_marker;
  }
  return { files, count };
}
