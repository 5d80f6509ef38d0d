/**
 * Float32 buffers lent out and given back, for KV laid out only for the length of one session run (a question
 * pass's concatenated context). A fresh multi-megabyte typed array is fresh mmap'd memory: the first write faults
 * in every page, and on a busy machine that costs more than the copy itself (measured: 94 MB laid out in 300 ms
 * fresh, 25 ms into reused memory). Holds at most `maxBytes`; a taken buffer is a view of exactly the length asked, cut from the smallest free
 * one that fits.
 */
export class KvArena {
  private readonly free: Float32Array[] = [];
  private held = 0;

  constructor(private readonly maxBytes: number) {}

  /** A buffer of `n` floats, contents undefined (the caller writes every element). */
  take(n: number): Float32Array {
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const len = this.free[i]!.length;
      // The smallest that fits (a compressed context takes a fraction of a whole one's buffer, for one run).
      if (len >= n && (best < 0 || len < this.free[best]!.length)) best = i;
    }
    if (best < 0) return new Float32Array(n);
    const [buf] = this.free.splice(best, 1) as [Float32Array];
    this.held -= buf.byteLength;
    return buf.length === n ? buf : buf.subarray(0, n);
  }

  /** Gives buffers back (their whole backing store); beyond `maxBytes` they are left to the garbage collector. */
  give(buffers: Float32Array[]): void {
    for (const b of buffers) {
      const whole = new Float32Array(b.buffer, 0, b.buffer.byteLength / 4);
      if (whole.length === 0 || this.held + whole.byteLength > this.maxBytes || this.free.some((f) => f.buffer === whole.buffer)) continue;
      this.free.push(whole);
      this.held += whole.byteLength;
    }
  }

  get heldBytes(): number {
    return this.held;
  }
}
