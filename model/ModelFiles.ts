import fs from 'node:fs';
import path from 'node:path';
import { DECODER_DTYPES, type DecoderDtype } from '../infra/decoderDtypes.js';

/**
 * Which ONNX file of a model folder is the decoder. Hugging Face repos of optimum/transformers.js exports hold one
 * file per precision under onnx/ (model.onnx, model_fp16.onnx, model_q4.onnx, ...), each possibly with external
 * data companions (`<file>_data`, `<file>_data_1`, ...); onnxruntime-genai exports name theirs in genai_config.json
 * (weights in `<file>.data`).
 */

export const DTYPE_FILES: Record<DecoderDtype, string> = {
  fp32: 'onnx/model.onnx',
  fp16: 'onnx/model_fp16.onnx',
  q4: 'onnx/model_q4.onnx',
  q4f16: 'onnx/model_q4f16.onnx',
  int8: 'onnx/model_int8.onnx',
};

/**
 * The default GENERATOR_DTYPE: the fastest CPU variant in `rag bench variants` (qwen2.5-0.5b shape, see the README's
 * table: int8's MatMulInteger runs on AVX-512 VNNI here; 1.9x q4's prefill throughput, 0.7x its warm time to first
 * token), then the others in the order the bench ranked them, for folders that lack the default.
 */
export const DEFAULT_DECODER_DTYPE: DecoderDtype = 'int8';
const FALLBACK_ORDER: DecoderDtype[] = ['int8', 'q4', 'q4f16', 'fp16', 'fp32'];

export class DecoderFileError extends Error {
  override name = 'DecoderFileError';
}

export interface DecoderFile {
  /** Path relative to the model folder (e.g. `onnx/model_q4.onnx`). */
  file: string;
  /** The dtype the file is, when chosen by dtype. */
  dtype: DecoderDtype | null;
  /** How it was chosen, for logs and the doctor. */
  reason: string;
}

/** The decoder file of an onnxruntime-genai folder (genai_config.json's model.decoder.filename), or null. */
export function genaiDecoderFile(dir: string): string | null {
  const cfg = path.join(dir, 'genai_config.json');
  if (!fs.existsSync(cfg)) return null;
  const parsed = JSON.parse(fs.readFileSync(cfg, 'utf8')) as { model?: { decoder?: { filename?: string } } };
  const file = parsed.model?.decoder?.filename;
  if (!file) throw new DecoderFileError(`${cfg}: model.decoder.filename is missing`);
  return file;
}

/**
 * Picks the decoder file: genai_config.json's file when there is one; else the file of `dtype` (which must exist);
 * else, with no dtype configured, the default dtype's file, or the first present in bench order.
 */
export function chooseDecoderFile(dir: string, dtype?: DecoderDtype): DecoderFile {
  const genai = genaiDecoderFile(dir);
  if (genai) {
    if (!fs.existsSync(path.join(dir, genai))) throw new DecoderFileError(`${dir}: genai_config.json names ${genai}, which is missing`);
    return { file: genai, dtype: null, reason: 'genai_config.json' };
  }
  const present = DECODER_DTYPES.filter((d) => fs.existsSync(path.join(dir, DTYPE_FILES[d])));
  if (dtype) {
    if (present.includes(dtype)) return { file: DTYPE_FILES[dtype], dtype, reason: `GENERATOR_DTYPE=${dtype}` };
    throw new DecoderFileError(
      `${dir}: GENERATOR_DTYPE=${dtype} wants ${DTYPE_FILES[dtype]}, which is missing` +
        (present.length > 0 ? ` (present: ${present.map((d) => `${d} (${DTYPE_FILES[d]})`).join(', ')})` : ' (no onnx/model*.onnx at all)'),
    );
  }
  const pick = FALLBACK_ORDER.find((d) => present.includes(d));
  if (!pick) throw new DecoderFileError(`${dir}: no decoder file (looked for ${DECODER_DTYPES.map((d) => DTYPE_FILES[d]).join(', ')} and genai_config.json)`);
  return { file: DTYPE_FILES[pick], dtype: pick, reason: pick === DEFAULT_DECODER_DTYPE ? 'default dtype' : `default ${DEFAULT_DECODER_DTYPE} absent; first present in bench order` };
}

/** External data files that belong to an ONNX file: `<name>_data`, `<name>_data_N` (optimum) and `<name>.data` (genai). */
export function isDataCompanion(onnxFileName: string, candidate: string): boolean {
  return candidate === `${onnxFileName}_data` || candidate === `${onnxFileName}.data` || new RegExp(`^${onnxFileName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}_data_\\d+$`).test(candidate);
}

/** The decoder file and its companions in a folder listing (relative paths), in order. */
export function filesOfDecoder(file: string, listing: string[]): string[] {
  const dir = path.posix.dirname(file);
  const base = path.posix.basename(file);
  const companions = listing.filter((f) => path.posix.dirname(f) === dir && isDataCompanion(base, path.posix.basename(f))).sort();
  return [file, ...companions];
}

/** Files of a hub repo every variant needs (those present are fetched): config, generation config, tokenizer, genai config. */
export const METADATA_FILES = [
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'vocab.json',
  'merges.txt',
  'added_tokens.json',
  'chat_template.jinja',
  'genai_config.json',
];

/**
 * What `models pull` fetches from a repo listing: the metadata, then one decoder file and its external data, never
 * the other variants (an optimum repo holds eight, ~5 GB). `genaiDecoder`: the file genai_config.json names.
 */
export function decoderFilesToPull(listing: string[], dtype: DecoderDtype | undefined, genaiDecoder: string | null): { decoder: string; files: string[] } {
  let decoder: string;
  const present = DECODER_DTYPES.filter((d) => listing.includes(DTYPE_FILES[d]));
  if (genaiDecoder) decoder = genaiDecoder;
  else if (dtype) {
    decoder = DTYPE_FILES[dtype];
    if (!listing.includes(decoder)) throw new DecoderFileError(`the repo has no ${decoder} (dtype ${dtype}); it has ${present.length > 0 ? present.join(', ') : 'no onnx/model*.onnx'}`);
  } else {
    // No dtype asked: the default, else what the repo has in bench order (as loading picks locally).
    const pick = FALLBACK_ORDER.find((d) => present.includes(d));
    if (!pick) throw new DecoderFileError(`the repo has no decoder file (${DECODER_DTYPES.map((d) => DTYPE_FILES[d]).join(', ')}) and no genai_config.json`);
    decoder = DTYPE_FILES[pick];
  }
  if (!listing.includes(decoder)) throw new DecoderFileError(`the repo has no ${decoder}`);
  return { decoder, files: filesOfDecoder(decoder, listing) };
}
