import { SeededRandom } from '../infra/random.js';
import type { BlockSource } from '../generator/BlockRenderer.js';
import { splitSentences } from '../indexer/text/SentenceSplitter.js';
import { allParagraphs, displayTitle, type SquadDataset } from '../indexer/sources/squad.js';
import type { QuestionPassRunner, TappedPass } from '../compressor/QuestionPass.js';
import type { BasinProfile } from './BasinProfile.js';

/**
 * Attention-basin calibration (AttnRank): over N prompts of k blocks, the attention mass the question puts on
 * each block slot, averaged and normalised into the positional profile the Reorderer places blocks by.
 */

/**
 * Per block of one pass: attention mass from the final-block (question) tokens to the block's span (header
 * and text), summed over the span, averaged over heads and question rows, then over the chosen layers.
 */
export function blockAttentionMass(pass: TappedPass, layers: readonly number[]): number[] {
  const { attentions, heads: H, queryLength: S, keyLength: T } = pass;
  if (layers.length === 0) throw new Error('calibration: empty layer set');
  for (const l of layers) if (!Number.isInteger(l) || l < 0 || l >= attentions.length) throw new RangeError(`calibration: layer ${l} outside [0, ${attentions.length})`);
  return pass.blocks.map((block) => {
    let total = 0;
    for (const l of layers) {
      const a = attentions[l];
      for (let h = 0; h < H; h++) {
        for (let q = 0; q < S; q++) {
          const row = (h * S + q) * T;
          for (let t = 0; t < block.tokenIndices.length; t++) total += a[row + block.tokenIndices[t]];
        }
      }
    }
    return total / (layers.length * H * S);
  });
}

export interface CalibrationPrompt {
  blocks: BlockSource[];
  question: string;
}

/**
 * N prompts of k distinct SQuAD paragraphs each; the question belongs to one of them, placed at a uniformly
 * random slot so relevance does not correlate with position. Deterministic for a seed.
 */
export function squadCalibrationPrompts(ds: SquadDataset, k: number, n: number, seed: number): CalibrationPrompt[] {
  const paragraphs = allParagraphs(ds).filter((p) => p.qas.length > 0);
  if (paragraphs.length < k) throw new Error(`calibration needs at least k=${k} paragraphs with questions, the data has ${paragraphs.length}`);
  const rng = new SeededRandom(seed, 'calibration-prompts');
  const pick = (m: number): number => rng.uint32() % m;
  const prompts: CalibrationPrompt[] = [];
  for (let i = 0; i < n; i++) {
    const chosen = new Set<number>();
    while (chosen.size < k) chosen.add(pick(paragraphs.length));
    const list = [...chosen];
    const gold = paragraphs[list[0]];
    const question = gold.qas[pick(gold.qas.length)].question;
    // Fisher-Yates: the gold paragraph ends up in a random slot.
    for (let j = list.length - 1; j > 0; j--) {
      const r = pick(j + 1);
      [list[j], list[r]] = [list[r], list[j]];
    }
    prompts.push({
      question,
      blocks: list.map((pi) => {
        const p = paragraphs[pi];
        return {
          chunkId: `squad:${p.id}`,
          documentId: `squad:${p.id}`,
          title: displayTitle(p.title),
          text: p.context,
          start: 0,
          sentences: splitSentences(p.context),
        };
      }),
    });
  }
  return prompts;
}

export interface CalibrateOptions {
  /** Layers to read (default: all). */
  layers?: number[];
  seed: number;
  onProgress?: (done: number, total: number) => void;
}

/** Runs the prompts and returns the normalised per-slot profile. */
export async function calibrate(runner: QuestionPassRunner, prompts: readonly CalibrationPrompt[], opts: CalibrateOptions): Promise<BasinProfile> {
  if (prompts.length === 0) throw new Error('calibration: no prompts');
  const k = prompts[0].blocks.length;
  const { target } = runner;
  const layers = opts.layers ?? Array.from({ length: target.layout.layers }, (_, i) => i);
  const sums = new Float64Array(k);
  for (const [i, prompt] of prompts.entries()) {
    if (prompt.blocks.length !== k) throw new Error(`calibration prompt ${i} has ${prompt.blocks.length} blocks, expected ${k}`);
    const pass = await runner.run(prompt.blocks, prompt.question, 'question');
    blockAttentionMass(pass, layers).forEach((m, slot) => (sums[slot] += m / prompts.length));
    opts.onProgress?.(i + 1, prompts.length);
  }
  const total = sums.reduce((a, b) => a + b, 0);
  if (!(total > 0)) throw new Error('calibration: the question put no attention on any block');
  return {
    format: 'basin-profile/1',
    modelId: target.modelId,
    attentionMode: target.attentionMode,
    templateId: target.templateId,
    k,
    values: Array.from(sums, (v) => v / total),
    layers: [...layers],
    prompts: prompts.length,
    seed: opts.seed,
    createdAt: new Date().toISOString(),
  };
}
