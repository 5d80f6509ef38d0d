import { SeededRandom } from '../infra/random.js';

export interface SamplingOptions {
  /** 0 or absent = greedy. */
  temperature?: number;
  /** Nucleus sampling mass in (0, 1]; 1 = the whole distribution. */
  topP?: number;
  /** Seed of the sampling stream: the same seed, prompt and model give the same tokens. */
  seed?: number;
  /** Largest number of generated tokens (default 256). */
  maxTokens?: number;
  /** Extra stop token ids (the model's eos ids always stop). */
  stopTokenIds?: number[];
}

export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/** Picks next tokens from logits: greedy, or temperature + top-p sampling from a seeded stream. */
export class Sampler {
  private readonly rng: SeededRandom | null;
  private readonly temperature: number;
  private readonly topP: number;

  constructor(opts: SamplingOptions = {}) {
    this.temperature = opts.temperature ?? 0;
    this.topP = opts.topP ?? 1;
    if (!(this.temperature >= 0) || !Number.isFinite(this.temperature)) throw new RangeError(`temperature ${opts.temperature} must be >= 0`);
    if (!(this.topP > 0 && this.topP <= 1)) throw new RangeError(`topP ${opts.topP} must be in (0, 1]`);
    this.rng = this.temperature > 0 ? new SeededRandom(opts.seed ?? 0, 'sampler') : null;
  }

  get greedy(): boolean {
    return this.rng === null;
  }

  next(logits: ArrayLike<number>): number {
    if (!this.rng) return argmax(logits);
    const n = logits.length;
    let max = -Infinity;
    for (let i = 0; i < n; i++) if (logits[i] > max) max = logits[i];
    const probs = new Float64Array(n);
    let sum = 0;
    for (let i = 0; i < n; i++) {
      probs[i] = Math.exp((logits[i] - max) / this.temperature);
      sum += probs[i];
    }
    let candidates: number[];
    if (this.topP < 1) {
      // Smallest set of most likely tokens whose mass reaches topP (ties broken by id for determinism).
      const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => probs[b] - probs[a] || a - b);
      candidates = [];
      let mass = 0;
      for (const i of order) {
        candidates.push(i);
        mass += probs[i] / sum;
        if (mass >= this.topP) break;
      }
    } else {
      candidates = Array.from({ length: n }, (_, i) => i);
    }
    let total = 0;
    for (const i of candidates) total += probs[i];
    let r = this.rng.uniform() * total;
    for (const i of candidates) {
      r -= probs[i];
      if (r <= 0) return i;
    }
    return candidates[candidates.length - 1];
  }
}
