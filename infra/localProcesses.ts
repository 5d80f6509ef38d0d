import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';

/**
 * Starting this project's own processes on this machine: a free loopback port, a compiled service
 * forked with an IPC readiness message, a redis-server (the embedded one of `npm start`, and the private ones of
 * the load benchmark and the integration tests, which must run real processes), a private Redis Cluster.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}

/** `count` distinct free loopback ports (all held open while they are chosen, so none is handed out twice). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const s = net.createServer();
          s.on('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

export interface ForkedService {
  child: ChildProcess;
  /** The port a service reported with its `listening` message. */
  port?: number;
  /** Everything the process printed so far (when its output is captured). */
  output: () => string;
  /** Signal the process (its whole process group when forked with `processGroup`) and wait until it has exited. */
  kill: (signal?: NodeJS.Signals) => Promise<void>;
}

/** Signal a child and wait for its exit; with `group`, signal its whole process group (it must lead one: forked detached). */
export function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', group = false): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    if (group && child.pid) {
      try {
        process.kill(-child.pid, signal);
      } catch {
        child.kill(signal);
      }
    } else child.kill(signal);
  });
}

/** Fork a compiled entry point and wait for its IPC `ready`/`listening` message (services/main.js, workers/main.js). */
export function forkService(
  script: string,
  env: Record<string, string>,
  waitFor: 'ready' | 'listening',
  /** processGroup: the service leads a process group of its own, and kill() signals the group (children it forked included). */
  opts: { timeoutMs?: number; captureOutput?: boolean; processGroup?: boolean } = {},
): Promise<ForkedService> {
  let out = '';
  const capture = opts.captureOutput ?? true;
  const group = opts.processGroup ?? false;
  const child = fork(script, [], {
    // Captured output includes the service's logs (tests read them), so they are not sent to a LOG_FILE.
    env: { ...process.env, LOG_LEVEL: 'warn', ...(capture ? { LOG_FILE: '' } : {}), ...env },
    stdio: capture ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'ignore', 'inherit', 'ipc'],
    detached: group,
  });
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  // This process's log file (if it has one) gets the child's captured logs too, whole lines at a time.
  const logFile = process.env.LOG_FILE?.trim();
  if (capture && logFile) {
    let partial = '';
    child.stderr?.on('data', (d: Buffer) => {
      const text = partial + d.toString();
      const cut = text.lastIndexOf('\n') + 1;
      partial = text.slice(cut);
      if (cut > 0) fs.appendFileSync(logFile, text.slice(0, cut));
    });
  }
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    let timedOut = false;
    // A service that never became ready is not left running.
    const t = setTimeout(() => {
      timedOut = true;
      void stopProcess(child, 'SIGKILL', group);
    }, timeoutMs);
    child.on('message', (m: { type?: string; port?: number }) => {
      if (m?.type === waitFor) {
        clearTimeout(t);
        resolve({ child, port: m.port, output: () => out, kill: (signal) => stopProcess(child, signal, group) });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(t);
      reject(new Error(timedOut ? `${script} did not become ${waitFor} in ${timeoutMs} ms:\n${out}` : `${script} exited with ${code} before it was ${waitFor}:\n${out}`));
    });
  });
}

export function hasRedisServer(): boolean {
  return spawnSync('sh', ['-c', 'command -v redis-server']).status === 0;
}

export interface RedisServerOptions {
  /** Detach it (it outlives this process; the embedded Redis of `npm start`), logging to dir/redis.log. */
  daemonize?: boolean;
  timeoutMs?: number;
  /** More redis-server arguments (cluster mode, `--replicaof`, ...). */
  args?: string[];
}

/**
 * The one place a redis-server is started: on 127.0.0.1:`port` with append-only persistence in `dir` (the project's
 * data lives in Redis, so durability matters); resolves once it answers PING. Returns the child process, or null for
 * a daemonized server (its launcher has exited).
 */
export function startRedisServer(port: number, dir: string, opts?: RedisServerOptions & { daemonize?: false }): Promise<ChildProcess>;
export function startRedisServer(port: number, dir: string, opts: RedisServerOptions & { daemonize: true }): Promise<null>;
export async function startRedisServer(port: number, dir: string, opts: RedisServerOptions = {}): Promise<ChildProcess | null> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', ...(opts.args ?? [])];
  if (opts.daemonize) args.push('--daemonize', 'yes', '--logfile', path.join(dir, 'redis.log'));
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  const launcherExited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (opts.daemonize) await launcherExited;
  const probe = new Redis(`redis://127.0.0.1:${port}`, { lazyConnect: true, retryStrategy: () => 100, maxRetriesPerRequest: null });
  probe.on('error', () => undefined);
  const end = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (!opts.daemonize && child.exitCode !== null) throw new Error(`redis-server on port ${port} exited with ${child.exitCode}`);
      if ((await probe.ping().catch(() => '')) === 'PONG') return opts.daemonize ? null : child;
      if (Date.now() > end) throw new Error(`redis-server on port ${port} did not answer in ${timeoutMs} ms${opts.daemonize ? `; see ${path.join(dir, 'redis.log')}` : ''}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    probe.disconnect();
  }
}

/** One node of a local Redis Cluster: its client port, cluster bus port, and data folder (AOF + nodes.conf). */
export interface LocalClusterNode {
  port: number;
  busPort: number;
  dir: string;
  child: ChildProcess | null;
}

/** A row of CLUSTER NODES. */
export interface ClusterNodeRow {
  id: string;
  port: number;
  role: 'master' | 'replica';
  /** For a replica: the id of the master it follows. */
  masterId: string | null;
  failed: boolean;
  /** Slot ranges served (masters), inclusive. */
  slots: [number, number][];
}

function parseClusterNodes(text: string): ClusterNodeRow[] {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [id, addr, flags, master, , , , , ...slots] = line.trim().split(' ');
      const f = flags!.split(',');
      return {
        id: id!,
        port: Number(/:(\d+)@/.exec(addr!)?.[1]),
        role: f.includes('master') ? 'master' : 'replica',
        masterId: master === '-' ? null : master!,
        failed: f.includes('fail') || f.includes('noaddr'),
        slots: slots.filter((s) => !s.startsWith('[')).map((s) => {
          const [a, b] = s.split('-').map(Number);
          return [a!, b ?? a!] as [number, number];
        }),
      };
    });
}

/**
 * A Redis Cluster of `masters` masters with `replicasPerMaster` replicas each, on loopback, with append-only
 * persistence (everysec) in a folder per node: for the cluster integration test and the scale benchmark. Nodes
 * can be killed and restarted on the same files (a restarted old master rejoins as a replica).
 */
export class LocalRedisCluster {
  private constructor(
    readonly nodes: LocalClusterNode[],
    readonly nodeTimeoutMs: number,
  ) {}

  static async start(opts: { dir: string; masters?: number; replicasPerMaster?: number; nodeTimeoutMs?: number; timeoutMs?: number }): Promise<LocalRedisCluster> {
    const masters = opts.masters ?? 3;
    const replicas = opts.replicasPerMaster ?? 1;
    const nodeTimeoutMs = opts.nodeTimeoutMs ?? 1500;
    const count = masters * (1 + replicas);
    // Client and cluster-bus ports, all distinct.
    const ports = await freePorts(2 * count);
    const nodes: LocalClusterNode[] = [];
    for (let i = 0; i < count; i++) {
      const dir = path.join(opts.dir, `node-${i}`);
      fs.mkdirSync(dir, { recursive: true });
      nodes.push({ port: ports[2 * i]!, busPort: ports[2 * i + 1]!, dir, child: null });
    }
    const cluster = new LocalRedisCluster(nodes, nodeTimeoutMs);
    try {
      await Promise.all(nodes.map((n) => cluster.startNode(n.port)));
      const create = await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', String(replicas), '--cluster-yes']);
      if (create.code !== 0) throw new Error(`redis-cli --cluster create failed (${create.code}):\n${create.output}`);
      await cluster.waitHealthy(opts.timeoutMs ?? 30_000);
    } catch (e) {
      await cluster.stop();
      throw e;
    }
    return cluster;
  }

  /** `host:port,...` of every node, as REDIS_CLUSTER_NODES takes it. */
  get seedList(): string {
    return this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
  }

  node(port: number): LocalClusterNode {
    const n = this.nodes.find((x) => x.port === port);
    if (!n) throw new Error(`no cluster node on port ${port}`);
    return n;
  }

  /** Start (or restart, on the same files) the node on `port`. */
  async startNode(port: number): Promise<void> {
    const n = this.node(port);
    n.child = await startRedisServer(n.port, n.dir, {
      args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', String(this.nodeTimeoutMs), '--cluster-port', String(n.busPort)],
    });
  }

  /** Stop a node with `signal` (SIGKILL: a crash, no final fsync) and wait until it has exited. */
  async stopNode(port: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const n = this.node(port);
    if (n.child) await stopProcess(n.child, signal);
  }

  isRunning(port: number): boolean {
    const c = this.node(port).child;
    return !!c && c.exitCode === null && c.signalCode === null;
  }

  /** A plain connection to one node (for CLUSTER / INFO commands; not cluster-aware). */
  async onNode<T>(port: number, fn: (r: Redis) => Promise<T>): Promise<T> {
    const r = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
    r.on('error', () => undefined);
    try {
      await r.connect();
      return await fn(r);
    } finally {
      r.disconnect();
    }
  }

  /** CLUSTER NODES as seen by a running node. */
  async topology(): Promise<ClusterNodeRow[]> {
    const live = this.nodes.find((n) => this.isRunning(n.port));
    if (!live) throw new Error('no cluster node is running');
    return parseClusterNodes(String(await this.onNode(live.port, (r) => r.cluster('NODES'))));
  }

  /** The master serving the slot of `key` (e.g. a hash tag such as `{rag}`), per the cluster's own view. */
  async masterFor(key: string): Promise<ClusterNodeRow> {
    const live = this.nodes.find((n) => this.isRunning(n.port))!;
    const slot = Number(await this.onNode(live.port, (r) => r.cluster('KEYSLOT', key)));
    const m = (await this.topology()).find((n) => n.role === 'master' && !n.failed && n.slots.some(([a, b]) => slot >= a && slot <= b));
    if (!m) throw new Error(`no live master serves slot ${slot} of ${key}`);
    return m;
  }

  /** Every running node reports cluster_state:ok, and every running replica's link to its master is up. */
  async healthy(): Promise<boolean> {
    for (const n of this.nodes.filter((x) => this.isRunning(x.port))) {
      const ok = await this.onNode(n.port, async (r) => {
        const info = String(await r.cluster('INFO'));
        if (!/cluster_state:ok/.test(info)) return false;
        const repl = await r.info('replication');
        return !/role:slave/.test(repl) || /master_link_status:up/.test(repl);
      }).catch(() => false);
      if (!ok) return false;
    }
    return true;
  }

  async waitHealthy(timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!(await this.healthy())) {
      if (Date.now() > end) throw new Error(`the local Redis Cluster did not become healthy within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Stop every node and delete its files. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => (n.child ? stopProcess(n.child, 'SIGKILL') : undefined)));
    for (const n of this.nodes) fs.rmSync(n.dir, { recursive: true, force: true });
  }
}

function run(cmd: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, output }));
  });
}
