import fs from 'node:fs';
import { defaultProbePath, Probe, type ProbeTarget } from '../compressor/Probe.js';
import { PlanningError } from './errors.js';

/** Where the `probe` scorer gets the probe for a setup (model, attention mode, template, feature layout). */
export interface ProbeSource {
  /** The probe for `target`; PlanningError saying how to train one when there is none. */
  probeFor(target: ProbeTarget): Probe;
}

/** Probes trained by `rag probe train` under DATA_DIR/probes, read once per file. */
export class DataDirProbes implements ProbeSource {
  private readonly loaded = new Map<string, Probe | null>();

  constructor(private readonly dataDir: string) {}

  probeFor(target: ProbeTarget): Probe {
    const file = defaultProbePath(this.dataDir, target);
    if (!this.loaded.has(file)) this.loaded.set(file, fs.existsSync(file) ? Probe.load(file, target) : null);
    const probe = this.loaded.get(file);
    if (!probe) {
      throw new PlanningError(
        `compression "probe": no probe trained for this model, template and attention mode "${target.attentionMode}" (expected ${file}); ` +
          'run `rag probe train --data <SQuAD json>`, or use "raw"',
      );
    }
    return probe;
  }
}
