import { DecoderModel } from '../../model/DecoderModel.js';
import { BlockAttentionGenerator } from '../../generator/BlockAttentionGenerator.js';
import type { BlockSource } from '../../generator/BlockRenderer.js';
import { splitSentences } from '../../indexer/text/SentenceSplitter.js';
import { prepareAnswerContext } from '../../compressor/SentinelPipeline.js';
import { Probe, ProbeMismatchError } from '../../compressor/Probe.js';
import { buildTempModel, removeTempModel } from '../support/tempModel.js';

const TEXTS = [
  'Copper was mined here from the Bronze Age. The last mine closed in 1921. Its shafts are now flooded.',
  'The abbey was founded in 1132. Monks farmed sheep on the moors. The abbey was dissolved in 1539.',
  'Trains reached the valley in 1870. The line closed a century later.',
  'Wool made the town rich. Its market hall dates from 1650. Markets are still held every Tuesday.',
  'The river floods most winters. A new barrier was built in 2005.',
];
// Document offsets: each chunk sits at a different place in its document.
const chunk = (i: number): BlockSource => {
  const start = 1000 * (i + 1);
  return { chunkId: `c${i}`, documentId: `d${i}`, title: `Doc ${i}`, text: TEXTS[i], start, sentences: splitSentences(TEXTS[i]).map((s) => ({ start: s.start + start, end: s.end + start })) };
};

describe('prepareAnswerContext (compress + reorder + assemble) on tiny', () => {
  let dir: string;
  let model: DecoderModel;
  let gen: BlockAttentionGenerator;
  const chunks = [0, 1, 2, 3, 4].map(chunk);

  beforeAll(async () => {
    dir = buildTempModel('tiny', { seed: 6, attentionOutputs: true });
    model = await DecoderModel.load(dir, { intraOpThreads: 1 });
    gen = BlockAttentionGenerator.create(model);
  });
  afterAll(async () => {
    await model.release();
    removeTempModel(dir);
  });

  it('without compression or profile: every token kept, zig-zag placement of the retrieval order', async () => {
    const out = await prepareAnswerContext(gen, { question: 'When did the mine close?', chunks, method: 'none' });
    expect(out.blocks.map((b) => b.chunkId)).toEqual(['c0', 'c2', 'c4', 'c3', 'c1']);
    expect(out.assembled.layout.map((l) => l.chunkId)).toEqual(['c0', 'c2', 'c4', 'c3', 'c1']);
    expect(out.tokens.after).toBe(out.tokens.before);
    expect(out.cache.computed).toBe(5);
  });

  it('refuses a probe trained for another model', async () => {
    const d = model.config.layers * model.config.heads;
    const other = Probe.create({
      modelId: 'another-model',
      attentionMode: 'blocks',
      templateId: gen.template.id,
      layout: { layers: model.config.layers, heads: model.config.heads },
      mean: new Array(d).fill(0),
      scale: new Array(d).fill(1),
      coef: new Array(d).fill(0),
      intercept: 0,
      C: 1,
      cv: [],
      trainedOn: { examples: 0, positives: 0, negatives: 0 },
    });
    await expect(prepareAnswerContext(gen, { question: 'q?', chunks, method: 'probe', budget: { keepRatio: 0.5 }, probe: other })).rejects.toThrow(ProbeMismatchError);
  });

  for (const method of ['raw', 'bm25', 'probe'] as const) {
    it(`${method}: keeps within the budget, places by kept mass and profile, spans point into the documents`, async () => {
      const d = model.config.layers * model.config.heads;
      const probe = Probe.create({
        modelId: gen.modelId,
        attentionMode: 'blocks',
        templateId: gen.template.id,
        layout: { layers: model.config.layers, heads: model.config.heads },
        mean: new Array(d).fill(0),
        scale: new Array(d).fill(1),
        coef: Array.from({ length: d }, (_, i) => (i % 2 ? 1 : -1)),
        intercept: 0,
        C: 1,
        cv: [],
        trainedOn: { examples: 0, positives: 0, negatives: 0 },
      });
      const profile = [0.1, 0.3, 0.2, 0.15, 0.25];
      const out = await prepareAnswerContext(gen, { question: 'When was the abbey founded?', chunks, method, budget: { keepRatio: 0.4 }, probe, profile });
      const plan = out.plan!;
      expect(plan.selection.keptTokens).toBeLessThanOrEqual(plan.selection.budget);
      // Placement: blocks sorted by kept mass fill slots sorted by profile (1, 4, 2, 3, 0); emptied blocks dropped.
      const mass = plan.keptMass;
      const ranked = mass.map((_, i) => i).sort((a, b) => mass[b] - mass[a] || a - b);
      const slots = [1, 4, 2, 3, 0];
      const placed: (number | undefined)[] = new Array(5);
      ranked.forEach((b, r) => (placed[slots[r]] = b));
      const expected = placed.filter((b): b is number => b !== undefined && plan.keepSentences[b].length > 0).map((b) => `c${b}`);
      expect(out.blocks.map((b) => b.chunkId)).toEqual(expected);
      expect(out.assembled.layout.map((l) => l.chunkId)).toEqual(expected);
      // Assembled size = prefix + headers of placed blocks + kept sentence tokens.
      const headers = out.assembled.layout.reduce((n, l) => n + gen.render(chunks[Number(l.chunkId.slice(1))]).headerLength, 0);
      expect(out.assembled.kv.length).toBe(out.assembled.prefixLength + headers + plan.selection.keptTokens);
      expect(Array.from(out.assembled.kv.positions)).toEqual(Array.from({ length: out.assembled.kv.length }, (_, i) => i));
      for (const b of out.blocks) {
        const c = chunks[Number(b.chunkId.slice(1))];
        for (const s of b.sentences) expect(TEXTS[Number(b.chunkId.slice(1))]).toContain(c.text.slice(s.start - c.start, s.end - c.start));
        expect(b.sentences.length).toBeGreaterThan(0);
      }
      if (method === 'bm25') expect(ranked[0]).toBe(1); // the only block about the abbey has the most kept mass -> highest slot
      const pass = await gen.questionPass(out.assembled, gen.finalTokens('When was the abbey founded?'));
      expect(pass.logits.length).toBe(model.config.vocabSize);
    });
  }
});
