/**
 * Weight quantization as the real exporters do it, so quantized replicas carry real quantization error:
 * - 4-bit blocks for com.microsoft.MatMulNBits (onnxruntime's MatMul4BitsQuantizer / MLAS block quantizer):
 *   per output column, blocks of `block` consecutive input rows share a scale (and, asymmetric, a zero point);
 *   dequantized = (q - zp) * scale. Symmetric maps the block's largest-magnitude value to -8 (zp = 8).
 * - int8 per tensor for dynamic quantization (onnxruntime quantize_dynamic, weight_type QInt8, symmetric):
 *   scale = max|w| / 127, zero point 0.
 */
export interface Int4Blocks {
  /** Packed [N, kBlocks, block/2] (two values per byte, low nibble first). */
  data: Uint8Array;
  /** [N, kBlocks]. */
  scales: Float32Array;
  /** Packed [N, ceil(kBlocks/2)] (low nibble first); null for symmetric (the op's default zero point 8). */
  zeroPoints: Uint8Array | null;
  kBlocks: number;
}

/** Quantizes `w` ([K, N] row-major, the MatMul layout) into MatMulNBits blocks along K. */
export function quantizeInt4(w: Float32Array, K: number, N: number, block: number, symmetric: boolean): Int4Blocks {
  if (w.length !== K * N) throw new Error(`quantizeInt4: ${w.length} values for ${K}x${N}`);
  const kBlocks = Math.ceil(K / block);
  const data = new Uint8Array(N * kBlocks * (block / 2));
  const scales = new Float32Array(N * kBlocks);
  const zpBytes = Math.ceil(kBlocks / 2);
  const zeroPoints = symmetric ? null : new Uint8Array(N * zpBytes);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < kBlocks; b++) {
      const k0 = b * block;
      const k1 = Math.min(K, k0 + block);
      let scale: number;
      let zp: number;
      if (symmetric) {
        let vmax = 0;
        for (let k = k0; k < k1; k++) if (Math.abs(w[k * N + n]) > Math.abs(vmax)) vmax = w[k * N + n];
        scale = Math.fround(vmax / -8);
        zp = 8;
      } else {
        let lo = 0;
        let hi = 0;
        for (let k = k0; k < k1; k++) {
          lo = Math.min(lo, w[k * N + n]);
          hi = Math.max(hi, w[k * N + n]);
        }
        scale = Math.fround((hi - lo) / 15);
        zp = scale === 0 ? 8 : Math.min(15, Math.max(0, Math.round(-lo / scale)));
        (zeroPoints as Uint8Array)[n * zpBytes + (b >> 1)] |= (b & 1) === 1 ? zp << 4 : zp;
      }
      scales[n * kBlocks + b] = scale;
      const inv = scale === 0 ? 0 : 1 / scale;
      const base = (n * kBlocks + b) * (block / 2);
      for (let k = k0; k < k0 + block; k++) {
        // Rows past K (a partial last block) are padding: they hold the zero point, i.e. dequantize to 0.
        const q = k < k1 ? Math.min(15, Math.max(0, Math.round(w[k * N + n] * inv) + zp)) : zp;
        const i = k - k0;
        data[base + (i >> 1)] |= (i & 1) === 1 ? q << 4 : q;
      }
    }
  }
  return { data, scales, zeroPoints, kBlocks };
}

export interface Int8Tensor {
  data: Int8Array;
  scale: number;
}

/** Symmetric per-tensor int8 (range [-127, 127]). */
export function quantizeInt8(w: Float32Array): Int8Tensor {
  let amax = 0;
  for (let i = 0; i < w.length; i++) amax = Math.max(amax, Math.abs(w[i]));
  const scale = Math.fround(amax === 0 ? 1 : amax / 127);
  const data = Int8Array.from(w, (v) => Math.max(-127, Math.min(127, Math.round(v / scale))));
  return { data, scale };
}
