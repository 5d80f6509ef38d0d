import { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { IngestionService } from '../../../indexer/pipeline/IngestionService.js';
import { ingestJobId, documentContentHash, QUEUES } from '../../../indexer/pipeline/jobs.js';
import { DocumentStore } from '../../../indexer/store/DocumentStore.js';
import { prefillJobId } from '../../../services/workers/PrefillWorker.js';
import { buildHardeningModels, shortDocuments, stackEnv } from '../../hardening/support.js';
import { freshRedis, spawnService, waitUntil, type Spawned } from '../../support/processes.js';

/**
 * A worker SIGKILLed after the index step's store write and before its prefill hook: the retried index step
 * finds the write already applied and must still enqueue the document's KV prefill (by its deterministic id).
 * The kill lands exactly there: RAG_CRASH_POINT makes the worker announce that point over IPC and stop.
 */
const C = 'crashpf';
const N = 6;
let redis: Redis;
let url: string;
let store: DocumentStore;
let ingestion: IngestionService;
let prefill: Queue;
let env: Record<string, string>;
const workers: Spawned[] = [];

beforeAll(async () => {
  ({ url, redis } = await freshRedis(6));
  store = new DocumentStore(redis);
  ingestion = new IngestionService(redis, store, 5);
  prefill = new Queue(QUEUES.prefill, { connection: redis });
  env = stackEnv(url, buildHardeningModels(), { JOB_LOCK_MS: '2000', PREFILL_ON_INGEST: 'true' });
});

afterAll(async () => {
  await Promise.all(workers.map((w) => w.kill('SIGKILL')));
  await prefill?.close();
  await ingestion?.close();
  redis?.disconnect();
});

it('every document has its prefill job after a kill between the index write and the prefill hook', async () => {
  const crashing = await spawnService('services/workers/main.js', { ...env, RAG_CRASH_POINT: 'after-index-write' }, 'ready');
  workers.push(crashing);
  const held = new Set<string>();
  crashing.child.on('message', (m: { type?: string; name?: string; documentId?: string }) => {
    if (m.type === 'crash-point' && m.name === 'after-index-write' && m.documentId) held.add(m.documentId);
  });
  const docs = shortDocuments(N, 'k');
  for (const d of docs) await ingestion.submit(C, { ...d, metadata: {} });
  // The index worker runs 4 jobs at once: wait until several are stopped right after their write.
  await waitUntil(async () => held.size >= 4, 120_000, 'index steps to reach the crash point');
  for (const id of held) {
    // The write happened; the hook did not run.
    const meta = await store.getDocumentMeta(C, id);
    expect(meta).not.toBeNull();
    expect(await Job.fromId(prefill, prefillJobId(C, id, meta!.version))).toBeUndefined();
  }
  await crashing.kill('SIGKILL');

  // A fresh worker takes the stalled index jobs over once their locks lapse (JOB_LOCK_MS) and finishes everything.
  workers.push(await spawnService('services/workers/main.js', env, 'ready'));
  const jobIds = docs.map((d) => ingestJobId(C, d.id, documentContentHash({ id: d.id, title: d.title, text: d.text, metadata: {} })));
  await waitUntil(async () => (await Promise.all(jobIds.map(async (id) => (await Job.fromId(ingestion.queue('index'), id))?.getState()))).every((s) => s === 'completed'), 180_000, 'all index jobs');
  const results = await Promise.all(jobIds.map(async (id) => (await Job.fromId(ingestion.queue('index'), id))!.returnvalue as { documentId: string; applied: boolean; reason?: string }));
  // The held documents' retried steps found their own write ('current'); the others were applied normally.
  for (const r of results) expect(r).toEqual(held.has(r.documentId) ? expect.objectContaining({ applied: false, reason: 'current' }) : expect.objectContaining({ applied: true }));
  for (const d of docs) {
    const meta = await store.getDocumentMeta(C, d.id);
    const job = await Job.fromId(prefill, prefillJobId(C, d.id, meta!.version));
    expect({ document: d.id, prefillJob: job?.data.documentId ?? null }).toEqual({ document: d.id, prefillJob: d.id });
  }
  // And the prefill jobs run: each document's KV blocks are computed by the surviving worker.
  await waitUntil(
    async () => (await Promise.all(docs.map(async (d) => (await Job.fromId(prefill, prefillJobId(C, d.id, (await store.getDocumentMeta(C, d.id))!.version)))?.getState()))).every((s) => s === 'completed'),
    120_000,
    'prefill jobs',
  );
}, 400_000);
