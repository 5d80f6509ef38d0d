import { MS_DOMAIN, type GraphBuilder } from '../onnx/GraphBuilder.js';
import { DataType } from '../onnx/proto.js';
import { float32ToHalf } from '../kv/half.js';
import { quantizeInt4, quantizeInt8 } from './quantize.js';
import { GENAI_Q4_ACCURACY_LEVEL, Q4_BLOCK, type VariantSpec } from './variants.js';
import type { WeightSink } from './WeightSpool.js';

/** onnxconverter-common's float16 conversion clamps constants to this magnitude (and tiny ones up to 1e-7). */
const FP16_MAX_FINITE = 1e4;
const FP16_MIN_POSITIVE = 1e-7;

function clampForHalf(v: Float32Array): Float32Array {
  return v.map((x) => (x === 0 || Number.isNaN(x) ? x : Math.sign(x) * Math.min(FP16_MAX_FINITE, Math.max(FP16_MIN_POSITIVE, Math.abs(x)))));
}

/**
 * How a variant stores and computes: the element type of weights and activations, the casts at the graph's edges
 * when compute and I/O differ (keep_io_types), and how a linear layer is emitted (float MatMul, MatMulNBits, or
 * onnxruntime quantize_dynamic's DynamicQuantizeLinear + MatMulInteger chain). Every variant quantizes the same
 * seeded fp32 weights, so they are one model at different precisions.
 */
export class Numerics {
  /** Element type inside the graph. */
  readonly F: number;
  /** Element type of the KV cache I/O and logits. */
  readonly io: number;
  private readonly dynamicQuant = new Map<string, [string, string, string]>();

  constructor(
    private readonly g: GraphBuilder,
    private readonly sink: WeightSink,
    readonly spec: VariantSpec,
  ) {
    this.F = spec.compute === 'fp16' ? DataType.FLOAT16 : DataType.FLOAT;
    this.io = spec.io === 'fp16' ? DataType.FLOAT16 : DataType.FLOAT;
    if (spec.linear === 'int8' && spec.compute !== 'fp32') throw new Error('dynamic int8 quantization needs fp32 compute');
  }

  private bytesOf(values: Float32Array): { dataType: number; bytes: Uint8Array } {
    if (this.F === DataType.FLOAT) return { dataType: DataType.FLOAT, bytes: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) };
    const h = float32ToHalf(clampForHalf(values));
    return { dataType: DataType.FLOAT16, bytes: new Uint8Array(h.buffer) };
  }

  /** A float weight (embedding, norm, bias) in the compute type, stored through the sink. */
  weight(name: string, dims: number[], values: Float32Array): string {
    const { dataType, bytes } = this.bytesOf(values);
    return this.g.initializer(this.sink.raw(name, dims, dataType, bytes));
  }

  /** A small float constant in the compute type, kept inside the model file. */
  constant(name: string, values: ArrayLike<number>, dims: number[] = [values.length]): string {
    const { dataType, bytes } = this.bytesOf(Float32Array.from(values));
    return this.g.initializer({ name, dataType, dims, rawData: bytes });
  }

  /** Casts an I/O-typed tensor to the compute type (no node when they agree). */
  fromIo(x: string, scope: string): string {
    return this.F === this.io ? x : this.g.op('Cast', [x], `${scope}/Cast_to_compute`, { to: this.F });
  }

  /**
   * Makes the graph output `name` from a compute-typed tensor built by `make`: `make` names its result `name` when no
   * cast follows (`outName`), else the result is cast to the I/O type under that name. Returns the compute-typed tensor.
   */
  toIo(name: string, scope: string, make: (outName: string | null) => string): string {
    if (this.F === this.io) return make(name);
    const value = make(null);
    this.g.opNamed('Cast', [value], `${scope}/Cast_to_io`, name, { to: this.io });
    return value;
  }

  /**
   * x [.., K] times the weight w ([K, N] row-major, from the fp32 generator) as the variant stores it; `outName`
   * names the result (a graph output) when given.
   */
  linear(x: string, weightName: string, w: Float32Array, K: number, N: number, scope: string, outName: string | null = null): string {
    const node = (op: string, inputs: string[], name: string, attrs = {}, domain = ''): string =>
      this.g.node(op, inputs, name, attrs, outName ? [outName] : 1, domain)[0];
    if (this.spec.linear === 'float') return node('MatMul', [x, this.weight(weightName, [K, N], w)], `${scope}/MatMul`);
    if (this.spec.linear === 'q4') {
      const q = quantizeInt4(w, K, N, Q4_BLOCK, true);
      const b = this.g.initializer(this.sink.raw(`${weightName}_Q4`, [N, q.kBlocks, Q4_BLOCK / 2], DataType.UINT8, q.data));
      const { dataType, bytes } = this.bytesOf(q.scales);
      const scales = this.g.initializer(this.sink.raw(`${weightName}_scales`, [N, q.kBlocks], dataType, bytes));
      const inputs = [x, b, scales];
      if (q.zeroPoints) inputs.push(this.g.initializer(this.sink.raw(`${weightName}_zero_points`, [N, Math.ceil(q.kBlocks / 2)], DataType.UINT8, q.zeroPoints)));
      const attrs: Record<string, number> = { K, N, bits: 4, block_size: Q4_BLOCK };
      if (this.spec.family === 'genai') attrs.accuracy_level = GENAI_Q4_ACCURACY_LEVEL;
      return node('MatMulNBits', inputs, `${scope}/MatMul_Q4`, attrs, MS_DOMAIN);
    }
    // quantize_dynamic: one DynamicQuantizeLinear per activation (shared by q/k/v), MatMulInteger, then rescale.
    const q = quantizeInt8(w);
    const wq = this.g.initializer(this.sink.raw(`${weightName}_quantized`, [K, N], DataType.INT8, new Uint8Array(q.data.buffer)));
    const ws = this.g.float(`${weightName}_scale`, [q.scale], []);
    const wzp = this.g.initializer({ name: `${weightName}_zero_point`, dataType: DataType.INT8, dims: [], rawData: new Uint8Array(1) });
    let dq = this.dynamicQuant.get(x);
    if (!dq) {
      const [a, s, z] = this.g.node('DynamicQuantizeLinear', [x], `${x}_QuantizeLinear`, {}, [`${x}_quantized`, `${x}_scale`, `${x}_zero_point`]);
      dq = [a, s, z];
      this.dynamicQuant.set(x, dq);
    }
    const mm = this.g.op('MatMulInteger', [dq[0], wq, dq[2], wzp], `${scope}/MatMul_quant`);
    const asFloat = this.g.op('Cast', [mm], `${scope}/MatMul_output_cast`, { to: DataType.FLOAT });
    const scale = this.g.op('Mul', [dq[1], ws], `${scope}/MatMul_scales_mul`);
    return node('Mul', [asFloat, scale], `${scope}/MatMul_output_scale_mul`);
  }
}
