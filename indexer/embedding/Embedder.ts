import { DomainError } from '../../infra/errors.js';

/** A text embedder: turns texts into L2-normalised vectors of a fixed dimension. */
export interface Embedder {
  /** Stable identity of the model and its pooling; vectors from different ids must never share an index. */
  readonly id: string;
  readonly dim: number;
  readonly kind: EmbedderKind;
  /** One unit-norm vector per text, in input order. */
  embed(texts: string[]): Promise<Float32Array[]>;
  close(): Promise<void>;
}

export type EmbedderKind = 'use-lite' | 'transformers';

/** What a collection records about the embedder that produced its vectors. */
export interface EmbedderInfo {
  id: string;
  dim: number;
  kind: EmbedderKind;
}

/** The part of an embedder's identity that decides whether vectors are comparable. */
export type EmbedderIdentity = Pick<EmbedderInfo, 'id' | 'dim'>;

export class EmbedderMismatchError extends DomainError {
  constructor(
    readonly expected: EmbedderIdentity,
    readonly actual: EmbedderIdentity,
    collection?: string,
  ) {
    super(
      'conflict',
      `${collection ? `collection ${collection}` : 'the collection'} was built with embedder ${expected.id} (${expected.dim}-d), ` +
        `not ${actual.id} (${actual.dim}-d); re-embed the collection or configure the same model`,
      { field: collection ? 'collection' : undefined },
    );
  }
}

export function embedderInfo(e: Embedder): EmbedderInfo {
  return { id: e.id, dim: e.dim, kind: e.kind };
}

/** Refuse to mix vectors from two embedders in one collection. */
export function assertSameEmbedder(expected: EmbedderIdentity, actual: EmbedderIdentity, collection?: string): void {
  if (expected.id !== actual.id || expected.dim !== actual.dim) throw new EmbedderMismatchError(expected, actual, collection);
}

/** Scale a vector to unit length in place (a zero vector stays zero) and return it. */
export function l2Normalise(v: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i] * v[i];
  if (sum > 0) {
    const inv = 1 / Math.sqrt(sum);
    for (let i = 0; i < v.length; i++) v[i] *= inv;
  }
  return v;
}
