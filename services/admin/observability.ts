import { ServiceMetrics } from '../../infra/metrics.js';
import { releaseConnection } from '../../infra/redis.js';
import { ProfileStore } from '../../reranker/BasinProfile.js';
import { bullConnection } from '../bootstrap.js';
import type { ServiceContext } from '../context.js';
import type { AskService } from '../ask/AskService.js';
import type { AskAdmission } from '../http/askAdmission.js';
import type { GeneratorHandle } from '../ask/GeneratorHandle.js';
import { AdminDashboard } from './AdminDashboard.js';
import { CalibrationJobs } from './CalibrationJobs.js';
import { RecentAsks } from './RecentAsks.js';

/**
 * The API process's observability: Prometheus metrics (queues, KV tiers, collections and indexes read at
 * scrape time) and the admin dashboard; every answered question is observed into both.
 */
export function createObservability(ctx: ServiceContext, generator?: GeneratorHandle, ask?: AskService, admission?: AskAdmission): { metrics: ServiceMetrics; admin: AdminDashboard; close: () => Promise<void> } {
  const recent = new RecentAsks(ctx.redis);
  // Used by dashboard requests only, so bounded like every request-serving connection.
  const connection = bullConnection(ctx.config, 'serving');
  const calibration = new CalibrationJobs(connection);
  const admin = new AdminDashboard(ctx, recent, calibration, ProfileStore.forDataDir(ctx.config.dataDir), generator);
  const metrics = new ServiceMetrics({
    queueCounts: () => admin.inspector.depths(),
    kvTiers: () => admin.kvTiers(),
    collections: () => ctx.store.listCollections(),
    indexes: () => ctx.registry.loaded().map((i) => ({ collection: i.collection, vectors: i.vectors.size, tombstones: i.vectors.tombstones })),
    askAdmission: admission ? () => admission.state() : undefined,
  });
  ask?.onAnswered(async (req, res) => {
    metrics.observeAsk(res.timings, { mode: res.mode, compression: res.compression.method }, res.usage);
    await recent.record(req, res);
  });
  return {
    metrics,
    admin,
    close: async () => {
      await calibration.close();
      releaseConnection(connection);
    },
  };
}
