import { parentPort, workerData } from 'node:worker_threads';
import type { Embedder } from './Embedder.js';
import { createEmbedder, type EmbedderConfig } from './createEmbedder.js';
import type { WorkerReply, WorkerRequest } from './EmbedderThread.js';

/** Worker-thread entry for EmbedderThread: loads the model here and embeds on request, one request at a time. */
const port = parentPort;
if (!port) throw new Error('embedderWorker must run in a worker thread');

function post(msg: WorkerReply, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(msg, transfer);
}

let embedder: Embedder;
try {
  embedder = await createEmbedder(workerData as EmbedderConfig);
  post({ type: 'ready', id: embedder.id, dim: embedder.dim, kind: embedder.kind });
} catch (err) {
  post({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
  process.exit(1);
}

// The model is not re-entrant: chain requests so each runs after the previous one.
let queue: Promise<void> = Promise.resolve();
port.on('message', (msg: WorkerRequest) => {
  queue = queue.then(async () => {
    if (msg.type === 'close') {
      await embedder.close();
      // Ends this thread only; native runtimes may hold handles that would keep it alive.
      process.exit(0);
    }
    try {
      const vectors = await embedder.embed(msg.texts);
      const buffers = new Set<ArrayBuffer>();
      for (const v of vectors) buffers.add(v.buffer as ArrayBuffer);
      post({ type: 'vectors', requestId: msg.requestId, vectors }, [...buffers]);
    } catch (err) {
      post({ type: 'error', requestId: msg.requestId, message: err instanceof Error ? err.message : String(err) });
    }
  });
});
