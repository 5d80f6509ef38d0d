import { float32ToHalf, fromHalfBits, halfToFloat32, toHalfBits } from '../../../model/kv/half.js';

describe('IEEE half conversion', () => {
  it('encodes representable values exactly', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [1, 0x3c00],
      [-2, 0xc000],
      [0.5, 0x3800],
      [65504, 0x7bff],
      [2 ** -14, 0x0400], // smallest normal
      [2 ** -24, 0x0001], // smallest subnormal
      [1023 * 2 ** -24, 0x03ff], // largest subnormal
      [0.333251953125, 0x3555],
    ];
    for (const [v, bits] of cases) {
      expect(toHalfBits(v)).toBe(bits);
      expect(fromHalfBits(bits)).toBe(v);
    }
    expect(toHalfBits(-0)).toBe(0x8000);
    expect(Object.is(fromHalfBits(0x8000), -0)).toBe(true);
  });

  it('bulk float32ToHalf equals toHalfBits across every exponent, ties and the range edges', () => {
    const values: number[] = [0, -0, Infinity, -Infinity, NaN, 65504, 65519, 65520, 65536, 2 ** -14, 2 ** -15, 2 ** -24, 2 ** -25, 1 + 2 ** -11, 1 + 3 * 2 ** -11];
    let seed = 777;
    const rnd = (): number => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    for (let e = -30; e <= 17; e++) for (let k = 0; k < 400; k++) values.push((rnd() < 0.5 ? -1 : 1) * (1 + rnd()) * 2 ** e);
    // Exact ties at every exponent of the normal range.
    for (let e = -14; e <= 15; e++) for (const m of [1, 3, 1023, 2047]) values.push((1 + (m * 2 ** -11)) * 2 ** e);
    const src = Float32Array.from(values);
    const bulk = float32ToHalf(src);
    const one = Uint16Array.from(src, (v) => toHalfBits(v));
    expect(Array.from(bulk)).toEqual(Array.from(one));
    // A view into a larger buffer converts only its own elements.
    const big = new Float32Array(16).fill(3);
    big.set([0.5, -2], 5);
    expect(Array.from(float32ToHalf(big.subarray(5, 7)))).toEqual([0x3800, 0xc000]);
  });

  it('every finite half value survives half -> float32 -> half', () => {
    const wrong: number[] = [];
    for (let h = 0; h < 0x10000; h++) {
      const exp = (h >> 10) & 0x1f;
      if (exp === 0x1f && (h & 0x3ff) !== 0) continue; // NaN payloads
      if (toHalfBits(fromHalfBits(h)) !== h) wrong.push(h);
    }
    expect(wrong).toEqual([]);
  });

  it('rounds to nearest, ties to even', () => {
    expect(toHalfBits(1 + 2 ** -11)).toBe(0x3c00); // tie between 0x3c00 (even) and 0x3c01
    expect(toHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie between 0x3c01 and 0x3c02 (even)
    expect(toHalfBits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01); // just above the tie
    expect(toHalfBits(65519)).toBe(0x7bff); // below the overflow midpoint
    expect(toHalfBits(65520)).toBe(0x7c00); // tie rounds to even = 65536 = inf
    expect(toHalfBits(2 ** -25)).toBe(0x0000); // tie between 0 and the smallest subnormal
    expect(toHalfBits(1.5 * 2 ** -25)).toBe(0x0001);
    expect(toHalfBits(2.5 * 2 ** -24)).toBe(0x0002); // subnormal tie to even
    expect(toHalfBits(3.5 * 2 ** -24)).toBe(0x0004);
    expect(toHalfBits(2 ** -26)).toBe(0x0000);
    expect(toHalfBits(-(1 + 3 * 2 ** -11))).toBe(0xbc02);
    expect(toHalfBits(1023.5 * 2 ** -24)).toBe(0x0400); // largest subnormal rounds up into the normals
  });

  it('is the nearest half for random float32 values (checked against neighbours)', () => {
    let seed = 12345;
    const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const bad: string[] = [];
    for (let i = 0; i < 20000; i++) {
      const x = Math.fround((rnd() - 0.5) * 2 ** Math.floor(rnd() * 40 - 26));
      const h = toHalfBits(x);
      const v = fromHalfBits(h);
      const err = Math.abs(v - x);
      for (const n of [h - 1, h + 1]) {
        if ((n & 0x7fff) >= 0x7c00 || n < 0 || ((n ^ h) & 0x8000) !== 0) continue;
        const nErr = Math.abs(fromHalfBits(n) - x);
        if (err > nErr || (err === nErr && (h & 1) !== 0)) bad.push(`${x} -> ${h.toString(16)} (neighbour ${n.toString(16)} is nearer or even)`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('handles infinities and NaN', () => {
    expect(toHalfBits(Infinity)).toBe(0x7c00);
    expect(toHalfBits(-Infinity)).toBe(0xfc00);
    expect(toHalfBits(1e6)).toBe(0x7c00);
    expect(toHalfBits(-1e6)).toBe(0xfc00);
    const nan = toHalfBits(NaN);
    expect(nan & 0x7c00).toBe(0x7c00);
    expect(nan & 0x3ff).not.toBe(0);
    expect(fromHalfBits(0x7c00)).toBe(Infinity);
    expect(fromHalfBits(0xfc00)).toBe(-Infinity);
    expect(Number.isNaN(fromHalfBits(0x7e00))).toBe(true);
  });

  it('converts arrays both ways', () => {
    const src = Float32Array.from([0.1, -3.25, 1e-7, 70000, NaN]);
    const back = halfToFloat32(float32ToHalf(src));
    expect(back[0]).toBeCloseTo(0.1, 3);
    expect(back[1]).toBe(-3.25);
    expect(back[2]).toBeCloseTo(1.1920928955078125e-7, 12);
    expect(back[3]).toBe(Infinity);
    expect(Number.isNaN(back[4])).toBe(true);
  });
});
