import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { median } from '../../infra/stats.js';
import { fmt, markdownTable } from '../../eval/table.js';
import { calibrationChart, compressChart, efChart, ingestChart, renderSvg, ttftChart, waterfall, waterfallChart } from './charts.js';
import { inductionSection } from './inductionSection.js';
import { readResults, type BenchRecord, type ResultSet } from './results.js';

/**
 * docs/BENCHMARKS.md and its SVG charts, from bench/results/*.json only. Every section reads the fields it
 * needs through a schema: a bench whose JSON changed shape, failed, or was not run gets a line saying so
 * instead of a broken table.
 */
export interface RenderedReport {
  markdown: string;
  /** File name (under img/) -> SVG text. */
  svgs: Record<string, string>;
}

const Ingest = z.object({
  documents: z.number(),
  chunks: z.number(),
  embedder: z.string(),
  rawChunksPerSecond: z.number(),
  endToEndSeconds: z.number(),
  documentsPerSecond: z.number(),
  chunksPerSecond: z.number(),
  overhead: z.number(),
});

const Metrics = z.object({ 'recall@1': z.number(), 'recall@5': z.number(), 'recall@10': z.number(), 'mrr@10': z.number() });
const Retrieval = z.object({
  quality: z.object({
    dataset: z.object({ paragraphs: z.number(), questions: z.number() }),
    depth: z.number().optional(),
    split: z.object({ rule: z.string(), reportedQuestions: z.number() }).optional(),
    modes: z.record(z.string(), Metrics),
    defaultMode: z.string(),
  }),
  hnsw: z.object({
    // A fixed service default ef (older results), or one per dataset size in `targets`.
    params: z.object({ M: z.number(), efConstruction: z.number(), defaultEf: z.number().optional(), k: z.number() }),
    targets: z.array(z.object({ dataset: z.string(), defaultEf: z.number().optional(), recallAtDefaultEf: z.number().nullable() })).default([]),
    datasets: z.array(
      z.object({
        name: z.string(),
        vectors: z.number(),
        queries: z.number(),
        dim: z.number(),
        build: z.object({ seconds: z.number(), insertsPerSec: z.number() }),
        exact: z.object({ qps: z.number() }),
        search: z.array(z.object({ ef: z.number(), recallAtK: z.number(), qps: z.number(), meanMs: z.number() })),
      }),
    ),
  }),
});

const Ttft = z.object({
  model: z.string(),
  runs: z.number(),
  blockTokens: z.number(),
  questionTokens: z.number(),
  results: z.array(
    z.object({
      contextTokens: z.number(),
      promptTokens: z.number(),
      blocks: z.number(),
      mode: z.string(),
      ttftMs: z.number(),
      runsMs: z.array(z.number()).default([]),
      assembleMs: z.number(),
      questionPrefillMs: z.number(),
      stagesMs: z.record(z.string(), z.number()).optional(),
      loadAverage: z.number().optional(),
    }),
  ),
  loadAverage: z.object({ before: z.number(), after: z.number(), cores: z.number() }).optional(),
  decode: z
    .object({
      results: z.array(
        z.object({
          contextTokens: z.number(),
          windows: z.array(z.object({ around: z.number(), tokensPerSecond: z.number(), stepMs: z.number(), forwardMs: z.number(), otherMs: z.number(), kvBytesOutPerStep: z.number() })),
          slowdown: z.number(),
        }),
      ),
    })
    .nullable()
    .optional(),
});

const Compress = z.object({
  model: z.string(),
  runs: z.number(),
  results: z.array(
    z.object({
      contextTokens: z.number(),
      promptTokens: z.number(),
      blocks: z.number(),
      sentences: z.number(),
      baseline: z.object({ ttftMs: z.number(), questionPassMs: z.number(), assembleMs: z.number().optional() }),
      probe: z.object({ questionPassWithTapsMs: z.number(), scoringMs: z.number(), totalMs: z.number() }),
      tappedOverPlain: z.number().optional(),
      loadAverage: z.number().optional(),
      compressed: z.array(
        z.object({
          keepRatio: z.number(),
          keptTokens: z.number(),
          ttftMs: z.number(),
          extraInQuestionPasses: z.number(),
          parts: z.object({ fetchMs: z.number(), questionPassMs: z.number(), scoringMs: z.number(), reassembleMs: z.number(), finalPassMs: z.number() }).optional(),
        }),
      ),
    }),
  ),
  loadAverage: z.object({ before: z.number(), after: z.number(), cores: z.number() }).optional(),
});

const Timing = z.object({ median: z.number(), min: z.number() });
const Prefill = z.object({
  model: z.string(),
  tokens: z.number(),
  repeats: z.number(),
  intraOpThreads: z.number(),
  prefillMs: z.record(z.string(), Timing),
  rawSessionFetchMs: z.record(z.string(), Timing).optional(),
});

const Load = z.object({
  clients: z.number(),
  seconds: z.number(),
  models: z.object({ generator: z.string(), embedder: z.string() }),
  requests: z.number(),
  ok: z.number(),
  errors: z.number(),
  requestsPerSecond: z.number(),
  latencyMs: z.object({ p50: z.number(), p95: z.number(), p99: z.number(), mean: z.number(), max: z.number() }),
  ingestion: z.object({ submitted: z.number(), indexedDuringWindow: z.number(), documentsPerSecond: z.number(), allIndexedAfterSeconds: z.number().nullable() }),
  peakMemoryMiB: z.object({ api: z.number(), worker: z.number() }),
});

const Spread = z.object({ p50: z.number(), p95: z.number(), p99: z.number(), mean: z.number(), max: z.number() });
const Extractive = z.object({
  paragraphs: z.number(),
  chunks: z.number(),
  questions: z.number(),
  k: z.number(),
  embedder: z.string(),
  latencyMs: Spread,
  serverMs: z.object({ total: Spread, retrieve: Spread, rank: Spread }),
  top1: z.number(),
  targetP50Ms: z.number(),
  machine: z.object({ loadAverage: z.object({ before: z.array(z.number()), after: z.array(z.number()) }) }),
});

const Calibration = z.object({
  model: z.string(),
  attentionMode: z.string(),
  k: z.number(),
  prompts: z.number(),
  layers: z.number(),
  profile: z.array(z.number()),
  slotRanking: z.array(z.number()),
  zigzagSlots: z.array(z.number()),
  msPerPrompt: z.number(),
});

type Section = { markdown: string; svgs: Record<string, string> };

const when = (iso: string): string => iso.slice(0, 16).replace('T', ' ');
const n0 = (v: number): string => Math.round(v).toLocaleString('en-US');
const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(1)} GiB`;

/** A bench's parsed payload, or the sentence the report prints instead. */
function payload<T>(rec: BenchRecord | undefined, schema: z.ZodType<T>, name: string): { ok: true; value: T } | { ok: false; why: string } {
  if (!rec) return { ok: false, why: `_Not run: \`${name}\` has no result in bench/results._` };
  if (!rec.ok) return { ok: false, why: `_The \`${name}\` bench failed in this run: ${rec.error ?? 'no error recorded'}._` };
  const parsed = schema.safeParse(rec.result);
  if (!parsed.success) return { ok: false, why: `_The \`${name}\` result does not have the shape this report reads (${parsed.error.issues[0]?.path.join('.') ?? '?'}: ${parsed.error.issues[0]?.message ?? ''}); re-run the bench._` };
  return { ok: true, value: parsed.data };
}

const variantNote = (rec: BenchRecord | undefined): string =>
  rec ? `Command: \`${rec.command}\` (${rec.variant === 'quick' ? '**quick variant**' : 'full variant'}, ${fmt(rec.seconds, 0)} s).` : '';

/** Pipeline stages up to the first token, in order (the waterfall's segments). */
const TTFT_STAGES = ['render', 'fetchKv', 'questionPass', 'score', 'select', 'order', 'assemble', 'finalPass', 'decode'] as const;

async function ttftSection(rec: BenchRecord | undefined): Promise<Section> {
  const p = payload(rec, Ttft, 'ttft');
  const head = '## Time to first token: full prefill vs cached blocks\n';
  if (!p.ok) return { markdown: `${head}\n${p.why}\n`, svgs: {} };
  const t = p.value;
  const contexts = [...new Set(t.results.map((r) => r.contextTokens))].sort((a, b) => a - b);
  const modes = [...new Set(t.results.map((r) => r.mode))];
  const at = (c: number, m: string) => t.results.find((r) => r.contextTokens === c && r.mode === m);
  const rows = contexts.map((c) => {
    const full = at(c, 'full')?.ttftMs;
    const first = t.results.find((r) => r.contextTokens === c);
    const floor = first ? t.questionTokens / first.promptTokens : NaN;
    return [String(c), String(first?.promptTokens ?? ''), String(first?.blocks ?? ''), ...modes.map((m) => fmt(at(c, m)?.ttftMs, 0)), ...modes.filter((m) => m !== 'full').map((m) => (full ? fmt((at(c, m)?.ttftMs ?? NaN) / full, 3) : '—')), fmt(floor, 3)];
  });
  const svg = await renderSvg(ttftChart(t.results.map(({ contextTokens, mode, ttftMs }) => ({ contextTokens, mode, ttftMs })), t.model));
  const svgs: Record<string, string> = { 'ttft.svg': svg };
  const staged = t.results.filter((r) => r.stagesMs);
  const stageRows = staged.map((r) => [r.mode, String(r.contextTokens), ...TTFT_STAGES.map((st) => fmt(r.stagesMs?.[st] ?? 0, 1)), fmt(r.ttftMs, 0), r.loadAverage === undefined ? '—' : fmt(r.loadAverage, 1)]);
  const assemblyRows = contexts
    .map((c) => at(c, 'blocks-warm'))
    .filter((r): r is NonNullable<typeof r> => !!r?.stagesMs)
    .map((r) => [String(r.contextTokens), fmt(r.stagesMs!.assemble ?? NaN, 1), fmt(r.stagesMs!.finalPass ?? NaN, 1), fmt((r.stagesMs!.assemble ?? NaN) / (r.stagesMs!.finalPass ?? NaN), 3)]);
  if (staged.length) {
    const segments = staged.flatMap((r) => waterfall(r.mode, `${r.contextTokens}`, TTFT_STAGES.map((st) => [st, r.stagesMs?.[st] ?? 0] as [string, number])));
    svgs['ttft-stages.svg'] = await renderSvg(waterfallChart(segments, 'Time to first token, stage by stage', `${t.model}; median per stage over runs; each mode on its own time axis`, TTFT_STAGES));
  }
  const decodeRows = (t.decode?.results ?? []).flatMap((d) => d.windows.map((w) => [String(d.contextTokens), String(w.around), fmt(w.tokensPerSecond, 1), fmt(w.stepMs, 1), fmt(w.forwardMs, 1), fmt(w.otherMs, 2), n0(w.kvBytesOutPerStep)]));
  // How much the same measurement moved between runs: on a shared machine this bounds what a difference means.
  const spreads = t.results.filter((r) => r.runsMs.length > 1).map((r) => Math.max(...r.runsMs) / Math.min(...r.runsMs));
  const spread = spreads.length ? `Run-to-run spread of one measurement (slowest / fastest run): median ${fmt(median(spreads), 2)}x, worst ${fmt(Math.max(...spreads), 2)}x.` : '';
  const load = t.loadAverage ? `Load average (1 min) ${fmt(t.loadAverage.before, 1)} at the start and ${fmt(t.loadAverage.after, 1)} at the end, on ${t.loadAverage.cores} cores: every figure is a ratio within this one run; absolute times are not comparable across runs on this shared machine.` : '';
  return {
    markdown: [
      head,
      `Model \`${t.model}\` (random weights: compute cost does not depend on them), blocks of about ${t.blockTokens} tokens from the essays, a ${t.questionTokens}-token question block, median of ${t.runs} runs. ` +
        '`full` prefills the whole prompt (only the shared prefix cached, the exact baseline); `blocks-warm` assembles blocks from the memory tier, `blocks-disk` from the disk tier, `blocks-cold` computes every block first. ' +
        'The **floor** is question tokens / context tokens: a pass over the question block alone with every context token reused, the least a cached-context answer can cost against a full prefill.',
      '',
      load,
      '',
      '![TTFT against context length](img/ttft.svg)',
      '',
      markdownTable(['context', 'prompt tokens', 'blocks', ...modes.map((m) => `${m} (ms)`), ...modes.filter((m) => m !== 'full').map((m) => `${m} / full`), 'floor'], rows),
      '',
      spread,
      '',
      ...(staged.length
        ? [
            '### Stage waterfall',
            '',
            'Where the time to first token goes, per mode (medians per stage, from each run\'s own trace; `assemble` in blocks modes is the concatenation of the cached blocks, their keys rotated to their slots inside the question pass\'s session; `decode` is sampling the first token).',
            '',
            '![TTFT stage waterfall per mode](img/ttft-stages.svg)',
            '',
            markdownTable(['mode', 'context', ...TTFT_STAGES.map((st) => `${st} ms`), 'TTFT ms', 'load'], stageRows),
            '',
            ...(assemblyRows.length ? ['Assembly against the question pass it feeds (blocks-warm; target <= 0.10):', '', markdownTable(['context', 'assemble ms', 'question pass ms', 'assemble / question pass'], assemblyRows), ''] : []),
          ]
        : []),
      ...(decodeRows.length
        ? [
            '### Decode speed after the first token',
            '',
            'Tokens/s around the 1st, 64th and 256th generated token (median step over a window of 8), split into the forward pass and the generator\'s own work. Decoding runs over a buffer with room for every token of the answer: only the new token\'s KV leaves onnxruntime per step (`KV bytes out / step`), so no per-token copy grows with the tokens generated.',
            '',
            markdownTable(['context', 'around token', 'tokens/s', 'step ms', 'forward ms', 'other ms', 'KV bytes out / step'], decodeRows),
            '',
          ]
        : []),
      variantNote(rec),
      '',
    ].join('\n'),
    svgs,
  };
}

function defaultEfNote(h: z.infer<typeof Retrieval>['hnsw']): string {
  if (h.params.defaultEf !== undefined) return `, service default ef ${h.params.defaultEf}`;
  const per = h.targets.filter((t) => t.defaultEf !== undefined).map((t) => `${t.defaultEf} for ${t.dataset}${t.recallAtDefaultEf === null ? '' : ` (recall ${fmt(t.recallAtDefaultEf, 4)})`}`);
  return per.length ? `; the service's default ef follows the index size: ${per.join(', ')}` : '';
}

async function retrievalSection(rec: BenchRecord | undefined): Promise<Section> {
  const p = payload(rec, Retrieval, 'retrieval');
  const head = '## Retrieval: quality on SQuAD and HNSW recall / speed against ef\n';
  if (!p.ok) return { markdown: `${head}\n${p.why}\n`, svgs: {} };
  const { quality: q, hnsw: h } = p.value;
  const modeRows = Object.entries(q.modes).map(([mode, m]) => [mode === q.defaultMode ? `**${mode}** (default)` : mode, fmt(m['recall@1']), fmt(m['recall@5']), fmt(m['recall@10']), fmt(m['mrr@10'])]);
  const points = h.datasets.flatMap((d) => d.search.map((s) => ({ dataset: `${d.name} (${n0(d.vectors)})`, ef: s.ef, recallAtK: s.recallAtK, qps: s.qps })));
  const efRows = h.datasets.flatMap((d) => d.search.map((s) => [d.name, n0(d.vectors), String(s.ef), fmt(s.recallAtK, 4), n0(s.qps), fmt(s.meanMs, 2)]));
  const buildRows = h.datasets.map((d) => [d.name, n0(d.vectors), String(d.dim), fmt(d.build.seconds, 1), n0(d.build.insertsPerSec), n0(d.exact.qps)]);
  const svg = await renderSvg(efChart(points, h.params.k));
  return {
    markdown: [
      head,
      `Paragraph retrieval over ${n0(q.dataset.paragraphs)} SQuAD v1.1 dev paragraphs, ${q.split ? `${n0(q.split.reportedQuestions)} reported questions (${q.split.rule})` : `${n0(q.dataset.questions)} questions`}${q.depth ? `, ${q.depth} candidates per retriever before fusion` : ''}:`,
      '',
      markdownTable(['mode', 'recall@1', 'recall@5', 'recall@10', 'MRR@10'], modeRows),
      '',
      `HNSW (M ${h.params.M}, efConstruction ${h.params.efConstruction}${defaultEfNote(h)}) against exact search, recall@${h.params.k}:`,
      '',
      '![HNSW recall and QPS against ef](img/retrieval-ef.svg)',
      '',
      markdownTable(['dataset', 'vectors', 'ef', `recall@${h.params.k}`, 'queries/s', 'mean ms'], efRows),
      '',
      markdownTable(['dataset', 'vectors', 'dim', 'build s', 'inserts/s', 'exact queries/s'], buildRows),
      '',
      variantNote(rec),
      '',
    ].join('\n'),
    svgs: { 'retrieval-ef.svg': svg },
  };
}

async function ingestSection(rec: BenchRecord | undefined): Promise<Section> {
  const p = payload(rec, Ingest, 'ingest');
  const head = '## Ingestion throughput\n';
  if (!p.ok) return { markdown: `${head}\n${p.why}\n`, svgs: {} };
  const r = p.value;
  const svg = await renderSvg(
    ingestChart(
      [
        { stage: 'embedder alone', perSecond: r.rawChunksPerSecond },
        { stage: 'end to end (queues, store, index)', perSecond: r.chunksPerSecond },
      ],
      r.embedder,
    ),
  );
  return {
    markdown: [
      head,
      `${n0(r.documents)} SQuAD paragraphs (${n0(r.chunks)} chunks) through the BullMQ flow (chunk -> embed -> index into Redis) against the embedder alone on the same chunk texts. Embedder: \`${r.embedder}\`.`,
      '',
      '![Ingestion throughput](img/ingest.svg)',
      '',
      markdownTable(
        ['documents', 'chunks', 'embedder chunks/s', 'end-to-end chunks/s', 'documents/s', 'end-to-end s', 'pipeline overhead'],
        [[n0(r.documents), n0(r.chunks), fmt(r.rawChunksPerSecond, 2), fmt(r.chunksPerSecond, 2), fmt(r.documentsPerSecond, 2), fmt(r.endToEndSeconds, 1), `${fmt(r.overhead * 100, 0)}%`]],
      ),
      '',
      variantNote(rec),
      '',
    ].join('\n'),
    svgs: { 'ingest.svg': svg },
  };
}

async function compressSection(rec: BenchRecord | undefined): Promise<Section> {
  const p = payload(rec, Compress, 'compress');
  const head = '## Compression cost (Sentinel probe in the served pipeline)\n';
  if (!p.ok) return { markdown: `${head}\n${p.why}\n`, svgs: {} };
  const c = p.value;
  const rows = c.results.flatMap((r) =>
    r.compressed.map((x) => [
      String(r.contextTokens),
      String(r.blocks),
      String(r.sentences),
      fmt(r.baseline.ttftMs, 0),
      fmt(r.baseline.questionPassMs, 0),
      r.tappedOverPlain === undefined ? '—' : fmt(r.tappedOverPlain, 2),
      String(x.keepRatio),
      n0(x.keptTokens),
      fmt(x.ttftMs, 0),
      fmt(x.extraInQuestionPasses, 2),
      r.loadAverage === undefined ? '—' : fmt(r.loadAverage, 1),
    ]),
  );
  const bars = c.results.flatMap((r) => [{ contextTokens: r.contextTokens, variant: 'no compression', ttftMs: r.baseline.ttftMs }, ...r.compressed.map((x) => ({ contextTokens: r.contextTokens, variant: `keep ${x.keepRatio}`, ttftMs: x.ttftMs }))]);
  const svgs: Record<string, string> = { 'compress.svg': await renderSvg(compressChart(bars, c.model)) };
  const order = ['fetch KV', 'assemble', 'tapped question pass', 'score + select + order', 're-assemble kept', 'final pass'];
  const segments = c.results.flatMap((r) => [
    ...(r.baseline.assembleMs === undefined ? [] : waterfall('no compression', `${r.contextTokens}`, [['assemble', r.baseline.assembleMs], ['final pass', r.baseline.questionPassMs]])),
    ...r.compressed.flatMap((x) =>
      x.parts
        ? waterfall(`keep ${x.keepRatio}`, `${r.contextTokens}`, [
            ['fetch KV', x.parts.fetchMs],
            ['tapped question pass', x.parts.questionPassMs],
            ['score + select + order', x.parts.scoringMs],
            ['re-assemble kept', x.parts.reassembleMs],
            ['final pass', x.parts.finalPassMs],
          ])
        : [],
    ),
  ]);
  if (segments.length) svgs['compress-stages.svg'] = await renderSvg(waterfallChart(segments, 'Compression in the served pipeline, stage by stage', `${c.model}; median per stage over runs`, order));
  const load = c.loadAverage ? `Load average (1 min) ${fmt(c.loadAverage.before, 1)} at the start and ${fmt(c.loadAverage.after, 1)} at the end, on ${c.loadAverage.cores} cores: ratios within this one run only.` : '';
  return {
    markdown: [
      head,
      `Model \`${c.model}\`, all blocks warm in memory, median of ${c.runs} runs. Both columns are runs of the served ask pipeline ` +
        '(`ask/AskPipeline.ts`, blocks mode, up to the first token), timed from its own stage trace. Compression in the same pass: the served question pass is the tapped one ' +
        '(one session run; only the last query row\'s attention leaves it, with the logits), its scores pick the sentences, the unkept sentences\' KV rows are dropped and the kept ones laid out ' +
        'again (`assemble({keep})`, keys rotated inside the final pass\'s session), and only the final block re-runs over the kept context. No other pass runs. ' +
        '`tapped / plain` is the tapped question pass stage (assembly + pass) over the baseline\'s assembly + plain pass (target <= 1.1). ' +
        'The target is compressed TTFT - baseline TTFT <= 0.3 baseline question passes (`extra` column). The floor beside it: the kept context still needs the final block run once over it.',
      '',
      load,
      '',
      '![TTFT with and without compression](img/compress.svg)',
      '',
      ...(svgs['compress-stages.svg'] ? ['![Compression stage waterfall per variant](img/compress-stages.svg)', ''] : []),
      markdownTable(['context', 'blocks', 'sentences', 'baseline TTFT ms', 'question pass ms', 'tapped / plain', 'keep ratio', 'kept tokens', 'compressed TTFT ms', 'extra (question passes)', 'load'], rows),
      '',
      variantNote(rec),
      '',
    ].join('\n'),
    svgs,
  };
}

function prefillSection(rec: BenchRecord | undefined): Section {
  const p = payload(rec, Prefill, 'prefill');
  const head = '## Prefill: logits for the last position only\n';
  if (!p.ok) return { markdown: `${head}\n${p.why}\n`, svgs: {} };
  const r = p.value;
  const rows = [
    ...Object.entries(r.prefillMs).map(([mode, t]) => [`DecoderModel.forward, logits: ${mode}`, fmt(t.median, 0), fmt(t.min, 0)]),
    ...Object.entries(r.rawSessionFetchMs ?? {}).map(([mode, t]) => [`raw session, ${mode}`, fmt(t.median, 0), fmt(t.min, 0)]),
  ];
  return {
    markdown: [
      head,
      `One forward pass of ${n0(r.tokens)} tokens on \`${path.basename(r.model)}\` (${r.intraOpThreads} threads, ${r.repeats} repeats). \`last\` slices the hidden state before the vocabulary projection, so block prefill does not pay for ${n0(r.tokens)} x vocabulary logits.`,
      '',
      markdownTable(['variant', 'median ms', 'min ms'], rows),
      '',
      variantNote(rec),
      '',
    ].join('\n'),
    svgs: {},
  };
}

function extractiveSection(rec: BenchRecord | undefined): Section {
  const p = payload(rec, Extractive, 'extractive');
  const head = '## Extractive answers: latency of the served ask without a generator\n';
  if (!p.ok) return { markdown: `${head}\n${p.why}\n`, svgs: {} };
  const e = p.value;
  const row = (what: string, t: z.infer<typeof Spread>) => [what, fmt(t.p50, 1), fmt(t.p95, 1), fmt(t.p99, 1), fmt(t.max, 1)];
  return {
    markdown: [
      head,
      `${n0(e.questions)} held-out SQuAD questions asked one at a time over HTTP (\`mode: "extractive"\`, k ${e.k}, embedder \`${e.embedder}\`) with all ${n0(e.paragraphs)} paragraphs (${n0(e.chunks)} chunks) indexed; the server's split comes from the answer's stage trace. Top-1 sentence contains a gold answer: ${fmt(e.top1, 3)} on these questions. Target p50 ≤ ${e.targetP50Ms} ms. Load average (1 min) ${fmt(e.machine.loadAverage.before[0] ?? 0, 1)} at the start and ${fmt(e.machine.loadAverage.after[0] ?? 0, 1)} at the end, on 2 cores.`,
      '',
      markdownTable(['ms', 'p50', 'p95', 'p99', 'max'], [row('client round trip', e.latencyMs), row('server: whole ask', e.serverMs.total), row('server: retrieve', e.serverMs.retrieve), row('server: rank + extract', e.serverMs.rank)]),
      '',
      variantNote(rec),
      '',
    ].join('\n'),
    svgs: {},
  };
}

function loadSection(rec: BenchRecord | undefined): Section {
  const p = payload(rec, Load, 'load');
  const head = '## Load: concurrent questions during a batch ingestion\n';
  if (!p.ok) return { markdown: `${head}\n${p.why}\n`, svgs: {} };
  const l = p.value;
  return {
    markdown: [
      head,
      `${l.clients} question clients against the HTTP API for ${l.seconds} s while ${n0(l.ingestion.submitted)} documents are ingested by the worker process (generator \`${l.models.generator}\`, embedder \`${l.models.embedder}\`).`,
      '',
      markdownTable(
        ['requests', 'ok', 'errors', 'requests/s', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms'],
        [[n0(l.requests), n0(l.ok), n0(l.errors), fmt(l.requestsPerSecond, 2), fmt(l.latencyMs.p50, 0), fmt(l.latencyMs.p95, 0), fmt(l.latencyMs.p99, 0), fmt(l.latencyMs.max, 0)]],
      ),
      '',
      markdownTable(
        ['documents indexed in the window', 'documents/s', 'all indexed after s', 'peak RSS API MiB', 'peak RSS worker MiB'],
        [[n0(l.ingestion.indexedDuringWindow), fmt(l.ingestion.documentsPerSecond, 2), fmt(l.ingestion.allIndexedAfterSeconds, 0), n0(l.peakMemoryMiB.api), n0(l.peakMemoryMiB.worker)]],
      ),
      '',
      variantNote(rec),
      '',
    ].join('\n'),
    svgs: {},
  };
}

async function calibrationSection(rec: BenchRecord | undefined): Promise<Section> {
  const p = payload(rec, Calibration, 'calibration');
  const head = '## Calibration profile (attention basin)\n';
  if (!p.ok) return { markdown: `${head}\n${p.why}\n`, svgs: {} };
  const c = p.value;
  const svg = await renderSvg(calibrationChart(c.profile, c.model, c.prompts));
  return {
    markdown: [
      head,
      `The share of the question's attention on each of ${c.k} block slots (\`${c.attentionMode}\` mode, ${c.layers} layers, ${c.prompts} SQuAD prompts; ${fmt(c.msPerPrompt, 0)} ms per prompt). ` +
        '**The model has random weights, so this curve shows the calibration running, not a property of a trained model;** with a real model it is the curve reordering places blocks by.',
      '',
      '![Calibration profile](img/calibration.svg)',
      '',
      markdownTable(['slot', ...c.profile.map((_, i) => String(i + 1))], [['attention share', ...c.profile.map((v) => fmt(v, 3))]]),
      '',
      `Slots by attention (the r-th most relevant block goes to the r-th): ${c.slotRanking.map((s) => s + 1).join(', ')}. Without a profile, the zig-zag fallback puts relevance ranks 1..${c.k} into slots ${c.zigzagSlots.map((s) => s + 1).join(', ')}.`,
      '',
      variantNote(rec),
      '',
    ].join('\n'),
    svgs: { 'calibration.svg': svg },
  };
}

/** The embedder the retrieval-side benches used, from their own results. */
function embedderLine(results: ResultSet): string[] {
  const ingest = Ingest.safeParse(results.benches.get('ingest')?.result);
  const hnsw = Retrieval.safeParse(results.benches.get('retrieval')?.result);
  const id = ingest.success ? ingest.data.embedder : null;
  const dim = hnsw.success ? hnsw.data.hnsw.datasets[0]?.dim : undefined;
  return id ? [`Embedder (ingestion, dense retrieval): \`${id}\`${dim ? `, ${dim}-d` : ''}.`, ''] : [];
}

function header(results: ResultSet): string {
  const { run } = results;
  const m = run.machine;
  const benchRows = [...results.benches.values()].map((b) => [b.name, b.variant, b.ok ? 'ok' : 'failed', fmt(b.seconds, 0), when(b.startedAt)]);
  // A results folder can hold benches from several invocations (--only): the earliest start is the run's start.
  const first = [run.startedAt, ...[...results.benches.values()].map((b) => b.startedAt)].sort()[0];
  const modelRows = run.models.map((s) => [s.name, String(s.layers), String(s.hidden), String(s.heads), String(s.kvHeads), String(s.headDim), n0(s.vocab), String(s.ropeTheta)]);
  return [
    '# Benchmarks',
    '',
    '<!-- GENERATED FILE: do not edit. Produced by `rag bench report` from bench/results/*.json (`rag bench all` runs the benches and then renders it). -->',
    '',
    `_Generated by \`rag bench report\` from \`bench/results/*.json\` — never edited by hand. Run \`rag bench all\` to re-measure, \`rag bench report\` to re-render. Benches ran between ${when(first)} and ${when(run.finishedAt)} UTC._`,
    '',
    '## Machine and models',
    '',
    markdownTable(['CPU', 'cores', 'memory', 'platform', 'Node.js', 'load average at start'], [[m.cpuModel, String(m.cores), gib(m.memoryBytes), `${m.platform} ${m.arch}`, m.node, fmt(m.loadAverage, 2)]]),
    '',
    'The machine is shared (other work ran during the benches; the load average above is the 1-minute figure when the run started), so absolute times are pessimistic and ratios are the more stable figures. ' +
      'No pretrained model can be downloaded here: the decoder benches run on a model built with the real model\'s shape and **random weights** (`rag models build-test`). Compute cost does not depend on the weights, so timings are real; anything about answer quality or attention patterns is not.',
    '',
    modelRows.length ? markdownTable(['decoder', 'layers', 'hidden', 'heads', 'KV heads', 'head dim', 'vocab', 'RoPE theta'], modelRows) : '_No decoder model shape recorded._',
    '',
    ...embedderLine(results),
    markdownTable(['bench', 'variant', 'status', 'seconds', 'started (UTC)'], benchRows),
    '',
  ].join('\n');
}

export async function renderBenchReport(results: ResultSet): Promise<RenderedReport> {
  const b = results.benches;
  const sections: Section[] = [
    await ttftSection(b.get('ttft')),
    await retrievalSection(b.get('retrieval')),
    await ingestSection(b.get('ingest')),
    await compressSection(b.get('compress')),
    prefillSection(b.get('prefill')),
    loadSection(b.get('load')),
    extractiveSection(b.get('extractive')),
    await calibrationSection(b.get('calibration')),
    await inductionSection(b.get('induction-facts'), b.get('induction-niah')),
  ];
  return {
    markdown: [header(results), ...sections.map((s) => s.markdown)].join('\n').replace(/\n{3,}/g, '\n\n').trimEnd() + '\n',
    svgs: Object.assign({}, ...sections.map((s) => s.svgs)) as Record<string, string>,
  };
}

/** Renders `<resultsDir>` into `<docsDir>/BENCHMARKS.md` and `<docsDir>/img/*.svg`. */
export async function writeBenchReport(opts: { resultsDir: string; docsDir: string }): Promise<{ markdownFile: string; svgFiles: string[] }> {
  const report = await renderBenchReport(readResults(opts.resultsDir));
  const imgDir = path.join(opts.docsDir, 'img');
  fs.mkdirSync(imgDir, { recursive: true });
  const svgFiles = Object.entries(report.svgs).map(([name, svg]) => {
    const file = path.join(imgDir, name);
    fs.writeFileSync(file, svg.endsWith('\n') ? svg : `${svg}\n`);
    return file;
  });
  const markdownFile = path.join(opts.docsDir, 'BENCHMARKS.md');
  fs.writeFileSync(markdownFile, report.markdown);
  return { markdownFile, svgFiles };
}
