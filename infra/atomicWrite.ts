import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * The one way files are replaced in this project: written to a temporary file beside the target (`.tmp` suffix, unique
 * per writer), fsynced, renamed over the target, and the folder fsynced. A reader sees the old file or the new one,
 * never a torn one, and once this returns the new file survives a crash. On failure the temporary file is removed.
 */
export async function replaceFile(file: string, write: (tmp: string) => Promise<void> | void): Promise<void> {
  const tmp = tempName(file);
  try {
    await write(tmp);
    const fh = await fs.promises.open(tmp, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.promises.rename(tmp, file);
  } catch (err) {
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
  await syncDir(path.dirname(file));
}

export function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  return replaceFile(file, (tmp) => fs.promises.writeFile(tmp, data));
}

/** The same, synchronous (small files written from synchronous code: probes, profiles, tapped graphs, bench results). */
export function writeFileAtomicSync(file: string, data: string | Uint8Array): void {
  const tmp = tempName(file);
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  syncDirSync(path.dirname(file));
}

function tempName(file: string): string {
  return `${file}.${process.pid}-${randomBytes(6).toString('hex')}.tmp`;
}

// Some platforms cannot fsync a directory; there the rename is as durable as the platform makes it.
const DIR_SYNC_UNSUPPORTED = new Set(['EISDIR', 'EINVAL', 'EPERM', 'EBADF']);

async function syncDir(dir: string): Promise<void> {
  let fh: fs.promises.FileHandle | null = null;
  try {
    fh = await fs.promises.open(dir, 'r');
    await fh.sync();
  } catch (err) {
    if (!DIR_SYNC_UNSUPPORTED.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
  } finally {
    await fh?.close();
  }
}

function syncDirSync(dir: string): void {
  let fd: number | null = null;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch (err) {
    if (!DIR_SYNC_UNSUPPORTED.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
}
