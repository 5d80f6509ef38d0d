/**
 * The ONNX export families users download, as the test-model builder replicates them. Each variant is written
 * under the file name the real exporter uses, with the same operators, dtypes and I/O signature (and nothing the
 * real export lacks: no `num_logits_to_keep`).
 */
export type VariantName = 'optimum-fp32' | 'optimum-fp16' | 'optimum-q4' | 'optimum-q4f16' | 'optimum-int8' | 'genai-gqa';

export interface VariantSpec {
  name: VariantName;
  /** `optimum`: per-layer MatMul + Softmax attention with a position_ids input; `genai`: onnxruntime-genai builder (fused GroupQueryAttention). */
  family: 'optimum' | 'genai';
  /** Path under the model folder. */
  file: string;
  /** Element type of activations and float weights inside the graph. */
  compute: 'fp32' | 'fp16';
  /** Element type of the KV cache inputs/outputs and logits (fp16 compute with fp32 I/O = keep_io_types). */
  io: 'fp32' | 'fp16';
  /** How linear layers are stored: float MatMul, MatMulNBits 4-bit (block 32), or dynamic int8 (MatMulInteger). */
  linear: 'float' | 'q4' | 'int8';
  /** Weights in a separate data file: genai always (`<file>.data`); optimum only past protobuf's 2 GiB (`<file>_data`). */
  externalData: 'always' | 'when-needed';
}

export const VARIANTS: Record<VariantName, VariantSpec> = {
  'optimum-fp32': { name: 'optimum-fp32', family: 'optimum', file: 'onnx/model.onnx', compute: 'fp32', io: 'fp32', linear: 'float', externalData: 'when-needed' },
  'optimum-fp16': { name: 'optimum-fp16', family: 'optimum', file: 'onnx/model_fp16.onnx', compute: 'fp16', io: 'fp32', linear: 'float', externalData: 'when-needed' },
  'optimum-q4': { name: 'optimum-q4', family: 'optimum', file: 'onnx/model_q4.onnx', compute: 'fp32', io: 'fp32', linear: 'q4', externalData: 'when-needed' },
  'optimum-q4f16': { name: 'optimum-q4f16', family: 'optimum', file: 'onnx/model_q4f16.onnx', compute: 'fp16', io: 'fp32', linear: 'q4', externalData: 'when-needed' },
  'optimum-int8': { name: 'optimum-int8', family: 'optimum', file: 'onnx/model_int8.onnx', compute: 'fp32', io: 'fp32', linear: 'int8', externalData: 'when-needed' },
  'genai-gqa': { name: 'genai-gqa', family: 'genai', file: 'onnx/model_q4f16.onnx', compute: 'fp16', io: 'fp16', linear: 'q4', externalData: 'always' },
};

export const VARIANT_NAMES = Object.keys(VARIANTS) as VariantName[];

export function isVariantName(s: string): s is VariantName {
  return Object.hasOwn(VARIANTS, s);
}

/** MatMulNBits block size and bits the exporters use by default (transformers.js quantize, genai builder int4). */
export const Q4_BLOCK = 32;
/** genai's builder sets accuracy_level 4 (int8 activations) for CPU; transformers.js leaves it unset. */
export const GENAI_Q4_ACCURACY_LEVEL = 4;
