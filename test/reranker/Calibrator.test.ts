import fs from 'node:fs';
import { DecoderModel } from '../../model/DecoderModel.js';
import { BlockAttentionGenerator } from '../../generator/BlockAttentionGenerator.js';
import { AskPipeline } from '../../ask/AskPipeline.js';
import { blockAttentionMass, calibrate, squadCalibrationPrompts } from '../../reranker/Calibrator.js';
import { ProfileStore } from '../../reranker/BasinProfile.js';
import { loadSquad, type SquadDataset } from '../../indexer/sources/squad.js';
import { buildTempModel, removeTempModel } from '../support/tempModel.js';
import { sharedFile, tempDir } from '../support/processes.js';

describe('attention-basin calibration on the built tiny model', () => {
  let dir: string;
  let ds: SquadDataset;

  beforeAll(async () => {
    dir = buildTempModel('tiny', { seed: 8, attentionOutputs: true });
    const full = await loadSquad(sharedFile('squad-v1.1-dev.json'));
    ds = { version: full.version, articles: full.articles.slice(0, 3) };
  });
  afterAll(() => removeTempModel(dir));

  it('is deterministic for a fixed model and seed, sums to 1, and depends on the seed', async () => {
    const run = async (seed: number) => {
      // A fresh model session each time: nothing carries over between runs.
      const model = await DecoderModel.load(dir, { intraOpThreads: 1 });
      try {
        const runner = new AskPipeline({ generator: BlockAttentionGenerator.create(model, { modelId: 'test/tiny' }) }).questionPassRunner('blocks');
        return await calibrate(runner, squadCalibrationPrompts(ds, 4, 6, seed), { seed });
      } finally {
        await model.release();
      }
    };
    const a = await run(1);
    const b = await run(1);
    const c = await run(2);
    expect(a.values).toHaveLength(4);
    expect(a.values).toEqual(b.values);
    expect(a.values.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 12);
    expect(a.values.every((v) => v > 0)).toBe(true);
    expect(c.values).not.toEqual(a.values);
    expect(a).toMatchObject({ modelId: 'test/tiny', attentionMode: 'blocks', k: 4, prompts: 6, layers: [0, 1] });

    const store = new ProfileStore(tempDir('profiles'));
    try {
      const file = store.save(a);
      expect(store.load({ modelId: 'test/tiny', attentionMode: 'blocks', templateId: a.templateId, k: 4 })).toEqual(a);
      expect(store.load({ modelId: 'test/tiny', attentionMode: 'blocks', templateId: a.templateId, k: 5 })).toBeNull();
      expect(store.list()).toHaveLength(1);
      expect(fs.existsSync(file)).toBe(true);
    } finally {
      fs.rmSync(store.dir, { recursive: true, force: true });
    }
  });

  it('block mass is the question-to-span attention (recomputed here), at a chosen layer set', async () => {
    const model = await DecoderModel.load(dir, { intraOpThreads: 1 });
    try {
      const runner = new AskPipeline({ generator: BlockAttentionGenerator.create(model, { modelId: 'test/tiny' }) }).questionPassRunner('full');
      const [prompt] = squadCalibrationPrompts(ds, 3, 1, 5);
      const pass = await runner.run(prompt!.blocks, prompt!.question, 'question');
      const { heads } = model.config;
      const S = pass.queryLength;
      const T = pass.keyLength;
      const mass = blockAttentionMass(pass, [1]);
      pass.blocks.forEach((b, bi) => {
        const first = b.tokenIndices[0];
        const last = b.tokenIndices[b.tokenIndices.length - 1];
        let sum = 0;
        for (let h = 0; h < heads; h++) for (let q = 0; q < S; q++) for (let t = first; t <= last; t++) sum += pass.attentions[1][(h * S + q) * T + t];
        expect(mass[bi]).toBeCloseTo(sum / (heads * S), 9);
      });
      // Masses are fractions of each row's attention: all blocks together stay below 1.
      expect(mass.reduce((s, v) => s + v, 0)).toBeLessThan(1);
      expect(blockAttentionMass(pass, [0])).not.toEqual(mass);
    } finally {
      await model.release();
    }
  });
});
