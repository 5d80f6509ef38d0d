import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../../infra/localProcesses.js';
import { ensureRedis, redisAnswers, RedisUnavailableError } from '../../infra/redis.js';

describe('ensureRedis: the embedded Redis of `npm start`', () => {
  it('starts a detached, append-only redis-server under DATA_DIR/redis when none answers, and reuses one that does', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'embedded-redis-'));
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    expect(await redisAnswers(url)).toBe(false);
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      expect(await ensureRedis(url, dataDir)).toEqual({ embedded: true });
      await client.connect();
      expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      expect(await client.config('GET', 'dir')).toEqual(['dir', fs.realpathSync(path.join(dataDir, 'redis'))]);
      expect(fs.existsSync(path.join(dataDir, 'redis', 'redis.log'))).toBe(true);
      // Already answering: nothing is started.
      expect(await ensureRedis(url, dataDir)).toEqual({ embedded: false });
    } finally {
      await client.call('SHUTDOWN', 'NOSAVE').catch(() => undefined);
      client.disconnect();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, 30_000);

  it('does not start one for a Redis on another machine: it says how to provide Redis', async () => {
    await expect(ensureRedis('redis://192.0.2.1:6399', os.tmpdir())).rejects.toThrow(RedisUnavailableError);
  }, 30_000);
});
