import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { AutoConfig, AutoTokenizer, type PreTrainedTokenizer } from '@huggingface/transformers';
import { decoderShapeFromConfig, type DecoderShape } from './DecoderShape.js';
import { KvCache } from './kv/KvCache.js';
import { ensureAttentionTaps } from './onnx/AttentionTaps.js';

export interface DecoderLoadOptions {
  /** onnxruntime intra-op threads (0 = one per core). */
  intraOpThreads?: number;
  enableCpuMemArena?: boolean;
  /** Load the attention-tapped graph (writes/reuses model.taps.onnx) so `forward` can return attentions. */
  taps?: boolean;
  /** File under onnx/ (default model.onnx; e.g. model_quantized.onnx for downloaded exports). */
  onnxFile?: string;
}

export type LogitsMode = 'none' | 'last' | 'all';

export interface ForwardOptions {
  logits?: LogitsMode;
  attentions?: boolean;
  /**
   * Reference-mask models only: additive mask [S, past+S] (0 = attend, -inf/min = blocked).
   * Default: causal over past and the new tokens.
   */
  additiveMask?: Float32Array;
  /** 'new' (default): KV of the new tokens only; 'all': past + new as onnxruntime returns it (saves a copy when decoding). */
  present?: 'new' | 'all';
}

export interface ForwardResult {
  /** rows x vocab (rows = 1 for 'last', S for 'all'). */
  logits?: Float32Array;
  /** KV of the new tokens only, at the given positions (past + new with `present: 'all'`). */
  present: KvCache;
  /** Per layer [heads, S, past+S]. */
  attentions?: Float32Array[];
}

/**
 * A decoder-only model on onnxruntime-node with caller-controlled positions and KV (batch 1): the one small
 * layer that generator, compressor and reranker run forward passes through. Loads both our built test models
 * and optimum exports (same I/O signature).
 */
export class DecoderModel {
  /** Forward calls made so far (each one onnxruntime session run): what tests count model passes by. */
  forwardCalls = 0;

  private constructor(
    readonly dir: string,
    readonly config: DecoderShape,
    readonly tokenizer: PreTrainedTokenizer,
    private readonly session: ort.InferenceSession,
    readonly onnxPath: string,
    /** Attention outputs in layer order (empty without taps). */
    readonly attentionOutputs: string[],
    private readonly io: { logitsToKeepInput: string | null; positionIds: boolean; referenceMask: boolean },
  ) {}

  static async load(dir: string, opts: DecoderLoadOptions = {}): Promise<DecoderModel> {
    const abs = path.resolve(dir);
    const rawConfig = (await AutoConfig.from_pretrained(abs, { local_files_only: true })) as unknown as Record<string, unknown>;
    const config = decoderShapeFromConfig(rawConfig);
    const tokenizer = await AutoTokenizer.from_pretrained(abs, { local_files_only: true });
    const sourcePath = path.join(abs, 'onnx', opts.onnxFile ?? 'model.onnx');
    if (!fs.existsSync(sourcePath)) throw new Error(`${sourcePath} not found (expected a Hugging Face/optimum layout with onnx/ inside ${abs})`);
    const tapped = opts.taps ? ensureAttentionTaps(sourcePath) : null;
    const onnxPath = tapped?.path ?? sourcePath;
    const session = await ort.InferenceSession.create(onnxPath, {
      intraOpNumThreads: opts.intraOpThreads ?? 0,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      enableCpuMemArena: opts.enableCpuMemArena ?? true,
      graphOptimizationLevel: 'all',
    });
    const inputs = new Set(session.inputNames);
    for (const required of ['input_ids', 'attention_mask', 'past_key_values.0.key']) {
      if (!inputs.has(required)) throw new Error(`${onnxPath}: input "${required}" missing; expected the optimum decoder signature (with past)`);
    }
    const maskMeta = session.inputMetadata.find((m) => m.name === 'attention_mask');
    const referenceMask = !!maskMeta && maskMeta.isTensor && maskMeta.type === 'float32';
    const logitsToKeepInput = ['num_logits_to_keep', 'logits_to_keep'].find((n) => inputs.has(n)) ?? null;
    const standard = new Set(['logits', ...session.outputNames.filter((n) => n.startsWith('present.'))]);
    const extra = session.outputNames.filter((n) => !standard.has(n));
    // Built models with attention outputs list them in layer order already; tapped exports were ordered by the rewriter.
    const attentionOutputs = tapped ? tapped.outputs : extra;
    return new DecoderModel(abs, config, tokenizer, session, onnxPath, attentionOutputs, {
      logitsToKeepInput,
      positionIds: inputs.has('position_ids'),
      referenceMask,
    });
  }

  get hasAttentions(): boolean {
    return this.attentionOutputs.length === this.config.layers;
  }

  get isReferenceMaskModel(): boolean {
    return this.io.referenceMask;
  }

  async forward(inputIds: ArrayLike<number>, positionIds: ArrayLike<number>, past: KvCache | null, opts: ForwardOptions = {}): Promise<ForwardResult> {
    const S = inputIds.length;
    if (S === 0) throw new Error('forward: no input tokens');
    if (positionIds.length !== S) throw new Error(`forward: ${positionIds.length} positions for ${S} tokens`);
    const { layers, kvHeads, headDim, heads, vocabSize } = this.config;
    const P = past?.length ?? 0;
    const T = P + S;
    const logitsMode = opts.logits ?? 'last';
    if (opts.attentions && !this.hasAttentions) throw new Error('forward: attentions requested but the model was loaded without taps (load with {taps: true})');

    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(Array.from(inputIds, (v) => BigInt(v))), [1, S]),
    };
    if (this.io.referenceMask) {
      let mask = opts.additiveMask;
      if (!mask) {
        mask = new Float32Array(S * T);
        for (let i = 0; i < S; i++) for (let j = P + i + 1; j < T; j++) mask[i * T + j] = -3.4028234663852886e38;
      }
      if (mask.length !== S * T) throw new Error(`forward: additiveMask has ${mask.length} values, expected ${S}x${T}`);
      feeds.attention_mask = new ort.Tensor('float32', mask, [1, 1, S, T]);
    } else {
      if (opts.additiveMask) throw new Error('forward: additiveMask needs a reference-mask model');
      feeds.attention_mask = new ort.Tensor('int64', new BigInt64Array(T).fill(1n), [1, T]);
    }
    if (this.io.positionIds) feeds.position_ids = new ort.Tensor('int64', BigInt64Array.from(Array.from(positionIds, (v) => BigInt(v))), [1, S]);
    if (this.io.logitsToKeepInput) {
      feeds[this.io.logitsToKeepInput] = new ort.Tensor('int64', BigInt64Array.of(logitsMode === 'all' ? 0n : 1n), []);
    }
    if (past && (past.layerCount !== layers || past.kvHeads !== kvHeads || past.headDim !== headDim)) {
      throw new Error(`forward: past cache shape ${past.layerCount}x${past.kvHeads}x${past.headDim} does not match the model ${layers}x${kvHeads}x${headDim}`);
    }
    for (let i = 0; i < layers; i++) {
      feeds[`past_key_values.${i}.key`] = new ort.Tensor('float32', past ? past.layers[i].key : new Float32Array(0), [1, kvHeads, P, headDim]);
      feeds[`past_key_values.${i}.value`] = new ort.Tensor('float32', past ? past.layers[i].value : new Float32Array(0), [1, kvHeads, P, headDim]);
    }

    const fetches: string[] = [];
    if (logitsMode !== 'none') fetches.push('logits');
    for (let i = 0; i < layers; i++) fetches.push(`present.${i}.key`, `present.${i}.value`);
    if (opts.attentions) fetches.push(...this.attentionOutputs);
    this.forwardCalls++;
    const out = await this.session.run(feeds, fetches);

    // present = past + new along the token axis; keep the new tokens only.
    const newOnly = (t: ort.Tensor): Float32Array => {
      const data = t.data as Float32Array;
      if (P === 0) return data;
      const res = new Float32Array(kvHeads * S * headDim);
      for (let h = 0; h < kvHeads; h++) res.set(data.subarray((h * T + P) * headDim, (h * T + T) * headDim), h * S * headDim);
      return res;
    };
    const all = opts.present === 'all' && P > 0;
    const present = new KvCache(
      Array.from({ length: layers }, (_, i) => {
        const [k, v] = [out[`present.${i}.key`], out[`present.${i}.value`]];
        return all ? { key: k.data as Float32Array, value: v.data as Float32Array } : { key: newOnly(k), value: newOnly(v) };
      }),
      kvHeads,
      headDim,
      all ? Int32Array.from([...(past as KvCache).positions, ...Array.from(positionIds)]) : Int32Array.from(positionIds),
    );
    const result: ForwardResult = { present };
    if (logitsMode !== 'none') {
      const logits = out.logits.data as Float32Array;
      const rows = logits.length / vocabSize;
      result.logits = logitsMode === 'last' && rows > 1 ? logits.slice((rows - 1) * vocabSize) : logits;
    }
    if (opts.attentions) {
      result.attentions = this.attentionOutputs.map((name) => {
        const t = out[name];
        if (t.dims.length !== 4 || t.dims[1] !== heads || t.dims[2] !== S || t.dims[3] !== T) {
          throw new Error(`attention output ${name} has shape [${t.dims.join(',')}], expected [1,${heads},${S},${T}]`);
        }
        return t.data as Float32Array;
      });
    }
    return result;
  }

  /** Frees the native session. */
  async release(): Promise<void> {
    await this.session.release();
  }
}
