import type { Redis } from 'ioredis';
import { DecoderModel } from '../../model/DecoderModel.js';
import { BlockAttentionGenerator } from '../../generator/BlockAttentionGenerator.js';
import { UseLiteEmbedder } from '../../indexer/embedding/UseLiteEmbedder.js';
import { IndexRegistry } from '../../retriever/IndexRegistry.js';
import { SearchService } from '../../retriever/SearchService.js';
import { AskPipeline, type PipelineEvent } from '../../ask/AskPipeline.js';
import { askResponse } from '../../ask/AskResponse.js';
import { PlanningError } from '../../ask/errors.js';
import { blockSourceOf } from '../../ask/Passage.js';
import { DOCS } from '../generator/fixtures.js';
import { freshRedis, tempDir } from '../support/processes.js';
import { inProcessIngestion, type InProcessIngestion } from '../support/inProcessIngestion.js';
import { buildTempModel, removeTempModel } from '../support/tempModel.js';

const C = 'askretrieve';
const QUESTION = 'When was the railway bridge finished?';
let redis: Redis;
let embedder: UseLiteEmbedder;
let ing: InProcessIngestion;
let modelDir: string;
let model: DecoderModel;
let generator: BlockAttentionGenerator;
let pipeline: AskPipeline;

beforeAll(async () => {
  const r = await freshRedis(13);
  redis = r.redis;
  embedder = await UseLiteEmbedder.create();
  modelDir = buildTempModel('tiny', { seed: 17 });
  model = await DecoderModel.load(modelDir, { intraOpThreads: 1 });
  generator = BlockAttentionGenerator.create(model);
  ing = inProcessIngestion(r.url, redis, embedder);
  // What the prefill queue does after indexing: every new chunk's block computed ahead of questions.
  ing.startWorkers(async ({ title, chunks }) => {
    for (const c of chunks) await generator.prefillChunk(blockSourceOf(c, title));
  });
  await ing.settle(await ing.submit(C, DOCS.map((d) => ({ ...d, metadata: {} }))));
  const search = new SearchService(ing.store, new IndexRegistry(ing.store, tempDir('ask-snapshots')), embedder);
  pipeline = new AskPipeline({ generator, search, store: ing.store });
}, 120_000);
afterAll(async () => {
  await ing?.close();
  await embedder?.close();
  await model?.release();
  if (modelDir) removeTempModel(modelDir);
  redis?.disconnect();
});

describe('the ask pipeline retrieving from a collection', () => {
  it('retrieves, tells the caller first, and finds every block the ingestion prefill computed (same chunk -> block mapping)', async () => {
    const computedBefore = generator.store.stats().computed;
    const events: PipelineEvent[] = [];
    const run = await pipeline.run({ collection: C, question: QUESTION, k: 3, maxTokens: 3 }, { onEvent: (e) => void events.push(e) });
    expect(events[0]).toEqual({ type: 'retrieval', hits: run.hits });
    expect(events.slice(1).every((e) => e.type === 'token')).toBe(true);
    expect(run.hits).toHaveLength(3);
    expect(run.cache).toEqual({ hits: 3, misses: 0, memoryHits: 3, diskHits: 0 });
    expect(generator.store.stats().computed).toBe(computedBefore);
    // One record per retrieved chunk, in rank order, carrying the chunk, its document's title and its score.
    run.passages.forEach((p, rank) => {
      const hit = run.hits[rank]!;
      expect(p.rank).toBe(rank);
      expect(p.chunk).toMatchObject({ chunkId: hit.chunkId, documentId: hit.documentId, text: hit.text, start: hit.start, end: hit.end, score: hit.score });
      expect(p.chunk.title).toBe(DOCS.find((d) => d.id === hit.documentId)!.title || undefined);
      expect(p.block!.label).toBe(p.chunk.title ?? p.chunk.documentId);
    });
    expect(run.hits[0]!.documentId).toBe('doc-bridge');
    const res = askResponse(run);
    expect(res.citations.map((c) => c.chunkId)).toEqual(run.hits.map((h) => h.chunkId));
    expect(res.passages.map((p) => p.retrievalRank)).toEqual([0, 1, 2]);
  }, 60_000);

  it('a collection with nothing in it is a PlanningError, raised before any model work', async () => {
    const before = model.forwardCalls;
    await expect(pipeline.run({ collection: 'empty-collection', question: QUESTION, k: 3 })).rejects.toThrow(PlanningError);
    expect(model.forwardCalls).toBe(before);
  });
});
