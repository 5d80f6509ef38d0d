import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { KvCache } from '../model/kv/KvCache.js';
import { componentLogger } from '../infra/logger.js';
import { DomainError } from '../infra/errors.js';
import { writeFileAtomic } from '../infra/atomicWrite.js';

const log = componentLogger('kv-store');

export interface KvShape {
  layers: number;
  kvHeads: number;
  headDim: number;
}

export interface KvBlockStoreOptions {
  /** Identity of the model the blocks belong to; a disk file written for another model is a mismatch. */
  modelId: string;
  shape: KvShape;
  /** Byte cap of the in-process tier (fp32 bytes). */
  memoryBytes: number;
  /** Disk tier folder (e.g. DATA_DIR/kv/<model>); null = memory only. */
  dir: string | null;
  /** Byte cap of the disk tier (file bytes). */
  diskBytes: number;
}

/** Where a block's KV came from. `joined` = another in-process caller was already computing it. */
export type KvSource = 'memory' | 'disk' | 'computed' | 'joined';

export interface KvLookup {
  kv: KvCache;
  source: KvSource;
}

export interface TierStats {
  hits: number;
  misses: number;
  bytes: number;
  entries: number;
  evictions: number;
}

export interface KvStoreStats {
  memory: TierStats;
  disk: TierStats & { corrupt: number; writes: number; writeErrors: number };
  computed: number;
}

const MAGIC = Buffer.from('RAGKVBLK', 'ascii');
const VERSION = 1;
const SUFFIX = '.kv';
const CHECKSUM_BYTES = 32;

interface FileHeader {
  key: string;
  modelId: string;
  layers: number;
  kvHeads: number;
  headDim: number;
  length: number;
  dtype: 'float16-le';
}

/** A block file that fails its checks; caught where read: the file is deleted and the block recomputed. */
class CorruptBlockError extends DomainError {
  constructor(message: string) {
    super('internal', message);
  }
}

/** KV values outside what fp16 can hold: the block stays in memory only. */
export class Fp16RangeError extends DomainError {
  constructor(message: string) {
    super('internal', message);
  }
}

function hasInfinity(half: Uint16Array, source: Float32Array): boolean {
  for (let i = 0; i < half.length; i++) if ((half[i] & 0x7fff) === 0x7c00 && Number.isFinite(source[i])) return true;
  return false;
}

/** Content address of a block: model, the context it continues (template + prefix) and its tokens. */
export function blockKey(modelId: string, contextId: string, tokens: ArrayLike<number>): string {
  const h = createHash('sha256');
  h.update(`${modelId}\n${contextId}\n`);
  h.update(Buffer.from(Int32Array.from(tokens).buffer));
  return h.digest('hex');
}

/**
 * Content-addressed, tiered store of KV blocks: an in-process LRU (fp32, byte cap), then a disk tier (fp16 files
 * with a checksummed header, atomic writes, LRU eviction by access time under a byte cap). A file that is corrupt,
 * truncated or written for another model/shape is deleted, counted and treated as a miss. Several processes may
 * share the disk folder: files are written under a temp name and renamed, so readers never see a partial file and
 * two writers of one key just replace equal content.
 */
export class KvBlockStore {
  private readonly memory = new Map<string, KvCache>();
  private memoryBytes = 0;
  private readonly inflight = new Map<string, Promise<KvLookup>>();
  private readonly pendingWrites = new Set<Promise<void>>();
  /** Disk index: key -> file bytes and last access (ms); rebuilt from the folder when evicting. */
  private diskIndex: Map<string, { bytes: number; atimeMs: number }> | null = null;
  private readonly s: KvStoreStats = {
    memory: { hits: 0, misses: 0, bytes: 0, entries: 0, evictions: 0 },
    disk: { hits: 0, misses: 0, bytes: 0, entries: 0, evictions: 0, corrupt: 0, writes: 0, writeErrors: 0 },
    computed: 0,
  };

  constructor(readonly opts: KvBlockStoreOptions) {
    if (opts.dir) fs.mkdirSync(opts.dir, { recursive: true });
  }

  stats(): KvStoreStats {
    const idx = this.index();
    let diskBytes = 0;
    for (const e of idx?.values() ?? []) diskBytes += e.bytes;
    return {
      memory: { ...this.s.memory, bytes: this.memoryBytes, entries: this.memory.size },
      disk: { ...this.s.disk, bytes: diskBytes, entries: idx?.size ?? 0 },
      computed: this.s.computed,
    };
  }

  filePath(key: string): string {
    if (!this.opts.dir) throw new Error('KvBlockStore: no disk tier');
    return path.join(this.opts.dir, key + SUFFIX);
  }

  /** Memory first, then disk (a disk hit is promoted to memory). Null on a miss. */
  async get(key: string): Promise<KvLookup | null> {
    const m = this.memory.get(key);
    if (m) {
      this.memory.delete(key);
      this.memory.set(key, m);
      this.s.memory.hits++;
      return { kv: m, source: 'memory' };
    }
    this.s.memory.misses++;
    if (!this.opts.dir) return null;
    const kv = await this.readDisk(key);
    if (!kv) {
      this.s.disk.misses++;
      return null;
    }
    this.s.disk.hits++;
    this.remember(key, kv);
    return { kv, source: 'disk' };
  }

  /** Stores in memory and writes the disk file (awaited). */
  async put(key: string, kv: KvCache): Promise<void> {
    this.checkShape(kv);
    this.remember(key, kv);
    if (this.opts.dir) await this.writeDisk(key, kv);
  }

  /**
   * The block from the store, or computed by `compute` on a miss (stored in memory at once, written to disk in the
   * background: `flush()` waits for it). Concurrent callers of one key share one computation.
   */
  async getOrCompute(key: string, compute: () => Promise<KvCache>): Promise<KvLookup> {
    const running = this.inflight.get(key);
    if (running) return { kv: (await running).kv, source: 'joined' };
    const task = (async (): Promise<KvLookup> => {
      const found = await this.get(key);
      if (found) return found;
      const kv = await compute();
      this.checkShape(kv);
      this.s.computed++;
      this.remember(key, kv);
      if (this.opts.dir) {
        const write = this.writeDisk(key, kv).catch(() => undefined);
        this.pendingWrites.add(write);
        void write.finally(() => this.pendingWrites.delete(write));
      }
      return { kv, source: 'computed' };
    })();
    this.inflight.set(key, task);
    try {
      return await task;
    } finally {
      this.inflight.delete(key);
    }
  }

  /** Waits for background disk writes. */
  async flush(): Promise<void> {
    while (this.pendingWrites.size > 0) await Promise.all([...this.pendingWrites]);
  }

  /** Empties the in-process tier (the disk tier is kept). */
  clearMemory(): void {
    this.memory.clear();
    this.memoryBytes = 0;
  }

  private checkShape(kv: KvCache): void {
    const { layers, kvHeads, headDim } = this.opts.shape;
    if (kv.layerCount !== layers || kv.kvHeads !== kvHeads || kv.headDim !== headDim) {
      throw new Error(`KvBlockStore: cache shape ${kv.layerCount}x${kv.kvHeads}x${kv.headDim} does not match the store's ${layers}x${kvHeads}x${headDim}`);
    }
  }

  private remember(key: string, kv: KvCache): void {
    const old = this.memory.get(key);
    if (old) {
      this.memory.delete(key);
      this.memoryBytes -= old.byteLength;
    }
    if (kv.byteLength > this.opts.memoryBytes) return; // larger than the whole tier: disk only
    this.memory.set(key, kv);
    this.memoryBytes += kv.byteLength;
    for (const [k, v] of this.memory) {
      if (this.memoryBytes <= this.opts.memoryBytes) break;
      this.memory.delete(k);
      this.memoryBytes -= v.byteLength;
      this.s.memory.evictions++;
    }
  }

  // ---- disk tier ----

  private index(): Map<string, { bytes: number; atimeMs: number }> | null {
    if (!this.opts.dir) return null;
    if (!this.diskIndex) this.diskIndex = this.scan();
    return this.diskIndex;
  }

  private scan(): Map<string, { bytes: number; atimeMs: number }> {
    const idx = new Map<string, { bytes: number; atimeMs: number }>();
    for (const name of fs.readdirSync(this.opts.dir as string)) {
      if (!name.endsWith(SUFFIX)) continue;
      try {
        const st = fs.statSync(path.join(this.opts.dir as string, name));
        idx.set(name.slice(0, -SUFFIX.length), { bytes: st.size, atimeMs: Math.max(st.atimeMs, st.mtimeMs) });
      } catch {
        // Removed by another process meanwhile.
      }
    }
    return idx;
  }

  /** Encodes a cache as a disk file: magic, version, header length, JSON header, positions, fp16 payload, sha256 of all before. */
  encode(key: string, kv: KvCache): Buffer {
    const header: FileHeader = {
      key,
      modelId: this.opts.modelId,
      layers: kv.layerCount,
      kvHeads: kv.kvHeads,
      headDim: kv.headDim,
      length: kv.length,
      dtype: 'float16-le',
    };
    const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
    const fixed = Buffer.alloc(16);
    MAGIC.copy(fixed, 0);
    fixed.writeUInt32LE(VERSION, 8);
    fixed.writeUInt32LE(headerBytes.length, 12);
    const half = kv.toFp16();
    for (const [i, l] of half.layers.entries()) {
      // A finite value beyond fp16's range would come back as infinity and poison attention: keep such blocks off disk.
      if (hasInfinity(l.key, kv.layers[i].key) || hasInfinity(l.value, kv.layers[i].value)) throw new Fp16RangeError(`layer ${i} has values outside the fp16 range`);
    }
    const parts: Buffer[] = [fixed, headerBytes, Buffer.from(half.positions.buffer, half.positions.byteOffset, half.positions.byteLength)];
    for (const l of half.layers) {
      parts.push(Buffer.from(l.key.buffer, l.key.byteOffset, l.key.byteLength), Buffer.from(l.value.buffer, l.value.byteOffset, l.value.byteLength));
    }
    const body = Buffer.concat(parts);
    return Buffer.concat([body, createHash('sha256').update(body).digest()]);
  }

  /** Decodes and verifies a disk file for `key`; throws CorruptBlockError on any mismatch. */
  decode(key: string, buf: Buffer): KvCache {
    const fail = (why: string): never => {
      throw new CorruptBlockError(why);
    };
    if (buf.length < 16 + CHECKSUM_BYTES) fail(`truncated (${buf.length} bytes)`);
    if (!buf.subarray(0, 8).equals(MAGIC)) fail('bad magic');
    const version = buf.readUInt32LE(8);
    if (version !== VERSION) fail(`version ${version}, expected ${VERSION}`);
    const headerLen = buf.readUInt32LE(12);
    if (16 + headerLen + CHECKSUM_BYTES > buf.length) fail('header runs past the end of the file');
    const body = buf.subarray(0, buf.length - CHECKSUM_BYTES);
    if (!createHash('sha256').update(body).digest().equals(buf.subarray(buf.length - CHECKSUM_BYTES))) fail('checksum mismatch');
    let header: FileHeader;
    try {
      header = JSON.parse(buf.subarray(16, 16 + headerLen).toString('utf8')) as FileHeader;
    } catch {
      return fail('unreadable header');
    }
    const { layers, kvHeads, headDim } = this.opts.shape;
    if (header.key !== key) fail(`header key ${header.key} does not match the file name`);
    if (header.modelId !== this.opts.modelId) fail(`written for model ${header.modelId}, expected ${this.opts.modelId}`);
    if (header.layers !== layers || header.kvHeads !== kvHeads || header.headDim !== headDim) {
      fail(`shape ${header.layers}x${header.kvHeads}x${header.headDim}, expected ${layers}x${kvHeads}x${headDim}`);
    }
    if (header.dtype !== 'float16-le') fail(`dtype ${header.dtype}`);
    const n = header.length;
    const per = kvHeads * n * headDim;
    if (!Number.isInteger(n) || n < 0 || body.length !== 16 + headerLen + 4 * n + layers * 2 * per * 2) fail('payload size does not match the header');
    let at = 16 + headerLen;
    const take = <T extends Int32Array | Uint16Array>(out: T): T => {
      Buffer.from(out.buffer, out.byteOffset, out.byteLength).set(buf.subarray(at, at + out.byteLength));
      at += out.byteLength;
      return out;
    };
    const positions = take(new Int32Array(n));
    const halfLayers = Array.from({ length: layers }, () => ({ key: take(new Uint16Array(per)), value: take(new Uint16Array(per)) }));
    return KvCache.fromFp16({ kvHeads, headDim, positions, layers: halfLayers });
  }

  private async readDisk(key: string): Promise<KvCache | null> {
    const file = this.filePath(key);
    let buf: Buffer;
    try {
      buf = await fs.promises.readFile(file);
    } catch {
      return null;
    }
    try {
      const kv = this.decode(key, buf);
      const now = new Date();
      const idx = this.index();
      idx?.set(key, { bytes: buf.length, atimeMs: now.getTime() });
      // Access time drives LRU eviction across processes; relatime mounts do not update it on reads.
      fs.promises.utimes(file, now, now).catch(() => undefined);
      return kv;
    } catch (e) {
      if (!(e instanceof CorruptBlockError)) throw e;
      this.s.disk.corrupt++;
      log.warn({ key, reason: e.message }, 'corrupt or mismatched KV block file deleted');
      await fs.promises.rm(file, { force: true });
      this.index()?.delete(key);
      return null;
    }
  }

  private async writeDisk(key: string, kv: KvCache): Promise<void> {
    const file = this.filePath(key);
    try {
      const data = this.encode(key, kv);
      await writeFileAtomic(file, data);
      this.s.disk.writes++;
      this.index()?.set(key, { bytes: data.length, atimeMs: Date.now() });
      await this.evictDisk(key);
    } catch (e) {
      this.s.disk.writeErrors++;
      log.error({ key, err: e }, 'KV block write failed');
      throw e;
    }
  }

  /** Deletes least recently accessed files until the folder is under its cap (rescanned: other processes write too). */
  private async evictDisk(justWritten: string): Promise<void> {
    let idx = this.index() as Map<string, { bytes: number; atimeMs: number }>;
    let total = 0;
    for (const e of idx.values()) total += e.bytes;
    if (total <= this.opts.diskBytes) return;
    idx = this.diskIndex = this.scan();
    total = 0;
    for (const e of idx.values()) total += e.bytes;
    const byAge = [...idx.entries()].sort((a, b) => a[1].atimeMs - b[1].atimeMs || (a[0] === justWritten ? 1 : b[0] === justWritten ? -1 : 0));
    for (const [k, e] of byAge) {
      if (total <= this.opts.diskBytes) break;
      await fs.promises.rm(this.filePath(k), { force: true });
      idx.delete(k);
      total -= e.bytes;
      this.s.disk.evictions++;
    }
  }
}
