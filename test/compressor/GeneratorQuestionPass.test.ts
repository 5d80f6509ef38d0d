import { DecoderModel } from '../../model/DecoderModel.js';
import { BlockAttentionGenerator } from '../../generator/BlockAttentionGenerator.js';
import type { BlockSource } from '../../generator/BlockRenderer.js';
import { splitSentences } from '../../indexer/text/SentenceSplitter.js';
import { DirectQuestionPass } from '../../compressor/QuestionPass.js';
import { GeneratorQuestionPass } from '../../compressor/GeneratorQuestionPass.js';
import { blockSentenceFeatures, scoreSentences } from '../../compressor/SentinelScorer.js';
import { planCompression } from '../../compressor/CompressionPlan.js';
import { compressKv } from '../../compressor/KvCompressor.js';
import { buildTempModel, removeTempModel } from '../support/tempModel.js';

const TEXTS = [
  'The lighthouse stands on a granite point. Its lamp was first lit in 1858. Keepers lived there until 1964. Now the light is automatic.',
  'Seals breed on the islands each autumn. Their pups stay ashore for three weeks. Visitors must keep their distance.',
  'The ferry sails twice a day in summer. In winter it runs only on weekdays.',
];
const source = (i: number): BlockSource => ({ chunkId: `c${i}`, documentId: `d${i}`, title: `T${i}`, text: TEXTS[i], start: 0, sentences: splitSentences(TEXTS[i]) });

describe('compressor on the generator (blocks mode)', () => {
  let dir: string;
  let model: DecoderModel;
  let gen: BlockAttentionGenerator;

  beforeAll(async () => {
    dir = buildTempModel('tiny', { seed: 4, attentionOutputs: true });
    model = await DecoderModel.load(dir, { intraOpThreads: 1 });
    gen = BlockAttentionGenerator.create(model);
  });
  afterAll(async () => {
    await model.release();
    removeTempModel(dir);
  });

  it("reads the same features as the direct runner with the generator's template (<= 1e-6)", async () => {
    const viaGen = new GeneratorQuestionPass(gen, 'test/tiny');
    const direct = new DirectQuestionPass(model, 'test/tiny', 'blocks', gen.template);
    expect(viaGen.templateId).toBe(direct.templateId);
    const q = 'When was the lamp first lit?';
    const a = blockSentenceFeatures(await viaGen.ask(await viaGen.prepare([0, 1, 2].map(source)), q, { rows: 'all' }));
    const b = blockSentenceFeatures(await direct.ask(await direct.prepare([0, 1, 2].map(source)), q));
    let diff = 0;
    a.forEach((block, bi) => block.forEach((f, si) => f.forEach((v, k) => (diff = Math.max(diff, Math.abs(v - b[bi][si][k]))))));
    expect(diff).toBeLessThanOrEqual(1e-6);

    // Tapping only the last row (final block minus one token untapped, then the last token) reads the same features.
    const lastOnly = await viaGen.ask(await viaGen.prepare([0, 1, 2].map(source)), q);
    expect(lastOnly.queryLength).toBe(1);
    expect(lastOnly.keyLength).toBe(lastOnly.pass.start + lastOnly.pass.tokens.length);
    const c = blockSentenceFeatures(lastOnly);
    let diffLast = 0;
    a.forEach((block, bi) => block.forEach((f, si) => f.forEach((v, k) => (diffLast = Math.max(diffLast, Math.abs(v - c[bi][si][k]))))));
    expect(diffLast).toBeLessThanOrEqual(1e-6);
    expect(lastOnly.pass.cache.length).toBe(lastOnly.keyLength);
  });

  it('KV-space compression equals the generator assembling only the kept tokens', async () => {
    const runner = new GeneratorQuestionPass(gen, 'test/tiny');
    const ctx = await runner.prepare([0, 1, 2].map(source));
    const pass = await runner.ask(ctx, 'When do seals breed?');
    const plan = planCompression(ctx.blocks, scoreSentences(pass), { keepRatio: 0.5 });
    expect(plan.selection.keptTokens).toBeLessThanOrEqual(plan.selection.budget);
    const ours = compressKv(ctx.kv, ctx.blocks, plan.keepSentences, model.config.ropeTheta);
    const theirs = await gen.assemble(ctx.blockKvs, { keep: plan.keepTokens });
    expect(ours.kv.length).toBe(theirs.kv.length);
    expect(ours.kv.length).toBeLessThan(ctx.kv.length);
    expect(Array.from(ours.kv.positions)).toEqual(Array.from(theirs.kv.positions));
    for (let l = 0; l < model.config.layers; l++) {
      let d = 0;
      ours.kv.layers[l].key.forEach((v, i) => (d = Math.max(d, Math.abs(v - theirs.kv.layers[l].key[i]))));
      expect(d).toBeLessThanOrEqual(1e-5);
      expect(Array.from(ours.kv.layers[l].value)).toEqual(Array.from(theirs.kv.layers[l].value));
    }
    ours.blocks.forEach((b, i) => expect(b.tokenIndices.length).toBe(theirs.layout[i].end - theirs.layout[i].start));
  });
});
