import path from 'node:path';
import { Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { Config } from '../../infra/config.js';
import { componentLogger } from '../../infra/logger.js';
import { openConfiguredQuestionPassRunner } from '../../ask/offlineQuestionPass.js';
import type { AttentionMode } from '../../compressor/QuestionPass.js';
import { loadSquad, type SquadDataset } from '../../indexer/sources/squad.js';
import { ProfileStore } from '../../reranker/BasinProfile.js';
import { calibrate, squadCalibrationPrompts } from '../../reranker/Calibrator.js';
import { jobLogger } from '../../infra/jobLog.js';

export const CALIBRATE_QUEUE = 'rag-calibrate';

/** The same knobs as `rag calibrate`. */
export interface CalibrationJobData {
  k: number;
  n: number;
  seed: number;
  mode: AttentionMode;
  layers?: number[];
  requestId?: string;
}

export interface CalibrationJobResult {
  file: string;
  modelId: string;
  attentionMode: string;
  templateId: string;
  k: number;
  values: number[];
  seconds: number;
}

/** `rag calibrate`'s default data: the SQuAD dev file beside the repository. */
export function defaultCalibrationData(): string {
  return path.resolve('..', 'shared', 'data', 'squad-v1.1-dev.json');
}

/**
 * Runs `rag calibrate` as a queue job (the dashboard's "recalibrate"): loads GENERATOR_MODEL with attention
 * taps for this job only, measures the basin over SQuAD prompts, saves the profile under DATA_DIR/profiles
 * (where API processes read it) and releases the model. One job at a time: a question pass uses every core.
 */
export function startCalibrationWorker(connection: ConnectionOptions, config: Config, dataFile = defaultCalibrationData()): Worker<CalibrationJobData, CalibrationJobResult> {
  let dataset: Promise<SquadDataset> | null = null;
  const log = componentLogger('calibration');
  const worker = new Worker<CalibrationJobData, CalibrationJobResult>(
    CALIBRATE_QUEUE,
    async (job: Job<CalibrationJobData>) => {
      const jlog = jobLogger(log, job);
      const { k, n, seed, mode, layers } = job.data;
      jlog.info({ k, n, seed, mode, model: config.GENERATOR_MODEL }, 'calibration started');
      dataset ??= loadSquad(dataFile).catch((e: unknown) => {
        dataset = null;
        throw e;
      });
      const prompts = squadCalibrationPrompts(await dataset, k, n, seed);
      const t0 = performance.now();
      const { runner, release } = await openConfiguredQuestionPassRunner(config, mode);
      try {
        const profile = await calibrate(runner, prompts, {
          seed,
          layers,
          onProgress: (done, total) => void job.updateProgress(Math.round((done / total) * 100)),
        });
        const file = ProfileStore.forDataDir(config.dataDir).save(profile);
        const seconds = (performance.now() - t0) / 1000;
        jlog.info({ file, k, values: profile.values, seconds }, 'calibration saved');
        return { file, modelId: profile.modelId, attentionMode: profile.attentionMode, templateId: profile.templateId, k, values: profile.values, seconds };
      } finally {
        await release();
      }
    },
    { connection, concurrency: 1, lockDuration: config.JOB_LOCK_MS },
  );
  worker.on('failed', (job, err) => (job ? jobLogger(log, job) : log).warn({ err: err.message }, 'calibration failed'));
  worker.on('error', (err) => log.error({ err: err.message }, 'calibration worker error'));
  return worker;
}
