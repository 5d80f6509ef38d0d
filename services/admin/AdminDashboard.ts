import type { Queue } from 'bullmq';
import type { ServiceContext } from '../context.js';
import type { GeneratorHandle } from '../ask/GeneratorHandle.js';
import type { ProfileStore, BasinProfile } from '../../reranker/BasinProfile.js';
import type { TierCounters } from '../../infra/metrics.js';
import { CalibrationJobs } from './CalibrationJobs.js';
import { jobSummary, QueueInspector, type JobSummary, type QueueDepth } from './QueueInspector.js';
import { RecentAsks, type RecentAsk } from './RecentAsks.js';
import { stagePercentiles, type StagePercentiles } from './latency.js';
import type { DoctorReport } from '../../model/ModelDoctor.js';

export interface Overview {
  collections: { name: string; documents: number; chunks: number; embedder: { id: string; dim: number } | null; index: { vectors: number; tombstones: number } | null }[];
  embedder: { id: string; dim: number };
  generator:
    | {
        state: 'ready';
        modelId: string;
        dir: string;
        taps: boolean;
        layers: number;
        sharedPrefix: boolean;
        kvDir: string | null;
        configured: string;
        /** `rag models doctor` for the loaded model (export family, positions, taps, self-check), run at start. */
        doctor: DoctorReport | null;
      }
    | { state: 'loading' | 'unavailable'; configured: string; reason?: string };
  queues: QueueDepth[];
  asks: number;
}

export interface KvView {
  available: boolean;
  tiers: Record<string, TierCounters> | null;
  computed: number;
  disk: { corrupt: number; writes: number; writeErrors: number } | null;
}

/** Everything the dashboard reads, gathered from the process's own parts (no second source of truth). */
export class AdminDashboard {
  readonly inspector: QueueInspector;

  constructor(
    private readonly ctx: ServiceContext,
    readonly recent: RecentAsks,
    readonly calibration: CalibrationJobs,
    readonly profiles: ProfileStore,
    private readonly generator?: GeneratorHandle,
  ) {
    const q = (n: 'chunk' | 'embed' | 'index' | 'prefill'): Queue => ctx.ingestion.queue(n);
    this.inspector = new QueueInspector([q('chunk'), q('embed'), q('index'), q('prefill'), calibration.queue]);
  }

  async overview(): Promise<Overview> {
    const [collections, queues, asks] = await Promise.all([this.ctx.store.listCollections(), this.inspector.depths(), this.recent.count()]);
    const loaded = new Map(this.ctx.registry.loaded().map((i) => [i.collection, i]));
    return {
      collections: collections.map((c) => {
        const ix = loaded.get(c.name);
        return {
          name: c.name,
          documents: c.documents,
          chunks: c.chunks,
          embedder: c.embedder ? { id: c.embedder.id, dim: c.embedder.dim } : null,
          index: ix ? { vectors: ix.vectors.size, tombstones: ix.vectors.tombstones } : null,
        };
      }),
      embedder: { id: this.ctx.embedder.id, dim: this.ctx.embedder.dim },
      generator: this.generatorInfo(),
      queues,
      asks,
    };
  }

  private generatorInfo(): Overview['generator'] {
    const configured = this.ctx.config.GENERATOR_MODEL;
    const s = this.generator?.state;
    if (!s) return { state: 'unavailable', configured, reason: 'this API process serves no questions' };
    if (s.state === 'loading') return { state: 'loading', configured };
    if (s.state === 'unavailable') return { state: 'unavailable', configured, reason: s.reason };
    const g = s.generator;
    return {
      state: 'ready',
      configured,
      modelId: g.modelId,
      dir: g.model.dir,
      taps: g.model.attentionOutputs.length > 0,
      layers: g.model.config.layers,
      sharedPrefix: g.sharedPrefix,
      kvDir: g.store.opts.dir,
      doctor: s.doctor,
    };
  }

  /** The API process's KV block store (the worker's prefill store is another process). */
  kv(): KvView {
    const s = this.generator?.state;
    if (s?.state !== 'ready') return { available: false, tiers: null, computed: 0, disk: null };
    const st = s.generator.store.stats();
    return {
      available: true,
      tiers: { memory: st.memory, disk: st.disk },
      computed: st.computed,
      disk: { corrupt: st.disk.corrupt, writes: st.disk.writes, writeErrors: st.disk.writeErrors },
    };
  }

  kvTiers(): Record<string, TierCounters> | null {
    return this.kv().tiers;
  }

  async latency(): Promise<{ questions: number; stages: StagePercentiles[]; series: { at: string; timings: RecentAsk['timings'] }[] }> {
    const asks = await this.recent.list();
    return {
      questions: asks.length,
      stages: stagePercentiles(asks.map((a) => a.timings)),
      series: asks
        .map((a) => ({ at: a.at, timings: a.timings }))
        .reverse(),
    };
  }

  async calibrationView(): Promise<{ profiles: BasinProfile[]; jobs: JobSummary[]; model: string }> {
    const q = this.calibration.queue;
    const jobs = (await q.getJobs(['active', 'waiting', 'completed', 'failed'], 0, 19)).filter((j) => !!j);
    return {
      model: this.ctx.config.GENERATOR_MODEL,
      profiles: this.profiles.list(),
      jobs: jobs
        .map((j) => jobSummary(q.name, j))
        .sort((a, b) => b.timestamp - a.timestamp),
    };
  }
}
