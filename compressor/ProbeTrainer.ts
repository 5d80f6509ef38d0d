import { SeededRandom } from '../infra/random.js';
import { minimiseNewton, type NewtonObjective, type NewtonOptions } from './NewtonMinimiser.js';
import { Probe, type ProbeTarget } from './Probe.js';

/**
 * Training of the Sentinel probe: L2-penalised, class-balanced logistic regression on standardised features,
 * with C picked by stratified k-fold cross-validation on AUC.
 *
 * Objective (the scikit-learn convention, intercept not penalised):
 *   f(w, b) = ½‖w‖² + C · Σᵢ sᵢ · [log(1 + e^{zᵢ}) − yᵢ zᵢ],   zᵢ = w·xᵢ + b,   sᵢ = n / (2 · n_{class(i)})
 * Minimised by Newton's method (NewtonMinimiser): the objective is strictly convex, so it converges to the
 * unique optimum in a few steps and is fully deterministic.
 * (npm `ml-logistic-regression` was checked: fixed-step gradient descent without L2 or sample weights.)
 */
export interface LogisticFit {
  coef: Float64Array;
  intercept: number;
  iterations: number;
  /** max |gradient| at the returned point. */
  gradientNorm: number;
}

export type FitOptions = NewtonOptions;

/** Class-balanced sample weights: n / (2 · count of the sample's class). */
export function balancedWeights(y: ArrayLike<number>): Float64Array {
  const n = y.length;
  let pos = 0;
  for (let i = 0; i < n; i++) pos += y[i] === 1 ? 1 : 0;
  const neg = n - pos;
  if (pos === 0 || neg === 0) throw new Error(`probe training needs both classes (got ${pos} positive, ${neg} negative)`);
  return Float64Array.from({ length: n }, (_, i) => (y[i] === 1 ? n / (2 * pos) : n / (2 * neg)));
}

const log1pExp = (z: number): number => (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z)));
const sigmoid = (z: number): number => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

/** Minimises the penalised objective above for one C on already-standardised rows. */
export function fitLogistic(X: ArrayLike<number>[], y: ArrayLike<number>, C: number, weights: ArrayLike<number>, opts: FitOptions = {}): LogisticFit {
  const n = X.length;
  if (n === 0) throw new Error('fitLogistic: no samples');
  const d = X[0].length;
  const p1 = d + 1; // last parameter is the intercept

  const margins = (t: Float64Array): Float64Array => {
    const z = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const x = X[i];
      let s = t[d];
      for (let j = 0; j < d; j++) s += t[j] * x[j];
      z[i] = s;
    }
    return z;
  };
  const objective: NewtonObjective = {
    size: p1,
    value: (t) => {
      const z = margins(t);
      let reg = 0;
      for (let j = 0; j < d; j++) reg += t[j] * t[j];
      let loss = 0;
      for (let i = 0; i < n; i++) loss += weights[i] * (log1pExp(z[i]) - y[i] * z[i]);
      return 0.5 * reg + C * loss;
    },
    derivatives: (t) => {
      const z = margins(t);
      const g = new Float64Array(p1);
      const H = new Float64Array(p1 * p1);
      for (let j = 0; j < d; j++) {
        g[j] = t[j];
        H[j * p1 + j] = 1;
      }
      for (let i = 0; i < n; i++) {
        const x = X[i];
        const p = sigmoid(z[i]);
        const r = C * weights[i] * (p - y[i]);
        const w = C * weights[i] * p * (1 - p);
        for (let a = 0; a < d; a++) {
          const xa = x[a];
          g[a] += r * xa;
          const wa = w * xa;
          if (wa === 0) continue;
          const row = a * p1;
          for (let b = a; b < d; b++) H[row + b] += wa * x[b];
          H[row + d] += wa;
        }
        g[d] += r;
        H[d * p1 + d] += w;
      }
      return { gradient: g, hessian: H };
    },
  };
  const { theta, iterations, gradientNorm } = minimiseNewton(objective, opts, 'fitLogistic');
  return { coef: theta.slice(0, d), intercept: theta[d], iterations, gradientNorm };
}

/** Area under the ROC curve (Mann-Whitney statistic, ties count one half). */
export function rocAuc(scores: ArrayLike<number>, y: ArrayLike<number>): number {
  const idx = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let pos = 0;
  let rankSumPos = 0;
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && scores[idx[j + 1]] === scores[idx[i]]) j++;
    const midRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (y[idx[k]] === 1) {
      pos++;
      rankSumPos += midRank;
    }
    i = j + 1;
  }
  const neg = idx.length - pos;
  if (pos === 0 || neg === 0) return NaN;
  return (rankSumPos - (pos * (pos + 1)) / 2) / (pos * neg);
}

export interface Standardiser {
  mean: Float64Array;
  /** Standard deviation, 1 where a feature is constant. */
  scale: Float64Array;
}

export function fitStandardiser(X: ArrayLike<number>[]): Standardiser {
  const n = X.length;
  const d = X[0].length;
  const mean = new Float64Array(d);
  const scale = new Float64Array(d);
  for (const x of X) for (let j = 0; j < d; j++) mean[j] += x[j] / n;
  for (const x of X) for (let j = 0; j < d; j++) scale[j] += (x[j] - mean[j]) ** 2 / n;
  for (let j = 0; j < d; j++) scale[j] = scale[j] > 1e-24 ? Math.sqrt(scale[j]) : 1;
  return { mean, scale };
}

export function standardise(X: ArrayLike<number>[], s: Standardiser): Float64Array[] {
  return X.map((x) => Float64Array.from({ length: s.mean.length }, (_, j) => (x[j] - s.mean[j]) / s.scale[j]));
}

/** Stratified folds: each class shuffled with the seed and dealt round-robin. Returns the fold of each sample. */
export function stratifiedFolds(y: ArrayLike<number>, k: number, seed: number): Int32Array {
  const rng = new SeededRandom(seed, 'probe-folds');
  const fold = new Int32Array(y.length);
  for (const cls of [0, 1]) {
    const members = rng.shuffle(Array.from({ length: y.length }, (_, i) => i).filter((i) => y[i] === cls));
    members.forEach((m, r) => (fold[m] = r % k));
  }
  return fold;
}

export const DEFAULT_C_GRID = [1e-4, 1e-3, 1e-2, 1e-1, 1, 10, 100];

export interface TrainOptions extends FitOptions {
  grid?: number[];
  folds?: number;
  seed?: number;
}

export interface TrainResult {
  probe: Probe;
  cv: { C: number; auc: number }[];
  C: number;
}

/** Standardise on the training rows, fit, and return the margin function for other rows. */
function fitPipeline(X: ArrayLike<number>[], y: ArrayLike<number>, C: number, opts: FitOptions): { s: Standardiser; fit: LogisticFit } {
  const s = fitStandardiser(X);
  const fit = fitLogistic(standardise(X, s), y, C, balancedWeights(y), opts);
  return { s, fit };
}

/**
 * Cross-validates C over the grid (mean fold AUC; ties go to the smaller C, the stronger penalty) and refits
 * on all rows. `y` is 1 for the answer-bearing sentence, 0 for a negative.
 */
export function trainProbe(X: ArrayLike<number>[], y: ArrayLike<number>, target: ProbeTarget, opts: TrainOptions = {}): TrainResult {
  const d = target.layout.layers * target.layout.heads;
  if (X.length !== y.length) throw new Error(`trainProbe: ${X.length} rows but ${y.length} labels`);
  for (const x of X) if (x.length !== d) throw new Error(`trainProbe: a row has ${x.length} features, layout needs ${d}`);
  const grid = [...(opts.grid ?? DEFAULT_C_GRID)].sort((a, b) => a - b);
  const k = opts.folds ?? 5;
  const fold = stratifiedFolds(y, k, opts.seed ?? 0);
  const cv = grid.map((C) => {
    let sum = 0;
    let used = 0;
    for (let f = 0; f < k; f++) {
      const trainIdx: number[] = [];
      const testIdx: number[] = [];
      for (let i = 0; i < X.length; i++) (fold[i] === f ? testIdx : trainIdx).push(i);
      if (testIdx.length === 0) continue;
      const { s, fit } = fitPipeline(trainIdx.map((i) => X[i]), trainIdx.map((i) => y[i]), C, opts);
      const scores = standardise(testIdx.map((i) => X[i]), s).map((x) => x.reduce((acc, v, j) => acc + v * fit.coef[j], fit.intercept));
      const auc = rocAuc(scores, testIdx.map((i) => y[i]));
      if (Number.isFinite(auc)) {
        sum += auc;
        used++;
      }
    }
    return { C, auc: used > 0 ? sum / used : NaN };
  });
  let best = cv[0];
  for (const c of cv) if (c.auc > best.auc || !Number.isFinite(best.auc)) best = c;
  const { s, fit } = fitPipeline(X, y, best.C, opts);
  let positives = 0;
  for (let i = 0; i < y.length; i++) positives += y[i] === 1 ? 1 : 0;
  const probe = Probe.create({
    ...target,
    mean: Array.from(s.mean),
    scale: Array.from(s.scale),
    coef: Array.from(fit.coef),
    intercept: fit.intercept,
    C: best.C,
    cv,
    trainedOn: { examples: X.length, positives, negatives: X.length - positives },
  });
  return { probe, cv, C: best.C };
}
