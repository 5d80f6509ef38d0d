import { float32ToHalf } from './half.js';
import { HalfLayerKv, KvCache } from './KvCache.js';

type Elements = Float32Array | Uint16Array;

/**
 * A decoding cache with room to grow: per layer key/value [kvHeads, capacity, headDim], the first `length` slots of
 * every head filled. Fed to the graph whole (the empty slots masked out), it takes each new token's KV into its
 * slot, a copy of one row per layer and head: nothing per decoded token grows with the tokens already generated
 * (before, every step copied the whole present KV out of the session and fed it back as the next past).
 */
export class KvBuffer {
  readonly layers: { key: Elements; value: Elements }[];
  readonly positions: Int32Array;
  private filled: number;

  private constructor(
    readonly kvHeads: number,
    readonly headDim: number,
    readonly capacity: number,
    readonly half: boolean,
    layerCount: number,
  ) {
    const make = (): Elements => (half ? new Uint16Array(kvHeads * capacity * headDim) : new Float32Array(kvHeads * capacity * headDim));
    this.layers = Array.from({ length: layerCount }, () => ({ key: make(), value: make() }));
    this.positions = new Int32Array(capacity);
    this.filled = 0;
  }

  /** `parts` one after another (one copy, once per answer), with room for `extra` more tokens. */
  static of(parts: readonly KvCache[], extra: number, half: boolean): KvBuffer {
    const [first] = parts;
    if (!first) throw new Error('KvBuffer.of needs at least one cache');
    const length = parts.reduce((n, p) => n + p.length, 0);
    const buf = new KvBuffer(first.kvHeads, first.headDim, length + Math.max(0, extra), half, first.layerCount);
    for (const p of parts) buf.append(p);
    return buf;
  }

  /**
   * An fp32 buffer of `capacity` tokens whose first `length` (at positions 0..length-1) `write` fills in place, given
   * each layer's arrays and the per-head stride: a context laid out straight into the buffer, not copied into it.
   */
  static laidOut(shape: { layers: number; kvHeads: number; headDim: number }, length: number, capacity: number, write: (layers: { key: Float32Array; value: Float32Array }[], stride: number) => void): KvBuffer {
    if (length > capacity) throw new RangeError(`KvBuffer: ${length} tokens exceed the capacity ${capacity}`);
    const buf = new KvBuffer(shape.kvHeads, shape.headDim, capacity, false, shape.layers);
    write(buf.layers as { key: Float32Array; value: Float32Array }[], capacity);
    for (let i = 0; i < length; i++) buf.positions[i] = i;
    buf.filled = length;
    return buf;
  }

  get length(): number {
    return this.filled;
  }

  /** Appends a cache's tokens (same model shape) into the next free slots. */
  append(part: KvCache): void {
    const n = part.length;
    if (n === 0) return;
    if (this.filled + n > this.capacity) throw new RangeError(`KvBuffer: ${this.filled} + ${n} tokens exceed the capacity ${this.capacity}`);
    if (part.layerCount !== this.layers.length || part.kvHeads !== this.kvHeads || part.headDim !== this.headDim) throw new Error('KvBuffer: cache shape does not match');
    const D = this.headDim;
    const at = this.filled;
    part.layers.forEach((l, i) => {
      const [key, value]: [Elements, Elements] = !this.half
        ? [l.key, l.value]
        : l instanceof HalfLayerKv
          ? [l.keyHalf, l.valueHalf]
          : [float32ToHalf(l.key), float32ToHalf(l.value)];
      const dst = this.layers[i]!;
      for (let h = 0; h < this.kvHeads; h++) {
        (dst.key as Float32Array).set(key.subarray(h * n * D, (h + 1) * n * D) as Float32Array, (h * this.capacity + at) * D);
        (dst.value as Float32Array).set(value.subarray(h * n * D, (h + 1) * n * D) as Float32Array, (h * this.capacity + at) * D);
      }
    });
    this.positions.set(part.positions, at);
    this.filled += n;
  }
}
