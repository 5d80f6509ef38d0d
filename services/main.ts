import type { Server } from 'node:http';
import { ConfigError, loadConfig } from '../infra/config.js';
import { componentLogger } from '../infra/logger.js';
import { ensureRedis, RedisUnavailableError } from '../infra/redis.js';
import { closeContext, createContext } from './bootstrap.js';
import { openEmbedder } from './embedder.js';
import { createApp } from './http/app.js';
import { WorkerSupervisor } from './WorkerSupervisor.js';

const log = componentLogger('main');

/** `npm start`: the HTTP API, plus the queue workers in a child process unless RUN_WORKERS=false. */
async function main(): Promise<void> {
  const config = loadConfig();
  const redis = await ensureRedis(config.REDIS_URL, config.dataDir);
  const embedder = await openEmbedder(config);
  const ctx = createContext(config, embedder);
  const supervisor = config.RUN_WORKERS ? new WorkerSupervisor() : null;
  supervisor?.start();

  const app = createApp(ctx, [
    { name: 'redis', check: async () => (await ctx.redis.ping()) === 'PONG' },
    ...(supervisor ? [{ name: 'workers', check: async () => supervisor.alive }] : []),
  ]);
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(config.PORT, config.HOST, () => resolve(s));
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.PORT;
  log.info({ port, embeddedRedis: redis.embedded, embedder: embedder.id }, 'listening');
  process.send?.({ type: 'listening', port });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await supervisor?.stop();
    await closeContext(ctx);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  const known = err instanceof ConfigError || err instanceof RedisUnavailableError;
  process.stderr.write(`rag: ${known ? (err as Error).message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(known ? 2 : 1);
});
