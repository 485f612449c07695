// Sources: the servers whose agents registered, and whether they are polling.
import { h } from '../dom.js';
import { api } from '../api.js';
import { dateTime, ago, num } from '../format.js';
import { pageHeader, panel, connectedBadge, emptyState, loading, offsetPager } from '../ui.js';

const PAGE_SIZE = 50;

export async function renderSources(main, ctx, query) {
  const offset = Math.max(0, parseInt(query.offset || '0', 10) || 0);
  main.append(pageHeader('Sources', { subtitle: 'Source servers whose agent registered with this server.' }));
  const body = h('div', {}, loading('Loading sources'));
  main.append(body);
  const page = await api.listSources({ limit: PAGE_SIZE, offset });
  if (!ctx.alive()) return;
  const list = page.source_servers || [];
  if (list.length === 0) {
    body.replaceChildren(panel('No sources', emptyState('No agent has registered yet. Start `sms-agent run --server URL` on a source server.')));
    return;
  }
  const now = Date.now();
  body.replaceChildren(panel(`Sources (${num(page.count)})`, h('div', {},
    h('div', { class: 'table-wrap' }, h('table', { class: 'table', id: 'sources-table' },
      h('caption', { class: 'sr-only' }, 'Registered sources'),
      h('thead', {}, h('tr', {},
        ['Name', 'Host', 'IP', 'OS', 'Agent version', 'Status', 'Last heartbeat', 'Results']
          .map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, list.map((s) => h('tr', {},
        h('th', { scope: 'row' }, h('a', { href: `#/tasks?source=${encodeURIComponent(s.id)}`, title: 'Tasks of this source' }, s.name || s.id)),
        h('td', {}, s.hostname || '–'),
        h('td', { class: 'mono' }, s.ip || '–'),
        h('td', {}, [s.os_type, s.os_version].filter(Boolean).join(' ') || '–'),
        h('td', { class: 'mono' }, s.agent_version || '–'),
        h('td', {}, connectedBadge(s.connected)),
        h('td', { title: dateTime(s.last_visit_time) }, ago(s.last_visit_time, now)),
        h('td', {}, s.is_consistency_result_exist ? 'Yes' : 'No')))))),
    offsetPager({
      offset, limit: PAGE_SIZE, count: page.count || 0, label: 'sources',
      onPage: (o) => ctx.go('/sources', { offset: o }),
    }))));
}
