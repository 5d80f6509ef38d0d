import { DomainError } from '../infra/errors.js';

/** The shape facts of a decoder every model-side stage needs, read from a Hugging Face config.json. */
export interface DecoderShape {
  modelType: string;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  hidden: number;
  intermediate: number;
  vocabSize: number;
  ropeTheta: number;
  maxPositions: number;
  tiedEmbeddings: boolean;
  bosTokenId: number | null;
  eosTokenIds: number[];
}

export class UnsupportedModelError extends DomainError {
  constructor(message: string) {
    super('unavailable', message);
  }
}

type Json = Record<string, unknown>;

function num(c: Json, key: string, fallback?: number): number {
  const v = c[key];
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (fallback !== undefined) return fallback;
  throw new UnsupportedModelError(`config.json: "${key}" is missing or not a number`);
}

function ids(v: unknown): number[] {
  if (typeof v === 'number') return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === 'number');
  return [];
}

/**
 * Validates and normalises a decoder config. Rejects RoPE variants whose re-encoding is not a plain
 * rotation by the position delta (scaled/partial rotary), since cached-block re-encoding would be wrong.
 */
export function decoderShapeFromConfig(raw: Json): DecoderShape {
  const c: Json = typeof raw.text_config === 'object' && raw.text_config !== null ? { ...raw, ...(raw.text_config as Json) } : raw;
  const scaling = c.rope_scaling as Json | null | undefined;
  if (scaling !== null && scaling !== undefined) {
    const kind = String(scaling.rope_type ?? scaling.type ?? 'unknown');
    if (kind !== 'default') {
      throw new UnsupportedModelError(
        `rope_scaling of type "${kind}" is not supported (only plain RoPE, rope_scaling: null): cached keys could not be re-encoded exactly`,
      );
    }
  }
  const partial = c.partial_rotary_factor;
  if (typeof partial === 'number' && partial !== 1) throw new UnsupportedModelError(`partial_rotary_factor ${partial} is not supported (only full-width RoPE)`);
  const hidden = num(c, 'hidden_size');
  const heads = num(c, 'num_attention_heads');
  const shape: DecoderShape = {
    modelType: String(c.model_type ?? 'unknown'),
    layers: num(c, 'num_hidden_layers'),
    heads,
    kvHeads: num(c, 'num_key_value_heads', heads),
    headDim: num(c, 'head_dim', hidden / heads),
    hidden,
    intermediate: num(c, 'intermediate_size', 0),
    vocabSize: num(c, 'vocab_size'),
    ropeTheta: num(c, 'rope_theta', 10000),
    maxPositions: num(c, 'max_position_embeddings', 2048),
    tiedEmbeddings: c.tie_word_embeddings === true,
    bosTokenId: typeof c.bos_token_id === 'number' ? c.bos_token_id : null,
    eosTokenIds: ids(c.eos_token_id),
  };
  if (!Number.isInteger(shape.headDim) || shape.headDim % 2 !== 0) throw new UnsupportedModelError(`head_dim ${shape.headDim} must be an even integer`);
  if (shape.heads % shape.kvHeads !== 0) throw new UnsupportedModelError(`num_attention_heads ${heads} is not a multiple of num_key_value_heads ${shape.kvHeads}`);
  return shape;
}

/** KV bytes per token: layers x (key + value) x kvHeads x headDim x bytes per element. */
export function kvBytesPerToken(s: DecoderShape, bytesPerElement: number): number {
  return s.layers * 2 * s.kvHeads * s.headDim * bytesPerElement;
}
