// Seeds a running sms-server through its API, as its real clients would: an
// agent registers sources and uploads runs with file details; an operator
// creates and configures tasks. Returns what the browser tests expect.
import { randomUUID } from 'node:crypto';

export class Client {
  constructor(base) {
    this.base = base.replace(/\/$/, '');
    this.token = '';
  }

  async login(domain, user, password) {
    const resp = await fetch(`${this.base}/v3/auth/tokens`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: { methods: ['password'], password: { user: { name: user, password, domain: { name: domain } } } },
          scope: { domain: { name: domain } },
        },
      }),
    });
    if (resp.status !== 201) throw new Error(`login ${user}: ${resp.status} ${await resp.text()}`);
    this.token = resp.headers.get('x-subject-token');
    return this;
  }

  async call(method, path, body, { expect = [200, 201, 204] } = {}) {
    const resp = await fetch(`${this.base}${path}`, {
      method,
      headers: {
        'X-Auth-Token': this.token,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await resp.text();
    if (!expect.includes(resp.status)) throw new Error(`${method} ${path}: ${resp.status} ${text}`);
    return { status: resp.status, body: text ? JSON.parse(text) : null };
  }
}

const HOUR = 3600 * 1000;

export function dir(dirCheck, total, different = 0, miss = 0, more = 0, extra = {}) {
  return {
    dir_check: dirCheck,
    num_total_files: total,
    num_different_files: different,
    num_target_miss_files: miss,
    num_target_more_files: more,
    num_changed_files: 0,
    num_error_files: 0,
    num_metadata_different_files: 0,
    num_bytes_verified: total * 48 * 1024,
    ...extra,
  };
}

function fileDiff(dirCheck, path, status, i, now) {
  const side = (salt, grow = 0) => ({
    type: 'file', size: 40960 + i * 1733 + grow, mtime: now - 5 * HOUR + i * 1000, mode: 0o644, uid: 1000, gid: 1000,
    hash: `${((i + 1) * 2654435761 + salt * 40503).toString(16).padStart(8, '0')}9f1c2e7a5b3d8c4e6f0a1b2c3d4e5f60`.slice(0, 32),
  });
  const f = { dir_check: dirCheck, path, status };
  if (status === 'different') {
    const bySize = i % 3 === 0;
    f.reason = bySize ? 'size' : 'content';
    f.source = side(0);
    f.target = side(1, bySize ? -512 : 0);
  }
  if (status === 'target_miss') f.source = side(0);
  if (status === 'target_more') f.target = side(3);
  return f;
}

export async function uploadRun(agent, taskId, run, files = []) {
  const runId = randomUUID();
  for (let seq = 0; seq * 10000 < files.length; seq += 1) {
    await agent.call('POST', `/v3/tasks/${taskId}/consistency-result/details`,
      { run_id: runId, seq, files: files.slice(seq * 10000, (seq + 1) * 10000) });
  }
  await agent.call('POST', `/v3/tasks/${taskId}/consistency-result`, { run_id: runId, ...run });
  return runId;
}

// users: {domain, operator:[name,pw], agent:[name,pw]}
export async function seed(base, users) {
  const now = Date.now();
  const agent = await new Client(base).login(users.domain, ...users.agent);
  const op = await new Client(base).login(users.domain, ...users.operator);

  const web = (await agent.call('POST', '/v3/sources', {
    name: 'web-01', hostname: 'web-01.example.internal', ip: '10.0.0.11', os_type: 'LINUX',
    os_version: 'Debian 12', agent_version: '0.3.0',
  })).body.id;
  const db = (await agent.call('POST', '/v3/sources', {
    name: 'db-01', hostname: 'db-01.example.internal', ip: '10.0.0.21', os_type: 'LINUX',
    os_version: 'Debian 12', agent_version: '0.2.9',
  })).body.id;
  await agent.call('GET', `/v3/sources/${web}/command`); // heartbeat: web-01 is connected

  const task = async (name, sourceId, target) => (await op.call('POST', '/v3/tasks', {
    name, type: 'MIGRATE_FILE', os_type: 'LINUX', source_server: { id: sourceId },
    target_server: { name: target, ip: '10.1.0.11', verify_uri: `ssh://verify@${target}:22/` },
    is_need_consistency_check: true,
  })).body.id;

  const batch = [];
  for (let i = 1; i <= 22; i += 1) {
    batch.push(await task(`batch-${String(i).padStart(2, '0')}`, i % 2 ? web : db, `batch-${i}-new`));
  }
  const srv = await task('web-01 /srv', web, 'web-01-new');
  const etc = await task('web-01 /etc', web, 'web-01-new');
  const pg = await task('db-01 /var/lib/postgresql', db, 'db-01-new');
  await op.call('POST', `/v3/tasks/${srv}/configuration-setting`, {
    configurations: [
      { config_key: 'CONSISTENCY_DIR', config_value: '/srv/www,/srv/data,/srv/logs' },
      { config_key: 'CONSISTENCY_MODE', config_value: 'hash' },
      { config_key: 'CONSISTENCY_EXCLUDE', config_value: '*.tmp,cache/**' },
    ],
  });
  await op.call('POST', `/v3/tasks/${etc}/configuration-setting`, {
    configurations: [{ config_key: 'CONSISTENCY_DIR', config_value: '/etc' }],
  });

  // web-01 /srv: four runs, the newest with 130 different files in /srv/data.
  const base3 = (d, m, x) => [dir('/srv/www', 1840, 2), dir('/srv/data', 52311, d, m, x), dir('/srv/logs', 310)];
  await uploadRun(agent, srv, {
    check_result: 'failed', error_msg: 'ssh: connect to host web-01-new port 22: Connection refused',
    started_time: now - 72 * HOUR, finished_time: now - 72 * HOUR + 5000, mode: 'hash', hash_algorithm: 'xxh128',
    consistency_result: [],
  });
  await uploadRun(agent, srv, {
    check_result: 'success', started_time: now - 48 * HOUR, finished_time: now - 48 * HOUR + 600000,
    mode: 'hash', hash_algorithm: 'xxh128', consistency_result: base3(1200, 340, 15),
  });
  await uploadRun(agent, srv, {
    check_result: 'success', started_time: now - 24 * HOUR, finished_time: now - 24 * HOUR + 540000,
    mode: 'hash', hash_algorithm: 'xxh128', consistency_result: base3(410, 60, 7),
  });
  const files = [];
  for (let i = 0; i < 130; i += 1) files.push(fileDiff('/srv/data', `uploads/2026/11/img-${String(i).padStart(4, '0')}.jpg`, 'different', i, now));
  for (let i = 0; i < 12; i += 1) files.push(fileDiff('/srv/data', `exports/report-${i}.csv`, 'target_miss', i, now));
  for (let i = 0; i < 3; i += 1) files.push(fileDiff('/srv/data', `stale/old-${i}.bin`, 'target_more', i, now));
  files.push(fileDiff('/srv/www', 'index.html', 'different', 1, now), fileDiff('/srv/www', 'app.js', 'different', 2, now));
  const srvLatest = await uploadRun(agent, srv, {
    check_result: 'success', started_time: now - 2 * HOUR, finished_time: now - 2 * HOUR + 480000,
    mode: 'hash', hash_algorithm: 'xxh128', consistency_result: base3(130, 12, 3),
  }, files);

  await uploadRun(agent, etc, {
    check_result: 'success', started_time: now - 3 * HOUR, finished_time: now - 3 * HOUR + 20000,
    mode: 'hash', hash_algorithm: 'xxh128', consistency_result: [dir('/etc', 1203)],
  });
  await uploadRun(agent, pg, {
    check_result: 'failed', error_msg: 'target unreachable: ssh exited with status 255',
    started_time: now - 1 * HOUR, finished_time: now - 1 * HOUR + 3000, consistency_result: [],
  });
  for (const [i, id] of batch.entries()) {
    if (i % 3 === 2) continue; // some tasks have not run yet
    await uploadRun(agent, id, {
      check_result: 'success', started_time: now - (i + 4) * HOUR, finished_time: now - (i + 4) * HOUR + 60000,
      mode: i % 2 ? 'quick' : 'hash', consistency_result: [dir(`/data/b${i}`, 1000 + i * 37, i % 4 === 0 ? i : 0)],
    });
  }
  return {
    sources: { web, db },
    tasks: { srv, etc, pg, batch },
    srvLatest,
    taskCount: 3 + batch.length,
  };
}

// The task of the changes tests (changes.test.mjs): app-01 /data, three runs
// of /data and /logs whose differences move between them.
//   full  (72 h ago): a, b, c different, m1 missing
//   next  (24 h ago): b, c, d different, m1 missing, 40 new files in batch/
//                     -> vs full: a resolved; b, c, m1 persisting; 41 new
//   check (1 h ago):  a re-check of the inconsistent files (scope
//                     inconsistent): only c still different
//                     -> vs next: c persisting; 43 resolved
export async function seedChanges(base, users) {
  const now = Date.now();
  const agent = await new Client(base).login(users.domain, ...users.agent);
  const op = await new Client(base).login(users.domain, ...users.operator);
  const source = (await agent.call('POST', '/v3/sources', {
    name: 'app-01', hostname: 'app-01.example.internal', ip: '10.0.0.31', os_type: 'LINUX',
    os_version: 'Debian 12', agent_version: '0.3.0',
  })).body.id;
  const task = (await op.call('POST', '/v3/tasks', {
    name: 'app-01 /data', type: 'MIGRATE_FILE', os_type: 'LINUX', source_server: { id: source },
    target_server: { name: 'app-01-new', ip: '10.1.0.31', verify_uri: 'ssh://verify@app-01-new:22/' },
    is_need_consistency_check: true,
  })).body.id;
  const diff = (path, status, i) => fileDiff('/data', path, status, i, now);
  const batch = [];
  for (let i = 0; i < 40; i += 1) batch.push(diff(`batch/f-${String(i).padStart(2, '0')}.dat`, 'different', 10 + i));
  const full = await uploadRun(agent, task, {
    check_result: 'success', started_time: now - 72 * HOUR, finished_time: now - 72 * HOUR + 60000,
    mode: 'hash', hash_algorithm: 'xxh128', consistency_result: [dir('/data', 900, 3, 1), dir('/logs', 40)],
  }, [diff('a.txt', 'different', 1), diff('b.txt', 'different', 2), diff('c.txt', 'different', 3),
    diff('m1.txt', 'target_miss', 4)]);
  const next = await uploadRun(agent, task, {
    check_result: 'success', started_time: now - 24 * HOUR, finished_time: now - 24 * HOUR + 60000,
    mode: 'hash', hash_algorithm: 'xxh128', consistency_result: [dir('/data', 940, 43, 1), dir('/logs', 41)],
  }, [diff('b.txt', 'different', 2), diff('c.txt', 'different', 3), diff('d.txt', 'different', 5),
    diff('m1.txt', 'target_miss', 4), ...batch]);
  const check = await uploadRun(agent, task, {
    check_result: 'success', scope: 'inconsistent', base_run_id: next, started_time: now - 1 * HOUR, finished_time: now - 1 * HOUR + 5000,
    mode: 'hash', hash_algorithm: 'xxh128', consistency_result: [dir('/data', 44, 1), dir('/logs', 0)],
  }, [diff('c.txt', 'different', 3)]);
  return { task, runs: { full, next, check } };
}

// A task for the webhook tests (webhooks.test.mjs): hook-01 /srv, with no
// run yet; upload(run) commits one through the agent and returns its id.
export async function seedWebhookTask(base, users) {
  const agent = await new Client(base).login(users.domain, ...users.agent);
  const op = await new Client(base).login(users.domain, ...users.operator);
  const source = (await agent.call('POST', '/v3/sources', {
    name: 'hook-01', hostname: 'hook-01.example.internal', ip: '10.0.0.41', os_type: 'LINUX',
    os_version: 'Debian 12', agent_version: '0.3.0',
  })).body.id;
  const task = (await op.call('POST', '/v3/tasks', {
    name: 'hook-01 /srv', type: 'MIGRATE_FILE', os_type: 'LINUX', source_server: { id: source },
    target_server: { name: 'hook-01-new', ip: '10.1.0.41', verify_uri: 'ssh://verify@hook-01-new:22/' },
    is_need_consistency_check: true,
  })).body.id;
  const upload = (differences) => {
    const now = Date.now();
    return uploadRun(agent, task, {
      check_result: 'success', started_time: now - 60000, finished_time: now, mode: 'hash',
      consistency_result: [dir('/srv', 100, differences)],
    });
  };
  return { task, upload };
}
