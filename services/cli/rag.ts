#!/usr/bin/env node
import { Command } from 'commander';
import { registerAskCommand } from './commands/ask.js';
import { registerBenchCommand } from './commands/bench.js';
import { registerCalibrateCommand } from './commands/calibrate.js';
import { registerEvalCommands } from './commands/eval.js';
import { registerIngestCommand } from './commands/ingest.js';
import { registerKeysCommands } from './commands/keys.js';
import { registerModelsCommands } from './commands/models.js';
import { registerProbeCommands } from './commands/probe.js';
import { registerRankerCommands } from './commands/ranker.js';
import { registerReindexCommand } from './commands/reindex.js';

/** The `rag` command line: every subcommand lives in ./commands, one module per area. */
export function buildProgram(): Command {
  const program = new Command('rag')
    .description('Long-context retrieval-augmented QA: ingest, ask, models, eval, bench')
    .showHelpAfterError();
  registerIngestCommand(program);
  registerAskCommand(program);
  registerReindexCommand(program);
  registerKeysCommands(program);
  registerBenchCommand(program);
  registerEvalCommands(program);
  registerModelsCommands(program);
  registerProbeCommands(program);
  registerRankerCommands(program);
  registerCalibrateCommand(program);
  return program;
}

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    process.stderr.write(`rag: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
