#!/usr/bin/env node
import './defaults.js';
import { Command, CommanderError } from 'commander';
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
import { exitCodeFor } from './errors.js';

/** How long a finished command may take to close what it opened before it is stopped with a warning. */
const EXIT_GRACE_MS = 10_000;

/** The `rag` command line: every subcommand lives in ./commands, one module per area. */
export function buildProgram(): Command {
  const program = new Command('rag')
    .description('Long-context retrieval-augmented QA: ingest, ask, models, eval, bench')
    .showHelpAfterError()
    // Usage errors become exceptions (mapped to exit code 2 below); inherited by every subcommand registered after this.
    .exitOverride();
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

/**
 * A command exits by itself once it has closed its connections, threads and timers. Should something stay
 * open, the process still ends, and says so (the CLI tests fail on that line): a finished command never hangs.
 */
function exitWhenIdle(): void {
  setTimeout(() => {
    const open = (process as unknown as { getActiveResourcesInfo?: () => string[] }).getActiveResourcesInfo?.() ?? [];
    process.stderr.write(`rag: still running ${EXIT_GRACE_MS / 1000} s after the command finished (open: ${open.join(', ') || 'unknown'}); exiting\n`);
    process.exit(process.exitCode ?? 0);
  }, EXIT_GRACE_MS).unref();
}

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    // Commander has already printed its own usage errors; help and version requests are not errors.
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    process.stderr.write(`rag: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = exitCodeFor(err);
  })
  .finally(exitWhenIdle);
