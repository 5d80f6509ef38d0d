import path from 'node:path';
import type { Command } from 'commander';
import { runHnswBench } from '../../../bench/hnsw.js';
import { runIngestBench } from '../../../bench/ingest.js';
import { runRetrievalQuality } from '../../../bench/retrievalQuality.js';
import { loadConfig } from '../../../infra/config.js';
import { ensureRedis } from '../../../infra/redis.js';

interface BenchOptions {
  json: boolean;
  data: string;
  documents?: string;
  quick?: boolean;
}

type Bench = (opts: BenchOptions) => Promise<unknown>;

const squad = (o: BenchOptions) => path.resolve(o.data, 'squad-v1.1-dev.json');
const progress = (msg: string) => process.stderr.write(`${msg}\n`);

/** Every benchmark by name; each returns a JSON-serialisable result. */
export const BENCHES: Record<string, Bench> = {
  ingest: async (o) => {
    const config = loadConfig();
    await ensureRedis(config.REDIS_URL, config.dataDir);
    return runIngestBench({ config, squadFile: squad(o), documents: o.documents ? Number(o.documents) : undefined });
  },
  retrieval: async (o) => ({
    quality: await runRetrievalQuality({ squadFile: squad(o), log: progress }),
    hnsw: await runHnswBench({ squadFile: squad(o), log: progress, ...(o.quick ? { scale: 0 } : {}) }),
  }),
};

/** `rag bench <name> --json`: JSON on stdout and nothing else (progress goes to stderr). */
export function registerBenchCommand(program: Command): void {
  program
    .command('bench <name>')
    .description(`run a benchmark: ${Object.keys(BENCHES).join(', ')}`)
    .option('--json', 'print the result as JSON (the only output on stdout)', false)
    .option('--data <dir>', 'folder holding squad-v1.1-dev.json and pg-essays/', path.resolve('..', 'shared', 'data'))
    .option('--documents <n>', 'documents to ingest (ingest bench)')
    .option('--quick', 'smaller variant where the bench supports it')
    .action(async (name: string, opts: BenchOptions) => {
      const bench = BENCHES[name];
      if (!bench) throw new Error(`unknown benchmark "${name}"; choose one of ${Object.keys(BENCHES).join(', ')}`);
      const result = await bench(opts);
      process.stdout.write(opts.json ? `${JSON.stringify(result)}\n` : `${JSON.stringify(result, null, 2)}\n`);
      process.exit(0);
    });
}
