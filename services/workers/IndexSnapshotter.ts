import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { componentLogger } from '../../infra/logger.js';
import { keys } from '../../indexer/store/keys.js';
import type { DocumentStore } from '../../indexer/store/DocumentStore.js';
import type { IndexRegistry } from '../../retriever/IndexRegistry.js';

const log = componentLogger('snapshotter');

// Deletes the lock only if it still holds our token, in one step: a lock that expired and was taken by another
// writer in the meantime is theirs and stays.
const RELEASE_LOCK = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

/** Releases a lock taken with SET NX under `token`; true when it was still ours. */
export async function releaseLock(redis: Redis, key: string, token: string): Promise<boolean> {
  return (await redis.eval(RELEASE_LOCK, 1, key, token)) === 1;
}

/**
 * Periodically persists each changed collection index so a new process loads a snapshot and replays
 * only the tail of the change log. One writer per collection at a time, by a Redis lock.
 */
export class IndexSnapshotter {
  private timer: NodeJS.Timeout | null = null;
  private readonly savedAt = new Map<string, string>();
  private running: Promise<void> | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly store: DocumentStore,
    private readonly registry: IndexRegistry,
    private readonly root: string,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    if (this.intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => void this.runOnce(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  runOnce(): Promise<void> {
    this.running ??= this.snapshotAll().finally(() => (this.running = null));
    return this.running;
  }

  private async snapshotAll(): Promise<void> {
    for (const info of await this.store.listCollections()) {
      const c = info.name;
      const lockKey = keys.snapshotLock(c);
      const token = randomUUID();
      if ((await this.redis.set(lockKey, token, 'PX', 120_000, 'NX')) !== 'OK') continue;
      try {
        const index = await this.registry.current(c);
        if (!index || this.savedAt.get(c) === index.appliedLogId) continue;
        const dir = await index.saveSnapshot(this.root);
        this.savedAt.set(c, index.appliedLogId);
        log.info({ collection: c, dir, chunks: index.size }, 'index snapshot written');
      } catch (err) {
        log.error({ collection: c, err: (err as Error).message }, 'snapshot failed');
      } finally {
        await releaseLock(this.redis, lockKey, token);
      }
    }
  }
}
