import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { DecoderModel } from '../model/DecoderModel.js';
import { KvCache } from '../model/kv/KvCache.js';
import { KvBuffer } from '../model/kv/KvBuffer.js';
import { KvArena } from '../model/kv/KvArena.js';
import { renderBlock, type BlockSource, type RenderedBlock } from './BlockRenderer.js';
import { KvBlockStore, blockKey, type KvSource } from './KvBlockStore.js';
import { PromptTemplate, encodePiece, type PromptTemplateOptions } from './PromptTemplate.js';
import { Sampler, type SamplingOptions } from './Sampler.js';
import { TextStream } from './TextStream.js';
import { layOutContiguous, layOutInto, layoutLength, overwriteRange, type LayoutPart } from './kvLayout.js';

export type GeneratorMode = 'full' | 'blocks';

/** A block's KV as computed after the prefix (positions |P|..|P|+L-1), and where it came from. */
export interface BlockKv {
  rendered: RenderedBlock;
  kv: KvCache;
  source: KvSource;
}

export interface BlockLayout {
  chunkId: string;
  /** Positions [start, end) of the block in the assembled sequence. */
  start: number;
  end: number;
  /** Indices into the block's tokens that were kept, in order. */
  tokenIndices: number[];
}

export interface AssembledContext {
  /** KV of prefix + blocks at contiguous positions 0..length-1 (re-encoded on first read when `laidOut` is set). */
  readonly kv: KvCache;
  /**
   * The same context laid out by concatenation only, each key still at the position it was cached at, and the
   * position each token takes: what a question pass feeds a graph that rotates its past itself (no JavaScript pass
   * over every key before the first token).
   */
  laidOut?: { kv: KvCache; targets: Int32Array; arena?: KvArena };
  /**
   * While `kv` has not been read: the parts it would be laid out from, so a decode buffer can take the context
   * laid out straight into it (one copy) instead of copying `kv` once formed (two).
   */
  readonly unformed?: () => readonly LayoutPart[] | null;
  /** Token id at each assembled position. */
  tokens: number[];
  prefixLength: number;
  layout: BlockLayout[];
}

export interface AssembleOptions {
  /** Per block, the token indices to keep (absent/null = all). */
  keep?: (readonly number[] | null | undefined)[];
  /** EPIC-style: recompute the first k (kept) tokens of each block in context; 0 = off. */
  recomputeHead?: number;
}

export interface QuestionPassResult {
  context: AssembledContext;
  /** Tokens run in this pass (the final block; in full mode all blocks + the final block). */
  tokens: number[];
  /** Position of the first token of this pass. */
  start: number;
  /** Last-position logits. */
  logits: Float32Array;
  /** KV of the tokens of this pass. */
  kv: KvCache;
  /** Context + this pass: where decoding continues. */
  cache: KvCache;
  /** With `tapRows` r: per layer [heads, r, start+S], the attention of the pass's last r tokens (tapped model). */
  attentions?: Float32Array[];
}

export interface PassOptions {
  /**
   * Attention rows to tap: the last `tapRows` tokens of the pass (0 = none). The tokens before them run untapped
   * first, so only the rows asked for are materialised (1: the last prompt token, what sentence features read).
   */
  tapRows?: number;
}

export interface GeneratedToken {
  id: number;
  /** Text this token adds to the answer (may be empty while a multi-byte character is incomplete). */
  text: string;
}

export type FinishReason = 'stop' | 'length' | 'aborted';

export interface GenerationResult {
  tokenIds: number[];
  text: string;
  finishReason: FinishReason;
  /** From the start of generate() to the first token, and to the end. */
  firstTokenMs: number | null;
  decodeMs: number;
}

export interface GeneratorOptions {
  /** KV block store; default: memory only, 512 MiB. */
  store?: KvBlockStore;
  template?: PromptTemplateOptions;
  /** Identity of the model in cache keys; default: hash of config.json and the ONNX file's name and size. */
  modelId?: string;
  /**
   * false: no shared prefix at all (blocks start at position 0 and see nothing before them). For analysis and the
   * block-diagonal exactness check; answers need the prefix (it carries the system prompt and the attention sink).
   */
  sharedPrefix?: boolean;
}

const RENDER_CACHE_ENTRIES = 4096;
/** Reused laid-out context buffers kept per generator: one 8K context of the smollm2-135m shape (30 x 2 x 3 x 64 x 4 B per token). */
const LAID_OUT_ARENA_BYTES = 512 * 2 ** 20;
/** Tokens a tapped question pass runs in one session run (the prefill chunk): a final block always fits. */
const QUESTION_PASS_ONE_RUN = 512;

const range = (start: number, n: number): number[] => Array.from({ length: n }, (_, i) => start + i);

/** A content identity for a model (config, export file and its weight sizes: see DecoderModel.identity). */
export function modelIdentity(model: DecoderModel): string {
  return model.identity;
}

/** Stop ids: the model config's eos ids and generation_config.json's eos_token_id. */
function stopTokenIds(model: DecoderModel): number[] {
  const ids = new Set(model.config.eosTokenIds);
  const file = path.join(model.dir, 'generation_config.json');
  if (fs.existsSync(file)) {
    const g = JSON.parse(fs.readFileSync(file, 'utf8')) as { eos_token_id?: number | number[] };
    for (const id of [g.eos_token_id ?? []].flat()) ids.add(id);
  }
  return [...ids];
}

/**
 * Block-Attention RAG generation over reusable KV blocks, as the model-side operations the ask pipeline
 * (ask/AskPipeline.ts) orders: prefix KV (once per model and template), per-block KV computed as a continuation of
 * the prefix (cached), assembly with re-encoded positions (optionally keeping some tokens only, optionally
 * recomputing block heads in context), a question pass with full attention over the assembled context (optionally
 * tapping attention rows), and decoding.
 */
export class BlockAttentionGenerator {
  readonly stopIds: number[];
  private prefixPromise: Promise<{ tokens: number[]; kv: KvCache }> | null = null;
  private readonly renderCache = new Map<string, RenderedBlock>();
  /** Buffers for contexts laid out for one question pass (reused: see KvArena). */
  private readonly arena = new KvArena(LAID_OUT_ARENA_BYTES);

  private constructor(
    readonly model: DecoderModel,
    readonly template: PromptTemplate,
    readonly store: KvBlockStore,
    readonly modelId: string,
    readonly sharedPrefix: boolean,
  ) {
    this.stopIds = stopTokenIds(model);
  }

  static create(model: DecoderModel, opts: GeneratorOptions = {}): BlockAttentionGenerator {
    const template = PromptTemplate.fromTokenizer(model.tokenizer, opts.template);
    const modelId = opts.modelId ?? opts.store?.opts.modelId ?? modelIdentity(model);
    const { layers, kvHeads, headDim } = model.config;
    const store = opts.store ?? new KvBlockStore({ modelId, shape: { layers, kvHeads, headDim }, memoryBytes: 512 * 2 ** 20, dir: null, diskBytes: 0 });
    if (store.opts.modelId !== modelId) throw new Error(`KV store is for model ${store.opts.modelId}, generator model is ${modelId}`);
    return new BlockAttentionGenerator(model, template, store, modelId, opts.sharedPrefix ?? true);
  }

  /** Context id of blocks: they continue this template's prefix. */
  get contextId(): string {
    return this.sharedPrefix ? this.template.id : `no-prefix:${this.template.id}`;
  }

  /** Renders a chunk (memoised by content: tokenising every passage again would add to every query's latency). */
  render(chunk: BlockSource): RenderedBlock {
    const key = createHash('sha256')
      .update(JSON.stringify([chunk.chunkId, chunk.documentId, chunk.title ?? null, chunk.start, chunk.text, chunk.sentences]))
      .digest('hex');
    const hit = this.renderCache.get(key);
    if (hit) {
      this.renderCache.delete(key);
      this.renderCache.set(key, hit);
      return hit;
    }
    const rendered = renderBlock(this.model.tokenizer, chunk);
    this.renderCache.set(key, rendered);
    if (this.renderCache.size > RENDER_CACHE_ENTRIES) this.renderCache.delete(this.renderCache.keys().next().value as string);
    return rendered;
  }

  finalTokens(question: string): number[] {
    return encodePiece(this.model.tokenizer, this.template.finalText(question));
  }

  /** The shared prefix's tokens and KV (positions 0..|P|-1), computed once per generator (model + template). */
  prefix(): Promise<{ tokens: number[]; kv: KvCache }> {
    if (!this.prefixPromise) {
      const tokens = this.sharedPrefix ? encodePiece(this.model.tokenizer, this.template.prefixText) : [];
      const { layers, kvHeads, headDim } = this.model.config;
      this.prefixPromise = (async () => {
        if (tokens.length === 0) return { tokens, kv: KvCache.empty(layers, kvHeads, headDim) };
        // Held in fp32 by this generator, not read back from the fp16 disk tier: every block is computed on top of
        // it, so a rounded prefix would make a block's KV depend on which process computed it. It is short: one pass.
        const { present } = await this.model.forward(tokens, range(0, tokens.length), null, { logits: 'none' });
        return { tokens, kv: present };
      })();
      this.prefixPromise.catch(() => (this.prefixPromise = null));
    }
    return this.prefixPromise;
  }

  blockKeyOf(rendered: RenderedBlock): string {
    return blockKey(this.modelId, this.contextId, rendered.tokens);
  }

  /** A block's KV as a continuation of the prefix, from the store or computed (and stored) on a miss. */
  async blockKv(rendered: RenderedBlock): Promise<BlockKv> {
    if (rendered.tokens.length === 0) throw new Error(`block ${rendered.chunkId} has no tokens`);
    const prefix = await this.prefix();
    const P = prefix.tokens.length;
    const { kv, source } = await this.store.getOrCompute(this.blockKeyOf(rendered), async () => {
      const out = await this.model.forward(rendered.tokens, range(P, rendered.tokens.length), P > 0 ? prefix.kv : null, { logits: 'none' });
      return out.present;
    });
    return { rendered, kv, source };
  }

  /**
   * blockKv for several blocks at once: their store lookups start together, so disk reads overlap one another and
   * the decoding of blocks already read. Computes on misses still run one at a time (onnxruntime-node runs a session
   * synchronously on the main thread).
   */
  blockKvs(rendered: RenderedBlock[]): Promise<BlockKv[]> {
    return Promise.all(rendered.map((r) => this.blockKv(r)));
  }

  /**
   * Prefix KV + the blocks in the given order, each re-encoded to contiguous positions after what precedes it.
   * With `keep`, only those token indices of a block are placed; with `recomputeHead` k, the first k placed tokens
   * of each block are recomputed with attention over everything before them (prefix and earlier blocks).
   */
  async assemble(blocks: BlockKv[], opts: AssembleOptions = {}): Promise<AssembledContext> {
    // Re-encoding rotates cached keys to new positions: only sound when the graph takes explicit positions.
    this.model.assertPositionsHonoured('Block-Attention (mode "blocks")');
    const prefix = await this.prefix();
    const { layers, kvHeads, headDim, ropeTheta } = this.model.config;
    const k = opts.recomputeHead ?? 0;
    if (!Number.isInteger(k) || k < 0) throw new RangeError(`recomputeHead ${k} must be a non-negative integer`);
    const tokens = [...prefix.tokens];
    const layout: BlockLayout[] = [];
    const inGraph = k === 0 && this.model.rotatesPast;
    const selected: { cache: KvCache; indices: number[] | null }[] = [{ cache: prefix.kv, indices: null }];
    let pos = prefix.tokens.length;
    for (const [i, b] of blocks.entries()) {
      const keep = opts.keep?.[i];
      const indices = keep ? [...keep] : range(0, b.rendered.tokens.length);
      selected.push({ cache: b.kv, indices: keep ? indices : null });
      // Kept tokens are copied straight from the block caches (no select copy first), whichever way they are laid out.
      tokens.push(...indices.map((j) => b.rendered.tokens[j]));
      layout.push({ chunkId: b.rendered.chunkId, start: pos, end: pos + indices.length, tokenIndices: indices });
      pos += indices.length;
    }
    if (inGraph) {
      // Assembly is a concatenation; the question pass rotates keys to their slots inside the session, and the
      // re-encoded cache is only formed if something reads it (decoding, after the first token).
      const laidOut = { kv: KvCache.concatSelected(selected, (n) => this.arena.take(n)), targets: Int32Array.from({ length: pos }, (_, i) => i), arena: this.arena };
      let kv: KvCache | null = null;
      return {
        get kv(): KvCache {
          return (kv ??= layOutContiguous(selected, layers, kvHeads, headDim, ropeTheta));
        },
        laidOut,
        unformed: () => (kv === null ? selected : null),
        tokens,
        prefixLength: prefix.tokens.length,
        layout,
      };
    }
    const kv = layOutContiguous(selected, layers, kvHeads, headDim, ropeTheta);
    if (k > 0) {
      // The head sees the real preceding context (prefix and earlier blocks, their heads already recomputed)
      // instead of the prefix only: EPIC's fix for the attention sink at each block boundary.
      for (const l of layout) {
        const head = Math.min(k, l.end - l.start);
        if (head === 0) continue;
        const re = await this.model.forward(tokens.slice(l.start, l.start + head), range(l.start, head), l.start > 0 ? kv.slice(0, l.start) : null, { logits: 'none' });
        overwriteRange(kv, l.start, re.present);
      }
    }
    return { kv, tokens, prefixLength: prefix.tokens.length, layout };
  }

  /**
   * Runs `tokens` (normally the final block) with full attention over the assembled context, in one session run
   * when they fit one prefill chunk: the tapped rows come out of the same run as the logits (row-only taps), so a
   * tapped question pass is the served pass. Only the pass's own KV leaves the session; `cache` (context + pass)
   * is joined on first read.
   */
  async questionPass(context: AssembledContext, tokens: number[], opts: PassOptions = {}): Promise<QuestionPassResult> {
    if (tokens.length === 0) throw new Error('questionPass: no tokens');
    const tapRows = opts.tapRows ?? 0;
    if (!Number.isInteger(tapRows) || tapRows < 0 || tapRows > tokens.length) throw new RangeError(`questionPass: tapRows ${tapRows} outside [0, ${tokens.length}]`);
    const start = context.tokens.length;
    // A long tapped pass (full mode) runs its head untapped in chunks, then the tail with the taps.
    const tail = tapRows > 0 && tokens.length > QUESTION_PASS_ONE_RUN ? tapRows : tokens.length;
    const head = tokens.length - tail;
    const inGraph = head === 0 && context.laidOut !== undefined;
    let past: KvCache | null = start === 0 ? null : inGraph ? (context.laidOut as { kv: KvCache }).kv : context.kv;
    let headKv: KvCache | null = null;
    if (head > 0) {
      headKv = (await this.model.forward(tokens.slice(0, head), range(start, head), past, { logits: 'none' })).present;
      past = past ? KvCache.concat([past, headKv]) : headKv;
    }
    const out = await this.model.forward(tokens.slice(head), range(start + head, tail), past, {
      logits: 'last',
      attentions: tapRows > 0 ? range(tail - tapRows, tapRows) : undefined,
      pastTargets: inGraph ? context.laidOut?.targets : undefined,
    });
    if (inGraph) {
      // The laid-out context was lent for this one run: its buffers go back to the arena, later passes over this
      // context read the re-encoded `kv`.
      const laid = context.laidOut as NonNullable<AssembledContext['laidOut']>;
      context.laidOut = undefined;
      laid.arena?.give(laid.kv.layers.flatMap((l) => [l.key, l.value]));
    }
    const kv = headKv ? KvCache.concat([headKv, out.present]) : out.present;
    let cache: KvCache | null = null;
    return {
      context,
      tokens,
      start,
      logits: out.logits as Float32Array,
      kv,
      get cache(): KvCache {
        return (cache ??= start > 0 ? KvCache.concat([context.kv, kv]) : kv);
      },
      attentions: out.attentions,
    };
  }

  /**
   * Full mode (the exact baseline): the prefix from cache, then every block and the final block prefilled in one
   * pass with ordinary causal attention.
   */
  async fullPass(rendered: RenderedBlock[], finalTokens: number[], opts: PassOptions = {}): Promise<QuestionPassResult> {
    const prefix = await this.prefix();
    const context: AssembledContext = { kv: prefix.kv, tokens: [...prefix.tokens], prefixLength: prefix.tokens.length, layout: [] };
    let pos = prefix.tokens.length;
    const tokens: number[] = [];
    for (const r of rendered) {
      context.layout.push({ chunkId: r.chunkId, start: pos, end: pos + r.tokens.length, tokenIndices: range(0, r.tokens.length) });
      tokens.push(...r.tokens);
      pos += r.tokens.length;
    }
    tokens.push(...finalTokens);
    return this.questionPass(context, tokens, opts);
  }

  /**
   * Decodes from a question pass: tokens are yielded as produced; the generator's return value is the result.
   * Stops at a stop token (not emitted), at `maxTokens`, or when `signal` aborts.
   */
  async *generate(pass: QuestionPassResult, sampling: SamplingOptions = {}, signal?: AbortSignal): AsyncGenerator<GeneratedToken, GenerationResult> {
    const t0 = performance.now();
    const sampler = new Sampler(sampling);
    const maxTokens = sampling.maxTokens ?? 256;
    const stops = new Set([...this.stopIds, ...(sampling.stopTokenIds ?? [])]);
    const tokenIds: number[] = [];
    const stream = new TextStream(this.model.tokenizer);
    let firstTokenMs: number | null = null;
    let finishReason: FinishReason = 'length';
    // One buffer per answer with room for every token it may generate (made after the first token, which needs
    // none): no step copies the context again.
    let buffer: KvBuffer | null = null;
    let cache: KvCache | null = null;
    let logits = pass.logits;
    while (tokenIds.length < maxTokens) {
      if (signal?.aborted) {
        finishReason = 'aborted';
        break;
      }
      const id = sampler.next(logits);
      firstTokenMs ??= performance.now() - t0;
      if (stops.has(id)) {
        finishReason = 'stop';
        break;
      }
      tokenIds.push(id);
      yield { id, text: stream.push(id) };
      if (tokenIds.length >= maxTokens) break;
      if (!buffer && !cache) {
        if (this.model.decodesInBuffer) buffer = this.decodeBuffer(pass, maxTokens - tokenIds.length);
        else cache = pass.cache;
      }
      if (buffer) logits = await this.model.decodeStep(buffer, id, buffer.length);
      else {
        const out = await this.model.forward([id], [(cache as KvCache).length], cache, { logits: 'last', present: 'all' });
        cache = out.present;
        logits = out.logits as Float32Array;
      }
    }
    return { tokenIds, text: stream.text(), finishReason, firstTokenMs, decodeMs: performance.now() - t0 };
  }

  /** The pass's context and KV in a decode buffer with room for `extra` more tokens. */
  private decodeBuffer(pass: QuestionPassResult, extra: number): KvBuffer {
    const parts = pass.start > 0 ? (pass.context.unformed?.() ?? null) : null;
    if (!parts || this.model.kvDtype !== 'float32') return this.model.decodeBuffer(pass.start > 0 ? [pass.context.kv, pass.kv] : [pass.kv], extra);
    // The re-encoded context was never formed (nothing read it): lay it out straight into the buffer.
    const { layers, kvHeads, headDim, ropeTheta } = this.model.config;
    const n = layoutLength(parts);
    const buffer = KvBuffer.laidOut({ layers, kvHeads, headDim }, n, n + pass.kv.length + Math.max(0, extra), (out, stride) => layOutInto(out, stride, parts, kvHeads, headDim, ropeTheta));
    buffer.append(pass.kv);
    return buffer;
  }

  /** Computes and stores a chunk's block KV ahead of queries (what the prefill queue runs). */
  async prefillChunk(chunk: BlockSource): Promise<KvSource> {
    const { source } = await this.blockKv(this.render(chunk));
    await this.store.flush();
    return source;
  }
}
