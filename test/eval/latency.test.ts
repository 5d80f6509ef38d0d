import { summarizeLatency } from '../../eval/latency.js';

describe('latency summary', () => {
  test('summary leaves out stages that did not run', () => {
    const s = summarizeLatency([10, null, 30, undefined, 20, Number.NaN]);
    expect(s.n).toBe(3);
    expect(s.p50).toBe(20);
    expect(s.p90).toBeCloseTo(28, 12); // h = 1.8
    expect(s.p99).toBeCloseTo(29.8, 12); // h = 1.98
    expect(s.mean).toBe(20);
  });
});
