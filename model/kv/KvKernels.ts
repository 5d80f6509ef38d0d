import * as ort from 'onnxruntime-node';
import { DataType, onnx, tensorValueInfo, type INodeProto, type IValueInfoProto } from '../onnx/proto.js';

/**
 * Native (onnxruntime) kernels for the disk tier's fp16 form, each a tiny graph in its own session: vectorised
 * fp16 <-> fp32 conversion (Cast) instead of a JavaScript loop over every element, about twice as fast for a
 * block read from disk and far faster for a block written.
 *
 * Why not RoPE re-encoding too: onnxruntime-node copies every fetched output into a fresh ArrayBuffer, so a kernel
 * that rotates keys adds a copy to an assembly that is already bound by memory traffic (laying the context out is
 * itself a copy): in one process it cost 79 vs 57 ms of CPU at 2K and 320 vs 189 ms at 8K against the JavaScript
 * layout (commit 31a32b5 has it). Conversions pay that copy once, and it is the fresh block the caller needs anyway.
 */
export class KvKernels {
  private toFloat: Promise<ort.InferenceSession> | null = null;
  private toHalf: Promise<ort.InferenceSession> | null = null;

  /** IEEE binary16 bit patterns -> float32 (exact: every half is a float32). */
  async halfToFloat(half: Uint16Array): Promise<Float32Array> {
    if (half.length === 0) return new Float32Array(0);
    const out = await (await this.toFloatSession()).run({ half: new ort.Tensor('float16', half, [half.length]) });
    return out.float.data as Float32Array;
  }

  /**
   * float32 -> IEEE binary16 bit patterns, rounding to nearest even (same bits as `toHalfBits`), and whether a finite
   * value overflowed to infinity (fp16 tops out at 65504).
   */
  async floatToHalf(values: Float32Array): Promise<{ half: Uint16Array; overflow: boolean }> {
    if (values.length === 0) return { half: new Uint16Array(0), overflow: false };
    const out = await (await this.toHalfSession()).run({ float: new ort.Tensor('float32', values, [values.length]) });
    return { half: out.half.data as Uint16Array, overflow: (out.overflow.data as Float32Array)[0] > 0 };
  }

  private toFloatSession(): Promise<ort.InferenceSession> {
    if (!this.toFloat) {
      const node: INodeProto = { opType: 'Cast', name: 'cast', input: ['half'], output: ['float'], attribute: [{ name: 'to', type: 2, i: DataType.FLOAT }] };
      this.toFloat = createSession([node], [tensorValueInfo('half', DataType.FLOAT16, ['n'])], [tensorValueInfo('float', DataType.FLOAT, ['n'])]);
      this.toFloat.catch(() => (this.toFloat = null));
    }
    return this.toFloat;
  }

  private toHalfSession(): Promise<ort.InferenceSession> {
    if (!this.toHalf) {
      const cast = (input: string, to: number, output: string): INodeProto => ({ opType: 'Cast', name: output, input: [input], output: [output], attribute: [{ name: 'to', type: 2, i: to }] });
      const op = (opType: string, input: string[], output: string): INodeProto => ({ opType, name: output, input, output: [output] });
      const nodes: INodeProto[] = [
        cast('float', DataType.FLOAT16, 'half'),
        cast('half', DataType.FLOAT, 'back'),
        op('IsInf', ['back'], 'half_inf'),
        op('IsInf', ['float'], 'float_inf'),
        op('Not', ['float_inf'], 'float_finite'),
        op('And', ['half_inf', 'float_finite'], 'overflowed'),
        cast('overflowed', DataType.FLOAT, 'overflowed_f'),
        { opType: 'ReduceMax', name: 'overflow', input: ['overflowed_f'], output: ['overflow'], attribute: [{ name: 'keepdims', type: 2, i: 0 }] },
      ];
      this.toHalf = createSession(nodes, [tensorValueInfo('float', DataType.FLOAT, ['n'])], [tensorValueInfo('half', DataType.FLOAT16, ['n']), tensorValueInfo('overflow', DataType.FLOAT, [])]);
      this.toHalf.catch(() => (this.toHalf = null));
    }
    return this.toHalf;
  }
}

function createSession(nodes: INodeProto[], inputs: IValueInfoProto[], outputs: IValueInfoProto[]): Promise<ort.InferenceSession> {
  const bytes = onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: 'rag-longctx kv kernels',
    graph: { name: 'kv_kernel', node: nodes, input: inputs, output: outputs },
  }).finish();
  return ort.InferenceSession.create(Buffer.from(bytes), {
    intraOpNumThreads: 0,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // A kernel runs between decoder passes: threads that spin after it would only take cores from the decoder.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
}

/** The process's kernels (sessions are created on first use and live as long as the process). */
export const kvKernels = new KvKernels();
