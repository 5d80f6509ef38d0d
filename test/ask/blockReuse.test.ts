import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DecoderModel } from '../../model/DecoderModel.js';
import { BlockAttentionGenerator } from '../../generator/BlockAttentionGenerator.js';
import { KvBlockStore } from '../../generator/KvBlockStore.js';
import { AskPipeline, type PipelineEvent } from '../../ask/AskPipeline.js';
import type { GivenPassagesRequest } from '../../ask/AskRequest.js';
import { askResponse, type AskResponse } from '../../ask/AskResponse.js';
import { buildTempModel, removeTempModel } from '../support/tempModel.js';
import { DOCS, chunkOf } from '../generator/fixtures.js';

type Answer = AskResponse & { tokenIds: number[]; layout: { chunkId: string; end: number }[] };

/** An answer through the served ask pipeline over given passages. */
async function answer(gen: BlockAttentionGenerator, req: GivenPassagesRequest, onEvent?: (e: PipelineEvent) => void): Promise<Answer> {
  const run = await new AskPipeline({ generator: gen }).run(req, { onEvent });
  return { ...askResponse(run), tokenIds: run.decoded!.generation.tokenIds, layout: run.finalPass!.context.layout };
}

const MODEL_ID = 'tiny-seed21';

describe('ask pipeline over cached blocks: reuse, concurrency, streaming (built tiny model)', () => {
  let modelDir: string;
  let model: DecoderModel;
  let work: string;

  const generator = (dir: string | null): BlockAttentionGenerator => {
    const { layers, kvHeads, headDim } = model.config;
    const store = new KvBlockStore({ modelId: MODEL_ID, shape: { layers, kvHeads, headDim }, memoryBytes: 256 * 2 ** 20, dir, diskBytes: 256 * 2 ** 20 });
    return BlockAttentionGenerator.create(model, { store });
  };

  beforeAll(async () => {
    modelDir = buildTempModel('tiny', { seed: 21 });
    model = await DecoderModel.load(modelDir, { intraOpThreads: 1 });
  });
  beforeEach(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'answer-'));
  });
  afterEach(() => fs.rmSync(work, { recursive: true, force: true }));
  afterAll(async () => {
    await model.release();
    removeTempModel(modelDir);
  });

  it('a second answer over the same passages computes no block (all hits)', async () => {
    const gen = generator(path.join(work, 'kv'));
    const req: GivenPassagesRequest = { question: 'When was the bridge finished?', passages: DOCS.map((d) => chunkOf(d)), maxTokens: 6 };
    const first = await answer(gen, req);
    expect(first.cache).toEqual({ hits: 0, misses: DOCS.length, memoryHits: 0, diskHits: 0 });
    const computed = gen.store.stats().computed;
    expect(computed).toBe(DOCS.length);
    const second = await answer(gen, req);
    expect(second.cache).toEqual({ hits: DOCS.length, misses: 0, memoryHits: DOCS.length, diskHits: 0 });
    expect(gen.store.stats().computed).toBe(computed);
    expect(second.tokenIds).toEqual(first.tokenIds);
    // Another order of the same passages: still no block computed (blocks are position-independent).
    const reordered = await answer(gen, { ...req, passages: [...req.passages].reverse() });
    expect(reordered.cache.misses).toBe(0);
    expect(reordered.layout.map((l) => l.chunkId)).toEqual(DOCS.map((d) => `${d.id}#0`).reverse());
    // A new process over the same DATA_DIR reads them from disk.
    await gen.store.flush();
    const other = generator(path.join(work, 'kv'));
    const third = await answer(other, req);
    expect(third.cache).toEqual({ hits: DOCS.length, misses: 0, memoryHits: 0, diskHits: DOCS.length });
    expect(other.store.stats().computed).toBe(0);
    expect(third.timings.assembleMs).toBeGreaterThan(0);
    expect(third.timings.questionPrefillMs).toBeGreaterThan(0);
    expect(third.usage.promptTokens).toBe(third.layout[third.layout.length - 1]!.end + gen.finalTokens(req.question).length);
  });

  it('concurrent answers sharing blocks never corrupt the store and equal sequential answers', async () => {
    const dir = path.join(work, 'kv');
    const questions = ['Where does the river reach the sea?', 'Who built the bridge?', 'What do farmers bring?', 'How many pupils?'];
    const reqs: GivenPassagesRequest[] = [];
    for (let i = 0; i < 8; i++) {
      // Overlapping subsets in varying orders.
      const docs = [DOCS[i % 4]!, DOCS[(i + 1) % 4]!, DOCS[(i + 3) % 4]!].slice(0, 2 + (i % 2));
      reqs.push({ question: questions[i % 4]!, passages: docs.map((d) => chunkOf(d)), maxTokens: 6 });
    }
    const seq = generator(null);
    const sequential: Answer[] = [];
    for (const r of reqs) sequential.push(await answer(seq, r));

    // Two "processes" (separate stores) on one folder, each running all answers at once.
    const a = generator(dir);
    const b = generator(dir);
    const results = await Promise.all([...reqs.map((r) => answer(a, r)), ...reqs.map((r) => answer(b, r))]);
    await Promise.all([a.store.flush(), b.store.flush()]);
    for (const [i, r] of results.entries()) {
      expect(r.tokenIds).toEqual(sequential[i % reqs.length]!.tokenIds);
      expect(r.answer).toBe(sequential[i % reqs.length]!.answer);
    }
    for (const s of [a, b]) {
      expect(s.store.stats().computed).toBe(DOCS.length); // single-flight: each block computed once per process
      expect(s.store.stats().disk.writeErrors).toBe(0);
    }
    const files = fs.readdirSync(dir);
    expect(files.filter((f) => !f.endsWith('.kv'))).toEqual([]);
    expect(files.length).toBe(DOCS.length);
    const verifier = generator(dir);
    for (const d of DOCS) {
      const r = verifier.render(chunkOf(d));
      const key = verifier.blockKeyOf(r);
      const kv = await verifier.store.decode(key, fs.readFileSync(verifier.store.filePath(key))); // throws on a bad checksum
      const fresh = (await seq.blockKv(r)).kv.toFp16();
      for (let l = 0; l < kv.layerCount; l++) expect(Array.from(kv.toFp16().layers[l].key)).toEqual(Array.from(fresh.layers[l].key));
    }
  });

  it('streaming: the token events concatenate to the answer, and equal an answer nobody streamed', async () => {
    const gen = generator(null);
    const req: GivenPassagesRequest = { question: 'What does the library hold?', passages: [chunkOf(DOCS[3]!), chunkOf(DOCS[0]!)], maxTokens: 24 };
    const events: PipelineEvent[] = [];
    const streamed = await answer(gen, req, (e) => events.push(e));
    const plain = await answer(gen, req);
    const tokens = events.filter((e): e is Extract<PipelineEvent, { type: 'token' }> => e.type === 'token');
    expect(events.every((e) => e.type === 'token')).toBe(true); // given passages: no retrieval event
    expect(tokens.length).toBeGreaterThan(0);
    expect(tokens.length).toBeLessThanOrEqual(streamed.tokenIds.length);
    expect(tokens.every((t) => t.text.length > 0)).toBe(true);
    // Events come in generation order: their ids are a subsequence of the generated ids.
    let at = 0;
    for (const t of tokens) {
      const i = streamed.tokenIds.indexOf(t.id, at);
      expect(i).toBeGreaterThanOrEqual(0);
      at = i + 1;
    }
    expect(tokens.map((t) => t.text).join('')).toBe(streamed.answer);
    expect(plain.tokenIds).toEqual(streamed.tokenIds);
    expect(streamed.answer).toBe(model.tokenizer.decode(plain.tokenIds, { skip_special_tokens: true }));
    expect(streamed.answer.length).toBeGreaterThan(0);
  });

  it('an aborted answer stops and reports it', async () => {
    const gen = generator(null);
    const ctl = new AbortController();
    ctl.abort();
    const events: PipelineEvent[] = [];
    const r = await answer(gen, { question: 'Who?', passages: [chunkOf(DOCS[1]!)], maxTokens: 50, signal: ctl.signal }, (e) => events.push(e));
    expect(r.finishReason).toBe('aborted');
    expect(events).toEqual([]);
    expect(r.tokenIds).toEqual([]);
  });
});
