import { KvArena } from '../../../model/kv/KvArena.js';

describe('KvArena', () => {
  it('lends back a given buffer (as a view of the length asked, the smallest that fits) and holds at most its limit', () => {
    const arena = new KvArena(4096 * 4);
    const a = arena.take(1000);
    expect(a.length).toBe(1000);
    a.fill(7);
    arena.give([a]);
    expect(arena.heldBytes).toBe(4000);
    const b = arena.take(600);
    expect(b.buffer).toBe(a.buffer);
    expect(b.length).toBe(600);
    expect(arena.heldBytes).toBe(0);
    // Given back whole: the next take of 1000 reuses the full backing store.
    arena.give([b]);
    expect(arena.take(1000).buffer).toBe(a.buffer);
    arena.give([a]);
    // Too small: a fresh buffer; of two that fit, the smaller.
    expect(arena.take(1001).buffer).not.toBe(a.buffer);
    const big = new Float32Array(3000);
    arena.give([big]);
    expect(arena.take(400).buffer).toBe(a.buffer);
    expect(arena.take(400).buffer).toBe(big.buffer);
    arena.give([a]);
    // Over the limit: left to the collector; the same buffer is never held twice.
    arena.give([new Float32Array(4000)]);
    expect(arena.heldBytes).toBe(4000);
    arena.give([a]);
    expect(arena.heldBytes).toBe(4000);
  });
});
