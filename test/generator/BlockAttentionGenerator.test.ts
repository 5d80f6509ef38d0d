import { DecoderModel } from '../../model/DecoderModel.js';
import { KvCache } from '../../model/kv/KvCache.js';
import { BlockAttentionGenerator, type BlockKv } from '../../generator/BlockAttentionGenerator.js';
import { argmax } from '../../generator/Sampler.js';
import { AskPipeline } from '../../ask/AskPipeline.js';
import type { GivenPassagesRequest } from '../../ask/AskRequest.js';
import { askResponse, type AskResponse } from '../../ask/AskResponse.js';
import { ReferenceDecoder, maxAbsDiff } from '../support/referenceDecoder.js';
import { buildTempModel, removeTempModel } from '../support/tempModel.js';
import { DOCS, chunkOf, range } from './fixtures.js';

const TOL = 1e-4;
const QUESTION = 'Where does the river reach the sea?';

async function greedy(gen: BlockAttentionGenerator, pass: Awaited<ReturnType<BlockAttentionGenerator['questionPass']>>, n: number): Promise<number[]> {
  const it = gen.generate(pass, { maxTokens: n, stopTokenIds: [] });
  const ids: number[] = [];
  for await (const t of it) ids.push(t.id);
  return ids;
}

/** An answer through the served ask pipeline, over given passages. */
async function answer(gen: BlockAttentionGenerator, req: Omit<GivenPassagesRequest, 'question'> & { question?: string }): Promise<AskResponse & { tokenIds: number[]; layout: unknown }> {
  const run = await new AskPipeline({ generator: gen }).run({ question: QUESTION, ...req });
  return { ...askResponse(run), tokenIds: run.decoded!.generation.tokenIds, layout: run.finalPass!.context.layout };
}

describe('BlockAttentionGenerator exactness on the built tiny model (fp32)', () => {
  let dir: string;
  let refDir: string;
  let model: DecoderModel;
  let refModel: DecoderModel;
  let gen: BlockAttentionGenerator;

  beforeAll(async () => {
    dir = buildTempModel('tiny', { seed: 5 });
    refDir = buildTempModel('tiny', { seed: 5, referenceMask: true }, 'tiny-refmask');
    model = await DecoderModel.load(dir, { intraOpThreads: 1 });
    refModel = await DecoderModel.load(refDir, { intraOpThreads: 1 });
    gen = BlockAttentionGenerator.create(model);
  });
  afterAll(async () => {
    await model.release();
    await refModel.release();
    removeTempModel(dir);
    removeTempModel(refDir);
  });

  it('a block is computed after the prefix: positions |P|..|P|+L-1, equal to the same tokens prefilled after P', async () => {
    const prefix = await gen.prefix();
    const r = gen.render(chunkOf(DOCS[0]));
    const b = await gen.blockKv(r);
    const P = prefix.tokens.length;
    expect(P).toBeGreaterThan(5);
    expect(Array.from(b.kv.positions)).toEqual(range(P, r.tokens.length));
    const whole = await model.forward([...prefix.tokens, ...r.tokens], range(0, P + r.tokens.length), null, { logits: 'none' });
    for (let l = 0; l < model.config.layers; l++) expect(maxAbsDiff(b.kv.layers[l].key, whole.present.slice(P).layers[l].key)).toBeLessThanOrEqual(TOL);
  });

  it('one block in blocks mode gives the same logits and greedy tokens as full mode', async () => {
    const r = gen.render(chunkOf(DOCS[0], 40));
    const fin = gen.finalTokens(QUESTION);
    const ctx = await gen.assemble([await gen.blockKv(r)]);
    const blocks = await gen.questionPass(ctx, fin);
    const full = await gen.fullPass([r], fin);
    expect(blocks.start).toBe(full.start + r.tokens.length);
    expect(maxAbsDiff(blocks.logits, full.logits)).toBeLessThanOrEqual(TOL);
    expect(blocks.cache.length).toBe(full.cache.length);
    for (let l = 0; l < model.config.layers; l++) expect(maxAbsDiff(blocks.cache.layers[l].value, full.cache.layers[l].value)).toBeLessThanOrEqual(TOL);
    const gb = await greedy(gen, blocks, 12);
    const gf = await greedy(gen, full, 12);
    expect(gb.length).toBe(12);
    expect(gb).toEqual(gf);
    // And through the ask pipeline: same tokens in both modes.
    const a1 = await answer(gen, { passages: [chunkOf(DOCS[0], 40)], mode: 'blocks', maxTokens: 8 });
    const a2 = await answer(gen, { passages: [chunkOf(DOCS[0], 40)], mode: 'full', maxTokens: 8 });
    expect(a1.tokenIds).toEqual(a2.tokenIds);
    expect(a1.layout).toEqual(a2.layout);
  });

  it('blocks without a shared prefix equal one reference pass with a block-diagonal causal mask at contiguous positions', async () => {
    const noPrefix = BlockAttentionGenerator.create(model, { sharedPrefix: false });
    const rendered = DOCS.slice(0, 3).map((d) => noPrefix.render(chunkOf(d)));
    const blocks = await Promise.all(rendered.map((r) => noPrefix.blockKv(r)));
    for (const b of blocks) expect(b.kv.positions[0]).toBe(0);
    const ctx = await noPrefix.assemble(blocks);
    expect(ctx.prefixLength).toBe(0);
    const fin = noPrefix.finalTokens(QUESTION);
    const pass = await noPrefix.questionPass(ctx, fin);

    // Reference: every token at once, block i sees only itself (causally); the final block sees everything.
    const ids = [...rendered.flatMap((r) => r.tokens), ...fin];
    const S = ids.length;
    const blockOf = new Int32Array(S).fill(-1);
    let at = 0;
    for (const [i, r] of rendered.entries()) {
      blockOf.fill(i, at, at + r.tokens.length);
      at += r.tokens.length;
    }
    const mask = new Float32Array(S * S).fill(-Infinity);
    for (let i = 0; i < S; i++) {
      for (let j = 0; j <= i; j++) if (blockOf[i] === -1 || blockOf[i] === blockOf[j]) mask[i * S + j] = 0;
    }
    const ref = await refModel.forward(ids, range(0, S), null, { logits: 'all', additiveMask: mask });
    const V = model.config.vocabSize;
    expect(maxAbsDiff(pass.logits, (ref.logits as Float32Array).subarray((S - 1) * V))).toBeLessThanOrEqual(TOL);
    for (let l = 0; l < model.config.layers; l++) {
      expect(maxAbsDiff(pass.cache.layers[l].key, ref.present.layers[l].key)).toBeLessThanOrEqual(TOL);
      expect(maxAbsDiff(pass.cache.layers[l].value, ref.present.layers[l].value)).toBeLessThanOrEqual(TOL);
    }
    // The independent float64 reference decoder agrees too.
    const r64 = ReferenceDecoder.load(refDir).forward(ids, range(0, S), null, Float64Array.from(mask));
    expect(maxAbsDiff(pass.logits, r64.logits.subarray((S - 1) * V))).toBeLessThanOrEqual(TOL);
    // The comparison can fail: ordinary causal attention over the same tokens gives other logits.
    const causal = await model.forward(ids, range(0, S), null, { logits: 'last' });
    expect(maxAbsDiff(pass.logits, causal.logits as Float32Array)).toBeGreaterThan(1e-2);
  });

  it('with a shared prefix, multi-block blocks mode differs from full (blocks see the prefix, not each other)', async () => {
    const rendered = DOCS.slice(0, 3).map((d) => gen.render(chunkOf(d)));
    const fin = gen.finalTokens(QUESTION);
    const ctx = await gen.assemble(await Promise.all(rendered.map((r) => gen.blockKv(r))));
    expect(ctx.layout.map((l) => [l.start, l.end])).toEqual(
      rendered.map((r, i) => {
        const s = ctx.prefixLength + rendered.slice(0, i).reduce((n, x) => n + x.tokens.length, 0);
        return [s, s + r.tokens.length];
      }),
    );
    expect(Array.from(ctx.kv.positions)).toEqual(range(0, ctx.tokens.length));
    const blocks = await gen.questionPass(ctx, fin);
    const full = await gen.fullPass(rendered, fin);
    expect(maxAbsDiff(blocks.logits, full.logits)).toBeGreaterThan(1e-3);
  });

  it('head recompute: k>0 differs from plain blocks; k covering every block equals full', async () => {
    const rendered = DOCS.slice(0, 3).map((d) => gen.render(chunkOf(d)));
    const fin = gen.finalTokens(QUESTION);
    const bkv = await Promise.all(rendered.map((r) => gen.blockKv(r)));
    const plain = await gen.questionPass(await gen.assemble(bkv), fin);
    const head4 = await gen.questionPass(await gen.assemble(bkv, { recomputeHead: 4 }), fin);
    const maxLen = Math.max(...rendered.map((r) => r.tokens.length));
    const covered = await gen.questionPass(await gen.assemble(bkv, { recomputeHead: maxLen }), fin);
    const full = await gen.fullPass(rendered, fin);
    expect(maxAbsDiff(head4.logits, plain.logits)).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(covered.logits, full.logits)).toBeLessThanOrEqual(TOL);
    for (let l = 0; l < model.config.layers; l++) expect(maxAbsDiff(covered.cache.layers[l].key, full.cache.layers[l].key)).toBeLessThanOrEqual(TOL);
    // The recomputed head of block 2 is the full-mode KV there; its tail is the cached block's (re-encoded) KV.
    const l2 = covered.context.layout[1];
    const h4ctx = head4.context;
    const fullBlock2 = full.cache.slice(l2.start, l2.start + 4);
    expect(maxAbsDiff(h4ctx.kv.slice(l2.start, l2.start + 4).layers[1].value, fullBlock2.layers[1].value)).toBeLessThanOrEqual(TOL);
    const tail = bkv[1].kv.slice(4).reencode({ start: l2.start + 4 }, model.config.ropeTheta);
    expect(maxAbsDiff(h4ctx.kv.slice(l2.start + 4, l2.end).layers[1].key, tail.layers[1].key)).toBeLessThanOrEqual(1e-5);
    // And through the ask pipeline: head recompute covering the blocks gives full mode's tokens.
    const chunks = DOCS.slice(0, 3).map((d) => chunkOf(d));
    const a = await answer(gen, { passages: chunks, recomputeHead: maxLen, maxTokens: 8 });
    const f = await answer(gen, { passages: chunks, mode: 'full', maxTokens: 8 });
    expect(a.tokenIds).toEqual(f.tokenIds);
  });

  it('keep: dropping token ranges re-encodes the kept tokens contiguously', async () => {
    const r = gen.render(chunkOf(DOCS[1]));
    const b = await gen.blockKv(r);
    const s = r.sentences;
    const keep = [...range(0, r.headerLength), ...range(s[0].tokenStart, s[0].tokenEnd - s[0].tokenStart), ...range(s[2].tokenStart, s[2].tokenEnd - s[2].tokenStart)];
    const other = gen.render(chunkOf(DOCS[0]));
    const ctx = await gen.assemble([await gen.blockKv(other), b], { keep: [null, keep] });
    const l = ctx.layout[1];
    expect(l.tokenIndices).toEqual(keep);
    expect(l.end - l.start).toBe(keep.length);
    expect(ctx.tokens.slice(l.start, l.end)).toEqual(keep.map((i) => r.tokens[i]));
    const expected = b.kv.select(keep).reencode({ start: l.start }, model.config.ropeTheta);
    expect(maxAbsDiff(ctx.kv.slice(l.start, l.end).layers[0].key, expected.layers[0].key)).toBe(0);
    expect(Array.from(ctx.kv.positions)).toEqual(range(0, ctx.kv.length));
  });

  it('sampling with a seed is reproducible; greedy is the argmax chain', async () => {
    const chunks = [chunkOf(DOCS[2])];
    const s1 = await answer(gen, { passages: chunks, temperature: 1.5, topP: 0.95, seed: 7, maxTokens: 10 });
    const s2 = await answer(gen, { passages: chunks, temperature: 1.5, topP: 0.95, seed: 7, maxTokens: 10 });
    const s3 = await answer(gen, { passages: chunks, temperature: 1.5, topP: 0.95, seed: 8, maxTokens: 10 });
    const g = await answer(gen, { passages: chunks, maxTokens: 10 });
    expect(s1.tokenIds).toEqual(s2.tokenIds);
    expect(s3.tokenIds).not.toEqual(s1.tokenIds);
    expect(s1.tokenIds).not.toEqual(g.tokenIds);
    // Greedy by hand over the runtime.
    const blocks: BlockKv[] = [await gen.blockKv(gen.render(chunks[0]))];
    const pass = await gen.questionPass(await gen.assemble(blocks), gen.finalTokens(QUESTION));
    let cache: KvCache = pass.cache;
    let logits = pass.logits;
    const manual: number[] = [];
    for (let i = 0; i < g.tokenIds.length; i++) {
      const id = argmax(logits);
      manual.push(id);
      const out = await model.forward([id], [cache.length], cache, { logits: 'last' });
      cache = KvCache.concat([cache, out.present]);
      logits = out.logits as Float32Array;
    }
    expect(manual).toEqual(g.tokenIds);
    expect(g.timings.firstTokenMs).toBeGreaterThan(0);
    expect(g.timings.totalMs).toBeGreaterThanOrEqual(g.timings.firstTokenMs as number);
  });

  it('stops at the model stop tokens (generation_config eos) and at maxTokens', async () => {
    expect(gen.stopIds.length).toBeGreaterThanOrEqual(1);
    const pass = await gen.questionPass(await gen.assemble([await gen.blockKv(gen.render(chunkOf(DOCS[3])))]), gen.finalTokens(QUESTION));
    const run = async (sampling: Parameters<BlockAttentionGenerator['generate']>[1]) => {
      const it = gen.generate(pass, sampling);
      let step = await it.next();
      while (!step.done) step = await it.next();
      return step.value;
    };
    const first = await run({ maxTokens: 3 });
    expect(first.tokenIds.length).toBe(3);
    expect(first.finishReason).toBe('length');
    // Make the second greedy token a stop token: generation ends before it.
    const stopped = await run({ maxTokens: 3, stopTokenIds: [first.tokenIds[1]!] });
    expect(stopped.finishReason).toBe('stop');
    expect(stopped.tokenIds).toEqual(first.tokenIds.slice(0, first.tokenIds.indexOf(first.tokenIds[1])));
  });
});
