import type { Command } from 'commander';
import { loadConfig } from '../../../infra/config.js';
import { ensureRedis } from '../../../infra/redis.js';
import type { SettledJob } from '../../../indexer/pipeline/IngestionService.js';
import { readDocuments } from '../../../indexer/sources/DocumentSource.js';
import { COLLECTION_NAME } from '../../../indexer/store/keys.js';
import { closeContext, createContext } from '../../bootstrap.js';
import { openEmbedder } from '../../embedder.js';
import { liveIngestionWorkers, startConfiguredIngestionWorkers } from '../../../indexer/pipeline/IngestionWorkers.js';
import { UsageError } from '../errors.js';
import { progressBar } from '../progress.js';

interface IngestOptions {
  collection: string;
  workers: string;
  wait: boolean;
}

const WORKER_MODES = ['auto', 'yes', 'no'];

/** What became of each submitted document, for the summary line. */
function tallyIngest(alreadyStored: number, settled: readonly SettledJob[]) {
  const failures = settled.filter((s) => s.state === 'failed').map((s) => ({ id: s.id, error: s.error ?? 'failed' }));
  const done = settled.filter((s) => s.state === 'completed');
  const notApplied = done.filter((s) => s.result && !s.result.applied);
  const unchanged = alreadyStored + notApplied.filter((s) => s.result?.reason === 'unchanged').length;
  return {
    indexed: done.length - notApplied.length,
    unchanged,
    // Not applied for another reason, e.g. a newer version of the document was stored meanwhile.
    skipped: notApplied.length - (unchanged - alreadyStored),
    failed: failures.length,
    failures: failures.slice(0, 20),
  };
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
      if (!COLLECTION_NAME.test(opts.collection)) throw new UsageError(`--collection ${JSON.stringify(opts.collection)}: 1-64 letters, digits, _ or -`);
      if (!WORKER_MODES.includes(opts.workers)) throw new UsageError(`--workers ${JSON.stringify(opts.workers)}: one of ${WORKER_MODES.join(', ')}`);
      const config = loadConfig();
      // Checked against the HTTP API's document rules before anything is enqueued.
      const docs = await readDocuments(input);
      await ensureRedis(config.REDIS_URL, config.dataDir);
      const started = Date.now();
      const embedder = await openEmbedder(config);
      const ctx = createContext(config, embedder);
      const useLocalWorkers = opts.wait && (opts.workers === 'yes' || (opts.workers === 'auto' && (await liveIngestionWorkers(ctx.redis)) === 0));
      const local = useLocalWorkers ? startConfiguredIngestionWorkers(config, ctx.store, ctx.redis, embedder) : null;
      const bar = progressBar(
        '{phase} [{bar}] {value}/{total} docs | {eta_formatted} left',
        '{phase} {value}/{total} docs ({percentage}%), {duration_formatted} elapsed, about {eta_formatted} left',
      );
      try {
        await ctx.ingestion.assertEmbedder(opts.collection, embedder);
        bar.start(docs.length, 0, { phase: 'enqueue' });
        const pending: string[] = [];
        let alreadyStored = 0;
        for (const d of docs) {
          const submitted = await ctx.ingestion.submit(opts.collection, d);
          if (submitted.alreadyStored) alreadyStored++;
          else pending.push(submitted.jobId);
          bar.increment();
        }
        if (!opts.wait) {
          bar.stop();
          process.stdout.write(`${JSON.stringify({ collection: opts.collection, submitted: docs.length, unchanged: alreadyStored })}\n`);
          return;
        }
        bar.update(alreadyStored, { phase: 'index' });
        const settled = await ctx.ingestion.waitFor(pending, () => bar.increment());
        bar.stop();
        const tally = tallyIngest(alreadyStored, settled);
        const info = await ctx.store.collectionInfo(opts.collection);
        const summary = {
          collection: opts.collection,
          submitted: docs.length,
          ...tally,
          documents: info?.documents ?? 0,
          chunks: info?.chunks ?? 0,
          seconds: (Date.now() - started) / 1000,
        };
        process.stdout.write(`${JSON.stringify(summary)}\n`);
        if (tally.failed) process.exitCode = 1;
      } finally {
        bar.stop();
        await local?.close();
        await closeContext(ctx);
      }
    });
}
