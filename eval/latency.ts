/**
 * Latency percentiles. Linear interpolation between closest ranks (numpy's default, "type 7"): the p-th
 * percentile of sorted x[0..n-1] is x[h] interpolated at h = (n - 1) * p / 100.
 */
export function percentile(values: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile: p must be in [0, 100] (got ${p})`);
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const h = ((s.length - 1) * p) / 100;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  return s[lo] + (s[hi] - s[lo]) * (h - lo);
}

export interface LatencySummary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  mean: number;
}

/** p50/p90/p99 and mean in the input's unit; values that are not finite (a stage that did not run) are left out. */
export function summarizeLatency(values: readonly (number | null | undefined)[]): LatencySummary {
  const v = values.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  return {
    n: v.length,
    p50: percentile(v, 50),
    p90: percentile(v, 90),
    p99: percentile(v, 99),
    mean: v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN,
  };
}
