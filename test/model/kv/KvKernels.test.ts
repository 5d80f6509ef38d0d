import { kvKernels } from '../../../model/kv/KvKernels.js';
import { float32ToHalf, fromHalfBits } from '../../../model/kv/half.js';
import { SeededRandom } from '../../../infra/random.js';

describe('KvKernels (native fp16 conversions)', () => {
  it('decodes every fp16 bit pattern exactly', async () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const got = await kvKernels.halfToFloat(all);
    const wrong: number[] = [];
    for (let h = 0; h < 65536; h++) {
      const want = fromHalfBits(h);
      if (Number.isNaN(want) ? !Number.isNaN(got[h]) : !Object.is(got[h], want)) wrong.push(h);
    }
    expect(wrong).toEqual([]);
  });

  it('encodes float32 to fp16 with the same bits as the reference (round to nearest even) and flags overflow', async () => {
    const rng = new SeededRandom(5, 'half');
    const bits = Uint32Array.from({ length: 200_000 }, (_, i) => {
      const u = rng.uint32();
      return i % 4 === 0 ? (u & ~0x1fff) | 0x1000 : u; // every fourth value a tie between two halves
    });
    const values = new Float32Array(bits.buffer);
    values.set([65504, 65519.996, -1e-8, 5.960464477539063e-8, 2.9802322387695312e-8, -0, Infinity, NaN], 0);
    const finite = values.map((v) => (Number.isFinite(v) && Math.abs(v) >= 65520 ? 1 : v));
    const { half, overflow } = await kvKernels.floatToHalf(finite);
    expect(overflow).toBe(false);
    const ref = float32ToHalf(finite);
    const wrong: number[] = [];
    for (let i = 0; i < ref.length; i++) {
      if (Number.isNaN(finite[i]) ? !Number.isNaN(fromHalfBits(half[i])) : half[i] !== ref[i]) wrong.push(i);
    }
    expect(wrong).toEqual([]);
    expect((await kvKernels.floatToHalf(Float32Array.of(1, 65520, 2))).overflow).toBe(true);
    expect((await kvKernels.floatToHalf(Float32Array.of(1, -Infinity, 65504))).overflow).toBe(false);
  });
});
