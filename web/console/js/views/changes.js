// What changed between two runs of a task (issue 13.2, 13.6): the files that
// are newly not equal, no longer not equal (resolved) or still not equal
// (persisting), with how long each difference has lasted, and per directory
// how each counter moved. Reached from a run's page: "Changes since the
// previous run" (the server picks the previous full check of the same
// directories) and, for a re-check of the inconsistent files, "Resolved
// differences" (compared with the run it re-checked). Paged by marker, like
// the run's file details.
import { h, field, replace } from '../dom.js';
import { api, runsWith } from '../api.js';
import {
  num, dateTime, span, scopeLabel, runVerdict, CHANGE_LABEL, STATUS_LABEL,
} from '../format.js';
import {
  pageHeader, panel, loading, emptyState, errorBox, verdictBadge, markerPaging, pathHeader, visibleName,
} from '../ui.js';

// The counters of GET .../changes `directories`, as the run page names them.
const COUNTERS = [
  ['num_total_files', 'Files'],
  ['num_different_files', 'Different'],
  ['num_target_miss_files', 'Missing'],
  ['num_target_more_files', 'Extra'],
  ['num_changed_files', 'Changed'],
  ['num_error_files', 'Errors'],
  ['num_metadata_different_files', 'Metadata'],
  ['num_corrupt_files', 'Corrupt'],
];

// "+3" / "−12" / "0": a counter's change. For every counter but the total,
// fewer is better.
function delta(c, key) {
  if (!c) return h('td', { class: 'num muted' }, '–');
  const d = c.change || 0;
  const sign = d > 0 ? '+' : d < 0 ? '−' : '';
  const better = key === 'num_total_files' ? '' : (d < 0 ? 'good' : d > 0 ? 'bad' : '');
  return h('td', { class: 'num', title: `${num(c.from)} → ${num(c.to)}` },
    h('span', { class: 'nowrap' }, num(c.to)),
    h('span', { class: `delta ${d ? better : 'muted'}` }, d ? ` ${sign}${num(Math.abs(d))}` : ' ±0'));
}

function dirsTable(dirs) {
  if (!dirs.length) return emptyState('No directory in either run.');
  return h('div', { class: 'table-wrap' }, h('table', { class: 'table', id: 'changes-dirs' },
    h('caption', { class: 'sr-only' }, 'Each counter in the newer run, and its change since the older run'),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Directory'),
      COUNTERS.map(([, label]) => h('th', { scope: 'col', class: 'num' }, label)))),
    h('tbody', {}, dirs.map((d) => h('tr', {},
      h('th', { scope: 'row', class: 'mono' }, visibleName(d.dir_check),
        !d.in_from ? h('span', { class: 'tag', title: 'The older run did not check this directory.' }, 'not in older run') : null,
        !d.in_to ? h('span', { class: 'tag', title: 'The newer run did not check this directory.' }, 'not in newer run') : null),
      COUNTERS.map(([key]) => delta(d[key], key)))))));
}

// The age of a difference: how long it had lasted at the newer run (for a
// resolved one: how long it lasted before it was resolved).
function ageCell(f, toTime) {
  if (!f.first_seen_time) return h('td', { class: 'muted' }, '–');
  const first = dateTime(f.first_seen_time);
  if (f.change === 'new') {
    return h('td', { class: 'nowrap', title: `first found by the run of ${first}` }, 'new in this run');
  }
  return h('td', { class: 'nowrap', title: `first found by the run of ${first}` },
    h('span', { class: 'age' }, span(f.first_seen_time, toTime)),
    h('span', { class: 'muted small' }, ` since ${first}`));
}

function statusCell(f) {
  const badge = (s) => h('span', { class: `badge badge-file-${s}` }, STATUS_LABEL[s] || s);
  if (f.change === 'resolved') {
    return h('td', {}, h('span', { class: 'muted' }, 'was '), badge(f.previous_status));
  }
  if (f.change === 'persisting' && f.previous_status && f.previous_status !== f.status) {
    return h('td', {}, badge(f.status), h('span', { class: 'muted small' }, ` (was ${STATUS_LABEL[f.previous_status] || f.previous_status})`));
  }
  return h('td', {}, badge(f.status), f.reason ? h('span', { class: 'muted small' }, ` ${f.reason}`) : null);
}

function filesView(taskId, runId, state, dirs, { onState, onPage, onError, fromSel }) {
  const changeSel = h('select', { name: 'change', id: 'changes-change' },
    h('option', { value: '' }, 'Every change'),
    Object.entries(CHANGE_LABEL).map(([v, l]) => h('option', { value: v, selected: v === state.change }, l)));
  const dirSel = h('select', { name: 'dir_check', id: 'changes-dir' },
    h('option', { value: '' }, 'All directories'),
    dirs.map((d) => h('option', { value: d, selected: d === state.dir }, d)));
  const sizeSel = h('select', { name: 'limit', id: 'changes-limit' },
    [25, 50, 100, 500].map((n) => h('option', { value: n, selected: n === state.limit }, `${n} per page`)));
  const change = () => onState({ ...state, change: changeSel.value, dir: dirSel.value, limit: Number(sizeSel.value) });
  for (const s of [changeSel, dirSel, sizeSel]) s.addEventListener('change', change);

  const results = h('div', { id: 'changes-results' }, loading('Loading changes'));
  const paging = markerPaging({
    id: 'changes', label: 'changed files', limit: state.limit,
    range: (first, last, page) => `files ${num(first)}–${num(last)}${page.next_marker ? ', more follow' : ''}`,
  }, load);

  async function load(marker, pageIndex) {
    results.replaceChildren(loading('Loading changes'));
    let page;
    try {
      page = await api.changes(taskId, {
        from: state.from, to: runId, change: state.change, dir_check: state.dir,
        limit: state.limit, marker,
      });
    } catch (err) {
      results.replaceChildren(errorBox(err));
      onError(err);
      return;
    }
    onPage(page);
    const files = page.files || [];
    const pager = paging.pager(page, files.length);
    if (files.length === 0) {
      const what = state.change ? `${CHANGE_LABEL[state.change].toLowerCase()} ` : '';
      results.replaceChildren(emptyState(pageIndex === 0
        ? `No ${what}difference between these two runs${state.dir ? ` in ${state.dir}` : ''}.`
        : 'No more files.'));
      return;
    }
    const showDir = !state.dir && dirs.length > 1;
    const toTime = page.to_time;
    results.replaceChildren(
      h('div', { class: 'table-wrap' }, h('table', { class: 'table table-files', id: 'changes-table' },
        h('caption', { class: 'sr-only' }, 'Files whose verdict changed or persisted between the two runs'),
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col' }, 'Path'),
          h('th', { scope: 'col' }, 'Change'),
          h('th', { scope: 'col' }, 'Status'),
          h('th', { scope: 'col', title: 'How long the difference has lasted, from the first run of its streak that found it' }, 'Age'))),
        h('tbody', {}, files.map((f) => h('tr', { class: `change-${f.change}` },
          pathHeader(f, showDir),
          h('td', {}, h('span', { class: `badge badge-change-${f.change}` }, CHANGE_LABEL[f.change] || f.change)),
          statusCell(f),
          ageCell(f, toTime)))))),
      pager);
  }
  paging.start();

  return h('div', {},
    h('form', { class: 'filters', 'aria-label': 'Filter changes', onsubmit: (e) => e.preventDefault() },
      field('Compare with', fromSel), field('Change', changeSel), field('Directory', dirSel),
      field('Page size', sizeSel)),
    results);
}

// #/tasks/TASK/runs/RUN/changes?from=RUN&change=&dir=&limit=
export async function renderChanges(main, ctx, taskId, runId, query) {
  main.append(loading('Loading runs'));
  const [task, runs] = await Promise.all([api.showTask(taskId), runsWith(taskId, runId)]);
  if (!ctx.alive()) return;
  const run = runs.find((r) => r.run_id === runId);
  const recheck = run.scope === 'inconsistent';

  const state = {
    from: query.from || '',
    change: query.change ?? (recheck ? 'resolved' : ''),
    dir: query.dir || '',
    limit: Number(query.limit) || 50,
  };
  const setState = (next) => ctx.go(`/tasks/${taskId}/runs/${runId}/changes`, {
    from: next.from,
    // A re-check opens on "resolved"; "every change" is then said explicitly.
    change: next.change || (recheck ? 'all' : ''),
    dir: next.dir,
    limit: next.limit === 50 ? '' : next.limit,
  }, { replace: true });
  if (state.change === 'all') state.change = '';

  // The older run: as chosen, else as the server picks it (shown once the
  // first page arrives).
  const older = runs.filter((r) => r.run_id !== runId && r.check_result === 'success'
    && (r.finished_time || 0) <= (run.finished_time || Infinity));
  const fromSel = h('select', { name: 'from', id: 'changes-from' },
    h('option', { value: '' }, recheck ? 'The run it re-checked' : 'The previous full check of the same directories'),
    older.map((r) => h('option', { value: r.run_id, selected: r.run_id === state.from },
      `${dateTime(r.started_time)} · ${scopeLabel(r)}`)));
  fromSel.addEventListener('change', () => setState({ ...state, from: fromSel.value }));

  const fromFact = h('dd', { id: 'changes-from-run' }, '…');
  const dirsBox = h('div', {}, loading('Loading directories'));
  const dirNames = (run.consistency_result || []).map((d) => d.dir_check);
  let shownDirs = false;
  const onPage = (page) => {
    const fromRun = runs.find((r) => r.run_id === page.from_run_id);
    replace(fromFact, h('a', { href: `#/tasks/${taskId}/runs/${page.from_run_id}` },
      dateTime(page.from_time)), fromRun ? ' ' : null, fromRun ? verdictBadge(runVerdict(fromRun)) : null,
    fromRun && fromRun.scope === 'inconsistent' ? h('span', { class: 'tag' }, 're-check') : null);
    if (!shownDirs) {
      shownDirs = true;
      dirsBox.replaceChildren(dirsTable(page.directories || []),
        // A re-check counts only what it checked again.
        recheck ? h('p', { class: 'muted small', id: 'changes-recheck-note' },
          'A re-check counts only the files it checked again: its Files, and a directory\'s change '
          + 'in it, say how many it re-checked, not how many the source holds.') : null);
    }
  };

  const onError = () => {
    fromFact.textContent = '–';
    if (!shownDirs) dirsBox.replaceChildren(emptyState('No comparison: see the error below.'));
  };

  const title = recheck ? 'Differences the re-check resolved' : 'Changes since the previous run';
  replace(main,
    pageHeader(title, {
      crumbs: [['Tasks', '#/tasks'], [task.name, `#/tasks/${taskId}`],
        ['Run', `#/tasks/${taskId}/runs/${runId}`], ['Changes']],
      subtitle: recheck
        ? 'This run checked again only the files the earlier run found not equal: "resolved" ones are equal now.'
        : 'New: not equal now, equal or absent before. Resolved: equal now. Persisting: not equal in both.',
    }),
    h('dl', { class: 'facts' },
      h('div', {}, h('dt', {}, 'Older run'), fromFact),
      h('div', {}, h('dt', {}, 'Newer run'), h('dd', { id: 'changes-to-run' },
        h('a', { href: `#/tasks/${taskId}/runs/${runId}` }, dateTime(run.started_time)), ' ',
        verdictBadge(runVerdict(run)), recheck ? h('span', { class: 'tag' }, 're-check') : null))),
    panel('Directories', dirsBox, { id: 'changes-directories' }),
    panel('Files', filesView(taskId, runId, state, dirNames, {
      onState: setState, onPage, onError, fromSel,
    }), { id: 'changes-files' }));
  main.querySelector('h1').focus();
}
