import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { AutoConfig, AutoTokenizer, type PreTrainedTokenizer } from '@huggingface/transformers';
import { DomainError } from '../infra/errors.js';
import { decoderShapeFromConfig, type DecoderShape } from './DecoderShape.js';
import { KvBuffer } from './kv/KvBuffer.js';
import { HalfLayerKv, KvCache, type LayerKv } from './kv/KvCache.js';
import { float32ToHalf, halfToFloat32 } from './kv/half.js';
import type { DecoderDtype } from '../infra/decoderDtypes.js';
import { chooseDecoderFile, filesOfDecoder } from './ModelFiles.js';
import type { DecoderExport, PositionsMode } from './onnx/DecoderExport.js';
import { newKvOutputName, PAST_COS_INPUT, PAST_ROTATE_INPUT, PAST_SIN_INPUT, prepareRuntimeGraph, type RuntimeGraph } from './onnx/RuntimeGraph.js';
import { ropeInverseFrequencies, rotationTable } from './kv/rope.js';

export interface DecoderLoadOptions {
  /** onnxruntime intra-op threads (0 = one per core). */
  intraOpThreads?: number;
  enableCpuMemArena?: boolean;
  /**
   * Load with attention taps, so `forward` can return attention rows (a cached rewrite of the export). Default: only
   * for test builds that already output their attention probabilities.
   */
  taps?: boolean;
  /** Decoder file relative to the model folder (e.g. `onnx/model_q4.onnx`); default: chosen by `dtype`. */
  onnxFile?: string;
  /** GENERATOR_DTYPE: which export file to load (fp32, fp16, q4, q4f16, int8); unset = the default or what is present. */
  dtype?: DecoderDtype;
  /**
   * GroupQueryAttention exports: form the asked rows from the layer's query input and keys in the graph ('query', the
   * default: nothing of size S x T) or read the kernel's own probabilities ('qk': qk_output=2, which materialises
   * [heads, S, T] per layer in every pass of the session; for cross-checks).
   */
  gqaTaps?: 'query' | 'qk';
  /**
   * Passes longer than this many tokens (without attention rows or all-row logits) run in chunks over the growing
   * cache: the same result as one pass (incremental prefill equals full prefill, tested per family), with each
   * layer's attention matrix bounded to chunk x T instead of S x T (a 2,048-token prefill of the qwen2.5-0.5b shape
   * otherwise holds ~0.8 GB of attention activations). Default 512; 0 = never chunk.
   */
  prefillChunk?: number;
}

export type LogitsMode = 'none' | 'last' | 'all';

/**
 * Which query rows' attention probabilities a pass returns: `true`/`'all'` every row of the pass, `'last'` the
 * last one (what sentence scoring reads), or explicit row indices into this pass's tokens (calibration's question
 * rows). The graph gathers only those rows: the full S x T matrix never leaves it.
 */
export type AttentionRows = boolean | 'last' | 'all' | readonly number[];

export interface ForwardOptions {
  logits?: LogitsMode;
  attentions?: AttentionRows;
  /**
   * Reference-mask models only: additive mask [S, past+S] (0 = attend, -inf/min = blocked).
   * Default: causal over past and the new tokens.
   */
  additiveMask?: Float32Array;
  /** 'new' (default): KV of the new tokens only; 'all': past + new as onnxruntime returns it (saves a copy when decoding). */
  present?: 'new' | 'all';
  /**
   * Where the past's tokens are to be (one position per past token): their keys, cached at `past.positions`, are
   * rotated to these before the pass, inside the session when the graph can (RuntimeGraph.rotatesPast), else here.
   */
  pastTargets?: ArrayLike<number>;
}

export interface ForwardResult {
  /** rows x vocab (rows = 1 for 'last', S for 'all'), float32 whatever the graph computes in. */
  logits?: Float32Array;
  /** KV of the new tokens only, at the given positions (past + new with `present: 'all'`). */
  present: KvCache;
  /** Per layer [heads, R, past+S] float32, for the R rows in `attentionRows`. */
  attentions?: Float32Array[];
  /** The query rows (indices into this pass's tokens) `attentions` holds, in order. */
  attentionRows?: number[];
}

/**
 * A pass whose positions the loaded graph cannot honour (it would silently compute with other positions): a request
 * this model cannot serve, so an `invalid` input (the mode) rather than a fault.
 */
export class PositionsUnsupportedError extends DomainError {
  constructor(message: string) {
    super('invalid', message, { field: 'mode' });
  }
}

type HalfOrFloat = Float32Array | Uint16Array;

const range = (start: number, n: number): number[] => Array.from({ length: n }, (_, i) => start + i);
const DEFAULT_PREFILL_CHUNK = 512;
const int64 = (values: ArrayLike<number>, dims: number[]): ort.Tensor => new ort.Tensor('int64', BigInt64Array.from(Array.from(values, (v) => BigInt(v))), dims);
const asFloat32 = (t: ort.Tensor): Float32Array => (t.type === 'float16' ? halfToFloat32(t.data as Uint16Array) : (t.data as Float32Array));

/**
 * A decoder-only model on onnxruntime-node with caller-controlled positions and KV (batch 1): the one small
 * layer that generator, compressor and reranker run forward passes through. Serves every export family users
 * download (optimum fp32/fp16/q4/q4f16/int8 and onnxruntime-genai GroupQueryAttention exports): names and element
 * types come from the session, KV is kept in float32 (fp16 graphs' KV in their fp16 form until read) and cast
 * once to what the graph takes, and a cached rewrite adds what exports lack (a logits selector, GQA position
 * wiring, row-selecting attention taps). Positions a graph cannot honour raise PositionsUnsupportedError.
 */
export class DecoderModel {
  /** Forward calls made so far (each one onnxruntime session run): what tests count model passes by. */
  forwardCalls = 0;

  private constructor(
    readonly dir: string,
    readonly config: DecoderShape,
    readonly tokenizer: PreTrainedTokenizer,
    private readonly session: ort.InferenceSession,
    /** The export file (relative to `dir`: `onnx/model_q4.onnx`) and the file actually loaded (its rewrite). */
    readonly onnxFile: string,
    readonly onnxPath: string,
    readonly runtime: RuntimeGraph,
    private readonly io: { positionIds: boolean; referenceMask: boolean; kvHalf: boolean },
    private readonly prefillChunk: number,
  ) {}

  static async load(dir: string, opts: DecoderLoadOptions = {}): Promise<DecoderModel> {
    const abs = path.resolve(dir);
    const rawConfig = (await AutoConfig.from_pretrained(abs, { local_files_only: true })) as unknown as Record<string, unknown>;
    const config = decoderShapeFromConfig(rawConfig);
    const tokenizer = await AutoTokenizer.from_pretrained(abs, { local_files_only: true });
    const onnxFile = opts.onnxFile ?? chooseDecoderFile(abs, opts.dtype).file;
    const sourcePath = path.join(abs, onnxFile);
    if (!fs.existsSync(sourcePath)) throw new Error(`${sourcePath} not found (expected a Hugging Face/optimum layout with onnx/ inside ${abs})`);
    const runtime = prepareRuntimeGraph(sourcePath, { taps: opts.taps ?? 'if-exposed', gqaTaps: opts.gqaTaps });
    if (opts.taps && !runtime.taps) throw new DomainError('invalid', `${sourcePath}: cannot tap attention: ${(runtime.export.taps as { reason: string }).reason}`);
    const session = await ort.InferenceSession.create(runtime.path, {
      intraOpNumThreads: opts.intraOpThreads ?? 0,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      enableCpuMemArena: opts.enableCpuMemArena ?? true,
      graphOptimizationLevel: 'all',
    });
    const inputs = new Set(session.inputNames);
    for (const required of ['input_ids', 'attention_mask', 'past_key_values.0.key']) {
      if (!inputs.has(required)) throw new Error(`${runtime.path}: input "${required}" missing; expected the optimum/genai decoder signature (with past)`);
    }
    const meta = (name: string) => session.inputMetadata.find((m) => m.name === name);
    const maskMeta = meta('attention_mask');
    const kvMeta = meta('past_key_values.0.key');
    return new DecoderModel(abs, config, tokenizer, session, onnxFile, runtime.path, runtime, {
      positionIds: inputs.has('position_ids'),
      referenceMask: !!maskMeta && maskMeta.isTensor && maskMeta.type === 'float32',
      kvHalf: !!kvMeta && kvMeta.isTensor && kvMeta.type === 'float16',
    }, opts.prefillChunk ?? DEFAULT_PREFILL_CHUNK);
  }

  /** What the export is and how it is served (family, precision, positions, taps, logits selector). */
  get export(): DecoderExport {
    return this.runtime.export;
  }

  get positions(): PositionsMode {
    return this.runtime.export.positions.mode;
  }

  /** Tap output names in layer order (empty without taps). */
  get attentionOutputs(): string[] {
    return this.runtime.taps?.outputs.map((o) => o.name) ?? [];
  }

  get hasAttentions(): boolean {
    return this.attentionOutputs.length === this.config.layers;
  }

  get isReferenceMaskModel(): boolean {
    return this.io.referenceMask;
  }

  /** KV element type the graph takes and returns. */
  get kvDtype(): 'float32' | 'float16' {
    return this.io.kvHalf ? 'float16' : 'float32';
  }

  /** How this model is named in errors: its folder and export file. */
  get label(): string {
    return `${this.dir} (${this.onnxFile})`;
  }

  /**
   * A content identity cheap enough for multi-GB exports: config.json, the export file's name and the sizes of it
   * and its external data. Two precisions of one model differ (their KV differs); rewritten copies do not count.
   */
  get identity(): string {
    const h = createHash('sha256');
    h.update(fs.readFileSync(path.join(this.dir, 'config.json')));
    const onnxDir = path.dirname(path.join(this.dir, this.onnxFile));
    const listing = fs.readdirSync(onnxDir).map((f) => path.posix.join(path.posix.dirname(this.onnxFile), f));
    for (const f of filesOfDecoder(this.onnxFile, listing)) h.update(`${f}:${fs.statSync(path.join(this.dir, f)).size}\n`);
    return h.digest('hex');
  }

  /**
   * Throws unless the graph can run tokens at arbitrary positions over a cache (what Block-Attention re-encoding
   * relies on; `what` names the feature in the message).
   */
  assertPositionsHonoured(what: string): void {
    if (this.positions === 'refused') {
      throw new PositionsUnsupportedError(`${what} needs explicit token positions, and model ${this.label} cannot take them: ${this.export.positions.reason}. Use mode "full".`);
    }
  }

  private checkPositions(positionIds: ArrayLike<number>, P: number): void {
    const S = positionIds.length;
    const contiguousFrom = (start: number): boolean => Array.from(positionIds).every((p, i) => p === start + i);
    if (this.positions === 'refused' && !contiguousFrom(P)) {
      throw new PositionsUnsupportedError(
        `model ${this.label} cannot honour positions [${positionIds[0]}..${positionIds[S - 1]}] over a past of ${P} tokens: ${this.export.positions.reason}; ` +
          `it would compute positions ${P}..${P + S - 1} instead`,
      );
    }
    if (this.positions === 'rewired' && P === 0 && !contiguousFrom(positionIds[0])) {
      // GroupQueryAttention reads only the first position of a prompt without past (onnxruntime's contract).
      throw new PositionsUnsupportedError(`model ${this.label}: without a past, GroupQueryAttention takes contiguous positions only (got [${Array.from(positionIds).slice(0, 8).join(', ')}${S > 8 ? ', ...' : ''}])`);
    }
    const limit = this.export.positions.rotaryCacheLength;
    if (limit !== null) {
      for (let i = 0; i < S; i++) {
        if (positionIds[i] < 0 || positionIds[i] >= limit) throw new RangeError(`model ${this.label}: position ${positionIds[i]} outside its rotary cache [0, ${limit})`);
      }
    }
  }

  private attentionRows(spec: AttentionRows | undefined, S: number): number[] | null {
    if (spec === undefined || spec === false) return null;
    if (spec === true || spec === 'all') return range(0, S);
    if (spec === 'last') return [S - 1];
    const rows = [...spec];
    for (const r of rows) if (!Number.isInteger(r) || r < 0 || r >= S) throw new RangeError(`attention row ${r} outside [0, ${S})`);
    if (rows.length === 0) throw new RangeError('attentions: no rows asked');
    return rows;
  }

  async forward(inputIds: ArrayLike<number>, positionIds: ArrayLike<number>, past: KvCache | null, opts: ForwardOptions = {}): Promise<ForwardResult> {
    const S = inputIds.length;
    if (S === 0) throw new Error('forward: no input tokens');
    if (positionIds.length !== S) throw new Error(`forward: ${positionIds.length} positions for ${S} tokens`);
    const { layers, kvHeads, headDim, heads, vocabSize } = this.config;
    const P = past?.length ?? 0;
    const T = P + S;
    const logitsMode = opts.logits ?? 'last';
    const rows = this.attentionRows(opts.attentions, S);
    if (rows && !this.hasAttentions) throw new Error('forward: attentions requested but the model was loaded without taps (load with {taps: true})');
    this.checkPositions(positionIds, P);
    const chunk = this.prefillChunk;
    if (chunk > 0 && S > chunk && !rows && logitsMode !== 'all' && !opts.additiveMask) {
      if (opts.pastTargets && past) past = past.reencodeTo(opts.pastTargets, this.config.ropeTheta);
      return this.forwardInChunks(inputIds, positionIds, past, logitsMode, opts.present ?? 'new', chunk);
    }

    const feeds: Record<string, ort.Tensor> = { input_ids: int64(inputIds, [1, S]) };
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
    if (this.io.positionIds) feeds.position_ids = int64(positionIds, [1, S]);
    const selector = this.runtime.logitsRows;
    if (selector?.kind === 'rows') feeds[selector.input] = int64(logitsMode === 'all' ? range(0, S) : [S - 1], [logitsMode === 'all' ? S : 1]);
    if (selector?.kind === 'count') feeds[selector.input] = new ort.Tensor('int64', BigInt64Array.of(logitsMode === 'all' ? 0n : 1n), []);
    const taps = this.runtime.taps;
    if (taps) {
      const r = rows ?? [S - 1];
      feeds[taps.rowsInput] = int64(r, [r.length]);
    }
    if (past && (past.layerCount !== layers || past.kvHeads !== kvHeads || past.headDim !== headDim)) {
      throw new Error(`forward: past cache shape ${past.layerCount}x${past.kvHeads}x${past.headDim} does not match the model ${layers}x${kvHeads}x${headDim}`);
    }
    if (opts.pastTargets && past) {
      if (opts.pastTargets.length !== P) throw new Error(`forward: ${opts.pastTargets.length} past targets for ${P} past tokens`);
      if (!this.runtime.rotatesPast) past = past.reencodeTo(opts.pastTargets, this.config.ropeTheta);
      else this.feedPastRotation(feeds, past.positions, opts.pastTargets);
    } else this.feedPastRotation(feeds, null, null);
    const kvTensor = (l: LayerKv | null, kind: 'key' | 'value'): ort.Tensor => {
      const dims = [1, kvHeads, P, headDim];
      if (!this.io.kvHalf) return new ort.Tensor('float32', l ? l[kind] : new Float32Array(0), dims);
      // Cast once, at the edge; layers that came back from this graph in fp16 go back as they are.
      const half = !l ? new Uint16Array(0) : l instanceof HalfLayerKv ? (kind === 'key' ? l.keyHalf : l.valueHalf) : float32ToHalf(l[kind]);
      return new ort.Tensor('float16', half, dims);
    };
    for (let i = 0; i < layers; i++) {
      feeds[`past_key_values.${i}.key`] = kvTensor(past ? past.layers[i] : null, 'key');
      feeds[`past_key_values.${i}.value`] = kvTensor(past ? past.layers[i] : null, 'value');
    }

    const all = opts.present === 'all' && P > 0;
    // Only the pass's own KV leaves the session (see RuntimeGraph.newKv); 'all' joins it to the past here, except for
    // fp16 graphs, whose fp16 present is fed back as is.
    const rotatedInGraph = !!opts.pastTargets && !!past && this.runtime.rotatesPast;
    const sliced = this.runtime.newKv && !(all && (this.io.kvHalf || rotatedInGraph));
    const fetches: string[] = [];
    if (logitsMode !== 'none') fetches.push('logits');
    for (let i = 0; i < layers; i++) fetches.push(...(sliced ? [newKvOutputName(i, 'key'), newKvOutputName(i, 'value')] : [`present.${i}.key`, `present.${i}.value`]));
    if (rows) fetches.push(...this.attentionOutputs);
    this.forwardCalls++;
    const out = await this.session.run(feeds, fetches);

    // present = past + new along the token axis; keep the new tokens only.
    const newOnly = <A extends HalfOrFloat>(data: A): A => {
      if (P === 0) return data;
      const res = new (data.constructor as new (n: number) => A)(kvHeads * S * headDim);
      for (let h = 0; h < kvHeads; h++) res.set(data.subarray((h * T + P) * headDim, (h * T + T) * headDim) as never, h * S * headDim);
      return res;
    };
    const layerOf = (k: ort.Tensor, v: ort.Tensor): LayerKv => {
      const [kd, vd] = all || sliced ? [k.data as HalfOrFloat, v.data as HalfOrFloat] : [newOnly(k.data as HalfOrFloat), newOnly(v.data as HalfOrFloat)];
      return kd instanceof Uint16Array ? new HalfLayerKv(kd, vd as Uint16Array) : { key: kd, value: vd as Float32Array };
    };
    const names = (i: number): [string, string] => (sliced ? [newKvOutputName(i, 'key'), newKvOutputName(i, 'value')] : [`present.${i}.key`, `present.${i}.value`]);
    let present = new KvCache(
      Array.from({ length: layers }, (_, i) => layerOf(out[names(i)[0]], out[names(i)[1]])),
      kvHeads,
      headDim,
      all && !sliced ? Int32Array.from([...Array.from(rotatedInGraph ? (opts.pastTargets as ArrayLike<number>) : (past as KvCache).positions), ...Array.from(positionIds)]) : Int32Array.from(positionIds),
    );
    if (all && sliced) present = KvCache.concat([past as KvCache, present]);
    const result: ForwardResult = { present };
    if (logitsMode !== 'none') {
      const logits = asFloat32(out.logits);
      const n = logits.length / vocabSize;
      result.logits = logitsMode === 'last' && n > 1 ? logits.slice((n - 1) * vocabSize) : logits;
    }
    if (rows) {
      result.attentionRows = rows;
      result.attentions = this.attentionOutputs.map((name) => {
        const t = out[name];
        if (t.dims.length !== 4 || t.dims[1] !== heads || t.dims[2] !== rows.length || t.dims[3] !== T) {
          throw new Error(`attention output ${name} has shape [${t.dims.join(',')}], expected [1,${heads},${rows.length},${T}]`);
        }
        return asFloat32(t);
      });
    }
    return result;
  }

  /** Whether the graph re-encodes a past to target positions itself (see RuntimeGraph.rotatesPast). */
  get rotatesPast(): boolean {
    return this.runtime.rotatesPast;
  }

  /** The past-rotation inputs: cos/sin of each past token's delta (target - cached), or "do not rotate". */
  private feedPastRotation(feeds: Record<string, ort.Tensor>, cached: ArrayLike<number> | null, targets: ArrayLike<number> | null): void {
    if (!this.runtime.rotatesPast) return;
    const half = this.config.headDim / 2;
    if (!cached || !targets) {
      feeds[PAST_ROTATE_INPUT] = new ort.Tensor('bool', Uint8Array.of(0), []);
      feeds[PAST_COS_INPUT] = new ort.Tensor('float32', new Float32Array(half), [1, half]);
      feeds[PAST_SIN_INPUT] = new ort.Tensor('float32', new Float32Array(half), [1, half]);
      return;
    }
    const P = targets.length;
    const table = rotationTable(Float64Array.from({ length: P }, (_, t) => targets[t] - cached[t]), ropeInverseFrequencies(this.config.headDim, this.config.ropeTheta));
    const cos = new Float32Array(P * half);
    const sin = new Float32Array(P * half);
    for (let t = 0; t < P; t++) {
      const r = table.row[t];
      if (r < 0) cos.fill(1, t * half, (t + 1) * half);
      else {
        cos.set(table.cos.subarray(r * half, (r + 1) * half), t * half);
        sin.set(table.sin.subarray(r * half, (r + 1) * half), t * half);
      }
    }
    feeds[PAST_ROTATE_INPUT] = new ort.Tensor('bool', Uint8Array.of(1), []);
    feeds[PAST_COS_INPUT] = new ort.Tensor('float32', cos, [P, half]);
    feeds[PAST_SIN_INPUT] = new ort.Tensor('float32', sin, [P, half]);
  }

  /** Whether `decodeStep` can run on this graph: it takes explicit positions and returns the new tokens' KV alone. */
  get decodesInBuffer(): boolean {
    return this.runtime.newKv && this.positions === 'honoured' && this.io.positionIds;
  }

  /** A decode buffer holding `parts`, with room for `extra` more tokens, in the KV type the graph takes. */
  decodeBuffer(parts: readonly KvCache[], extra: number): KvBuffer {
    return KvBuffer.of(parts, extra, this.io.kvHalf);
  }

  /**
   * One decoding step over a KvBuffer: the whole buffer is fed as the past with its empty slots masked out, only the
   * new token's KV and logits leave the session, and the KV is written into the buffer's next slot. Per step this
   * costs the same whatever the number of tokens already generated (the attention over the buffer aside).
   */
  async decodeStep(buffer: KvBuffer, tokenId: number, position: number): Promise<Float32Array> {
    if (!this.decodesInBuffer) throw new Error(`decodeStep: model ${this.label} cannot decode in a buffer`);
    if (buffer.length >= buffer.capacity) throw new RangeError(`decodeStep: the buffer is full (${buffer.capacity} tokens)`);
    const { layers, kvHeads, headDim } = this.config;
    const cap = buffer.capacity;
    const n = buffer.length;
    this.checkPositions([position], cap);
    const feeds: Record<string, ort.Tensor> = { input_ids: int64([tokenId], [1, 1]), position_ids: int64([position], [1, 1]) };
    if (this.io.referenceMask) {
      const mask = new Float32Array(cap + 1);
      mask.fill(-3.4028234663852886e38, n, cap);
      feeds.attention_mask = new ort.Tensor('float32', mask, [1, 1, 1, cap + 1]);
    } else {
      const mask = new BigInt64Array(cap + 1);
      mask.fill(1n, 0, n);
      mask[cap] = 1n;
      feeds.attention_mask = new ort.Tensor('int64', mask, [1, cap + 1]);
    }
    const selector = this.runtime.logitsRows;
    if (selector?.kind === 'rows') feeds[selector.input] = int64([0], [1]);
    if (selector?.kind === 'count') feeds[selector.input] = new ort.Tensor('int64', BigInt64Array.of(1n), []);
    if (this.runtime.taps) feeds[this.runtime.taps.rowsInput] = int64([0], [1]);
    this.feedPastRotation(feeds, null, null);
    const dims = [1, kvHeads, cap, headDim];
    const type = this.io.kvHalf ? 'float16' : 'float32';
    const fetches = ['logits'];
    for (let i = 0; i < layers; i++) {
      feeds[`past_key_values.${i}.key`] = new ort.Tensor(type, buffer.layers[i]!.key, dims);
      feeds[`past_key_values.${i}.value`] = new ort.Tensor(type, buffer.layers[i]!.value, dims);
      fetches.push(newKvOutputName(i, 'key'), newKvOutputName(i, 'value'));
    }
    this.forwardCalls++;
    const out = await this.session.run(feeds, fetches);
    const layerOf = (i: number): LayerKv => {
      const k = out[newKvOutputName(i, 'key')].data as HalfOrFloat;
      const v = out[newKvOutputName(i, 'value')].data as HalfOrFloat;
      return k instanceof Uint16Array ? new HalfLayerKv(k, v as Uint16Array) : { key: k, value: v as Float32Array };
    };
    buffer.append(new KvCache(Array.from({ length: layers }, (_, i) => layerOf(i)), kvHeads, headDim, Int32Array.of(position)));
    return asFloat32(out.logits);
  }

  /** A long pass as consecutive chunks over the growing cache (see DecoderLoadOptions.prefillChunk). */
  private async forwardInChunks(
    inputIds: ArrayLike<number>,
    positionIds: ArrayLike<number>,
    past: KvCache | null,
    logits: LogitsMode,
    present: 'new' | 'all',
    chunk: number,
  ): Promise<ForwardResult> {
    const S = inputIds.length;
    const P = past?.length ?? 0;
    let cache = past;
    let last: ForwardResult | null = null;
    for (let a = 0; a < S; a += chunk) {
      const b = Math.min(S, a + chunk);
      const ids = Array.from(inputIds).slice(a, b);
      const pos = Array.from(positionIds).slice(a, b);
      last = await this.forward(ids, pos, cache, { logits: b === S ? logits : 'none', present: 'all' });
      cache = last.present;
    }
    const all = (last as ForwardResult).present;
    return { logits: (last as ForwardResult).logits, present: present === 'all' || P === 0 ? all : all.slice(P) };
  }

  /** Frees the native session. */
  async release(): Promise<void> {
    await this.session.release();
  }
}
