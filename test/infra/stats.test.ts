import { mean, median, percentile } from '../../infra/stats.js';

describe('percentile (linear interpolation between closest ranks, numpy default)', () => {
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
    expect(() => percentile(v, -1)).toThrow(RangeError);
  });

  test('median is the midpoint of an even sample; mean of nothing is NaN', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([10, 1, 3, 2])).toBe(2.5);
    expect(mean([1, 2, 6])).toBe(3);
    expect(mean([])).toBeNaN();
  });
});
