import type { ProfileKey, BasinProfile } from '../../reranker/BasinProfile.js';
import { reorder } from '../../reranker/Reorderer.js';
import type { OrderMethod } from '../AskRequest.js';
import { filled, type Passage } from '../Passage.js';

export interface OrderInfo {
  /** The order applied (`zigzag` when `basin` fell back). */
  method: OrderMethod;
  profile?: number[];
  fallback?: string;
}

export interface ProfileSource {
  load(key: ProfileKey): BasinProfile | null;
}

/**
 * Stage `order`: the slot of every passage. Relevance is the kept score mass after compression, else the retrieval
 * rank. `zigzag` puts the most relevant first, the second last, ...; `basin` puts the r-th most relevant into the
 * r-th highest-attention slot of the calibrated profile for this setup (zig-zag, said so, when none is calibrated).
 * A passage that kept no sentence would only contribute its label: it gets no slot.
 */
export function order(
  passages: readonly Passage[],
  method: OrderMethod,
  basin: { profiles: ProfileSource; key: Omit<ProfileKey, 'k'> },
): OrderInfo {
  const k = passages.length;
  const byRank = [...passages].sort((a, b) => a.rank - b.rank);
  const kept = byRank.map((p) => filled(p.kept, 'kept', p));
  const relevance = kept.every((x) => x.mass !== null) ? kept.map((x) => x.mass as number) : byRank.map((p) => k - p.rank);
  let info: OrderInfo = { method };
  let slots = byRank;
  if (method === 'zigzag') slots = reorder(byRank, relevance, null);
  else if (method === 'basin') {
    const profile = basin.profiles.load({ ...basin.key, k });
    if (profile) {
      slots = reorder(byRank, relevance, profile.values);
      info = { method: 'basin', profile: profile.values };
    } else {
      slots = reorder(byRank, relevance, null);
      info = { method: 'zigzag', fallback: `no basin profile calibrated for k=${k} (run \`rag calibrate --k ${k}\`); used the zig-zag order` };
    }
  }
  let next = 0;
  for (const p of slots) p.slot = filled(p.kept, 'kept', p).sentences.length > 0 ? next++ : null;
  return info;
}
