import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { replaceFile, writeFileAtomic } from '../infra/atomicWrite.js';
import path from 'node:path';
import { z } from 'zod';
import { DomainError } from '../infra/errors.js';

/**
 * On-disk snapshot of a VectorIndex: a directory written once, holding the hnswlib graph, a JSON sidecar with the
 * label<->key map and parameters, and MANIFEST.json naming both with their SHA-256. Each file is replaced atomically
 * (infra/atomicWrite.ts) and the manifest is written last, so a directory without a valid manifest holds no
 * snapshot. Switching between snapshots (and keeping the old one until the switch) is the caller's: CollectionIndex
 * writes every snapshot into a fresh directory and moves its CURRENT pointer.
 */

export const MANIFEST_FILE = 'MANIFEST.json';
const FORMAT = 1;

const SidecarSchema = z.object({
  format: z.literal(FORMAT),
  dim: z.number().int().positive(),
  params: z.object({
    M: z.number().int().positive(),
    efConstruction: z.number().int().positive(),
    /** Fixed search breadth, or null when it follows the index size. */
    ef: z.number().int().positive().nullable(),
  }),
  rebuildThreshold: z.number().positive().max(1),
  seed: z.number().int(),
  size: z.number().int().nonnegative(),
  /** Key of each hnswlib label; null for a deleted (tombstoned) label. */
  labelKeys: z.array(z.string().nullable()),
});
export type SnapshotMeta = z.infer<typeof SidecarSchema>;

const FileRefSchema = z.object({ name: z.string().regex(/^[\w.-]+$/), bytes: z.number().int().nonnegative(), sha256: z.string() });
const ManifestBodySchema = z.object({
  format: z.literal(FORMAT),
  /** Written by earlier versions, which numbered the files of a directory's snapshots; ignored. */
  generation: z.number().int().nonnegative().optional(),
  createdAt: z.string(),
  graph: FileRefSchema,
  sidecar: FileRefSchema,
});
type ManifestBody = z.infer<typeof ManifestBodySchema>;
const ManifestSchema = z.object({ body: ManifestBodySchema, sha256: z.string() });

/** A snapshot whose files do not match their recorded checksums, sizes or schema. */
export class CorruptSnapshotError extends DomainError {
  constructor(
    readonly dir: string,
    reason: string,
  ) {
    super('internal', `vector index snapshot in ${dir} is corrupt: ${reason}; rebuild the index from stored vectors`);
  }
}

export async function writeSnapshot(
  dir: string,
  meta: Omit<SnapshotMeta, 'format'>,
  writeGraph: (file: string) => void,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  if ((await readdir(dir)).length > 0) throw new Error(`vector index snapshot: ${dir} is not empty (a snapshot directory is written once)`);
  const graphName = 'graph.hnsw';
  const sidecarName = 'keys.json';
  await replaceFile(path.join(dir, graphName), writeGraph);
  const sidecar: SnapshotMeta = { format: FORMAT, ...meta };
  await writeFileAtomic(path.join(dir, sidecarName), JSON.stringify(sidecar));
  const body: ManifestBody = {
    format: FORMAT,
    createdAt: new Date().toISOString(),
    graph: await fileRef(dir, graphName),
    sidecar: await fileRef(dir, sidecarName),
  };
  await writeFileAtomic(path.join(dir, MANIFEST_FILE), JSON.stringify({ body, sha256: sha256(JSON.stringify(body)) }, null, 1));
}

/** Verify every checksum, then hand the sidecar and the graph path to `openGraph`. */
export async function readSnapshot<T>(dir: string, openGraph: (meta: SnapshotMeta, graphFile: string) => T): Promise<T> {
  const body = await readManifestBody(dir);
  for (const ref of [body.graph, body.sidecar]) await verifyFile(dir, ref);
  const sidecarText = await readFile(path.join(dir, body.sidecar.name), 'utf8');
  const parsed = SidecarSchema.safeParse(JSON.parse(sidecarText));
  if (!parsed.success) throw new CorruptSnapshotError(dir, `sidecar ${body.sidecar.name} is invalid: ${parsed.error.message}`);
  const meta = parsed.data;
  const live = meta.labelKeys.filter((k) => k !== null).length;
  if (live !== meta.size) throw new CorruptSnapshotError(dir, `sidecar lists ${live} live keys but records size ${meta.size}`);
  return openGraph(meta, path.join(dir, body.graph.name));
}

async function readManifestBody(dir: string): Promise<ManifestBody> {
  let text: string;
  try {
    text = await readFile(path.join(dir, MANIFEST_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`no vector index snapshot in ${dir} (${MANIFEST_FILE} missing)`);
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CorruptSnapshotError(dir, `${MANIFEST_FILE} is not valid JSON`);
  }
  const parsed = ManifestSchema.safeParse(json);
  if (!parsed.success) throw new CorruptSnapshotError(dir, `${MANIFEST_FILE} is malformed`);
  if (sha256(JSON.stringify(parsed.data.body)) !== parsed.data.sha256) throw new CorruptSnapshotError(dir, `${MANIFEST_FILE} checksum mismatch`);
  return parsed.data.body;
}

async function verifyFile(dir: string, ref: z.infer<typeof FileRefSchema>): Promise<void> {
  const file = path.join(dir, ref.name);
  let bytes: number;
  try {
    bytes = (await stat(file)).size;
  } catch {
    throw new CorruptSnapshotError(dir, `${ref.name} is missing`);
  }
  if (bytes !== ref.bytes) throw new CorruptSnapshotError(dir, `${ref.name} has ${bytes} bytes, expected ${ref.bytes}`);
  if ((await sha256File(file)) !== ref.sha256) throw new CorruptSnapshotError(dir, `${ref.name} checksum mismatch`);
}

async function fileRef(dir: string, name: string): Promise<z.infer<typeof FileRefSchema>> {
  const file = path.join(dir, name);
  return { name, bytes: (await stat(file)).size, sha256: await sha256File(file) };
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}



