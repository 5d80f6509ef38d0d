import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { buildTestModel } from '../../model/builder/buildTestModel.js';
import { ApiClient } from '../support/http.js';
import { tempDir, waitUntil } from '../support/processes.js';

/** The built test models (tiny decoder, tiny BERT-style encoder) in a fresh MODELS_DIR: seconds to build, fast to run. */
export function buildHardeningModels(): string {
  const modelsDir = tempDir('h-models');
  buildTestModel('tiny', path.join(modelsDir, 'test', 'tiny'));
  buildTestModel('tiny-encoder', path.join(modelsDir, 'test', 'tiny-encoder'));
  return modelsDir;
}

/** Environment for API and worker processes on the built models, with no periodic snapshots unless asked. */
export function stackEnv(redisUrl: string, modelsDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    REDIS_URL: redisUrl,
    DATA_DIR: tempDir('h-data'),
    MODELS_DIR: modelsDir,
    GENERATOR_MODEL: 'test/tiny',
    EMBEDDING_MODEL: 'test/tiny-encoder',
    PORT: '0',
    RUN_WORKERS: 'false',
    SNAPSHOT_INTERVAL_MS: '0',
    ORT_INTRA_OP_THREADS: '1',
    ...extra,
  };
}

/** Short synthetic documents: distinct words per document so searches can find each one. */
export function shortDocuments(n: number, prefix = 'd'): { id: string; title: string; text: string }[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    title: `Note ${i}`,
    text: `Record ${i} mentions the token zx${i}q and the colour ${['red', 'green', 'blue', 'amber'][i % 4]}. It was filed on day ${i % 365}.`,
  }));
}

/** One HTTP job wait for every test (moved to the shared client module). */
export { waitForJobs } from '../support/http.js';

export interface StoredState {
  documents: number;
  chunks: number;
  logEntries: number;
  /** sha256 over every key of the collection and its full value (hashes, sets, sorted sets, the change log). */
  checksum: string;
}

/** A fingerprint of everything stored for a collection in Redis, independent of key order and encoding. */
export async function storedState(redis: Redis, collection: string): Promise<StoredState> {
  const pattern = `rag:{${collection}}:*`;
  const names: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    names.push(...batch.filter((k) => !k.endsWith(':snapshot-lock')));
  } while (cursor !== '0');
  names.sort();
  const h = createHash('sha256');
  let documents = 0;
  let chunks = 0;
  let logEntries = 0;
  for (const k of names) {
    const type = await redis.type(k);
    h.update(`${k}\u0000${type}\u0000`);
    if (type === 'hash') {
      const all = await redis.hgetallBuffer(k);
      for (const f of Object.keys(all).sort()) h.update(f).update('\u0000').update(all[f]!).update('\u0000');
    } else if (type === 'zset') {
      const all = await redis.zrange(k, '0', '-1', 'WITHSCORES');
      h.update(all.join('\u0000'));
      if (k.endsWith(':docs')) documents = all.length / 2;
    } else if (type === 'set') {
      const all = (await redis.smembers(k)).sort();
      h.update(all.join('\u0000'));
      if (k.endsWith(':chunks')) chunks = all.length;
    } else if (type === 'stream') {
      const all = await redis.xrange(k, '-', '+');
      h.update(JSON.stringify(all));
      logEntries = all.length;
    } else if (type === 'string') {
      h.update((await redis.getBuffer(k)) ?? Buffer.alloc(0));
    }
  }
  return { documents, chunks, logEntries, checksum: h.digest('hex') };
}
