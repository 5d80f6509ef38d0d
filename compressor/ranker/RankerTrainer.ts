import { SeededRandom } from '../../infra/random.js';
import { minimiseNewton, type NewtonObjective } from '../NewtonMinimiser.js';
import { balancedWeights, fitLogistic, fitStandardiser, rocAuc, standardise, type FitOptions } from '../ProbeTrainer.js';
import { featureIndex } from './RankerFeatures.js';
import type { RankerModelJson } from './SentenceRanker.js';

/**
 * Training of a sentence-ranker model: the project's L2 logistic regression (ProbeTrainer's Newton solver,
 * standardised features) on every candidate sentence of every training question, label 1 for a sentence
 * holding a gold answer. C is chosen by cross-validation over folds of *groups* (articles), so questions
 * about the same text never sit on both sides of a fold, and by the metric the ranker is for: how often the
 * top-scored candidate of a held-out question is a positive.
 */
export interface LabelledCandidate {
  /** Full RANKER_FEATURES vector. */
  features: ArrayLike<number>;
  label: 0 | 1;
}

export interface LabelledQuestion {
  /** Cross-validation group (the article). */
  group: number;
  candidates: LabelledCandidate[];
}

export interface RankerTrainOptions extends FitOptions {
  features: readonly string[];
  grid?: number[];
  folds?: number;
  seed?: number;
  /**
   * `pointwise`: logistic regression on every candidate. `listwise`: for each positive, the softmax over it
   * and the question's negatives (the objective of picking one sentence among the candidates).
   */
  objective?: RankerObjective;
  /** Pointwise only: class-balanced sample weights (default false: every candidate counts once, as at ranking time). */
  balanced?: boolean;
}

export type RankerObjective = 'pointwise' | 'listwise';

/**
 * Listwise objective on standardised rows, grouped by question:
 *   f(w) = ½‖w‖² + C · Σ_q (1/|P_q|) Σ_{p ∈ P_q} [ logsumexp(w·x_j, j ∈ {p} ∪ N_q) − w·x_p ]
 * (P_q positives, N_q negatives of question q). Each term is convex, so Newton converges to the optimum; the
 * negatives' softmax moments are computed once per question and shared by its positives.
 */
export function fitListwise(groups: readonly { rows: ArrayLike<number>[]; labels: ArrayLike<number> }[], C: number, opts: FitOptions = {}): Float64Array {
  const usable = groups.filter((g) => Array.from(g.labels).some((l) => l === 1) && Array.from(g.labels).some((l) => l === 0));
  if (usable.length === 0) throw new Error('fitListwise: no question has both a positive and a negative');
  const d = usable[0].rows[0].length;
  const dot = (w: Float64Array, x: ArrayLike<number>): number => {
    let s = 0;
    for (let j = 0; j < d; j++) s += w[j] * x[j];
    return s;
  };
  interface Parts {
    z: Float64Array;
    lseN: number;
  }
  const parts = (w: Float64Array, g: (typeof usable)[number]): Parts => {
    const z = Float64Array.from(g.rows, (x) => dot(w, x));
    let max = -Infinity;
    for (let i = 0; i < z.length; i++) if (g.labels[i] === 0) max = Math.max(max, z[i]);
    let sum = 0;
    for (let i = 0; i < z.length; i++) if (g.labels[i] === 0) sum += Math.exp(z[i] - max);
    return { z, lseN: max + Math.log(sum) };
  };
  const lse2 = (a: number, b: number): number => Math.max(a, b) + Math.log1p(Math.exp(-Math.abs(a - b)));
  const objective: NewtonObjective = {
    size: d,
    value: (w) => {
      let loss = 0;
      for (const g of usable) {
        const { z, lseN } = parts(w, g);
        let pos = 0;
        let sum = 0;
        for (let i = 0; i < z.length; i++) {
          if (g.labels[i] !== 1) continue;
          pos++;
          sum += lse2(lseN, z[i]) - z[i];
        }
        loss += sum / pos;
      }
      return 0.5 * dot(w, w) + C * loss;
    },
    derivatives: (w) => {
      const grad = Float64Array.from(w);
      const H = new Float64Array(d * d);
      for (let j = 0; j < d; j++) H[j * d + j] = 1;
      for (const g of usable) {
        const { z, lseN } = parts(w, g);
        // Softmax moments of the negatives alone: mean m_N and second moment M_N (upper triangle).
        const mN = new Float64Array(d);
        const MN = new Float64Array(d * d);
        for (let i = 0; i < z.length; i++) {
          if (g.labels[i] !== 0) continue;
          const pi = Math.exp(z[i] - lseN);
          const x = g.rows[i];
          for (let a = 0; a < d; a++) {
            const pa = pi * x[a];
            mN[a] += pa;
            for (let b = a; b < d; b++) MN[a * d + b] += pa * x[b];
          }
        }
        const positives = Array.from(g.labels).reduce((n, l) => n + (l === 1 ? 1 : 0), 0);
        const scale = C / positives;
        for (let i = 0; i < z.length; i++) {
          if (g.labels[i] !== 1) continue;
          const x = g.rows[i];
          const beta = Math.exp(z[i] - lse2(lseN, z[i])); // the positive's share of the softmax
          const alpha = 1 - beta;
          const m = Float64Array.from(mN, (v, a) => alpha * v + beta * x[a]);
          for (let a = 0; a < d; a++) {
            grad[a] += scale * (m[a] - x[a]);
            for (let b = a; b < d; b++) H[a * d + b] += scale * (alpha * MN[a * d + b] + beta * x[a] * x[b] - m[a] * m[b]);
          }
        }
      }
      return { gradient: grad, hessian: H };
    },
  };
  return minimiseNewton(objective, opts, 'fitListwise').theta;
}

export const RANKER_C_GRID = [1e-3, 1e-2, 1e-1, 1];

/** Fold of each group: the distinct groups shuffled with the seed, dealt round-robin. */
export function groupFolds(groups: readonly number[], k: number, seed: number): Map<number, number> {
  const distinct = new SeededRandom(seed, 'ranker-folds').shuffle([...new Set(groups)].sort((a, b) => a - b));
  return new Map(distinct.map((g, r) => [g, r % k]));
}

/** Share of questions whose best-scored candidate is labelled 1 (ties: the earlier candidate). */
export function top1Accuracy(questions: readonly LabelledQuestion[], score: (features: ArrayLike<number>) => number): number {
  if (questions.length === 0) return NaN;
  let hits = 0;
  for (const q of questions) {
    let best = -Infinity;
    let label = 0;
    for (const c of q.candidates) {
      const s = score(c.features);
      if (s > best) {
        best = s;
        label = c.label;
      }
    }
    hits += label;
  }
  return hits / questions.length;
}

interface Fitted {
  json: Omit<RankerModelJson, 'C' | 'cv'>;
  score: (features: ArrayLike<number>) => number;
}

function fit(questions: readonly LabelledQuestion[], columns: number[], names: readonly string[], C: number, opts: RankerTrainOptions): Fitted {
  const X: Float64Array[] = [];
  const y: number[] = [];
  for (const q of questions) {
    for (const c of q.candidates) {
      X.push(Float64Array.from(columns, (j) => c.features[j]));
      y.push(c.label);
    }
  }
  const s = fitStandardiser(X);
  const Z = standardise(X, s);
  let coef: number[];
  let intercept = 0;
  if (opts.objective === 'listwise') {
    let at = 0;
    const groups = questions.map((q) => {
      const rows = Z.slice(at, at + q.candidates.length);
      const labels = y.slice(at, at + q.candidates.length);
      at += q.candidates.length;
      return { rows, labels };
    });
    coef = Array.from(fitListwise(groups, C, opts));
  } else {
    const weights = opts.balanced ? balancedWeights(y) : new Float64Array(y.length).fill(1);
    const f = fitLogistic(Z, y, C, weights, opts);
    coef = Array.from(f.coef);
    intercept = f.intercept;
  }
  const mean = Array.from(s.mean);
  const scale = Array.from(s.scale);
  const score = (features: ArrayLike<number>): number => {
    let z = intercept;
    for (let j = 0; j < columns.length; j++) z += (coef[j] * (features[columns[j]] - mean[j])) / scale[j];
    return z;
  };
  return { json: { features: [...names], mean, scale, coef, intercept }, score };
}

export interface RankerTrainResult {
  model: RankerModelJson;
  examples: { questions: number; candidates: number; positives: number };
}

/** Cross-validates C (mean held-out top-1; ties go to the smaller C) and refits on every question with a positive. */
export function trainRankerModel(all: readonly LabelledQuestion[], opts: RankerTrainOptions): RankerTrainResult {
  const questions = all.filter((q) => q.candidates.some((c) => c.label === 1));
  if (questions.length === 0) throw new Error('ranker training: no question has a positive candidate');
  if (!questions.some((q) => q.candidates.some((c) => c.label === 0))) throw new Error('ranker training: no negative candidates');
  const names = [...opts.features];
  const columns = names.map((n) => featureIndex(n));
  const k = opts.folds ?? 5;
  const seed = opts.seed ?? 0;
  const fold = groupFolds(questions.map((q) => q.group), k, seed);
  const grid = [...(opts.grid ?? RANKER_C_GRID)].sort((a, b) => a - b);
  const cv = grid.map((C) => {
    let top1 = 0;
    let auc = 0;
    let used = 0;
    for (let f = 0; f < k; f++) {
      const train = questions.filter((q) => fold.get(q.group) !== f);
      const test = questions.filter((q) => fold.get(q.group) === f);
      if (test.length === 0 || train.length === 0) continue;
      const m = fit(train, columns, names, C, opts);
      top1 += top1Accuracy(test, m.score);
      const flat = test.flatMap((q) => q.candidates);
      auc += rocAuc(flat.map((c) => m.score(c.features)), flat.map((c) => c.label));
      used++;
    }
    if (used === 0) throw new Error(`ranker training: ${k} folds over ${fold.size} groups leave no fold to validate on`);
    return { C, top1: top1 / used, auc: auc / used };
  });
  let best = cv[0];
  for (const c of cv) if (c.top1 > best.top1) best = c;
  const final = fit(questions, columns, names, best.C, opts);
  const candidates = questions.reduce((n, q) => n + q.candidates.length, 0);
  const positives = questions.reduce((n, q) => n + q.candidates.filter((c) => c.label === 1).length, 0);
  return { model: { ...final.json, C: best.C, cv }, examples: { questions: questions.length, candidates, positives } };
}
