import fs from 'node:fs';
import path from 'node:path';
import { HeuristicTokenCounter } from '../../indexer/text/TokenCounter.js';
import { splitSentences } from '../../indexer/text/SentenceSplitter.js';
import type { EvalAsk } from '../../eval/askOutcome.js';
import { buildHaystack, DEFAULT_NEEDLE, highAttentionSlots, insertNeedle, loadEssays, niahCases, scoreNiah, summarizeNiah } from '../../eval/niah.js';
import { sharedFile } from '../support/processes.js';

const essays = loadEssays(path.dirname(sharedFile('pg-essays/addiction.txt')));
const counter = new HeuristicTokenCounter();

describe('haystack and needle', () => {
  test('the essays are the filler, in file-name order, license excluded', () => {
    expect(essays.length).toBe(49);
    expect(essays).not.toContain(fs.readFileSync(sharedFile('pg-essays/LICENSE.repo.txt'), 'utf8').trim());
  });

  test('buildHaystack stops at a sentence boundary at or below the token target', () => {
    for (const tokens of [500, 3000]) {
      const h = buildHaystack(essays, tokens, counter);
      const total = splitSentences(h).reduce((s, x) => s + counter.count(h.slice(x.start, x.end)), 0);
      expect(total).toBeLessThanOrEqual(tokens);
      expect(total).toBeGreaterThan(tokens * 0.9);
      expect(h.startsWith(essays[0].slice(0, 100))).toBe(true);
      expect(/[.!?"')\]]$/.test(h)).toBe(true);
    }
    expect(() => buildHaystack(['One sentence.'], 100, counter)).toThrow(/fewer than/);
  });

  test('insertNeedle places the needle as its own sentence at the nearest boundary, leaving the filler intact', () => {
    const h = buildHaystack(essays, 2000, counter);
    const squash = (s: string) => s.replace(/\s+/g, ' ');
    for (const depth of [0, 0.25, 0.5, 0.75, 1]) {
      const d = insertNeedle(h, DEFAULT_NEEDLE.sentence, depth);
      expect(d.text.slice(d.start, d.end)).toBe(DEFAULT_NEEDLE.sentence);
      expect(squash(d.text.slice(0, d.start) + d.text.slice(d.end)).trim()).toBe(squash(h).trim());
      expect(Math.abs(d.depth - depth)).toBeLessThan(0.05);
      expect(splitSentences(d.text)).toContainEqual({ start: d.start, end: d.end });
    }
    expect(insertNeedle(h, 'N.', 0).start).toBe(0);
    const end = insertNeedle(h, 'N.', 1);
    expect(end.end).toBe(end.text.length);
    expect(() => insertNeedle(h, 'N.', 1.5)).toThrow(RangeError);
  });

  test('one collection per (size, depth)', () => {
    const cases = niahCases(essays, [300, 600], [0, 50, 100], DEFAULT_NEEDLE, 'nh');
    expect(cases.map((c) => c.collection)).toEqual(['nh-300-0', 'nh-300-50', 'nh-300-100', 'nh-600-0', 'nh-600-50', 'nh-600-100']);
  });
});

describe('scoring a needle ask', () => {
  test('high-attention slots: basin profile top-2, else the zig-zag ends', () => {
    expect(highAttentionSlots(5, null)).toEqual({ slots: [0, 4], rule: 'zigzag' });
    expect(highAttentionSlots(5, [0.1, 0.3, 0.05, 0.4, 0.15])).toEqual({ slots: [3, 1], rule: 'basin-profile' });
    expect(highAttentionSlots(3, [0.5, 0.5])).toEqual({ slots: [0, 2], rule: 'zigzag' }); // profile for another k
    expect(highAttentionSlots(1, null)).toEqual({ slots: [0], rule: 'zigzag' });
  });

  const doc = insertNeedle('First sentence here. Second one there. Third and last.', DEFAULT_NEEDLE.sentence, 0.5);
  const c = { tokens: 100, depthPercent: 50, collection: 'n-100-50', documentId: 'h', document: doc };
  const needleChunk = { documentId: 'h', chunkId: 'h#1', start: doc.start - 5, end: doc.end + 5 };
  const other = (i: number) => ({ documentId: 'h', chunkId: `h#x${i}`, start: 0, end: 10 });

  test('retrieved, kept, placed in a high-attention slot (slots from the passages trace)', () => {
    const ask: EvalAsk = {
      hits: [other(1), needleChunk, other(2)],
      outcome: {
        answer: 'tangerine falcon',
        citations: [other(1), needleChunk, other(2)],
        kept: [{ ...needleChunk, start: doc.start, end: doc.end, score: 1 }],
        compression: { method: 'raw', keptTokens: 20, totalTokens: 80, ratio: 0.25 },
        order: { method: 'zigzag' },
        timings: {},
        passages: [
          { chunkId: 'h#x1', slot: 2 },
          { chunkId: 'h#1', slot: 0 },
          { chunkId: 'h#x2', slot: 1 },
        ],
      },
    };
    const r = scoreNiah(c, DEFAULT_NEEDLE, ask);
    expect(r).toMatchObject({ retrieved: true, retrievedRank: 2, kept: true, slot: 0, slots: 3, highAttentionSlot: true, slotRule: 'zigzag', keptFraction: 0.25, f1: 1 });
  });

  test('a needle chunk in the middle slot, or dropped by compression, or not retrieved', () => {
    const middle = scoreNiah(c, DEFAULT_NEEDLE, {
      hits: [needleChunk, other(1), other(2)],
      outcome: { answer: 'no', citations: [], timings: {}, kept: [{ ...other(1), score: 1 }, { ...needleChunk, start: doc.start, end: doc.end - 1, score: 1 }], passages: [{ chunkId: 'h#x1', slot: 0 }, { chunkId: 'h#1', slot: 1 }, { chunkId: 'h#x2', slot: 2 }] },
    });
    expect(middle).toMatchObject({ retrieved: true, retrievedRank: 1, kept: false, slot: 1, highAttentionSlot: false, f1: 0 });
    const missing = scoreNiah(c, DEFAULT_NEEDLE, { hits: [other(1)], outcome: { answer: '', citations: [other(1)], timings: {} } });
    expect(missing).toMatchObject({ retrieved: false, retrievedRank: null, kept: false, slot: null, highAttentionSlot: false });
    expect(summarizeNiah([middle, missing])).toEqual({ cases: 2, retrieved: 1, kept: 0, highAttention: 0 });
  });
});
