import fs from 'node:fs';
import path from 'node:path';
import { loadVariantWeights } from './variantWeights.js';

/**
 * Independent float64 reference forward pass of the built Llama/Qwen2 test decoder, written from the math
 * (HF modeling_llama semantics), reading only the weights from the ONNX initializers. It shares no code with
 * the builder or the runtime, so agreement is evidence that both are right.
 */

export interface ReferenceConfig {
  layers: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocabSize: number;
  intermediate: number;
  ropeTheta: number;
  eps: number;
  tied: boolean;
}

export interface ReferenceLayerOut {
  /** [heads, S, D] rotated queries. */
  q: Float64Array;
  /** New keys (rotated) and values, [kvHeads, S, D]. */
  key: Float64Array;
  value: Float64Array;
  /** Attention probabilities [heads, S, T]. */
  probs: Float64Array;
}

export interface ReferenceOut {
  logits: Float64Array; // [S, V]
  layers: ReferenceLayerOut[];
}

export class ReferenceDecoder {
  private constructor(
    readonly cfg: ReferenceConfig,
    private readonly w: Map<string, Float64Array>,
  ) {}

  /** Reads the weights `onnxFile` computes with (any variant: dequantized per the operator specs, see variantWeights). */
  static load(dir: string, onnxFile = 'onnx/model.onnx'): ReferenceDecoder {
    const c = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, number | boolean>;
    const cfg: ReferenceConfig = {
      layers: c.num_hidden_layers as number,
      hidden: c.hidden_size as number,
      heads: c.num_attention_heads as number,
      kvHeads: c.num_key_value_heads as number,
      headDim: (c.hidden_size as number) / (c.num_attention_heads as number),
      vocabSize: c.vocab_size as number,
      intermediate: c.intermediate_size as number,
      ropeTheta: c.rope_theta as number,
      eps: c.rms_norm_eps as number,
      tied: c.tie_word_embeddings as boolean,
    };
    const { weights, ownLmHead } = loadVariantWeights(dir, onnxFile);
    return new ReferenceDecoder({ ...cfg, tied: cfg.tied && !ownLmHead }, weights);
  }

  private get(name: string): Float64Array {
    const v = this.w.get(name);
    if (!v) throw new Error(`reference: initializer ${name} not found`);
    return v;
  }

  /** x [S, inDim] times W stored [inDim, outDim] (+ bias). */
  private linear(x: Float64Array, S: number, inDim: number, outDim: number, wName: string, bName?: string): Float64Array {
    const W = this.get(wName);
    const b = bName && this.w.has(bName) ? this.get(bName) : null;
    const y = new Float64Array(S * outDim);
    for (let s = 0; s < S; s++) {
      for (let i = 0; i < inDim; i++) {
        const xv = x[s * inDim + i];
        const row = i * outDim;
        for (let o = 0; o < outDim; o++) y[s * outDim + o] += xv * W[row + o];
      }
      if (b) for (let o = 0; o < outDim; o++) y[s * outDim + o] += b[o];
    }
    return y;
  }

  private rmsNorm(x: Float64Array, S: number, wName: string): Float64Array {
    const H = this.cfg.hidden;
    const w = this.get(wName);
    const y = new Float64Array(x.length);
    for (let s = 0; s < S; s++) {
      let ss = 0;
      for (let i = 0; i < H; i++) ss += x[s * H + i] ** 2;
      const inv = 1 / Math.sqrt(ss / H + this.cfg.eps);
      for (let i = 0; i < H; i++) y[s * H + i] = x[s * H + i] * inv * w[i];
    }
    return y;
  }

  /** RoPE (rotate-half) of x [S, nHeads*D] laid out to [nHeads, S, D]. */
  private headsRope(x: Float64Array, S: number, nHeads: number, positions: ArrayLike<number>, rotate: boolean): Float64Array {
    const D = this.cfg.headDim;
    const half = D / 2;
    const out = new Float64Array(nHeads * S * D);
    for (let h = 0; h < nHeads; h++) {
      for (let s = 0; s < S; s++) {
        const src = s * nHeads * D + h * D;
        const dst = (h * S + s) * D;
        for (let i = 0; i < half; i++) {
          const x1 = x[src + i];
          const x2 = x[src + i + half];
          if (!rotate) {
            out[dst + i] = x1;
            out[dst + i + half] = x2;
            continue;
          }
          // HF computes inv_freq in float32.
          const invFreq = Math.fround(1 / Math.fround(Math.pow(this.cfg.ropeTheta, (2 * i) / D)));
          const a = positions[s] * invFreq;
          out[dst + i] = x1 * Math.cos(a) - x2 * Math.sin(a);
          out[dst + i + half] = x2 * Math.cos(a) + x1 * Math.sin(a);
        }
      }
    }
    return out;
  }

  /**
   * Forward over S new tokens at `positions` after a past KV ([kvHeads, P, D] per layer). `mask` is an additive
   * [S, P+S] mask; default causal.
   */
  forward(ids: number[], positions: number[], past: { key: Float64Array; value: Float64Array }[] | null, mask?: Float64Array): ReferenceOut {
    const { hidden: H, heads, kvHeads, headDim: D, vocabSize: V, intermediate: I, layers } = this.cfg;
    const S = ids.length;
    const P = past ? past[0].key.length / (kvHeads * D) : 0;
    const T = P + S;
    const emb = this.get('model.embed_tokens.weight');
    let x = new Float64Array(S * H);
    for (let s = 0; s < S; s++) x.set(emb.subarray(ids[s] * H, ids[s] * H + H), s * H);
    const outLayers: ReferenceLayerOut[] = [];
    const rep = heads / kvHeads;
    for (let l = 0; l < layers; l++) {
      const W = `model.layers.${l}`;
      const n = this.rmsNorm(x, S, `${W}.input_layernorm.weight`);
      const q = this.headsRope(this.linear(n, S, H, heads * D, `${W}.self_attn.q_proj.weight`, `${W}.self_attn.q_proj.bias`), S, heads, positions, true);
      const k = this.headsRope(this.linear(n, S, H, kvHeads * D, `${W}.self_attn.k_proj.weight`, `${W}.self_attn.k_proj.bias`), S, kvHeads, positions, true);
      const v = this.headsRope(this.linear(n, S, H, kvHeads * D, `${W}.self_attn.v_proj.weight`, `${W}.self_attn.v_proj.bias`), S, kvHeads, positions, false);
      // Full K/V [kvHeads, T, D].
      const fullK = new Float64Array(kvHeads * T * D);
      const fullV = new Float64Array(kvHeads * T * D);
      for (let h = 0; h < kvHeads; h++) {
        if (past) {
          fullK.set(past[l].key.subarray(h * P * D, (h + 1) * P * D), h * T * D);
          fullV.set(past[l].value.subarray(h * P * D, (h + 1) * P * D), h * T * D);
        }
        fullK.set(k.subarray(h * S * D, (h + 1) * S * D), (h * T + P) * D);
        fullV.set(v.subarray(h * S * D, (h + 1) * S * D), (h * T + P) * D);
      }
      const probs = new Float64Array(heads * S * T);
      const ctx = new Float64Array(S * heads * D);
      for (let h = 0; h < heads; h++) {
        const kh = Math.floor(h / rep);
        for (let s = 0; s < S; s++) {
          const row = new Float64Array(T);
          let max = -Infinity;
          for (let t = 0; t < T; t++) {
            let dot = 0;
            for (let d = 0; d < D; d++) dot += q[(h * S + s) * D + d] * fullK[(kh * T + t) * D + d];
            const m = mask ? mask[s * T + t] : t <= P + s ? 0 : -Infinity;
            row[t] = dot / Math.sqrt(D) + m;
            if (row[t] > max) max = row[t];
          }
          let sum = 0;
          for (let t = 0; t < T; t++) {
            row[t] = Math.exp(row[t] - max);
            sum += row[t];
          }
          for (let t = 0; t < T; t++) {
            const pr = row[t] / sum;
            probs[(h * S + s) * T + t] = pr;
            for (let d = 0; d < D; d++) ctx[s * heads * D + h * D + d] += pr * fullV[(kh * T + t) * D + d];
          }
        }
      }
      const attnOut = this.linear(ctx, S, heads * D, H, `${W}.self_attn.o_proj.weight`);
      for (let i = 0; i < x.length; i++) x[i] += attnOut[i];
      const n2 = this.rmsNorm(x, S, `${W}.post_attention_layernorm.weight`);
      const gate = this.linear(n2, S, H, I, `${W}.mlp.gate_proj.weight`);
      const up = this.linear(n2, S, H, I, `${W}.mlp.up_proj.weight`);
      for (let i = 0; i < gate.length; i++) gate[i] = (gate[i] / (1 + Math.exp(-gate[i]))) * up[i];
      const down = this.linear(gate, S, I, H, `${W}.mlp.down_proj.weight`);
      x = x.map((xv, i) => xv + down[i]);
      outLayers.push({ q, key: k, value: v, probs });
    }
    const fin = this.rmsNorm(x, S, 'model.norm.weight');
    const logits = new Float64Array(S * V);
    if (this.cfg.tied) {
      for (let s = 0; s < S; s++) for (let vv = 0; vv < V; vv++) {
        let dot = 0;
        for (let i = 0; i < H; i++) dot += fin[s * H + i] * emb[vv * H + i];
        logits[s * V + vv] = dot;
      }
    } else {
      logits.set(this.linear(fin, S, H, V, 'lm_head.weight'));
    }
    return { logits, layers: outLayers };
  }
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}
