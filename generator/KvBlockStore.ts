import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { xxh64 } from '@node-rs/xxhash';
import { KvCache, type HalfKv } from '../model/kv/KvCache.js';
import { kvKernels } from '../model/kv/KvKernels.js';
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
/** 2: xxh64 checksum, header padded to 8 bytes (version 1 files, sha256, are rejected as stale and recomputed). */
const VERSION = 2;
const SUFFIX = '.kv';
const CHECKSUM_BYTES = 8;
const FIXED_BYTES = 16;
/** The JSON header is padded so positions (int32) and the fp16 payload start aligned: typed-array views, no copies. */
const HEADER_ALIGN = 8;

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

/** xxh64 of a file's body (a fast checksum against torn or damaged files; keys are content addresses already). */
function checksum(body: Uint8Array): Buffer {
  const out = Buffer.alloc(CHECKSUM_BYTES);
  out.writeBigUInt64LE(xxh64(body));
  return out;
}

/** A typed-array view of `bytes` when aligned for it, else a copy. */
function view<T extends Int32Array | Uint16Array>(make: (buffer: ArrayBuffer, byteOffset: number, length: number) => T, bytes: Buffer, elementBytes: number): T {
  if (bytes.byteOffset % elementBytes === 0) return make(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength / elementBytes);
  const copy = Buffer.from(bytes);
  return make(copy.buffer as ArrayBuffer, copy.byteOffset, copy.byteLength / elementBytes);
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

  /**
   * A block's verified fp16 form from the disk tier, without decoding to fp32 and without promoting it to memory
   * (for callers that feed fp16 on, or decode it where it is used). Null when absent, corrupt or stale.
   */
  async readHalf(key: string): Promise<HalfKv | null> {
    const buf = await this.readFile(key);
    return buf && this.verified(key, buf, (b) => this.decodeHalf(key, b));
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

  /**
   * Encodes a cache as a disk file: magic, version, header length, JSON header (space-padded to 8 bytes),
   * positions, fp16 payload (per layer key then value), xxh64 of everything before it.
   */
  async encode(key: string, kv: KvCache): Promise<Buffer> {
    const header: FileHeader = {
      key,
      modelId: this.opts.modelId,
      layers: kv.layerCount,
      kvHeads: kv.kvHeads,
      headDim: kv.headDim,
      length: kv.length,
      dtype: 'float16-le',
    };
    const json = JSON.stringify(header);
    const headerBytes = Buffer.from(json.padEnd(json.length + ((HEADER_ALIGN - ((FIXED_BYTES + Buffer.byteLength(json)) % HEADER_ALIGN)) % HEADER_ALIGN)), 'utf8');
    const fixed = Buffer.alloc(FIXED_BYTES);
    MAGIC.copy(fixed, 0);
    fixed.writeUInt32LE(VERSION, 8);
    fixed.writeUInt32LE(headerBytes.length, 12);
    const parts: Buffer[] = [fixed, headerBytes, Buffer.from(kv.positions.buffer, kv.positions.byteOffset, kv.positions.byteLength)];
    for (const [i, l] of kv.layers.entries()) {
      for (const values of [l.key, l.value]) {
        const { half, overflow } = await kvKernels.floatToHalf(values);
        // A finite value beyond fp16's range would come back as infinity and poison attention: keep such blocks off disk.
        if (overflow) throw new Fp16RangeError(`layer ${i} has values outside the fp16 range`);
        parts.push(Buffer.from(half.buffer, half.byteOffset, half.byteLength));
      }
    }
    // One copy of the payload: the file is gathered with room for its checksum, written into the tail.
    const bodyLength = parts.reduce((n, b) => n + b.length, 0);
    const file = Buffer.concat(parts, bodyLength + CHECKSUM_BYTES);
    checksum(file.subarray(0, bodyLength)).copy(file, bodyLength);
    return file;
  }

  /** Verifies a disk file for `key` and returns its fp16 form (views into `buf`); throws CorruptBlockError on any mismatch. */
  decodeHalf(key: string, buf: Buffer): HalfKv {
    const fail = (why: string): never => {
      throw new CorruptBlockError(why);
    };
    if (buf.length < FIXED_BYTES + CHECKSUM_BYTES) fail(`truncated (${buf.length} bytes)`);
    if (!buf.subarray(0, 8).equals(MAGIC)) fail('bad magic');
    const version = buf.readUInt32LE(8);
    if (version !== VERSION) fail(`version ${version}, expected ${VERSION}`);
    const headerLen = buf.readUInt32LE(12);
    if (FIXED_BYTES + headerLen + CHECKSUM_BYTES > buf.length) fail('header runs past the end of the file');
    const body = buf.subarray(0, buf.length - CHECKSUM_BYTES);
    if (!checksum(body).equals(buf.subarray(buf.length - CHECKSUM_BYTES))) fail('checksum mismatch');
    let header: FileHeader;
    try {
      header = JSON.parse(buf.subarray(FIXED_BYTES, FIXED_BYTES + headerLen).toString('utf8')) as FileHeader;
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
    const at = FIXED_BYTES + headerLen;
    if (!Number.isInteger(n) || n < 0 || body.length !== at + 4 * n + layers * 2 * per * 2) fail('payload size does not match the header');
    const positions = view((b, o, l) => new Int32Array(b, o, l), body.subarray(at, at + 4 * n), 4);
    const payload = view((b, o, l) => new Uint16Array(b, o, l), body.subarray(at + 4 * n), 2);
    return {
      kvHeads,
      headDim,
      positions,
      layers: Array.from({ length: layers }, (_, l) => ({ key: payload.subarray(2 * l * per, (2 * l + 1) * per), value: payload.subarray((2 * l + 1) * per, (2 * l + 2) * per) })),
    };
  }

  /** Decodes and verifies a disk file for `key`: the whole fp16 payload converted to fp32 in one native pass. */
  async decode(key: string, buf: Buffer): Promise<KvCache> {
    const half = this.decodeHalf(key, buf);
    const per = half.kvHeads * half.positions.length * half.headDim;
    const first = half.layers[0]?.key ?? new Uint16Array(0);
    const payload = new Uint16Array(first.buffer, first.byteOffset, half.layers.length * 2 * per);
    const values = await kvKernels.halfToFloat(payload);
    return new KvCache(
      half.layers.map((_, l) => ({ key: values.subarray(2 * l * per, (2 * l + 1) * per), value: values.subarray((2 * l + 1) * per, (2 * l + 2) * per) })),
      half.kvHeads,
      half.headDim,
      half.positions.slice(),
    );
  }

  private async readFile(key: string): Promise<Buffer | null> {
    try {
      return await fs.promises.readFile(this.filePath(key));
    } catch {
      return null;
    }
  }

  /** Runs a decoder over a file's bytes; a corrupt or stale file is deleted, counted and reported as null. */
  private async verified<T>(key: string, buf: Buffer, decode: (buf: Buffer) => T | Promise<T>): Promise<T | null> {
    const file = this.filePath(key);
    try {
      const out = await decode(buf);
      const now = new Date();
      this.index()?.set(key, { bytes: buf.length, atimeMs: now.getTime() });
      // Access time drives LRU eviction across processes; relatime mounts do not update it on reads.
      fs.promises.utimes(file, now, now).catch(() => undefined);
      return out;
    } catch (e) {
      if (!(e instanceof CorruptBlockError)) throw e;
      this.s.disk.corrupt++;
      log.warn({ key, reason: e.message }, 'corrupt or mismatched KV block file deleted');
      await fs.promises.rm(file, { force: true });
      this.index()?.delete(key);
      return null;
    }
  }

  private async readDisk(key: string): Promise<KvCache | null> {
    const buf = await this.readFile(key);
    return buf && this.verified(key, buf, (b) => this.decode(key, b));
  }

  private async writeDisk(key: string, kv: KvCache): Promise<void> {
    const file = this.filePath(key);
    try {
      const data = await this.encode(key, kv);
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
