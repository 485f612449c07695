// Shared pieces of the pages: badges, page headers, pagers, messages.
import { h, clear } from './dom.js';
import {
  VERDICT_LABEL, pathSegments, hasHiddenChars, copyablePath,
} from './format.js';

export function verdictBadge(verdict) {
  return h('span', { class: `badge badge-${verdict}` }, VERDICT_LABEL[verdict] || verdict);
}

const STATE_LABEL = { READY: 'Ready', RUNNING: 'Running', ABORTING: 'Stopping', ABORT: 'Stopped' };

export function stateBadge(state) {
  return h('span', { class: `badge badge-state-${(state || '').toLowerCase()}` },
    STATE_LABEL[state] || state || '–');
}

export function connectedBadge(connected) {
  return h('span', { class: `badge ${connected ? 'badge-consistent' : 'badge-none'}` },
    h('span', { class: 'dot', 'aria-hidden': 'true' }), connected ? 'Connected' : 'Offline');
}

export function pageHeader(title, { crumbs = [], subtitle, actions = [] } = {}) {
  const nav = crumbs.length
    ? h('nav', { 'aria-label': 'Breadcrumb', class: 'crumbs' },
      h('ol', {}, crumbs.map(([label, href]) => h('li', {},
        href ? h('a', { href }, label) : h('span', { 'aria-current': 'page' }, label)))))
    : null;
  return h('div', { class: 'page-header' },
    nav,
    h('div', { class: 'page-title-row' },
      h('div', {},
        h('h1', { tabindex: '-1' }, title),
        subtitle ? h('p', { class: 'subtitle' }, subtitle) : null),
      h('div', { class: 'actions' }, actions)));
}

export function panel(title, body, { actions = [], id, className = '' } = {}) {
  const headingId = id ? `${id}-title` : undefined;
  return h('section', { class: `panel ${className}`, id, 'aria-labelledby': headingId },
    title ? h('div', { class: 'panel-head' },
      h('h2', { id: headingId }, title),
      h('div', { class: 'actions' }, actions)) : null,
    body);
}

export function errorBox(err) {
  return h('div', { class: 'alert alert-error', role: 'alert' },
    h('strong', {}, 'Error: '), err && err.message ? err.message : String(err),
    err && err.code ? h('span', { class: 'muted' }, ` (${err.code})`) : null);
}

export function loading(what = 'Loading') {
  return h('div', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), `${what}…`);
}

export function emptyState(text) {
  return h('div', { class: 'empty' }, text);
}

let toastTimer = 0;
export function toast(message, kind = 'info') {
  const el = document.getElementById('toast');
  if (!el) return;
  clear(el);
  el.className = `toast toast-${kind} show`;
  el.append(message);
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.className = 'toast'; }, 4000);
}

// Offset paging: "21–40 of 95" with Previous / Next buttons.
export function offsetPager({ offset, limit, count, onPage, label = 'items' }) {
  const first = count === 0 ? 0 : offset + 1;
  const last = Math.min(offset + limit, count);
  return h('div', { class: 'pager', role: 'navigation', 'aria-label': `Pages of ${label}` },
    h('span', { class: 'pager-range', 'aria-live': 'polite' }, `${first}–${last} of ${count} ${label}`),
    h('button', {
      type: 'button', class: 'btn', disabled: offset <= 0,
      onclick: () => onPage(Math.max(0, offset - limit)),
    }, '‹ Previous'),
    h('button', {
      type: 'button', class: 'btn', disabled: offset + limit >= count,
      onclick: () => onPage(offset + limit),
    }, 'Next ›'));
}

// Marker paging (GET .../details, .../changes): each page names the marker
// that opens the next. The markers of the pages seen are kept, so Previous
// goes back without asking the server for them. show(marker, index) fetches
// and draws page `index`; it calls pager(page, rows) for the pager below it
// ("first–last" as range(first, last, page) words it, ids `${id}-range`,
// `${id}-prev`, `${id}-next`). start() shows the first page.
export function markerPaging({ id, label, limit, range }, show) {
  const markers = ['']; // markers[i] opens page i
  let index = 0;
  const go = (i) => { index = i; show(markers[i], i); };
  const pager = (page, rows) => {
    if (page.next_marker) markers[index + 1] = page.next_marker;
    const first = index * limit + (rows ? 1 : 0);
    const last = index * limit + rows;
    return h('div', { class: 'pager', role: 'navigation', 'aria-label': `Pages of ${label}` },
      h('span', { class: 'pager-range', 'aria-live': 'polite', id: `${id}-range` }, range(first, last, page)),
      h('button', {
        type: 'button', class: 'btn', id: `${id}-prev`, disabled: index === 0,
        onclick: () => go(index - 1),
      }, '‹ Previous'),
      h('button', {
        type: 'button', class: 'btn', id: `${id}-next`, disabled: !page.next_marker,
        onclick: () => go(index + 1),
      }, 'Next ›'));
  };
  return { start: () => go(0), pager };
}

// A name as text, each hidden character (control, invisible, bidi override)
// shown as an escape in its own mark, never as markup.
export function visibleName(text) {
  return pathSegments(text).map((seg) => (seg.hidden
    ? h('span', { class: 'hidden-char', title: `${seg.code}: a character that does not show` }, seg.hidden)
    : seg.text));
}

// Puts `text` on the clipboard: the Clipboard API where the page may use it
// (https, or loopback), else a selected text area and the copy command.
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // fall through to the copy command
    }
  }
  const area = h('textarea', { class: 'sr-only', readonly: true, 'aria-hidden': 'true' });
  area.value = text;
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

function copyPathButton(f) {
  const value = copyablePath(f);
  return h('button', {
    type: 'button', class: 'copy-path', title: f.path_b64
      ? 'Copy the full path, its exact bytes as a bash $\'…\' word'
      : 'Copy the full path',
    // Each row's button says whose path it copies (a list of 500 "Copy"
    // buttons is no help to a screen reader).
    'aria-label': `Copy the full path of ${f.path.length > 80 ? `${f.path.slice(0, 79)}…` : f.path}`,
    dataset: { copy: value },
    onclick: async () => {
      if (await copyText(value)) toast('Path copied.', 'ok');
      else toast('The browser refused the clipboard: select the path and copy it by hand.', 'error');
    },
  });
}

// A file's path as its row's header: its directory first when the list spans
// several, and a tag when the name is not valid UTF-8 or holds characters
// that do not show (each shown as an escape). Spaces are kept as they are;
// a button copies the full path.
export function pathHeader(f, showDir) {
  return h('th', { scope: 'row', class: 'path' },
    copyPathButton(f),
    showDir ? h('span', { class: 'muted' }, visibleName(f.dir_check.replace(/\/?$/, '/'))) : null,
    visibleName(f.path),
    f.path_b64 ? h('span', {
      class: 'tag', title: 'This name is not valid UTF-8: each invalid byte is shown as \\xHH.',
    }, 'bytes') : null,
    hasHiddenChars(f.path) ? h('span', {
      class: 'tag', title: 'This name holds characters that do not show (controls, invisible or direction marks): each is shown as an escape.',
    }, 'hidden characters') : null);
}
