// The tenant's consistency settings (issue 13.5): its default retention of
// file-level details (GET /v3/consistency-settings), which an admin edits
// (PUT; the API refuses other roles). The page says where the value stands
// among the three levels: a task's own CONSISTENCY_RETENTION, then this
// tenant's default, then the server's.
import { h, field, replace } from '../dom.js';
import { api, session } from '../api.js';
import { pageHeader, panel, loading, errorBox, toast } from '../ui.js';

// "runs=10,days=30" -> "the newest 10 runs and every run of the last 30 days"
export function retentionWords(value) {
  if (!value) return '';
  const parts = Object.fromEntries(value.split(',').map((p) => p.trim().split('=')));
  const words = [];
  if (parts.runs) words.push(`the newest ${parts.runs} run${parts.runs === '1' ? '' : 's'}`);
  if (parts.days) words.push(`every run of the last ${parts.days} day${parts.days === '1' ? '' : 's'}`);
  return `Keeps the file-level details of ${words.join(' and ')}; older runs keep their per-directory counters only.`;
}

function precedence() {
  return h('ol', { class: 'precedence', id: 'retention-precedence' },
    h('li', {}, h('strong', {}, 'A task\'s own '), h('code', {}, 'CONSISTENCY_RETENTION'),
      ' (its configuration settings), when the task sets it — even to an empty value, which keeps everything.'),
    h('li', {}, h('strong', {}, 'This domain\'s default'), ' (this page), for every task that sets none.'),
    h('li', {}, h('strong', {}, 'The server\'s default'), ' (', h('code', {}, 'consistency_retention'),
      ' in its configuration), when this domain sets none; without one, every run keeps its details.'));
}

function current(value) {
  return h('dl', { class: 'facts', id: 'retention-current' },
    h('div', {}, h('dt', {}, 'Default retention'),
      h('dd', { class: 'mono', id: 'retention-value' }, value || 'not set')),
    h('div', {}, h('dt', {}, 'Meaning'),
      h('dd', { id: 'retention-meaning' },
        value ? retentionWords(value) : 'This domain sets none: the server\'s default applies to tasks without their own.')));
}

// The admin's form: save a value, or clear it (the server's default again).
function retentionForm(value, onSaved) {
  const input = h('input', {
    type: 'text', name: 'retention', id: 'settings-retention', spellcheck: 'false',
    autocomplete: 'off', maxlength: 64, value, placeholder: 'runs=10,days=30',
  });
  const err = h('div', { 'aria-live': 'assertive' });
  const save = h('button', { type: 'submit', class: 'btn btn-primary', id: 'settings-save' }, 'Save');
  const clearButton = h('button', { type: 'button', class: 'btn', id: 'settings-clear' }, 'Clear');
  const put = async (retention) => {
    err.replaceChildren();
    save.disabled = true;
    clearButton.disabled = true;
    try {
      const saved = await api.putConsistencySettings({ retention });
      toast(saved.retention ? 'Retention saved.' : 'Retention cleared: the server\'s default applies.', 'ok');
      onSaved(saved);
    } catch (error) {
      // The API names the field and the wrong part: "retention: days=x: ...".
      err.replaceChildren(errorBox(error));
    } finally {
      save.disabled = false;
      clearButton.disabled = false;
    }
  };
  clearButton.addEventListener('click', () => put(''));
  const form = h('form', {
    class: 'config-form', id: 'settings-form', 'aria-label': 'Change the retention',
    onsubmit: (ev) => {
      ev.preventDefault();
      put(input.value.trim());
    },
  },
  field('Default retention', input,
    '"runs=N", "days=D" or "runs=N,days=D": a run keeps its file-level details while it is among '
    + 'the task\'s newest N runs or is younger than D days; the newest run always keeps them. Empty: '
    + 'none set here.'),
  err,
  h('div', { class: 'form-actions' }, clearButton, save));
  return form;
}

// #/settings
export async function renderSettings(main, ctx) {
  const s = session();
  main.append(pageHeader('Settings', {
    subtitle: `Consistency settings of the domain ${s ? s.domain : ''}.`,
  }));
  const body = h('div', {}, loading('Loading settings'));
  main.append(body);
  let settings;
  try {
    settings = await api.consistencySettings();
  } catch (err) {
    if (!ctx.alive()) return;
    body.replaceChildren(errorBox(err));
    return;
  }
  if (!ctx.alive()) return;
  const show = (value) => {
    const admin = canEditSettings(s);
    replace(body, panel('Retention of file-level details', h('div', {},
      current(value),
      h('p', {}, 'The first of these that is set applies to a task:'),
      precedence(),
      admin ? retentionForm(value, (saved) => show(saved.retention || ''))
        : h('p', { class: 'muted small', id: 'settings-readonly' },
          'Only an admin of this domain may change it.')), { id: 'retention' }));
  };
  show(settings.retention || '');
  main.querySelector('h1').focus();
}

// Whether the signed-in identity may change the settings (the API: admin).
export function canEditSettings(s = session()) {
  return Boolean(s) && s.role === 'admin';
}

// Whether it may read them (the nav link): every role that reads tasks.
export function canReadSettings(s = session()) {
  return Boolean(s) && ['admin', 'operator', 'viewer'].includes(s.role);
}
