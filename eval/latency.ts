import { mean, percentile } from '../infra/stats.js';

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
    mean: mean(v),
  };
}
