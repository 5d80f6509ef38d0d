import fs from 'node:fs';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import { fromHalfBits } from '../../model/kv/half.js';

/**
 * The float64 weights a variant file actually computes with, by Hugging Face name, decoded from the file per the
 * operator specs (not with the builder's code): float32 and float16 initializers as stored; MatMulNBits weights
 * dequantized as (q - zero_point) * scale per block (default zero point 8); dynamic-int8 weights as
 * (q - zero_point) * scale; genai's packed QKV split back into q/k/v. Small test models only (decodes the file whole).
 */
const { onnx } = onnxProto;
const DT = onnx.TensorProto.DataType;

function tensorBytes(t: onnxProto.onnx.ITensorProto, dir: string): Uint8Array {
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    const kv = Object.fromEntries((t.externalData ?? []).map((e) => [e.key, e.value]));
    const fd = fs.openSync(path.join(dir, String(kv.location)), 'r');
    const bytes = Buffer.alloc(Number(kv.length));
    fs.readSync(fd, bytes, 0, bytes.length, Number(kv.offset ?? 0));
    fs.closeSync(fd);
    return bytes;
  }
  return t.rawData ?? new Uint8Array(0);
}

function toFloat64(t: onnxProto.onnx.ITensorProto, dir: string): Float64Array {
  const b = new Uint8Array(tensorBytes(t, dir)); // aligned copy
  const view = new DataView(b.buffer);
  switch (t.dataType) {
    case DT.FLOAT:
      return Float64Array.from({ length: b.length / 4 }, (_, i) => view.getFloat32(4 * i, true));
    case DT.FLOAT16:
      return Float64Array.from({ length: b.length / 2 }, (_, i) => fromHalfBits(view.getUint16(2 * i, true)));
    case DT.INT8:
      return Float64Array.from({ length: b.length }, (_, i) => view.getInt8(i));
    case DT.UINT8:
      return Float64Array.from(b);
    default:
      throw new Error(`variantWeights: ${t.name} has data type ${t.dataType}`);
  }
}

export interface VariantWeights {
  weights: Map<string, Float64Array>;
  /** The graph computes the LM head from its own (possibly quantized) lm_head weight rather than the tied embedding. */
  ownLmHead: boolean;
}

export function loadVariantWeights(dir: string, onnxFile: string): VariantWeights {
  const modelPath = path.join(dir, onnxFile);
  const graph = onnx.ModelProto.decode(fs.readFileSync(modelPath)).graph as onnxProto.onnx.IGraphProto;
  const fileDir = path.dirname(modelPath);
  const inits = new Map((graph.initializer ?? []).map((t) => [t.name as string, t]));
  const f64 = (name: string): Float64Array => {
    const t = inits.get(name);
    if (!t) throw new Error(`variantWeights: no initializer ${name}`);
    return toFloat64(t, fileDir);
  };
  const attr = (n: onnxProto.onnx.INodeProto, name: string): number => Number((n.attribute ?? []).find((a) => a.name === name)?.i ?? 0);
  const out = new Map<string, Float64Array>();
  const consumed = new Set<string>();

  for (const n of graph.node ?? []) {
    const inputs = n.input ?? [];
    if (n.opType === 'MatMulNBits') {
      const K = attr(n, 'K');
      const N = attr(n, 'N');
      const bits = attr(n, 'bits') || 4;
      const block = attr(n, 'block_size');
      if (bits !== 4) throw new Error('variantWeights: only 4-bit MatMulNBits');
      const kBlocks = Math.ceil(K / block);
      const q = new Uint8Array(tensorBytes(inits.get(inputs[1]) as onnxProto.onnx.ITensorProto, fileDir));
      const scales = f64(inputs[2]);
      const zp = inputs[3] ? new Uint8Array(tensorBytes(inits.get(inputs[3]) as onnxProto.onnx.ITensorProto, fileDir)) : null;
      const w = new Float64Array(K * N); // [K, N]
      for (let nn = 0; nn < N; nn++) {
        for (let b = 0; b < kBlocks; b++) {
          const z = zp ? (zp[nn * Math.ceil(kBlocks / 2) + (b >> 1)] >> ((b & 1) * 4)) & 0xf : 8;
          for (let i = 0; i < block && b * block + i < K; i++) {
            const byte = q[(nn * kBlocks + b) * (block / 2) + (i >> 1)];
            const v = (byte >> ((i & 1) * 4)) & 0xf;
            w[(b * block + i) * N + nn] = (v - z) * scales[nn * kBlocks + b];
          }
        }
      }
      out.set(inputs[1].replace(/_Q4$/, ''), w);
      for (const i of inputs.slice(1)) consumed.add(i);
    } else if (n.opType === 'MatMulInteger') {
      const name = inputs[1].replace(/_quantized$/, '');
      const q = f64(inputs[1]);
      const zp = inputs[3] ? f64(inputs[3])[0] : 0;
      const scale = f64(`${name}_scale`)[0];
      out.set(name, q.map((v) => (v - zp) * scale));
      for (const i of [inputs[1], inputs[3], `${name}_scale`]) consumed.add(i);
    }
  }
  for (const [name, t] of inits) {
    if (consumed.has(name) || out.has(name)) continue;
    if (t.dataType === DT.FLOAT || t.dataType === DT.FLOAT16) out.set(name, toFloat64(t, fileDir));
  }
  // genai: packed QKV [H, (heads + 2 kv) * D] and its bias, split into the three projections.
  for (const name of [...out.keys()]) {
    const m = /^model\.layers\.(\d+)\.attn\.qkv_proj\.(weight|bias)$/.exec(name);
    if (!m) continue;
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, number>;
    const D = cfg.hidden_size / cfg.num_attention_heads;
    const cols = [cfg.num_attention_heads * D, cfg.num_key_value_heads * D, cfg.num_key_value_heads * D];
    const total = cols[0] + cols[1] + cols[2];
    const packed = out.get(name) as Float64Array;
    const rows = packed.length / total;
    let at = 0;
    for (const [k, proj] of ['q_proj', 'k_proj', 'v_proj'].entries()) {
      const part = new Float64Array(rows * cols[k]);
      for (let r = 0; r < rows; r++) part.set(packed.subarray(r * total + at, r * total + at + cols[k]), r * cols[k]);
      out.set(`model.layers.${m[1]}.self_attn.${proj}.${m[2]}`, part);
      at += cols[k];
    }
  }
  return { weights: out, ownLmHead: out.has('lm_head.weight') };
}
