import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { allParagraphs, loadSquad } from '../indexer/sources/squad.js';
import { keys } from '../indexer/store/keys.js';
import { forkService, freePort, hasRedisServer, LocalRedisCluster, startRedisServer, stopProcess, type ForkedService } from '../infra/localProcesses.js';
import { createRedis } from '../infra/redis.js';
import { buildTestModel } from '../model/builder/buildTestModel.js';
import { summarise, type LatencySummary } from './load.js';
import { json, until } from './serviceStack.js';
import type { Bm25MemoryResult, VectorMemoryResult } from './indexMemory.js';

export interface ScaleBenchOptions {
  squadFile: string;
  /** SQuAD paragraphs ingested per run (each worker count ingests its own copy). */
  documents?: number;
  /** Length of each search window in seconds. */
  searchSeconds?: number;
  /** Concurrent search clients. */
  clients?: number;
  /** Vectors in the index whose memory is measured (per dimension). */
  memoryVectors?: number;
  log?: (msg: string) => void;
}

/** CPU time the service's processes spent, in ms per unit of work: unlike throughput, not set by the share of a busy machine they got. */
export interface CpuCost {
  workers?: number;
  apis: number;
  redis: number;
  total: number;
}

export interface IngestRun {
  workers: number;
  documents: number;
  seconds: number;
  documentsPerSecond: number;
  cpuMsPerDocument: CpuCost;
}

export interface SearchRun {
  apis: number;
  clients: number;
  seconds: number;
  ok: number;
  errors: number;
  requestsPerSecond: number;
  latencyMs: LatencySummary;
  cpuMsPerRequest: CpuCost;
}

export interface BackendRun {
  redis: 'single' | 'cluster';
  ingest: IngestRun[];
  search: SearchRun[];
  loadAverage1m: { start: number; end: number };
}

export interface ScaleBenchResult {
  documents: number;
  embedder: string;
  backends: BackendRun[];
  ratios: {
    /** Throughput with 2 processes over 1, per Redis. */
    ingestTwoWorkersOverOne: Record<'single' | 'cluster', number>;
    searchTwoApisOverOne: Record<'single' | 'cluster', number>;
    /** Cluster throughput over single Redis, per process count. */
    clusterOverSingle: { ingest1: number; ingest2: number; search1: number; search2: number };
    /** Cluster CPU time per document / request over single Redis's (all service and Redis processes). */
    clusterOverSingleCpu: { ingest1: number; ingest2: number; search1: number; search2: number };
  };
  /** Redis memory per stored chunk, measured on the single Redis after the 1-worker ingestion. */
  redisBytes: RedisBytes;
  /** What each API process holds per chunk in its search indexes. */
  indexMemory: { hnsw: VectorMemoryResult[]; bm25: Bm25MemoryResult };
  machine: { cpus: number; loadAverage1mAtStart: number; loadAverage1mAtEnd: number };
}

const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
const load1m = () => round(os.loadavg()[0]!, 2);


const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** User + system CPU seconds of live processes (all their threads), from /proc (Linux). */
function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / CLOCK_TICKS;
}

/** CPU ms per unit of work of each group of processes while `work` runs. */
async function measureCpu<T>(groups: { workers?: number[]; apis: number[]; redis: number[] }, units: (result: T) => number, work: () => Promise<T>): Promise<{ result: T; cost: CpuCost }> {
  const before = { workers: cpuSeconds(groups.workers ?? []), apis: cpuSeconds(groups.apis), redis: cpuSeconds(groups.redis) };
  const result = await work();
  const per = (now: number, was: number) => round(((now - was) * 1000) / Math.max(1, units(result)), 2);
  const workers = per(cpuSeconds(groups.workers ?? []), before.workers);
  const apis = per(cpuSeconds(groups.apis), before.apis);
  const redis = per(cpuSeconds(groups.redis), before.redis);
  return { result, cost: { ...(groups.workers ? { workers } : {}), apis, redis, total: round((groups.workers ? workers : 0) + apis + redis, 2) } };
}

/** One Redis of each kind, with the environment that points the service at it. */
interface RunningRedis {
  env: Record<string, string>;
  pids: number[];
  stop: () => Promise<void>;
}

async function startBackend(kind: 'single' | 'cluster', dir: string): Promise<RunningRedis> {
  if (kind === 'single') {
    const port = await freePort();
    const child = await startRedisServer(port, dir);
    return { env: { REDIS_URL: `redis://127.0.0.1:${port}` }, pids: [child.pid!], stop: () => stopProcess(child, 'SIGKILL') };
  }
  const cluster = await LocalRedisCluster.start({ dir });
  return { env: { REDIS_CLUSTER_NODES: cluster.seedList }, pids: cluster.nodes.map((x) => x.child!.pid!), stop: () => cluster.stop() };
}

/** One memory measurement in a process of its own (bench/indexMemory.js), for a clean resident size. */
function runIndexMemory<T>(args: string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', path.join(DIST, 'bench', 'indexMemory.js'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as T) : reject(new Error(`indexMemory ${args.join(' ')} exited with ${code}`))));
  });
}

/**
 * Horizontal scaling on this machine: ingestion throughput with 1 and 2 worker processes and search
 * requests/s with 1 and 2 API processes, each against a single Redis and a 3-master + 3-replica Redis Cluster,
 * all in one run so the ratios share the machine's conditions. Built `tiny-encoder` embeddings keep model work
 * small, so queueing, storage and index replay are a visible share of the cost. Each phase also records the CPU
 * time the service's processes and Redis spent per document or request: on a machine shared with other work,
 * throughput mostly tracks the CPU share the processes got, while CPU per unit of work does not. Also, for the capacity plan: the
 * search indexes' memory per chunk (HNSW at 384 and 512 dimensions, BM25) and Redis memory per stored chunk.
 */
export async function runScaleBench(opts: ScaleBenchOptions): Promise<ScaleBenchResult> {
  const n = opts.documents ?? 600;
  const searchSeconds = opts.searchSeconds ?? 15;
  const clients = opts.clients ?? 8;
  const log = opts.log ?? (() => undefined);
  if (!hasRedisServer()) throw new Error('the scale bench starts its own redis-server and cluster: install redis-server first');
  const squad = await loadSquad(opts.squadFile);
  const paragraphs = allParagraphs(squad).slice(0, n);
  if (paragraphs.length < n) throw new Error(`${opts.squadFile} has ${paragraphs.length} paragraphs; need ${n}`);
  const questions = paragraphs.flatMap((p) => p.qas.map((q) => q.question));
  const loadAtStart = load1m();

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rag-scale-'));
  const modelsDir = path.join(work, 'models');
  buildTestModel('tiny-encoder', path.join(modelsDir, 'test', 'tiny-encoder'));
  const backends: BackendRun[] = [];
  let redisBytes: RedisBytes | null = null;
  try {
    for (const kind of ['single', 'cluster'] as const) {
      const run: BackendRun = { redis: kind, ingest: [], search: [], loadAverage1m: { start: load1m(), end: 0 } };
      const redisDir = path.join(work, `redis-${kind}`);
      fs.mkdirSync(redisDir);
      const redis = await startBackend(kind, redisDir);
      const services: ForkedService[] = [];
      const start = async (entry: string, waitFor: 'ready' | 'listening') => {
        const s = await forkService(
          path.join(DIST, entry),
          {
            ...redis.env,
            DATA_DIR: fs.mkdtempSync(path.join(work, 'data-')),
            MODELS_DIR: modelsDir,
            EMBEDDING_MODEL: 'test/tiny-encoder',
            GENERATOR_MODEL: 'absent/model',
            PREFILL_ON_INGEST: 'false',
            HOST: '127.0.0.1',
            PORT: '0',
            RUN_WORKERS: 'false',
            RATE_LIMIT_REQUESTS: '0',
            RATE_LIMIT_ASK_REQUESTS: '0',
            SNAPSHOT_INTERVAL_MS: '0',
            ORT_INTRA_OP_THREADS: '1',
            LOG_LEVEL: 'error',
          },
          waitFor,
          { timeoutMs: 180_000, captureOutput: false, processGroup: true },
        );
        services.push(s);
        return s;
      };
      try {
        const apis = await Promise.all([start('services/main.js', 'listening'), start('services/main.js', 'listening')]);
        const bases = apis.map((a) => `http://127.0.0.1:${a.port}`);
        const apiPids = apis.map((a) => a.child.pid!);
        for (const b of bases) await until(async () => (await json(b, 'GET', '/readyz')).status === 200, 120_000, 'API readiness', 200);

        const workers: ForkedService[] = [];
        for (const count of [1, 2]) {
          while (workers.length < count) workers.push(await start('services/workers/main.js', 'ready'));
          const collection = `scale-w${count}`;
          log(`scale: ${kind} Redis, ${count} worker(s): ingesting ${n} paragraphs`);
          const t0 = performance.now();
          const { cost } = await measureCpu({ workers: workers.map((w) => w.child.pid!), apis: apiPids, redis: redis.pids }, () => n, async () => {
            for (let i = 0; i < n; i += 100) {
              const batch = paragraphs.slice(i, i + 100).map((p) => ({ id: p.id, title: p.title, text: p.context }));
              const r = await json(bases[0]!, 'POST', `/v1/collections/${collection}/documents`, { documents: batch });
              if (r.status !== 202) throw new Error(`ingest: ${r.status} ${JSON.stringify(r.body)}`);
            }
            await until(async () => Number((await json(bases[0]!, 'GET', `/v1/collections/${collection}`)).body?.documents ?? 0) === n, 900_000, `${collection} indexed`, 200);
          });
          const seconds = (performance.now() - t0) / 1000;
          run.ingest.push({ workers: count, documents: n, seconds: round(seconds, 1), documentsPerSecond: round(n / seconds, 1), cpuMsPerDocument: cost });
        }
        await Promise.all(workers.map((w) => w.kill('SIGTERM')));

        if (kind === 'single') redisBytes = await measureRedisBytes(redis.env.REDIS_URL!, 'scale-w1', 2 * n);

        // Every API replays the collection's change log into its index before the window.
        for (const b of bases) await json(b, 'POST', '/v1/search', { collection: 'scale-w1', query: 'warm up', k: 5 });
        for (const count of [1, 2]) {
          log(`scale: ${kind} Redis, ${count} API process(es): ${clients} clients searching for ${searchSeconds} s`);
          const { result, cost } = await measureCpu({ apis: apiPids.slice(0, count), redis: redis.pids }, (r: Omit<SearchRun, 'cpuMsPerRequest'>) => r.ok + r.errors, () =>
            searchWindow(bases.slice(0, count), questions, clients, searchSeconds),
          );
          run.search.push({ ...result, cpuMsPerRequest: cost });
        }
      } finally {
        await Promise.all(services.map((s) => s.kill('SIGKILL')));
        await redis.stop();
      }
      run.loadAverage1m.end = load1m();
      backends.push(run);
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }

  log('scale: index memory per chunk (HNSW at 384 and 512 dimensions, BM25 on SQuAD paragraphs)');
  const vectors = String(opts.memoryVectors ?? 32_768);
  const indexMemory = {
    hnsw: [
      await runIndexMemory<VectorMemoryResult>(['--kind', 'hnsw', '--dim', '384', '--vectors', vectors]),
      await runIndexMemory<VectorMemoryResult>(['--kind', 'hnsw', '--dim', '512', '--vectors', vectors]),
    ],
    bm25: await runIndexMemory<Bm25MemoryResult>(['--kind', 'bm25', '--squad', opts.squadFile, '--copies', '4']),
  };
  const [single, cluster] = backends as [BackendRun, BackendRun];
  const ingestRun = (b: BackendRun, w: number) => b.ingest.find((r) => r.workers === w)!;
  const searchRun = (b: BackendRun, a: number) => b.search.find((r) => r.apis === a)!;
  const ingestRate = (b: BackendRun, w: number) => ingestRun(b, w).documentsPerSecond;
  const searchRate = (b: BackendRun, a: number) => searchRun(b, a).requestsPerSecond;
  const ingestCpu = (b: BackendRun, w: number) => ingestRun(b, w).cpuMsPerDocument.total;
  const searchCpu = (b: BackendRun, a: number) => searchRun(b, a).cpuMsPerRequest.total;
  return {
    documents: n,
    embedder: 'test/tiny-encoder (built, random weights)',
    backends,
    ratios: {
      ingestTwoWorkersOverOne: { single: round(ingestRate(single, 2) / ingestRate(single, 1)), cluster: round(ingestRate(cluster, 2) / ingestRate(cluster, 1)) },
      searchTwoApisOverOne: { single: round(searchRate(single, 2) / searchRate(single, 1)), cluster: round(searchRate(cluster, 2) / searchRate(cluster, 1)) },
      clusterOverSingle: {
        ingest1: round(ingestRate(cluster, 1) / ingestRate(single, 1)),
        ingest2: round(ingestRate(cluster, 2) / ingestRate(single, 2)),
        search1: round(searchRate(cluster, 1) / searchRate(single, 1)),
        search2: round(searchRate(cluster, 2) / searchRate(single, 2)),
      },
      clusterOverSingleCpu: {
        ingest1: round(ingestCpu(cluster, 1) / ingestCpu(single, 1)),
        ingest2: round(ingestCpu(cluster, 2) / ingestCpu(single, 2)),
        search1: round(searchCpu(cluster, 1) / searchCpu(single, 1)),
        search2: round(searchCpu(cluster, 2) / searchCpu(single, 2)),
      },
    },
    redisBytes: redisBytes!,
    indexMemory,
    machine: { cpus: os.cpus().length, loadAverage1mAtStart: loadAtStart, loadAverage1mAtEnd: load1m() },
  };
}

/** `clients` clients searching back to back for `seconds`, spread round-robin over the API processes. */
async function searchWindow(bases: string[], questions: string[], clients: number, seconds: number): Promise<Omit<SearchRun, 'cpuMsPerRequest'>> {
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      while (performance.now() < deadline) {
        const i = next++;
        const t0 = performance.now();
        const r = await json(bases[(c + i) % bases.length]!, 'POST', '/v1/search', { collection: 'scale-w1', query: questions[i % questions.length], k: 5 }).catch(() => ({ status: 0 }));
        if (r.status === 200) latencies.push(performance.now() - t0);
        else errors++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  return { apis: bases.length, clients, seconds: round(elapsed, 1), ok: latencies.length, errors, requestsPerSecond: round(latencies.length / elapsed, 1), latencyMs: summarise(latencies) };
}

export interface RedisBytes {
  documents: number;
  chunks: number;
  embedderDim: number;
  meanChunkChars: number;
  /** Everything the collection keeps (document and chunk hashes, sets, change log), per chunk. */
  collectionBytesPerChunk: number;
  /** Of which the chunk hash alone (chunk JSON with its text + the float32 vector). */
  chunkHashBytes: number;
  /** The finished jobs BullMQ retains (removeOnComplete: 7 days or 200,000 per queue), per document. */
  retainedJobBytesPerDocument: number;
}

/**
 * MEMORY USAGE of every key of a collection, per chunk, and of everything the queues hold, per document ingested
 * so far (`documentsIngested`: every flow of this Redis). SCAN is fine here: this is a single Redis.
 */
async function measureRedisBytes(url: string, collection: string, documentsIngested: number): Promise<RedisBytes> {
  const redis = createRedis({ kind: 'single', url });
  const usage = async (k: string) => Number(await redis.memory('USAGE', k, 'SAMPLES', '0'));
  const sumOver = async (pattern: string) => {
    let total = 0;
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      for (const k of found) total += await usage(k);
    } while (cursor !== '0');
    return total;
  };
  try {
    const chunkIds = await redis.smembers(keys.chunks(collection));
    const documents = await redis.zcard(keys.docs(collection));
    let chunkBytes = 0;
    let chars = 0;
    let dim = 0;
    for (const id of chunkIds) {
      chunkBytes += await usage(keys.chunk(collection, id));
      chars += (JSON.parse((await redis.hget(keys.chunk(collection, id), 'meta'))!) as { text: string }).text.length;
      dim = ((await redis.hgetBuffer(keys.chunk(collection, id), 'vec'))?.byteLength ?? 0) / 4;
    }
    const collectionBytes = await sumOver(`rag:{${collection}}:*`);
    const queueBytes = await sumOver('{rag}:*');
    const n = chunkIds.length;
    return {
      documents,
      chunks: n,
      embedderDim: dim,
      meanChunkChars: Math.round(chars / n),
      collectionBytesPerChunk: Math.round(collectionBytes / n),
      chunkHashBytes: Math.round(chunkBytes / n),
      retainedJobBytesPerDocument: Math.round(queueBytes / documentsIngested),
    };
  } finally {
    redis.disconnect();
  }
}
