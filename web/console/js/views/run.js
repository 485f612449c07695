// One run: per-directory counters as a chart (worst first), and a drill-down
// that pages through the files that are not equal (marker paging).
import { h, field, replace } from '../dom.js';
import { api, runsWith } from '../api.js';
import {
  num, bytes, dateTime, dateTimeMs, duration, mode, shortHash, issueCount, runTotals, runVerdict,
  scopeLabel, filesExportName, ISSUE_KEYS, STATUS_LABEL,
} from '../format.js';
import {
  collectFiles, filesCsv, filesJson, FILES_PAGE,
} from '../file_export.js';
import {
  pageHeader, panel, verdictBadge, loading, emptyState, errorBox, markerPaging, pathHeader, toast,
  visibleName,
} from '../ui.js';
import { dirBar, segmentLegend } from '../charts.js';

const SHORT = {
  different: 'Different',
  target_miss: 'Missing',
  target_more: 'Extra',
  changed: 'Changed',
  error: 'Errors',
  metadata_different: 'Metadata',
  corrupt: 'Corrupt',
};

// mtime as sent by the agent: epoch ms (API.md §0); tolerate s and ns.
function mtimeMs(v) {
  if (v === undefined || v === null) return 0;
  if (v > 1e14) return Math.round(v / 1e6);
  if (v < 1e11) return v * 1000;
  return v;
}

// One side of a file (source or target) in one cell: size, mtime and mode on
// the first line, the digest below; what differs from the other side is marked.
function sideCell(side, other) {
  if (!side) return h('td', { class: 'side muted' }, 'absent');
  const diff = (k) => (other && other[k] !== undefined && other[k] !== side[k] ? 'diff' : '');
  // Two mtimes that differ by less than a second would read the same: then
  // both show their milliseconds.
  const sub = diff('mtime') && dateTime(mtimeMs(side.mtime)) === dateTime(mtimeMs(other.mtime));
  const when = sub ? dateTimeMs(mtimeMs(side.mtime)) : dateTime(mtimeMs(side.mtime));
  const size = side.type && side.type !== 'file'
    ? h('span', { class: diff('type') }, side.type)
    : h('span', { class: diff('size'), title: side.size !== undefined ? `${num(side.size)} bytes` : undefined }, bytes(side.size));
  return h('td', { class: 'side' },
    h('div', { class: 'side-meta' },
      size,
      h('span', { class: `nowrap ${diff('mtime')}` }, when),
      side.mode !== undefined ? h('span', { class: `mono ${diff('mode')}` }, mode(side.mode)) : null),
    side.hash ? h('div', { class: `mono digest ${diff('hash')}`, title: side.hash }, shortHash(side.hash)) : null);
}

function download(text, type, name) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// "Download these files": every file of the list as chosen (directory,
// status), read page by page (views: file_export.js), as CSV or JSON.
function filesExport(taskId, taskName, run, state) {
  const format = h('select', { name: 'files-format', id: 'files-format' },
    h('option', { value: 'csv' }, 'CSV'), h('option', { value: 'json' }, 'JSON'));
  const button = h('button', { type: 'button', class: 'btn', id: 'files-export' }, 'Download these files');
  const progress = h('span', { class: 'muted small', id: 'files-export-status', 'aria-live': 'polite' });
  const message = h('div', { id: 'files-export-message' });
  let running = false;
  let cancel = false;
  const done = () => {
    running = false;
    button.textContent = 'Download these files';
  };
  button.addEventListener('click', async () => {
    if (running) {
      cancel = true;
      return;
    }
    running = true;
    cancel = false;
    button.textContent = 'Cancel download';
    message.replaceChildren();
    progress.textContent = 'Reading files…';
    let result;
    try {
      result = await collectFiles((marker) => api.details(taskId, {
        run_id: run.run_id, dir_check: state.dir, status: state.status, limit: FILES_PAGE, marker,
      }), {
        onProgress: (read, count) => { progress.textContent = `Reading files: ${num(read)} of ${num(count)}…`; },
        cancelled: () => cancel,
      });
    } catch (err) {
      done();
      progress.textContent = '';
      message.replaceChildren(h('div', { class: 'alert alert-error', role: 'alert' },
        h('strong', {}, err.read ? `Download stopped after ${num(err.read)} files: ` : 'Cannot download: '),
        err.message, err.code ? ` (${err.code})` : '', err.read ? ' Nothing was saved.' : ''));
      return;
    }
    done();
    if (!result) {
      progress.textContent = 'Download cancelled: nothing was saved.';
      return;
    }
    const ext = format.value;
    const name = filesExportName(taskName, { dir: state.dir, status: state.status, ext });
    if (ext === 'json') {
      download(filesJson({
        task_id: taskId, run_id: run.run_id, dir_check: state.dir || null, status: state.status || null,
      }, result.files), 'application/json', name);
    } else {
      download(filesCsv(result.files), 'text/csv;charset=utf-8', name);
    }
    progress.textContent = `${num(result.files.length)} files saved as ${name}.`;
    toast(`Saved ${name}.`, 'ok');
    if (result.files.length !== result.count) {
      message.replaceChildren(h('div', { class: 'alert alert-error', role: 'alert' },
        `The server counted ${num(result.count)} files but listed ${num(result.files.length)}: `
        + 'the run\'s details changed while they were read (retention?). Download again to be sure.'));
    }
  });
  return h('div', { class: 'export-bar', role: 'group', 'aria-label': 'Download the files listed' },
    field('File format', format), button, progress, message);
}

function detailsView(taskId, taskName, run, state, onState) {
  const dirs = (run.consistency_result || []).map((d) => d.dir_check);
  const dirSel = h('select', { name: 'dir_check', id: 'details-dir' },
    h('option', { value: '' }, 'All directories'),
    dirs.map((d) => h('option', { value: d, selected: d === state.dir }, d)));
  const statusSel = h('select', { name: 'status', id: 'details-status' },
    h('option', { value: '' }, 'Any status'),
    ISSUE_KEYS.map(([, s, l]) => h('option', { value: s, selected: s === state.status }, l)));
  const sizeSel = h('select', { name: 'limit', id: 'details-limit' },
    [25, 50, 100, 500].map((n) => h('option', { value: n, selected: n === state.limit }, `${n} per page`)));
  const change = () => onState({ dir: dirSel.value, status: statusSel.value, limit: Number(sizeSel.value) });
  for (const s of [dirSel, statusSel, sizeSel]) s.addEventListener('change', change);

  const results = h('div', { id: 'details-results' }, loading('Loading files'));
  const paging = markerPaging({
    id: 'details', label: 'files', limit: state.limit,
    range: (first, last, page) => `${num(first)}–${num(last)} of ${num(page.count)} files`,
  }, load);

  async function load(marker) {
    results.replaceChildren(loading('Loading files'));
    let page;
    try {
      page = await api.details(taskId, {
        run_id: run.run_id, dir_check: state.dir, status: state.status,
        limit: state.limit, marker,
      });
    } catch (err) {
      results.replaceChildren(errorBox(err));
      return;
    }
    const files = page.files || [];
    const pager = paging.pager(page, files.length);
    if (files.length === 0) {
      let why = 'No file details for this selection (the agent may not have uploaded details for this run).';
      if (run.check_result === 'failed') why = 'The run failed: it listed no file.';
      else if (issueCount(runTotals(run)) === 0) why = 'Every file matched: nothing to list.';
      results.replaceChildren(emptyState(why));
      return;
    }
    const showDir = !state.dir && dirs.length > 1;
    results.replaceChildren(
      h('div', { class: 'table-wrap' }, h('table', { class: 'table table-files', id: 'files-table' },
        h('caption', { class: 'sr-only' }, 'Files that are not equal'),
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col' }, 'Path'),
          h('th', { scope: 'col' }, 'Status'),
          h('th', { scope: 'col' }, 'Reason'),
          h('th', { scope: 'col', title: 'size · modified · mode, digest' }, 'On the source'),
          h('th', { scope: 'col', title: 'size · modified · mode, digest' }, 'On the target'))),
        h('tbody', {}, files.map((f) => h('tr', {},
          pathHeader(f, showDir),
          h('td', {}, h('span', { class: `badge badge-file-${f.status}` }, STATUS_LABEL[f.status] || f.status)),
          h('td', {}, f.reason || '–'),
          sideCell(f.source, f.target),
          sideCell(f.target, f.source)))))),
      pager);
  }
  paging.start();

  return h('div', {},
    h('form', { class: 'filters', 'aria-label': 'Filter files', onsubmit: (e) => e.preventDefault() },
      field('Directory', dirSel), field('Status', statusSel), field('Page size', sizeSel)),
    run.check_result === 'success' ? filesExport(taskId, taskName, run, state) : null,
    results);
}

// Links to what changed since the run before (views/changes.js); a re-check
// of the inconsistent files also links to what it resolved.
function changesLinks(taskId, run) {
  if (run.check_result !== 'success') return [];
  const href = `#/tasks/${taskId}/runs/${run.run_id}/changes`;
  if (run.scope === 'inconsistent') {
    return [
      h('a', { class: 'btn', href: `${href}?change=resolved`, id: 'run-resolved' }, 'Resolved differences'),
      h('a', { class: 'btn', href: `${href}?change=all`, id: 'run-changes' }, 'Every change since the re-checked run'),
    ];
  }
  return [h('a', { class: 'btn', href, id: 'run-changes' }, 'Changes since previous run')];
}

// A re-check names the run whose differences it checked again (issue 12.5):
// a link to it, by its time when it is among the runs read.
function baseRunFact(taskId, run, runs) {
  if (!run.base_run_id) return null;
  const base = runs.find((r) => r.run_id === run.base_run_id);
  return h('div', {}, h('dt', {}, 'Re-checked run'), h('dd', { id: 'run-base' },
    h('a', { href: `#/tasks/${taskId}/runs/${run.base_run_id}`, class: base ? '' : 'mono small' },
      base ? `Run of ${dateTime(base.finished_time)}` : run.base_run_id)));
}

export async function renderRun(main, ctx, taskId, runId, query) {
  main.append(loading('Loading run'));
  const [task, runs] = await Promise.all([api.showTask(taskId), runsWith(taskId, runId)]);
  if (!ctx.alive()) return;
  const run = runs.find((r) => r.run_id === runId);

  const state = {
    dir: query.dir || '', status: query.status || '', limit: Number(query.limit) || 50,
  };
  const setState = (next) => ctx.go(`/tasks/${taskId}/runs/${runId}`, {
    dir: next.dir, status: next.status, limit: next.limit === 50 ? '' : next.limit,
  }, { replace: true });
  const focusDetails = () => setTimeout(() => {
    const el = document.getElementById('details');
    if (el) el.scrollIntoView({ block: 'start' });
  }, 0);

  const dirsSorted = [...(run.consistency_result || [])]
    .sort((a, b) => issueCount(b) - issueCount(a) || a.dir_check.localeCompare(b.dir_check));
  const max = Math.max(1, ...dirsSorted.map(issueCount));
  const t = runTotals(run);

  const counterCell = (d, key, status) => {
    const v = d[key] || 0;
    if (!v) return h('td', { class: 'num muted' }, '0');
    return h('td', { class: 'num' }, h('a', {
      href: `#/tasks/${taskId}/runs/${runId}?${new URLSearchParams({ dir: d.dir_check, status })}`,
      class: `count count-${status}`,
      'aria-label': `${num(v)} ${STATUS_LABEL[status]} in ${d.dir_check}`,
      onclick: focusDetails,
    }, num(v)));
  };

  // The directories, worst first; a column's header sorts by it (again:
  // the other way), as aria-sort says.
  const columns = [
    ['dir_check', 'Directory', 'Directory', (d) => d.dir_check],
    ['issues', 'Not equal', 'Files not equal', issueCount],
    ['num_total_files', 'Files', 'Files', (d) => d.num_total_files || 0],
    ...ISSUE_KEYS.map(([key, status, label]) => [key, SHORT[status], label, (d) => d[key] || 0]),
  ];
  let sortBy = 'issues';
  let descending = true;
  const tbody = h('tbody', {});
  const headRow = h('tr', {});
  const drawDirs = () => {
    const [, , , value] = columns.find((c) => c[0] === sortBy);
    const rows = [...dirsSorted].sort((a, b) => {
      const x = value(a);
      const y = value(b);
      const c = typeof x === 'string' ? x.localeCompare(y) : x - y;
      return (descending ? -c : c) || a.dir_check.localeCompare(b.dir_check);
    });
    tbody.replaceChildren(...rows.map((d) => h('tr', { class: d.dir_check === state.dir ? 'current' : '' },
      h('th', { scope: 'row', class: 'mono' }, h('a', {
        href: `#/tasks/${taskId}/runs/${runId}?${new URLSearchParams({ dir: d.dir_check })}`, onclick: focusDetails,
      }, visibleName(d.dir_check))),
      h('td', { class: 'barcol' }, h('div', { class: 'barcell' }, dirBar(d, max), h('span', { class: 'barnum' }, num(issueCount(d))))),
      h('td', { class: 'num' }, num(d.num_total_files)),
      ISSUE_KEYS.map(([key, status]) => counterCell(d, key, status)))));
    headRow.replaceChildren(...columns.map(([key, short, label]) => {
      const sorted = key === sortBy;
      const cls = key === 'dir_check' ? '' : key === 'issues' ? 'barcol' : 'num';
      return h('th', {
        scope: 'col', class: cls, title: label,
        'aria-sort': sorted ? (descending ? 'descending' : 'ascending') : undefined,
      }, h('button', {
        type: 'button', class: 'sort', dataset: { sort: key },
        'aria-label': `${label}: sort by it`,
        onclick: () => {
          descending = key === sortBy ? !descending : key !== 'dir_check';
          sortBy = key;
          drawDirs();
          const again = headRow.querySelector(`button[data-sort="${key}"]`);
          if (again) again.focus();
        },
      }, short, sorted ? h('span', { class: 'sort-mark', 'aria-hidden': 'true' }, descending ? ' ▼' : ' ▲') : null));
    }));
  };
  drawDirs();
  const dirTable = h('div', { class: 'table-wrap' }, h('table', { class: 'table table-dirs', id: 'dirs-table' },
    h('caption', { class: 'sr-only' }, 'Directories of this run, most files not equal first; a column header sorts by it'),
    h('thead', {}, headRow),
    tbody));

  // A failed run's counters are partial (often none): no green "0".
  const failed = run.check_result === 'failed';
  const stat = (label, value, cls = '') => h('div', { class: `stat ${failed ? '' : cls}` },
    h('div', { class: 'stat-value' }, value), h('div', { class: 'stat-label' }, label));
  const recheck = run.scope === 'inconsistent';

  replace(main, 
    pageHeader(`Run of ${dateTime(run.finished_time)}`, {
      crumbs: [['Tasks', '#/tasks'], [task.name, `#/tasks/${taskId}`], ['Run']],
      actions: [verdictBadge(runVerdict(run)), ...changesLinks(taskId, run)],
    }),
    h('dl', { class: 'facts' },
      h('div', {}, h('dt', {}, 'Started'), h('dd', {}, dateTime(run.started_time))),
      h('div', {}, h('dt', {}, 'Duration'), h('dd', {}, duration(run.started_time, run.finished_time))),
      h('div', {}, h('dt', {}, 'Mode'), h('dd', {}, [run.mode, run.hash_algorithm].filter(Boolean).join(' · ') || '–')),
      h('div', {}, h('dt', {}, 'Scope'), h('dd', { id: 'run-scope' }, scopeLabel(run))),
      baseRunFact(taskId, run, runs),
      h('div', {}, h('dt', {}, 'Run id'), h('dd', { class: 'mono small' }, run.run_id))),
    failed ? h('div', { class: 'alert alert-error', role: 'alert', id: 'run-failed' },
      h('strong', {}, 'This run failed'), run.error_msg ? `: ${run.error_msg}` : '.',
      h('div', { class: 'small' }, dirsSorted.length
        ? 'Its counters cover only what it checked before it stopped: they are no verdict.'
        : 'It stopped before it checked any directory: it says nothing about the copy.'))
      : run.error_msg ? h('div', { class: 'alert alert-error', role: 'alert' }, run.error_msg) : null,
    h('div', { class: 'stats stats-wide' },
      stat(recheck ? 'Files checked again' : 'Files on source', num(t.num_total_files)),
      stat('Different', num(t.num_different_files), t.num_different_files ? 'bad' : 'good'),
      stat('Missing on target', num(t.num_target_miss_files), t.num_target_miss_files ? 'bad' : 'good'),
      stat('Extra on target', num(t.num_target_more_files), t.num_target_more_files ? 'warn' : 'good'),
      stat('Changed during check', num(t.num_changed_files), t.num_changed_files ? 'warn' : 'good'),
      stat('Errors', num(t.num_error_files), t.num_error_files ? 'bad' : 'good'),
      stat('Corrupt', num(t.num_corrupt_files), t.num_corrupt_files ? 'bad' : 'good'),
      stat('Bytes verified', bytes(t.num_bytes_verified)),
      stat('Files from the hash cache', num(t.num_cached_files)),
      stat('Bytes read', bytes(t.num_bytes_read)),
      stat('Target files from its cache', num(t.num_target_cached_files)),
      stat('Target bytes read', bytes(t.num_target_bytes_read))),
    panel(`Directories (${dirsSorted.length})`, dirsSorted.length
      ? h('div', {}, segmentLegend(), dirTable)
      : emptyState(failed ? 'The run failed before it checked any directory.' : 'This run checked no directory.'),
    { id: 'directories' }),
    panel('Files not equal', detailsView(taskId, task.name, run, state, setState), { id: 'details' }));
  if (query.dir || query.status) focusDetails();
  else main.querySelector('h1').focus();
}
