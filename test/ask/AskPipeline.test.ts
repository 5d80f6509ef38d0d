import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DecoderModel } from '../../model/DecoderModel.js';
import { BlockAttentionGenerator } from '../../generator/BlockAttentionGenerator.js';
import { defaultProbePath, Probe } from '../../compressor/Probe.js';
import { SeededRandom } from '../../infra/random.js';
import { ProfileStore } from '../../reranker/BasinProfile.js';
import { AskPipeline, STAGES, type AskRun } from '../../ask/AskPipeline.js';
import type { CompressionMethod, OrderMethod } from '../../ask/AskRequest.js';
import { askResponse } from '../../ask/AskResponse.js';
import { PlanningError } from '../../ask/errors.js';
import { DataDirProbes } from '../../ask/probes.js';
import { buildTempModel, removeTempModel } from '../support/tempModel.js';
import { DOCS, chunkOf } from '../generator/fixtures.js';

const QUESTION = 'When was the railway bridge finished?';
const PASSAGES = DOCS.slice(0, 3).map((d) => chunkOf(d));
const COMPRESSIONS: CompressionMethod[] = ['none', 'lexical', 'raw', 'probe'];
const ORDERS: OrderMethod[] = ['retrieval', 'zigzag', 'basin'];
const MODES = [
  { name: 'full', mode: 'full', recomputeHead: 0 },
  { name: 'blocks', mode: 'blocks', recomputeHead: 0 },
  { name: 'blocks+recomputeHead', mode: 'blocks', recomputeHead: 2 },
] as const;
/** The basin profile calibrated for blocks mode, k = 3: the middle slot gets the most attention, then the last. */
const PROFILE = [0.2, 0.5, 0.3];

const ran = (run: AskRun): string[] => run.trace.filter((r) => r.ran).map((r) => r.stage);
const passes = (run: AskRun): number => run.trace.reduce((n, r) => n + r.modelPasses, 0);

/**
 * The pipeline's stage order and options on the built tiny model (tapped), with real probes and a real basin profile
 * on disk: every compression x order x mode combination answers, runs the stages it should, and makes the model
 * passes it should (counted by the model itself).
 */
describe('AskPipeline: stage order and options (built tiny model)', () => {
  let dir: string;
  let dataDir: string;
  let model: DecoderModel;
  let pipeline: AskPipeline;

  beforeAll(async () => {
    dir = buildTempModel('tiny', { seed: 31, attentionOutputs: true });
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-data-'));
    model = await DecoderModel.load(dir, { intraOpThreads: 1 });
    const generator = BlockAttentionGenerator.create(model, { modelId: 'test/tiny' });
    pipeline = new AskPipeline({ generator, probes: new DataDirProbes(dataDir), profiles: ProfileStore.forDataDir(dataDir) });
    // A probe per attention mode, saved where serving looks (random weights: the scores only need to differ).
    for (const mode of ['full', 'blocks'] as const) {
      const target = pipeline.target(mode);
      const d = target.layout.layers * target.layout.heads;
      const rng = new SeededRandom(5, mode);
      const probe = Probe.create({ ...target, mean: Array(d).fill(0), scale: Array(d).fill(0.01), coef: Array.from({ length: d }, () => rng.normal()), intercept: 0, C: 1, cv: [], trainedOn: { examples: 0, positives: 0, negatives: 0 } });
      probe.save(defaultProbePath(dataDir, target));
    }
    ProfileStore.forDataDir(dataDir).save({
      format: 'basin-profile/1',
      modelId: 'test/tiny',
      attentionMode: 'blocks',
      templateId: generator.template.id,
      k: 3,
      values: PROFILE,
      layers: [0, 1],
      prompts: 1,
      seed: 0,
      createdAt: new Date(0).toISOString(),
    });
    // Every block computed once up front, so the runs below count only the passes of the ask itself.
    await pipeline.run({ question: QUESTION, passages: PASSAGES, mode: 'blocks', maxTokens: 1 });
  });
  afterAll(async () => {
    await model.release();
    removeTempModel(dir);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  for (const m of MODES) {
    for (const compression of COMPRESSIONS) {
      for (const order of ORDERS) {
        it(`${compression} x ${order} x ${m.name}`, async () => {
          const before = model.forwardCalls;
          const run = await pipeline.run({ question: QUESTION, passages: PASSAGES, mode: m.mode, recomputeHead: m.recomputeHead, compression, order, keepRatio: 0.5, maxTokens: 1 });
          const calls = model.forwardCalls - before;
          const res = askResponse(run);

          // Every stage is accounted for, in pipeline order; which ones ran depends on the options.
          expect(run.trace.map((r) => r.stage)).toEqual([...STAGES]);
          const attention = compression === 'raw' || compression === 'probe';
          const expected = ['retrieve', 'render', ...(m.mode === 'blocks' ? ['fetchKv'] : []), ...(attention ? ['questionPass'] : []), ...(compression !== 'none' ? ['score'] : []), 'select', 'order', 'assemble', 'finalPass', 'decode'];
          expect(ran(run)).toEqual(expected);

          // Model passes: exactly one without attention scoring; the question pass + one final pass with it. Head
          // recompute adds one per placed block. Every pass is one forward call: the tapped question pass returns its
          // tapped rows from the same session run as its logits (row-only taps).
          const placed = run.passages.filter((p) => p.slot !== null).length;
          const heads = m.recomputeHead > 0 ? placed : 0;
          expect(passes(run)).toBe((attention ? 2 : 1) + heads);
          expect(calls).toBe((attention ? 2 : 1) + heads);
          expect(run.cache.misses).toBe(0);
          if (m.mode === 'blocks') expect(run.cache.memoryHits).toBe(PASSAGES.length);

          // The answer and what the response reports.
          expect(run.decoded!.generation.tokenIds.length).toBeLessThanOrEqual(1);
          const ids = run.decoded!.generation.tokenIds;
          expect(res.answer).toBe(ids.length === 0 ? '' : model.tokenizer.decode(ids, { skip_special_tokens: true }));
          expect(res.mode).toBe(m.mode);
          expect(res.compression.method).toBe(compression);
          expect(res.usage.promptTokens).toBe(run.finalPass!.start + run.finalPass!.tokens.length);
          expect(res.timings.firstTokenMs).toBeGreaterThan(0);
          if (compression === 'none') {
            expect(res.compression.ratio).toBe(1);
            expect(placed).toBe(PASSAGES.length);
          } else {
            expect(res.compression.keptTokens).toBeLessThanOrEqual(Math.floor(0.5 * res.compression.totalTokens));
            expect(res.kept.length).toBeGreaterThanOrEqual(1);
            for (const k of res.kept) expect(typeof k.score).toBe('number');
          }

          // Placement: slots 0..placed-1, by the requested order over the relevance the run used.
          const bySlot = run.passages.filter((p) => p.slot !== null).sort((a, b) => a.slot! - b.slot!);
          expect(bySlot.map((p) => p.slot)).toEqual(bySlot.map((_, i) => i));
          const relevance = (p: (typeof run.passages)[number]): number => (compression === 'none' ? PASSAGES.length - p.rank : p.kept!.mass!);
          const ranked = [...run.passages].sort((a, b) => relevance(b) - relevance(a) || a.rank - b.rank);
          const basin = order === 'basin' && m.mode === 'blocks';
          if (order === 'retrieval') expect(bySlot.map((p) => p.rank)).toEqual([...bySlot.map((p) => p.rank)].sort());
          else if (placed === PASSAGES.length) {
            // Zig-zag: most relevant first, second last, third in the middle; basin: into the profile's slots by value.
            const slotOfRank = basin ? [1, 2, 0] : [0, 2, 1];
            ranked.forEach((p, r) => expect(p.slot).toBe(slotOfRank[r]));
          }
          if (order === 'basin') {
            expect(res.order).toEqual(basin ? { method: 'basin', profile: PROFILE } : { method: 'zigzag', fallback: expect.stringMatching(/rag calibrate --k 3/) });
          } else expect(res.order).toEqual({ method: order });
        });
      }
    }
  }

  it('stops after any stage, and a run that stops early has the later results empty', async () => {
    for (const until of STAGES) {
      const run = await pipeline.run({ question: QUESTION, passages: PASSAGES, compression: 'raw', keepRatio: 0.5, maxTokens: 1 }, { until });
      expect(run.trace.at(-1)!.stage).toBe(until);
      expect(run.trace.length).toBe(STAGES.indexOf(until) + 1);
      expect(run.decoded === null).toBe(until !== 'decode');
    }
    const scored = await pipeline.run({ question: QUESTION, passages: PASSAGES, compression: 'lexical' }, { until: 'score' });
    expect(scored.passages.every((p) => p.scores !== null && p.kept === null && p.slot === null)).toBe(true);
    expect(scored.finalPass).toBeNull();
  });

  it('taps the question pass on request (calibration reads every question row) and reuses it as the final pass', async () => {
    const before = model.forwardCalls;
    const run = await pipeline.run({ question: QUESTION, passages: PASSAGES, maxTokens: 1 }, { taps: 'question' });
    expect(model.forwardCalls - before).toBe(1);
    expect(run.questionPass!.tapped.queryLength).toBe(run.finalTokens.length);
    expect(run.finalPass).toBe(run.questionPass!.pass);
    expect(ran(run)).toEqual(['retrieve', 'render', 'fetchKv', 'questionPass', 'select', 'order', 'finalPass', 'decode']);
  });

  it('refuses what it cannot do before doing any work: no probe trained, no attention taps', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'no-probes-'));
    try {
      const generator = BlockAttentionGenerator.create(model, { modelId: 'test/tiny' });
      const noProbe = new AskPipeline({ generator, probes: new DataDirProbes(empty) });
      await expect(noProbe.run({ question: QUESTION, passages: PASSAGES, compression: 'probe' })).rejects.toThrow(/rag probe train/);
      await expect(noProbe.run({ question: QUESTION, passages: PASSAGES, compression: 'probe' })).rejects.toBeInstanceOf(PlanningError);
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
    const plainDir = buildTempModel('tiny', { seed: 31 });
    const plain = await DecoderModel.load(plainDir, { intraOpThreads: 1 });
    try {
      expect(plain.hasAttentions).toBe(false);
      const untapped = new AskPipeline({ generator: BlockAttentionGenerator.create(plain, { modelId: 'test/tiny' }) });
      const before = plain.forwardCalls;
      await expect(untapped.run({ question: QUESTION, passages: PASSAGES, compression: 'raw' })).rejects.toThrow(/needs attention taps/);
      expect(plain.forwardCalls).toBe(before);
      // Lexical compression needs no taps.
      const lexical = askResponse(await untapped.run({ question: QUESTION, passages: PASSAGES, compression: 'lexical', maxTokens: 1 }));
      expect(lexical.compression.method).toBe('lexical');
    } finally {
      await plain.release();
      removeTempModel(plainDir);
    }
    await expect(pipeline.run({ question: QUESTION, passages: [] })).rejects.toThrow(PlanningError);
    await expect(pipeline.run({ question: QUESTION, collection: 'c', k: 3 })).rejects.toThrow(/no retrieval/);
  });
});
