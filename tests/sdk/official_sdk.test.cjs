// sms-server driven by the vendor's own client code: the Huawei Cloud
// Node.js SDK core (@huaweicloud/huaweicloud-sdk-core), which every
// generated service client, the SMS one included, sends its requests
// through. It signs with AK/SK (SDK-HMAC-SHA256, GlobalCredentials with
// X-Domain-Id, as the global SMS service is called) and turns error bodies
// into exceptions; these tests make the same calls the generated SMS client
// makes (method, path template, path and query parameters, content type) and
// check what the SDK hands back.
//
// Run by tests/sdk/run.sh BUILD_DIR (ctest: sdk_official_node, on SQLite;
// sdk_official_node_pg, on a database of its own in the throw-away
// PostgreSQL cluster, with the key file that admin and server share, as
// replicas do). Everything stays on loopback: the credentials carry the
// domain id, so the SDK never asks IAM for it.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { GlobalCredentials } = require('@huaweicloud/huaweicloud-sdk-core');
const { ClientBuilder } = require('@huaweicloud/huaweicloud-sdk-core/ClientBuilder');

const server = process.env.SMS_SERVER;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sms-sdk-'));
// PostgreSQL (SMS_SDK_ON_PG=1, under tests/support/pg.sh exec): a fresh
// database, and SKs sealed under a key file given to admin and serve.
const onPg = process.env.SMS_SDK_ON_PG === '1';
const pgName = `sms_sdk_${process.pid}`;
const db = onPg
  ? process.env.SMS_TEST_PG_URL.replace(/\/[^/]*$/, `/${pgName}`)
  : `sqlite:${work}/sms.db`;
const keyFile = path.join(work, 'sk.key');
const env = { ...process.env, SMS_PBKDF2_ITERATIONS: '1000' };
if (onPg) env.SMS_SECRET_KEY_FILE = keyFile;

function psql(sql, dsn = process.env.SMS_TEST_PG_DSN) {
  return execFileSync('psql', ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', dsn, '-c', sql])
    .toString().trim();
}
let proc;
let endpoint;
let domainId;
const creds = {};

function admin(args, input = '') {
  return execFileSync(server, ['admin', '--db', db, ...args], { input, env })
    .toString().trim();
}

// A client as a generated service client builds one.
function client({ ak, sk }, domain = domainId) {
  const credential = new GlobalCredentials().withAk(ak).withSk(sk).withDomainId(domain);
  return new ClientBuilder((hc) => hc, 'GlobalCredentials')
    .withCredential(credential)
    .withEndpoint(endpoint)
    .build();
}

// One API call, shaped as the generated SmsClient shapes it.
function call(hc, method, url, { pathParams = {}, queryParams = {}, data, json = true } = {}) {
  const options = { method, url, queryParams, pathParams, headers: {} };
  if (json) options.contentType = 'application/json;charset=UTF-8';
  if (data !== undefined) options.data = data;
  return hc.sendRequest(options);
}

// The SDK's exception for a failed call.
async function failure(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  assert.fail('the call succeeded');
}

before(async () => {
  if (onPg) {
    psql(`DROP DATABASE IF EXISTS ${pgName}`);
    psql(`CREATE DATABASE ${pgName}`);
    fs.writeFileSync(keyFile, require('node:crypto').randomBytes(32).toString('hex') + '\n',
      { mode: 0o600 });
  }
  domainId = admin(['create-domain', 'acme']);
  admin(['create-user', '--domain', 'acme', '--name', 'alice', '--role', 'admin'], 'pw-alice-123456\n');
  admin(['create-user', '--domain', 'acme', '--name', 'agent1', '--role', 'agent'], 'pw-agent-123456\n');
  for (const user of ['alice', 'agent1']) {
    const [ak, sk] = admin(['create-credential', '--domain', 'acme', '--user', user]).split(/\s+/);
    creds[user] = { ak, sk };
  }
  const log = path.join(work, 'server.log');
  proc = spawn(server, ['serve', '--listen', '127.0.0.1:0', '--db', db], {
    stdio: ['ignore', 'ignore', fs.openSync(log, 'w')],
    env,
  });
  for (let i = 0; i < 100 && !endpoint; i++) {
    const m = fs.readFileSync(log, 'utf8').match(/"address":"(127\.0\.0\.1:\d+)"/);
    if (m) endpoint = `http://${m[1]}`;
    else await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(endpoint, `sms-server did not start: ${fs.readFileSync(log, 'utf8')}`);
});

let undone = false;
after(async () => {
  if (proc) {
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await exited;
  }
  if (onPg) psql(`DROP DATABASE IF EXISTS ${pgName} WITH (FORCE)`);
  fs.rmSync(work, { recursive: true, force: true });
  undone = true;
});

// Every other way out (an interrupted run skips `after`): the server
// killed, the database dropped, the work directory removed.
process.on('exit', () => {
  if (undone) return;
  if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  if (onPg) {
    try {
      psql(`DROP DATABASE IF EXISTS ${pgName} WITH (FORCE)`);
    } catch {
      // the cluster may be gone already
    }
  }
  fs.rmSync(work, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => process.exit(128 + os.constants.signals[sig]));
}

test('the SKs admin issued are stored sealed', { skip: !onPg && 'checked on PostgreSQL' }, () => {
  const dsn = process.env.SMS_TEST_PG_DSN.replace(/dbname=\S+/, `dbname=${pgName}`);
  for (const user of ['alice', 'agent1']) {
    const stored = psql(`SELECT secret_key FROM credentials WHERE access_key = '${creds[user].ak}'`, dsn);
    assert.match(stored, /^sealed:v1:/);
    assert.ok(!stored.includes(creds[user].sk));
  }
});

test('the SDK registers a source, creates a task, uploads and reads the result', async () => {
  const agent = client(creds.agent1);
  const alice = client(creds.alice);
  const source = await call(agent, 'POST', '/v3/sources', {
    data: { name: 'db01', hostname: 'db01.example', os_type: 'LINUX' },
  });
  assert.equal(source.httpStatusCode, 200);
  const task = await call(alice, 'POST', '/v3/tasks', {
    data: {
      name: 'migrate db01', type: 'MIGRATE_FILE', os_type: 'LINUX',
      source_server: { id: source.id }, target_server: { name: 'db01-new' },
    },
  });
  assert.equal(task.httpStatusCode, 200);
  const upload = await call(agent, 'POST', '/v3/tasks/{task_id}/consistency-result', {
    pathParams: { task_id: task.id },
    data: {
      finished_time: 1736854315000,
      consistency_result: [{
        dir_check: '/root/sync', num_total_files: 10, num_different_files: 1,
        num_target_miss_files: 2, num_target_more_files: 3,
      }],
    },
  });
  assert.equal(upload.httpStatusCode, 200);

  // ShowConsistencyResult, the original page.
  const got = await call(alice, 'GET', '/v3/tasks/{task_id}/consistency-result', {
    pathParams: { task_id: task.id },
  });
  assert.equal(got.httpStatusCode, 200);
  assert.equal(got.task_id, task.id);
  assert.equal(got.result_list.length, 1);
  const run = got.result_list[0];
  assert.equal(run.finished_time, 1736854315000);
  assert.equal(run.check_result, 'success');
  const dir = run.consistency_result[0];
  assert.equal(dir.dir_check, '/root/sync');
  assert.equal(dir.num_total_files, 10);
  assert.equal(dir.num_different_files, 1);
  assert.equal(dir.num_target_miss_files, 2);
  assert.equal(dir.num_target_more_files, 3);
});

test('query parameters the SDK signs are the ones the server checks', async () => {
  const agent = client(creds.agent1);
  const alice = client(creds.alice);
  const source = await call(agent, 'POST', '/v3/sources', {
    data: { name: 'web01', hostname: 'web01.example', os_type: 'LINUX' },
  });
  const awkward = 'nightly a+b/c & d=é 100%';
  await call(alice, 'POST', '/v3/tasks', {
    data: {
      name: awkward, type: 'MIGRATE_FILE', os_type: 'LINUX',
      source_server: { id: source.id }, target_server: { name: 'web01-new' },
    },
  });
  const list = await call(alice, 'GET', '/v3/tasks', {
    queryParams: { name: awkward, limit: 5, offset: 0 },
  });
  assert.equal(list.httpStatusCode, 200);
  assert.equal(list.count, 1);
  assert.equal(list.tasks[0].name, awkward);
});

test('a GET without a JSON content type is signed over UNSIGNED-PAYLOAD', async () => {
  const alice = client(creds.alice);
  const list = await call(alice, 'GET', '/v3/tasks', { queryParams: { limit: 1 }, json: false });
  assert.equal(list.httpStatusCode, 200);
});

test('errors reach the SDK as its exceptions, with the API error code', async () => {
  const alice = client(creds.alice);
  const missing = await failure(call(alice, 'GET', '/v3/tasks/{task_id}', {
    pathParams: { task_id: '00000000-0000-4000-8000-000000000000' },
  }));
  assert.equal(missing.httpStatusCode, 404);
  assert.equal(missing.errorCode, 'SMS.2252');
  assert.ok(missing.errorMsg);
  assert.match(missing.requestId, /^[0-9a-f-]{36}$/);

  // An agent may not create tasks: 403 with the IAM-style body.
  const forbidden = await failure(call(client(creds.agent1), 'POST', '/v3/tasks', {
    data: { name: 'x', type: 'MIGRATE_FILE', os_type: 'LINUX', source_server: { id: 'y' } },
  }));
  assert.equal(forbidden.httpStatusCode, 403);
  assert.equal(forbidden.errorCode, 'SMS.9004');
  assert.equal(typeof forbidden.encodedAuthorizationMessage, 'string');

  // A wrong SK, and a domain id that is not the credential's.
  const badKey = await failure(call(client({ ak: creds.alice.ak, sk: 'not-the-secret' }),
    'GET', '/v3/tasks', {}));
  assert.equal(badKey.httpStatusCode, 403);  // API.md §1: authentication fails with 403
  assert.equal(badKey.errorCode, 'SMS.9003');
  const otherDomain = await failure(call(client(creds.alice, '11111111-1111-4111-8111-111111111111'),
    'GET', '/v3/tasks', {}));
  assert.equal(otherDomain.httpStatusCode, 403);
  assert.equal(otherDomain.errorCode, 'SMS.9003');
});
