import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { ProgressInfo } from '@huggingface/transformers';
import { loadConfig } from '../../../infra/config.js';
import { buildTestModel } from '../../../model/builder/buildTestModel.js';
import { PRESETS, isPresetName } from '../../../model/builder/presets.js';
import { VARIANT_NAMES, isVariantName } from '../../../model/builder/variants.js';
import { DecoderModel } from '../../../model/DecoderModel.js';
import { decoderShapeFromConfig } from '../../../model/DecoderShape.js';
import { downloadDecoder, HUB_PROBE_TIMEOUT_MS, hubProblem, hubSettings } from '../../../model/hub.js';
import { DECODER_DTYPES, type DecoderDtype } from '../../../infra/decoderDtypes.js';
import { diagnoseModel, type DoctorReport } from '../../../model/ModelDoctor.js';
import { isHubId, resolveModelDir } from '../../../model/resolveModelDir.js';
import { progressBars } from '../progress.js';
import { UsageError } from '../errors.js';

interface BuildTestOptions {
  out?: string;
  seed: string;
  variant: string;
  attentionOutputs?: boolean;
  referenceMask?: boolean;
  corpus?: string;
}

interface ListedModel {
  id: string;
  modelType: string;
  shape: string;
  onnx: { file: string; bytes: number }[];
}

/** `rag models build-test | list | pull | doctor`. */
export function registerModelsCommands(program: Command): void {
  const models = program.command('models').description('build test models, list local models, download models from the Hugging Face hub');

  models
    .command('build-test <preset>')
    .description(
      `write a Hugging Face-layout model with seeded random weights (presets: ${Object.keys(PRESETS).join(', ')}); ` +
        '`induction` has hand-set weights instead (a copying circuit whose answers can be checked; --seed does not change them)',
    )
    .option('-o, --out <dir>', 'output folder (default: $MODELS_DIR/test/<preset>)')
    .option('--seed <n>', 'PRNG seed (same seed -> identical files)', '0')
    .option('--variant <variant>', `export family and precision, written under the real file name (${VARIANT_NAMES.join(', ')})`, 'optimum-fp32')
    .option('--attention-outputs', "also output each layer's attention probabilities")
    .option('--reference-mask', 'reference variant taking an explicit 4-D additive attention mask')
    .option('--corpus <path>', 'text file or folder to learn the BPE tokenizer from (default: built-in English sample)')
    .action((preset: string, opts: BuildTestOptions) => {
      if (!isPresetName(preset)) throw new UsageError(`unknown preset "${preset}"; known: ${Object.keys(PRESETS).join(', ')}`);
      if (!isVariantName(opts.variant)) throw new UsageError(`unknown variant "${opts.variant}"; known: ${VARIANT_NAMES.join(', ')}`);
      const seed = Number(opts.seed);
      if (!Number.isInteger(seed)) throw new UsageError(`--seed must be an integer, got ${JSON.stringify(opts.seed)}`);
      const out = path.resolve(opts.out ?? path.join(loadConfig().modelsDir, 'test', preset));
      const t0 = performance.now();
      const r = buildTestModel(preset, out, { seed, variant: opts.variant, attentionOutputs: opts.attentionOutputs, referenceMask: opts.referenceMask, corpus: opts.corpus });
      const seconds = (performance.now() - t0) / 1000;
      process.stdout.write(
        `built ${preset} in ${seconds.toFixed(1)} s -> ${out} (${opts.variant})\n` +
          `  weights ${(r.weightBytes / 2 ** 20).toFixed(1)} MiB, tokenizer vocab ${r.tokenizerVocab}, files: ${r.files.join(', ')}\n`,
      );
    });

  models
    .command('list')
    .description('models under MODELS_DIR with their shapes')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => {
      const dir = loadConfig().modelsDir;
      const found = listModels(dir);
      if (opts.json) {
        process.stdout.write(JSON.stringify(found, null, 2) + '\n');
        return;
      }
      if (found.length === 0) {
        process.stdout.write(`no models under ${dir} (try: rag models build-test tiny)\n`);
        return;
      }
      for (const m of found) {
        const files = m.onnx.map((f) => `${f.file} ${(f.bytes / 2 ** 20).toFixed(1)} MiB`).join(', ');
        process.stdout.write(`${m.id}\t${m.modelType}\t${m.shape}\t${files || 'no onnx/'}\n`);
      }
    });

  models
    .command('pull <hub-id>')
    .description('download one variant of a model (config, tokenizer, the chosen ONNX file and its external data) from the Hugging Face hub (HF_ENDPOINT) into MODELS_DIR')
    .option('--dtype <dtype>', `ONNX variant of an optimum export (${DECODER_DTYPES.join(', ')}); default GENERATOR_DTYPE or the benchmarked default. genai exports: the file genai_config.json names`)
    .action(async (id: string, opts: { dtype?: string }) => {
      if (!isHubId(id)) throw new UsageError(`"${id}" is not a hub id (expected org/name)`);
      const dtype = dtypeOption(opts.dtype);
      const config = loadConfig();
      const hub = { ...hubSettings(config), remote: true as const };
      const problem = await hubProblem(hub.endpoint, HUB_PROBE_TIMEOUT_MS);
      if (problem) {
        throw new Error(
          `offline: cannot reach the Hugging Face hub at ${hub.endpoint} (${problem}). Nothing was downloaded. ` +
            `Without network, copy an optimum export into ${config.modelsDir}/<org>/<name>, or build a test model: ` +
            `rag models build-test tiny --out ${path.join(config.modelsDir, 'test', 'tiny')}`,
        );
      }
      const bars = progressBars(' {bar} {percentage}% | {file}', '{file} {percentage}%');
      const perFile = new Map<string, ReturnType<typeof bars.create>>();
      const progress = (p: ProgressInfo): void => {
        if (!('file' in p)) return;
        let bar = perFile.get(p.file);
        if (!bar) {
          bar = bars.create(100, 0, { file: p.file });
          perFile.set(p.file, bar);
        }
        if (p.status === 'progress') bar.update(Math.round(p.progress), { file: p.file });
        if (p.status === 'done') bar.update(100, { file: p.file });
      };
      try {
        const dir = await downloadDecoder(id, hub, { dtype: dtype ?? config.GENERATOR_DTYPE, progress });
        bars.stop();
        process.stdout.write(`pulled ${id} -> ${dir}\n`);
      } catch (err) {
        throw new Error(`download of ${id} failed: ${err instanceof Error ? err.message : String(err)}`);
      } finally {
        bars.stop();
      }
    });

  models
    .command('doctor <dir-or-hub-id>')
    .description('how a model folder is served: export family, variant, file, KV dtype and bytes per token, positions, attention taps, logits selector, and a self-check')
    .option('--dtype <dtype>', `which export file (${DECODER_DTYPES.join(', ')}); default GENERATOR_DTYPE or the benchmarked default`)
    .option('--json', 'print JSON')
    .action(async (ref: string, opts: { dtype?: string; json?: boolean }) => {
      const config = loadConfig();
      const dir = resolveModelDir(ref, config.modelsDir);
      const load = { intraOpThreads: config.ORT_INTRA_OP_THREADS, dtype: dtypeOption(opts.dtype) ?? config.GENERATOR_DTYPE };
      // With taps when the export allows them (the doctor reports why not otherwise).
      const model = await DecoderModel.load(dir, { ...load, taps: true }).catch(() => DecoderModel.load(dir, { ...load, taps: false }));
      try {
        const report = await diagnoseModel(model);
        process.stdout.write(opts.json ? JSON.stringify(report, null, 2) + '\n' : formatDoctor(report));
        // A failed check is work that failed (exit 1), not a wrong call.
        if (!report.selfCheck.ok || report.reencode?.ok === false) process.exitCode = 1;
      } finally {
        await model.release();
      }
    });
}

function dtypeOption(v: string | undefined): DecoderDtype | undefined {
  if (v !== undefined && !(DECODER_DTYPES as readonly string[]).includes(v)) throw new UsageError(`--dtype must be one of ${DECODER_DTYPES.join(', ')}, got "${v}"`);
  return v as DecoderDtype | undefined;
}

function formatDoctor(r: DoctorReport): string {
  const check = (c: DoctorReport['selfCheck'] | null) => (c ? `${c.ok ? 'ok' : 'FAILED'} (max diff ${c.maxAbsDiff.toExponential(2)}, tolerance ${c.tolerance})` : 'n/a');
  const rows: [string, string][] = [
    ['model', r.model],
    ['family', r.family],
    ['variant', r.variant],
    ['file', `${r.file} (served from ${path.basename(r.runtimeFile)})`],
    ['KV', `${r.kvDtype}, ${r.kvBytesPerToken} bytes per token`],
    ['positions', r.positions + (r.positionsReason ? ` (${r.positionsReason})` : '')],
    ['taps', r.taps ?? `none (${r.tapsReason})`],
    ['logits selector', r.logitsSelector ? 'yes' : 'no'],
    ['self-check', check(r.selfCheck)],
    ['re-encode check', check(r.reencode)],
  ];
  return rows.map(([k, v]) => `${k.padEnd(16)} ${v}`).join('\n') + '\n';
}


/** Folders (up to three levels deep) holding a config.json, with their shapes and ONNX files. */
export function listModels(modelsDir: string): ListedModel[] {
  const out: ListedModel[] = [];
  const visit = (dir: string, depth: number): void => {
    const configPath = path.join(dir, 'config.json');
    if (fs.existsSync(configPath)) {
      out.push(describeModel(modelsDir, dir, configPath));
      return;
    }
    if (depth >= 3 || !fs.existsSync(dir)) return;
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.isDirectory()) visit(path.join(dir, e.name), depth + 1);
    }
  };
  visit(modelsDir, 0);
  return out;
}

function describeModel(root: string, dir: string, configPath: string): ListedModel {
  const raw = JSON.parse(fs.readFileSync(configPath, 'utf8')) as Record<string, unknown>;
  let shape: string;
  try {
    const s = decoderShapeFromConfig(raw);
    shape = `layers ${s.layers}, hidden ${s.hidden}, heads ${s.heads}/${s.kvHeads} kv, head_dim ${s.headDim}, vocab ${s.vocabSize}, rope_theta ${s.ropeTheta}`;
  } catch (err) {
    shape = err instanceof Error ? `(${err.message})` : '(unreadable config)';
  }
  const onnxDir = path.join(dir, 'onnx');
  const onnx = fs.existsSync(onnxDir)
    ? fs
        .readdirSync(onnxDir)
        // The export's files, not the runtime's cached rewrites of them (`*.rag*.onnx`).
        .filter((f) => (f.endsWith('.onnx') || f.endsWith('.onnx_data') || f.endsWith('.onnx.data')) && !f.includes('.rag'))
        .sort()
        .map((f) => ({ file: `onnx/${f}`, bytes: fs.statSync(path.join(onnxDir, f)).size }))
    : [];
  return { id: path.relative(root, dir).split(path.sep).join('/'), modelType: String(raw.model_type ?? 'unknown'), shape, onnx };
}
