import type { Redis } from 'ioredis';
import type { AskResponse } from '../../../services/ask/AskService.js';
import { RECENT_ASKS_KEY, RecentAsks } from '../../../services/admin/RecentAsks.js';
import { freshRedis } from '../../support/processes.js';

let redis: Redis;
beforeAll(async () => {
  ({ redis } = await freshRedis(8));
});
afterAll(() => redis?.disconnect());

function response(i: number): AskResponse {
  return {
    answer: `answer ${i}`,
    citations: [{ documentId: 'd', chunkId: 'c', start: 0, end: 10 }],
    kept: [],
    compression: { method: 'lexical', keptTokens: 5, totalTokens: 10, ratio: 0.5 },
    order: { method: 'retrieval' },
    mode: 'blocks',
    finishReason: 'length',
    timings: { retrieveMs: i, assembleMs: 1, compressMs: 1, questionPrefillMs: 1, firstTokenMs: 2, decodeMs: 3, totalMs: 10 + i },
    cache: { hits: 1, misses: 0, memoryHits: 1, diskHits: 0 },
    usage: { promptTokens: 10, completionTokens: 2 },
    passages: [{ documentId: 'd', chunkId: 'c', title: 't', start: 0, text: 'One. Two.', retrievalRank: 0, slot: 0, sentences: [{ start: 0, end: 4, kept: true, score: 0.9 }, { start: 5, end: 9, kept: false, score: null }] }],
  };
}

describe('RecentAsks', () => {
  it('keeps the newest entries up to its capacity, newest first, with everything the dashboard shows', async () => {
    const recent = new RecentAsks(redis, 3);
    for (let i = 0; i < 5; i++) await recent.record({ collection: 'c', question: `q${i}`, k: 3 }, response(i), new Date(Date.UTC(2026, 0, 1, 0, 0, i)));
    expect(await redis.llen(RECENT_ASKS_KEY)).toBe(3);
    expect(await recent.count()).toBe(3);
    const list = await recent.list();
    expect(list.map((a) => a.question)).toEqual(['q4', 'q3', 'q2']);
    expect(list[0]).toMatchObject({
      collection: 'c',
      k: 3,
      answer: 'answer 4',
      at: '2026-01-01T00:00:04.000Z',
      order: { method: 'retrieval' },
      timings: { retrieveMs: 4, totalMs: 14 },
      passages: [{ chunkId: 'c', sentences: [{ kept: true }, { kept: false }] }],
    });
    expect((await recent.list(1)).map((a) => a.question)).toEqual(['q4']);
    expect(await recent.get(list[1]!.id)).toEqual(list[1]);
    expect(await recent.get('nope')).toBeNull();
  });
});
