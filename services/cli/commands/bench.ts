import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { runAssembleBench } from '../../../bench/assemble.js';
import { runCalibrationBench } from '../../../bench/calibration.js';
import { runCompressBench } from '../../../bench/compress.js';
import { runDecodeBench } from '../../../bench/decode.js';
import { runExtractiveBench } from '../../../bench/extractive.js';
import { runHnswBench } from '../../../bench/hnsw.js';
import { runIngestBench } from '../../../bench/ingest.js';
import { runLoadBench } from '../../../bench/load.js';
import { describeMachine, readBenchRecords, readModelShape, writeBenchRecord, writeRunRecord, type BenchRecord, type ModelShape } from '../../../bench/report/results.js';
import { runRetrievalQuality } from '../../../bench/retrievalQuality.js';
import { runScaleBench } from '../../../bench/scale.js';
import { runTtftBench } from '../../../bench/ttft.js';
import { runVariantsBench } from '../../../bench/variants.js';
import { loadConfig } from '../../../infra/config.js';
import { ensureRedis } from '../../../infra/redis.js';
import { UsageError } from '../errors.js';

interface BenchOptions {
  json: boolean;
  data: string;
  documents?: string;
  quick?: boolean;
}

type Bench = (opts: BenchOptions) => Promise<unknown>;

const squad = (o: BenchOptions) => path.resolve(o.data, 'squad-v1.1-dev.json');
const progress = (msg: string) => process.stderr.write(`${msg}\n`);

/** Every benchmark by name; each returns a JSON-serialisable result. */
export const BENCHES: Record<string, Bench> = {
  ingest: async (o) => {
    const config = loadConfig();
    await ensureRedis(config.redis, config.dataDir);
    return runIngestBench({ config, squadFile: squad(o), documents: o.documents ? Number(o.documents) : undefined });
  },
  retrieval: async (o) => ({
    quality: await runRetrievalQuality({ squadFile: squad(o), log: progress }),
    hnsw: await runHnswBench({ squadFile: squad(o), log: progress, ...(o.quick ? { scale: 0 } : {}) }),
  }),
  ttft: (o) => runTtftBench({ dataDir: o.data, log: progress, ...(o.quick ? { contexts: [512, 1024, 2048, 4096], runs: 2 } : {}) }),
  // Block fetch (disk, memory) and assembly against the question pass they feed, at 2K/4K/8K.
  assemble: (o) => runAssembleBench({ dataDir: o.data, log: progress, ...(o.quick ? { contexts: [2048, 4096], runs: 2 } : {}) }),
  // Tokens/s after the first token at 1, 64 and 256 generated tokens, split into forward pass and the rest.
  decode: (o) => runDecodeBench({ dataDir: o.data, log: progress, ...(o.quick ? { contexts: [2048] } : { contexts: [2048, 8192] }) }),
  compress: (o) => runCompressBench({ dataDir: o.data, log: progress, ...(o.quick ? { contexts: [2048], runs: 2 } : {}) }),
  prefill: (o) => runScriptBench('prefill.js', ['--model', BENCH_MODEL, ...(o.quick ? ['--tokens', '1024', '--repeats', '2'] : ['--tokens', '2048', '--repeats', '3'])]),
  calibration: (o) => runCalibrationBench({ squadFile: squad(o), modelDir: BENCH_MODEL, log: progress, ...(o.quick ? { prompts: 8 } : { prompts: 24 }) }),
  // Every export family on the qwen2.5-0.5b shape, each in its own process; picks the default GENERATOR_DTYPE.
  variants: (o) => runVariantsBench({ dataDir: o.data, log: progress, ...(o.quick ? { tokens: 1024, runs: 1 } : {}) }),
  // 20 question clients for 60 s during a batch ingestion, on built tiny models and a Redis of its own.
  load: (o) => runLoadBench({ squadFile: squad(o), log: progress, ...(o.quick ? { clients: 8, seconds: 15, batchDocuments: 300 } : {}) }),
  // The served extractive ask (no generator) with every SQuAD paragraph indexed: p50 of one ask at a time, target 60 ms.
  extractive: (o) =>
    runExtractiveBench({ squadFile: squad(o), log: progress, ...(o.documents ? { documents: Number(o.documents) } : {}), ...(o.quick ? { documents: 300, questions: 50 } : {}) }),
  // 1 vs 2 worker and API processes on a single Redis and on a local 3+3 Redis Cluster, plus index memory per vector.
  scale: (o) => runScaleBench({ squadFile: squad(o), log: progress, ...(o.documents ? { documents: Number(o.documents) } : {}), ...(o.quick ? { documents: 200, searchSeconds: 5, memoryVectors: 4096 } : {}) }),
};

/** The decoder shape the model-side benches run on (built on first use; random weights, real compute). */
const BENCH_MODEL = path.join('models', 'test', 'smollm2-135m');
const COMPILED_BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bench');

/** Benches written as stand-alone scripts print their JSON on stdout; run one and parse it. */
async function runScriptBench(script: string, args: string[]): Promise<unknown> {
  const { stdout } = await runNode([path.join(COMPILED_BENCH_DIR, script), ...args]);
  return JSON.parse(stdout);
}

/** A child node process with stderr passed through (progress), stdout collected. */
function runNode(args: string[]): Promise<{ stdout: string; code: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolve({ stdout, code });
      else reject(new Error(`node ${args.join(' ')} exited with ${code ?? signal}`));
    });
  });
}

interface AllOptions extends BenchOptions {
  results: string;
  docs: string;
  quickFor: string;
  only?: string;
}

/**
 * `rag bench all`: every bench in its own process (a crash or a leak in one does not take the rest down, and
 * each starts with a cold heap), each result written to `<results>/<name>.json` as soon as it is done, then the
 * report rendered from those files. Benches listed in --quick-for run their quick variant.
 */
async function runAll(opts: AllOptions): Promise<{ results: string; report: string | null; benches: Pick<BenchRecord, 'name' | 'variant' | 'ok' | 'seconds' | 'error'>[] }> {
  const names = opts.only ? opts.only.split(',').map((s) => s.trim()) : Object.keys(BENCHES);
  for (const n of names) if (!BENCHES[n]) throw new UsageError(`--only: unknown benchmark "${n}"`);
  const quick = new Set(opts.quick ? names : opts.quickFor.split(',').map((s) => s.trim()).filter(Boolean));
  const startedAt = new Date().toISOString();
  const machine = describeMachine();
  const records: BenchRecord[] = [];
  for (const name of names) {
    const variant = quick.has(name) ? 'quick' : 'full';
    const args = ['bench', name, '--json', '--data', opts.data, ...(variant === 'quick' ? ['--quick'] : []), ...(opts.documents ? ['--documents', opts.documents] : [])];
    progress(`== bench ${name} (${variant})`);
    const t0 = performance.now();
    const record: BenchRecord = { format: 'bench-result/1', name, variant, command: `rag ${args.map((a) => (a === opts.data ? path.relative(process.cwd(), a) || '.' : a)).join(' ')}`, startedAt: new Date().toISOString(), seconds: 0, ok: false };
    try {
      const { stdout } = await runNode([...process.execArgv, process.argv[1], ...args]);
      record.result = JSON.parse(stdout.trim().split('\n').pop() ?? '');
      record.ok = true;
    } catch (err) {
      record.error = err instanceof Error ? err.message : String(err);
      progress(`bench ${name} failed: ${record.error}`);
    }
    record.seconds = (performance.now() - t0) / 1000;
    writeBenchRecord(opts.results, record);
    records.push(record);
  }
  const models: ModelShape[] = [];
  try {
    models.push(readModelShape(path.resolve(BENCH_MODEL)));
  } catch {
    // the model-side benches all failed before building it; the report says so per bench
  }
  // Every result file in the folder, so a re-run of some benches (--only) keeps the others in the report.
  const onDisk = [...readBenchRecords(opts.results).values()];
  writeRunRecord(opts.results, {
    format: 'bench-run/1',
    startedAt,
    finishedAt: new Date().toISOString(),
    machine,
    models,
    benches: onDisk.map((r) => ({ name: r.name, variant: r.variant, ok: r.ok, seconds: r.seconds })),
  });
  let report: string | null = null;
  try {
    report = (await renderReport(opts.results, opts.docs)).markdownFile;
  } catch (err) {
    progress(`report not rendered: ${err instanceof Error ? err.message : String(err)}; run \`rag bench report\``);
  }
  return { results: opts.results, report, benches: records.map(({ name, variant, ok, seconds, error }) => ({ name, variant, ok, seconds, error })) };
}

/** Loaded on use: the charting libraries are large and only the report needs them. */
async function renderReport(results: string, docs: string): Promise<{ markdownFile: string; svgFiles: string[] }> {
  const { writeBenchReport } = await import('../../../bench/report/render.js');
  return writeBenchReport({ resultsDir: results, docsDir: docs });
}

/**
 * `rag bench <name> --json`: JSON on stdout and nothing else (progress goes to stderr). Two names are not
 * benches: `all` (every bench -> bench/results/*.json -> docs/BENCHMARKS.md) and `report` (re-render the
 * report from the result files without running anything).
 */
export function registerBenchCommand(program: Command): void {
  program
    .command('bench <name>')
    .description(`run a benchmark: ${Object.keys(BENCHES).join(', ')}; \`all\` runs every one and writes the report; \`report\` re-renders it from bench/results`)
    .option('--json', 'print the result as JSON (the only output on stdout)', false)
    .option('--data <dir>', 'folder holding squad-v1.1-dev.json and pg-essays/', path.resolve('..', 'shared', 'data'))
    .option('--documents <n>', 'documents to ingest (ingest, scale and extractive benches)')
    .option('--quick', 'smaller variant where the bench supports it (with `all`: every bench)')
    .option('--quick-for <list>', 'with `all`: comma-separated benches to run in their quick variant', 'retrieval')
    .option('--only <list>', 'with `all`: run only these benches (comma-separated)')
    .option('--results <dir>', 'with `all`/`report`: folder of the result JSON files', path.resolve('bench', 'results'))
    .option('--docs <dir>', 'with `all`/`report`: folder the report (BENCHMARKS.md, img/) is written to', path.resolve('docs'))
    .action(async (name: string, opts: AllOptions) => {
      let result: unknown;
      if (name === 'all') result = await runAll(opts);
      else if (name === 'report') result = await renderReport(opts.results, opts.docs);
      else {
        const bench = BENCHES[name];
        if (!bench) throw new UsageError(`unknown benchmark "${name}"; choose one of ${[...Object.keys(BENCHES), 'all', 'report'].join(', ')}`);
        result = await bench(opts);
      }
      process.stdout.write(opts.json ? `${JSON.stringify(result)}\n` : `${JSON.stringify(result, null, 2)}\n`);
      process.exit(0);
    });
}
