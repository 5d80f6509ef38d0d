import { reorder, relevanceOrder, slotOrder, zigzagSlots } from '../../reranker/Reorderer.js';

describe('reordering', () => {
  it('puts the r-th most relevant block into the r-th highest profile slot', () => {
    const items = ['a', 'b', 'c', 'd', 'e'];
    const relevance = [0.2, 0.9, 0.5, 0.1, 0.7]; // ranks: b, e, c, a, d
    const profile = [0.3, 0.1, 0.05, 0.15, 0.4]; // slots by value: 4, 0, 3, 1, 2
    expect(reorder(items, relevance, profile)).toEqual(['e', 'a', 'd', 'c', 'b']);
    // Property over random cases: slot of rank r is the r-th highest slot.
    let seed = 1;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let t = 0; t < 200; t++) {
      const k = 1 + (t % 9);
      const rel = Array.from({ length: k }, rand);
      const prof = Array.from({ length: k }, rand);
      const out = reorder(rel.map((_, i) => i), rel, prof);
      const ranks = relevanceOrder(rel);
      const slots = slotOrder(prof);
      ranks.forEach((item, r) => expect(out[slots[r]]).toBe(item));
      expect([...out].sort((a, b) => a - b)).toEqual(rel.map((_, i) => i));
    }
  });

  it('zig-zag without a profile: first, last, second, second-to-last, ... (odd and even k)', () => {
    expect(zigzagSlots(1)).toEqual([0]);
    expect(zigzagSlots(2)).toEqual([0, 1]);
    expect(zigzagSlots(5)).toEqual([0, 4, 1, 3, 2]);
    expect(zigzagSlots(6)).toEqual([0, 5, 1, 4, 2, 3]);
    // Ranked items 1 (most relevant) .. k: the least relevant end up in the middle.
    expect(reorder([1, 2, 3, 4, 5], [5, 4, 3, 2, 1])).toEqual([1, 3, 5, 4, 2]);
    expect(reorder([1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1])).toEqual([1, 3, 5, 6, 4, 2]);
    // Relevance, not input order, decides.
    expect(reorder(['x', 'y', 'z', 'w'], [0.1, 0.3, 0.9, 0.2])).toEqual(['z', 'w', 'x', 'y']);
    for (const k of [7, 8]) expect([...zigzagSlots(k)].sort((a, b) => a - b)).toEqual(Array.from({ length: k }, (_, i) => i));
  });

  it('ties keep input order and profile ties prefer earlier slots', () => {
    expect(reorder(['a', 'b', 'c'], [1, 1, 1], [0.2, 0.4, 0.4])).toEqual(['c', 'a', 'b']);
    expect(() => reorder(['a', 'b'], [1, 2], [1])).toThrow(/profile has 1 slots for 2 items/);
  });
});
