/**
 * AttnRank placement: the r-th most relevant block goes to the r-th highest-attention slot.
 *
 * Relevance ranks: blocks sorted by descending relevance, ties by their input index. Slot ranks: slots
 * sorted by descending profile value, ties by lower slot index (earlier position first).
 */

/** Block indices by descending relevance (stable on ties). */
export function relevanceOrder(relevance: readonly number[]): number[] {
  return relevance.map((_, i) => i).sort((a, b) => relevance[b] - relevance[a] || a - b);
}

/** Slot indices by descending profile value (stable on ties). */
export function slotOrder(profile: readonly number[]): number[] {
  return profile.map((_, i) => i).sort((a, b) => profile[b] - profile[a] || a - b);
}

/**
 * The fixed "lost in the middle" order for k slots, as the slot given to each relevance rank: rank 0 -> slot
 * 0 (first), rank 1 -> slot k-1 (last), rank 2 -> slot 1, rank 3 -> slot k-2, ...; i.e. an even rank r takes
 * slot r/2 and an odd rank r takes slot k-1-(r-1)/2. The least relevant block lands in the middle
 * (slot floor((k-1)/2) for odd k, slot k/2 for even k).
 */
export function zigzagSlots(k: number): number[] {
  if (!Number.isInteger(k) || k < 0) throw new RangeError(`zigzag: k must be a non-negative integer (got ${k})`);
  return Array.from({ length: k }, (_, r) => (r % 2 === 0 ? r / 2 : k - 1 - (r - 1) / 2));
}

/**
 * Arranges items into slots. With a profile (length k, one value per slot) the r-th most relevant item goes
 * into the r-th highest slot; without one, into the zig-zag slot of rank r. Returns the items in slot order.
 */
export function reorder<T>(items: readonly T[], relevance: readonly number[], profile?: readonly number[] | null): T[] {
  const k = items.length;
  if (relevance.length !== k) throw new Error(`reorder: ${relevance.length} relevance values for ${k} items`);
  if (profile && profile.length !== k) throw new Error(`reorder: profile has ${profile.length} slots for ${k} items`);
  const ranked = relevanceOrder(relevance);
  const slotOfRank = profile ? slotOrder(profile) : zigzagSlots(k);
  const out = new Array<T>(k);
  ranked.forEach((item, r) => (out[slotOfRank[r]] = items[item]));
  return out;
}
