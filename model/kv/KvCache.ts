import { float32ToHalf, halfToFloat32 } from './half.js';
import { ropeInverseFrequencies, rotateHeadByTable, rotationTable } from './rope.js';

/** One layer's cached keys and values, each [kvHeads, length, headDim] (batch 1). */
export interface LayerKv {
  readonly key: Float32Array;
  readonly value: Float32Array;
}

/**
 * A layer kept in the fp16 form an fp16-KV graph returned it in: fed back to that graph as is (no re-encoding per
 * decode step), decoded to float32 only when something reads it (re-encoding, selection, the disk tier).
 */
export class HalfLayerKv implements LayerKv {
  private k: Float32Array | null = null;
  private v: Float32Array | null = null;

  constructor(
    readonly keyHalf: Uint16Array,
    readonly valueHalf: Uint16Array,
  ) {}

  get key(): Float32Array {
    return (this.k ??= halfToFloat32(this.keyHalf));
  }

  get value(): Float32Array {
    return (this.v ??= halfToFloat32(this.valueHalf));
  }
}

const layerLength = (l: LayerKv): [number, number] => (l instanceof HalfLayerKv ? [l.keyHalf.length, l.valueHalf.length] : [l.key.length, l.value.length]);

/** fp16 form of a cache, for the disk tier. */
export interface HalfKv {
  kvHeads: number;
  headDim: number;
  positions: Int32Array;
  layers: { key: Uint16Array; value: Uint16Array }[];
}

/** How to re-encode positions: shift all by `delta`, or lay the tokens out contiguously from `start`. */
export type ReencodeTarget = { delta: number } | { start: number };

/**
 * Batch-1 KV cache: per layer key/value in [kvHeads, length, headDim] (the ORT tensor layout minus batch),
 * plus the absolute position each token's key was rotated for. Immutable: every operation returns a new cache.
 */
export class KvCache {
  constructor(
    readonly layers: LayerKv[],
    readonly kvHeads: number,
    readonly headDim: number,
    /** Position each cached token was computed at (its RoPE angle). */
    readonly positions: Int32Array,
  ) {
    const expected = kvHeads * positions.length * headDim;
    for (const [i, l] of layers.entries()) {
      const [k, v] = layerLength(l);
      if (k !== expected || v !== expected) throw new Error(`layer ${i}: key/value length ${k}/${v}, expected ${expected} (${kvHeads}x${positions.length}x${headDim})`);
    }
  }

  static empty(layerCount: number, kvHeads: number, headDim: number): KvCache {
    return new KvCache(
      Array.from({ length: layerCount }, () => ({ key: new Float32Array(0), value: new Float32Array(0) })),
      kvHeads,
      headDim,
      new Int32Array(0),
    );
  }

  get length(): number {
    return this.positions.length;
  }

  get layerCount(): number {
    return this.layers.length;
  }

  /** Bytes of key+value data in fp32. */
  get byteLength(): number {
    return this.layers.length * 2 * this.kvHeads * this.length * this.headDim * 4;
  }

  /** Tokens [start, end). */
  slice(start: number, end: number = this.length): KvCache {
    const s = Math.max(0, Math.min(start, this.length));
    const e = Math.max(s, Math.min(end, this.length));
    return this.select(Array.from({ length: e - s }, (_, i) => s + i));
  }

  /** Keeps the given token indices, in the given order (drops the others). */
  select(indices: ArrayLike<number>): KvCache {
    const n = indices.length;
    const len = this.length;
    const D = this.headDim;
    for (let i = 0; i < n; i++) {
      if (!Number.isInteger(indices[i]) || indices[i] < 0 || indices[i] >= len) throw new RangeError(`token index ${indices[i]} outside [0, ${len})`);
    }
    // Kept tokens come in runs (whole sentences, whole blocks): one copy per run and head, not one per token.
    const runs: { from: number; count: number; to: number }[] = [];
    for (let i = 0; i < n; ) {
      let j = i + 1;
      while (j < n && indices[j] === indices[j - 1] + 1) j++;
      runs.push({ from: indices[i], count: j - i, to: i });
      i = j;
    }
    const pick = (src: Float32Array): Float32Array => {
      const out = new Float32Array(this.kvHeads * n * D);
      for (let h = 0; h < this.kvHeads; h++) {
        for (const r of runs) out.set(src.subarray((h * len + r.from) * D, (h * len + r.from + r.count) * D), (h * n + r.to) * D);
      }
      return out;
    };
    const positions = Int32Array.from({ length: n }, (_, i) => this.positions[indices[i]]);
    return new KvCache(
      this.layers.map((l) => ({ key: pick(l.key), value: pick(l.value) })),
      this.kvHeads,
      this.headDim,
      positions,
    );
  }

  /**
   * The given tokens of each cache (all of a cache with null), one cache after another, copied straight into the
   * output in runs of consecutive tokens: select + concat in one copy.
   */
  static concatSelected(parts: { cache: KvCache; indices: ArrayLike<number> | null }[], alloc: (n: number) => Float32Array = (n) => new Float32Array(n)): KvCache {
    if (parts.length === 0) throw new Error('KvCache.concatSelected needs at least one cache');
    const first = parts[0]!.cache;
    const runsOf = (c: KvCache, indices: ArrayLike<number> | null): { from: number; count: number }[] => {
      if (indices === null) return c.length > 0 ? [{ from: 0, count: c.length }] : [];
      const runs: { from: number; count: number }[] = [];
      for (let i = 0; i < indices.length; ) {
        if (!Number.isInteger(indices[i]) || indices[i] < 0 || indices[i] >= c.length) throw new RangeError(`token index ${indices[i]} outside [0, ${c.length})`);
        let j = i + 1;
        while (j < indices.length && indices[j] === indices[j - 1] + 1 && indices[j] < c.length) j++;
        runs.push({ from: indices[i], count: j - i });
        i = j;
      }
      return runs;
    };
    const plan = parts.map((p) => {
      if (p.cache.layerCount !== first.layerCount || p.cache.kvHeads !== first.kvHeads || p.cache.headDim !== first.headDim) throw new Error('KvCache.concatSelected: shape mismatch');
      return { cache: p.cache, runs: runsOf(p.cache, p.indices) };
    });
    const total = plan.reduce((n, p) => n + p.runs.reduce((m, r) => m + r.count, 0), 0);
    const D = first.headDim;
    const H = first.kvHeads;
    const join = (get: (c: KvCache) => Float32Array): Float32Array => {
      const out = alloc(H * total * D);
      for (let h = 0; h < H; h++) {
        let at = h * total * D;
        for (const { cache, runs } of plan) {
          const src = get(cache);
          const L = cache.length;
          for (const r of runs) {
            out.set(src.subarray((h * L + r.from) * D, (h * L + r.from + r.count) * D), at);
            at += r.count * D;
          }
        }
      }
      return out;
    };
    const positions = new Int32Array(total);
    let k = 0;
    for (const { cache, runs } of plan) for (const r of runs) for (let t = 0; t < r.count; t++) positions[k++] = cache.positions[r.from + t];
    return new KvCache(
      first.layers.map((_, li) => ({ key: join((c) => c.layers[li].key), value: join((c) => c.layers[li].value) })),
      H,
      D,
      positions,
    );
  }

  /** Token-axis concatenation of caches of the same model (`alloc`: where the output arrays come from). */
  static concat(parts: KvCache[], alloc: (n: number) => Float32Array = (n) => new Float32Array(n)): KvCache {
    if (parts.length === 0) throw new Error('KvCache.concat needs at least one cache');
    const [first] = parts;
    for (const p of parts) {
      if (p.layerCount !== first.layerCount || p.kvHeads !== first.kvHeads || p.headDim !== first.headDim) {
        throw new Error(`KvCache.concat: shape mismatch (${p.layerCount}x${p.kvHeads}x${p.headDim} vs ${first.layerCount}x${first.kvHeads}x${first.headDim})`);
      }
    }
    const D = first.headDim;
    const total = parts.reduce((n, p) => n + p.length, 0);
    const join = (get: (p: KvCache) => Float32Array): Float32Array => {
      const out = alloc(first.kvHeads * total * D);
      for (let h = 0; h < first.kvHeads; h++) {
        let at = h * total * D;
        for (const p of parts) {
          const src = get(p).subarray(h * p.length * D, (h + 1) * p.length * D);
          out.set(src, at);
          at += src.length;
        }
      }
      return out;
    };
    const positions = new Int32Array(total);
    let off = 0;
    for (const p of parts) {
      positions.set(p.positions, off);
      off += p.length;
    }
    return new KvCache(
      first.layers.map((_, li) => ({ key: join((p) => p.layers[li].key), value: join((p) => p.layers[li].value) })),
      first.kvHeads,
      first.headDim,
      positions,
    );
  }

  /**
   * Moves the cached tokens to new positions by rotating keys by each token's position delta (values are
   * position-free). `{delta}` shifts every token; `{start}` lays them out contiguously from start (after `select`).
   */
  reencode(target: ReencodeTarget, ropeTheta: number): KvCache {
    const newPositions =
      'delta' in target
        ? Int32Array.from(this.positions, (p) => p + target.delta)
        : Int32Array.from({ length: this.length }, (_, i) => target.start + i);
    return this.reencodeTo(newPositions, ropeTheta);
  }

  /** Re-encodes token i to `positions[i]`. */
  reencodeTo(positions: ArrayLike<number>, ropeTheta: number): KvCache {
    if (positions.length !== this.length) throw new Error(`reencodeTo: ${positions.length} positions for ${this.length} tokens`);
    const deltas = Float64Array.from({ length: this.length }, (_, i) => positions[i] - this.positions[i]);
    const table = rotationTable(deltas, ropeInverseFrequencies(this.headDim, ropeTheta));
    const layers = this.layers.map((l) => {
      const key = l.key.slice();
      for (let h = 0; h < this.kvHeads; h++) rotateHeadByTable(key, h * this.length * this.headDim, this.length, table);
      return { key, value: l.value };
    });
    return new KvCache(layers, this.kvHeads, this.headDim, Int32Array.from(positions));
  }

  toFp16(): HalfKv {
    return {
      kvHeads: this.kvHeads,
      headDim: this.headDim,
      positions: this.positions.slice(),
      // Layers the graph returned in fp16 are stored as they came (float32ToHalf(halfToFloat32(h)) === h).
      layers: this.layers.map((l) =>
        l instanceof HalfLayerKv ? { key: l.keyHalf.slice(), value: l.valueHalf.slice() } : { key: float32ToHalf(l.key), value: float32ToHalf(l.value) },
      ),
    };
  }

  static fromFp16(h: HalfKv): KvCache {
    return new KvCache(
      h.layers.map((l) => ({ key: halfToFloat32(l.key), value: halfToFloat32(l.value) })),
      h.kvHeads,
      h.headDim,
      h.positions.slice(),
    );
  }
}
