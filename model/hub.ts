import fs from 'node:fs';
import path from 'node:path';
import { AutoModelForCausalLM, AutoTokenizer, env, type ProgressCallback, type ProgressInfo } from '@huggingface/transformers';
import type { Config } from '../infra/config.js';
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

/** A decoder's config, tokenizer and ONNX graph (`dtype` picks the export, fp32 = onnx/model.onnx) into MODELS_DIR/<id>. */
export async function downloadDecoder(id: string, s: HubSettings, opts: { dtype?: string; progress?: ProgressCallback } = {}): Promise<string> {
  if (!isHubId(id)) throw new ModelNotFoundError(`"${id}" is not a hub id (expected org/name)`);
  return withDownloadLock(s.modelsDir, id, async () => {
    // Another process may have finished it while this one waited for the lock.
    const done = localModelDir(id, s.modelsDir);
    if (done) return done;
    configureHub(s, true);
    await AutoTokenizer.from_pretrained(id, { progress_callback: opts.progress });
    const model = await AutoModelForCausalLM.from_pretrained(id, { dtype: (opts.dtype ?? 'fp32') as 'fp32', progress_callback: opts.progress });
    await model.dispose();
    return resolveModelDir(id, s.modelsDir);
  });
}

/**
 * The local folder of a decoder, downloading it first when it is a hub id missing from MODELS_DIR and the
 * setting allows; otherwise the not-found error, saying why nothing was downloaded.
 */
export async function ensureDecoder(id: string, s: HubSettings, progress?: ProgressCallback): Promise<string> {
  if (isHubId(id)) await waitForDownload(s.modelsDir, id);
  const local = localModelDir(id, s.modelsDir);
  if (local) return local;
  if (!isHubId(id)) return resolveModelDir(id, s.modelsDir);
  const decision = await downloadDecision(s);
  if (!decision.download) {
    try {
      return resolveModelDir(id, s.modelsDir);
    } catch (err) {
      throw new ModelNotFoundError(`${(err as Error).message} (${decision.reason})`);
    }
  }
  return downloadDecoder(id, s, { progress });
}
