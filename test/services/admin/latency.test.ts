import { stagePercentiles } from '../../../services/admin/latency.js';

describe('stagePercentiles', () => {
  it('computes each stage over the questions that recorded it, skipping nulls', () => {
    const timings = Array.from({ length: 100 }, (_, i) => ({
      retrieveMs: i + 1, // 1..100
      totalMs: 1000 - i, // 901..1000
      firstTokenMs: i % 2 === 0 ? null : i, // odd values 1..99 (50 questions)
    }));
    const byStage = Object.fromEntries(stagePercentiles(timings).map((s) => [s.stage, s]));
    // The project's one percentile (infra/stats.ts, interpolated at h = (n-1) p / 100).
    const close = (got: Record<string, number | null>, want: Record<string, number>) => {
      expect(Object.keys(got)).toEqual(Object.keys(want));
      for (const k of Object.keys(want)) expect(got[k]).toBeCloseTo(want[k]!, 9);
    };
    // 1..100: h 49.5 -> 50.5, h 89.1 -> 90.1, h 98.01 -> 99.01.
    expect(byStage.retrieve!.count).toBe(100);
    close(byStage.retrieve!.values, { p50: 50.5, p90: 90.1, p99: 99.01 });
    close(byStage.total!.values, { p50: 950.5, p90: 990.1, p99: 999.01 });
    // 50 odd values x_i = 2i+1: h 24.5 -> 50, h 44.1 -> 89.2, h 48.51 -> 98.02.
    expect(byStage.first_token!.count).toBe(50);
    close(byStage.first_token!.values, { p50: 50, p90: 89.2, p99: 98.02 });
    expect(byStage.compress).toEqual({ stage: 'compress', count: 0, values: { p50: null, p90: null, p99: null } });
    expect(Object.keys(byStage)).toEqual(['retrieve', 'assemble', 'compress', 'question_prefill', 'first_token', 'decode', 'total']);
  });
});
