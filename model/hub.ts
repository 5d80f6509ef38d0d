import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { env, type ProgressCallback, type ProgressInfo } from '@huggingface/transformers';
import { DomainError } from '../infra/errors.js';
import type { Config } from '../infra/config.js';
import type { DecoderDtype } from '../infra/decoderDtypes.js';
import { chooseDecoderFile, decoderFilesToPull, DecoderFileError, genaiDecoderFile, METADATA_FILES } from './ModelFiles.js';
import { isHubId, ModelNotFoundError, resolveModelDir } from './resolveModelDir.js';

/**
 * Fetching models that are missing from MODELS_DIR, through transformers.js's hub client. With
 * ALLOW_REMOTE_MODELS=auto (the default) a missing model is downloaded when the hub answers and the
 * caller falls back at once (local files only) when it does not; `true` always tries, `false` never does.
 */
export type RemoteModels = 'auto' | boolean;

export interface HubSettings {
  remote: RemoteModels;
  /** The hub (HF_ENDPOINT): https://huggingface.co/ or a mirror speaking the same protocol. */
  endpoint: string;
  modelsDir: string;
}

export function hubSettings(config: Pick<Config, 'ALLOW_REMOTE_MODELS' | 'HF_ENDPOINT' | 'modelsDir'>): HubSettings {
  return { remote: config.ALLOW_REMOTE_MODELS, endpoint: config.HF_ENDPOINT, modelsDir: config.modelsDir };
}

/** How long `auto` waits for the hub before using what is local: a start-up must not hang on a dead network. */
export const HUB_PROBE_TIMEOUT_MS = 3000;

/** Downloads land in MODELS_DIR/<org>/<name>, the folder every load looks in first. */
export function configureHub(s: HubSettings, allowDownloads: boolean): void {
  env.remoteHost = s.endpoint.endsWith('/') ? s.endpoint : `${s.endpoint}/`;
  env.localModelPath = path.resolve(s.modelsDir);
  env.cacheDir = env.localModelPath;
  env.useFSCache = true;
  env.allowLocalModels = true;
  env.allowRemoteModels = allowDownloads;
}

/** Null when the hub answers HTTP at all (any status), else why not. */
export async function hubProblem(endpoint: string, timeoutMs = HUB_PROBE_TIMEOUT_MS): Promise<string | null> {
  try {
    await fetch(endpoint, { method: 'HEAD', signal: AbortSignal.timeout(timeoutMs) });
    return null;
  } catch (err) {
    if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return `no answer within ${timeoutMs} ms`;
    const cause = err instanceof Error ? (err.cause as { code?: string; message?: string } | undefined) : undefined;
    return cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
  }
}

export type DownloadDecision = { download: true } | { download: false; reason: string };
const decisions = new Map<string, Promise<DownloadDecision>>();

/** Whether a missing model may be fetched now; with `auto` the hub is asked once per process. */
export function downloadDecision(s: HubSettings): Promise<DownloadDecision> {
  if (s.remote === false) return Promise.resolve({ download: false, reason: 'downloads are off (ALLOW_REMOTE_MODELS=false)' });
  if (s.remote === true) return Promise.resolve({ download: true });
  let d = decisions.get(s.endpoint);
  if (!d) {
    d = hubProblem(s.endpoint).then((problem): DownloadDecision =>
      problem ? { download: false, reason: `the model hub at ${s.endpoint} does not answer (${problem}), so nothing was downloaded (ALLOW_REMOTE_MODELS=auto)` } : { download: true },
    );
    decisions.set(s.endpoint, d);
  }
  return d;
}

/** The local folder of a model, or null when MODELS_DIR does not hold it. */
export function localModelDir(id: string, modelsDir: string): string | null {
  try {
    return resolveModelDir(id, modelsDir);
  } catch (err) {
    if (err instanceof ModelNotFoundError) return null;
    throw err;
  }
}

export interface ProgressSink {
  info: (fields: Record<string, unknown>, msg: string) => void;
}

/** transformers.js download progress as log lines: each file's start and end, and its bytes every few seconds. */
export function progressLog(log: ProgressSink, model: string, everyMs = 5000): ProgressCallback {
  const last = new Map<string, number>();
  const mib = (n: number) => Math.round((n / 2 ** 20) * 10) / 10;
  return (p: ProgressInfo) => {
    if (p.status === 'download') log.info({ model, file: p.file }, `downloading ${model}: ${p.file}`);
    else if (p.status === 'progress') {
      const now = Date.now();
      if (now - (last.get(p.file) ?? 0) < everyMs && p.progress < 100) return;
      last.set(p.file, now);
      log.info({ model, file: p.file, percent: Math.round(p.progress), mib: mib(p.loaded), totalMib: mib(p.total) }, `downloading ${model}: ${p.file} ${Math.round(p.progress)}% of ${mib(p.total)} MiB`);
    } else if (p.status === 'done' && last.has(p.file)) log.info({ model, file: p.file }, `downloaded ${model}: ${p.file}`);
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const lockPath = (modelsDir: string, id: string): string => path.join(path.resolve(modelsDir), `.download-${id.replace(/[^A-Za-z0-9._-]/g, '_')}.lock`);

/** The pid downloading this model into MODELS_DIR right now, if any (a lock left by a dead process is removed). */
function downloader(lock: string): number | null {
  let holder: number;
  try {
    holder = Number(fs.readFileSync(lock, 'utf8'));
  } catch {
    return null;
  }
  if (Number.isInteger(holder) && holder > 0 && alive(holder)) return holder;
  fs.rmSync(lock, { force: true });
  return null;
}

/** Waits while another process downloads this model: its files appear one by one and are not usable before the end. */
export async function waitForDownload(modelsDir: string, id: string): Promise<void> {
  const lock = lockPath(modelsDir, id);
  while (downloader(lock) !== null) await new Promise((r) => setTimeout(r, 500));
}

/**
 * One download of a model at a time across the processes sharing MODELS_DIR (`npm start` runs the API and
 * the workers side by side, and both may need it): the others wait, then find the files in place.
 */
export async function withDownloadLock<T>(modelsDir: string, id: string, fn: () => Promise<T>): Promise<T> {
  const lock = lockPath(modelsDir, id);
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  // The pid is written before the lock appears (a hard link fails if it exists), so no reader sees an empty lock.
  const mine = `${lock}.${process.pid}`;
  fs.writeFileSync(mine, String(process.pid));
  try {
    for (;;) {
      try {
        fs.linkSync(mine, lock);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        await waitForDownload(modelsDir, id);
      }
    }
  } finally {
    fs.rmSync(mine, { force: true });
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

/** Whether a folder already holds a decoder to load (for `dtype`, that variant's file). */
function holdsDecoder(dir: string, dtype: DecoderDtype | undefined): boolean {
  if (!fs.existsSync(path.join(dir, 'config.json'))) return false;
  try {
    chooseDecoderFile(dir, dtype);
    return true;
  } catch (err) {
    if (err instanceof DecoderFileError) return false;
    throw err;
  }
}

/**
 * One variant of a decoder repo into MODELS_DIR/<id>: the metadata files (config, tokenizer, genai_config.json),
 * then the ONNX file `dtype` selects (GENERATOR_DTYPE's file; genai repos: the file genai_config.json names) and its
 * external data, never the other variants (an optimum repo holds eight, ~5 GB for Qwen2.5-0.5B). Files already there
 * with the size the hub reports are kept; each download lands in a `.part` file renamed when complete. HF_TOKEN is
 * sent for gated repos.
 */
export async function downloadDecoder(id: string, s: HubSettings, opts: { dtype?: DecoderDtype; progress?: ProgressCallback; revision?: string } = {}): Promise<string> {
  if (!isHubId(id)) throw new ModelNotFoundError(`"${id}" is not a hub id (expected org/name)`);
  return withDownloadLock(s.modelsDir, id, async () => {
    const dir = path.join(path.resolve(s.modelsDir), id);
    // Another process may have finished it while this one waited for the lock.
    if (holdsDecoder(dir, opts.dtype)) return dir;
    const endpoint = s.endpoint.replace(/\/+$/, '');
    const revision = encodeURIComponent(opts.revision ?? 'main');
    const headers: Record<string, string> = process.env.HF_TOKEN ? { authorization: `Bearer ${process.env.HF_TOKEN}` } : {};
    const listing = await fetch(`${endpoint}/api/models/${id}/revision/${revision}`, { headers });
    if (!listing.ok) throw new DomainError('unavailable', `${id}: the hub answered ${listing.status} listing its files${listing.status === 401 ? ' (gated or private: set HF_TOKEN)' : ''}`);
    const files = ((await listing.json()) as { siblings?: { rfilename: string }[] }).siblings?.map((f) => f.rfilename) ?? [];
    const report = (p: Record<string, unknown>): void => opts.progress?.({ name: id, ...p } as unknown as ProgressInfo);
    const download = async (file: string): Promise<void> => {
      const target = path.join(dir, file);
      const res = await fetch(`${endpoint}/${id}/resolve/${revision}/${file.split('/').map(encodeURIComponent).join('/')}`, { headers });
      if (!res.ok || !res.body) throw new DomainError('unavailable', `${id}: ${file}: the hub answered ${res.status}`);
      const total = Number(res.headers.get('content-length') ?? NaN);
      if (Number.isFinite(total) && fs.existsSync(target) && fs.statSync(target).size === total) {
        await res.body.cancel();
        return;
      }
      fs.mkdirSync(path.dirname(target), { recursive: true });
      report({ status: 'download', file });
      let loaded = 0;
      const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
      body.on('data', (chunk: Buffer) => {
        loaded += chunk.length;
        report({ status: 'progress', file, loaded, total, progress: Number.isFinite(total) && total > 0 ? (100 * loaded) / total : 0 });
      });
      const part = `${target}.part`;
      await pipeline(body, fs.createWriteStream(part));
      if (Number.isFinite(total) && loaded !== total) throw new DomainError('unavailable', `${id}: ${file}: got ${loaded} of ${total} bytes`);
      fs.renameSync(part, target);
      report({ status: 'done', file });
    };
    for (const f of METADATA_FILES.filter((m) => files.includes(m))) await download(f);
    const decoder = decoderFilesToPull(files, opts.dtype, genaiDecoderFile(dir));
    for (const f of decoder.files) await download(f);
    return resolveModelDir(id, s.modelsDir);
  });
}

/**
 * The local folder of a decoder, downloading it first when it is a hub id missing from MODELS_DIR and the
 * setting allows; otherwise the not-found error, saying why nothing was downloaded.
 */
export async function ensureDecoder(id: string, s: HubSettings, progress?: ProgressCallback, dtype?: DecoderDtype): Promise<string> {
  if (isHubId(id)) await waitForDownload(s.modelsDir, id);
  const local = localModelDir(id, s.modelsDir);
  if (local && (!isHubId(id) || holdsDecoder(local, dtype))) return local;
  if (!isHubId(id)) return resolveModelDir(id, s.modelsDir);
  const decision = await downloadDecision(s);
  if (!decision.download) {
    if (local) return local; // loading says which variant is missing
    try {
      return resolveModelDir(id, s.modelsDir);
    } catch (err) {
      throw new ModelNotFoundError(`${(err as Error).message} (${decision.reason})`);
    }
  }
  return downloadDecoder(id, s, { progress, dtype });
}
