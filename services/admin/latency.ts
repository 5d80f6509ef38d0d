import { ASK_STAGES, type AskStage } from '../../infra/metrics.js';
import { percentile } from '../../infra/stats.js';

export interface StagePercentiles {
  stage: AskStage;
  count: number;
  /** Milliseconds, keyed by percentile ("p50"); null when no question recorded the stage. */
  values: Record<string, number | null>;
}

/** Per ask-pipeline stage, percentiles of the recorded timings (ms) over a set of recent questions. */
export function stagePercentiles(timings: readonly Partial<Record<string, number | null>>[], ps: readonly number[] = [50, 90, 99]): StagePercentiles[] {
  return (Object.entries(ASK_STAGES) as [AskStage, string][]).map(([stage, field]) => {
    const sample = timings
      .map((t) => t[field])
      .filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    return { stage, count: sample.length, values: Object.fromEntries(ps.map((p) => [`p${p}`, sample.length ? percentile(sample, p) : null])) };
  });
}
