import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { writeFileAtomicSync } from '../../infra/atomicWrite.js';

/**
 * The on-disk record of one benchmark run: `bench/results/<name>.json`. `rag bench all` writes them and
 * `rag bench report` renders docs/BENCHMARKS.md from them alone, so the report can be regenerated (new
 * layout, new chart) without re-running hours of benchmarks. The bench payload (`result`) keeps each bench's
 * own JSON shape; the renderer reads the fields it knows and ignores the rest.
 */
export const RESULT_FORMAT = 'bench-result/1';
export const RUN_FORMAT = 'bench-run/1';

export const MachineSchema = z.object({
  cpuModel: z.string(),
  cores: z.number().int().positive(),
  memoryBytes: z.number().positive(),
  platform: z.string(),
  arch: z.string(),
  node: z.string(),
  /** 1-minute load average when the run started: the machine is shared, so timings depend on it. */
  loadAverage: z.number().nonnegative(),
});
export type Machine = z.infer<typeof MachineSchema>;

export const ModelShapeSchema = z.object({
  name: z.string(),
  layers: z.number().int(),
  hidden: z.number().int(),
  heads: z.number().int(),
  kvHeads: z.number().int(),
  headDim: z.number().int(),
  vocab: z.number().int(),
  ropeTheta: z.number(),
});
export type ModelShape = z.infer<typeof ModelShapeSchema>;

export const BenchRecordSchema = z.object({
  format: z.literal(RESULT_FORMAT),
  name: z.string().min(1),
  /** `quick` when the bench's smaller variant was run (said in the report). */
  variant: z.enum(['full', 'quick']),
  command: z.string(),
  startedAt: z.string(),
  seconds: z.number().nonnegative(),
  ok: z.boolean(),
  error: z.string().optional(),
  result: z.unknown().optional(),
});
export type BenchRecord = z.infer<typeof BenchRecordSchema>;

/** `bench/results/run.json`: what is common to every bench of one `rag bench all`. */
export const RunRecordSchema = z.object({
  format: z.literal(RUN_FORMAT),
  startedAt: z.string(),
  finishedAt: z.string(),
  machine: MachineSchema,
  models: z.array(ModelShapeSchema),
  benches: z.array(z.object({ name: z.string(), variant: z.enum(['full', 'quick']), ok: z.boolean(), seconds: z.number() })),
});
export type RunRecord = z.infer<typeof RunRecordSchema>;

export function describeMachine(): Machine {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryBytes: os.totalmem(),
    platform: `${os.type()} ${os.release()}`,
    arch: os.arch(),
    node: process.version,
    loadAverage: Math.round(os.loadavg()[0] * 100) / 100,
  };
}

/** The shape of a Hugging Face-layout model folder, from its config.json. */
export function readModelShape(dir: string): ModelShape {
  const c = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, number>;
  const heads = c.num_attention_heads;
  return {
    name: path.basename(dir),
    layers: c.num_hidden_layers,
    hidden: c.hidden_size,
    heads,
    kvHeads: c.num_key_value_heads ?? heads,
    headDim: c.head_dim ?? c.hidden_size / heads,
    vocab: c.vocab_size,
    ropeTheta: c.rope_theta ?? 10000,
  };
}

function writeJson(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomicSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

export function writeBenchRecord(dir: string, record: BenchRecord): string {
  const file = path.join(dir, `${record.name}.json`);
  writeJson(file, BenchRecordSchema.parse(record));
  return file;
}

export function writeRunRecord(dir: string, run: RunRecord): string {
  const file = path.join(dir, 'run.json');
  writeJson(file, RunRecordSchema.parse(run));
  return file;
}

export interface ResultSet {
  run: RunRecord;
  benches: Map<string, BenchRecord>;
}

/** The bench records of a results folder, by name. */
export function readBenchRecords(dir: string): Map<string, BenchRecord> {
  const benches = new Map<string, BenchRecord>();
  if (!fs.existsSync(dir)) return benches;
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.json') && f !== 'run.json').sort()) {
    const rec = BenchRecordSchema.parse(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')));
    benches.set(rec.name, rec);
  }
  return benches;
}

/** Every record of a results folder (run.json is required: it carries the machine and the date). */
export function readResults(dir: string): ResultSet {
  const runFile = path.join(dir, 'run.json');
  if (!fs.existsSync(runFile)) throw new Error(`${runFile} is missing: run \`rag bench all\` first`);
  return { run: RunRecordSchema.parse(JSON.parse(fs.readFileSync(runFile, 'utf8'))), benches: readBenchRecords(dir) };
}
