// One task: its target, configuration (directories, mode, excludes), start /
// stop a check, and its runs over time.
import { h, field, replace } from '../dom.js';
import { api, canWrite, session } from '../api.js';
import {
  num, dateTime, ago, duration, runTotals, runVerdict, bytes, scopeLabel, sinceLastRun,
} from '../format.js';
import {
  pageHeader, panel, verdictBadge, stateBadge, loading, emptyState, toast, errorBox,
} from '../ui.js';
import { runsChart } from '../charts.js';

const WATCH_MS = 5000;

// Cut-over readiness (issue 13.3): the badge of a task's verdict. (Its
// words differ from the task state's "Ready" on purpose.)
const READINESS = {
  ready: ['badge-consistent', 'Can cut over'],
  not_ready: ['badge-failed', 'Not yet'],
  stale: ['badge-differences', 'Stale: check again'],
};
export function readinessBadge(r) {
  const [cls, label] = READINESS[(r && r.status) || 'not_ready'] || READINESS.not_ready;
  return h('span', { class: `badge ${cls}`, dataset: { readiness: (r && r.status) || 'not_ready' } }, label);
}

function readinessPanel(r) {
  if (!r) return emptyState('No verdict yet.');
  const since = r.since ? `since ${dateTime(r.since)} (${ago(r.since)})` : '';
  return h('div', { id: 'readiness' },
    h('div', { class: 'summary-line' }, readinessBadge(r), since ? h('span', {}, since) : null),
    (r.reasons || []).length
      ? h('ul', { class: 'reasons' }, r.reasons.map((reason) => h('li', {}, reason)))
      : h('p', { class: 'muted small' },
        'Its last consistent checks in a row covered every configured directory.'));
}
let renderSeq = 0; // the newest renderTask() owns the page

function configMap(list) {
  const m = {};
  for (const c of list || []) m[c.config_key] = c.config_value;
  return m;
}

function splitList(text) {
  return text.split(/[\n,]/).map((s) => s.trim()).filter(Boolean);
}

function configForm(task, config, writable, onSaved) {
  const dirs = h('textarea', {
    name: 'dirs', rows: 4, spellcheck: 'false', readonly: !writable,
    value: splitList(config.CONSISTENCY_DIR || '').join('\n'),
  });
  const mode = h('select', { name: 'mode', disabled: !writable },
    [['hash', 'Hash: compare content (default)'], ['quick', 'Quick: size and modification time']]
      .map(([v, l]) => h('option', { value: v, selected: (config.CONSISTENCY_MODE || 'hash') === v }, l)));
  const excludes = h('textarea', {
    name: 'exclude', rows: 3, spellcheck: 'false', readonly: !writable,
    value: splitList(config.CONSISTENCY_EXCLUDE || '').join('\n'),
  });
  const schedule = h('input', {
    name: 'schedule', type: 'text', spellcheck: 'false', readonly: !writable,
    value: config.CONSISTENCY_SCHEDULE || '', placeholder: 'none',
  });
  const message = h('div', { 'aria-live': 'polite' });
  const save = writable ? h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save configuration') : null;
  const form = h('form', {
    class: 'config-form', 'aria-label': 'Verification configuration',
    onsubmit: async (ev) => {
      ev.preventDefault();
      message.replaceChildren();
      const dirList = splitList(dirs.value);
      const bad = dirList.find((d) => !d.startsWith('/'));
      if (bad) {
        message.append(h('div', { class: 'alert alert-error', role: 'alert' }, `"${bad}" is not an absolute directory (it must start with /).`));
        dirs.focus();
        return;
      }
      save.disabled = true;
      try {
        await api.setConfig(task.id, [
          { config_key: 'CONSISTENCY_DIR', config_value: dirList.join(',') },
          { config_key: 'CONSISTENCY_MODE', config_value: mode.value },
          { config_key: 'CONSISTENCY_EXCLUDE', config_value: splitList(excludes.value).join(',') },
          { config_key: 'CONSISTENCY_SCHEDULE', config_value: schedule.value.trim() },
        ]);
        toast('Configuration saved.', 'ok');
        onSaved();
      } catch (err) {
        message.append(h('div', { class: 'alert alert-error', role: 'alert' }, err.message));
      } finally {
        save.disabled = false;
      }
    },
  },
  field('Directories to verify', dirs, 'Absolute paths on the source, one per line.'),
  field('Mode', mode),
  field('Exclude patterns', excludes, 'Glob patterns, one per line, e.g. *.tmp or cache/**'),
  field('Schedule', schedule,
    'Checks by itself: cron "MIN HOUR DAY MONTH WEEKDAY", with an optional time zone '
    + '("TZ=Asia/Shanghai 0 2 * * *"), or "@every 6h". Empty: no schedule.'),
  message,
  save ? h('div', { class: 'form-actions' }, save)
    : h('p', { class: 'muted small' }, 'Your role may read this configuration but not change it.'));
  return form;
}

// "Since the previous full check (date): Different 60,000 → 54,000 (−6,000), ..."
function sinceLine(runs, taskId) {
  const since = sinceLastRun(runs);
  if (!since) return null;
  const when = h('a', { href: `#/tasks/${taskId}/runs/${since.from.run_id}` }, dateTime(since.from.finished_time));
  if (!since.changes.length) {
    return h('p', { class: 'since small', id: 'since-last-run' },
      'Since the previous full check (', when, '): no counter of difference moved.');
  }
  return h('div', { class: 'since small', id: 'since-last-run' },
    'Since the previous full check (', when, '):',
    h('ul', {}, since.changes.map(([, label, before, now]) => {
      const d = now - before;
      return h('li', {}, `${label}: ${num(before)} → ${num(now)} `,
        h('span', { class: `delta ${d < 0 ? 'good' : 'bad'}` }, `(${d > 0 ? '+' : '−'}${num(Math.abs(d))})`));
    })));
}

function summaryCard(run, task, runs = []) {
  if (!run) {
    return emptyState(task.state === 'RUNNING' ? 'The first check is queued or running.' : 'This task has not been verified yet.');
  }
  const t = runTotals(run);
  // A failed run's counters are partial (often none): no green "0".
  const failed = run.check_result === 'failed';
  const stat = (label, value, cls = '') => h('div', { class: `stat ${failed ? '' : cls}` },
    h('div', { class: 'stat-value' }, value), h('div', { class: 'stat-label' }, label));
  return h('div', {},
    h('div', { class: 'summary-line' },
      verdictBadge(runVerdict(run)),
      h('span', {}, `Finished ${dateTime(run.finished_time)} (${ago(run.finished_time)})`),
      h('a', { href: `#/tasks/${task.id}/runs/${run.run_id}`, class: 'btn btn-small' }, 'Open run'),
      // What changed since the run before: one click from the task.
      run.check_result === 'success' ? h('a', {
        href: `#/tasks/${task.id}/runs/${run.run_id}/changes`, class: 'btn btn-small', id: 'latest-changes',
      }, run.scope === 'inconsistent' ? 'Resolved differences' : 'Changes since previous run') : null),
    run.error_msg ? h('div', { class: 'alert alert-error' },
      failed ? h('strong', {}, 'The run failed: ') : null, run.error_msg) : null,
    sinceLine(runs, task.id),
    h('div', { class: 'stats' },
      stat(run.scope === 'inconsistent' ? 'Files checked again' : 'Files on source', num(t.num_total_files)),
      stat('Different', num(t.num_different_files), t.num_different_files ? 'bad' : 'good'),
      stat('Missing on target', num(t.num_target_miss_files), t.num_target_miss_files ? 'bad' : 'good'),
      stat('Extra on target', num(t.num_target_more_files), t.num_target_more_files ? 'warn' : 'good'),
      stat('Changed during check', num(t.num_changed_files), t.num_changed_files ? 'warn' : 'good'),
      stat('Errors', num(t.num_error_files), t.num_error_files ? 'bad' : 'good'),
      stat('Corrupt', num(t.num_corrupt_files), t.num_corrupt_files ? 'bad' : 'good'),
      stat('Bytes verified', bytes(t.num_bytes_verified)),
      stat('Files from the hash cache', num(t.num_cached_files)),
      stat('Bytes read', bytes(t.num_bytes_read))));
}

function runsTable(task, runs) {
  return h('div', { class: 'table-wrap' }, h('table', { class: 'table', id: 'runs-table' },
    h('caption', { class: 'sr-only' }, 'Runs of this task, newest first'),
    h('thead', {}, h('tr', {},
      ['Finished', 'Result', 'Mode', 'Scope', 'Duration', 'Files', 'Different', 'Missing', 'Extra', 'Changed', 'Errors',
        'Corrupt', 'Cached', 'Read']
        .map((c, i) => h('th', { scope: 'col', class: i >= 5 ? 'num' : '' }, c)))),
    h('tbody', {}, runs.map((r) => {
      const t = runTotals(r);
      const counted = (r.consistency_result || []).length > 0;
      const n = (v, cls) => h('td', { class: `num ${v ? cls : ''}` }, counted ? num(v) : '–');
      return h('tr', {},
        h('th', { scope: 'row' }, h('a', { href: `#/tasks/${task.id}/runs/${r.run_id}` }, dateTime(r.finished_time))),
        h('td', {}, verdictBadge(runVerdict(r))),
        h('td', {}, r.mode || '–'),
        h('td', {}, scopeLabel(r)),
        h('td', {}, duration(r.started_time, r.finished_time)),
        n(t.num_total_files, ''),
        n(t.num_different_files, 'bad'),
        n(t.num_target_miss_files, 'bad'),
        n(t.num_target_more_files, 'warn'),
        n(t.num_changed_files, 'warn'),
        n(t.num_error_files, 'bad'),
        n(t.num_corrupt_files, 'bad'),
        n(t.num_cached_files, ''),
        h('td', { class: 'num' }, counted ? bytes(t.num_bytes_read) : '–'));
    }))));
}

export async function renderTask(main, ctx, taskId) {
  const seq = ++renderSeq;
  const current = () => ctx.alive() && seq === renderSeq;
  main.append(loading('Loading task'));
  const [task, results, cfg] = await Promise.all([
    api.showTask(taskId),
    api.results(taskId, 100),
    api.getConfig(taskId).catch(() => ({ configurations: [] })),
  ]);
  if (!ctx.alive()) return;
  const runs = (results.result_list || []).filter((r) => r.run_id);
  const writable = canWrite(session());
  const config = configMap(cfg.configurations);
  const reload = () => {
    if (!ctx.alive()) return;
    replace(main);
    renderTask(main, ctx, taskId).catch((e) => replace(main, errorBox(e)));
  };

  const act = async (operation, btn, done) => {
    btn.disabled = true;
    try {
      await api.action(taskId, operation);
      toast(done, 'ok');
      reload();
    } catch (err) {
      toast(err.message, 'error');
      btn.disabled = false;
    }
  };
  const actions = [h('button', { type: 'button', class: 'btn', onclick: reload }, 'Refresh')];
  if (writable) {
    const busy = task.state === 'RUNNING' || task.state === 'ABORTING';
    const start = h('button', {
      type: 'button', class: 'btn btn-primary', id: 'start-check', disabled: busy,
      onclick: () => act('consistency_check', start, 'Check queued: the agent starts it at its next poll.'),
    }, 'Start check');
    const stop = h('button', {
      type: 'button', class: 'btn btn-danger', id: 'stop-check', disabled: task.state !== 'RUNNING',
      onclick: () => act('stop', stop, 'Stop requested.'),
    }, 'Stop');
    actions.push(start, stop);
  }

  const src = task.source_server || {};
  const tgt = task.target_server || {};
  replace(main, 
    pageHeader(task.name, {
      crumbs: [['Tasks', '#/tasks'], [task.name]],
      actions,
    }),
    h('dl', { class: 'facts' },
      h('div', {}, h('dt', {}, 'State'), h('dd', {}, stateBadge(task.state))),
      h('div', {}, h('dt', {}, 'Source'), h('dd', {}, src.name || src.id || '–')),
      h('div', {}, h('dt', {}, 'Target'), h('dd', {}, [tgt.name, tgt.ip].filter(Boolean).join(' · ') || '–')),
      h('div', {}, h('dt', {}, 'Target copy'), h('dd', { class: 'mono' }, tgt.verify_uri || 'not set')),
      h('div', {}, h('dt', {}, 'Created'), h('dd', {}, dateTime(task.create_date))),
      h('div', {}, h('dt', {}, 'Cut-over'), h('dd', {}, readinessBadge(task.cutover_readiness))),
      h('div', {}, h('dt', {}, 'Schedule'),
        h('dd', { class: 'mono', id: 'schedule' }, config.CONSISTENCY_SCHEDULE || 'none')),
      h('div', {}, h('dt', {}, 'Next check'),
        h('dd', { id: 'next-check' }, task.next_check_time ? dateTime(task.next_check_time) : '–')),
      h('div', {}, h('dt', {}, 'Skipped checks'),
        h('dd', { id: 'skipped-checks', title: 'Scheduled checks skipped because one was still running' },
          num(task.skipped_check_count || 0)))),
    panel('Cut-over readiness', readinessPanel(task.cutover_readiness), { id: 'cutover' }),
    h('div', { class: 'grid-2' },
      panel('Latest run', summaryCard(runs[0], task, runs), { id: 'latest-run' }),
      panel('Configuration', configForm(task, config, writable, reload), { id: 'configuration' })),
    panel(`Runs over time (${runs.length})`,
      runs.length
        ? h('div', {}, runsChart(runs, (r) => `#/tasks/${task.id}/runs/${r.run_id}`), runsTable(task, runs))
        : emptyState('No run has finished yet.'),
      { id: 'runs' }));
  main.querySelector('h1').focus();

  // While a check is queued or running, watch the task and show the new run
  // when it ends (unless the configuration is being edited).
  if (task.state === 'RUNNING' || task.state === 'ABORTING') {
    const form = main.querySelector('.config-form');
    let dirty = false;
    form.addEventListener('input', () => { dirty = true; });
    const watch = async () => {
      if (!current()) return;
      try {
        const now = await api.showTask(taskId);
        if (!current()) return;
        if (now.state !== task.state && !dirty) {
          reload();
          return;
        }
      } catch (err) {
        // Deleted while open: say so, and stop asking.
        if (err && err.status === 404) {
          if (current()) {
            main.prepend(h('div', { class: 'alert alert-error', role: 'alert', id: 'task-gone' },
              'This task no longer exists: it was deleted while this page was open.'));
          }
          return;
        }
        // else keep watching; a real failure shows at the next user action
      }
      setTimeout(watch, WATCH_MS);
    };
    setTimeout(watch, WATCH_MS);
  }
}
