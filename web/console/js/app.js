// The console's shell: a hash router (#/tasks, #/tasks/ID, ...), the top bar
// and the session. Pages live in views/*.js and render into <main>.
import { h, clear } from './dom.js';
import {
  ApiError, session, signOut, setUnauthenticatedHandler,
} from './api.js';
import { errorBox } from './ui.js';
import { renderSignIn } from './views/signin.js';
import { renderTasks } from './views/tasks.js';
import { renderTask } from './views/task.js';
import { renderRun } from './views/run.js';
import { renderChanges } from './views/changes.js';
import { renderWebhooks, renderWebhook, canManageWebhooks } from './views/webhooks.js';
import { renderSources } from './views/sources.js';
import { renderSettings, canReadSettings } from './views/settings.js';

const main = document.getElementById('main');
// The roles that read tasks (API.md §2); an agent's user reads none.
const CONSOLE_ROLES = ['admin', 'operator', 'viewer'];
let renderSeq = 0;
let signInNotice = '';

// "#/tasks/abc?state=READY" -> {parts: ['tasks','abc'], query: {state:'READY'}}
export function parseHash(hash = location.hash) {
  const text = hash.replace(/^#/, '') || '/tasks';
  const [path, qs = ''] = text.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const query = Object.fromEntries(new URLSearchParams(qs));
  return { parts, query };
}

export function hashFor(path, query = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const qs = q.toString();
  return `#${path}${qs ? `?${qs}` : ''}`;
}

// Changes the route; `replace` keeps the history entry (filters, paging).
export function go(path, query, { replace = false } = {}) {
  const target = hashFor(path, query);
  if (target === location.hash) return;
  if (replace) {
    history.replaceState(null, '', target);
    route();
  } else {
    location.hash = target;
  }
}

function updateTopbar(s, section) {
  const bar = document.getElementById('topbar');
  bar.hidden = !s;
  if (!s) return;
  document.getElementById('who-name').textContent = `${s.user} @ ${s.domain}`;
  const role = document.getElementById('who-role');
  role.textContent = s.role || 'no role';
  role.className = `role role-${s.role}`;
  // Webhooks are the admin's (the API refuses other roles).
  document.getElementById('nav-webhooks').hidden = !canManageWebhooks(s);
  document.getElementById('nav-settings').hidden = !canReadSettings(s);
  for (const a of bar.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

async function route() {
  const seq = ++renderSeq;
  const ctx = {
    alive: () => seq === renderSeq,
    go,
    notice: '',
  };
  const { parts, query } = parseHash();
  const s = session();
  if (!s && parts[0] !== 'signin') {
    const back = location.hash && !location.hash.startsWith('#/signin') ? location.hash : '';
    history.replaceState(null, '', hashFor('/signin', { next: back }));
    return route();
  }
  const section = parts[0] || 'tasks';
  updateTopbar(s, section);
  clear(main);
  const titles = {
    signin: 'Sign in', tasks: 'Tasks', sources: 'Sources', webhooks: 'Webhooks', settings: 'Settings',
  };
  document.title = `${titles[section] || 'Console'} · SMS Consistency`;
  try {
    if (section === 'signin') {
      if (s) return go('/tasks', {}, { replace: true });
      ctx.notice = signInNotice;
      signInNotice = '';
      await renderSignIn(main, ctx, query);
    } else if (!CONSOLE_ROLES.includes(s.role)) {
      // The agent role is sms-agent's: it reads no task.
      main.append(h('div', { class: 'panel', id: 'no-console-role' },
        h('h1', { tabindex: '-1' }, 'This user cannot use the console'),
        h('p', {}, `${s.user} has the role ${s.role || '(none)'}, which is for sms-agent: it registers a `
          + 'source and uploads its runs, and reads no task.'),
        h('p', {}, 'Sign out and sign in as a user with the admin, operator or viewer role.')));
    } else if (section === 'sources') {
      await renderSources(main, ctx, query);
    } else if (section === 'settings' && parts.length === 1) {
      await renderSettings(main, ctx);
    } else if (section === 'webhooks' && parts.length === 1) {
      await renderWebhooks(main, ctx);
    } else if (section === 'webhooks' && parts.length === 2) {
      await renderWebhook(main, ctx, parts[1]);
    } else if (section === 'tasks' && parts.length === 1) {
      await renderTasks(main, ctx, query);
    } else if (section === 'tasks' && parts.length === 2) {
      await renderTask(main, ctx, parts[1], query);
    } else if (section === 'tasks' && parts.length === 4 && parts[2] === 'runs') {
      await renderRun(main, ctx, parts[1], parts[3], query);
    } else if (section === 'tasks' && parts.length === 5 && parts[2] === 'runs' && parts[4] === 'changes') {
      await renderChanges(main, ctx, parts[1], parts[3], query);
    } else {
      throw new ApiError(404, '', 'No such page.');
    }
  } catch (err) {
    if (!ctx.alive()) return;
    if (err && (err.code === 'SMS.9001' || err.code === 'SMS.9002')) return;
    clear(main);
    // Trying again helps when the server did not answer or failed, not
    // when it refused or found nothing.
    const retryable = !(err instanceof ApiError) || err.status === 0 || err.status === 429
      || err.status >= 500;
    main.append(errorBox(err), h('p', { class: 'actions' },
      retryable ? h('button', { type: 'button', class: 'btn', id: 'page-retry', onclick: () => route() }, 'Try again') : null,
      h('a', { href: '#/tasks' }, '‹ Back to the tasks')));
    document.title = 'Error · SMS Consistency';
    const retry = document.getElementById('page-retry');
    if (retry) retry.focus();
    // An API refusal is shown above; anything else is a bug in the page.
    if (!(err instanceof ApiError)) console.error('console: page failed', err);
  }
}

document.getElementById('sign-out').addEventListener('click', async () => {
  await signOut();
  document.getElementById('toast').className = 'toast';
  signInNotice = 'You are signed out.';
  go('/signin');
});

setUnauthenticatedHandler(() => {
  signInNotice = 'Your session has ended. Please sign in again.';
  go('/signin', { next: location.hash.startsWith('#/signin') ? '' : location.hash });
});

// The skip link moves the focus to the page; as a plain "#main" link it
// would change the route (the hash) to a page that does not exist.
document.querySelector('.skip-link').addEventListener('click', (ev) => {
  ev.preventDefault();
  main.focus();
});

window.addEventListener('hashchange', route);
route();
