import type { RequestHandler } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Prometheus metrics of one process (served at /metrics). Request and ask-stage latencies are observed as they
 * happen; queue depths, KV cache counters and index sizes are read from their owners at scrape time, so the
 * numbers are never stale and nothing polls in the background.
 */

export interface TierCounters {
  hits: number;
  misses: number;
  evictions: number;
  bytes: number;
  entries: number;
}

/** Read at scrape time; each source is optional (an ingestion-only API has no KV store). */
export interface ScrapeSources {
  queueCounts?: () => Promise<{ queue: string; counts: Record<string, number> }[]>;
  kvTiers?: () => Record<string, TierCounters> | null;
  collections?: () => Promise<{ name: string; documents: number; chunks: number }[]>;
  indexes?: () => { collection: string; vectors: number; tombstones: number }[];
  askAdmission?: () => { inFlight: number; queued: number; rejected: Record<string, number> };
}

/** The ask pipeline's stages, as recorded in AskResponse.timings. */
export const ASK_STAGES = {
  retrieve: 'retrieveMs',
  assemble: 'assembleMs',
  compress: 'compressMs',
  question_prefill: 'questionPrefillMs',
  first_token: 'firstTokenMs',
  decode: 'decodeMs',
  total: 'totalMs',
} as const;
export type AskStage = keyof typeof ASK_STAGES;

/** One in-flight or recent read serves every caller within `ms`. */
function sharedWithin<T>(read: () => Promise<T>, ms: number): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | null = null;
  return () => {
    const now = Date.now();
    if (!last || now - last.at > ms) last = { at: now, value: read() };
    return last.value;
  };
}

const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class ServiceMetrics {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly stageDuration: Histogram<'stage'>;
  readonly asks: Counter<'mode' | 'compression'>;
  readonly askTokens: Counter<'kind'>;

  constructor(sources: ScrapeSources = {}) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.httpDuration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency by method, express route pattern and status code',
      labelNames: ['method', 'route', 'status'],
      buckets: SECONDS,
      registers,
    });
    this.stageDuration = new Histogram({
      name: 'rag_ask_stage_duration_seconds',
      help: 'Ask pipeline stage latency (retrieve, assemble, compress, question_prefill, first_token, decode, total)',
      labelNames: ['stage'],
      buckets: SECONDS,
      registers,
    });
    this.asks = new Counter({ name: 'rag_asks_total', help: 'Questions answered', labelNames: ['mode', 'compression'], registers });
    this.askTokens = new Counter({ name: 'rag_ask_tokens_total', help: 'Prompt and completion tokens of answered questions', labelNames: ['kind'], registers });

    if (sources.queueCounts) {
      const read = sources.queueCounts;
      new Gauge({
        name: 'rag_queue_jobs',
        help: 'Jobs per BullMQ queue and state, read at scrape time',
        labelNames: ['queue', 'state'],
        registers,
        async collect() {
          this.reset();
          for (const { queue, counts } of await read()) for (const [state, n] of Object.entries(counts)) this.set({ queue, state }, n);
        },
      });
    }
    if (sources.kvTiers) {
      const read = sources.kvTiers;
      // The store keeps cumulative counts; a counter mirrors them (reset + inc keeps the exposition type right).
      const mirror = (name: string, help: string, field: 'hits' | 'misses' | 'evictions') =>
        new Counter({
          name,
          help,
          labelNames: ['tier'],
          registers,
          collect() {
            const tiers = read();
            this.reset();
            for (const [tier, s] of Object.entries(tiers ?? {})) this.inc({ tier }, s[field]);
          },
        });
      mirror('rag_kv_cache_hits_total', 'KV block store hits per tier (this process)', 'hits');
      mirror('rag_kv_cache_misses_total', 'KV block store misses per tier (this process)', 'misses');
      mirror('rag_kv_cache_evictions_total', 'KV block store evictions per tier (this process)', 'evictions');
      const level = (name: string, help: string, field: 'bytes' | 'entries') =>
        new Gauge({
          name,
          help,
          labelNames: ['tier'],
          registers,
          collect() {
            const tiers = read();
            this.reset();
            for (const [tier, s] of Object.entries(tiers ?? {})) this.set({ tier }, s[field]);
          },
        });
      level('rag_kv_cache_bytes', 'KV block store size per tier in bytes', 'bytes');
      level('rag_kv_cache_entries', 'KV blocks held per tier', 'entries');
    }
    if (sources.collections) {
      // Both gauges are collected concurrently within one scrape: they share one read of the store.
      const read = sharedWithin(sources.collections, 1000);
      for (const [name, help, field] of [
        ['rag_collection_documents', 'Stored documents per collection', 'documents'],
        ['rag_collection_chunks', 'Stored chunks per collection', 'chunks'],
      ] as const) {
        new Gauge({
          name,
          help,
          labelNames: ['collection'],
          registers,
          async collect() {
            const list = await read();
            this.reset();
            for (const c of list) this.set({ collection: c.name }, c[field]);
          },
        });
      }
    }
    if (sources.askAdmission) {
      const read = sources.askAdmission;
      for (const [name, help, field] of [
        ['rag_asks_in_flight', 'Questions being answered by this process', 'inFlight'],
        ['rag_asks_queued', 'Questions waiting for a free slot in this process', 'queued'],
      ] as const) {
        new Gauge({
          name,
          help,
          registers,
          collect() {
            this.set(read()[field]);
          },
        });
      }
      new Counter({
        name: 'rag_asks_rejected_total',
        help: 'Questions refused at admission: per_client (429, the caller is at its cap) or queue_full (503)',
        labelNames: ['reason'],
        registers,
        collect() {
          this.reset();
          for (const [reason, n] of Object.entries(read().rejected)) this.inc({ reason }, n);
        },
      });
    }
    if (sources.indexes) {
      const read = sources.indexes;
      for (const [name, help, field] of [
        ['rag_index_vectors', 'Live vectors per collection index loaded in this process', 'vectors'],
        ['rag_index_tombstones', 'Deleted HNSW slots not yet rebuilt away, per loaded collection index', 'tombstones'],
      ] as const) {
        new Gauge({
          name,
          help,
          labelNames: ['collection'],
          registers,
          collect() {
            this.reset();
            for (const i of read()) this.set({ collection: i.collection }, i[field]);
          },
        });
      }
    }
  }

  /** One answered question: every stage that ran, in seconds. */
  observeAsk(timings: Partial<Record<(typeof ASK_STAGES)[AskStage], number | null>>, labels: { mode: string; compression: string }, usage?: { promptTokens: number; completionTokens: number }): void {
    for (const [stage, field] of Object.entries(ASK_STAGES)) {
      const ms = timings[field];
      if (typeof ms === 'number' && Number.isFinite(ms)) this.stageDuration.observe({ stage }, ms / 1000);
    }
    this.asks.inc(labels);
    if (usage) {
      this.askTokens.inc({ kind: 'prompt' }, usage.promptTokens);
      this.askTokens.inc({ kind: 'completion' }, usage.completionTokens);
    }
  }

  /**
   * Times every request; the route label is the express pattern that matched (`/v1/jobs/:id`), so ids do not
   * explode the label set. Unmatched requests share one label.
   */
  httpMiddleware(): RequestHandler {
    return (req, res, next) => {
      const end = this.httpDuration.startTimer();
      // The router assigns req.route when a route matches; its mount path (req.baseUrl) is only right at that
      // moment (an error unwinds it before the response ends), so the pattern is captured on assignment.
      let route = 'unmatched';
      let current: unknown = undefined;
      Object.defineProperty(req, 'route', {
        configurable: true,
        enumerable: true,
        get: () => current,
        set: (r: { path?: unknown } | undefined) => {
          current = r;
          if (typeof r?.path === 'string') route = `${req.baseUrl}${r.path === '/' && req.baseUrl ? '' : r.path}`;
        },
      });
      res.on('finish', () => end({ method: req.method, route, status: String(res.statusCode) }));
      next();
    };
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
