// Tasks: filters (state, name, source), paging, the latest run of each task
// at a glance, and export of the selected tasks.
import { h, field } from '../dom.js';
import { api, session } from '../api.js';
import {
  num, dateTime, ago, runTotals, runVerdict, exportFileName, ISSUE_KEYS,
} from '../format.js';
import { readinessBadge } from './task.js';
import {
  pageHeader, panel, verdictBadge, stateBadge, errorBox, loading, emptyState,
  offsetPager, toast,
} from '../ui.js';

const PAGE_SIZE = 20;
// POST /v3/tasks/consistency-results/export takes 1..200 task_info items.
export const EXPORT_MAX_TASKS = 200;
const selected = new Map(); // task id -> name, kept across pages
let selectedBy = ''; // the session (token) the selection belongs to

const EXPORT_FORMATS = [
  ['csv', 'CSV', 'text/csv', 'csv'],
  ['json', 'JSON', 'application/json', 'json'],
  ['xlsx', 'Excel (XLSX)', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', 'xlsx'],
];

// Downloads the export of the selected tasks. The file is named here, by
// what it holds and when ("consistency-web-01-srv-2026-12-03-1851.csv"): the
// server names every export alike, and sends JSON with no name.
async function exportSelected(format, allRuns) {
  const [, , accept, ext] = EXPORT_FORMATS.find((f) => f[0] === format);
  const resp = await api.exportResults([...selected.keys()], accept, allRuns);
  const blob = await resp.blob();
  const url = URL.createObjectURL(blob);
  const name = exportFileName([...selected.values()], { allRuns, ext });
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  return name;
}

// The cut-over verdict with why, in words on the page (the first reason, and
// how many more; every reason on hover and on the task's page).
function readinessCell(t) {
  const r = t.cutover_readiness || {};
  const reasons = r.reasons || [];
  return h('td', { class: 'readiness', title: reasons.join('\n') || undefined },
    readinessBadge(t.cutover_readiness),
    reasons.length ? h('div', { class: 'reason small' }, reasons[0],
      reasons.length > 1 ? h('span', { class: 'muted' }, ` (+${reasons.length - 1} more)`) : null) : null,
    t.next_check_time ? h('div', { class: 'muted small' }, `next ${dateTime(t.next_check_time)}`) : null);
}

function latestCell(task, run) {
  const verdict = task.state === 'RUNNING' || task.state === 'ABORTING' ? 'running' : runVerdict(run);
  return h('td', { class: 'latest' },
    verdictBadge(verdict),
    run ? h('span', { class: 'when', title: dateTime(run.finished_time) }, ago(run.finished_time)) : null,
    run && run.scope === 'inconsistent' ? h('span', {
      class: 'tag', title: 'A re-check of the inconsistent files: its counters cover the files it checked again',
    }, 're-check') : null);
}

// The latest run's counters: files, different, missing, extra, and the other
// ones that make a run not consistent (changed, errors, metadata, corrupt)
// added up, each named on hover.
const OTHER_KEYS = ISSUE_KEYS.filter(([key]) => !['num_different_files', 'num_target_miss_files',
  'num_target_more_files'].includes(key));

function counterCells(run) {
  if (!run || !(run.consistency_result || []).length) {
    return [0, 1, 2, 3, 4].map(() => h('td', { class: 'num muted' }, '–'));
  }
  const t = runTotals(run);
  const cell = (n, cls, title) => h('td', { class: `num ${n > 0 ? cls : ''}`, title }, num(n));
  const other = OTHER_KEYS.reduce((sum, [key]) => sum + t[key], 0);
  const recheck = run.scope === 'inconsistent';
  return [
    h('td', {
      class: 'num',
      title: recheck ? 'A re-check of the inconsistent files: the files it checked again' : undefined,
    }, num(t.num_total_files)),
    cell(t.num_different_files, 'bad'),
    cell(t.num_target_miss_files, 'bad'),
    cell(t.num_target_more_files, 'warn'),
    cell(other, 'bad', OTHER_KEYS.map(([key, , label]) => `${label}: ${num(t[key])}`).join('\n')),
  ];
}

export async function renderTasks(main, ctx, query) {
  // A selection is the session's: signing out (or in as someone else)
  // starts from none.
  const s = session();
  const token = s ? s.token : '';
  if (token !== selectedBy) {
    selected.clear();
    selectedBy = token;
  }
  const offset = Math.max(0, parseInt(query.offset || '0', 10) || 0);
  const filters = {
    state: query.state || '', name: query.name || '', source: query.source || '', sort: query.sort || '',
  };

  main.append(pageHeader('Tasks', { subtitle: 'Migration tasks and the latest verification of each.' }));
  const body = h('div', {}, loading('Loading tasks'));

  // Filters
  const stateSel = h('select', { name: 'state' },
    [['', 'Any state'], ['READY', 'Ready'], ['RUNNING', 'Running'], ['ABORTING', 'Stopping'], ['ABORT', 'Stopped']]
      .map(([v, l]) => h('option', { value: v, selected: v === filters.state }, l)));
  const nameInput = h('input', { name: 'name', type: 'search', value: filters.name, placeholder: 'Exact task name' });
  const sourceSel = h('select', { name: 'source' }, h('option', { value: '' }, 'Any source'));
  const sortSel = h('select', { name: 'sort' },
    [['', 'Newest first'], ['cutover_readiness', 'Cut-over readiness (ready first)']]
      .map(([v, l]) => h('option', { value: v, selected: v === filters.sort }, l)));
  const apply = () => ctx.go('/tasks', {
    state: stateSel.value, name: nameInput.value.trim(), source: sourceSel.value, sort: sortSel.value,
  }, { replace: true });
  const filterForm = h('form', {
    class: 'filters', role: 'search', 'aria-label': 'Filter tasks',
    onsubmit: (ev) => { ev.preventDefault(); apply(); },
  },
  field('State', stateSel),
  field('Name', nameInput),
  field('Source', sourceSel),
  field('Sort', sortSel),
  h('div', { class: 'filter-buttons' },
    h('button', { type: 'submit', class: 'btn btn-primary' }, 'Apply'),
    h('button', {
      type: 'button', class: 'btn btn-quiet',
      onclick: () => ctx.go('/tasks', {}, { replace: true }),
    }, 'Clear')));
  stateSel.addEventListener('change', apply);
  sourceSel.addEventListener('change', apply);
  sortSel.addEventListener('change', apply);

  // Export
  const formatSel = h('select', { name: 'format' },
    EXPORT_FORMATS.map(([v, l]) => h('option', { value: v }, l)));
  const allRuns = h('input', { type: 'checkbox', name: 'all_runs' });
  const selInfo = h('span', { class: 'muted', 'aria-live': 'polite' });
  // Why the last export could not be made, until the next one (a toast
  // would be gone before it is read).
  const exportMessage = h('div', { id: 'export-message' });
  const exportBtn = h('button', { type: 'button', class: 'btn btn-primary', id: 'export-button' }, 'Export selected');
  const refreshSelection = () => {
    selInfo.textContent = selected.size === 1 ? '1 task selected' : `${selected.size} tasks selected`;
    exportBtn.disabled = selected.size === 0;
  };
  exportBtn.addEventListener('click', async () => {
    exportMessage.replaceChildren();
    if (selected.size > EXPORT_MAX_TASKS) {
      exportMessage.append(h('div', { class: 'alert alert-error', role: 'alert' },
        `Cannot export ${num(selected.size)} tasks at once: an export takes at most `
        + `${EXPORT_MAX_TASKS}. Clear the selection and export them in parts.`));
      return;
    }
    exportBtn.disabled = true;
    const old = exportBtn.textContent;
    exportBtn.textContent = 'Exporting…';
    try {
      const name = await exportSelected(formatSel.value, allRuns.checked);
      toast(`Exported ${selected.size === 1 ? '1 task' : `${selected.size} tasks`} as ${name}.`, 'ok');
    } catch (err) {
      exportMessage.append(h('div', { class: 'alert alert-error', role: 'alert' },
        h('strong', {}, 'Export failed: '), err.message, err.code ? ` (${err.code})` : ''));
    } finally {
      exportBtn.textContent = old;
      refreshSelection();
    }
  });
  const exportBar = h('div', { class: 'export-bar', role: 'group', 'aria-label': 'Export' },
    selInfo,
    field('Format', formatSel),
    h('label', { class: 'check' }, allRuns, 'Every run, not only the latest'),
    exportBtn,
    h('button', {
      type: 'button', class: 'btn btn-quiet',
      onclick: () => { selected.clear(); main.querySelectorAll('input[data-task]').forEach((c) => { c.checked = false; }); refreshSelection(); },
    }, 'Clear selection'),
    exportMessage);
  refreshSelection();

  main.append(panel(null, filterForm, { className: 'panel-filters' }), body);

  const [sources, page] = await Promise.all([
    api.listSources({ limit: 200 }).catch(() => ({ source_servers: [] })),
    api.listTasks({
      state: filters.state, name: filters.name, source_server_id: filters.source,
      sort: filters.sort, limit: PAGE_SIZE, offset,
    }),
  ]);
  if (!ctx.alive()) return;
  for (const s of sources.source_servers || []) {
    sourceSel.append(h('option', { value: s.id, selected: s.id === filters.source }, s.name || s.hostname || s.id));
  }

  const tasks = page.tasks || [];
  const latest = await Promise.all(tasks.map((t) => api.results(t.id, 1)
    .then((r) => (r.result_list || [])[0] || null)
    .catch(() => null)));
  if (!ctx.alive()) return;

  body.replaceChildren();
  if (tasks.length === 0) {
    body.append(panel('No tasks', emptyState(
      filters.state || filters.name || filters.source
        ? 'No task matches these filters.'
        : 'No tasks yet. Tasks are created through the API (POST /v3/tasks).')));
    return;
  }

  const pageIds = tasks.map((t) => t.id);
  const selectAll = h('input', {
    type: 'checkbox', 'aria-label': 'Select every task on this page',
    checked: pageIds.every((id) => selected.has(id)),
    onchange: (ev) => {
      for (const t of tasks) {
        if (ev.target.checked) selected.set(t.id, t.name); else selected.delete(t.id);
      }
      main.querySelectorAll('input[data-task]').forEach((c) => { c.checked = ev.target.checked; });
      refreshSelection();
    },
  });

  const rows = tasks.map((t, i) => {
    const run = latest[i];
    const box = h('input', {
      type: 'checkbox', dataset: { task: t.id }, checked: selected.has(t.id),
      'aria-label': `Select ${t.name}`,
      onchange: (ev) => {
        if (ev.target.checked) selected.set(t.id, t.name); else selected.delete(t.id);
        selectAll.checked = pageIds.every((id) => selected.has(id));
        refreshSelection();
      },
    });
    return h('tr', {},
      h('td', { class: 'select' }, box),
      h('th', { scope: 'row' }, h('a', { href: `#/tasks/${t.id}` }, t.name)),
      h('td', {}, (t.source_server && (t.source_server.name || t.source_server.id)) || '–'),
      h('td', {}, stateBadge(t.state)),
      readinessCell(t),
      latestCell(t, run),
      counterCells(run));
  });

  const table = h('table', { class: 'table', id: 'tasks-table' },
    h('caption', { class: 'sr-only' }, 'Tasks with their latest verification run'),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col', class: 'select' }, selectAll),
      h('th', { scope: 'col' }, 'Task'),
      h('th', { scope: 'col' }, 'Source'),
      h('th', { scope: 'col' }, 'State'),
      h('th', { scope: 'col' }, 'Cut-over'),
      h('th', { scope: 'col' }, 'Latest run'),
      h('th', { scope: 'col', class: 'num' }, 'Files'),
      h('th', { scope: 'col', class: 'num' }, 'Different'),
      h('th', { scope: 'col', class: 'num' }, 'Missing'),
      h('th', { scope: 'col', class: 'num' }, 'Extra'),
      h('th', { scope: 'col', class: 'num', title: 'Changed during check, errors, metadata differs, corrupt' }, 'Other'))),
    h('tbody', {}, rows));

  body.append(panel(`Tasks (${num(page.count)})`,
    h('div', {},
      exportBar,
      h('div', { class: 'table-wrap' }, table),
      offsetPager({
        offset, limit: PAGE_SIZE, count: page.count || 0, label: 'tasks',
        onPage: (o) => ctx.go('/tasks', { ...filters, offset: o }),
      })),
    { id: 'tasks-panel' }));
}
