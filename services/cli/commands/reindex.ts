import type { Command } from 'commander';
import { loadConfig } from '../../../infra/config.js';
import { createRedis } from '../../../infra/redis.js';
import { DocumentStore } from '../../../indexer/store/DocumentStore.js';
import { CollectionIndex } from '../../../retriever/CollectionIndex.js';
import { snapshotRoot } from '../../bootstrap.js';

/** `rag reindex`: rebuild collection indexes from the stored vectors and write fresh snapshots. */
export function registerReindexCommand(program: Command): void {
  program
    .command('reindex')
    .description('rebuild the HNSW + BM25 index of one or all collections from stored chunks and vectors')
    .option('-c, --collection <name>', 'only this collection')
    .action(async (opts: { collection?: string }) => {
      const config = loadConfig();
      const redis = createRedis(config.redis);
      const store = new DocumentStore(redis);
      try {
        const names = opts.collection ? [opts.collection] : (await store.listCollections()).map((c) => c.name);
        for (const name of names) {
          const embedder = await store.collectionEmbedder(name);
          if (!embedder) throw new Error(`collection ${name} not found or empty`);
          const t0 = performance.now();
          const index = await CollectionIndex.rebuild(name, embedder.dim, store, config.SEARCH_EF);
          const snapshot = await index.saveSnapshot(snapshotRoot(config));
          process.stdout.write(`${JSON.stringify({ collection: name, chunks: index.size, snapshot, seconds: (performance.now() - t0) / 1000 })}\n`);
        }
      } finally {
        redis.disconnect();
      }
    });
}
