import { Worker } from 'node:worker_threads';
import type { Embedder, EmbedderKind } from './Embedder.js';
import type { EmbedderConfig } from './createEmbedder.js';

export type WorkerRequest = { type: 'embed'; requestId: number; texts: string[] } | { type: 'close' };
export type WorkerReply =
  | { type: 'ready'; id: string; dim: number; kind: EmbedderKind }
  | { type: 'failed'; message: string }
  | { type: 'vectors'; requestId: number; vectors: Float32Array[] }
  | { type: 'error'; requestId: number; message: string };

interface Pending {
  resolve: (v: Float32Array[]) => void;
  reject: (e: Error) => void;
}

/**
 * An Embedder whose model lives in a worker thread, so a server's event loop stays responsive
 * while queries are embedded. The thread builds its embedder with createEmbedder(config), so it
 * makes the same model choice (and fallback) as an in-process embedder would.
 */
export class EmbedderThread implements Embedder {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private exitError: Error | undefined;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly worker: Worker,
    readonly id: string,
    readonly dim: number,
    readonly kind: EmbedderKind,
  ) {
    worker.on('message', (msg: WorkerReply) => this.onMessage(msg));
    worker.on('error', (err) => this.fail(err));
    worker.on('exit', (code) => this.fail(new Error(`embedder thread exited with code ${code}`)));
    // An idle thread must not keep the process alive.
    worker.unref();
  }

  static async start(config: EmbedderConfig): Promise<EmbedderThread> {
    // The env is passed explicitly so the thread logs where this module's process.env says (LOG_FILE under the test runner).
    const worker = new Worker(new URL('./embedderWorker.js', import.meta.url), { workerData: config, env: process.env });
    const ready = await new Promise<Extract<WorkerReply, { type: 'ready' }>>((resolve, reject) => {
      const onExit = (code: number) => reject(new Error(`embedder thread exited with code ${code} before it was ready`));
      worker.once('error', reject);
      worker.once('exit', onExit);
      worker.once('message', (msg: WorkerReply) => {
        worker.off('error', reject);
        worker.off('exit', onExit);
        if (msg.type === 'ready') resolve(msg);
        else reject(new Error(msg.type === 'failed' ? `embedder thread failed to load: ${msg.message}` : `unexpected ${msg.type}`));
      });
    }).catch(async (err: unknown) => {
      await worker.terminate();
      throw err;
    });
    return new EmbedderThread(worker, ready.id, ready.dim, ready.kind);
  }

  embed(texts: string[]): Promise<Float32Array[]> {
    if (this.exitError) return Promise.reject(this.exitError);
    if (this.closing) return Promise.reject(new Error('EmbedderThread is closed'));
    if (texts.length === 0) return Promise.resolve([]);
    const requestId = this.nextId++;
    return new Promise<Float32Array[]>((resolve, reject) => {
      this.pending.set(requestId, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ type: 'embed', requestId, texts } satisfies WorkerRequest);
    });
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.exitError) return;
      const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
      this.worker.ref();
      this.worker.postMessage({ type: 'close' } satisfies WorkerRequest);
      await exited;
    })();
    return this.closing;
  }

  private onMessage(msg: WorkerReply): void {
    if (msg.type !== 'vectors' && msg.type !== 'error') return;
    const p = this.pending.get(msg.requestId);
    if (!p) return;
    this.pending.delete(msg.requestId);
    if (this.pending.size === 0) this.worker.unref();
    if (msg.type === 'vectors') p.resolve(msg.vectors);
    else p.reject(new Error(`embedding failed in thread: ${msg.message}`));
  }

  private fail(err: Error): void {
    this.exitError ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
