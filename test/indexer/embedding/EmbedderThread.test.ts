import { EmbedderThread } from '../../../indexer/embedding/EmbedderThread.js';
import { UseLiteEmbedder } from '../../../indexer/embedding/UseLiteEmbedder.js';
import { USE_LITE_MODEL_NAME } from '../../../indexer/embedding/createEmbedder.js';
import { loadConfig } from '../../../infra/config.js';
import { squadSample } from './squadSample.js';

const config = loadConfig({ EMBEDDING_MODEL: USE_LITE_MODEL_NAME, LOG_LEVEL: 'silent' });

describe('EmbedderThread', () => {
  test('returns the same vectors as the in-thread embedder', async () => {
    const { sentences, questions } = await squadSample(30, 10);
    const texts = [...sentences, ...questions];
    const thread = await EmbedderThread.start(config);
    const local = await UseLiteEmbedder.create();
    try {
      expect(thread.id).toBe(local.id);
      expect(thread.dim).toBe(512);
      expect(thread.kind).toBe('use-lite');
      // Concurrent requests are answered in full and matched to their callers.
      const [a, b] = await Promise.all([thread.embed(texts.slice(0, 20)), thread.embed(texts.slice(20))]);
      const remote = [...a, ...b];
      const reference = await local.embed(texts);
      expect(remote.length).toBe(texts.length);
      remote.forEach((v, i) => {
        // Arrays arrive from another realm (the worker), so compare the tag, not the constructor.
        expect(Object.prototype.toString.call(v)).toBe('[object Float32Array]');
        for (let d = 0; d < v.length; d++) expect(Math.abs(v[d] - reference[i][d])).toBeLessThan(1e-6);
      });
    } finally {
      await thread.close();
      await local.close();
    }
    await expect(thread.embed(['after close'])).rejects.toThrow(/closed|exited/);
  });

  test('keeps the event loop responsive while embedding, unlike in-thread embedding', async () => {
    const { sentences } = await squadSample(48, 0);
    // Longest sentences first: a fraction of a second of model work in either place.
    const texts = [...sentences].sort((a, b) => b.length - a.length).slice(0, 12);
    const thread = await EmbedderThread.start(config);
    const local = await UseLiteEmbedder.create();
    try {
      const inThread = await longestTimerGap(() => local.embed(texts));
      const offThread = await longestTimerGap(() => thread.embed(texts));
      // In-thread, the timer cannot fire until the model is done; off-thread it keeps ticking.
      expect(inThread.gapMs).toBeGreaterThan(0.8 * inThread.durationMs);
      expect(offThread.gapMs).toBeLessThan(250);
    } finally {
      await thread.close();
      await local.close();
    }
  });
});

/** Longest interval between ticks of a 5 ms timer while `work` runs, and how long it ran. */
async function longestTimerGap(work: () => Promise<unknown>): Promise<{ gapMs: number; durationMs: number }> {
  const start = performance.now();
  let last = start;
  let gap = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    gap = Math.max(gap, now - last);
    last = now;
  }, 5);
  await work();
  const end = performance.now();
  clearInterval(timer);
  return { gapMs: Math.max(gap, end - last), durationMs: end - start };
}
