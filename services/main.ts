import type { Server } from 'node:http';
import { ConfigError, loadConfig } from '../infra/config.js';
import { componentLogger } from '../infra/logger.js';
import { ensureRedis, redisHealth, RedisUnavailableError } from '../infra/redis.js';
import { closeContext, createContext } from './bootstrap.js';
import { openEmbedder } from './embedder.js';
import { AskService } from './ask/AskService.js';
import { GeneratorHandle } from './ask/GeneratorHandle.js';
import { createApp } from './http/app.js';
import { AskAdmission } from './http/askAdmission.js';
import { createHttpServer } from './http/server.js';
import { createObservability } from './admin/observability.js';
import { assertWritableDir, drainHttpServer, IndexWarmup, within } from './lifecycle.js';
import { WorkerSupervisor } from './WorkerSupervisor.js';

const log = componentLogger('main');

/** `npm start`: the HTTP API, plus the queue workers in a child process unless RUN_WORKERS=false. */
async function main(): Promise<void> {
  const config = loadConfig();
  assertWritableDir(config.dataDir, 'DATA_DIR');
  const redis = await ensureRedis(config.redis, config.dataDir);
  const embedder = await openEmbedder(config);
  // Requests fail fast (503) when Redis cannot answer; the worker child keeps its own waiting connections.
  const ctx = createContext(config, embedder, 'serving');
  const supervisor = config.RUN_WORKERS ? new WorkerSupervisor() : null;
  supervisor?.start();

  const generator = new GeneratorHandle(config);
  const ask = new AskService(ctx.store, ctx.search, generator, config.dataDir, { extractive: { registry: ctx.registry, embedder: ctx.embedder } });
  const warmup = new IndexWarmup(ctx);
  void warmup.start();
  let stopping = false;
  // Built here so /metrics can show it: questions in progress are bounded per caller and per process.
  const askAdmission = AskAdmission.fromConfig(config);
  const observability = createObservability(ctx, generator, ask, askAdmission);
  const app = createApp(ctx, {
    ask,
    askAdmission,
    metrics: observability.metrics,
    admin: observability.admin,
    readiness: [
      // Bounded: while Redis is away (or a cluster fails over), commands wait for it, and a probe must answer now.
      // On a cluster: cluster_state, slots served, and whether every master this process routes to answers.
      { name: 'redis', check: () => within(redisHealth(ctx.redis), 1500, { ready: false, mode: config.redis.kind, error: 'no answer within 1.5 s' }) },
      // Ready once the generator has loaded or is known to be missing (then ask answers 503 and says why).
      { name: 'generator', check: async () => generator.state.state !== 'loading' },
      ...(supervisor ? [{ name: 'workers', check: async () => supervisor.alive }] : []),
      // Every collection's index loaded from its snapshot and caught up with the change log.
      { name: 'indexes', check: async () => warmup.done },
      // A stopping replica drops out of load balancing while it drains.
      { name: 'accepting', check: async () => !stopping },
    ],
  });
  const server: Server = createHttpServer(app, {
    headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: Math.max(config.HTTP_REQUEST_TIMEOUT_MS, config.HTTP_HEADERS_TIMEOUT_MS),
    // Behind proxies every connection comes from a proxy: capping its address would cap everyone.
    maxConnectionsPerClient: config.TRUST_PROXY_HOPS > 0 ? 0 : config.HTTP_MAX_CONNECTIONS_PER_CLIENT,
  });
  await new Promise<void>((resolve) => server.listen(config.PORT, config.HOST, () => resolve()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.PORT;
  log.info({ port, embeddedRedis: redis.embedded, embedder: embedder.id }, 'listening');
  process.send?.({ type: 'listening', port });
  void generator.loaded.then((s) => process.send?.({ type: 'generator', state: s.state }));

  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'shutting down: finishing in-flight requests');
    // The worker child drains its jobs while the server drains its requests (its own timeout is the same).
    const [{ forced }] = await Promise.all([drainHttpServer(server, config.SHUTDOWN_TIMEOUT_MS), supervisor?.stop(config.SHUTDOWN_TIMEOUT_MS + 5000)]);
    if (forced) log.warn('requests still running at the shutdown timeout were cut off');
    await within(generator.release(), 5000, undefined);
    await observability.close();
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
