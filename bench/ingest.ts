import { allParagraphs, loadSquad } from '../indexer/sources/squad.js';
import type { Config } from '../infra/config.js';
import { createRedis } from '../infra/redis.js';
import { EmbedderThread } from '../indexer/embedding/EmbedderThread.js';
import { IngestionService } from '../indexer/pipeline/IngestionService.js';
import { DocumentStore } from '../indexer/store/DocumentStore.js';
import { chunkDocument, HeuristicTokenCounter } from '../indexer/text/Chunker.js';
import { startConfiguredIngestionWorkers } from '../indexer/pipeline/IngestionWorkers.js';

export interface IngestBenchOptions {
  config: Config;
  squadFile: string;
  documents?: number;
}

export interface IngestBenchResult {
  documents: number;
  chunks: number;
  embedder: string;
  rawEmbedSeconds: number;
  rawChunksPerSecond: number;
  endToEndSeconds: number;
  documentsPerSecond: number;
  chunksPerSecond: number;
  /** End-to-end time over raw embedding time, minus one: what queues, storage and indexing add. */
  overhead: number;
}

/**
 * Ingestion throughput end to end (HTTP-equivalent submit -> BullMQ flow -> Redis) against the
 * embedder's raw throughput on the same chunk texts, in one process and one run.
 */
export async function runIngestBench(opts: IngestBenchOptions): Promise<IngestBenchResult> {
  const { config } = opts;
  const n = opts.documents ?? 400;
  const paragraphs = allParagraphs(await loadSquad(opts.squadFile)).slice(0, n);
  const docs = paragraphs.map((p) => ({ id: `b-${p.id}`, title: p.title, text: p.context, metadata: {} }));
  const counter = new HeuristicTokenCounter();
  const chunkTexts = docs.flatMap((d) => chunkDocument(d.text, { targetTokens: config.CHUNK_TOKENS, maxTokens: config.CHUNK_MAX_TOKENS }, counter).map((c) => c.text));

  const embedder = await EmbedderThread.start(config);
  await embedder.embed(chunkTexts.slice(0, 32)); // warm-up: first-call compilation is not throughput
  const rawStart = performance.now();
  for (let i = 0; i < chunkTexts.length; i += 256) await embedder.embed(chunkTexts.slice(i, i + 256));
  const rawEmbedSeconds = (performance.now() - rawStart) / 1000;

  const redis = createRedis(config.REDIS_URL);
  const store = new DocumentStore(redis);
  const collection = `bench-ingest-${process.pid}-${Date.now()}`;
  const ingestion = new IngestionService(createRedis(config.REDIS_URL), store, 3);
  const local = startConfiguredIngestionWorkers(config, store, redis, embedder);
  try {
    const e2eStart = performance.now();
    const jobIds: string[] = [];
    for (const d of docs) jobIds.push((await ingestion.submit(collection, d)).jobId);
    for (const s of await ingestion.waitFor(jobIds)) if (s.state === 'failed') throw new Error(`ingest job ${s.id} failed: ${s.error}`);
    const endToEndSeconds = (performance.now() - e2eStart) / 1000;
    const info = await store.collectionInfo(collection);
    return {
      documents: docs.length,
      chunks: info?.chunks ?? 0,
      embedder: embedder.id,
      rawEmbedSeconds,
      rawChunksPerSecond: chunkTexts.length / rawEmbedSeconds,
      endToEndSeconds,
      documentsPerSecond: docs.length / endToEndSeconds,
      chunksPerSecond: (info?.chunks ?? 0) / endToEndSeconds,
      overhead: endToEndSeconds / rawEmbedSeconds - 1,
    };
  } finally {
    await local.close();
    await store.deleteCollection(collection);
    await ingestion.close();
    await embedder.close();
    redis.disconnect();
  }
}
