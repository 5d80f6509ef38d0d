import fs from 'node:fs';
import path from 'node:path';
import { Redis, type Command, type RedisOptions } from 'ioredis';
import { DomainError } from './errors.js';
import { componentLogger } from './logger.js';
import { hasRedisServer, startRedisServer } from './localProcesses.js';

const log = componentLogger('redis');

export interface ConnectionRole {
  /**
   * Set for a connection that serves requests: every command is bounded by this many ms (a hung or unreachable
   * Redis), and commands waiting for a lost connection fail at the first failed reconnect instead of piling up
   * (`maxRetriesPerRequest: 0`). The offline queue stays on, so a command sent during a reconnect that succeeds
   * within the bound still goes through. Unset (workers, CLI): wait for Redis as long as it takes; BullMQ
   * workers need `maxRetriesPerRequest: null`.
   */
  commandTimeoutMs?: number;
}

export function createRedis(url: string, extra: RedisOptions = {}, role: ConnectionRole = {}): Redis {
  const bounded = role.commandTimeoutMs !== undefined;
  const client = new Redis(url, { maxRetriesPerRequest: bounded ? 0 : null, enableReadyCheck: true, lazyConnect: false, ...extra });
  if (bounded) boundCommands(client, role.commandTimeoutMs!);
  return client;
}

/**
 * Fails each command that has no reply after `ms` with "Command timed out". Unlike ioredis's own
 * `commandTimeout`, the check waits for one pass of the event loop's I/O phase after the timer fires: after a
 * stall of this process (a long synchronous task, CPU starvation) the timers phase runs before the socket is
 * read, and a reply that already arrived would otherwise be reported as a timeout. A timed-out command may
 * still reach Redis (as after any timeout); every write the API makes is idempotent. Works on any ioredis
 * client (a Cluster too): it wraps the instance's `sendCommand`, which commands, pipelines and scripts all use.
 */
export function boundCommands(client: Pick<Redis, 'sendCommand'>, ms: number): void {
  const send = client.sendCommand.bind(client);
  client.sendCommand = ((command: Command, ...rest: unknown[]) => {
    const timer = setTimeout(() => setImmediate(() => command.reject(new Error('Command timed out'))), ms);
    const clear = () => clearTimeout(timer);
    command.promise.then(clear, clear);
    return (send as (c: Command, ...r: unknown[]) => unknown)(command, ...rest);
  }) as Redis['sendCommand'];
}

/** How long a client is told to wait (Retry-After) when Redis cannot serve: a restart or failover usually takes seconds. */
export const REDIS_RETRY_AFTER_SECONDS = 5;

export async function redisAnswers(url: string, timeoutMs = 1500): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: timeoutMs, retryStrategy: () => null });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/** Redis is down, unreachable, timing out, or not accepting commands yet (loading, failing over). */
export class RedisUnavailableError extends DomainError {
  constructor(message: string, cause?: unknown) {
    super('unavailable', message, { retryAfterSeconds: REDIS_RETRY_AFTER_SECONDS, cause });
  }
}

/** Replies Redis gives while it cannot serve (rather than because the command was wrong). */
const UNAVAILABLE_REPLY = /^(LOADING|BUSY|MASTERDOWN|READONLY|TRYAGAIN|CLUSTERDOWN|NOREPLICAS)\b/;
/** What ioredis (and BullMQ through it) throws when the connection cannot carry a command. */
const CONNECTION_FAILURE_NAMES = new Set(['MaxRetriesPerRequestError', 'ClusterAllFailedError']);
const CONNECTION_FAILURE = /^(Command timed out|Connection is closed\.|Stream isn't writeable|Reached the max retries per request limit)|\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EPIPE)\b/;

/** The error as a RedisUnavailableError when it says Redis could not serve the command; otherwise null. */
export function asRedisUnavailable(err: unknown): RedisUnavailableError | null {
  if (err instanceof RedisUnavailableError) return err;
  if (!(err instanceof Error)) return null;
  const reply = err.name === 'ReplyError' && UNAVAILABLE_REPLY.test(err.message);
  if (!reply && !CONNECTION_FAILURE_NAMES.has(err.name) && !CONNECTION_FAILURE.test(err.message)) return null;
  return new RedisUnavailableError(`the data store (Redis) is not answering (${err.message}); retry in ${REDIS_RETRY_AFTER_SECONDS} s`, err);
}

/**
 * Make sure Redis answers at `url`. If it does not, the URL points at this machine and a
 * `redis-server` binary exists, start an embedded one with append-only persistence under dataDir
 * (documents, chunks and vectors live in Redis, so durability matters).
 */
export async function ensureRedis(url: string, dataDir: string): Promise<{ embedded: boolean }> {
  if (await redisAnswers(url)) return { embedded: false };
  const u = new URL(url);
  const local = ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(u.hostname);
  if (!local || !hasRedisServer()) {
    throw new RedisUnavailableError(
      `Redis does not answer at ${url}. Start one (e.g. \`redis-server --appendonly yes\`), ` +
        `point REDIS_URL at a reachable server, or install redis-server so the service can start an embedded one.`,
    );
  }
  const dir = path.resolve(dataDir, 'redis');
  fs.mkdirSync(dir, { recursive: true });
  const port = Number(u.port || '6379');
  log.info({ dir, port }, 'starting embedded redis-server with append-only persistence');
  try {
    await startRedisServer(port, dir, { daemonize: true, timeoutMs: 10_000 });
  } catch (err) {
    throw new RedisUnavailableError(`Started redis-server in ${dir} but it does not answer at ${url}: ${(err as Error).message}`);
  }
  return { embedded: true };
}

/** Ends a client connection that was created here and handed to BullMQ, which closes only connections it made itself. */
export function releaseConnection(connection: unknown): void {
  const c = connection as { disconnect?: () => void } | undefined;
  if (typeof c?.disconnect === 'function') c.disconnect();
}
