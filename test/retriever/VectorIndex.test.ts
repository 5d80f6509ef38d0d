import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { VectorIndex, defaultEf } from '../../retriever/VectorIndex.js';
import { CorruptSnapshotError, MANIFEST_FILE } from '../../retriever/VectorIndexSnapshot.js';
import { dot, exactTopK, seededUnitVectors } from './seededVectors.js';

const DIM = 48;

function entries(count: number, seed: number, prefix = 'k'): [string, Float32Array][] {
  return seededUnitVectors(count, DIM, seed).map((v, i) => [`${prefix}${i}`, v]);
}

let tmp: string;
beforeEach(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'vector-index-'));
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('VectorIndex', () => {
  test('every inserted vector is its own top-1 with cosine 1', () => {
    const data = entries(400, 1);
    const index = VectorIndex.build(DIM, data);
    expect(index.size).toBe(400);
    for (const [key, v] of data) {
      const [hit] = index.search(v, 1);
      expect(hit.key).toBe(key);
      expect(hit.score).toBeCloseTo(1, 5);
    }
  });

  test('scores are cosine similarities of the stored vectors, best first', () => {
    const data = entries(50, 2);
    const index = VectorIndex.build(DIM, data, { ef: 100 });
    const query = seededUnitVectors(1, DIM, 99)[0];
    const hits = index.search(query, 10);
    const exact = exactTopK(query, data, 10);
    expect(hits.map((h) => h.key)).toEqual(exact.map((h) => h.key));
    hits.forEach((h, i) => expect(h.score).toBeCloseTo(exact[i].score, 5));
  });

  test('grows beyond its initial capacity by doubling', () => {
    const index = new VectorIndex(DIM, { initialCapacity: 8 });
    const data = entries(100, 3);
    for (const [k, v] of data) index.upsert(k, v);
    expect(index.size).toBe(100);
    expect(index.capacity).toBe(128);
    for (const [key, v] of data) expect(index.search(v, 1)[0].key).toBe(key);
  });

  test('removed keys are never returned and leave tombstones', () => {
    const data = entries(200, 4);
    const index = VectorIndex.build(DIM, data, { rebuildThreshold: 1 });
    const removed = new Set(data.slice(0, 50).map(([k]) => k));
    for (const k of removed) expect(index.remove(k)).toBe(true);
    expect(index.remove('k0')).toBe(false);
    expect(index.size).toBe(150);
    expect(index.tombstones).toBe(50);
    for (const [key, v] of data.slice(0, 50)) {
      expect(index.has(key)).toBe(false);
      const hits = index.search(v, 200);
      expect(hits.length).toBe(150);
      expect(hits.some((h) => removed.has(h.key))).toBe(false);
    }
  });

  test('upsert of an existing key replaces its vector', () => {
    const data = entries(100, 5);
    const index = VectorIndex.build(DIM, data);
    const [replacement] = seededUnitVectors(1, DIM, 77);
    const old = data[10][1];
    index.upsert('k10', replacement);
    expect(index.size).toBe(100);
    const [top] = index.search(replacement, 1);
    expect(top).toEqual({ key: 'k10', score: expect.closeTo(1, 5) });
    const oldHits = index.search(old, 100);
    const k10 = oldHits.find((h) => h.key === 'k10');
    expect(k10?.score).toBeCloseTo(dot(old, replacement), 5);
    expect(oldHits[0].key).not.toBe('k10');
  });

  test('rebuilds past the tombstone threshold and keeps answering correctly', () => {
    const data = entries(100, 6);
    const index = VectorIndex.build(DIM, data, { rebuildThreshold: 0.2, ef: 200 });
    for (let i = 0; i < 20; i++) index.remove(`k${i}`);
    expect(index.tombstones).toBe(20);
    expect(index.rebuildCount).toBe(0);
    index.remove('k20');
    expect(index.rebuildCount).toBe(1);
    expect(index.tombstones).toBe(0);
    expect(index.size).toBe(79);
    const live = data.slice(21);
    for (const [key, v] of live) expect(index.search(v, 1)[0].key).toBe(key);
    for (const q of seededUnitVectors(20, DIM, 123)) {
      expect(index.search(q, 10).map((h) => h.key)).toEqual(exactTopK(q, live, 10).map((h) => h.key));
    }
    // Keys inserted after the rebuild get fresh labels and coexist with the compacted ones.
    const [extra] = seededUnitVectors(1, DIM, 555);
    index.upsert('extra', extra);
    expect(index.search(extra, 1)[0].key).toBe('extra');
    expect(index.size).toBe(80);
  });

  test('save/load round trip gives identical results, tombstones and parameters', async () => {
    const data = entries(300, 7);
    const index = VectorIndex.build(DIM, data, { M: 12, efConstruction: 80, ef: 40, rebuildThreshold: 0.5 });
    for (let i = 0; i < 30; i++) index.remove(`k${i}`);
    await index.save(tmp);
    const loaded = await VectorIndex.load(tmp);
    expect(loaded.size).toBe(270);
    expect(loaded.tombstones).toBe(30);
    expect(loaded.params).toEqual({ M: 12, efConstruction: 80, ef: 40 });
    expect(loaded.rebuildThreshold).toBe(0.5);
    for (const q of seededUnitVectors(50, DIM, 321)) expect(loaded.search(q, 10)).toEqual(index.search(q, 10));
    expect(loaded.has('k0')).toBe(false);
    // A loaded index remains writable.
    const [extra] = seededUnitVectors(1, DIM, 999);
    loaded.upsert('extra', extra);
    expect(loaded.search(extra, 1)[0].key).toBe('extra');
  });

  test('without a fixed ef the search breadth follows the size, also after a reload', async () => {
    expect(defaultEf(1_000)).toBe(64);
    expect(defaultEf(80_000)).toBe(128);
    expect(defaultEf(200_000)).toBe(256);
    const index = VectorIndex.build(DIM, entries(30, 10));
    expect(index.params.ef).toBeUndefined();
    expect(index.searchEf).toBe(64);
    expect(new VectorIndex(DIM, { ef: 300 }).searchEf).toBe(300);
    await index.save(tmp);
    const loaded = await VectorIndex.load(tmp);
    expect(loaded.params.ef).toBeUndefined();
    expect(loaded.searchEf).toBe(64);
  });

  test('a snapshot directory is written once: graph, sidecar, manifest; a second save into it is refused', async () => {
    const index = VectorIndex.build(DIM, entries(60, 8));
    await index.save(tmp);
    expect((await readdir(tmp)).sort()).toEqual([MANIFEST_FILE, 'graph.hnsw', 'keys.json']);
    index.remove('k0');
    await expect(index.save(tmp)).rejects.toThrow(/not empty/);
    // The first snapshot is untouched.
    const loaded = await VectorIndex.load(tmp);
    expect(loaded.size).toBe(60);
    expect(loaded.has('k0')).toBe(true);
  });

  test.each([
    ['graph', (name: string) => name.endsWith('.hnsw')],
    ['sidecar', (name: string) => name === 'keys.json'],
    ['manifest', (name: string) => name === MANIFEST_FILE],
  ])('a flipped byte in the %s file is detected and the snapshot refused', async (_what, pick) => {
    const index = VectorIndex.build(DIM, entries(80, 9));
    await index.save(tmp);
    await expect(VectorIndex.load(tmp)).resolves.toBeInstanceOf(VectorIndex);
    const name = (await readdir(tmp)).find(pick)!;
    const file = path.join(tmp, name);
    const bytes = await readFile(file);
    const at = Math.floor(bytes.length / 2);
    bytes[at] ^= 0x01;
    await writeFile(file, bytes);
    await expect(VectorIndex.load(tmp)).rejects.toThrow(CorruptSnapshotError);
  });

  test('a missing snapshot is a clear error, not a corrupt one', async () => {
    await expect(VectorIndex.load(path.join(tmp, 'absent'))).rejects.toThrow(/no vector index snapshot/);
  });

  test('rejects vectors of the wrong dimension or with non-finite values', () => {
    const index = new VectorIndex(DIM);
    expect(() => index.upsert('a', new Float32Array(DIM + 1))).toThrow(/dimensions/);
    const bad = seededUnitVectors(1, DIM, 1)[0];
    bad[3] = NaN;
    expect(() => index.upsert('a', bad)).toThrow(/non-finite/);
    expect(index.size).toBe(0);
    expect(index.search(seededUnitVectors(1, DIM, 2)[0], 5)).toEqual([]);
  });
});
