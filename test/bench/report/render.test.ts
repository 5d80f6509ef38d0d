import fs from 'node:fs';
import path from 'node:path';
import { writeBenchRecord, writeRunRecord, type BenchRecord } from '../../../bench/report/results.js';
import { writeBenchReport } from '../../../bench/report/render.js';
import { tempDir } from '../../support/processes.js';

/** A small, fixed set of results in the shapes the benches write (values chosen to be easy to check). */
const record = (name: string, result: unknown, extra: Partial<BenchRecord> = {}): BenchRecord => ({
  format: 'bench-result/1',
  name,
  variant: 'full',
  command: `rag bench ${name} --json`,
  startedAt: '2026-01-02T03:04:05.000Z',
  seconds: 12.3,
  ok: true,
  result,
  ...extra,
});

const ttft = {
  model: 'smollm2-135m',
  runs: 3,
  threads: 0,
  blockTokens: 200,
  questionTokens: 29,
  results: [1024, 2048].flatMap((contextTokens, i) =>
    (['full', 'blocks-warm', 'blocks-disk', 'blocks-cold'] as const).map((mode, j) => ({
      contextTokens,
      promptTokens: contextTokens - 10,
      blocks: 4 * (i + 1),
      mode,
      // full 1000/2000, warm 100/200, disk 150/300, cold 1100/2200
      ttftMs: [1000, 100, 150, 1100][j] * (i + 1),
      // two runs: the second 10% (first context) or 50% (second context) slower than the first
      runsMs: [1, i === 0 ? 1.1 : 1.5].map((f) => f * [1000, 100, 150, 1100][j] * (i + 1)),
      assembleMs: 1,
      questionPrefillMs: 2,
    })),
  ),
  ratios: [],
};

const retrieval = {
  quality: {
    dataset: { file: 'squad.json', paragraphs: 2067, questions: 10570 },
    split: { rule: 'tuning = articles % 5 == 0', tuningQuestions: 2968, reportedQuestions: 7602 },
    depth: 20,
    modes: { bm25: { 'recall@1': 0.81, 'recall@5': 0.94, 'recall@10': 0.96, 'mrr@10': 0.867 }, hybrid: { 'recall@1': 0.8169, 'recall@5': 0.9512, 'recall@10': 0.9679, 'mrr@10': 0.8748 } },
    defaultMode: 'hybrid',
  },
  hnsw: {
    params: { M: 16, efConstruction: 200, k: 10 },
    embedder: null,
    datasets: [
      {
        name: 'squad-real',
        vectors: 21867,
        queries: 1000,
        dim: 512,
        build: { seconds: 47.2, insertsPerSec: 463 },
        exact: { qps: 41 },
        search: [16, 64, 256].map((ef, i) => ({ ef, recallAtK: [0.9597, 0.9971, 0.9999][i], qps: [2500, 660, 340][i], meanMs: [0.4, 1.5, 2.9][i] })),
        snapshot: {},
      },
    ],
    targets: [{ dataset: 'squad-real', defaultEf: 64, recallAtDefaultEf: 0.9971, recallTargetMet: true, buildVsEmbedder: 140 }],
  },
};

const ingest = { documents: 400, chunks: 449, embedder: 'use-lite@test', rawEmbedSeconds: 135, rawChunksPerSecond: 3.3, endToEndSeconds: 214.9, documentsPerSecond: 1.86, chunksPerSecond: 2.09, overhead: 0.59 };

const calibration = { model: 'smollm2-135m', attentionMode: 'blocks', k: 4, prompts: 8, layers: 30, profile: [0.4, 0.1, 0.2, 0.3], slotRanking: [0, 3, 2, 1], zigzagSlots: [0, 3, 1, 2], seconds: 8, msPerPrompt: 1000 };

const load = {
  clients: 8,
  seconds: 15,
  models: { generator: 'test/tiny', embedder: 'use-lite@test' },
  requests: 120,
  ok: 118,
  errors: 2,
  errorSamples: [],
  requestsPerSecond: 8,
  latencyMs: { p50: 400, p95: 900, p99: 1200.4, mean: 450, max: 1500 },
  ingestion: { submitted: 300, indexedDuringWindow: 40, documentsPerSecond: 2.67, allIndexedAfterSeconds: null },
  peakMemoryMiB: { api: 310, worker: 420 },
  machine: { cpus: 2, loadAverage1mAtEnd: 4 },
};

let docs: string;
let markdown: string;
let svgFiles: string[];

beforeAll(async () => {
  const results = tempDir('bench-results');
  docs = tempDir('bench-docs');
  writeBenchRecord(results, record('ttft', ttft, { variant: 'quick', command: 'rag bench ttft --json --quick' }));
  writeBenchRecord(results, record('retrieval', retrieval));
  writeBenchRecord(results, record('ingest', ingest));
  writeBenchRecord(results, record('calibration', calibration));
  writeBenchRecord(results, record('load', load, { variant: 'quick' }));
  writeBenchRecord(results, record('compress', undefined, { ok: false, error: 'out of memory' }));
  writeRunRecord(results, {
    format: 'bench-run/1',
    startedAt: '2026-01-02T03:04:05.000Z',
    finishedAt: '2026-01-02T04:05:06.000Z',
    machine: { cpuModel: 'Test CPU 9000', cores: 2, memoryBytes: 24 * 2 ** 30, platform: 'Linux 6.1', arch: 'x64', node: 'v20.20.2', loadAverage: 3.5 },
    models: [{ name: 'smollm2-135m', layers: 30, hidden: 576, heads: 9, kvHeads: 3, headDim: 64, vocab: 49152, ropeTheta: 100000 }],
    benches: [],
  });
  const out = await writeBenchReport({ resultsDir: results, docsDir: docs });
  markdown = fs.readFileSync(out.markdownFile, 'utf8');
  svgFiles = out.svgFiles;
}, 180_000);

const svg = (name: string): string => fs.readFileSync(path.join(docs, 'img', name), 'utf8');
/** Point symbols Vega drew (not the line paths), by their accessible labels. */
const points = (s: string): string[] => [...s.matchAll(/aria-label="([^"]*)" role="graphics-symbol" aria-roledescription="point"/g)].map((m) => m[1]);

describe('benchmark report rendered from a fixed results fixture', () => {
  test('says it is generated and states date, machine and model shapes', () => {
    expect(markdown).toMatch(/^# Benchmarks\n/);
    expect(markdown).toContain('GENERATED FILE: do not edit');
    expect(markdown).toContain('Benches ran between 2026-01-02 03:04 and 2026-01-02 04:05 UTC');
    expect(markdown).toContain('Embedder (ingestion, dense retrieval): `use-lite@test`, 512-d.');
    expect(markdown).toContain('| Test CPU 9000 | 2 | 24.0 GiB | Linux 6.1 x64 | v20.20.2 | 3.50 |');
    expect(markdown).toContain('| smollm2-135m | 30 | 576 | 9 | 3 | 64 | 49,152 | 100000 |');
    expect(markdown).toMatch(/random weights/);
  });

  test('TTFT table with ratios to full, and the quick variant named', () => {
    expect(markdown).toContain('| context | prompt tokens | blocks | full (ms) | blocks-warm (ms) | blocks-disk (ms) | blocks-cold (ms) | blocks-warm / full | blocks-disk / full | blocks-cold / full |');
    expect(markdown).toContain('| 1024 | 1014 | 4 | 1000 | 100 | 150 | 1100 | 0.100 | 0.150 | 1.100 |');
    expect(markdown).toContain('| 2048 | 2038 | 8 | 2000 | 200 | 300 | 2200 | 0.100 | 0.150 | 1.100 |');
    expect(markdown).toContain('`rag bench ttft --json --quick` (**quick variant**');
    expect(markdown).toContain('Run-to-run spread of one measurement (slowest / fastest run): median 1.30x, worst 1.50x.');
    expect(markdown).toContain('![TTFT against context length](img/ttft.svg)');
  });

  test('retrieval quality and HNSW tables', () => {
    expect(markdown).toContain('| **hybrid** (default) | 0.817 | 0.951 | 0.968 | 0.875 |');
    expect(markdown).toContain('7,602 reported questions (tuning = articles % 5 == 0), 20 candidates per retriever before fusion:');
    expect(markdown).toContain('| squad-real | 21,867 | 64 | 0.9971 | 660 | 1.50 |');
    expect(markdown).toContain("HNSW (M 16, efConstruction 200; the service's default ef follows the index size: 64 for squad-real (recall 0.9971)) against exact search, recall@10:");
    expect(markdown).toContain('| squad-real | 21,867 | 512 | 47.2 | 463 | 41 |');
  });

  test('ingestion, calibration, a failed bench and a bench not run', () => {
    expect(markdown).toContain('| 400 | 449 | 3.30 | 2.09 | 1.86 | 214.9 | 59% |');
    expect(markdown).toContain('| attention share | 0.400 | 0.100 | 0.200 | 0.300 |');
    expect(markdown).toContain('Slots by attention (the r-th most relevant block goes to the r-th): 1, 4, 3, 2. Without a profile, the zig-zag fallback puts relevance ranks 1..4 into slots 1, 4, 2, 3.');
    expect(markdown).toContain('_The `compress` bench failed in this run: out of memory._');
    expect(markdown).toContain('_Not run: `prefill` has no result in bench/results._');
    expect(markdown).toContain('| 120 | 118 | 2 | 8.00 | 400 | 900 | 1200 | 1500 |');
    expect(markdown).toContain('| 40 | 2.67 | — | 310 | 420 |'); // not all indexed by the end: an em dash, not 0
  });

  test('one SVG per chart, drawn from the data', () => {
    expect(svgFiles.map((f) => path.basename(f)).sort()).toEqual(['calibration.svg', 'ingest.svg', 'retrieval-ef.svg', 'ttft.svg']);
    for (const f of svgFiles) expect(fs.readFileSync(f, 'utf8')).toMatch(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    const t = svg('ttft.svg');
    expect(t).toContain('Time to first token against context length');
    const tp = points(t);
    expect(tp).toHaveLength(8); // 2 contexts x 4 modes
    expect(tp).toContain('context (tokens): 1024; TTFT (ms, log): 100; mode: blocks-warm');
    const ef = points(svg('retrieval-ef.svg'));
    expect(ef).toHaveLength(6); // 3 efs, recall and qps panels
    expect(ef).toContain('ef (query breadth): 64; recall@10: 0.9971; dataset: squad-real (21,867)');
    expect(svg('calibration.svg')).toContain('Attention-basin profile (k = 4)');
    expect(svg('ingest.svg')).toContain('use-lite@test');
  });
});
