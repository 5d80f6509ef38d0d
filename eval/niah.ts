import fs from 'node:fs';
import path from 'node:path';
import { HeuristicTokenCounter, type TokenCounter } from '../indexer/text/TokenCounter.js';
import { splitSentences } from '../indexer/text/SentenceSplitter.js';
import { slotOrder } from '../reranker/Reorderer.js';
import { contextSpans, placedChunks, compressionRatio, type Asker, type EvalAskRequest } from './askOutcome.js';
import { answerRetained, squadScores } from './metrics.js';

/**
 * Needle in a haystack over the retrieval pipeline: a unique sentence is inserted at a relative depth into
 * filler text of a given size; the haystack is ingested as one document and the needle's question asked. We
 * check the three places the needle can be lost: retrieval (is its chunk in the top k), compression (is its
 * sentence kept) and placement (does its block sit in a high-attention slot).
 */
export interface Needle {
  sentence: string;
  question: string;
  answer: string;
}

// Nothing in the essays is about this, so only the needle's chunk can match the question lexically.
export const DEFAULT_NEEDLE: Needle = {
  sentence: 'The secret password for the Alderbrook lighthouse archive is tangerine falcon.',
  question: 'What is the secret password for the Alderbrook lighthouse archive?',
  answer: 'tangerine falcon',
};

/** The filler essays (`*.txt`, license files excepted) in file-name order. */
export function loadEssays(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.txt') && !f.startsWith('LICENSE'))
    .sort()
    .map((f) => fs.readFileSync(path.join(dir, f), 'utf8').trim());
}

/** Whole sentences of the essays, in order, up to `tokens` (by the counter); essays are separated by a blank line. */
export function buildHaystack(essays: readonly string[], tokens: number, counter: TokenCounter = new HeuristicTokenCounter()): string {
  const parts: string[] = [];
  let total = 0;
  for (const essay of essays) {
    for (const s of splitSentences(essay)) {
      const n = counter.count(essay.slice(s.start, s.end));
      if (total + n > tokens && total > 0) {
        // The essay's own whitespace between sentences is kept, so paragraph breaks stay paragraph breaks.
        parts.push(essay.slice(0, s.start).trimEnd());
        return parts.filter(Boolean).join('\n\n');
      }
      total += n;
    }
    parts.push(essay);
  }
  throw new Error(`the essays hold ${total} tokens, fewer than the ${tokens} asked for`);
}

export interface NeedleDocument {
  text: string;
  /** The needle's span in `text`. */
  start: number;
  end: number;
  /** Depth actually used: the needle's start as a fraction of the haystack length. */
  depth: number;
}

/**
 * Inserts the needle between two sentences, at the sentence boundary nearest to `depth` (0 = before the first
 * sentence, 1 = after the last), as a paragraph of its own.
 */
export function insertNeedle(haystack: string, needle: string, depth: number): NeedleDocument {
  if (!(depth >= 0 && depth <= 1)) throw new RangeError(`needle depth must be in [0, 1] (got ${depth})`);
  const sentences = splitSentences(haystack);
  const boundaries = [0, ...sentences.slice(1).map((s) => s.start), haystack.length];
  const target = depth * haystack.length;
  const at = boundaries.reduce((best, b) => (Math.abs(b - target) < Math.abs(best - target) ? b : best), boundaries[0]);
  const before = haystack.slice(0, at).trimEnd();
  const after = haystack.slice(at).trimStart();
  const lead = before ? `${before}\n\n` : '';
  const text = `${lead}${needle}${after ? `\n\n${after}` : ''}`;
  return { text, start: lead.length, end: lead.length + needle.length, depth: text.length ? lead.length / text.length : 0 };
}

export interface NiahCase {
  tokens: number;
  depthPercent: number;
  collection: string;
  documentId: string;
  document: NeedleDocument;
}

export interface NiahResult {
  tokens: number;
  depthPercent: number;
  /** Rank (1-based) of the needle's chunk among the retrieved chunks, null when not retrieved. */
  retrievedRank: number | null;
  retrieved: boolean;
  kept: boolean;
  /** Slot (0-based) of the needle's block in the prompt, null when it was not placed. */
  slot: number | null;
  slots: number;
  highAttentionSlot: boolean;
  /** How the high-attention slots were decided: the response's basin profile, or the zig-zag ends. */
  slotRule: 'basin-profile' | 'zigzag';
  keptFraction: number;
  answer: string;
  f1: number;
}

/**
 * Top-2 slots of a placement of `n` blocks: by the basin profile when the service used one (and it fits n),
 * otherwise the zig-zag order's first two ranks (first and last slot).
 */
export function highAttentionSlots(n: number, profile: readonly number[] | null | undefined): { slots: number[]; rule: NiahResult['slotRule'] } {
  if (profile && profile.length === n) return { slots: slotOrder(profile).slice(0, 2), rule: 'basin-profile' };
  return { slots: n <= 1 ? [0] : [0, n - 1], rule: 'zigzag' };
}

export function scoreNiah(c: NiahCase, needle: Needle, ask: Awaited<ReturnType<Asker>>): NiahResult {
  const holds = (h: { documentId: string; start: number; end: number }): boolean =>
    h.documentId === c.documentId && h.start <= c.document.start && h.end >= c.document.end;
  const rankIndex = ask.hits.findIndex(holds);
  const needleChunk = rankIndex >= 0 ? ask.hits[rankIndex].chunkId : null;
  const placed = placedChunks(ask);
  const slot = needleChunk === null ? -1 : placed.indexOf(needleChunk);
  const high = highAttentionSlots(placed.length, ask.outcome.order?.profile);
  return {
    tokens: c.tokens,
    depthPercent: c.depthPercent,
    retrievedRank: rankIndex >= 0 ? rankIndex + 1 : null,
    retrieved: rankIndex >= 0,
    kept: answerRetained(contextSpans(ask), c.documentId, [{ start: c.document.start, end: c.document.end }]),
    slot: slot >= 0 ? slot : null,
    slots: placed.length,
    highAttentionSlot: slot >= 0 && high.slots.includes(slot),
    slotRule: high.rule,
    keptFraction: compressionRatio(ask),
    answer: ask.outcome.answer,
    f1: squadScores(ask.outcome.answer, [needle.answer]).f1,
  };
}

/** The grid of haystacks: one collection per (size, depth), so each question sees exactly one needle. */
export function niahCases(essays: readonly string[], sizes: readonly number[], depths: readonly number[], needle: Needle, prefix: string): NiahCase[] {
  return sizes.flatMap((tokens) => {
    const haystack = buildHaystack(essays, tokens);
    return depths.map((depthPercent) => ({
      tokens,
      depthPercent,
      collection: `${prefix}-${tokens}-${depthPercent}`,
      documentId: `haystack-${tokens}-${depthPercent}`,
      document: insertNeedle(haystack, needle.sentence, depthPercent / 100),
    }));
  });
}

export interface NiahSummary {
  cases: number;
  retrieved: number;
  kept: number;
  highAttention: number;
}

export function summarizeNiah(results: readonly NiahResult[]): NiahSummary {
  return {
    cases: results.length,
    retrieved: results.filter((r) => r.retrieved).length,
    kept: results.filter((r) => r.kept).length,
    highAttention: results.filter((r) => r.highAttentionSlot).length,
  };
}

export async function runNiah(ask: Asker, cases: readonly NiahCase[], needle: Needle, request: Omit<EvalAskRequest, 'question' | 'collection'>): Promise<NiahResult[]> {
  const out: NiahResult[] = [];
  for (const c of cases) out.push(scoreNiah(c, needle, await ask({ ...request, collection: c.collection, question: needle.question })));
  return out;
}
