import { kvBytesPerToken } from './DecoderShape.js';
import type { DecoderModel } from './DecoderModel.js';
import type { KvCache } from './kv/KvCache.js';
import type { PositionsMode, TapsMode } from './onnx/DecoderExport.js';

/**
 * How far two computations of the same thing may differ in each precision, relative to the largest magnitude
 * compared (logits or keys), and why:
 * - fp32 compute (fp32, q4 with fp32 activations): float32 rounding in a different association order, ~1e-6;
 *   bound 1e-4.
 * - fp16 compute (fp16, q4f16, genai): unit roundoff 2^-11 = 4.9e-4 per op, a few dozen ops deep; measured
 *   <= 0.3% on the replicas; bound 1e-2.
 * - genai (fp16 compute, MatMulNBits accuracy_level 4: activations quantized to int8 per block of 32): inputs that
 *   differ by fp16 noise can round to neighbouring int8 steps (1/127 of the block's range), so layers after the first
 *   differ by up to ~1.6% (measured; layer 0 re-encodes to 4e-4); bound 3e-2.
 * - dynamic int8 (MatMulInteger): activations are quantized per tensor with a scale from each pass's own min/max,
 *   so splitting a sequence into passes changes the rounding (step = range/255 at ~7 quantized matmuls per
 *   layer); measured 8.5% on the tiny replica; bound 0.15.
 */
export function splitTolerance(variant: string): number {
  if (/int8|uint8/.test(variant)) return 0.15;
  if (/genai/.test(variant)) return 3e-2;
  if (/fp16|q4f16|bnb4/.test(variant)) return 1e-2;
  return 1e-4;
}

export interface Check {
  ok: boolean;
  /** Largest difference, relative to the largest magnitude compared. */
  maxAbsDiff: number;
  tolerance: number;
}

export interface DoctorReport {
  model: string;
  family: string;
  variant: string;
  file: string;
  /** The file onnxruntime loads (the cached rewrite, or the export itself). */
  runtimeFile: string;
  kvDtype: 'float32' | 'float16';
  kvBytesPerToken: number;
  positions: PositionsMode;
  positionsReason: string | null;
  taps: TapsMode | null;
  tapsReason: string | null;
  logitsSelector: boolean;
  /** A 16-token prefill in pieces (8, 4, then one at a time) against one full prefill: logits and KV. */
  selfCheck: Check;
  /** Keys computed at p and rotated by d against keys computed at p+d (what Block-Attention re-encoding relies on); null when positions are refused. */
  reencode: Check | null;
}

const SAMPLE = 'The river rises in the hills north of the town, passes the old mill and the library, and reaches the sea after forty miles.';
const range = (start: number, n: number): number[] => Array.from({ length: n }, (_, i) => start + i);

/** max |a - b| over max |b|: a difference relative to the magnitude of what is compared. */
export function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`relDiff: length ${a.length} vs ${b.length}`);
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return m > 0 ? d / m : d;
}

function kvDiff(a: KvCache, b: KvCache): number {
  let worst = 0;
  for (let l = 0; l < a.layerCount; l++) worst = Math.max(worst, relDiff(a.layers[l].key, b.layers[l].key), relDiff(a.layers[l].value, b.layers[l].value));
  return worst;
}

/** Checks a loaded decoder end to end and reports how its export family is served. */
export async function diagnoseModel(model: DecoderModel): Promise<DoctorReport> {
  const ex = model.export;
  const tol = splitTolerance(ex.variant);
  let ids = Array.from(model.tokenizer.encode(SAMPLE)) as number[];
  while (ids.length < 16) ids = [...ids, ...ids];
  ids = ids.slice(0, 16);

  const full = await model.forward(ids, range(0, 16), null, { logits: 'all' });
  const V = model.config.vocabSize;
  let cache: KvCache | null = null;
  let worst = 0;
  for (const [a, b] of [[0, 8], [8, 12], ...range(12, 4).map((i) => [i, i + 1])]) {
    const part = await model.forward(ids.slice(a, b), range(a, b - a), cache, { logits: 'all', present: 'all' });
    worst = Math.max(worst, relDiff(part.logits as Float32Array, (full.logits as Float32Array).subarray(a * V, b * V)));
    cache = part.present;
  }
  worst = Math.max(worst, kvDiff(cache as KvCache, full.present));

  let reencode: Check | null = null;
  if (model.positions !== 'refused') {
    const at = await model.forward(ids.slice(0, 8), range(10, 8), null, { logits: 'none' });
    const target = await model.forward(ids.slice(0, 8), range(13, 8), null, { logits: 'none' });
    const d = kvDiff(at.present.reencode({ delta: 3 }, model.config.ropeTheta), target.present);
    reencode = { ok: d <= tol, maxAbsDiff: d, tolerance: tol };
  }

  return {
    model: model.dir,
    family: ex.family,
    variant: ex.variant,
    file: model.onnxFile,
    runtimeFile: model.onnxPath,
    kvDtype: model.kvDtype,
    kvBytesPerToken: kvBytesPerToken(model.config, model.kvDtype === 'float16' ? 2 : 4),
    positions: ex.positions.mode,
    positionsReason: ex.positions.reason,
    taps: ex.taps.mode,
    tapsReason: ex.taps.mode === null ? ex.taps.reason : null,
    logitsSelector: model.runtime.logitsRows !== null,
    selfCheck: { ok: worst <= tol, maxAbsDiff: worst, tolerance: tol },
    reencode,
  };
}
