import hnswlib from 'hnswlib-node';
import { readSnapshot, writeSnapshot, type SnapshotMeta } from './VectorIndexSnapshot.js';

const { HierarchicalNSW } = hnswlib;
type Hnsw = InstanceType<typeof HierarchicalNSW>;

/** HNSW graph parameters. `ef` is a fixed search breadth (the recall/speed knob); when absent it follows the index size. */
export interface HnswParams {
  M: number;
  efConstruction: number;
  ef?: number;
}

/** M 16 and efConstruction 200: hnswlib's usual choice for this dimension range; M 32 bought <1 point of recall in bench/hnsw.ts. */
export const DEFAULT_HNSW_PARAMS: Readonly<Required<Omit<HnswParams, 'ef'>>> = Object.freeze({ M: 16, efConstruction: 200 });

/**
 * Default search breadth for an index of `size` live vectors. Measured recall@10 (bench/hnsw.ts,
 * USE-lite vectors of SQuAD, M 16): 21,867 real vectors 0.997 at ef 64; sets of 100k and 200k
 * derived from them by small perturbations need more breadth (100k: 0.988 at 64, 0.995 at 128;
 * 200k: 0.970 at 64, 0.987 at 128, 0.993 at 256). A search at ef 256 still costs about 2 ms,
 * negligible next to generation, so breadth grows with size.
 */
export function defaultEf(size: number): number {
  if (size <= 50_000) return 64;
  if (size <= 100_000) return 128;
  return 256;
}

export interface VectorIndexOptions extends Partial<HnswParams> {
  /** Slots allocated up front; the index doubles its capacity when full. */
  initialCapacity?: number;
  /** Rebuild when tombstones exceed this fraction of all slots in use (live + deleted). */
  rebuildThreshold?: number;
  /** Seed for the level generator, so builds are reproducible. */
  seed?: number;
}

export interface VectorHit {
  key: string;
  /** Cosine similarity, in [-1, 1]. */
  score: number;
}

const DEFAULT_CAPACITY = 1024;
const DEFAULT_REBUILD_THRESHOLD = 0.2;

/**
 * Approximate nearest-neighbour index by cosine similarity over string keys, on hnswlib.
 * hnswlib labels are dense integers and a deleted label keeps its slot (markDelete), so this class
 * maps keys to labels, counts tombstones and rebuilds the graph from the live vectors when too many
 * accumulate. hnswlib is synchronous: one writer per index, ideally off the request thread.
 */
export class VectorIndex {
  readonly dim: number;
  readonly params: Readonly<HnswParams>;
  readonly rebuildThreshold: number;
  private readonly seed: number;
  private hnsw: Hnsw;
  /** Key of each label; null marks a tombstone. */
  private labelKeys: (string | null)[] = [];
  private keyLabels = new Map<string, number>();
  private deleted = 0;
  private rebuilds = 0;

  constructor(dim: number, opts: VectorIndexOptions = {}) {
    if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`dim must be a positive integer, got ${dim}`);
    const params: HnswParams = { ...DEFAULT_HNSW_PARAMS, ...definedOnly(opts) };
    for (const [name, v] of Object.entries(params)) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
    }
    const threshold = opts.rebuildThreshold ?? DEFAULT_REBUILD_THRESHOLD;
    if (!(threshold > 0 && threshold <= 1)) throw new RangeError(`rebuildThreshold must be in (0, 1], got ${threshold}`);
    this.dim = dim;
    this.params = Object.freeze(params);
    this.rebuildThreshold = threshold;
    this.seed = opts.seed ?? 100;
    this.hnsw = this.newGraph(Math.max(1, opts.initialCapacity ?? DEFAULT_CAPACITY));
  }

  /** A fresh index holding exactly these entries (the rebuild path, also used to index a stored collection). */
  static build(dim: number, entries: Iterable<readonly [string, Float32Array]>, opts: VectorIndexOptions = {}): VectorIndex {
    const list = Array.isArray(entries) ? (entries as (readonly [string, Float32Array])[]) : Array.from(entries);
    const index = new VectorIndex(dim, { ...opts, initialCapacity: Math.max(opts.initialCapacity ?? 1, list.length) });
    for (const [key, vec] of list) index.upsert(key, vec);
    return index;
  }

  /** Live entries. */
  get size(): number {
    return this.keyLabels.size;
  }

  /** Deleted slots still held by the graph. */
  get tombstones(): number {
    return this.deleted;
  }

  get capacity(): number {
    return this.hnsw.getMaxElements();
  }

  /** The ef a search uses when not given one: the fixed `ef` option, else defaultEf(size). */
  get searchEf(): number {
    return this.params.ef ?? defaultEf(this.size);
  }

  /** How many times the graph was rebuilt to drop tombstones. */
  get rebuildCount(): number {
    return this.rebuilds;
  }

  has(key: string): boolean {
    return this.keyLabels.has(key);
  }

  keys(): IterableIterator<string> {
    return this.keyLabels.keys();
  }

  /** The stored vector (unit length: the cosine space normalises on insert), or undefined. */
  get(key: string): Float32Array | undefined {
    const label = this.keyLabels.get(key);
    return label === undefined ? undefined : Float32Array.from(this.hnsw.getPoint(label));
  }

  /** Insert, or replace the vector of an existing key. */
  upsert(key: string, vec: Float32Array): void {
    const point = this.toPoint(vec);
    const existing = this.keyLabels.get(key);
    if (existing !== undefined) {
      // hnswlib updates an existing label in place and repairs its links.
      this.hnsw.addPoint(point, existing);
      return;
    }
    const label = this.labelKeys.length;
    if (label >= this.hnsw.getMaxElements()) this.hnsw.resizeIndex(this.hnsw.getMaxElements() * 2);
    this.hnsw.addPoint(point, label);
    this.labelKeys.push(key);
    this.keyLabels.set(key, label);
  }

  /** Delete a key; returns false if it was absent. May trigger a rebuild. */
  remove(key: string): boolean {
    const label = this.keyLabels.get(key);
    if (label === undefined) return false;
    this.hnsw.markDelete(label);
    this.labelKeys[label] = null;
    this.keyLabels.delete(key);
    this.deleted++;
    if (this.deleted > this.rebuildThreshold * this.labelKeys.length) this.rebuild();
    return true;
  }

  /** Up to k nearest live keys by cosine similarity, best first. */
  search(vec: Float32Array, k: number, opts: { ef?: number } = {}): VectorHit[] {
    if (!Number.isInteger(k) || k < 0) throw new RangeError(`k must be a non-negative integer, got ${k}`);
    const n = Math.min(k, this.size);
    if (n === 0) return [];
    const ef = opts.ef ?? this.searchEf;
    if (!Number.isInteger(ef) || ef < 1) throw new RangeError(`ef must be a positive integer, got ${ef}`);
    this.hnsw.setEf(Math.max(ef, n));
    const { neighbors, distances } = this.hnsw.searchKnn(this.toPoint(vec), n);
    const hits: VectorHit[] = [];
    for (let i = 0; i < neighbors.length; i++) {
      const key = this.labelKeys[neighbors[i]];
      if (key !== null && key !== undefined) hits.push({ key, score: 1 - distances[i] });
    }
    return hits;
  }

  /** Rebuild the graph from the live vectors, dropping tombstones and compacting labels. */
  rebuild(): void {
    const live: [string, number[]][] = [];
    for (const [key, label] of this.keyLabels) live.push([key, this.hnsw.getPoint(label)]);
    const graph = this.newGraph(Math.max(1, live.length, Math.ceil(this.hnsw.getMaxElements() / 2)));
    const labelKeys: string[] = [];
    const keyLabels = new Map<string, number>();
    for (const [key, point] of live) {
      graph.addPoint(point, labelKeys.length);
      keyLabels.set(key, labelKeys.length);
      labelKeys.push(key);
    }
    this.hnsw = graph;
    this.labelKeys = labelKeys;
    this.keyLabels = keyLabels;
    this.deleted = 0;
    this.rebuilds++;
  }

  /** Write an atomic, checksummed snapshot into dir (see VectorIndexSnapshot). */
  async save(dir: string): Promise<void> {
    await writeSnapshot(dir, this.snapshotMeta(), (file) => this.hnsw.writeIndexSync(file));
  }

  /** Load the snapshot in dir; throws CorruptSnapshotError if any file fails its checksum. */
  static async load(dir: string, opts: Pick<VectorIndexOptions, 'rebuildThreshold' | 'ef'> = {}): Promise<VectorIndex> {
    return readSnapshot(dir, (meta, hnswFile) => {
      const index = new VectorIndex(meta.dim, {
        M: meta.params.M,
        efConstruction: meta.params.efConstruction,
        ef: opts.ef ?? meta.params.ef ?? undefined,
        rebuildThreshold: opts.rebuildThreshold ?? meta.rebuildThreshold,
        seed: meta.seed,
        initialCapacity: 1,
      });
      const graph = new HierarchicalNSW('cosine', meta.dim);
      graph.readIndexSync(hnswFile);
      if (graph.getCurrentCount() !== meta.labelKeys.length) {
        throw new Error(`snapshot ${dir}: graph holds ${graph.getCurrentCount()} slots but the key map has ${meta.labelKeys.length}`);
      }
      index.hnsw = graph;
      index.labelKeys = meta.labelKeys;
      index.keyLabels = new Map();
      index.deleted = 0;
      meta.labelKeys.forEach((key, label) => {
        if (key === null) index.deleted++;
        else index.keyLabels.set(key, label);
      });
      return index;
    });
  }

  private snapshotMeta(): Omit<SnapshotMeta, 'format'> {
    return {
      dim: this.dim,
      params: { M: this.params.M, efConstruction: this.params.efConstruction, ef: this.params.ef ?? null },
      rebuildThreshold: this.rebuildThreshold,
      seed: this.seed,
      size: this.size,
      labelKeys: this.labelKeys,
    };
  }

  private newGraph(capacity: number): Hnsw {
    const graph = new HierarchicalNSW('cosine', this.dim);
    graph.initIndex(capacity, this.params.M, this.params.efConstruction, this.seed);
    return graph;
  }

  private toPoint(vec: Float32Array): number[] {
    if (vec.length !== this.dim) throw new RangeError(`vector has ${vec.length} dimensions, index has ${this.dim}`);
    let norm = 0;
    for (let i = 0; i < vec.length; i++) {
      if (!Number.isFinite(vec[i])) throw new RangeError(`vector has a non-finite value at ${i}`);
      norm += vec[i] * vec[i];
    }
    if (norm === 0) throw new RangeError('zero vector has no cosine similarity');
    // hnswlib-node reads plain JS arrays only.
    return Array.from(vec);
  }
}

function definedOnly(opts: VectorIndexOptions): Partial<HnswParams> {
  const out: Partial<HnswParams> = {};
  if (opts.M !== undefined) out.M = opts.M;
  if (opts.efConstruction !== undefined) out.efConstruction = opts.efConstruction;
  if (opts.ef !== undefined) out.ef = opts.ef;
  return out;
}
