import type { Asker, CompressionOption, EvalAsk, EvalAskRequest, ModeOption, OrderOption } from './askOutcome.js';
import { contextSpans } from './askOutcome.js';
import { answerRetained } from './metrics.js';
import { runNiah, type NiahCase, type Needle } from './niah.js';
import { answersFact, type StationFact } from './stationFacts.js';
import { fmt, textTable } from './table.js';

/**
 * Exact answers of the `induction` test model in every way the pipeline can assemble a context. The model answers
 * right only if the fact's tokens reach it intact, so a miss is a fact lost on the way: not retrieved, dropped by
 * compression, or cut (a cached block or a recomputed head that broke the fact's window).
 */
export interface FactSetting {
  label: string;
  mode: ModeOption;
  compression: CompressionOption;
  keepRatio?: number;
  order: OrderOption;
  recomputeHead?: number;
}

export const FACT_SETTINGS: readonly FactSetting[] = [
  { label: 'full', mode: 'full', compression: 'none', order: 'retrieval' },
  { label: 'blocks', mode: 'blocks', compression: 'none', order: 'retrieval' },
  { label: 'blocks + head recompute 4', mode: 'blocks', compression: 'none', order: 'retrieval', recomputeHead: 4 },
  { label: 'blocks, raw keep 0.3', mode: 'blocks', compression: 'raw', keepRatio: 0.3, order: 'retrieval' },
  { label: 'blocks, raw keep 0.5', mode: 'blocks', compression: 'raw', keepRatio: 0.5, order: 'retrieval' },
  { label: 'blocks, probe keep 0.3', mode: 'blocks', compression: 'probe', keepRatio: 0.3, order: 'retrieval' },
  { label: 'blocks, probe keep 0.5', mode: 'blocks', compression: 'probe', keepRatio: 0.5, order: 'retrieval' },
  { label: 'blocks, zigzag order', mode: 'blocks', compression: 'none', order: 'zigzag' },
  { label: 'blocks, basin order', mode: 'blocks', compression: 'none', order: 'basin' },
  // Full mode compresses in text space (kept sentences re-rendered and prefilled) and places blocks by the full-mode profile.
  { label: 'full, raw keep 0.3', mode: 'full', compression: 'raw', keepRatio: 0.3, order: 'retrieval' },
  { label: 'full, zigzag order', mode: 'full', compression: 'none', order: 'zigzag' },
  { label: 'full, basin order', mode: 'full', compression: 'none', order: 'basin' },
];

export interface FactMiss {
  name: string;
  code: string;
  answer: string;
  retrieved: boolean;
  kept: boolean;
}

export interface FactCell {
  label: string;
  asked: number;
  correct: number;
  em: number;
  /** Asks whose retrieved chunks held the fact's sentence. */
  retrieved: number;
  /** Compressed settings: of the asks that retrieved the fact, how many kept its sentence (null: no compression). */
  factKept: number | null;
  keptRate: number | null;
  misses: FactMiss[];
}

export interface FactCollection {
  collection: string;
  facts: readonly StationFact[];
}

const holdsFact = (f: StationFact) => (h: { documentId: string; start: number; end: number }): boolean => h.documentId === f.documentId && h.start <= f.start && h.end >= f.end;

/** Whether the ask saw the fact (retrieved) and still had it after compression (kept). */
export function factReached(ask: EvalAsk, f: StationFact): { retrieved: boolean; kept: boolean } {
  const retrieved = ask.hits.some(holdsFact(f));
  return { retrieved, kept: retrieved && answerRetained(contextSpans(ask), f.documentId, [{ start: f.start, end: f.end }]) };
}

/** What every setting's ask shares (retrieval depth, answer length, search mode). */
export interface FactAskBase {
  k: number;
  maxTokens: number;
  searchMode?: EvalAskRequest['searchMode'];
}

export function settingRequest(s: FactSetting, base: FactAskBase): Omit<EvalAskRequest, 'question' | 'collection'> {
  return {
    k: base.k,
    mode: s.mode,
    compression: s.compression,
    order: s.order,
    maxTokens: base.maxTokens,
    temperature: 0,
    ...(s.keepRatio !== undefined ? { keepRatio: s.keepRatio } : {}),
    ...(s.recomputeHead !== undefined ? { recomputeHead: s.recomputeHead } : {}),
    ...(base.searchMode ? { searchMode: base.searchMode } : {}),
  };
}

export async function runFactsEval(
  ask: Asker,
  sets: readonly FactCollection[],
  settings: readonly FactSetting[],
  base: FactAskBase,
  onProgress: (label: string) => void = () => undefined,
): Promise<FactCell[]> {
  const cells: FactCell[] = [];
  for (const s of settings) {
    const request = settingRequest(s, base);
    let correct = 0;
    let retrieved = 0;
    let kept = 0;
    const misses: FactMiss[] = [];
    let asked = 0;
    for (const set of sets) {
      for (const f of set.facts) {
        const r = await ask({ ...request, collection: set.collection, question: f.question });
        const reach = factReached(r, f);
        asked++;
        if (reach.retrieved) retrieved++;
        if (reach.kept) kept++;
        if (answersFact(r.outcome.answer, f.code)) correct++;
        else misses.push({ name: f.name, code: f.code, answer: r.outcome.answer, ...reach });
      }
    }
    const compressed = s.compression !== 'none';
    cells.push({
      label: s.label,
      asked,
      correct,
      em: asked ? correct / asked : 0,
      retrieved,
      factKept: compressed ? kept : null,
      keptRate: compressed ? (retrieved ? kept / retrieved : 0) : null,
      misses,
    });
    onProgress(`${s.label}: ${correct}/${asked}`);
  }
  return cells;
}

/** Exact answers per setting, how often the fact was retrieved and (compressed settings) kept, and every miss. */
export function formatFactCells(cells: readonly FactCell[]): string {
  const rows = cells.map((c) => [c.label, `${c.correct}/${c.asked}`, fmt(c.em), `${c.retrieved}/${c.asked}`, c.factKept === null ? '—' : `${c.factKept}/${c.retrieved}`]);
  const misses = cells.flatMap((c) => c.misses.map((m) => `  ${c.label}: ${m.name} ${m.code} -> ${JSON.stringify(m.answer)} (retrieved ${m.retrieved}, kept ${m.kept})`));
  return [textTable(['setting', 'exact', 'EM', 'fact retrieved', 'fact sentence kept'], rows), '', misses.length ? `misses:\n${misses.join('\n')}` : 'misses: none'].join('\n');
}

export interface NiahSettingRun {
  label: string;
  cells: { tokens: number; depthPercent: number; retrieved: boolean; kept: boolean; exact: boolean; answer: string }[];
}

/** The needle grid asked once per setting; exact = the answer's leading number is the needle's. */
export async function runNiahSettings(
  ask: Asker,
  cases: readonly NiahCase[],
  needle: Needle,
  settings: readonly FactSetting[],
  base: FactAskBase,
  onProgress: (msg: string) => void = () => undefined,
): Promise<NiahSettingRun[]> {
  const runs: NiahSettingRun[] = [];
  for (const s of settings) {
    const results = await runNiah(ask, cases, needle, settingRequest(s, base));
    const cells = results.map((r) => ({ tokens: r.tokens, depthPercent: r.depthPercent, retrieved: r.retrieved, kept: r.kept, exact: answersFact(r.answer, needle.answer), answer: r.answer }));
    runs.push({ label: s.label, cells });
    onProgress(`${s.label}: ${cells.filter((c) => c.exact).length}/${cells.length}`);
  }
  return runs;
}

const SHADES = [' ', '░', '▒', '▓', '█'];

/** A table of exact match per setting, then a size x depth heat map of the share of settings answering exactly. */
export function formatNiahGrid(runs: readonly NiahSettingRun[]): string {
  if (runs.length === 0) return '(no settings)';
  const sizes = [...new Set(runs[0].cells.map((c) => c.tokens))];
  const depths = [...new Set(runs[0].cells.map((c) => c.depthPercent))];
  const perSetting = runs.map((r) => {
    const n = r.cells.length;
    const exact = r.cells.filter((c) => c.exact).length;
    return [r.label, `${exact}/${n}`, fmt(exact / n), `${r.cells.filter((c) => c.retrieved).length}/${n}`, `${r.cells.filter((c) => c.kept).length}/${n}`];
  });
  const heat = sizes.map((tokens) => [
    String(tokens),
    ...depths.map((d) => {
      const hits = runs.filter((r) => r.cells.find((c) => c.tokens === tokens && c.depthPercent === d)?.exact).length;
      const share = hits / runs.length;
      return `${SHADES[Math.round(share * (SHADES.length - 1))]} ${hits}/${runs.length}`;
    }),
  ]);
  return [
    textTable(['setting', 'exact', 'EM', 'needle retrieved', 'needle kept'], perSetting),
    '',
    'settings answering exactly, by haystack size (rows, tokens) and needle depth (columns):',
    textTable(['tokens', ...depths.map((d) => `${d}%`)], heat),
  ].join('\n');
}
