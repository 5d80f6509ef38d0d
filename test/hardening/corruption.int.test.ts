import { xxh64 } from '@node-rs/xxhash';
import fs from 'node:fs';
import path from 'node:path';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { QUEUES } from '../../indexer/pipeline/jobs.js';
import { ApiClient } from '../support/http.js';
import { spawnService, waitUntil, type Spawned } from '../support/processes.js';
import { OwnRedis } from './ownRedis.js';
import { buildHardeningModels, shortDocuments, stackEnv, waitForJobs } from './support.js';

const C = 'corrupt';
const DOCS = 12;
let own: OwnRedis;
let redis: Redis;
let worker: Spawned;
let env: Record<string, string>;
const apis: Spawned[] = [];

// BM25 retrieval makes the cited blocks independent of the unrelated document added later.
const ASK = { collection: C, question: 'Which record mentions the token zx3q?', k: 3, maxTokens: 8, searchMode: 'bm25' };
const SEARCH = { collection: C, query: 'record zx5q colour green', k: 5, mode: 'hybrid' };

async function startApi(): Promise<ApiClient> {
  const api = await spawnService('services/main.js', env, 'listening');
  apis.push(api);
  const client = new ApiClient(`http://127.0.0.1:${api.port}`);
  await waitUntil(async () => (await client.get('/readyz')).status === 200, 60_000, 'readiness');
  return client;
}

const kvDir = () => {
  const root = path.join(env.DATA_DIR!, 'kv');
  const [model] = fs.readdirSync(root);
  return path.join(root, model!);
};
const kvFiles = () => new Map(fs.readdirSync(kvDir()).filter((f) => f.endsWith('.kv')).map((f) => [f, fs.readFileSync(path.join(kvDir(), f))]));
const snapshotPointer = () => JSON.parse(fs.readFileSync(path.join(env.DATA_DIR!, 'indexes', C, 'CURRENT'), 'utf8')) as { dir: string; chunks: number };
/** The KV file format ends with the xxh64 (little-endian) of everything before it: an independent integrity check. */
const intact = (buf: Buffer) => buf.length > 8 && xxh64(buf.subarray(0, buf.length - 8)) === buf.readBigUInt64LE(buf.length - 8);

function flipBytes(file: string, at: number, count = 16): void {
  const buf = fs.readFileSync(file);
  for (let i = 0; i < count; i++) buf[at + i] = buf[at + i]! ^ 0xff;
  fs.writeFileSync(file, buf);
}

beforeAll(async () => {
  own = await OwnRedis.start();
  redis = own.redis;
  const r = { url: own.url };
  env = stackEnv(r.url, buildHardeningModels(), { SNAPSHOT_INTERVAL_MS: '1000' });
  worker = await spawnService('services/workers/main.js', env, 'ready');
}, 120_000);

afterAll(async () => {
  await Promise.all([worker?.kill(), ...apis.map((a) => a.kill())]);
  await own?.stop();
});

it('a corrupt KV block file and a corrupt index snapshot are detected and rebuilt, never served', async () => {
  let client = await startApi();
  const res = await client.post(`/v1/collections/${C}/documents`, { documents: shortDocuments(DOCS) });
  await waitForJobs(client, res.body.jobIds, 120_000);
  const prefill = new Queue(QUEUES.prefill, { connection: redis });
  await waitUntil(async () => (await prefill.getJobCounts('completed')).completed === DOCS, 120_000, 'prefill of every document');
  await prefill.close();
  await waitUntil(async () => fs.existsSync(path.join(env.DATA_DIR!, 'indexes', C, 'CURRENT')) && snapshotPointer().chunks === DOCS, 60_000, 'an index snapshot');

  // Baseline: blocks prefilled by the worker are read from the shared disk tier.
  const before = await client.post('/v1/ask', ASK);
  expect(before.status).toBe(200);
  expect(before.body.cache).toMatchObject({ hits: 3, misses: 0, diskHits: 3 });
  const searchBefore = (await client.post('/v1/search', SEARCH)).body.hits;
  expect(searchBefore[0].documentId).toBe('d5');
  const lexicalBefore = (await client.post('/v1/search', { ...SEARCH, mode: 'bm25' })).body.hits;
  const originals = kvFiles();
  expect(originals.size).toBe(DOCS);
  expect([...originals.values()].every(intact)).toBe(true);

  // Corrupt every KV block file (payload bytes) and the HNSW graph of the snapshot, with the API stopped.
  await apis.at(-1)!.kill();
  for (const f of originals.keys()) flipBytes(path.join(kvDir(), f), Math.floor(originals.get(f)!.length / 2));
  const pointer = snapshotPointer();
  const vectorsDir = path.join(env.DATA_DIR!, 'indexes', C, pointer.dir, 'vectors');
  const graph = fs.readdirSync(vectorsDir).find((f) => f.endsWith('.hnsw'))!;
  flipBytes(path.join(vectorsDir, graph), 64);
  expect([...kvFiles().values()].some(intact)).toBe(false);

  // A new API process detects both: the blocks are recomputed, the index is rebuilt from the change log.
  client = await startApi();
  const after = await client.post('/v1/ask', ASK);
  expect(after.status).toBe(200);
  expect(after.body.cache).toMatchObject({ hits: 0, misses: 3, diskHits: 0 });
  expect(after.body.citations).toEqual(before.body.citations);
  const searchAfter = (await client.post('/v1/search', SEARCH)).body.hits;
  expect(searchAfter.map((h: { chunkId: string }) => h.chunkId)).toEqual(searchBefore.map((h: { chunkId: string }) => h.chunkId));
  searchAfter.forEach((h: { score: number }, i: number) => expect(h.score).toBeCloseTo(searchBefore[i].score, 5));
  expect((await client.get(`/v1/collections/${C}`)).body.index.vectors).toBe(DOCS);
  const output = apis.at(-1)!.output();
  expect(output.match(/corrupt or mismatched KV block file deleted/g)).toHaveLength(3);
  expect(output).toMatch(/index snapshot unusable; rebuilding from the log/);
  await waitUntil(async () => [...kvFiles().values()].filter(intact).length === 3, 10_000, 'the 3 recomputed blocks written back');
  // Recomputed blocks are written back byte-for-byte as the worker first wrote them.
  for (const [name, buf] of kvFiles()) if (intact(buf)) expect(buf.equals(originals.get(name)!)).toBe(true);

  // The snapshot on disk is replaced at the next change; a new process loads it cleanly and serves the same results.
  const extra = await client.post(`/v1/collections/${C}/documents`, { id: 'unrelated', text: 'Lorem ipsum dolor sit amet, consectetur adipiscing elit.' });
  await waitForJobs(client, extra.body.jobIds, 60_000);
  await waitUntil(async () => snapshotPointer().dir !== pointer.dir && snapshotPointer().chunks === DOCS + 1, 60_000, 'a new snapshot');
  await apis.at(-1)!.kill();
  client = await startApi();
  const again = await client.post('/v1/ask', ASK);
  expect(again.body.cache).toMatchObject({ hits: 3, misses: 0, diskHits: 3 });
  expect(again.body.answer).toBe(before.body.answer);
  expect(again.body.citations).toEqual(before.body.citations);
  // (Lexical only: the unrelated document shares no term with the query, but could enter dense results.)
  expect((await client.post('/v1/search', { ...SEARCH, mode: 'bm25' })).body.hits.map((h: { chunkId: string }) => h.chunkId)).toEqual(lexicalBefore.map((h: { chunkId: string }) => h.chunkId));
  expect(apis.at(-1)!.output()).not.toMatch(/snapshot unusable|corrupt/);
}, 400_000);
