import { SeededRandom } from '../infra/random.js';
import { splitSentences } from '../indexer/text/SentenceSplitter.js';
import { allParagraphs, displayTitle, type SquadDataset } from '../indexer/sources/squad.js';
import type { BlockSource } from '../generator/BlockRenderer.js';
import type { QuestionPassRunner } from './QuestionPass.js';
import { blockSentenceFeatures } from './SentinelScorer.js';

/**
 * Probe training data from SQuAD, read through the serving question pass: each question gives one positive
 * (the sentence holding the start of the answer span) and one negative (another sentence of the same
 * paragraph, picked with the seed). The paragraph is the context, as one block.
 */
export interface ProbeExamples {
  X: Float64Array[];
  y: number[];
  questions: number;
}

interface Item {
  paragraph: number;
  question: string;
  positive: number;
  negative: number;
}

export async function collectProbeExamples(
  runner: QuestionPassRunner,
  ds: SquadDataset,
  opts: { n: number; seed: number; onProgress?: (done: number, total: number) => void },
): Promise<ProbeExamples> {
  const rng = new SeededRandom(opts.seed, 'probe-examples');
  const paragraphs = allParagraphs(ds).map((p) => ({ ...p, spans: splitSentences(p.context) }));
  const candidates: Item[] = [];
  paragraphs.forEach((p, pi) => {
    if (p.spans.length < 2) return;
    for (const qa of p.qas) {
      const a = qa.answers[0]?.answer_start;
      if (a === undefined) continue;
      const positive = p.spans.findIndex((s) => a >= s.start && a < s.end);
      if (positive >= 0) candidates.push({ paragraph: pi, question: qa.question, positive, negative: -1 });
    }
  });
  // Seeded shuffle, take n, then group by paragraph so each context is prepared once.
  rng.shuffle(candidates);
  const chosen = candidates.slice(0, opts.n);
  for (const c of chosen) {
    const k = paragraphs[c.paragraph].spans.length;
    const r = rng.uint32() % (k - 1);
    c.negative = r >= c.positive ? r + 1 : r;
  }
  const order = chosen.map((_, i) => i).sort((a, b) => chosen[a].paragraph - chosen[b].paragraph || a - b);
  const X: Float64Array[] = [];
  const y: number[] = [];
  let done = 0;
  for (const i of order) {
    const item = chosen[i];
    const p = paragraphs[item.paragraph];
    const block: BlockSource = { chunkId: `squad:${p.id}`, documentId: `squad:${p.id}`, title: displayTitle(p.title), text: p.context, start: 0, sentences: p.spans };
    const feats = blockSentenceFeatures(await runner.run([block], item.question, 'last'))[0];
    X.push(feats[item.positive], feats[item.negative]);
    y.push(1, 0);
    opts.onProgress?.(++done, chosen.length);
  }
  return { X, y, questions: chosen.length };
}
