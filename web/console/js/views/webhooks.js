// Webhook settings (issue 13.4, 13.6): the tenant's webhooks, a form to add
// one (its secret is shown once, when it is made, as the API returns it only
// then), deleting one, and each webhook's delivery log (the last attempts:
// event, HTTP status, latency, attempt number, state). The API keeps this to
// the admin role; any other role sees the API's refusal as it words it.
import { h, field, replace } from '../dom.js';
import { api, session } from '../api.js';
import { num, dateTime, ago } from '../format.js';
import { pageHeader, panel, loading, emptyState, errorBox, toast } from '../ui.js';

// The events a webhook may subscribe to (API: POST /v3/webhooks).
const EVENTS = [
  ['run.finished', 'A run finished (any verdict)'],
  ['run.inconsistent', 'A run found differences'],
  ['run.failed', 'A run failed'],
  ['task.ready', 'A task became ready to cut over'],
  ['task.not_ready', 'A task stopped being ready'],
];

const STATE_CLASS = { delivered: 'consistent', pending: 'running', failed: 'failed' };

function eventTags(events) {
  return (events || []).map((e) => h('span', { class: 'tag tag-event' }, e));
}

// The form that adds a webhook; onCreated(created) with the API's answer.
function createForm(onCreated) {
  const url = h('input', {
    type: 'url', name: 'url', id: 'webhook-url', required: true, maxlength: 2048,
    placeholder: 'https://hooks.example.internal/sms', autocomplete: 'off',
  });
  const secret = h('input', {
    type: 'text', name: 'secret', id: 'webhook-secret', minlength: 16, maxlength: 256,
    autocomplete: 'off', spellcheck: 'false',
  });
  const boxes = EVENTS.map(([e, label]) => h('label', { class: 'check' },
    h('input', { type: 'checkbox', name: 'events', value: e, checked: e !== 'run.finished' }),
    h('span', { class: 'mono' }, e), h('span', { class: 'muted small' }, ` ${label}`)));
  const err = h('div', { 'aria-live': 'assertive' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'webhook-create' }, 'Add webhook');
  const form = h('form', { class: 'config-form', id: 'webhook-form', 'aria-label': 'Add a webhook' },
    field('URL', url, 'http(s) only; the server\'s webhook_allow setting may restrict the targets.'),
    h('fieldset', { class: 'field' }, h('legend', {}, 'Events'), boxes),
    field('Secret (optional)', secret,
      'Signs each delivery (X-Sms-Signature). Leave empty for a random one; 16 to 256 characters.'),
    err,
    h('div', { class: 'form-actions' }, submit));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.replaceChildren();
    const events = [...form.querySelectorAll('input[name=events]:checked')].map((c) => c.value);
    const body = { url: url.value.trim(), events };
    if (secret.value) body.secret = secret.value;
    submit.disabled = true;
    try {
      const created = await api.createWebhook(body);
      form.reset();
      onCreated(created);
    } catch (error) {
      // The API names the field: "url: ...", "events: ...".
      err.replaceChildren(errorBox(error));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

// The secret of a webhook just made: shown this once.
function secretNotice(created) {
  const value = h('code', { class: 'mono secret', id: 'webhook-new-secret' }, created.secret);
  const copy = h('button', {
    type: 'button', class: 'btn btn-small',
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(created.secret);
        toast('Secret copied.', 'ok');
      } catch {
        toast('Copy it by hand: the browser refused the clipboard.', 'error');
      }
    },
  }, 'Copy');
  return h('div', { class: 'alert alert-info', role: 'status', id: 'webhook-secret-notice' },
    h('strong', {}, 'Webhook added. '),
    `Its secret, to verify the X-Sms-Signature of each delivery to ${created.url}: `,
    value, ' ', copy,
    h('div', { class: 'small' }, 'Copy it now: the server does not show it again.'));
}

function listTable(hooks, onDelete) {
  if (!hooks.length) {
    return emptyState('No webhook yet: add one below to be told when runs finish.');
  }
  return h('div', { class: 'table-wrap' }, h('table', { class: 'table', id: 'webhooks-table' },
    h('caption', { class: 'sr-only' }, 'Webhooks of this domain'),
    h('thead', {}, h('tr', {},
      ['URL', 'Events', 'Added', ''].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, hooks.map((w) => h('tr', {},
      h('th', { scope: 'row', class: 'mono' },
        h('a', { href: `#/webhooks/${encodeURIComponent(w.id)}`, title: 'Delivery log' }, w.url)),
      h('td', {}, eventTags(w.events)),
      h('td', { class: 'nowrap', title: dateTime(w.created_at) }, ago(w.created_at)),
      h('td', { class: 'actions' },
        h('a', { class: 'btn btn-small', href: `#/webhooks/${encodeURIComponent(w.id)}` }, 'Deliveries'),
        h('button', {
          type: 'button', class: 'btn btn-small btn-danger', 'aria-label': `Delete ${w.url}`,
          onclick: () => onDelete(w),
        }, 'Delete')))))));
}

// #/webhooks
export async function renderWebhooks(main, ctx) {
  main.append(pageHeader('Webhooks', {
    subtitle: 'Signed HTTP POSTs to your systems when runs finish, retried for 24 hours.',
  }));
  const body = h('div', {}, loading('Loading webhooks'));
  main.append(body);
  const notice = h('div', {});
  async function refresh() {
    let list;
    try {
      list = await api.listWebhooks();
    } catch (err) {
      if (!ctx.alive()) return;
      // Not an admin: the API's refusal says what is needed.
      body.replaceChildren(errorBox(err));
      return;
    }
    if (!ctx.alive()) return;
    const onDelete = async (w) => {
      if (!window.confirm(`Delete the webhook to ${w.url}? Its pending deliveries and their log go with it.`)) return;
      try {
        await api.deleteWebhook(w.id);
        notice.replaceChildren();
        toast('Webhook deleted.', 'ok');
        refresh();
      } catch (err) {
        toast(err.message, 'error');
      }
    };
    replace(body,
      notice,
      panel(`Webhooks (${num(list.count || 0)})`, listTable(list.webhooks || [], onDelete), { id: 'webhooks' }),
      panel('Add a webhook', createForm((created) => {
        notice.replaceChildren(secretNotice(created));
        refresh();
      }), { id: 'webhook-add' }));
  }
  await refresh();
}

function deliveriesTable(rows) {
  if (!rows.length) {
    return emptyState('No delivery attempted yet: one is made when a run of this domain finishes.');
  }
  return h('div', { class: 'table-wrap' }, h('table', { class: 'table', id: 'deliveries-table' },
    h('caption', { class: 'sr-only' }, 'The last delivery attempts, newest first'),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Time'),
      h('th', { scope: 'col' }, 'Event'),
      h('th', { scope: 'col' }, 'Run'),
      h('th', { scope: 'col', class: 'num' }, 'Attempt'),
      h('th', { scope: 'col', class: 'num' }, 'HTTP status'),
      h('th', { scope: 'col', class: 'num' }, 'Latency'),
      h('th', { scope: 'col' }, 'Delivery'),
      h('th', { scope: 'col' }, 'Error'))),
    h('tbody', {}, rows.map((d) => h('tr', {},
      h('td', { class: 'nowrap', title: ago(d.time) }, dateTime(d.time)),
      h('td', { class: 'mono' }, d.type),
      h('td', { class: 'mono small', title: `event ${d.event_id}` }, d.run_id ? d.run_id.slice(0, 8) : '–'),
      h('td', { class: 'num' }, num(d.attempt)),
      h('td', { class: `num ${d.status >= 200 && d.status < 300 ? '' : 'bad'}` }, d.status ? String(d.status) : '–'),
      h('td', { class: 'num' }, `${num(d.latency_ms)} ms`),
      h('td', {}, h('span', { class: `badge badge-${STATE_CLASS[d.state] || 'none'}` }, d.state)),
      h('td', { class: 'small' }, d.error || ''))))));
}

// #/webhooks/ID: one webhook and its delivery log.
export async function renderWebhook(main, ctx, id) {
  main.append(loading('Loading webhook'));
  const [hook, log] = await Promise.all([api.showWebhook(id), api.webhookDeliveries(id, 100)]);
  if (!ctx.alive()) return;
  const logBox = h('div', {}, deliveriesTable(log.deliveries || []));
  const reload = h('button', {
    type: 'button', class: 'btn', id: 'deliveries-refresh',
    onclick: async () => {
      try {
        const fresh = await api.webhookDeliveries(id, 100);
        logBox.replaceChildren(deliveriesTable(fresh.deliveries || []));
      } catch (err) {
        logBox.replaceChildren(errorBox(err));
      }
    },
  }, 'Refresh');
  replace(main,
    pageHeader(hook.url, {
      crumbs: [['Webhooks', '#/webhooks'], ['Deliveries']],
      subtitle: 'The last 100 delivery attempts, newest first. Receivers dedupe by the Idempotency-Key header.',
    }),
    h('dl', { class: 'facts' },
      h('div', {}, h('dt', {}, 'Events'), h('dd', {}, eventTags(hook.events))),
      h('div', {}, h('dt', {}, 'Added'), h('dd', {}, dateTime(hook.created_at))),
      h('div', {}, h('dt', {}, 'Webhook id'), h('dd', { class: 'mono small' }, hook.id))),
    panel('Delivery log', logBox, { id: 'deliveries', actions: [reload] }));
  main.querySelector('h1').focus();
}

// Whether the signed-in identity may manage webhooks (the nav link).
export function canManageWebhooks(s = session()) {
  return Boolean(s) && s.role === 'admin';
}
