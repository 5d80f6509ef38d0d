import path from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import type { Command } from 'commander';
import { loadConfig } from '../../../infra/config.js';
import { ensureRedis } from '../../../infra/redis.js';
import { defaultDocumentId } from '../../../indexer/pipeline/jobs.js';
import { COLLECTION_NAME, DOCUMENT_ID } from '../../../indexer/store/keys.js';
import { readDocuments } from '../../../indexer/sources/DocumentSource.js';
import { closeContext, createContext } from '../../bootstrap.js';
import { openEmbedder } from '../../embedder.js';
import { liveIngestionWorkers, startConfiguredIngestionWorkers } from '../../workers/IngestionWorkers.js';

interface IngestOptions {
  collection: string;
  workers: 'auto' | 'yes' | 'no';
  wait: boolean;
}

/**
 * `rag ingest`: enqueue every document of a file or folder and follow the jobs to the end. Job ids are
 * deterministic, so a re-run (after an interruption, say) skips what is already indexed.
 */
export function registerIngestCommand(program: Command): void {
  program
    .command('ingest <input>')
    .description('ingest a text file, folder of .txt/.md, .jsonl, JSON array or SQuAD .json into a collection')
    .requiredOption('-c, --collection <name>', 'target collection')
    .option('--workers <mode>', 'run ingestion workers in this process: auto (if none are running), yes, no', 'auto')
    .option('--no-wait', 'enqueue and return without waiting for indexing')
    .action(async (input: string, opts: IngestOptions) => {
      if (!COLLECTION_NAME.test(opts.collection)) throw new Error(`--collection ${JSON.stringify(opts.collection)}: letters, digits, _ or - only`);
      const config = loadConfig();
      await ensureRedis(config.redis, config.dataDir);
      const docs = await readDocuments(path.resolve(input));
      for (const d of docs) {
        d.id ||= defaultDocumentId(d.text);
        if (!DOCUMENT_ID.test(d.id)) throw new Error(`document id ${JSON.stringify(d.id)} is not allowed (letters, digits, ., _ or -)`);
      }
      const started = Date.now();
      const embedder = await openEmbedder(config);
      const ctx = createContext(config, embedder);
      const useLocalWorkers = opts.wait && (opts.workers === 'yes' || (opts.workers === 'auto' && (await liveIngestionWorkers(ctx.redis)) === 0));
      const local = useLocalWorkers ? startConfiguredIngestionWorkers(config, ctx.store, ctx.redis, embedder) : null;
      const bar = new SingleBar({ format: '{phase} [{bar}] {value}/{total} docs | {eta_formatted} left', stream: process.stderr, hideCursor: true }, Presets.shades_classic);
      try {
        await ctx.ingestion.assertEmbedder(opts.collection, embedder);
        bar.start(docs.length, 0, { phase: 'enqueue' });
        const jobIds: string[] = [];
        for (const d of docs) {
          jobIds.push(await ctx.ingestion.submit(opts.collection, d));
          bar.increment();
        }
        if (!opts.wait) {
          bar.stop();
          process.stdout.write(`${JSON.stringify({ collection: opts.collection, submitted: docs.length })}\n`);
          return;
        }
        bar.update(0, { phase: 'index  ' });
        const pending = new Set(jobIds);
        const failed: { id: string; error: string }[] = [];
        let unchanged = 0;
        while (pending.size) {
          for (const id of [...pending].slice(0, 200)) {
            const s = await ctx.ingestion.status(id);
            if (!s || s.state === 'completed' || s.state === 'failed') {
              pending.delete(id);
              bar.increment();
              if (s?.state === 'failed') failed.push({ id, error: s.error ?? 'failed' });
              if (s?.result && !s.result.applied) unchanged++;
            }
          }
          if (pending.size) await new Promise((r) => setTimeout(r, 300));
        }
        bar.stop();
        const info = await ctx.store.collectionInfo(opts.collection);
        const summary = {
          collection: opts.collection,
          submitted: docs.length,
          indexed: docs.length - failed.length - unchanged,
          unchanged,
          failed: failed.length,
          failures: failed.slice(0, 20),
          documents: info?.documents ?? 0,
          chunks: info?.chunks ?? 0,
          seconds: (Date.now() - started) / 1000,
        };
        process.stdout.write(`${JSON.stringify(summary)}\n`);
        if (failed.length) process.exitCode = 1;
      } finally {
        bar.stop();
        await local?.close();
        await closeContext(ctx);
      }
    });
}
