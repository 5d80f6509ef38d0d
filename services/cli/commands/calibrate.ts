import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../../infra/config.js';
import { loadSquad } from '../../../indexer/sources/squad.js';
import { openConfiguredQuestionPassRunner } from '../../../ask/offlineQuestionPass.js';
import type { AttentionMode } from '../../../compressor/QuestionPass.js';
import { calibrate, squadCalibrationPrompts } from '../../../reranker/Calibrator.js';
import { ProfileStore } from '../../../reranker/BasinProfile.js';
import { UsageError } from '../errors.js';
import { intOption } from '../options.js';

interface CalibrateOpts {
  k: string;
  n: string;
  data: string;
  seed: string;
  layers?: string;
  mode: AttentionMode;
}

/** `rag calibrate`: the attention-basin profile the reorderer places blocks by. */
export function registerCalibrateCommand(program: Command): void {
  program
    .command('calibrate')
    .description(
      'measure the attention basin of GENERATOR_MODEL: over N prompts of k SQuAD paragraphs (question from one of them, at a ' +
        'random slot), the attention mass from the question tokens to each block slot; saved as a JSON profile under ' +
        'DATA_DIR/profiles for (model, attention mode, template, k), which reordering then uses. NOTE: on built test models ' +
        '(random weights, e.g. test/tiny) the profile is meaningless; the command still runs end to end.',
    )
    .option('--k <blocks>', 'blocks per prompt', '5')
    .option('--n <prompts>', 'calibration prompts', '32')
    .option('--data <file>', 'SQuAD v1.1-format JSON', path.resolve('..', 'shared', 'data', 'squad-v1.1-dev.json'))
    .option('--seed <n>', 'seed for prompt sampling', '0')
    .option('--layers <list>', 'comma-separated layer indices to read (default: all)')
    .option('--mode <mode>', 'attention mode: blocks (served default) or full', 'blocks')
    .action(async (opts: CalibrateOpts) => {
      if (opts.mode !== 'blocks' && opts.mode !== 'full') throw new UsageError(`--mode must be blocks or full (got ${opts.mode})`);
      const k = intOption(opts.k, 'k', 1);
      const n = intOption(opts.n, 'n', 1);
      const seed = intOption(opts.seed, 'seed', 0);
      const layers = opts.layers?.split(',').map((s) => intOption(s.trim(), 'layers', 0));
      const config = loadConfig();
      const ds = await loadSquad(path.resolve(opts.data));
      const { runner, release } = await openConfiguredQuestionPassRunner(config, opts.mode);
      try {
        const t0 = performance.now();
        const profile = await calibrate(runner, squadCalibrationPrompts(ds, k, n, seed), {
          seed,
          layers,
          onProgress: (done, total) => process.stderr.write(`calibration: ${done}/${total} prompts\n`),
        });
        const file = ProfileStore.forDataDir(config.dataDir).save(profile);
        process.stdout.write(`${JSON.stringify({ file, model: config.GENERATOR_MODEL, ...profile, seconds: (performance.now() - t0) / 1000 })}\n`);
      } finally {
        await release();
      }
    });
}
