import { KvCache } from '../../model/kv/KvCache.js';
import { layOutContiguous, layOutInto, layoutLength, overwriteRange } from '../../generator/kvLayout.js';
import { KvBuffer } from '../../model/kv/KvBuffer.js';
import { SeededRandom } from '../../infra/random.js';

const cache = (layers: number, kvHeads: number, D: number, positions: number[], seed: number): KvCache =>
  new KvCache(
    Array.from({ length: layers }, (_, l) => ({
      key: Float32Array.from({ length: kvHeads * positions.length * D }, (_, i) => Math.sin(seed * 31 + l * 7 + i * 0.61) * 3),
      value: Float32Array.from({ length: kvHeads * positions.length * D }, (_, i) => Math.cos(seed * 17 + l * 5 + i * 0.29)),
    })),
    kvHeads,
    D,
    Int32Array.from(positions),
  );

/** The reference: each part re-encoded to its slot (KvCache.reencode, float64 angles), then concatenated. */
function reencodeThenConcat(parts: KvCache[], theta: number): KvCache {
  let start = 0;
  return KvCache.concat(
    parts.map((p) => {
      const r = p.reencode({ start }, theta);
      start += p.length;
      return r;
    }),
  );
}

describe('layOutContiguous / overwriteRange', () => {
  it('is bit-identical to re-encode each part to its slot, then concat', () => {
    const theta = 1e4;
    const parts = [
      cache(3, 2, 8, [0, 1, 2, 3], 1), // a prefix: already in place
      cache(3, 2, 8, [4, 5, 6], 2), // a block computed after the prefix
      cache(3, 2, 8, [4, 5, 6, 7, 8], 3),
      cache(3, 2, 8, [4, 9, 12], 4), // a block after `select` (gaps)
    ];
    const got = layOutContiguous(parts, 3, 2, 8, theta);
    const expected = reencodeThenConcat(parts, theta);
    expect(Array.from(got.positions)).toEqual(Array.from(expected.positions));
    for (let l = 0; l < 3; l++) {
      expect(Buffer.from(got.layers[l].key.buffer).equals(Buffer.from(expected.layers[l].key.buffer))).toBe(true);
      expect(Buffer.from(got.layers[l].value.buffer).equals(Buffer.from(expected.layers[l].value.buffer))).toBe(true);
    }
    // Not a plain concat: moved blocks were rotated.
    const plain = KvCache.concat(parts);
    expect(Buffer.from(got.layers[0].key.buffer).equals(Buffer.from(plain.layers[0].key.buffer))).toBe(false);
  });

  it('matches re-encode + concat bit for bit on random caches of a real head size, with gaps from select', () => {
    const rng = new SeededRandom(11, 'layout');
    const D = 64;
    const random = (positions: number[]): KvCache =>
      new KvCache(
        Array.from({ length: 2 }, () => ({
          key: Float32Array.from({ length: 3 * positions.length * D }, () => rng.normal() * 2),
          value: Float32Array.from({ length: 3 * positions.length * D }, () => rng.normal()),
        })),
        3,
        D,
        Int32Array.from(positions),
      );
    const prefix = random(Array.from({ length: 9 }, (_, i) => i));
    const blocks = [20, 33, 7].map((n) => random(Array.from({ length: n }, (_, i) => 9 + i)));
    const compressed = random(Array.from({ length: 40 }, (_, i) => 9 + i)).select([0, 1, 2, 17, 18, 30, 39]);
    const parts = [prefix, ...blocks, compressed];
    for (const theta of [1e4, 1e6]) {
      const got = layOutContiguous(parts, 2, 3, D, theta);
      const expected = reencodeThenConcat(parts, theta);
      for (let l = 0; l < 2; l++) {
        expect(Buffer.from(got.layers[l].key.buffer).equals(Buffer.from(expected.layers[l].key.buffer))).toBe(true);
        expect(Buffer.from(got.layers[l].value.buffer).equals(Buffer.from(expected.layers[l].value.buffer))).toBe(true);
      }
    }
  });

  it('places a selection straight from its cache, bit-identical to select + re-encode + concat', () => {
    const theta = 1e4;
    const prefix = cache(2, 3, 8, [0, 1, 2], 6);
    const block = cache(2, 3, 8, Array.from({ length: 12 }, (_, i) => 3 + i), 7);
    const indices = [0, 1, 5, 6, 7, 11];
    const got = layOutContiguous([prefix, { cache: block, indices }, { cache: block, indices: null }], 2, 3, 8, theta);
    const expected = reencodeThenConcat([prefix, block.select(indices), block], theta);
    expect(got.length).toBe(3 + indices.length + 12);
    for (let l = 0; l < 2; l++) {
      expect(Buffer.from(got.layers[l].key.buffer).equals(Buffer.from(expected.layers[l].key.buffer))).toBe(true);
      expect(Buffer.from(got.layers[l].value.buffer).equals(Buffer.from(expected.layers[l].value.buffer))).toBe(true);
    }
    expect(() => layOutContiguous([{ cache: block, indices: [12] }], 2, 3, 8, theta)).toThrow(/outside/);
  });

  it('lays a context out straight into a decode buffer, bit-identical to laying it out and copying it in', () => {
    const theta = 1e4;
    const block = cache(2, 3, 8, Array.from({ length: 10 }, (_, i) => 4 + i), 8);
    const parts = [cache(2, 3, 8, [0, 1, 2, 3], 9), { cache: block, indices: [2, 3, 4, 8] }, block];
    const n = layoutLength(parts);
    expect(n).toBe(4 + 4 + 10);
    const pass = cache(2, 3, 8, [n, n + 1], 10);
    const direct = KvBuffer.laidOut({ layers: 2, kvHeads: 3, headDim: 8 }, n, n + 2 + 5, (out, stride) => layOutInto(out, stride, parts, 3, 8, theta));
    direct.append(pass);
    const copied = KvBuffer.of([layOutContiguous(parts, 2, 3, 8, theta), pass], 5, false);
    expect(direct.capacity).toBe(copied.capacity);
    expect(direct.length).toBe(n + 2);
    expect(Array.from(direct.positions)).toEqual(Array.from(copied.positions));
    for (let l = 0; l < 2; l++) {
      expect(Array.from(direct.layers[l]!.key)).toEqual(Array.from(copied.layers[l]!.key));
      expect(Array.from(direct.layers[l]!.value)).toEqual(Array.from(copied.layers[l]!.value));
    }
    // Rotated, not a plain copy of the cached keys.
    expect(Array.from(direct.layers[0]!.key.subarray(4 * 8, 5 * 8))).not.toEqual(Array.from(block.layers[0].key.subarray(2 * 8, 3 * 8)));
    expect(() => KvBuffer.laidOut({ layers: 2, kvHeads: 3, headDim: 8 }, n, n - 1, () => undefined)).toThrow(RangeError);
  });

  it('overwriteRange replaces exactly one token range in every layer and head', () => {
    const target = layOutContiguous([cache(2, 2, 4, [0, 1, 2, 3, 4, 5], 5)], 2, 2, 4, 1e4);
    const before = target.slice(0, 6);
    const part = cache(2, 2, 4, [2, 3], 9);
    overwriteRange(target, 2, part);
    const mid = target.slice(2, 4);
    expect(Array.from(mid.layers[1].key)).toEqual(Array.from(part.layers[1].key));
    expect(Array.from(target.slice(0, 2).layers[1].value)).toEqual(Array.from(before.slice(0, 2).layers[1].value));
    expect(Array.from(target.slice(4, 6).layers[0].key)).toEqual(Array.from(before.slice(4, 6).layers[0].key));
    expect(() => overwriteRange(target, 3, part)).toThrow(/position/);
  });
});
