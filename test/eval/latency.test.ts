import { percentile, summarizeLatency } from '../../eval/latency.js';

describe('latency percentiles (linear interpolation, numpy default)', () => {
  test('hand-computed values', () => {
    const v = [15, 20, 35, 40, 50];
    // h = (n-1) p: p50 -> h 2 -> 35; p90 -> h 3.6 -> 40 + 0.6*10 = 46; p99 -> h 3.96 -> 49.6; p0/p100 -> min/max
    expect(percentile(v, 50)).toBe(35);
    expect(percentile(v, 90)).toBeCloseTo(46, 12);
    expect(percentile(v, 99)).toBeCloseTo(49.6, 12);
    expect(percentile(v, 0)).toBe(15);
    expect(percentile(v, 100)).toBe(50);
    // Unsorted input, even count: p50 of [1,2,3,4] -> h 1.5 -> 2.5
    expect(percentile([4, 1, 3, 2], 50)).toBe(2.5);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile(v, 101)).toThrow(RangeError);
  });

  test('summary leaves out stages that did not run', () => {
    const s = summarizeLatency([10, null, 30, undefined, 20, Number.NaN]);
    expect(s.n).toBe(3);
    expect(s.p50).toBe(20);
    expect(s.p90).toBeCloseTo(28, 12); // h = 1.8
    expect(s.p99).toBeCloseTo(29.8, 12); // h = 1.98
    expect(s.mean).toBe(20);
  });
});
