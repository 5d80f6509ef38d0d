import { kvKernels } from '../../../model/kv/KvKernels.js';
import { fromHalfBits } from '../../../model/kv/half.js';
import { ropeInverseFrequencies, rotateHeadInPlace, rotationRows } from '../../../model/kv/rope.js';
import { SeededRandom } from '../../../model/builder/random.js';

describe('KvKernels (native onnxruntime kernels over KV data)', () => {
  it('rotates keys like the float64 reference, for mixed, repeated, zero and large deltas', async () => {
    const rng = new SeededRandom(3, 'kernels');
    for (const { D, theta, kvHeads, layers } of [
      { D: 64, theta: 1e4, kvHeads: 3, layers: 4 },
      { D: 8, theta: 1e6, kvHeads: 2, layers: 1 },
    ]) {
      const len = 37;
      const deltas = Float64Array.from({ length: len }, (_, t) => (t % 5 === 0 ? 0 : t < 12 ? 211 : t < 30 ? 31_000 - t * 7 : -40));
      const invFreq = ropeInverseFrequencies(D, theta);
      const keys = Array.from({ length: layers }, () => Float32Array.from({ length: kvHeads * len * D }, () => (rng.uniform() * 2 - 1) * 4));
      const copies = keys.map((k) => k.slice());
      const rotated = await kvKernels.rotateKeys(keys, kvHeads, D, rotationRows(deltas, invFreq));
      let worst = 0;
      for (let l = 0; l < layers; l++) {
        expect(keys[l]).toEqual(copies[l]); // inputs untouched
        const ref = keys[l].slice();
        for (let h = 0; h < kvHeads; h++) rotateHeadInPlace(ref, h * len * D, len, D, deltas, invFreq);
        for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(rotated[l][i] - ref[i]));
        // Delta 0 is the identity, bit for bit.
        for (let h = 0; h < kvHeads; h++) {
          const at = (h * len + 5) * D;
          expect(Array.from(rotated[l].subarray(at, at + D))).toEqual(Array.from(keys[l].subarray(at, at + D)));
        }
      }
      // |key| <= 4 and cos/sin rounded to fp32 (relative 6e-8): errors of a few 1e-7 at most.
      expect(worst).toBeLessThanOrEqual(2e-6);
      expect(worst).toBeGreaterThan(0);
    }
  });

  it('rejects rows and keys of mismatched lengths', async () => {
    const rows = rotationRows([1, 2], ropeInverseFrequencies(8, 1e4));
    await expect(kvKernels.rotateKeys([new Float32Array(3 * 8)], 1, 8, rows)).rejects.toThrow(/expected 1x2x8/);
  });

  it('decodes every fp16 bit pattern exactly', async () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const got = await kvKernels.halfToFloat(all);
    for (let h = 0; h < 65536; h++) {
      const want = fromHalfBits(h);
      if (Number.isNaN(want)) expect(Number.isNaN(got[h])).toBe(true);
      else expect(Object.is(got[h], want)).toBe(true);
    }
  });
});
