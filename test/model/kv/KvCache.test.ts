import { DecoderModel } from '../../../model/DecoderModel.js';
import { KvCache } from '../../../model/kv/KvCache.js';
import { maxAbsDiff } from '../../support/referenceDecoder.js';
import { buildTempModel, removeTempModel } from '../../support/tempModel.js';

const range = (start: number, n: number): number[] => Array.from({ length: n }, (_, i) => start + i);

/** A cache whose every element encodes (layer, head, token, dim), so layout mistakes are visible. */
function labelled(layers: number, kvHeads: number, len: number, D: number, positions: number[] = range(0, len)): KvCache {
  const make = (l: number, kind: number): Float32Array => {
    const a = new Float32Array(kvHeads * len * D);
    for (let h = 0; h < kvHeads; h++) for (let t = 0; t < len; t++) for (let d = 0; d < D; d++) a[(h * len + t) * D + d] = kind * 10000 + l * 1000 + h * 100 + t * 10 + d;
    return a;
  };
  return new KvCache(range(0, layers).map((l) => ({ key: make(l, 1), value: make(l, 2) })), kvHeads, D, Int32Array.from(positions));
}

describe('KvCache layout helpers', () => {
  it('slices, selects and concatenates along the token axis of [kvHeads, len, headDim]', () => {
    const c = labelled(2, 3, 5, 4);
    expect(c.byteLength).toBe(2 * 2 * 3 * 5 * 4 * 4);
    const s = c.slice(1, 3);
    expect(s.length).toBe(2);
    expect(Array.from(s.positions)).toEqual([1, 2]);
    // head 2, token 1 of the slice = original token 2, dim 3 of layer 1's key.
    expect(s.layers[1].key[(2 * 2 + 1) * 4 + 3]).toBe(10000 + 1000 + 200 + 20 + 3);
    const sel = c.select([4, 0]);
    expect(Array.from(sel.positions)).toEqual([4, 0]);
    expect(sel.layers[0].value[(1 * 2 + 0) * 4 + 1]).toBe(20000 + 100 + 40 + 1);
    const joined = KvCache.concat([c.slice(0, 2), c.slice(2, 3), c.slice(3)]);
    expect(Array.from(joined.positions)).toEqual([0, 1, 2, 3, 4]);
    for (let l = 0; l < 2; l++) {
      expect(Array.from(joined.layers[l].key)).toEqual(Array.from(c.layers[l].key));
      expect(Array.from(joined.layers[l].value)).toEqual(Array.from(c.layers[l].value));
    }
    expect(() => c.select([5])).toThrow(RangeError);
    expect(() => KvCache.concat([c, labelled(2, 2, 1, 4)])).toThrow(/shape mismatch/);
  });

  it('re-encoding rotates keys only, composes, and lays out contiguous positions', () => {
    const c = labelled(1, 2, 4, 8, [3, 9, 10, 40]);
    const theta = 10000;
    const a = c.reencode({ delta: 100 }, theta).reencode({ delta: -37 }, theta);
    const b = c.reencode({ delta: 63 }, theta);
    expect(Array.from(b.positions)).toEqual([66, 72, 73, 103]);
    expect(maxAbsDiff(a.layers[0].key, b.layers[0].key) / 30000).toBeLessThanOrEqual(1e-6);
    expect(Array.from(b.layers[0].value)).toEqual(Array.from(c.layers[0].value));
    const back = b.reencode({ delta: -63 }, theta);
    expect(maxAbsDiff(back.layers[0].key, c.layers[0].key) / 30000).toBeLessThanOrEqual(1e-6);
    // Rotation preserves each pair's norm and changes the key.
    expect(maxAbsDiff(b.layers[0].key, c.layers[0].key)).toBeGreaterThan(1);
    const packed = c.select([0, 2, 3]).reencode({ start: 20 }, theta);
    expect(Array.from(packed.positions)).toEqual([20, 21, 22]);
    const viaDelta = c.select([2]).reencode({ delta: 21 - 10 }, theta);
    expect(maxAbsDiff(packed.slice(1, 2).layers[0].key, viaDelta.layers[0].key)).toBe(0);
  });

  it('converts to fp16 and back (exact for representable values)', () => {
    const c = labelled(2, 2, 3, 4);
    const h = c.toFp16();
    expect(h.layers[0].key).toBeInstanceOf(Uint16Array);
    const back = KvCache.fromFp16(h);
    // Labels up to 21323 need more than 11 significant bits; compare after the same rounding.
    for (let l = 0; l < 2; l++) {
      for (let i = 0; i < c.layers[l].key.length; i++) {
        const v = c.layers[l].key[i];
        expect(Math.abs(back.layers[l].key[i] - v)).toBeLessThanOrEqual(v * 2 ** -11);
      }
    }
    const small = new KvCache([{ key: Float32Array.from([0.5, -0.25, 1024, 2 ** -20]), value: Float32Array.from([1, 2, 3, 4]) }], 1, 2, Int32Array.from([0, 1]));
    const sb = KvCache.fromFp16(small.toFp16());
    expect(Array.from(sb.layers[0].key)).toEqual([0.5, -0.25, 1024, 2 ** -20]);
    expect(Array.from(sb.positions)).toEqual([0, 1]);
  });
});

describe('KvCache.reencode against the model', () => {
  let dir: string;
  let model: DecoderModel;
  beforeAll(async () => {
    dir = buildTempModel('tiny', { seed: 3 });
    model = await DecoderModel.load(dir, { intraOpThreads: 1 });
  });
  afterAll(async () => {
    await model.release();
    removeTempModel(dir);
  });

  it('a key computed at p and re-encoded by d equals the key computed at p+d (p+d up to 8192)', async () => {
    const ids = Array.from(model.tokenizer.encode('Water covers about seventy percent of the surface.')).slice(0, 6);
    const n = ids.length;
    const cases: [number, number][] = [
      [0, 1],
      [0, 8192 - n],
      [5, 200],
      [100, -100],
      [1000, -37],
      [3000, 5000 - n + 192],
      [8192 - n, -(8192 - n)],
      [4096, 4096 - n],
      [7000, -6999],
    ];
    let worst = 0;
    for (const [p, d] of cases) {
      const at = await model.forward(ids, range(p, n), null, { logits: 'none' });
      const target = await model.forward(ids, range(p + d, n), null, { logits: 'none' });
      const moved = at.present.reencode({ delta: d }, model.config.ropeTheta);
      expect(Array.from(moved.positions)).toEqual(range(p + d, n));
      for (let l = 0; l < model.config.layers; l++) {
        worst = Math.max(worst, maxAbsDiff(moved.layers[l].key, target.present.layers[l].key), maxAbsDiff(moved.layers[l].value, target.present.layers[l].value));
      }
      if (d !== 0) expect(maxAbsDiff(at.present.layers[0].key, target.present.layers[0].key)).toBeGreaterThan(1e-2);
    }
    expect(worst).toBeLessThanOrEqual(1e-4);
  });
});

describe('KvCache.concatSelected', () => {
  it('equals selecting each cache and concatenating, in one copy (runs of tokens, whole caches with null)', () => {
    const make = (len: number, seed: number): KvCache =>
      new KvCache(
        Array.from({ length: 2 }, (_, l) => ({
          key: Float32Array.from({ length: 3 * len * 4 }, (_, i) => seed * 1000 + l * 100 + i),
          value: Float32Array.from({ length: 3 * len * 4 }, (_, i) => -(seed * 1000 + l * 100 + i)),
        })),
        3,
        4,
        Int32Array.from({ length: len }, (_, i) => 10 * seed + i),
      );
    const a = make(5, 1);
    const b = make(7, 2);
    const c = make(3, 3);
    const picks = [null, [0, 1, 4, 5, 6], [2]];
    const got = KvCache.concatSelected([a, b, c].map((cache, i) => ({ cache, indices: picks[i] ?? null })));
    const want = KvCache.concat([a, b.select([0, 1, 4, 5, 6]), c.select([2])]);
    expect(Array.from(got.positions)).toEqual(Array.from(want.positions));
    for (let l = 0; l < 2; l++) {
      expect(Array.from(got.layers[l]!.key)).toEqual(Array.from(want.layers[l]!.key));
      expect(Array.from(got.layers[l]!.value)).toEqual(Array.from(want.layers[l]!.value));
    }
    expect(() => KvCache.concatSelected([{ cache: a, indices: [5] }])).toThrow(RangeError);
  });
});
