import fs from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { DocumentStore } from '../../../indexer/store/DocumentStore.js';
import { keys } from '../../../indexer/store/keys.js';
import { IndexRegistry } from '../../../retriever/IndexRegistry.js';
import { IndexSnapshotter, releaseLock } from '../../../services/workers/IndexSnapshotter.js';
import { freshRedis, tempDir } from '../../support/processes.js';
import { seededUnitVectors } from '../../retriever/seededVectors.js';

const C = 'snaplock';
const DIM = 16;
let redis: Redis;
let store: DocumentStore;

beforeAll(async () => {
  ({ redis } = await freshRedis(12));
  store = new DocumentStore(redis);
  const [v] = seededUnitVectors(1, DIM, 3);
  const text = 'A single document about lighthouses.';
  const chunk = { id: 'c0', collection: C, documentId: 'd0', index: 0, start: 0, end: text.length, text, sentences: [{ start: 0, end: text.length }], tokenCount: 6, contentHash: 'h0' };
  await store.applyDocument(
    { id: 'd0', collection: C, title: '', text, metadata: {}, contentHash: 'h0', chunkIds: ['c0'], version: await store.nextVersion(C), updatedAt: '' },
    [{ chunk, vector: v! }],
    { id: 'test-embedder', dim: DIM },
  );
});
afterAll(() => redis?.disconnect());

describe('IndexSnapshotter lock', () => {
  it('releases its lock only while it still holds it (compare-and-delete in one step)', async () => {
    const key = keys.snapshotLock(C);
    await redis.set(key, 'theirs', 'PX', 60_000);
    expect(await releaseLock(redis, key, 'mine')).toBe(false);
    expect(await redis.get(key)).toBe('theirs');
    expect(await releaseLock(redis, key, 'theirs')).toBe(true);
    expect(await redis.exists(key)).toBe(0);
  });

  it('skips a collection another writer holds, snapshots it once the lock is free, and leaves no lock behind', async () => {
    const root = tempDir('snapshots');
    try {
      const snapshotter = new IndexSnapshotter(redis, store, new IndexRegistry(store, root), root, 0);
      await redis.set(keys.snapshotLock(C), 'another-worker', 'PX', 60_000);
      await snapshotter.runOnce();
      expect(fs.existsSync(path.join(root, C, 'CURRENT'))).toBe(false);
      expect(await redis.get(keys.snapshotLock(C))).toBe('another-worker');
      await redis.del(keys.snapshotLock(C));
      await snapshotter.runOnce();
      expect(JSON.parse(fs.readFileSync(path.join(root, C, 'CURRENT'), 'utf8'))).toMatchObject({ chunks: 1 });
      expect(await redis.exists(keys.snapshotLock(C))).toBe(0);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
