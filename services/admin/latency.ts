import { ASK_STAGES, type AskStage } from '../../infra/metrics.js';

export interface StagePercentiles {
  stage: AskStage;
  count: number;
  /** Milliseconds, keyed by percentile ("p50"); null when no question recorded the stage. */
  values: Record<string, number | null>;
}

/** Nearest-rank percentile (the smallest value with at least p% of the sample at or below it). */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile ${p} outside (0, 100]`);
  return sorted[Math.ceil((p / 100) * sorted.length) - 1]!;
}

/** Per ask-pipeline stage, percentiles of the recorded timings (ms) over a set of recent questions. */
export function stagePercentiles(timings: readonly Partial<Record<string, number | null>>[], ps: readonly number[] = [50, 90, 99]): StagePercentiles[] {
  return (Object.entries(ASK_STAGES) as [AskStage, string][]).map(([stage, field]) => {
    const sample = timings
      .map((t) => t[field])
      .filter((v): v is number => typeof v === 'number' && Number.isFinite(v))
      .sort((a, b) => a - b);
    return { stage, count: sample.length, values: Object.fromEntries(ps.map((p) => [`p${p}`, percentile(sample, p)])) };
  });
}
