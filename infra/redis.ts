import fs from 'node:fs';
import path from 'node:path';
import { Cluster, Redis, type ClusterOptions, type Command, type RedisOptions } from 'ioredis';
import type { ClusterNode, RedisTarget, ReplicaAck } from './config.js';
import { DomainError } from './errors.js';
import { componentLogger } from './logger.js';
import { hasRedisServer, startRedisServer } from './localProcesses.js';

const log = componentLogger('redis');

/** Every connection the service opens: one server, or a whole Redis Cluster (same command interface). */
export type RedisClient = Redis | Cluster;

/**
 * Cluster behaviour while a master fails over. A command for a dead master is retried (after a slot refresh)
 * every `retryDelayOnFailover` ms, and each retry or MOVED spends one of `maxRedirections`: 64 of them at 250 ms
 * cover about 10 s, longer than a failover takes at a cluster-node-timeout of a few seconds, so callers wait it
 * out as they wait out a restarting single Redis. Reads go to masters only: a replica may lag, and an
 * acknowledged write must be visible to the next query.
 */
export const CLUSTER_OPTIONS: Readonly<ClusterOptions> = Object.freeze({
  scaleReads: 'master',
  enableReadyCheck: true,
  maxRedirections: 64,
  retryDelayOnFailover: 250,
  retryDelayOnClusterDown: 250,
  retryDelayOnTryAgain: 250,
  retryDelayOnMoved: 50,
  slotsRefreshTimeout: 2000,
  slotsRefreshInterval: 5000,
  clusterRetryStrategy: (times: number) => Math.min(100 * times, 2000),
});

export interface ConnectionRole {
  /**
   * Set for a connection that serves requests: every command is bounded by this many ms (a hung or unreachable
   * Redis, or a cluster failing over), and commands waiting for a lost connection fail at the first failed
   * reconnect instead of piling up (`maxRetriesPerRequest: 0`). The offline queue stays on, so a command sent
   * during a reconnect that succeeds within the bound still goes through. Unset (workers, CLI): wait for Redis as
   * long as it takes; BullMQ workers need `maxRetriesPerRequest: null`.
   */
  commandTimeoutMs?: number;
}

/**
 * The one factory for Redis connections: one server, or a whole cluster when the target is one. `extra` composes
 * over the defaults: per-connection options apply to every cluster node, and the two a cluster owns itself
 * (offline queue, reconnect strategy) are moved to the cluster level. The role's command bound wraps the client
 * the caller gets, so it covers a cluster's redirections and retries too.
 */
export function createRedis(target: RedisTarget, extra: RedisOptions = {}, role: ConnectionRole = {}): RedisClient {
  const bounded = role.commandTimeoutMs !== undefined;
  const options: RedisOptions = { maxRetriesPerRequest: bounded ? 0 : null, enableReadyCheck: true, lazyConnect: false, ...extra };
  let client: RedisClient;
  if (target.kind === 'single') client = new Redis(target.url, options);
  else {
    const { retryStrategy, enableOfflineQueue, lazyConnect, port: _port, host: _host, path: _path, sentinels: _sentinels, readOnly: _readOnly, ...perNode } = options;
    client = new Cluster(target.nodes, {
      ...CLUSTER_OPTIONS,
      ...(retryStrategy !== undefined ? { clusterRetryStrategy: retryStrategy } : {}),
      ...(enableOfflineQueue !== undefined ? { enableOfflineQueue } : {}),
      lazyConnect,
      redisOptions: perNode,
    });
  }
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

export function isCluster(client: RedisClient): client is Cluster {
  return client instanceof Cluster;
}

/** The setting that names the target, for messages: `REDIS_URL="…"` or `REDIS_CLUSTER_NODES="…"`. */
export function describeRedisTarget(target: RedisTarget): string {
  return target.kind === 'single'
    ? `REDIS_URL=${JSON.stringify(target.url)}`
    : `REDIS_CLUSTER_NODES=${JSON.stringify(target.nodes.map((n) => (n.host.includes(':') ? `[${n.host}]:${n.port}` : `${n.host}:${n.port}`)).join(','))}`;
}

export const NO_REPLICA_ACK: Readonly<ReplicaAck> = Object.freeze({ replicas: 0, timeoutMs: 0 });

/** A write reached the master but not enough replicas in time: it is not acknowledged (a master crash now could lose it). */
export class ReplicaAckError extends DomainError {
  constructor(
    readonly acked: number,
    readonly ack: ReplicaAck,
  ) {
    super('unavailable', `the write reached ${acked} of ${ack.replicas} Redis replicas within ${ack.timeoutMs} ms, so it is not acknowledged; retry (writes are idempotent)`, {
      retryAfterSeconds: 1,
    });
  }
}

export function isRedisClient(c: unknown): c is RedisClient {
  return c instanceof Redis || c instanceof Cluster;
}

/**
 * Wait until what this client has written to the node serving `key`'s slot is held by `ack.replicas` replicas
 * (Redis WAIT), else throw ReplicaAckError. A client keeps one connection per node, and WAIT covers every write
 * made on its connection before it, so routing it by a key of the written slot covers the write just made.
 * Redis replication stays asynchronous: this narrows the loss window on failover to nothing for acknowledged
 * writes, as far as WAIT can (see the README), it does not make Redis strongly consistent.
 */
export async function awaitReplicas(client: RedisClient, key: string, ack: ReplicaAck): Promise<void> {
  if (ack.replicas <= 0) return;
  let acked: number;
  if (isCluster(client)) {
    const res = await client.pipeline().exists(key).wait(ack.replicas, ack.timeoutMs).exec();
    const [err, n] = res?.[1] ?? [new Error('WAIT got no reply'), 0];
    if (err) throw err;
    acked = Number(n);
  } else {
    acked = await client.wait(ack.replicas, ack.timeoutMs);
  }
  if (acked < ack.replicas) throw new ReplicaAckError(acked, ack);
}

/** What `/readyz` reports about Redis. For a cluster: its own view (CLUSTER INFO) and whether every master this client routes to answers. */
export interface RedisHealth {
  ready: boolean;
  mode: 'single' | 'cluster';
  /** cluster_state from CLUSTER INFO: `ok` or `fail`. */
  state?: string;
  slotsOk?: number;
  /** Masters serving slots, by the cluster's own count (cluster_size). */
  clusterSize?: number;
  /** Masters this client routes to, and how many answered PING. */
  masters?: number;
  mastersReachable?: number;
  error?: string;
}

function clusterInfoField(info: string, field: string): string | undefined {
  return new RegExp(`^${field}:(\\S+)`, 'm').exec(info)?.[1];
}

/**
 * Redis health as the service sees it. Unbounded by itself (commands wait through a failover): callers that
 * must answer now wrap it in a timeout.
 */
export async function redisHealth(client: RedisClient): Promise<RedisHealth> {
  if (!isCluster(client)) {
    const ready = client.status === 'ready' && (await client.ping()) === 'PONG';
    return { ready, mode: 'single' };
  }
  if (client.status !== 'ready') return { ready: false, mode: 'cluster', error: `client ${client.status}` };
  const info = String(await client.cluster('INFO'));
  const state = clusterInfoField(info, 'cluster_state');
  const slotsOk = Number(clusterInfoField(info, 'cluster_slots_ok') ?? 0);
  const clusterSize = Number(clusterInfoField(info, 'cluster_size') ?? 0);
  const masters = client.nodes('master');
  const answers = await Promise.all(masters.map((m) => m.ping().then((r) => r === 'PONG', () => false)));
  const mastersReachable = answers.filter(Boolean).length;
  const ready = state === 'ok' && slotsOk === 16384 && masters.length > 0 && mastersReachable === masters.length && masters.length >= clusterSize;
  return { ready, mode: 'cluster', state, slotsOk, clusterSize, masters: masters.length, mastersReachable };
}

/** Whether the target answers now: PING for a server; for a cluster, a connection and a healthy `CLUSTER INFO`. */
export async function probeRedis(target: RedisTarget, timeoutMs = 1500): Promise<{ ok: true } | { ok: false; reason: string }> {
  const probe =
    target.kind === 'single'
      ? new Redis(target.url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: timeoutMs, retryStrategy: () => null })
      : new Cluster(target.nodes, {
          ...CLUSTER_OPTIONS,
          lazyConnect: true,
          enableOfflineQueue: false,
          clusterRetryStrategy: () => null,
          slotsRefreshTimeout: timeoutMs,
          redisOptions: { connectTimeout: timeoutMs, maxRetriesPerRequest: 0 },
        });
  probe.on('error', () => undefined);
  const guard = setTimeout(() => probe.disconnect(), timeoutMs * 2);
  try {
    await probe.connect();
    const health = await redisHealth(probe);
    if (health.ready) return { ok: true };
    return { ok: false, reason: health.mode === 'cluster' ? `cluster_state:${health.state}, ${health.slotsOk} of 16384 slots served, ${health.mastersReachable}/${health.masters} masters answer` : 'no PONG' };
  } catch (e) {
    return { ok: false, reason: target.kind === 'cluster' ? await diagnoseSeedNodes(target.nodes, timeoutMs) : (e as Error).message };
  } finally {
    clearTimeout(guard);
    probe.disconnect();
  }
}

/** Why a cluster cannot be used, node by node (the cluster client only says that no seed node is available). */
async function diagnoseSeedNodes(nodes: ClusterNode[], timeoutMs: number): Promise<string> {
  const lines = await Promise.all(
    nodes.map(async (n) => {
      const r = new Redis({ host: n.host, port: n.port, lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: timeoutMs, retryStrategy: () => null });
      let socketError: Error | null = null;
      r.on('error', (e: Error) => (socketError = e));
      try {
        await r.connect();
        const info = String(await r.cluster('INFO'));
        return `${n.host}:${n.port} cluster_state:${clusterInfoField(info, 'cluster_state') ?? '?'}`;
      } catch (e) {
        const msg = ((socketError as Error | null) ?? (e as Error)).message.replace(/^ERR /, '');
        return `${n.host}:${n.port} ${/cluster support disabled/i.test(msg) ? 'is not a cluster node (cluster support disabled)' : msg}`;
      } finally {
        r.disconnect();
      }
    }),
  );
  return lines.join('; ');
}

export async function redisAnswers(target: RedisTarget, timeoutMs = 1500): Promise<boolean> {
  return (await probeRedis(target, timeoutMs)).ok;
}

/** How long a client is told to wait (Retry-After) when Redis cannot serve: a restart or failover usually takes seconds. */
export const REDIS_RETRY_AFTER_SECONDS = 5;

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
const CONNECTION_FAILURE = /^(Command timed out|Connection is closed\.|Stream isn't writeable|Reached the max retries per request limit|Too many Cluster redirections|Cluster isn't ready|Failed to refresh slots cache|None of startup nodes is available)|\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EPIPE)\b/;

/** The error as a RedisUnavailableError when it says Redis could not serve the command; otherwise null. */
export function asRedisUnavailable(err: unknown): RedisUnavailableError | null {
  if (err instanceof RedisUnavailableError) return err;
  if (!(err instanceof Error)) return null;
  const reply = err.name === 'ReplyError' && UNAVAILABLE_REPLY.test(err.message);
  if (!reply && !CONNECTION_FAILURE_NAMES.has(err.name) && !CONNECTION_FAILURE.test(err.message)) return null;
  return new RedisUnavailableError(`the data store (Redis) is not answering (${err.message}); retry in ${REDIS_RETRY_AFTER_SECONDS} s`, err);
}

/**
 * Make sure Redis answers. If a single server does not, its URL points at this machine and a `redis-server`
 * binary exists, start an embedded one with append-only persistence under dataDir (documents, chunks and
 * vectors live in Redis, so durability matters). A cluster must already be healthy.
 */
export async function ensureRedis(target: RedisTarget, dataDir: string): Promise<{ embedded: boolean }> {
  const probe = await probeRedis(target);
  if (probe.ok) return { embedded: false };
  if (target.kind === 'cluster') {
    // Never an embedded server in cluster mode: a cluster is operated, not improvised.
    throw new RedisUnavailableError(
      `Redis Cluster is not usable at ${describeRedisTarget(target)} (${probe.reason}). Check that the nodes run with cluster-enabled yes and ` +
        `the cluster was created (redis-cli --cluster create ...), or unset REDIS_CLUSTER_NODES to use REDIS_URL.`,
    );
  }
  const url = target.url;
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
