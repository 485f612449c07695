// The REST client: the token lives in sessionStorage only (gone when the tab
// closes); every call goes to the server that served this page.

const TOKEN_KEY = 'sms.console.token';
const IDENTITY_KEY = 'sms.console.identity';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.code = code || '';
  }
}

// The server did not answer at all (stopped, unreachable, connection
// reset): an ApiError with status 0, so the pages show it as they show a
// refusal, with what to do.
export const NETWORK_ERROR = 'NETWORK';

async function send(url, init) {
  try {
    return await fetch(url, init);
  } catch (err) {
    throw new ApiError(0, NETWORK_ERROR,
      `The server does not answer (${err && err.message ? err.message : 'network error'}): `
      + 'check that sms-server is running and this machine reaches it, then try again.');
  }
}

let onUnauthenticated = () => {};

// Called when the server no longer accepts our token (SMS.9001/9002).
export function setUnauthenticatedHandler(fn) {
  onUnauthenticated = fn;
}

export function session() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const raw = sessionStorage.getItem(IDENTITY_KEY);
  if (!token || !raw) return null;
  try {
    return { token, ...JSON.parse(raw) };
  } catch {
    return null;
  }
}

// What the signed-in identity may do (API.md §2 roles).
export function canWrite(s = session()) {
  return Boolean(s) && (s.role === 'admin' || s.role === 'operator');
}

function base() {
  // /console/ is served beside /v3 by the same server.
  return '';
}

async function errorFrom(resp) {
  let code = '';
  let msg = `${resp.status} ${resp.statusText}`;
  try {
    const body = await resp.json();
    code = body.error_code || '';
    msg = body.error_msg || msg;
  } catch {
    // not JSON: keep the status line
  }
  if (resp.status === 429) {
    const after = resp.headers.get('Retry-After');
    if (after) msg += ` (retry in ${after} s)`;
  }
  return new ApiError(resp.status, code, msg);
}

// request('GET', '/v3/tasks', {query: {limit: 20}}) -> parsed JSON
export async function request(method, path, { query, body, accept, raw } = {}) {
  const s = session();
  const headers = { Accept: accept || 'application/json' };
  if (s) headers['X-Auth-Token'] = s.token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let url = base() + path;
  if (query) {
    // encodeURIComponent, not URLSearchParams: a space must go as %20, since
    // '+' is a literal plus in the API's query strings.
    const qs = Object.entries(query)
      .filter(([, v]) => v !== undefined && v !== null && v !== '')
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
      .join('&');
    if (qs) url += `?${qs}`;
  }
  const resp = await send(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
  });
  if (!resp.ok) {
    const err = await errorFrom(resp);
    // Only the first refusal of a session ends it: a page asks several
    // things at once, and the others must not send to sign-in again (that
    // lost the page to return to, and the notice why).
    if (s && session() && session().token === s.token
      && (err.code === 'SMS.9001' || err.code === 'SMS.9002')) {
      clearSession();
      onUnauthenticated(err);
    }
    throw err;
  }
  if (raw) return resp;
  if (resp.status === 204) return null;
  const text = await resp.text();
  return text ? JSON.parse(text) : null;
}

function clearSession() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(IDENTITY_KEY);
}

export async function signIn(domain, user, password) {
  const resp = await send(`${base()}/v3/auth/tokens`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: user, password, domain: { name: domain } } },
        },
        scope: { domain: { name: domain } },
      },
    }),
    cache: 'no-store',
  });
  if (!resp.ok) throw await errorFrom(resp);
  const token = resp.headers.get('X-Subject-Token');
  const body = await resp.json();
  if (!token || !body || !body.token) {
    throw new ApiError(resp.status, '', 'The server sent no token.');
  }
  const t = body.token;
  const roles = (t.roles || []).map((r) => r.name);
  const role = ['admin', 'operator', 'viewer', 'agent'].find((r) => roles.includes(r)) || '';
  const identity = {
    user: t.user ? t.user.name : user,
    domain: (t.domain && t.domain.name) || (t.user && t.user.domain && t.user.domain.name) || domain,
    role,
    expiresAt: t.expires_at || '',
  };
  sessionStorage.setItem(TOKEN_KEY, token);
  sessionStorage.setItem(IDENTITY_KEY, JSON.stringify(identity));
  return { token, ...identity };
}

export async function signOut() {
  const s = session();
  clearSession();
  if (!s) return;
  try {
    await fetch(`${base()}/v3/auth/tokens`, {
      method: 'DELETE',
      headers: { 'X-Subject-Token': s.token, 'X-Auth-Token': s.token },
      cache: 'no-store',
    });
  } catch {
    // The local session is gone either way; the token expires on its own.
  }
}

// --- the endpoints the console uses ---

export const api = {
  listTasks: (query) => request('GET', '/v3/tasks', { query }),
  showTask: (id) => request('GET', `/v3/tasks/${encodeURIComponent(id)}`),
  listSources: (query) => request('GET', '/v3/sources', { query }),
  results: (taskId, limit) => request('GET',
    `/v3/tasks/${encodeURIComponent(taskId)}/consistency-result`, { query: { limit } }),
  // One run however old (the list holds the newest 100): result_list of one.
  result: (taskId, runId) => request('GET',
    `/v3/tasks/${encodeURIComponent(taskId)}/consistency-result`, { query: { run_id: runId } }),
  details: (taskId, query) => request('GET',
    `/v3/tasks/${encodeURIComponent(taskId)}/consistency-result/details`, { query }),
  // What changed between two runs (issue 13.2): query from, to, change,
  // dir_check, limit, marker.
  changes: (taskId, query) => request('GET',
    `/v3/tasks/${encodeURIComponent(taskId)}/consistency-result/changes`, { query }),
  // Webhooks (issue 13.4; admin role).
  listWebhooks: () => request('GET', '/v3/webhooks'),
  showWebhook: (id) => request('GET', `/v3/webhooks/${encodeURIComponent(id)}`),
  createWebhook: (body) => request('POST', '/v3/webhooks', { body }),
  deleteWebhook: (id) => request('DELETE', `/v3/webhooks/${encodeURIComponent(id)}`),
  webhookDeliveries: (id, limit) => request('GET',
    `/v3/webhooks/${encodeURIComponent(id)}/deliveries`, { query: { limit } }),
  // The tenant's consistency settings (issue 13.5; PUT: admin role).
  consistencySettings: () => request('GET', '/v3/consistency-settings'),
  putConsistencySettings: (body) => request('PUT', '/v3/consistency-settings', { body }),
  getConfig: (taskId) => request('GET',
    `/v3/tasks/${encodeURIComponent(taskId)}/configuration-setting`),
  setConfig: (taskId, configurations) => request('POST',
    `/v3/tasks/${encodeURIComponent(taskId)}/configuration-setting`, { body: { configurations } }),
  action: (taskId, operation) => request('POST',
    `/v3/tasks/${encodeURIComponent(taskId)}/action`, { body: { operation } }),
  exportResults: (taskIds, accept, allRuns) => request('POST',
    '/v3/tasks/consistency-results/export', {
      body: { task_info: taskIds.map((id) => ({ task_id: id })) },
      query: allRuns ? { all_runs: 'true' } : undefined,
      accept,
      raw: true,
    }),
};

// The task's newest 100 runs (newest first), with `runId` put last when it is
// older than those (fetched alone: the API's 404 when the task has no such
// run).
export async function runsWith(taskId, runId) {
  const runs = (await api.results(taskId, 100)).result_list || [];
  if (runs.some((r) => r.run_id === runId)) return runs;
  return runs.concat((await api.result(taskId, runId)).result_list || []);
}
