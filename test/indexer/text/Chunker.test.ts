import { readFileSync } from 'node:fs';
import path from 'node:path';
import { chunkDocument, contentHash, HeuristicTokenCounter, type ChunkDraft } from '../../../indexer/text/Chunker.js';
import { splitSentences } from '../../../indexer/text/SentenceSplitter.js';

const counter = new HeuristicTokenCounter();
const ESSAY = readFileSync(path.resolve(process.cwd(), '../shared/data/pg-essays/addiction.txt'), 'utf8');

function checkInvariants(text: string, chunks: ChunkDraft[], target: number, max: number): void {
  let prevEnd = 0;
  chunks.forEach((c, i) => {
    expect(c.index).toBe(i);
    expect(text.slice(c.start, c.end)).toBe(c.text);
    expect(c.start).toBeGreaterThanOrEqual(prevEnd);
    expect(c.sentences[0].start).toBe(c.start);
    expect(c.sentences[c.sentences.length - 1].end).toBe(c.end);
    expect(c.tokenCount).toBe(counter.count(c.text));
    expect(c.tokenCount).toBeLessThanOrEqual(max);
    // Over target only when a single sentence (or sentence piece) is itself over target.
    if (c.sentences.length > 1) expect(c.tokenCount).toBeLessThanOrEqual(target);
    expect(c.contentHash).toBe(contentHash(c.text));
    prevEnd = c.end;
  });
}

describe('HeuristicTokenCounter', () => {
  test('words, long words, digit groups and punctuation on hand-counted text', () => {
    expect(counter.count('Hello, world!')).toBe(4);
    expect(counter.count('internationalization')).toBe(4); // 20 letters -> ceil(20 / 6)
    expect(counter.count('12345')).toBe(2); // digits in groups of three
    expect(counter.count("It's 3.5 km.")).toBe(6); // It's / 3 / . / 5 / km / .
    expect(counter.count('   ')).toBe(0);
  });

  test('about four characters per token on English prose', () => {
    const ratio = ESSAY.length / counter.count(ESSAY);
    expect(ratio).toBeGreaterThan(3.6);
    expect(ratio).toBeLessThan(4.6);
  });
});

describe('chunkDocument', () => {
  test('chunks are whole sentences with exact offsets, within the token target', () => {
    const chunks = chunkDocument(ESSAY, { targetTokens: 120, maxTokens: 240 }, counter);
    checkInvariants(ESSAY, chunks, 120, 240);
    // Nothing is lost or split: the chunks' sentences are exactly the document's sentences.
    expect(chunks.flatMap((c) => c.sentences)).toEqual(splitSentences(ESSAY));
    // Greedy packing: adding the next chunk's first sentence would have broken the target.
    for (let i = 0; i + 1 < chunks.length; i++) {
      const joined = ESSAY.slice(chunks[i].start, chunks[i + 1].sentences[0].end);
      expect(counter.count(joined)).toBeGreaterThan(120);
    }
    expect(chunks.length).toBeGreaterThan(5);
  });

  test('a sentence longer than maxTokens is split at word boundaries', () => {
    const long = Array.from({ length: 300 }, (_, i) => `word${i}`).join(' ');
    const text = `Short start. ${long}. Short end.`;
    const chunks = chunkDocument(text, { targetTokens: 20, maxTokens: 40 }, counter);
    checkInvariants(text, chunks, 20, 40);
    const covered = chunks.flatMap((c) => c.sentences).map((s) => text.slice(s.start, s.end));
    expect(covered.join(' ')).toBe(text); // single spaces only, so rejoining restores it
    for (const c of chunks) {
      for (const s of c.sentences) {
        expect(s.start === 0 || /\s/.test(text[s.start - 1])).toBe(true);
        expect(s.end === text.length || /\s/.test(text[s.end])).toBe(true);
      }
    }
  });

  test('a single word longer than maxTokens is cut by characters as a last resort', () => {
    const text = 'x'.repeat(500);
    const chunks = chunkDocument(text, { targetTokens: 10 }, counter);
    checkInvariants(text, chunks, 10, 20);
    expect(chunks.map((c) => c.text).join('')).toBe(text);
  });

  test('hashes are sha256 of the text, stable across runs, and change only where text changes', () => {
    expect(contentHash('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    const a = chunkDocument(ESSAY, { targetTokens: 100 }, counter);
    const b = chunkDocument(ESSAY, { targetTokens: 100 }, counter);
    expect(b.map((c) => c.contentHash)).toEqual(a.map((c) => c.contentHash));
    const last = a[a.length - 1];
    const edited = `${ESSAY.slice(0, last.start)}${last.text.replace(/[a-z]/, 'Q')}${ESSAY.slice(last.end)}`;
    const c = chunkDocument(edited, { targetTokens: 100 }, counter);
    expect(c.slice(0, -1).map((x) => x.contentHash)).toEqual(a.slice(0, -1).map((x) => x.contentHash));
    expect(c[c.length - 1].contentHash).not.toBe(last.contentHash);
  });

  test('empty text has no chunks; bad options are rejected', () => {
    expect(chunkDocument('  \n ', { targetTokens: 50 }, counter)).toEqual([]);
    expect(() => chunkDocument('a', { targetTokens: 50, maxTokens: 10 }, counter)).toThrow(RangeError);
  });
});
