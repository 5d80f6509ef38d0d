import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DecoderModel } from '../../model/DecoderModel.js';
import { KvCache } from '../../model/kv/KvCache.js';
import { halfToFloat32 } from '../../model/kv/half.js';
import { BlockAttentionGenerator } from '../../generator/BlockAttentionGenerator.js';
import { KvBlockStore, blockKey, type KvBlockStoreOptions } from '../../generator/KvBlockStore.js';
import { buildTempModel, removeTempModel } from '../support/tempModel.js';
import { DOCS, chunkOf } from './fixtures.js';

const MODEL_ID = 'tiny-seed9';

describe('KvBlockStore (tiers, disk format, corruption, LRU caps)', () => {
  let modelDir: string;
  let model: DecoderModel;
  let work: string;
  const blocks: KvCache[] = [];
  let shape: KvBlockStoreOptions['shape'];

  const store = (over: Partial<KvBlockStoreOptions> = {}): KvBlockStore =>
    new KvBlockStore({ modelId: MODEL_ID, shape, memoryBytes: 64 * 2 ** 20, dir: path.join(work, 'kv'), diskBytes: 64 * 2 ** 20, ...over });

  beforeAll(async () => {
    modelDir = buildTempModel('tiny', { seed: 9 });
    model = await DecoderModel.load(modelDir, { intraOpThreads: 1 });
    const { layers, kvHeads, headDim } = model.config;
    shape = { layers, kvHeads, headDim };
    const gen = BlockAttentionGenerator.create(model, { modelId: MODEL_ID });
    for (const d of DOCS) blocks.push((await gen.blockKv(gen.render(chunkOf(d)))).kv);
  });
  beforeEach(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'kvstore-'));
  });
  afterEach(() => fs.rmSync(work, { recursive: true, force: true }));
  afterAll(async () => {
    await model.release();
    removeTempModel(modelDir);
  });

  it('keys are content addresses of model, context and tokens', () => {
    const k = blockKey('m', 'ctx', [1, 2, 3]);
    expect(k).toMatch(/^[0-9a-f]{64}$/);
    expect(blockKey('m', 'ctx', [1, 2, 3])).toBe(k);
    expect(blockKey('m2', 'ctx', [1, 2, 3])).not.toBe(k);
    expect(blockKey('m', 'ctx2', [1, 2, 3])).not.toBe(k);
    expect(blockKey('m', 'ctx', [1, 2, 4])).not.toBe(k);
  });

  it('a block written to disk and read back: fp16 payload bit-identical, values within fp16 rounding of the fp32 source', async () => {
    const kv = blocks[0];
    const a = store();
    await a.put('k0', kv);
    const b = store(); // fresh process view: empty memory tier
    const got = await b.get('k0');
    expect(got?.source).toBe('disk');
    const back = got!.kv;
    expect(Array.from(back.positions)).toEqual(Array.from(kv.positions));
    const h0 = kv.toFp16();
    const h1 = back.toFp16();
    let maxRel = 0;
    for (let l = 0; l < kv.layerCount; l++) {
      expect(Buffer.from(h1.layers[l].key.buffer).equals(Buffer.from(h0.layers[l].key.buffer))).toBe(true);
      expect(Buffer.from(h1.layers[l].value.buffer).equals(Buffer.from(h0.layers[l].value.buffer))).toBe(true);
      expect(Array.from(back.layers[l].key)).toEqual(Array.from(halfToFloat32(h0.layers[l].key)));
      for (const [src, dst] of [[kv.layers[l].key, back.layers[l].key], [kv.layers[l].value, back.layers[l].value]] as const) {
        for (let i = 0; i < src.length; i++) {
          // Round to nearest half: relative error <= 2^-11 for normals, absolute <= 2^-25 for subnormals.
          const err = Math.abs(src[i] - dst[i]);
          expect(err).toBeLessThanOrEqual(Math.max(Math.abs(src[i]) * 2 ** -11, 2 ** -25));
          if (Math.abs(src[i]) > 1e-3) maxRel = Math.max(maxRel, err / Math.abs(src[i]));
        }
      }
    }
    expect(maxRel).toBeGreaterThan(0); // fp16 really rounded something
    const file = a.filePath('k0');
    const bytes = fs.readFileSync(file);
    expect(bytes.subarray(0, 8).toString('ascii')).toBe('RAGKVBLK');
    expect(bytes.length).toBe((await a.encode('k0', kv)).length);
    expect(fs.readdirSync(path.join(work, 'kv')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a flipped byte, a truncated file or a file of another model is detected, deleted, counted and missed', async () => {
    const a = store();
    await a.put('k1', blocks[1]);
    const file = a.filePath('k1');
    const bytes = fs.readFileSync(file);
    const cases: [string, (b: Buffer) => Buffer][] = [
      ['payload byte', (b) => { const c = Buffer.from(b); c[c.length - 100] ^= 0x01; return c; }],
      ['header byte', (b) => { const c = Buffer.from(b); c[20] ^= 0x20; return c; }],
      ['truncated', (b) => b.subarray(0, b.length - 7)],
      ['an older format version', (b) => { const c = Buffer.from(b); c.writeUInt32LE(1, 8); return c; }],
      ['empty', () => Buffer.alloc(0)],
    ];
    for (const [, damage] of cases) {
      fs.writeFileSync(file, damage(bytes));
      const s = store();
      expect(await s.get('k1')).toBeNull();
      expect(s.stats().disk.corrupt).toBe(1);
      expect(s.stats().disk.misses).toBe(1);
      expect(fs.existsSync(file)).toBe(false);
    }
    // Same bytes, other model or shape: mismatch.
    fs.writeFileSync(file, bytes);
    const other = store({ modelId: 'another-model' });
    expect(await other.get('k1')).toBeNull();
    expect(other.stats().disk.corrupt).toBe(1);
    fs.writeFileSync(file, bytes);
    const otherShape = store({ shape: { ...shape, layers: shape.layers + 1 } });
    expect(await otherShape.get('k1')).toBeNull();
    expect(fs.existsSync(file)).toBe(false);
    // Under a different key name the header's key does not match.
    fs.writeFileSync(store().filePath('k2'), bytes);
    expect(await store().get('k2')).toBeNull();
  });

  it('readHalf gives the stored fp16 bits without decoding or promoting; concurrent reads decode each block to its own values', async () => {
    const a = store();
    for (const [i, b] of blocks.slice(0, 3).entries()) await a.put(`m${i}`, b);
    const bytes = fs.readFileSync(a.filePath('m0'));
    // Positions and the fp16 payload start 8-byte aligned, so reads hand out views instead of copies.
    expect((16 + bytes.readUInt32LE(12)) % 8).toBe(0);
    const b = store();
    const half = await b.readHalf('m1');
    const ref = blocks[1].toFp16();
    expect(Array.from(half!.positions)).toEqual(Array.from(ref.positions));
    for (let l = 0; l < ref.layers.length; l++) {
      expect(Array.from(half!.layers[l].key)).toEqual(Array.from(ref.layers[l].key));
      expect(Array.from(half!.layers[l].value)).toEqual(Array.from(ref.layers[l].value));
    }
    expect(b.stats().memory.entries).toBe(0);
    expect(await b.readHalf('absent')).toBeNull();
    // Bytes at an odd offset (no aligned view possible) decode to the same values, through a copy.
    const shifted = Buffer.alloc(bytes.length + 1).subarray(1);
    bytes.copy(shifted);
    const odd = b.decodeHalf('m0', shifted);
    const even = b.decodeHalf('m0', bytes);
    expect(Array.from(odd.positions)).toEqual(Array.from(even.positions));
    expect(Array.from(odd.layers[1].value)).toEqual(Array.from(even.layers[1].value));
    const got = await Promise.all(['m2', 'absent', 'm0', 'm1'].map((k) => b.get(k)));
    expect(got.map((g) => g?.source ?? null)).toEqual(['disk', null, 'disk', 'disk']);
    for (const [g, i] of [[got[0], 2], [got[2], 0], [got[3], 1]] as const) {
      const want = KvCache.fromFp16(blocks[i].toFp16());
      for (let l = 0; l < want.layerCount; l++) {
        expect(Array.from(g!.kv.layers[l].key)).toEqual(Array.from(want.layers[l].key));
        expect(Array.from(g!.kv.layers[l].value)).toEqual(Array.from(want.layers[l].value));
      }
    }
    expect(b.stats().disk.hits).toBe(3);
    expect(b.stats().memory.entries).toBe(3);
  });

  it('a corrupt block on disk is recomputed by the generator and equals a fresh compute', async () => {
    const dir = path.join(work, 'kv');
    const mk = (): BlockAttentionGenerator => BlockAttentionGenerator.create(model, { modelId: MODEL_ID, store: store() });
    const g1 = mk();
    const r = g1.render(chunkOf(DOCS[2]));
    const fresh = await g1.blockKv(r);
    expect(fresh.source).toBe('computed');
    await g1.store.flush();
    const file = g1.store.filePath(g1.blockKeyOf(r));
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 64] ^= 0x80;
    fs.writeFileSync(file, bytes);
    const g2 = mk();
    const again = await g2.blockKv(r);
    expect(again.source).toBe('computed');
    expect(g2.store.stats().disk.corrupt).toBe(1);
    for (let l = 0; l < fresh.kv.layerCount; l++) {
      expect(Array.from(again.kv.layers[l].key)).toEqual(Array.from(fresh.kv.layers[l].key));
      expect(Array.from(again.kv.layers[l].value)).toEqual(Array.from(fresh.kv.layers[l].value));
    }
    await g2.store.flush();
    // The rewritten file is sound again: a third process reads it from disk.
    const g3 = mk();
    expect((await g3.blockKv(r)).source).toBe('disk');
    expect(g3.store.stats().disk.corrupt).toBe(0);
    expect(fs.readdirSync(dir).length).toBeGreaterThan(0);
  });

  it('the memory tier respects its byte cap, evicting least recently used first', async () => {
    const [b0, b1, b2] = blocks;
    const cap = b0.byteLength + b1.byteLength + Math.floor(b2.byteLength / 2);
    const s = store({ memoryBytes: cap, dir: null });
    await s.put('a', b0);
    await s.put('b', b1);
    expect((await s.get('a'))?.source).toBe('memory'); // a is now more recent than b
    await s.put('c', b2);
    const st = s.stats();
    expect(st.memory.evictions).toBe(1);
    expect(st.memory.bytes).toBeLessThanOrEqual(cap);
    expect(st.memory.bytes).toBe(b0.byteLength + b2.byteLength);
    expect(await s.get('b')).toBeNull();
    expect((await s.get('a'))?.source).toBe('memory');
    expect((await s.get('c'))?.source).toBe('memory');
    // A block larger than the whole tier is not kept in memory.
    const tinyCap = store({ memoryBytes: 10, dir: null });
    await tinyCap.put('x', b0);
    expect(tinyCap.stats().memory.entries).toBe(0);
  });

  it('the disk tier respects its byte cap, evicting by access time', async () => {
    const s0 = store();
    const sizes = await Promise.all(blocks.slice(0, 3).map(async (b, i) => (await s0.encode(`d${i}`, b)).length));
    const cap = sizes[0] + sizes[1] + Math.floor(sizes[2] / 2);
    const s = store({ diskBytes: cap, memoryBytes: 1 });
    await s.put('d0', blocks[0]);
    await s.put('d1', blocks[1]);
    // Make d1 the oldest access, d0 the newest.
    fs.utimesSync(s.filePath('d1'), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    fs.utimesSync(s.filePath('d0'), new Date(Date.now() - 30_000), new Date(Date.now() - 30_000));
    expect((await s.get('d0'))?.source).toBe('disk'); // touches d0
    await new Promise((r) => setTimeout(r, 20));
    const fresh = store({ diskBytes: cap, memoryBytes: 1 }); // rescans the folder
    await fresh.put('d2', blocks[2]);
    const st = fresh.stats();
    expect(st.disk.evictions).toBe(1);
    expect(st.disk.bytes).toBeLessThanOrEqual(cap);
    expect(fs.existsSync(s.filePath('d1'))).toBe(false);
    expect(fs.existsSync(s.filePath('d0'))).toBe(true);
    expect(fs.existsSync(s.filePath('d2'))).toBe(true);
  });

  it('a block with values beyond the fp16 range stays in memory and is never written to disk', async () => {
    const big = new KvCache(
      blocks[0].layers.map((l, i) => ({ key: i === 1 ? l.key.map((v, j) => (j === 5 ? 1e6 : v)) : l.key, value: l.value })),
      blocks[0].kvHeads,
      blocks[0].headDim,
      blocks[0].positions,
    );
    const s = store();
    await expect(s.put('big', big)).rejects.toThrow(/fp16 range/);
    expect(fs.existsSync(s.filePath('big'))).toBe(false);
    expect(s.stats().disk.writeErrors).toBe(1);
    expect((await s.get('big'))?.source).toBe('memory');
    expect(fs.readdirSync(path.join(work, 'kv'))).toEqual([]);
  });

  it('getOrCompute is single-flight per key and counts tiers', async () => {
    const s = store();
    let calls = 0;
    const compute = async (): Promise<KvCache> => {
      calls++;
      await new Promise((r) => setTimeout(r, 30));
      return blocks[3];
    };
    const got = await Promise.all([s.getOrCompute('z', compute), s.getOrCompute('z', compute), s.getOrCompute('z', compute)]);
    expect(calls).toBe(1);
    expect(got.map((g) => g.source).sort()).toEqual(['computed', 'joined', 'joined']);
    expect((await s.getOrCompute('z', compute)).source).toBe('memory');
    await s.flush();
    expect(s.stats().disk.writes).toBe(1);
    expect((await store().getOrCompute('z', compute)).source).toBe('disk');
    expect(calls).toBe(1);
  });
});
