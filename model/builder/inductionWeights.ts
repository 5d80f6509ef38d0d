import { ropeInverseFrequencies } from '../kv/rope.js';
import type { DecoderPreset } from './presets.js';
import type { DecoderWeights } from './seededWeights.js';

/**
 * Hand-set weights for the `induction` preset: a 3-layer Qwen2/Llama decoder that continues a prompt by copying what
 * followed the earlier place where the prompt's last WINDOW tokens occurred (an induction circuit, planted exactly).
 *
 * Residual stream (HIDDEN dims, CODE_DIM per slot): slot 0 = the token's own code (from the embedding), slots 1..6 =
 * the codes of the tokens 1..6 positions back, slot 7 = the copied code the unembedding reads. Token codes are the
 * codewords of the extended Hamming [16,11,4] code as +-1 vectors: any two distinct codes agree on at most 12 of 16
 * signs (correlation <= 0.5), so a window that differs in one token scores at least half a token below a true match.
 *
 * - Layer 0: two heads attend to offsets -1 and -2 and write the code there into slots 1 and 2. Their query and key
 *   are constant (q/k biases, zero weights); RoPE turns the constant pair into a score sum_f A_f cos(theta_f (d - j))
 *   over the high-frequency pairs, peaked at distance d = j.
 * - Layer 1: the same positional heads at offsets -3 and -4 read slots 0..2 there, which fills slots 3..6 (the
 *   window is composed, so two heads per layer suffice and the head dimension stays large enough for layer 2).
 * - Layer 2: one head matches the current window (slots 0..5) against each position's previous window (slots 1..6)
 *   in the low-frequency pairs, where RoPE turns by under 0.01 rad over 32K positions (rope_theta 1e26), and copies
 *   the matched position's own code into slot 7.
 * - MLPs are zero. The LM head reads slot 7 against every token's code.
 */
export const INDUCTION = {
  /** Tokens compared by the matching head: the current one and the 5 before it, against a key's 6 predecessors. */
  window: 6,
  codeDim: 16,
  /** RoPE pairs (of D/2) used for positional attention; the rest are quasi-static and carry content. */
  positionalPairs: 16,
  /** Logit gap (attention) between the intended offset and the best other one: 20 (A=[4,2,1..] gives 2.0 x 10). */
  positionalScale: 10,
  /** Attention logit per matched window token in layer 2. */
  matchLogit: 50,
  /** Unembedding gain: logit of the copied token is 16 x gain x the normalised slot magnitude. */
  unembedGain: 1,
} as const;

const SLOT_OUT = 7;
const SLOTS = SLOT_OUT + 1;

/** Per-pair amplitudes of the positional kernel: the fastest pairs weigh most (they separate neighbouring offsets). */
function positionalAmplitude(f: number): number {
  return f === 0 ? 4 : f === 1 ? 2 : 1;
}

/** Codeword `index` (< 2048) of the extended Hamming [16,11,4] code, as +-1. */
export function hammingCode(index: number): Float32Array {
  if (!Number.isInteger(index) || index < 0 || index >= 2048) throw new RangeError(`code index ${index} outside [0, 2048)`);
  const bits = new Array<number>(16).fill(0);
  // Positions 1..15 (1-based): parity bits at powers of two, data bits elsewhere.
  let d = 0;
  for (let pos = 1; pos <= 15; pos++) if ((pos & (pos - 1)) !== 0) bits[pos] = (index >> d++) & 1;
  for (const pbit of [1, 2, 4, 8]) {
    let parity = 0;
    for (let pos = 1; pos <= 15; pos++) if (pos & pbit && pos !== pbit) parity ^= bits[pos];
    bits[pbit] = parity;
  }
  bits[0] = bits.slice(1).reduce((a, b) => a ^ b, 0);
  return Float32Array.from(bits, (b) => (b ? 1 : -1));
}

interface LayerPlan {
  /** Residual slots filled when the layer reads the stream (sets the RMSNorm scale). */
  filledSlots: number;
  /** Offsets of the positional heads (layers 0 and 1). */
  offsets?: readonly [number, number];
}

const LAYERS: readonly LayerPlan[] = [
  { filledSlots: 1, offsets: [1, 2] },
  { filledSlots: 3, offsets: [3, 4] },
  { filledSlots: 7 },
];

export class InductionWeights implements DecoderWeights {
  private readonly D: number;
  private readonly H: number;
  private readonly invFreq: Float64Array;
  /** Head dims carrying content in layer 2: both halves of every quasi-static RoPE pair. */
  private readonly staticDims: number[];

  constructor(private readonly p: DecoderPreset) {
    const D = p.hidden / p.heads;
    this.D = D;
    this.H = p.hidden;
    if (p.layers !== LAYERS.length || p.heads !== 2 || p.kvHeads !== 1) throw new Error('induction weights need 3 layers, 2 heads and 1 KV head');
    if (p.hidden < SLOTS * INDUCTION.codeDim) throw new Error(`induction weights need hidden >= ${SLOTS * INDUCTION.codeDim}`);
    if (p.vocabSize > 2048) throw new Error('induction weights code at most 2048 tokens');
    this.invFreq = ropeInverseFrequencies(D, p.ropeTheta);
    this.staticDims = [];
    for (let f = INDUCTION.positionalPairs; f < D / 2; f++) this.staticDims.push(f);
    for (let f = INDUCTION.positionalPairs; f < D / 2; f++) this.staticDims.push(f + D / 2);
    if (this.staticDims.length < INDUCTION.window * INDUCTION.codeDim) throw new Error(`head dim ${D} too small for a window of ${INDUCTION.window}`);
    // The content pairs must stay put over the whole context for the match to be position-free.
    const slowest = this.invFreq[INDUCTION.positionalPairs];
    if (slowest * p.maxPositions > 0.05) throw new Error(`rope_theta ${p.ropeTheta} turns content pairs by ${(slowest * p.maxPositions).toFixed(3)} rad over the context`);
  }

  /** The RMSNorm output magnitude of a +-1 entry when `filled` slots hold codes. */
  private normed(filled: number): number {
    return Math.sqrt(this.H / (filled * INDUCTION.codeDim));
  }

  private slot(s: number, k: number): number {
    return s * INDUCTION.codeDim + k;
  }

  private layerOf(name: string): { layer: number; part: string } {
    const m = /^model\.layers\.(\d+)\.(.+)$/.exec(name);
    if (!m) throw new Error(`induction weights: unexpected tensor ${name}`);
    return { layer: Number(m[1]), part: m[2] };
  }

  linear(name: string, inDim: number, outDim: number): Float32Array {
    const w = new Float32Array(inDim * outDim);
    const set = (i: number, o: number, v: number): void => {
      w[i * outDim + o] = v;
    };
    const C = INDUCTION.codeDim;
    if (name === 'lm_head') {
      const gain = INDUCTION.unembedGain;
      for (let t = 0; t < outDim; t++) {
        const code = hammingCode(t);
        for (let k = 0; k < C; k++) set(this.slot(SLOT_OUT, k), t, code[k] * gain);
      }
      return w;
    }
    const { layer, part } = this.layerOf(name);
    if (part.startsWith('mlp.')) return w;
    const plan = LAYERS[layer];
    const inv = 1 / this.normed(plan.filledSlots);
    const D = this.D;
    switch (part) {
      case 'self_attn.q_proj':
        // Layer 2, head 0: the current window, slot s (offset s) into content chunk s.
        if (layer === 2) for (let s = 0; s < INDUCTION.window; s++) for (let k = 0; k < C; k++) set(this.slot(s, k), this.staticDims[s * C + k], this.matchScale(inv));
        return w;
      case 'self_attn.k_proj':
        // A key's window is its predecessors: slot s + 1 into chunk s.
        if (layer === 2) for (let s = 0; s < INDUCTION.window; s++) for (let k = 0; k < C; k++) set(this.slot(s + 1, k), this.staticDims[s * C + k], this.matchScale(inv));
        return w;
      case 'self_attn.v_proj':
        // Values are the stream's filled slots back at +-1 (layer 2 only needs slot 0, the token to copy).
        for (let s = 0; s < (layer === 2 ? 1 : plan.filledSlots); s++) for (let k = 0; k < C; k++) set(this.slot(s, k), s * C + k, inv);
        return w;
      case 'self_attn.o_proj': {
        const route = (head: number, fromSlot: number, toSlot: number): void => {
          for (let k = 0; k < C; k++) set(head * D + fromSlot * C + k, this.slot(toSlot, k), 1);
        };
        if (layer === 0) {
          route(0, 0, 1);
          route(1, 0, 2);
        } else if (layer === 1) {
          // Offset -3 brings (t[-3], t[-4], t[-5]); offset -4's slot 2 is t[-6].
          route(0, 0, 3);
          route(0, 1, 4);
          route(0, 2, 5);
          route(1, 2, 6);
        } else route(0, 0, SLOT_OUT);
        return w;
      }
      default:
        throw new Error(`induction weights: unexpected linear ${name}`);
    }
  }

  /** Per-side weight so that one matched token (C entries of +-normed^2 products, / sqrt(D)) scores matchLogit. */
  private matchScale(inv: number): number {
    const normed = 1 / inv;
    return Math.sqrt((INDUCTION.matchLogit * Math.sqrt(this.D)) / INDUCTION.codeDim) / normed;
  }

  bias(name: string, dim: number): Float32Array {
    const b = new Float32Array(dim);
    const { layer, part } = this.layerOf(name);
    const offsets = LAYERS[layer].offsets;
    if (!offsets) return b;
    const D = this.D;
    // q.k / sqrt(D) per pair = scale * A_f: split as a fixed key magnitude and the rest on the query.
    const keyMag = 8;
    const qMag = (f: number): number => (INDUCTION.positionalScale * positionalAmplitude(f) * Math.sqrt(D)) / keyMag;
    if (part === 'self_attn.k_proj') {
      for (let f = 0; f < INDUCTION.positionalPairs; f++) b[f] = keyMag;
    } else if (part === 'self_attn.q_proj') {
      // RoPE gives q.k = sum_f |q||k| cos(theta_f (m - n) + phi_q): phi_q = -j theta_f peaks it at m - n = j.
      offsets.forEach((j, head) => {
        for (let f = 0; f < INDUCTION.positionalPairs; f++) {
          const phi = -j * this.invFreq[f];
          b[head * D + f] = qMag(f) * Math.cos(phi);
          b[head * D + f + D / 2] = qMag(f) * Math.sin(phi);
        }
      });
    }
    return b;
  }

  norm(_name: string, dim: number): Float32Array {
    return new Float32Array(dim).fill(1);
  }

  embedding(vocab: number, hidden: number): Float32Array {
    const e = new Float32Array(vocab * hidden);
    for (let t = 0; t < vocab; t++) e.set(hammingCode(t), t * hidden + this.slot(0, 0));
    return e;
  }
}
