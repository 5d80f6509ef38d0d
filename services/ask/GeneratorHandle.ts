import type { Config } from '../../infra/config.js';
import { componentLogger } from '../../infra/logger.js';
import type { BlockAttentionGenerator } from '../../generator/BlockAttentionGenerator.js';
import { createGenerator } from '../../generator/createGenerator.js';
import { diagnoseModel, type DoctorReport } from '../../model/ModelDoctor.js';

const log = componentLogger('generator');

/** Attention taps feed the compressor; a fused export has none, and then the generator runs without them. */
export async function loadWithTapsIfPossible(config: Config): Promise<BlockAttentionGenerator> {
  const caps = { memoryBytes: config.KV_MEMORY_BYTES, diskBytes: config.KV_DISK_BYTES };
  try {
    return await createGenerator(config, { ...caps, taps: true });
  } catch (err) {
    const retry = await createGenerator(config, { ...caps, taps: false });
    log.warn({ reason: (err as Error).message }, 'generator loaded without attention taps: compression "raw"/"probe" and calibration are unavailable');
    return retry;
  }
}

/** Block prefill needs no attention outputs. */
export function loadWithoutTaps(config: Config): Promise<BlockAttentionGenerator> {
  return createGenerator(config, { memoryBytes: config.KV_MEMORY_BYTES, diskBytes: config.KV_DISK_BYTES, taps: false });
}

export type GeneratorState =
  | { state: 'loading' }
  | { state: 'ready'; generator: BlockAttentionGenerator; doctor: DoctorReport | null }
  | { state: 'unavailable'; reason: string };

/**
 * Loads the generator in the background at start-up. Without a model the service still serves
 * ingestion and search; ask answers 503 with the reason and how to provide a model.
 */
export class GeneratorHandle {
  private current: GeneratorState = { state: 'loading' };
  readonly loaded: Promise<GeneratorState>;

  constructor(config: Config, load: (c: Config) => Promise<BlockAttentionGenerator> = loadWithTapsIfPossible) {
    this.loaded = load(config).then(
      async (generator) => {
        // What `rag models doctor` reports, logged once: how this export family is served and a self-check.
        const doctor = await diagnoseModel(generator.model).catch((err: unknown) => {
          log.warn({ err: err instanceof Error ? err.message : String(err) }, 'model doctor failed');
          return null;
        });
        log.info({ model: config.GENERATOR_MODEL, dir: generator.model.dir, doctor }, 'generator ready');
        if (doctor && (!doctor.selfCheck.ok || doctor.reencode?.ok === false)) log.warn({ doctor }, 'generator self-check failed: answers may be wrong');
        return (this.current = { state: 'ready', generator, doctor });
      },
      (err: unknown) => {
        const reason =
          `generator model ${config.GENERATOR_MODEL} is not available: ${err instanceof Error ? err.message : String(err)}. ` +
          `Provide one under MODELS_DIR (${config.modelsDir}) with \`rag models pull <hub-id>\` (or ALLOW_REMOTE_MODELS=true), ` +
          `or build a test model with \`rag models build-test tiny --out ${config.modelsDir}/test/tiny\` and set GENERATOR_MODEL=test/tiny.`;
        log.warn({ reason }, 'generator unavailable');
        return (this.current = { state: 'unavailable', reason });
      },
    );
  }

  get state(): GeneratorState {
    return this.current;
  }

  async release(): Promise<void> {
    const s = await this.loaded;
    if (s.state === 'ready') await s.generator.model.release();
  }
}
