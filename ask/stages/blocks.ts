import type { BlockAttentionGenerator } from '../../generator/BlockAttentionGenerator.js';
import { filled, type Passage } from '../Passage.js';

/** Where the blocks' KV came from, counted once per ask: a hit is any block not computed for it. */
export interface CacheCounts {
  hits: number;
  misses: number;
  memoryHits: number;
  diskHits: number;
}

/** Stage `render`: each passage as a position-independent block (header + sentence-aligned tokens). */
export function render(generator: BlockAttentionGenerator, passages: readonly Passage[]): void {
  for (const p of passages) p.block = generator.render(p.chunk);
}

/**
 * Stage `fetchKv` (blocks mode): each block's KV from the content-addressed block store, computed and stored on a
 * miss. Returns the cache counts and how many blocks had to be computed (one model pass each).
 */
export async function fetchKv(generator: BlockAttentionGenerator, passages: readonly Passage[]): Promise<CacheCounts> {
  const cache: CacheCounts = { hits: 0, misses: 0, memoryHits: 0, diskHits: 0 };
  // All lookups start together so disk reads overlap; computes on a miss still run one at a time.
  const kvs = await generator.blockKvs(passages.map((p) => filled(p.block, 'block', p)));
  passages.forEach((p, i) => {
    p.kv = kvs[i];
    if (p.kv.source === 'computed') cache.misses++;
    else {
      cache.hits++;
      if (p.kv.source === 'memory') cache.memoryHits++;
      if (p.kv.source === 'disk') cache.diskHits++;
    }
  });
  return cache;
}
