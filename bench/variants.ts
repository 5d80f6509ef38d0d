import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildTestModel } from '../model/builder/buildTestModel.js';
import { VARIANTS, VARIANT_NAMES, type VariantName } from '../model/builder/variants.js';
import type { DecoderDtype } from '../infra/decoderDtypes.js';
import { DTYPE_FILES } from '../model/ModelFiles.js';

/**
 * `rag bench variants`: every export family on one real model shape (qwen2.5-0.5b by default: weights are random,
 * compute and memory are real), each built, measured in a child process of its own (clean RSS), and deleted.
 * Picks the fastest variant a CPU user can select with GENERATOR_DTYPE (lowest warm time to first token, the
 * served path), which is what DEFAULT_DECODER_DTYPE should be.
 */
export interface VariantsBenchOptions {
  preset?: string;
  variants?: VariantName[];
  tokens?: number;
  runs?: number;
  dataDir: string;
  /** Where variants are built (default: a temp folder, removed after each variant). */
  workDir?: string;
  log?: (msg: string) => void;
}

const PROBE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'variantProbe.js');

function dtypeOf(v: VariantName): DecoderDtype | null {
  const spec = VARIANTS[v];
  if (spec.family !== 'optimum') return null;
  return (Object.entries(DTYPE_FILES).find(([, f]) => f === spec.file)?.[0] ?? null) as DecoderDtype | null;
}

function probe(args: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PROBE, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop() ?? '{}')) : reject(new Error(`variantProbe ${args.join(' ')} exited with ${code}`))));
  });
}

export async function runVariantsBench(opts: VariantsBenchOptions): Promise<unknown> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const preset = opts.preset ?? 'qwen2.5-0.5b';
  const variants = opts.variants ?? VARIANT_NAMES;
  const tokens = opts.tokens ?? 2048;
  const work = opts.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'rag-variants-'));
  const results: Record<string, unknown>[] = [];
  try {
    for (const v of variants) {
      const dir = path.join(work, v);
      log(`== ${v}: building ${preset} (load average ${os.loadavg()[0].toFixed(1)})`);
      const t0 = performance.now();
      const built = buildTestModel(preset, dir, { variant: v });
      const buildSeconds = (performance.now() - t0) / 1000;
      log(`== ${v}: built ${built.onnxFile} in ${buildSeconds.toFixed(0)} s; measuring in a child process`);
      const dtype = dtypeOf(v);
      try {
        const r = await probe(['--model', dir, '--tokens', String(tokens), '--runs', String(opts.runs ?? 2), '--data', opts.dataDir, ...(dtype ? ['--dtype', dtype] : [])]);
        results.push({ variant: v, dtype, buildSeconds, weightMiB: built.weightBytes / 2 ** 20, ...r });
      } catch (err) {
        results.push({ variant: v, dtype, error: err instanceof Error ? err.message : String(err) });
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  } finally {
    if (!opts.workDir) fs.rmSync(work, { recursive: true, force: true });
  }
  const selectable = results.filter((r) => r.dtype && !r.error) as { dtype: string; ttft: { warmMs: number }; prefill: { tokensPerSecond: number } }[];
  const byWarm = [...selectable].sort((a, b) => a.ttft.warmMs - b.ttft.warmMs || b.prefill.tokensPerSecond - a.prefill.tokensPerSecond);
  return {
    preset,
    tokens,
    machine: { cores: os.cpus().length, loadAverageAtEnd: os.loadavg()[0] },
    results,
    /** GENERATOR_DTYPE values by warm time to first token (fastest first), and the one to default to. */
    ranking: byWarm.map((r) => r.dtype),
    recommendedDefault: byWarm[0]?.dtype ?? null,
  };
}
