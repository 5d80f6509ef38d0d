import type { Embedder, EmbedderKind } from '../embedding/Embedder.js';

interface Pending {
  texts: string[];
  resolve: (v: Float32Array[]) => void;
  reject: (e: unknown) => void;
}

/**
 * Coalesces concurrent embed calls (one per ingest job) into model-sized batches, so documents of one
 * or two chunks still reach the embedder in full batches. One batch runs at a time: the model is the
 * bottleneck and it is single-threaded.
 */
export class EmbedBatcher implements Embedder {
  private pending: Pending[] = [];
  private running = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly inner: Embedder,
    private readonly opts: { maxBatch: number; maxWaitMs: number } = { maxBatch: 32, maxWaitMs: 10 },
  ) {}

  get id(): string {
    return this.inner.id;
  }
  get dim(): number {
    return this.inner.dim;
  }
  get kind(): EmbedderKind {
    return this.inner.kind;
  }

  embed(texts: string[]): Promise<Float32Array[]> {
    if (texts.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.pending.push({ texts, resolve, reject });
      this.schedule();
    });
  }

  private queuedTexts(): number {
    return this.pending.reduce((n, p) => n + p.texts.length, 0);
  }

  private schedule(): void {
    if (this.running) return;
    if (this.queuedTexts() >= this.opts.maxBatch) {
      void this.drain();
    } else if (!this.timer) {
      this.timer = setTimeout(() => void this.drain(), this.opts.maxWaitMs);
    }
  }

  private async drain(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.running || this.pending.length === 0) return;
    this.running = true;
    const batch: Pending[] = [];
    let n = 0;
    while (this.pending.length && (n === 0 || n + this.pending[0]!.texts.length <= this.opts.maxBatch)) {
      const p = this.pending.shift()!;
      batch.push(p);
      n += p.texts.length;
    }
    try {
      const vectors = await this.inner.embed(batch.flatMap((p) => p.texts));
      let at = 0;
      for (const p of batch) {
        p.resolve(vectors.slice(at, at + p.texts.length));
        at += p.texts.length;
      }
    } catch (e) {
      for (const p of batch) p.reject(e);
    } finally {
      this.running = false;
      if (this.pending.length) this.schedule();
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await this.inner.close();
  }
}
