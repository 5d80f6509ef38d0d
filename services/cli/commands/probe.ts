import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../../infra/config.js';
import { loadSquad } from '../../../indexer/sources/squad.js';
import { openConfiguredQuestionPassRunner } from '../../../ask/offlineQuestionPass.js';
import { collectProbeExamples } from '../../../compressor/ProbeDataset.js';
import { trainProbe, DEFAULT_C_GRID } from '../../../compressor/ProbeTrainer.js';
import { Probe, defaultProbePath } from '../../../compressor/Probe.js';
import type { AttentionMode } from '../../../compressor/QuestionPass.js';
import { UsageError } from '../errors.js';
import { intOption } from '../options.js';

interface TrainOpts {
  data: string;
  n: string;
  out?: string;
  seed: string;
  mode: AttentionMode;
}

/** `rag probe train | info`: the Sentinel sentence-relevance probe. */
export function registerProbeCommands(program: Command): void {
  const probe = program.command('probe').description('attention-probe (Sentinel) sentence relevance: train a probe, inspect one');
  probe
    .command('train')
    .description(
      'train the logistic-regression probe on sentence attention features of GENERATOR_MODEL (under MODELS_DIR), read with the ' +
        'serving prompt template and attention mode. Positive = the sentence holding the answer span, plus one random negative ' +
        'sentence of the same context. C is picked by 5-fold cross-validation on AUC. NOTE: on built test models (random ' +
        'weights, e.g. test/tiny) the probe is meaningless; the command still runs end to end.',
    )
    .requiredOption('--data <file>', 'SQuAD v1.1-format JSON (e.g. ../shared/data/squad-v1.1-dev.json)')
    .option('--n <questions>', 'training questions (2 examples each)', '3000')
    .option('--out <file>', 'where to write the probe (default DATA_DIR/probes/<model>__<mode>__<template>.json, where serving looks)')
    .option('--seed <n>', 'seed for example sampling and CV folds', '0')
    .option('--mode <mode>', 'attention mode the features are read in: blocks (served default) or full', 'blocks')
    .action(async (opts: TrainOpts) => {
      if (opts.mode !== 'blocks' && opts.mode !== 'full') throw new UsageError(`--mode must be blocks or full (got ${opts.mode})`);
      const n = intOption(opts.n, 'n', 1);
      const seed = intOption(opts.seed, 'seed');
      const config = loadConfig();
      const ds = await loadSquad(path.resolve(opts.data));
      const { runner, release } = await openConfiguredQuestionPassRunner(config, opts.mode);
      try {
        const t0 = performance.now();
        let last = 0;
        const examples = await collectProbeExamples(runner, ds, {
          n,
          seed,
          onProgress: (done, total) => {
            if (done === total || performance.now() - last > 2000) {
              last = performance.now();
              process.stderr.write(`features: ${done}/${total} questions\n`);
            }
          },
        });
        const t1 = performance.now();
        process.stderr.write(`training on ${examples.X.length} examples (${examples.X[0].length} features), C grid ${DEFAULT_C_GRID.join(', ')}\n`);
        const { target } = runner;
        const { probe: trained, cv, C } = trainProbe(examples.X, examples.y, target, { seed });
        const out = path.resolve(opts.out ?? defaultProbePath(config.dataDir, target));
        trained.save(out);
        process.stdout.write(
          `${JSON.stringify({ out, model: config.GENERATOR_MODEL, ...target, questions: examples.questions, examples: examples.X.length, C, cv, featureSeconds: (t1 - t0) / 1000, trainSeconds: (performance.now() - t1) / 1000 })}\n`,
        );
      } finally {
        await release();
      }
    });
  probe
    .command('info <file>')
    .description('print what a probe was trained for and its cross-validation results')
    .action((file: string) => {
      const { modelId, attentionMode, templateId, layout, C, cv, trainedOn } = Probe.load(path.resolve(file)).json;
      process.stdout.write(`${JSON.stringify({ modelId, attentionMode, templateId, layout, C, cv, trainedOn }, null, 2)}\n`);
    });
}
