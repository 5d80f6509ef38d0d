import type { Config } from '../../infra/config.js';
import { COLLECTION_NAME } from '../../indexer/store/keys.js';
import type { ServiceContext } from '../context.js';
import { startConfiguredIngestionWorkers } from '../../indexer/pipeline/IngestionWorkers.js';
import { UsageError } from './errors.js';

/**
 * Ingests an evaluation corpus into a scratch collection and waits until it is indexed, with ingestion workers
 * in this process (started on first use), so an evaluation never depends on other workers' configuration.
 * Job ids derive from document id + content: a collection ingested before is skipped, not redone.
 */
export interface CorpusDocument {
  id: string;
  title?: string;
  text: string;
}

export class CorpusIngester {
  private workers: { close: () => Promise<void> } | null = null;

  constructor(
    private readonly config: Config,
    private readonly ctx: ServiceContext,
    private readonly progress: (message: string) => void = () => undefined,
  ) {}

  async ingest(collection: string, docs: readonly CorpusDocument[]): Promise<{ submitted: number; chunks: number }> {
    if (!COLLECTION_NAME.test(collection)) throw new UsageError(`--collection ${JSON.stringify(collection)}: 1-64 letters, digits, _ or -`);
    const { ctx } = this;
    await ctx.ingestion.assertEmbedder(collection, ctx.embedder);
    this.workers ??= startConfiguredIngestionWorkers(this.config, ctx.store, ctx.redis, ctx.embedder);
    const jobIds: string[] = [];
    for (const d of docs) jobIds.push((await ctx.ingestion.submit(collection, { ...d, title: d.title ?? d.id, metadata: {} })).jobId);
    let settled = 0;
    let last = Date.now();
    for (const s of await ctx.ingestion.waitFor(jobIds, () => {
      settled++;
      if (Date.now() - last > 5000) {
        last = Date.now();
        this.progress(`ingest ${collection}: ${settled}/${docs.length} documents`);
      }
    })) {
      if (s.state === 'failed') throw new Error(`ingestion job ${s.id} failed: ${s.error ?? 'unknown error'}`);
    }
    const info = await ctx.store.collectionInfo(collection);
    return { submitted: docs.length, chunks: info?.chunks ?? 0 };
  }

  async close(): Promise<void> {
    await this.workers?.close();
    this.workers = null;
  }
}
