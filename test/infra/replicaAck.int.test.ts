import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { DocumentStore } from '../../indexer/store/DocumentStore.js';
import { keys } from '../../indexer/store/keys.js';
import type { StoredDocument } from '../../indexer/store/types.js';
import { freePort, startRedisServer, stopProcess } from '../../infra/localProcesses.js';
import { createRedis, ReplicaAckError, type RedisClient } from '../../infra/redis.js';
import { OwnRedis } from '../hardening/ownRedis.js';
import { ApiClient } from '../support/http.js';
import { spawnService, tempDir, waitUntil, type Spawned } from '../support/processes.js';

/** REDIS_WAIT_REPLICAS: a write is acknowledged only once a replica holds it (Redis WAIT), on a real master and replica. */
const C = 'acked';
const EMBEDDER = { id: 'test-embedder', dim: 4 };
let master: OwnRedis;
let client: RedisClient;
/** Waits long enough for a replica on a loaded machine (the master asks replicas for their offset when WAIT starts). */
let store: DocumentStore;
/** Gives up quickly: used where no replica exists. */
let impatient: DocumentStore;
let replica: ChildProcess | null = null;
let replicaRedis: Redis | null = null;
let api: Spawned | null = null;

function doc(id: string, version: number): StoredDocument {
  return { id, collection: C, title: id, text: `text of ${id} v${version}`, metadata: {}, contentHash: `h${version}`, chunkIds: [], version, updatedAt: new Date().toISOString() };
}

function chunk(id: string, docId: string) {
  return {
    chunk: { id, documentId: docId, collection: C, index: 0, text: 'x', start: 0, end: 1, tokenCount: 1, sentences: [], contentHash: id },
    vector: new Float32Array([1, 0, 0, 0]),
  };
}

async function startReplica(): Promise<void> {
  const port = await freePort();
  replica = await startRedisServer(port, tempDir('replica'), { args: ['--replicaof', '127.0.0.1', String(master.port)] });
  replicaRedis = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: null });
  await waitUntil(async () => /master_link_status:up/.test(await replicaRedis!.info('replication')), 30_000, 'the replica in sync');
}

beforeAll(async () => {
  master = await OwnRedis.start();
  client = createRedis({ kind: 'single', url: master.url });
  store = new DocumentStore(client, { replicas: 1, timeoutMs: 15_000 });
  impatient = new DocumentStore(client, { replicas: 1, timeoutMs: 300 });
});

afterAll(async () => {
  await api?.kill('SIGKILL');
  replicaRedis?.disconnect();
  if (replica) await stopProcess(replica, 'SIGKILL');
  client?.disconnect();
  await master?.stop();
});

it('without a replica a write is stored on the master but not acknowledged; with one, every acknowledged write is already on it', async () => {
  const unacked = impatient.applyDocument(doc('d1', 1), [chunk('c1', 'd1')], EMBEDDER);
  await expect(unacked).rejects.toBeInstanceOf(ReplicaAckError);
  await expect(unacked).rejects.toThrow('the write reached 0 of 1 Redis replicas within 300 ms');
  // Applied on the master all the same: a retry finds its own version (current) and only waits for the replica.
  expect(await store.getDocumentMeta(C, 'd1')).toMatchObject({ version: 1 });

  await startReplica();
  expect(await store.applyDocument(doc('d1', 1), [chunk('c1', 'd1')], EMBEDDER)).toEqual({ applied: false, reason: 'current' });
  expect(await store.applyDocument(doc('d2', 2), [chunk('c2', 'd2')], EMBEDDER)).toEqual({ applied: true, added: 1, removed: 0 });
  // Read from the replica the moment the call returns: WAIT guarantees it is there.
  expect(JSON.parse((await replicaRedis!.hget(keys.doc(C, 'd2'), 'meta'))!).version).toBe(2);
  expect(await replicaRedis!.exists(keys.chunk(C, 'c2'))).toBe(1);
  expect(await store.deleteDocument(C, 'd2')).toBe(true);
  expect(await replicaRedis!.exists(keys.doc(C, 'd2'))).toBe(0);

  replicaRedis!.disconnect();
  replicaRedis = null;
  await stopProcess(replica!, 'SIGKILL');
  replica = null;
  await expect(impatient.deleteDocument(C, 'd1')).rejects.toBeInstanceOf(ReplicaAckError);
}, 120_000);

it('the API answers 503 with Retry-After when an accepted ingest cannot reach a replica', async () => {
  replicaRedis?.disconnect();
  if (replica) await stopProcess(replica, 'SIGKILL');
  replica = null;
  api = await spawnService(
    'services/main.js',
    { REDIS_URL: master.url, DATA_DIR: tempDir('ack-data'), EMBEDDING_MODEL: 'use-lite', GENERATOR_MODEL: 'absent/model', PORT: '0', RUN_WORKERS: 'false', REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '200' },
    'listening',
    180_000,
  );
  const res = await new ApiClient(`http://127.0.0.1:${api.port}`).call('POST', '/v1/collections/fresh/documents', { id: 'a', text: 'An accepted document.' });
  expect(res.status).toBe(503);
  expect(res.headers.get('retry-after')).toBe('1');
  expect(res.body.error.message).toContain('the write reached 0 of 1 Redis replicas within 200 ms');
}, 240_000);
