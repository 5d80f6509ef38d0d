import { Queue } from 'bullmq';
import { keys } from '../../indexer/store/keys.js';
import { queueOptions, QUEUES, type IndexStepResult, type IngestJobData } from '../../indexer/pipeline/jobs.js';
import { LocalRedisCluster } from '../../infra/localProcesses.js';
import { createRedis, type RedisClient } from '../../infra/redis.js';
import { ApiClient } from '../support/http.js';
import { spawnService, tempDir, waitUntil, type Spawned } from '../support/processes.js';
import { expectIndexedOnce, shortDocuments, waitForJobs } from './support.js';

/**
 * The whole service on a real Redis Cluster (3 masters + 3 replicas on loopback, AOF everysec): two API
 * processes (one API-only, one running its worker child) and a stand-alone worker ingest 1,000 documents into
 * 5 collections spread over every shard, while the stand-alone worker is SIGKILLed and restarted and the master
 * holding the queues (and at least one collection) is SIGKILLed so its replica takes over; the fifth collection is
 * submitted during the failover by a client that retries what is not acknowledged. Writes wait for one replica
 * (REDIS_WAIT_REPLICAS=1) before they are acknowledged.
 */
const PER_COLLECTION = 200;
const N = 5 * PER_COLLECTION;
const QUERIES = ['zx17q', 'colour amber', 'filed on day 42', 'record mentions the token'];

let cluster: LocalRedisCluster;
let redis: RedisClient;
let indexQueue: Queue<IngestJobData, IndexStepResult>;
let env: Record<string, string>;
const services: Spawned[] = [];
let apiA: ApiClient;
let apiB: ApiClient;
let collections: string[];

async function start(entry: string, extra: Record<string, string>, waitFor: 'ready' | 'listening'): Promise<Spawned> {
  // Each service leads its own process group: stopping it also stops a worker child it forked.
  const s = await spawnService(entry, { ...env, DATA_DIR: tempDir('cl-data'), ...extra }, waitFor, 240_000, { processGroup: true });
  services.push(s);
  return s;
}

/** Five collection names whose hash tags put at least one collection on every master (so one shares the queues' master). */
async function collectionsOnEveryShard(): Promise<string[]> {
  const chosen: string[] = [];
  const masters = new Set<string>();
  for (let i = 0; chosen.length < 5; i++) {
    const name = `notes-${i}`;
    const m = (await cluster.masterFor(`{${name}}`)).id;
    if (!masters.has(m) || masters.size === 3) {
      chosen.push(name);
      masters.add(m);
    }
  }
  expect(masters.has((await cluster.masterFor('{rag}')).id)).toBe(true);
  return chosen;
}

const indexedTotal = async () => (await Promise.all(collections.map((c) => redis.zcard(keys.docs(c))))).reduce((a, b) => a + b, 0);

/** The documents whose index job had completed (the write acknowledged), as `collection/id`, by job id. */
async function acknowledgedDocuments(documentOfJob: Map<string, string>): Promise<Set<string>> {
  return new Set((await indexQueue.getRanges(['completed'], 0, -1)).map((id) => documentOfJob.get(id)!));
}

/**
 * Submit like a client that retries what the service could not acknowledge (503 with Retry-After while the
 * queues' shard has no replica, or an error while the cluster fails over): ingestion is idempotent.
 */
async function submitRetrying(api: ApiClient, collection: string, documents: unknown[], statuses: number[]): Promise<{ documentIds: string[]; jobIds: string[] }> {
  const end = Date.now() + 240_000;
  for (;;) {
    const res = await api.post(`/v1/collections/${collection}/documents`, { documents }).catch(() => ({ status: 0, body: null, headers: new Headers() }));
    statuses.push(res.status);
    if (res.status === 202) return res.body;
    expect([0, 500, 503]).toContain(res.status);
    if (Date.now() > end) throw new Error(`ingest into ${collection} not accepted within 240 s: ${statuses.join(',')}`);
    await new Promise((r) => setTimeout(r, 1000 * Number(res.headers.get('retry-after') ?? 1)));
  }
}

/**
 * How far a replica trailed its master just before the crash, in bytes of replication stream: the master's offset,
 * then the replica's own (read right after, so a trailing replica shows a positive gap; writes in between can
 * even make it negative). Writes in that gap had not reached the replica and were, with WAIT, not acknowledged.
 */
async function replicationGapBytes(masterPort: number, replicaPort: number): Promise<number> {
  const master = Number(/master_repl_offset:(\d+)/.exec(await cluster.onNode(masterPort, (r) => r.info('replication')))?.[1]);
  const replica = Number(/slave_repl_offset:(\d+)/.exec(await cluster.onNode(replicaPort, (r) => r.info('replication')))?.[1]);
  return master - replica;
}

beforeAll(async () => {
  cluster = await LocalRedisCluster.start({ dir: tempDir('cluster'), nodeTimeoutMs: 1500, timeoutMs: 60_000 });
  redis = createRedis({ kind: 'cluster', nodes: cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })) });
  redis.on('error', () => undefined);
  indexQueue = new Queue(QUEUES.index, queueOptions(redis));
  collections = await collectionsOnEveryShard();
  env = {
    REDIS_CLUSTER_NODES: cluster.seedList,
    // Offline USE-lite embedder, no generator: this test is about state and processes, not models.
    EMBEDDING_MODEL: 'use-lite',
    GENERATOR_MODEL: 'absent/model',
    PREFILL_ON_INGEST: 'false',
    PORT: '0',
    HOST: '127.0.0.1',
    SNAPSHOT_INTERVAL_MS: '0',
    JOB_LOCK_MS: '3000',
    // A shard whose master died has no replica until the old master rejoins: index writes there are retried.
    JOB_ATTEMPTS: '12',
    REDIS_WAIT_REPLICAS: '1',
    REDIS_WAIT_TIMEOUT_MS: '1000',
    SHUTDOWN_TIMEOUT_MS: '5000',
    ORT_INTRA_OP_THREADS: '1',
  };
  const [a, b] = await Promise.all([
    start('services/main.js', { RUN_WORKERS: 'false' }, 'listening'),
    start('services/main.js', { RUN_WORKERS: 'true' }, 'listening'),
  ]);
  apiA = new ApiClient(`http://127.0.0.1:${a.port}`);
  apiB = new ApiClient(`http://127.0.0.1:${b.port}`);
}, 400_000);

afterAll(async () => {
  await Promise.all(services.map((s) => s.kill('SIGKILL')));
  await indexQueue?.close();
  redis?.disconnect();
  await cluster?.stop();
});

it('1,000 documents over 5 collections survive a worker SIGKILL and a master failover: indexed exactly once, no acknowledged write lost, both APIs agree', async () => {
  const victim = await cluster.masterFor('{rag}');
  const replica = (await cluster.topology()).find((n) => n.masterId === victim.id)!;
  let worker = await start('services/workers/main.js', {}, 'ready');
  const docsOf = (c: string) => shortDocuments(PER_COLLECTION, `${c}-d`);
  const jobIds: string[] = [];
  const documentOfJob = new Map<string, string>();
  const accepted = (c: string, body: { documentIds: string[]; jobIds: string[] }) => {
    jobIds.push(...body.jobIds);
    body.jobIds.forEach((id, i) => documentOfJob.set(id, `${c}/${body.documentIds[i]}`));
  };
  // Four collections now; the fifth is submitted while the master fails over, so work always spans the failover.
  const [late, ...early] = [...collections].reverse();
  for (const [i, c] of early.entries()) {
    const res = await (i % 2 ? apiB : apiA).post(`/v1/collections/${c}/documents`, { documents: docsOf(c) });
    expect(res.status).toBe(202);
    accepted(c, res.body);
  }

  // 1. A worker crash mid-way; its jobs are handed back after JOB_LOCK_MS, and it is started again.
  await waitUntil(async () => (await indexedTotal()) >= 200, 300_000, '200 documents indexed', 100);
  await worker.kill('SIGKILL');
  services.splice(services.indexOf(worker), 1);
  worker = await start('services/workers/main.js', {}, 'ready');

  // 2. The master serving the queues (and a collection) crashes; its replica takes over.
  await waitUntil(async () => (await indexedTotal()) >= 450, 300_000, '450 documents indexed', 100);
  const acknowledged = await acknowledgedDocuments(documentOfJob);
  const gapBytes = await replicationGapBytes(victim.port, replica.port);
  const appliedAtKill = await indexedTotal();
  const killedAt = Date.now();
  await cluster.stopNode(victim.port, 'SIGKILL');
  expect(acknowledged.size).toBeGreaterThan(200);
  const lateStatuses: number[] = [];
  const lateSubmission = submitRetrying(apiB, late!, docsOf(late!), lateStatuses);

  // 3. The replica is promoted; readiness drops and comes back by itself on both APIs, reporting a healthy cluster.
  const sawNotReady = new Set<ApiClient>();
  const poll = async (api: ApiClient) => {
    const r = await api.get('/readyz').catch(() => ({ status: 0, body: null }));
    if (r.status !== 200) sawNotReady.add(api);
    return r;
  };
  await waitUntil(
    async () => {
      await Promise.all([apiA, apiB].map(poll));
      return (await cluster.topology()).find((n) => n.id === replica.id)?.role === 'master';
    },
    60_000,
    'the replica promoted',
    200,
  );
  const readyAgainMs = new Map<ApiClient, number>();
  await waitUntil(
    async () => {
      for (const api of [apiA, apiB].filter((x) => !readyAgainMs.has(x))) {
        const r = await poll(api);
        if (r.status !== 200) continue;
        expect(r.body.details.redis).toMatchObject({ ready: true, mode: 'cluster', state: 'ok', slotsOk: 16384, masters: 3, mastersReachable: 3 });
        readyAgainMs.set(api, Date.now() - killedAt);
      }
      return readyAgainMs.size === 2;
    },
    120_000,
    'both APIs ready again after the failover',
    200,
  );
  // Each API routed to the dead master until the promotion: at least one probe saw it not ready.
  expect(sawNotReady.size).toBeGreaterThan(0);

  // 4. The old master is restarted on its files and rejoins as a replica of the promoted one.
  await cluster.startNode(victim.port);
  await cluster.waitHealthy(120_000);
  const rejoined = (await cluster.topology()).find((n) => n.id === victim.id);
  expect(rejoined).toMatchObject({ role: 'replica', masterId: replica.id });

  accepted(late!, await lateSubmission);
  expect(new Set(jobIds).size).toBe(N);
  await waitForJobs(apiA, jobIds, 400_000);
  process.stderr.write(
    `cluster failover: ${JSON.stringify({ acknowledgedBeforeKill: acknowledged.size, appliedAtKill, replicationGapBytesAtKill: gapBytes, readyAgainMs: [...readyAgainMs.values()], apisSeenNotReady: sawNotReady.size, lateSubmissionStatuses: lateStatuses })}\n`,
  );

  // 5. Every document indexed exactly once: one 'add' per chunk in each collection's change log, nothing else.
  for (const c of collections) await expectIndexedOnce(redis, c, PER_COLLECTION);

  // 6. No acknowledged write was lost: each document acknowledged before the crash is stored with all its chunks.
  for (const ack of acknowledged) {
    const [c, id] = ack.split('/') as [string, string];
    const meta = await redis.hget(keys.doc(c, id), 'meta');
    expect(meta).not.toBeNull();
    const chunkIds: string[] = JSON.parse(meta!).chunkIds;
    expect(chunkIds.length).toBeGreaterThan(0);
    for (const chunkId of chunkIds) expect(await redis.exists(keys.chunk(c, chunkId))).toBe(1);
  }

  // 7. Both API processes return identical search results, and the right ones.
  for (const c of collections) {
    for (const query of QUERIES) {
      for (const mode of ['bm25', 'dense', 'hybrid']) {
        const [a, b] = await Promise.all([apiA, apiB].map((api) => api.post('/v1/search', { collection: c, query, k: 5, mode })));
        expect(a!.status).toBe(200);
        expect(a!.body.hits.length).toBeGreaterThan(0);
        expect(b!.body.hits).toEqual(a!.body.hits);
      }
    }
    const hit = await apiB.post('/v1/search', { collection: c, query: 'zx177q', k: 1, mode: 'bm25' });
    expect(hit.body.hits[0].documentId).toBe(`${c}-d177`);
    // The rate limiter counted the request in the cluster (it lets requests through without headers when Redis fails).
    expect(Number(hit.headers.get('ratelimit-remaining'))).toBeGreaterThan(0);
  }

  // 8. A deletion through one API disappears from the other's results at once.
  const c0 = collections[0]!;
  expect((await apiA.delete(`/v1/collections/${c0}/documents/${c0}-d177`)).status).toBe(200);
  const after = await apiB.post('/v1/search', { collection: c0, query: 'zx177q', k: 3, mode: 'bm25' });
  expect(after.body.hits.map((h: { documentId: string }) => h.documentId)).not.toContain(`${c0}-d177`);

  // 9. Keys, sessions, the queue inspector and Bull Board work on the cluster, shared by both APIs.
  const created = await apiA.post('/v1/admin/keys', { name: 'cluster-admin', scopes: ['admin'] });
  expect(created.status).toBe(201);
  const key: string = created.body.key;
  // The other API sees the new key in the shared store once its enforcement cache (2 s) lapses.
  await waitUntil(async () => (await apiB.get('/v1/collections')).status === 401, 30_000, 'API B enforcing keys');
  const bearer = { authorization: `Bearer ${key}` };
  expect((await apiB.call('GET', '/v1/collections', undefined, bearer)).body.collections.map((x: { name: string }) => x.name).sort()).toEqual([...collections].sort());
  const session = await apiB.post('/v1/admin/session', { key });
  expect(session.status).toBe(201);
  const cookie = { cookie: session.headers.get('set-cookie')!.split(';')[0]! };
  const ingestion = await apiA.call('GET', '/v1/admin/ingestion', undefined, { ...cookie });
  expect(ingestion.status).toBe(200);
  const indexDepth = ingestion.body.queues.find((q: { queue: string }) => q.queue === QUEUES.index);
  expect(indexDepth.counts.completed).toBe(N);
  const board = await fetch(`${apiB.base}/admin/queues/api/queues`, { headers: cookie });
  expect(board.status).toBe(200);
  const boardQueues = ((await board.json()) as { queues: { name: string }[] }).queues.map((q) => q.name);
  expect(boardQueues).toEqual(expect.arrayContaining(Object.values(QUEUES)));
}, 900_000);
