import fs from 'node:fs';
import path from 'node:path';
import { DataType, onnx, tensorValueInfo, type IGraphProto } from './proto.js';
import { DomainError } from '../../infra/errors.js';
import { writeFileAtomicSync } from '../../infra/atomicWrite.js';

/** The graph cannot expose attention (e.g. a fused export): asking for attention scoring is then a request this model cannot serve. */
export class AttentionTapError extends DomainError {
  constructor(message: string) {
    super('invalid', message);
  }
}

export interface TappedModel {
  /** The rewritten model (`model.taps.onnx` next to the source, so external-data locations still resolve). */
  path: string;
  /** Attention-probability output names, one per layer, in layer order. */
  outputs: string[];
  /** True when an up-to-date rewritten file was reused. */
  cached: boolean;
}

const FUSED_ATTENTION_OPS = ['GroupQueryAttention', 'MultiHeadAttention', 'Attention', 'PackedAttention', 'PackedMultiHeadAttention', 'SparseAttention'];
const MODEL_GRAPH_FIELD = 7;
const GRAPH_OUTPUT_FIELD = 12;

/** Path of the tapped variant of `modelPath` (`model.onnx` -> `model.taps.onnx`). */
export function tapsPathFor(modelPath: string): string {
  return path.join(path.dirname(modelPath), `${path.basename(modelPath, '.onnx')}.taps.onnx`);
}

/**
 * Finds each layer's attention Softmax, in layer order. Optimum exports (and our builder) have exactly one
 * Softmax per decoder layer; fused-attention graphs have none, and their probabilities cannot be read.
 */
export function findAttentionSoftmaxOutputs(graph: IGraphProto): string[] {
  const nodes = graph.node ?? [];
  const softmax = nodes.filter((n) => n.opType === 'Softmax' && (!n.domain || n.domain === 'ai.onnx'));
  if (softmax.length === 0) {
    const fused = [...new Set(nodes.filter((n) => FUSED_ATTENTION_OPS.includes(n.opType ?? '')).map((n) => `${n.domain ? n.domain + '.' : ''}${n.opType}`))];
    throw new AttentionTapError(
      fused.length > 0
        ? `cannot tap attention: the graph uses fused attention (${fused.join(', ')}) and has no Softmax whose output could be read; use an unfused export (optimum without attention fusion)`
        : 'cannot tap attention: the graph has no Softmax node (not an unfused decoder export)',
    );
  }
  const layerOf = (name: string): number | null => {
    const m = /layers?[._/](\d+)\b/.exec(name);
    return m ? Number(m[1]) : null;
  };
  const entries = softmax.map((n, order) => ({ output: (n.output ?? [])[0], layer: layerOf(n.name ?? '') ?? layerOf((n.output ?? [])[0] ?? ''), order }));
  if (entries.every((e) => e.layer !== null)) {
    const seen = new Map<number, string>();
    for (const e of entries) {
      if (seen.has(e.layer as number)) throw new AttentionTapError(`cannot tap attention: layer ${e.layer} has more than one Softmax (${seen.get(e.layer as number)}, ${e.output})`);
      seen.set(e.layer as number, e.output);
    }
    entries.sort((a, b) => (a.layer as number) - (b.layer as number));
  }
  return entries.map((e) => e.output);
}

/** Protobuf varint at `pos`; numbers stay exact up to 2^53 (files over 2 GB are not possible anyway). */
function readVarint(buf: Uint8Array, pos: number): { value: number; next: number } {
  let value = 0;
  let scale = 1;
  for (let i = pos; i < buf.length; i++) {
    value += (buf[i] & 0x7f) * scale;
    if ((buf[i] & 0x80) === 0) return { value, next: i + 1 };
    scale *= 128;
  }
  throw new AttentionTapError('truncated protobuf varint');
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}

/** Locates ModelProto.graph (field 7) in the serialized model without decoding anything else. */
function locateGraphField(buf: Buffer): { tagStart: number; dataStart: number; dataEnd: number } {
  let pos = 0;
  while (pos < buf.length) {
    const tagStart = pos;
    const tag = readVarint(buf, pos);
    pos = tag.next;
    const field = Math.floor(tag.value / 8);
    const wire = tag.value % 8;
    if (wire === 0) pos = readVarint(buf, pos).next;
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const len = readVarint(buf, pos);
      if (field === MODEL_GRAPH_FIELD) return { tagStart, dataStart: len.next, dataEnd: len.next + len.value };
      pos = len.next + len.value;
    } else throw new AttentionTapError(`unexpected protobuf wire type ${wire} in ModelProto`);
  }
  throw new AttentionTapError('model has no graph');
}

/**
 * Returns `model` with extra graph outputs appended at the byte level: repeated fields may appear anywhere in
 * a message, so appending `GraphProto.output` entries at the end of the graph is valid protobuf and leaves every
 * other byte (including fields newer than our schema) untouched.
 */
export function appendGraphOutputs(model: Buffer, outputs: { name: string; elemType: number }[]): Buffer {
  const g = locateGraphField(model);
  const extra = Buffer.concat(
    outputs.flatMap((o) => {
      const vi = Buffer.from(onnx.ValueInfoProto.encode(tensorValueInfo(o.name, o.elemType, null)).finish());
      return [varint(GRAPH_OUTPUT_FIELD * 8 + 2), varint(vi.length), vi];
    }),
  );
  const newLen = g.dataEnd - g.dataStart + extra.length;
  return Buffer.concat([
    model.subarray(0, g.tagStart),
    varint(MODEL_GRAPH_FIELD * 8 + 2),
    varint(newLen),
    model.subarray(g.dataStart, g.dataEnd),
    extra,
    model.subarray(g.dataEnd),
  ]);
}

function elemTypeOf(graph: IGraphProto, name: string): number {
  const known = [...(graph.valueInfo ?? []), ...(graph.output ?? [])].find((v) => v.name === name);
  const t = known?.type?.tensorType?.elemType;
  if (typeof t === 'number' && t !== 0) return t;
  // Attention probabilities have the precision of the cache.
  const kv = (graph.input ?? []).find((v) => v.name?.startsWith('past_key_values.'));
  return kv?.type?.tensorType?.elemType ?? DataType.FLOAT;
}

/**
 * Writes (or reuses, when newer than the source) `model.taps.onnx`: the source model with every layer's
 * attention Softmax output added to graph.output, in layer order.
 */
export function ensureAttentionTaps(modelPath: string): TappedModel {
  const target = tapsPathFor(modelPath);
  const source = fs.readFileSync(modelPath);
  // Decode only to read node names; the rewritten bytes never pass through the (older) schema.
  const graph = onnx.ModelProto.decode(source).graph;
  if (!graph) throw new AttentionTapError(`${modelPath}: no graph`);
  const softmaxOutputs = findAttentionSoftmaxOutputs(graph);
  if (fs.existsSync(target) && fs.statSync(target).mtimeMs >= fs.statSync(modelPath).mtimeMs) {
    return { path: target, outputs: softmaxOutputs, cached: true };
  }
  const existing = new Set((graph.output ?? []).map((o) => o.name));
  const missing = softmaxOutputs.filter((n) => !existing.has(n)).map((name) => ({ name, elemType: elemTypeOf(graph, name) }));
  const rewritten = appendGraphOutputs(source, missing);
  writeFileAtomicSync(target, rewritten);
  return { path: target, outputs: softmaxOutputs, cached: false };
}
