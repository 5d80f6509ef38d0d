/**
 * The one percentile definition of the project: linear interpolation between closest ranks (numpy's and
 * pandas' default, Hyndman-Fan type 7). The p-th percentile of sorted x[0..n-1] is x at h = (n - 1) p / 100,
 * interpolated between x[floor(h)] and x[ceil(h)]. Chosen over nearest rank because the benchmark reports,
 * the evaluation and the dashboard then agree with each other and with numpy on the same sample, and the
 * median is the usual midpoint of an even sample. Empty samples give NaN.
 */
export function percentile(values: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile: p must be in [0, 100] (got ${p})`);
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const h = ((s.length - 1) * p) / 100;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  return s[lo]! + (s[hi]! - s[lo]!) * (h - lo);
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

export function mean(values: readonly number[]): number {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
}
