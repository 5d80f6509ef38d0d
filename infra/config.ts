import path from 'node:path';
import { z } from 'zod';
import { DECODER_DTYPES } from './decoderDtypes.js';
import { DomainError } from './errors.js';

/** Service configuration, read once from the environment and validated up front so a bad value fails at start-up, not mid-request. */
const boolFromEnv = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off'])
  .transform((v) => ['1', 'true', 'yes', 'on'].includes(v));

const intFromEnv = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** One Redis Cluster seed node. */
export interface ClusterNode {
  host: string;
  port: number;
}

const HOSTNAME = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** `host:port,host:port,...` (IPv6 as `[::1]:7000`): every entry is checked, and each bad one is named. */
const clusterNodesFromEnv = z.string().transform((raw, ctx): ClusterNode[] => {
  const nodes: ClusterNode[] = [];
  const entries = raw.split(',').map((s) => s.trim());
  for (const [i, entry] of entries.entries()) {
    const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(entry);
    const host = m ? (m[1] ?? m[2]!) : '';
    const port = m ? Number(m[3]) : NaN;
    if (!m || (!m[1] && !HOSTNAME.test(host)) || port < 1 || port > 65535) {
      ctx.addIssue({ code: 'custom', message: `entry ${i + 1} ${JSON.stringify(entry)} is not host:port (e.g. 10.0.0.5:7000,10.0.0.6:7000)` });
      continue;
    }
    nodes.push({ host, port });
  }
  const seen = new Set<string>();
  for (const n of nodes) {
    const key = `${n.host}:${n.port}`;
    if (seen.has(key)) ctx.addIssue({ code: 'custom', message: `${key} is listed twice` });
    seen.add(key);
  }
  return nodes;
});

const EnvSchema = z.object({
  PORT: intFromEnv(0, 65535).default(8080),
  HOST: z.string().min(1).default('0.0.0.0'),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
    .default('redis://127.0.0.1:6379'),
  /** Redis Cluster seed nodes; when set, every connection is a cluster connection and REDIS_URL is not used. */
  REDIS_CLUSTER_NODES: clusterNodesFromEnv.optional(),
  /** Replicas that must hold a document write, deletion or accepted ingest before it is acknowledged (Redis WAIT); 0 = the master's reply. */
  REDIS_WAIT_REPLICAS: intFromEnv(0, 16).default(0),
  /** How long an acknowledgement waits for those replicas; past it the write is reported as not acknowledged (jobs retry, requests answer 503). */
  REDIS_WAIT_TIMEOUT_MS: intFromEnv(1, 60_000).default(2000),
  /** The API's bound on one Redis command: past it (Redis down, unreachable or hung) a request answers 503 with Retry-After. Workers wait instead. */
  REDIS_REQUEST_TIMEOUT_MS: intFromEnv(100, 600000).default(3000),
  DATA_DIR: z.string().min(1).default('./data'),
  MODELS_DIR: z.string().min(1).default('./models'),
  ADMIN_API_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
  GENERATOR_MODEL: z.string().min(1).default('onnx-community/Qwen2.5-0.5B-Instruct'),
  /** Which export file of GENERATOR_MODEL to load (onnx/model_<dtype>.onnx); unset = the benchmarked default, or what the folder has. */
  GENERATOR_DTYPE: z.enum(DECODER_DTYPES).optional(),
  EMBEDDING_MODEL: z.string().min(1).default('Xenova/all-MiniLM-L6-v2'),
  /**
   * Models missing from MODELS_DIR: `auto` downloads them when the hub answers and otherwise falls back at once
   * (USE-lite embeddings, ask answering 503); `true` always tries to download; `false` never does (offline).
   */
  ALLOW_REMOTE_MODELS: z
    .enum(['auto', '1', '0', 'true', 'false', 'yes', 'no', 'on', 'off'])
    .transform((v): 'auto' | boolean => (v === 'auto' ? 'auto' : ['1', 'true', 'yes', 'on'].includes(v)))
    .default('auto'),
  /** The model hub downloads come from (a mirror speaking the Hugging Face protocol works too). */
  HF_ENDPOINT: z.url({ protocol: /^https?$/ }).default('https://huggingface.co/'),
  /** onnxruntime intra-op threads per session; 0 lets onnxruntime choose (one per core). */
  ORT_INTRA_OP_THREADS: intFromEnv(0, 256).default(0),
  ORT_ENABLE_CPU_MEM_ARENA: boolFromEnv.default(true),
  /** Run the queue workers inside `npm start` (true) or only the HTTP API (false, for split deployments). */
  RUN_WORKERS: boolFromEnv.default(true),
  /** Target and hard maximum chunk size in tokens (sentence-aligned). */
  CHUNK_TOKENS: intFromEnv(16, 8192).default(256),
  CHUNK_MAX_TOKENS: intFromEnv(16, 16384).default(384),
  /** BullMQ lock duration: a job whose worker stops renewing for this long is handed to another worker. */
  JOB_LOCK_MS: intFromEnv(1000, 600000).default(30000),
  JOB_ATTEMPTS: intFromEnv(1, 100).default(5),
  /** How often the index snapshotter persists changed collection indexes (0 = never automatically). */
  SNAPSHOT_INTERVAL_MS: intFromEnv(0, 86400000).default(30000),
  /** Precompute each new chunk's KV block on ingest (the `prefill` queue), so first questions hit the cache. */
  PREFILL_ON_INGEST: boolFromEnv.default(true),
  /** KV block store caps: in-process tier (fp32 bytes) and disk tier (fp16 files under DATA_DIR/kv). */
  KV_MEMORY_BYTES: intFromEnv(0, 2 ** 45).default(2 ** 30),
  KV_DISK_BYTES: intFromEnv(0, 2 ** 50).default(20 * 2 ** 30),
  /** HNSW query breadth; unset = grows with index size (64 up to 50k vectors, 128 up to 100k, 256 above: measured for recall@10 >= 0.99). */
  SEARCH_EF: intFromEnv(1, 4096).optional(),
  /** The request line and headers must arrive within this; otherwise 408 and the connection is closed. */
  HTTP_HEADERS_TIMEOUT_MS: intFromEnv(1000, 600000).default(10000),
  /** The whole request, body included, must arrive within this (a body at 1 byte/s is cut off); otherwise 408 and closed. */
  HTTP_REQUEST_TIMEOUT_MS: intFromEnv(1000, 3600000).default(30000),
  /** Open connections per client address (the peer's: with TRUST_PROXY_HOPS > 0 that is the proxy, so the cap is not applied); 0 = no cap. Room for a pooled client's parallel requests. */
  HTTP_MAX_CONNECTIONS_PER_CLIENT: intFromEnv(0, 100000).default(128),
  /** A streamed answer whose client reads nothing for this long is cut off and its generation stopped (generation pauses as soon as the socket buffer is full). */
  STREAM_STALL_MS: intFromEnv(1000, 3600000).default(30000),
  /** Kernel send buffer of a streamed answer's socket (Linux doubles it): how much a non-reading client can absorb before generation pauses. */
  STREAM_SEND_BUFFER_BYTES: intFromEnv(2048, 16 * 1024 * 1024).default(16384),
  /** Questions (/v1/ask, /v1/chat/completions) one API key (or client address while authentication is off) may have running or waiting in one API process; beyond: 429; 0 = no cap. */
  ASK_MAX_PER_CLIENT: intFromEnv(0, 10000).default(4),
  /** Questions one API process answers at once (each uses every core); the rest wait. */
  ASK_MAX_CONCURRENT: intFromEnv(1, 1024).default(2),
  /** Questions waiting for a slot in one API process; beyond: 503, so a burst of asks cannot starve search. */
  ASK_MAX_QUEUED: intFromEnv(0, 100000).default(32),
  /** Largest accepted request body. */
  MAX_BODY_BYTES: intFromEnv(1024, 1024 * 1024 * 1024).default(20 * 1024 * 1024),
  /** Requests per API key (or per client IP when authentication is off) per window, shared by all API replicas through Redis; 0 = no limit. */
  RATE_LIMIT_REQUESTS: intFromEnv(0, 10_000_000).default(6000),
  /** Of those, how many may be questions (`/v1/ask`, `/v1/chat/completions`: model work); 0 = no separate limit. */
  RATE_LIMIT_ASK_REQUESTS: intFromEnv(0, 10_000_000).default(600),
  RATE_LIMIT_WINDOW_SECONDS: intFromEnv(1, 86400).default(60),
  /** Proxy hops in front of the API whose X-Forwarded-For is trusted for the client IP (0 = use the socket address). */
  TRUST_PROXY_HOPS: intFromEnv(0, 10).default(0),
  /** On SIGTERM: how long in-flight requests (and worker jobs) may run before they are cut off (jobs are then handed back). */
  SHUTDOWN_TIMEOUT_MS: intFromEnv(0, 600000).default(25000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Append the JSON logs to this file instead of stderr (read by infra/logger.ts at start-up). */
  LOG_FILE: z.string().min(1).optional(),
});

export type Env = z.infer<typeof EnvSchema>;

/** Where the service's Redis is: one server, or a cluster reached through its seed nodes. */
export type RedisTarget = { kind: 'single'; url: string } | { kind: 'cluster'; nodes: ClusterNode[] };

/** How many replicas must hold a write before the service acknowledges it; 0 = the master's reply is enough. */
export interface ReplicaAck {
  replicas: number;
  timeoutMs: number;
}

export interface Config extends Env {
  /** Absolute forms of the directory settings. */
  dataDir: string;
  modelsDir: string;
  /** REDIS_CLUSTER_NODES when set, else REDIS_URL. */
  redis: RedisTarget;
  /** REDIS_WAIT_REPLICAS and REDIS_WAIT_TIMEOUT_MS. */
  replicaAck: ReplicaAck;
}

export class ConfigError extends DomainError {
  constructor(readonly problems: string[]) {
    super('invalid', `Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Parse and validate configuration; throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings are treated as unset so `FOO= npm start` falls back to the default.
  const cleaned: Record<string, string> = {};
  for (const key of Object.keys(EnvSchema.shape)) {
    const v = env[key];
    if (v !== undefined && v !== '') cleaned[key] = v.trim();
  }
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => `${i.path.join('.')}=${JSON.stringify(cleaned[String(i.path[0])] ?? '')}: ${i.message}`),
    );
  }
  const e = parsed.data;
  if (e.CHUNK_MAX_TOKENS < e.CHUNK_TOKENS) {
    throw new ConfigError([`CHUNK_MAX_TOKENS=${e.CHUNK_MAX_TOKENS}: must be >= CHUNK_TOKENS (${e.CHUNK_TOKENS})`]);
  }
  const redis: RedisTarget = e.REDIS_CLUSTER_NODES ? { kind: 'cluster', nodes: e.REDIS_CLUSTER_NODES } : { kind: 'single', url: e.REDIS_URL };
  const replicaAck: ReplicaAck = { replicas: e.REDIS_WAIT_REPLICAS, timeoutMs: e.REDIS_WAIT_TIMEOUT_MS };
  return { ...e, dataDir: path.resolve(e.DATA_DIR), modelsDir: path.resolve(e.MODELS_DIR), redis, replicaAck };
}
