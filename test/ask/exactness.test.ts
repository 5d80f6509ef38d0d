import { DecoderModel } from '../../model/DecoderModel.js';
import { BlockAttentionGenerator } from '../../generator/BlockAttentionGenerator.js';
import type { BlockSource } from '../../generator/BlockRenderer.js';
import { splitSentences } from '../../indexer/text/SentenceSplitter.js';
import { blockSentenceFeatures } from '../../compressor/SentinelScorer.js';
import { AskPipeline } from '../../ask/AskPipeline.js';
import { placed } from '../../ask/Passage.js';
import { maxAbsDiff } from '../support/referenceDecoder.js';
import { referenceBlocksPass } from '../support/referencePass.js';
import { buildTempModel, removeTempModel } from '../support/tempModel.js';

const TEXTS = [
  'The lighthouse stands on a granite point. Its lamp was first lit in 1858. Keepers lived there until 1964. Now the light is automatic.',
  'Seals breed on the islands each autumn. Their pups stay ashore for three weeks. Visitors must keep their distance.',
  'The ferry sails twice a day in summer. In winter it runs only on weekdays.',
];
const source = (i: number): BlockSource => ({ chunkId: `c${i}`, documentId: `d${i}`, title: `T${i}`, text: TEXTS[i]!, start: 0, sentences: splitSentences(TEXTS[i]!) });
const QUESTION = 'When do seals breed?';

/**
 * The pipeline's model side against an independent reference (test/support/referencePass.ts: plain forward passes,
 * keys rotated by a float64 RoPE written from the formula). Tolerances, fp32 throughout: re-encoded keys <= 1e-5
 * (one rotation of values of order 1, float32 rounding); values are copied, so bit-identical; attention features
 * <= 1e-6 and logits <= 1e-4 (different onnxruntime call shapes change the summation order).
 */
describe('ask pipeline exactness on the built tiny model (blocks mode)', () => {
  let dir: string;
  let model: DecoderModel;
  let gen: BlockAttentionGenerator;
  let pipeline: AskPipeline;

  beforeAll(async () => {
    dir = buildTempModel('tiny', { seed: 4, attentionOutputs: true });
    model = await DecoderModel.load(dir, { intraOpThreads: 1 });
    gen = BlockAttentionGenerator.create(model, { modelId: 'test/tiny' });
    pipeline = new AskPipeline({ generator: gen });
  });
  afterAll(async () => {
    await model.release();
    removeTempModel(dir);
  });

  const reference = async (keep: (number[] | null)[] = [null, null, null], tap = false) =>
    referenceBlocksPass(
      model,
      (await gen.prefix()).tokens,
      [0, 1, 2].map((i) => ({ tokens: gen.render(source(i)).tokens, keep: keep[i] })),
      gen.finalTokens(QUESTION),
      tap ? gen.finalTokens(QUESTION).length : 0,
    );

  it('the tapped question pass reads the same sentence features as the reference, tapping every row or only the last', async () => {
    const ref = await reference(undefined, true);
    const runner = pipeline.questionPassRunner('blocks');
    const all = await runner.run([0, 1, 2].map(source), QUESTION, 'question');
    const last = await runner.run([0, 1, 2].map(source), QUESTION, 'last');
    expect(all.queryLength).toBe(gen.finalTokens(QUESTION).length);
    expect(last.queryLength).toBe(1);
    expect(all.keyLength).toBe(ref.context.length + all.queryLength);
    expect(all.blocks.map((b) => [b.tokenIndices[0], (b.tokenIndices[b.tokenIndices.length - 1] as number) + 1])).toEqual(ref.layout.map((l) => [l.start, l.end]));
    const refFeatures = blockSentenceFeatures({ ...all, attentions: ref.attentions! });
    for (const pass of [all, last]) {
      const f = blockSentenceFeatures(pass);
      let diff = 0;
      f.forEach((block, bi) => block.forEach((x, si) => x.forEach((v, k) => (diff = Math.max(diff, Math.abs(v - refFeatures[bi]![si]![k]!))))));
      expect(diff).toBeLessThanOrEqual(1e-6);
    }
    // The features differ between sentences: the comparison could fail.
    expect(maxAbsDiff(refFeatures[0]![0]!, refFeatures[0]![1]!)).toBeGreaterThan(1e-4);
  });

  it('KV-space compression: the assembled kept context and the final pass equal the reference built from the same kept tokens', async () => {
    const run = await pipeline.run({ question: QUESTION, passages: [0, 1, 2].map(source), compression: 'raw', keepRatio: 0.5, maxTokens: 1 });
    const inSlots = placed(run.passages);
    expect(inSlots.map((p) => p.rank)).toEqual(run.passages.filter((p) => p.kept!.sentences.length > 0).map((p) => p.rank));
    const keep = run.passages.map((p) => (p.kept!.sentences.length > 0 ? p.kept!.tokens : []));
    // Prefix and headers survive; of each block only the kept sentences' tokens, in order.
    for (const p of run.passages) {
      const b = p.block!;
      const expected = [...Array.from({ length: b.headerLength }, (_, t) => t), ...p.kept!.sentences.flatMap((s) => Array.from({ length: b.sentences[s]!.tokenEnd - b.sentences[s]!.tokenStart }, (_, t) => b.sentences[s]!.tokenStart + t))];
      expect(p.kept!.tokens).toEqual(expected);
    }
    const ref = await referenceBlocksPass(
      model,
      (await gen.prefix()).tokens,
      inSlots.map((p) => ({ tokens: p.block!.tokens, keep: keep[p.rank] })),
      gen.finalTokens(QUESTION),
    );
    expect(run.placedContext?.mode).toBe('blocks');
    const ctx = run.placedContext!.mode === 'blocks' ? run.placedContext!.context : null;
    const full = await reference();
    expect(ctx!.kv.length).toBe(ref.context.length);
    expect(ctx!.kv.length).toBeLessThan(full.context.length);
    expect(Array.from(ctx!.kv.positions)).toEqual(Array.from({ length: ctx!.kv.length }, (_, i) => i));
    for (let l = 0; l < model.config.layers; l++) {
      expect(maxAbsDiff(ctx!.kv.layers[l]!.key, ref.context.layers[l]!.key)).toBeLessThanOrEqual(1e-5);
      expect(Array.from(ctx!.kv.layers[l]!.value)).toEqual(Array.from(ref.context.layers[l]!.value));
    }
    expect(ctx!.layout.map((l) => [l.start, l.end])).toEqual(ref.layout.map((l) => [l.start, l.end]));
    expect(maxAbsDiff(run.finalPass!.logits, ref.logits)).toBeLessThanOrEqual(1e-4);
    // The question pass ran over the whole blocks (the uncompressed reference), the final pass over the kept ones.
    expect(maxAbsDiff(run.questionPass!.pass.logits, full.logits)).toBeLessThanOrEqual(1e-4);
    expect(maxAbsDiff(run.finalPass!.logits, full.logits)).toBeGreaterThan(1e-3);
  });

  it('with nothing dropped the question pass is the final pass, equal to no compression', async () => {
    const plain = await pipeline.run({ question: QUESTION, passages: [0, 1, 2].map(source), maxTokens: 1 });
    const before = model.forwardCalls;
    const kept = await pipeline.run({ question: QUESTION, passages: [0, 1, 2].map(source), compression: 'raw', keepRatio: 1, maxTokens: 1 });
    expect(kept.compression).toMatchObject({ keptTokens: kept.compression!.totalTokens, ratio: 1 });
    expect(kept.finalPass).toBe(kept.questionPass!.pass);
    expect(kept.trace.find((r) => r.stage === 'assemble')).toMatchObject({ ran: false });
    expect(kept.trace.find((r) => r.stage === 'finalPass')).toMatchObject({ ran: true, modelPasses: 0, note: 'the question pass is the final pass' });
    // One question pass, tapped on the last row only, in one session run: it is the served pass.
    expect(model.forwardCalls - before).toBe(1);
    expect(maxAbsDiff(kept.finalPass!.logits, plain.finalPass!.logits)).toBeLessThanOrEqual(1e-4);
    expect(kept.decoded!.generation.tokenIds).toEqual(plain.decoded!.generation.tokenIds);
  });
});
