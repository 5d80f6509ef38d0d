import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DecoderModel } from '../../model/DecoderModel.js';
import { BlockAttentionGenerator, type AnswerRequest } from '../../generator/BlockAttentionGenerator.js';
import { KvBlockStore } from '../../generator/KvBlockStore.js';
import { buildTempModel, removeTempModel } from '../support/tempModel.js';
import { DOCS, chunkOf } from './fixtures.js';

const MODEL_ID = 'tiny-seed21';

describe('answer(): cache reuse, concurrency, streaming (built tiny model)', () => {
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
    const req: AnswerRequest = { question: 'When was the bridge finished?', chunks: DOCS.map((d) => chunkOf(d)), sampling: { maxTokens: 6 } };
    const first = await gen.answer(req).result;
    expect(first.cache).toEqual({ hits: { memory: 0, disk: 0, joined: 0 }, misses: DOCS.length });
    const computed = gen.store.stats().computed;
    expect(computed).toBe(DOCS.length);
    const second = await gen.answer(req).result;
    expect(second.cache).toEqual({ hits: { memory: DOCS.length, disk: 0, joined: 0 }, misses: 0 });
    expect(gen.store.stats().computed).toBe(computed);
    expect(second.tokenIds).toEqual(first.tokenIds);
    // Another order of the same passages: still no block computed (blocks are position-independent).
    const reordered = await gen.answer({ ...req, chunks: [...req.chunks].reverse() }).result;
    expect(reordered.cache.misses).toBe(0);
    expect(reordered.layout.map((l) => l.chunkId)).toEqual(DOCS.map((d) => `${d.id}#0`).reverse());
    // A new process over the same DATA_DIR reads them from disk.
    await gen.store.flush();
    const other = generator(path.join(work, 'kv'));
    const third = await other.answer(req).result;
    expect(third.cache).toEqual({ hits: { memory: 0, disk: DOCS.length, joined: 0 }, misses: 0 });
    expect(other.store.stats().computed).toBe(0);
    expect(third.timings.assembleMs).toBeGreaterThan(0);
    expect(third.timings.questionPrefillMs).toBeGreaterThan(0);
    expect(third.usage.promptTokens).toBe(third.layout[third.layout.length - 1].end + gen.finalTokens(req.question).length);
  });

  it('concurrent answers sharing blocks never corrupt the store and equal sequential answers', async () => {
    const dir = path.join(work, 'kv');
    const questions = ['Where does the river reach the sea?', 'Who built the bridge?', 'What do farmers bring?', 'How many pupils?'];
    const reqs: AnswerRequest[] = [];
    for (let i = 0; i < 8; i++) {
      // Overlapping subsets in varying orders.
      const docs = [DOCS[i % 4], DOCS[(i + 1) % 4], DOCS[(i + 3) % 4]].slice(0, 2 + (i % 2));
      reqs.push({ question: questions[i % 4], chunks: docs.map((d) => chunkOf(d)), sampling: { maxTokens: 6 } });
    }
    const seq = generator(null);
    const sequential = [];
    for (const r of reqs) sequential.push(await seq.answer(r).result);

    // Two "processes" (separate stores) on one folder, each running all answers at once.
    const a = generator(dir);
    const b = generator(dir);
    const results = await Promise.all([...reqs.map((r) => a.answer(r).result), ...reqs.map((r) => b.answer(r).result)]);
    await Promise.all([a.store.flush(), b.store.flush()]);
    for (const [i, r] of results.entries()) {
      expect(r.tokenIds).toEqual(sequential[i % reqs.length].tokenIds);
      expect(r.text).toBe(sequential[i % reqs.length].text);
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

  it('streaming: the concatenated streamed tokens equal the non-streamed answer', async () => {
    const gen = generator(null);
    const req: AnswerRequest = { question: 'What does the library hold?', chunks: [chunkOf(DOCS[3]), chunkOf(DOCS[0])], sampling: { maxTokens: 24, stopTokenIds: [] } };
    const run = gen.answer(req);
    const ids: number[] = [];
    let text = '';
    let firstAt: number | null = null;
    for await (const t of run.tokens) {
      firstAt ??= ids.length;
      ids.push(t.id);
      text += t.text;
    }
    const streamed = await run.result;
    const plain = await gen.answer(req).result; // nobody reads its tokens
    expect(firstAt).toBe(0);
    expect(ids.length).toBe(streamed.tokenIds.length);
    expect(ids.length).toBeGreaterThan(0);
    expect(ids).toEqual(plain.tokenIds);
    expect(text).toBe(plain.text);
    expect(text).toBe(model.tokenizer.decode(plain.tokenIds, { skip_special_tokens: true }));
    expect(text.length).toBeGreaterThan(0);
  });

  it('an aborted answer stops and reports it', async () => {
    const gen = generator(null);
    const ctl = new AbortController();
    ctl.abort();
    const run = gen.answer({ question: 'Who?', chunks: [chunkOf(DOCS[1])], sampling: { maxTokens: 50, stopTokenIds: [] }, signal: ctl.signal });
    const got: number[] = [];
    for await (const t of run.tokens) got.push(t.id);
    const r = await run.result;
    expect(r.finishReason).toBe('aborted');
    expect(got).toEqual([]);
    expect(r.tokenIds).toEqual([]);
  });
});
