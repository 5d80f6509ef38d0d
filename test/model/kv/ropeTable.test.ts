import { ropeInverseFrequencies, rotateHeadByTable, rotateHeadInPlace, rotationTable } from '../../../model/kv/rope.js';

describe('rotationTable / rotateHeadByTable', () => {
  it('is bit-identical to rotateHeadInPlace for mixed, repeated and zero deltas', () => {
    const D = 64;
    const len = 50;
    const invFreq = ropeInverseFrequencies(D, 1e6);
    const deltas = Float64Array.from({ length: len }, (_, t) => (t % 7 === 0 ? 0 : t < 25 ? 812 : -3 + t * 131));
    const data = Float32Array.from({ length: 3 * len * D }, (_, i) => Math.sin(i * 0.37) * 5);
    const a = data.slice();
    const b = data.slice();
    const table = rotationTable(deltas, invFreq);
    for (let h = 0; h < 3; h++) {
      rotateHeadInPlace(a, h * len * D, len, D, deltas, invFreq);
      rotateHeadByTable(b, h * len * D, len, table);
    }
    expect(Buffer.from(b.buffer).equals(Buffer.from(a.buffer))).toBe(true);
    expect(Buffer.from(b.buffer).equals(Buffer.from(data.buffer))).toBe(false);
    // One row per distinct non-zero delta.
    const distinct = new Set(Array.from(deltas).filter((d) => d !== 0)).size;
    expect(table.cos.length).toBe(distinct * (D / 2));
    expect(Array.from(table.row).filter((r) => r < 0).length).toBe(Array.from(deltas).filter((d) => d === 0).length);
  });
});
