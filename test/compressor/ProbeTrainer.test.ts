import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SeededRandom } from '../../infra/random.js';
import { Probe, ProbeMismatchError, type ProbeTarget } from '../../compressor/Probe.js';
import { balancedWeights, fitLogistic, fitStandardiser, rocAuc, standardise, trainProbe } from '../../compressor/ProbeTrainer.js';

/**
 * Reference: IRLS (iteratively reweighted least squares) on the same penalised, class-weighted objective,
 * solving the normal equations with Gaussian elimination (partial pivoting), run to convergence. Written
 * here independently of the trainer (which uses a Cholesky Newton step with line search).
 */
function irlsReference(X: number[][], y: number[], C: number, s: number[]): number[] {
  const n = X.length;
  const d = X[0].length;
  const A = X.map((x) => [...x, 1]); // intercept column last
  let beta = new Array(d + 1).fill(0);
  for (let iter = 0; iter < 200; iter++) {
    const eta = A.map((a) => a.reduce((acc, v, j) => acc + v * beta[j], 0));
    const mu = eta.map((e) => 1 / (1 + Math.exp(-e)));
    const W = mu.map((m, i) => C * s[i] * m * (1 - m));
    // Working response z = eta + (y - mu) / (mu (1 - mu)); solve (AᵀWA + Λ) beta = AᵀWz, Λ = diag(1,..,1,0).
    const M = Array.from({ length: d + 1 }, (_, a) => Array.from({ length: d + 1 }, (_, b) => (a === b && a < d ? 1 : 0)));
    const rhs = new Array(d + 1).fill(0);
    for (let i = 0; i < n; i++) {
      const z = eta[i] + (y[i] - mu[i]) / (mu[i] * (1 - mu[i]));
      for (let a = 0; a <= d; a++) {
        rhs[a] += A[i][a] * W[i] * z;
        for (let b = 0; b <= d; b++) M[a][b] += A[i][a] * W[i] * A[i][b];
      }
    }
    const next = gaussSolve(M, rhs);
    const change = Math.max(...next.map((v, j) => Math.abs(v - beta[j])));
    beta = next;
    if (change < 1e-13) break;
  }
  return beta;
}

function gaussSolve(M: number[][], b: number[]): number[] {
  const n = b.length;
  const a = M.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r][c]) > Math.abs(a[p][c])) p = r;
    [a[c], a[p]] = [a[p], a[c]];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = a[r][c] / a[c][c];
      for (let k = c; k <= n; k++) a[r][k] -= f * a[c][k];
    }
  }
  return a.map((row, i) => row[n] / row[i]);
}

function synthetic(n: number, d: number, seed: number, posRate: number): { X: number[][]; y: number[] } {
  const rng = new SeededRandom(seed, 'synthetic');
  const X: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const label = rng.uniform() < posRate ? 1 : 0;
    // Planted signal: features 2 and 7 shift with the label; feature 5 is a scaled copy of noise (irrelevant).
    const x = Array.from({ length: d }, () => rng.normal());
    x[2] += label ? 2.4 : 0;
    x[7] -= label ? 1.8 : 0;
    x[5] *= 40;
    X.push(x);
    y.push(label);
  }
  return { X, y };
}

const target: ProbeTarget = { modelId: 'test/tiny', attentionMode: 'blocks', templateId: 'tmpl', layout: { layers: 4, heads: 5 } };

describe('probe trainer', () => {
  it('recovers a planted signal: held-out AUC > 0.95', () => {
    const train = synthetic(800, 20, 1, 0.3);
    const test = synthetic(800, 20, 2, 0.3);
    const { probe, cv, C } = trainProbe(train.X, train.y, target, { seed: 3 });
    const auc = rocAuc(test.X.map((x) => probe.score(x)), test.y);
    expect(auc).toBeGreaterThan(0.95);
    expect(cv).toHaveLength(7);
    expect(cv.find((c) => c.C === C)!.auc).toBe(Math.max(...cv.map((c) => c.auc)));
    // The planted features dominate the standardised coefficients.
    const mag = probe.json.coef.map(Math.abs);
    const top2 = mag.map((m, i) => [m, i]).sort((a, b) => b[0] - a[0]).slice(0, 2).map(([, i]) => i).sort();
    expect(top2).toEqual([2, 7]);
    // Deterministic: the same data and seed give the identical probe.
    expect(trainProbe(train.X, train.y, target, { seed: 3 }).probe.json).toEqual(probe.json);
  });

  it('matches an IRLS reference on a fixed small dataset (coefficients within 1e-7)', () => {
    const data = synthetic(60, 8, 9, 0.25);
    const s = fitStandardiser(data.X);
    const Z = standardise(data.X, s);
    const w = balancedWeights(data.y);
    for (const C of [0.05, 1, 20]) {
      const fit = fitLogistic(Z, data.y, C, w);
      const ref = irlsReference(Z.map((z) => Array.from(z)), data.y, C, Array.from(w));
      const ours = [...fit.coef, fit.intercept];
      const diff = Math.max(...ours.map((v, j) => Math.abs(v - ref[j])));
      expect(diff).toBeLessThanOrEqual(1e-7);
      expect(Math.max(...ref.map(Math.abs))).toBeGreaterThan(0.05); // a non-trivial optimum
    }
  });

  it('class-balanced weights give each class half the total weight', () => {
    const y = [1, 0, 0, 0, 1, 0, 0, 0];
    const w = balancedWeights(y);
    expect(w[0] + w[4]).toBeCloseTo(4, 12);
    expect(w[1] * 6).toBeCloseTo(4, 12);
  });

  it('AUC counts ties as one half', () => {
    expect(rocAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBeCloseTo(0.75, 12);
    expect(rocAuc([0.5, 0.5], [0, 1])).toBe(0.5);
  });

  it('saves as JSON with its target and refuses another model or layout', () => {
    const { X, y } = synthetic(120, 20, 4, 0.5);
    const { probe } = trainProbe(X, y, target, { seed: 1, grid: [0.1, 1] });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rag-probe-'));
    try {
      const file = path.join(dir, 'probe.json');
      probe.save(file);
      const back = Probe.load(file, target);
      expect(back.score(X[0])).toBe(probe.score(X[0]));
      expect(() => Probe.load(file, { ...target, modelId: 'other/model' })).toThrow(ProbeMismatchError);
      expect(() => Probe.load(file, { ...target, layout: { layers: 5, heads: 4 } })).toThrow(/trained for model "test\/tiny".*features 4 layers x 5 heads.*serving uses.*5 layers x 4 heads.*rag probe train/);
      expect(() => Probe.load(file, { ...target, templateId: 'x' })).toThrow(/template/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
