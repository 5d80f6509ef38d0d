import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MultiBar, Presets } from 'cli-progress';
import { decoderFilesToPull, genaiDecoderFile, METADATA_FILES, type DecoderDtype } from '../../model/ModelFiles.js';

export interface PullOptions {
  /** The hub's base URL (https://huggingface.co, or HF_ENDPOINT). */
  host: string;
  id: string;
  revision: string;
  modelsDir: string;
  dtype?: DecoderDtype;
  /** HF_TOKEN, for gated repos. */
  token?: string;
}

export interface PullResult {
  dir: string;
  decoderFile: string;
  files: { file: string; bytes: number; skipped: boolean }[];
}

/**
 * Downloads one variant of a hub model into MODELS_DIR/<id>: the repo's metadata files, then the decoder file the
 * dtype (or genai_config.json) selects and its external data, with a progress bar. Files already there with the
 * size the hub reports are kept; each download lands in a `.part` file renamed on completion.
 */
export async function pullModel(o: PullOptions): Promise<PullResult> {
  const headers: Record<string, string> = o.token ? { authorization: `Bearer ${o.token}` } : {};
  const listingRes = await fetch(`${o.host}/api/models/${o.id}/revision/${encodeURIComponent(o.revision)}`, { headers });
  if (!listingRes.ok) throw new Error(`${o.id}@${o.revision}: the hub answered ${listingRes.status} listing its files${listingRes.status === 401 ? ' (gated or private: set HF_TOKEN)' : ''}`);
  const listing = ((await listingRes.json()) as { siblings?: { rfilename: string }[] }).siblings?.map((s) => s.rfilename) ?? [];
  const dir = path.join(o.modelsDir, o.id);
  const done: PullResult['files'] = [];
  const bars = new MultiBar({ format: ' {bar} {percentage}% | {file}', hideCursor: true, clearOnComplete: false }, Presets.shades_classic);
  const download = async (file: string): Promise<void> => {
    const target = path.join(dir, file);
    const res = await fetch(`${o.host}/${o.id}/resolve/${encodeURIComponent(o.revision)}/${file.split('/').map(encodeURIComponent).join('/')}`, { headers });
    if (!res.ok || !res.body) throw new Error(`${o.id}: ${file}: the hub answered ${res.status}`);
    const total = Number(res.headers.get('content-length') ?? NaN);
    if (Number.isFinite(total) && fs.existsSync(target) && fs.statSync(target).size === total) {
      await res.body.cancel();
      done.push({ file, bytes: total, skipped: true });
      return;
    }
    fs.mkdirSync(path.dirname(target), { recursive: true });
    const bar = bars.create(Number.isFinite(total) ? total : 1, 0, { file });
    let got = 0;
    const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
    body.on('data', (chunk: Buffer) => bar.update((got += chunk.length), { file }));
    const part = `${target}.part`;
    await pipeline(body, fs.createWriteStream(part));
    if (Number.isFinite(total) && got !== total) throw new Error(`${o.id}: ${file}: got ${got} of ${total} bytes`);
    fs.renameSync(part, target);
    done.push({ file, bytes: got, skipped: false });
  };
  try {
    for (const f of METADATA_FILES.filter((m) => listing.includes(m))) await download(f);
    const { decoder, files } = decoderFilesToPull(listing, o.dtype, genaiDecoderFile(dir));
    for (const f of files) await download(f);
    return { dir, decoderFile: decoder, files: done };
  } finally {
    bars.stop();
  }
}
