import { DecoderModel } from '../../model/DecoderModel.js';
import { renderBlock, type BlockSource } from '../../generator/BlockRenderer.js';
import { splitSentences } from '../../indexer/text/SentenceSplitter.js';
import { BlockAttentionGenerator } from '../../generator/BlockAttentionGenerator.js';
import { AskPipeline } from '../../ask/AskPipeline.js';
import { blockSentenceFeatures, scoreSentences } from '../../compressor/SentinelScorer.js';
import { rawAttentionScore } from '../../compressor/SentenceFeatures.js';
import { buildTempModel, removeTempModel } from '../support/tempModel.js';

const TEXTS = [
  'The river rises in the northern hills. It runs south through the old town. Fishermen work its lower reaches every spring.',
  'The castle was built in 1204 by a local lord. Its walls are four metres thick. Tourists visit it in summer.',
];

const source = (i: number): BlockSource => ({
  chunkId: `c${i}`,
  documentId: `d${i}`,
  title: `Doc ${i}`,
  text: TEXTS[i],
  start: 0,
  sentences: splitSentences(TEXTS[i]),
});

describe('Sentinel sentence features on the built tiny model', () => {
  let dir: string;
  let model: DecoderModel;

  beforeAll(async () => {
    dir = buildTempModel('tiny', { seed: 5, attentionOutputs: true });
    model = await DecoderModel.load(dir, { intraOpThreads: 1 });
  });
  afterAll(async () => {
    await model.release();
    removeTempModel(dir);
  });

  for (const mode of ['full', 'blocks'] as const) {
    it(`equal a recomputation from the raw tapped attention (${mode} mode, <= 1e-6)`, async () => {
      // The served question pass (the ask pipeline's, stopped after it), tapped on every question row.
      const runner = new AskPipeline({ generator: BlockAttentionGenerator.create(model, { modelId: 'test/tiny' }) }).questionPassRunner(mode);
      expect(runner.target.attentionMode).toBe(mode);
      const pass = await runner.run([source(0), source(1)], 'When was the castle built?', 'question');
      const feats = blockSentenceFeatures(pass);
      const { layers, heads } = model.config;

      // Independent layout: the context ends where the question rows start; the blocks sit back to back before it.
      const rendered = [0, 1].map((i) => renderBlock(model.tokenizer, source(i)));
      const S = pass.queryLength;
      const T = pass.keyLength;
      const contextEnd = T - S;
      const P = contextEnd - rendered.reduce((n, r) => n + r.tokens.length, 0);
      expect(P).toBeGreaterThan(5);
      const offsets = [P, P + rendered[0]!.tokens.length];
      expect(pass.attentions).toHaveLength(layers);

      let maxDiff = 0;
      let checked = 0;
      for (let l = 0; l < layers; l++) {
        for (let h = 0; h < heads; h++) {
          const row = Array.from(pass.attentions[l].subarray((h * S + S - 1) * T, (h * S + S) * T));
          const ctxMass = row.slice(P, contextEnd).reduce((a, b) => a + b, 0);
          rendered.forEach((r, b) =>
            r.sentences.forEach((s, si) => {
              let sum = 0;
              for (let t = s.tokenStart; t < s.tokenEnd; t++) sum += row[offsets[b] + t] / ctxMass;
              const expected = sum / (s.tokenEnd - s.tokenStart);
              maxDiff = Math.max(maxDiff, Math.abs(feats[b][si][l * heads + h] - expected));
              checked++;
            }),
          );
        }
      }
      expect(checked).toBe(layers * heads * (rendered[0].sentences.length + rendered[1].sentences.length));
      expect(maxDiff).toBeLessThanOrEqual(1e-6);

      // The renormalised distribution sums to 1: headers plus every sentence's mean x length.
      for (let k = 0; k < layers * heads; k++) {
        let mass = 0;
        rendered.forEach((r, b) => r.sentences.forEach((s, si) => (mass += feats[b][si][k] * (s.tokenEnd - s.tokenStart))));
        const l = Math.floor(k / heads);
        const h = k % heads;
        const row = pass.attentions[l].subarray((h * S + S - 1) * T, (h * S + S) * T);
        let header = 0;
        let all = 0;
        rendered.forEach((r, b) => {
          for (let t = 0; t < r.headerLength; t++) header += row[offsets[b] + t];
        });
        for (let c = P; c < contextEnd; c++) all += row[c];
        expect(mass + header / all).toBeCloseTo(1, 6);
      }

      // Sentences differ (the check could fail), and raw scores are the feature means.
      expect(feats[0][0]).not.toEqual(feats[1][0]);
      const raw = scoreSentences(pass);
      expect(raw[1][2]).toBeCloseTo(rawAttentionScore(feats[1][2]), 12);
    });
  }
});
