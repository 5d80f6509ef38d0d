import { percentile, stagePercentiles } from '../../../services/admin/latency.js';

describe('percentile (nearest rank)', () => {
  const sorted = [15, 20, 35, 40, 50];

  it('matches the nearest-rank definition on a worked example', () => {
    // Nearest rank: the ceil(p/100 * n)-th smallest value (n = 5).
    expect(percentile(sorted, 5)).toBe(15); // rank 1
    expect(percentile(sorted, 30)).toBe(20); // rank 2
    expect(percentile(sorted, 40)).toBe(20); // rank 2
    expect(percentile(sorted, 50)).toBe(35); // rank 3
    expect(percentile(sorted, 100)).toBe(50); // rank 5
  });

  it('is null on an empty sample and refuses p outside (0, 100]', () => {
    expect(percentile([], 50)).toBeNull();
    expect(() => percentile(sorted, 0)).toThrow(RangeError);
    expect(() => percentile(sorted, 101)).toThrow(RangeError);
  });
});

describe('stagePercentiles', () => {
  it('computes each stage over the questions that recorded it, skipping nulls', () => {
    const timings = Array.from({ length: 100 }, (_, i) => ({
      retrieveMs: i + 1, // 1..100
      totalMs: 1000 - i, // 901..1000
      firstTokenMs: i % 2 === 0 ? null : i, // odd values 1..99 (50 questions)
    }));
    const byStage = Object.fromEntries(stagePercentiles(timings).map((s) => [s.stage, s]));
    expect(byStage.retrieve).toEqual({ stage: 'retrieve', count: 100, values: { p50: 50, p90: 90, p99: 99 } });
    expect(byStage.total!.values).toEqual({ p50: 950, p90: 990, p99: 999 });
    // 50 odd values: rank ceil(0.5*50)=25 -> 49, ceil(0.9*50)=45 -> 89, ceil(0.99*50)=50 -> 99.
    expect(byStage.first_token).toEqual({ stage: 'first_token', count: 50, values: { p50: 49, p90: 89, p99: 99 } });
    expect(byStage.compress).toEqual({ stage: 'compress', count: 0, values: { p50: null, p90: null, p99: null } });
    expect(Object.keys(byStage)).toEqual(['retrieve', 'assemble', 'compress', 'question_prefill', 'first_token', 'decode', 'total']);
  });
});
