import { CholeskyDecomposition, Matrix } from 'ml-matrix';

/**
 * Newton's method with a Cholesky solve (ml-matrix) and Armijo backtracking, for smooth strictly convex
 * objectives of a few dozen parameters (the probe's and the sentence ranker's penalised likelihoods): it
 * converges in a few steps and is fully deterministic.
 */
export interface NewtonObjective {
  /** Parameters. */
  readonly size: number;
  value(theta: Float64Array): number;
  /** Gradient and Hessian at theta; the Hessian row-major size x size, only its upper triangle is read. */
  derivatives(theta: Float64Array): { gradient: Float64Array; hessian: Float64Array };
}

export interface NewtonOptions {
  maxIterations?: number;
  /** Stop when max |gradient| falls below this. */
  tolerance?: number;
}

export interface NewtonResult {
  theta: Float64Array;
  iterations: number;
  /** max |gradient| at the returned point. */
  gradientNorm: number;
}

export function minimiseNewton(objective: NewtonObjective, opts: NewtonOptions = {}, name = 'minimiseNewton'): NewtonResult {
  const p = objective.size;
  const maxIter = opts.maxIterations ?? 100;
  const tol = opts.tolerance ?? 1e-9;
  const theta = new Float64Array(p);
  let f = objective.value(theta);
  let gradNorm = Infinity;
  let it = 0;
  for (; it < maxIter; it++) {
    const { gradient: g, hessian: H } = objective.derivatives(theta);
    gradNorm = 0;
    for (let j = 0; j < p; j++) gradNorm = Math.max(gradNorm, Math.abs(g[j]));
    if (gradNorm < tol) break;
    const rows: number[][] = [];
    for (let a = 0; a < p; a++) {
      const row = new Array<number>(p);
      for (let b = 0; b < p; b++) row[b] = a <= b ? H[a * p + b] : H[b * p + a];
      rows.push(row);
    }
    const chol = new CholeskyDecomposition(new Matrix(rows));
    if (!chol.isPositiveDefinite()) throw new Error(`${name}: Hessian not positive definite (degenerate features?)`);
    const step = chol.solve(Matrix.columnVector(Array.from(g))).getColumn(0);
    let slope = 0;
    for (let j = 0; j < p; j++) slope += g[j] * step[j];
    // Armijo backtracking along the Newton direction (full steps once close to the optimum).
    let t = 1;
    let next = theta;
    let fNext = f;
    for (let k = 0; k < 50; k++) {
      next = Float64Array.from(theta, (v, j) => v - t * step[j]);
      fNext = objective.value(next);
      if (fNext <= f - 1e-4 * t * slope) break;
      t /= 2;
    }
    if (!(fNext < f)) break; // no further decrease in floating point: at the optimum
    theta.set(next);
    f = fNext;
    // Converged in parameter space (the gradient can stall just above `tolerance` in floating point).
    let stepMax = 0;
    let thetaMax = 0;
    for (let j = 0; j < p; j++) {
      stepMax = Math.max(stepMax, Math.abs(t * step[j]));
      thetaMax = Math.max(thetaMax, Math.abs(theta[j]));
    }
    if (stepMax <= 1e-12 * (1 + thetaMax)) {
      it++;
      break;
    }
  }
  return { theta, iterations: it, gradientNorm: gradNorm };
}
