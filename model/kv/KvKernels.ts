import * as ort from 'onnxruntime-node';
import { DataType, onnx, tensorValueInfo, type INodeProto, type IValueInfoProto } from '../onnx/proto.js';
import type { RotationRows } from './rope.js';

/**
 * Native (onnxruntime) kernels over cached KV data, each a tiny graph in its own session: RoPE re-encoding of
 * keys (com.microsoft RotaryEmbedding: vectorised, spread over the intra-op threads) and fp16 -> fp32 decoding
 * (Cast). They replace per-element JavaScript loops on the way to the first token. The rotation node is the one a
 * decoder graph would take to rotate past keys inside its own session, with the same per-token cos/sin rows.
 *
 * onnxruntime-node copies every fetched output into a fresh ArrayBuffer, so a kernel's output costs one copy:
 * callers feed small pieces (one cached block at a time) so that copy stays in cache.
 */
export class KvKernels {
  private readonly rotators = new Map<number, Promise<ort.InferenceSession>>();
  private caster: Promise<ort.InferenceSession> | null = null;

  /**
   * Rotates each layer's keys [kvHeads, len, headDim] by the per-token rows (`rows.cos/sin` are [len, headDim/2]).
   * Returns new arrays; the inputs are not modified.
   */
  async rotateKeys(keys: readonly Float32Array[], kvHeads: number, headDim: number, rows: RotationRows): Promise<Float32Array[]> {
    const half = headDim / 2;
    const len = rows.cos.length / half;
    if (!Number.isInteger(half) || !Number.isInteger(len) || rows.sin.length !== rows.cos.length) {
      throw new Error(`rotateKeys: cos/sin of ${rows.cos.length}/${rows.sin.length} values do not make [len, ${half}] rows`);
    }
    for (const [l, k] of keys.entries()) {
      if (k.length !== kvHeads * len * headDim) throw new Error(`rotateKeys: layer ${l} has ${k.length} values, expected ${kvHeads}x${len}x${headDim}`);
    }
    if (len === 0) return keys.map(() => new Float32Array(0));
    const session = await this.rotator(keys.length);
    const feeds: Record<string, ort.Tensor> = {
      offset: new ort.Tensor('int64', BigInt64Array.of(0n), [1]),
      cos: new ort.Tensor('float32', rows.cos, [len, half]),
      sin: new ort.Tensor('float32', rows.sin, [len, half]),
    };
    for (const [l, k] of keys.entries()) feeds[`key.${l}`] = new ort.Tensor('float32', k, [1, kvHeads, len, headDim]);
    const out = await session.run(feeds);
    return keys.map((_, l) => out[`rotated.${l}`].data as Float32Array);
  }

  /** IEEE binary16 bit patterns -> float32 (exact: every half is a float32). */
  async halfToFloat(half: Uint16Array): Promise<Float32Array> {
    if (half.length === 0) return new Float32Array(0);
    const out = await (await this.cast()).run({ half: new ort.Tensor('float16', half, [half.length]) });
    return out.float.data as Float32Array;
  }

  private rotator(layers: number): Promise<ort.InferenceSession> {
    let s = this.rotators.get(layers);
    if (!s) {
      const inputs = [tensorValueInfo('offset', DataType.INT64, [1]), tensorValueInfo('cos', DataType.FLOAT, ['len', 'half']), tensorValueInfo('sin', DataType.FLOAT, ['len', 'half'])];
      const outputs: IValueInfoProto[] = [];
      const nodes: INodeProto[] = [];
      for (let l = 0; l < layers; l++) {
        inputs.push(tensorValueInfo(`key.${l}`, DataType.FLOAT, [1, 'kv_heads', 'len', 'head_dim']));
        outputs.push(tensorValueInfo(`rotated.${l}`, DataType.FLOAT, [1, 'kv_heads', 'len', 'head_dim']));
        nodes.push(rotaryNode(`key.${l}`, 'offset', 'cos', 'sin', `rotated.${l}`, `rotary.${l}`));
      }
      s = createSession(nodes, inputs, outputs);
      this.rotators.set(layers, s);
      s.catch(() => this.rotators.delete(layers));
    }
    return s;
  }

  private cast(): Promise<ort.InferenceSession> {
    if (!this.caster) {
      const node: INodeProto = { opType: 'Cast', name: 'cast', input: ['half'], output: ['float'], attribute: [{ name: 'to', type: 2, i: DataType.FLOAT }] };
      this.caster = createSession([node], [tensorValueInfo('half', DataType.FLOAT16, ['n'])], [tensorValueInfo('float', DataType.FLOAT, ['n'])]);
      this.caster.catch(() => (this.caster = null));
    }
    return this.caster;
  }
}

/**
 * RoPE in the rotate-half layout on [batch, heads, len, head_dim] with cos/sin rows indexed by token
 * (`offset` is a [1] tensor holding 0: token t takes row t).
 */
export function rotaryNode(input: string, offset: string, cos: string, sin: string, output: string, name: string): INodeProto {
  return { opType: 'RotaryEmbedding', domain: 'com.microsoft', name, input: [input, offset, cos, sin], output: [output], attribute: [{ name: 'interleaved', type: 2, i: 0 }] };
}

function createSession(nodes: INodeProto[], inputs: IValueInfoProto[], outputs: IValueInfoProto[]): Promise<ort.InferenceSession> {
  const bytes = onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }, { domain: 'com.microsoft', version: 1 }],
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
