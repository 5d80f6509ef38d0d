import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { replaceFile, writeFileAtomic, writeFileAtomicSync } from '../../infra/atomicWrite.js';

describe('atomic file replacement', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes and replaces a file, leaving no temporary file behind (async and sync)', async () => {
    const file = path.join(dir, 'a.json');
    await writeFileAtomic(file, 'one');
    expect(fs.readFileSync(file, 'utf8')).toBe('one');
    await writeFileAtomic(file, Buffer.from('two'));
    expect(fs.readFileSync(file, 'utf8')).toBe('two');
    writeFileAtomicSync(file, 'three');
    expect(fs.readFileSync(file, 'utf8')).toBe('three');
    expect(fs.readdirSync(dir)).toEqual(['a.json']);
  });

  it('a writer that fails leaves the old file intact and removes its temporary file', async () => {
    const file = path.join(dir, 'graph.bin');
    await writeFileAtomic(file, 'old');
    let tmpSeen = '';
    await expect(
      replaceFile(file, (tmp) => {
        tmpSeen = tmp;
        fs.writeFileSync(tmp, 'half');
        throw new Error('disk full');
      }),
    ).rejects.toThrow('disk full');
    expect(path.dirname(tmpSeen)).toBe(dir);
    expect(tmpSeen.endsWith('.tmp')).toBe(true);
    expect(fs.readFileSync(file, 'utf8')).toBe('old');
    expect(fs.readdirSync(dir)).toEqual(['graph.bin']);
  });

  it('a sync write into a missing folder fails without creating anything', () => {
    expect(() => writeFileAtomicSync(path.join(dir, 'missing', 'x'), 'y')).toThrow(/ENOENT/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});
