import { SeededRandom } from '../../infra/random.js';

/** Where a decoder graph builder gets its fp32 weights, by Hugging Face tensor name (layouts as in SeededWeights). */
export interface DecoderWeights {
  linear(name: string, inDim: number, outDim: number): Float32Array;
  bias(name: string, dim: number): Float32Array;
  norm(name: string, dim: number): Float32Array;
  embedding(vocab: number, hidden: number): Float32Array;
}

/**
 * The fp32 weights of a test decoder, by Hugging Face tensor name: each tensor is drawn from its own seeded stream,
 * so every export family (and precision) of one seed is built from exactly the same numbers. Linear weights are
 * [in, out] (the MatMul layout, transposed from PyTorch's [out, in]); norms are 1-D near 1; embeddings [V, H].
 */
export class SeededWeights implements DecoderWeights {
  constructor(
    readonly seed: number,
    /** Std of linear, bias and embedding weights. */
    readonly initStd: number,
  ) {}

  tensor(name: string, dims: number[], std: number, mean = 0): Float32Array {
    return new SeededRandom(this.seed, name).fillNormal(new Float32Array(dims.reduce((a, b) => a * b, 1)), std, mean);
  }

  /** `${name}.weight`, [inDim, outDim]. */
  linear(name: string, inDim: number, outDim: number): Float32Array {
    return this.tensor(`${name}.weight`, [inDim, outDim], this.initStd);
  }

  bias(name: string, dim: number): Float32Array {
    return this.tensor(`${name}.bias`, [dim], this.initStd);
  }

  /** Norm weights near (not at) 1, so a test that ignores them fails. */
  norm(name: string, dim: number): Float32Array {
    return this.tensor(`${name}.weight`, [dim], 0.1, 1);
  }

  embedding(vocab: number, hidden: number): Float32Array {
    return this.tensor('model.embed_tokens.weight', [vocab, hidden], this.initStd);
  }
}

/** [rows, cols] row-major -> [cols, rows]. */
export function transpose(m: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(m.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = m[r * cols + c];
  return out;
}
