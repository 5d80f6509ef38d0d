import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { FeatureLayout } from './SentenceFeatures.js';
import { DomainError } from '../infra/errors.js';
import { writeFileAtomicSync } from '../infra/atomicWrite.js';

/**
 * A trained Sentinel probe: logistic regression over standardised sentence features. The features only mean
 * something for the model, attention mode and prompt template they were read from, so the probe carries them
 * and refuses to load for anything else.
 */
export interface ProbeTarget {
  modelId: string;
  /** Generator attention mode the features were read in (`full`, `blocks`, ...). */
  attentionMode: string;
  templateId: string;
  layout: FeatureLayout;
}

export const PROBE_FORMAT = 'sentinel-probe/1';

const ProbeSchema = z.object({
  format: z.literal(PROBE_FORMAT),
  modelId: z.string().min(1),
  attentionMode: z.string().min(1),
  templateId: z.string().min(1),
  layout: z.object({ layers: z.number().int().positive(), heads: z.number().int().positive() }),
  mean: z.array(z.number()),
  scale: z.array(z.number().positive()),
  coef: z.array(z.number()),
  intercept: z.number(),
  C: z.number().positive(),
  cv: z.array(z.object({ C: z.number(), auc: z.number() })),
  trainedOn: z.object({ examples: z.number().int(), positives: z.number().int(), negatives: z.number().int() }),
});

export type ProbeJson = z.infer<typeof ProbeSchema>;

/** Where a probe for a target lives by default: DATA_DIR/probes/<model>__<mode>__<template>.json. */
export function defaultProbePath(dataDir: string, t: Omit<ProbeTarget, 'layout'>): string {
  const esc = (s: string): string => encodeURIComponent(s).replace(/%/g, '~');
  return path.join(dataDir, 'probes', `${esc(t.modelId)}__${esc(t.attentionMode)}__${esc(t.templateId)}.json`);
}

/** The probe was trained for another model, attention mode or template: scoring with it would be meaningless. */
export class ProbeMismatchError extends DomainError {
  constructor(message: string) {
    super('conflict', message);
  }
}

function describe(t: ProbeTarget): string {
  return `model "${t.modelId}", attention mode "${t.attentionMode}", template "${t.templateId}", features ${t.layout.layers} layers x ${t.layout.heads} heads`;
}

function assertTarget(p: ProbeTarget, expect: ProbeTarget, source: string): void {
  const same =
    p.modelId === expect.modelId &&
    p.attentionMode === expect.attentionMode &&
    p.templateId === expect.templateId &&
    p.layout.layers === expect.layout.layers &&
    p.layout.heads === expect.layout.heads;
  if (!same) {
    throw new ProbeMismatchError(
      `${source} was trained for ${describe(p)}, but serving uses ${describe(expect)}; ` +
        'train a probe for this setup with `rag probe train` (or remove the probe to fall back to raw attention scores)',
    );
  }
}

export class Probe {
  private constructor(readonly json: ProbeJson) {}

  static create(fields: Omit<ProbeJson, 'format'>): Probe {
    return Probe.fromJSON({ format: PROBE_FORMAT, ...fields });
  }

  /** Validates; with `expect`, throws ProbeMismatchError naming both setups when the probe was trained for another one. */
  static fromJSON(json: unknown, expect?: ProbeTarget, source = 'probe'): Probe {
    const parsed = ProbeSchema.safeParse(json);
    if (!parsed.success) throw new Error(`${source}: not a ${PROBE_FORMAT} file (${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')})`);
    const p = parsed.data;
    const d = p.layout.layers * p.layout.heads;
    if (p.mean.length !== d || p.scale.length !== d || p.coef.length !== d) {
      throw new Error(`${source}: layout ${p.layout.layers}x${p.layout.heads} needs ${d} values, got mean/scale/coef ${p.mean.length}/${p.scale.length}/${p.coef.length}`);
    }
    if (expect) assertTarget(p, expect, source);
    return new Probe(p);
  }

  static load(file: string, expect?: ProbeTarget): Probe {
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (err) {
      throw new Error(`probe ${file}: ${err instanceof Error ? err.message : String(err)}`);
    }
    return Probe.fromJSON(raw, expect, `probe ${file}`);
  }

  /** Throws ProbeMismatchError unless the probe was trained for `expect`. */
  assertFits(expect: ProbeTarget): void {
    assertTarget(this.json, expect, 'probe');
  }

  get target(): ProbeTarget {
    const { modelId, attentionMode, templateId, layout } = this.json;
    return { modelId, attentionMode, templateId, layout: { ...layout } };
  }

  /** Atomic write, so a crash never leaves half a probe. */
  save(file: string): void {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    writeFileAtomicSync(file, JSON.stringify(this.json) + '\n');
  }

  /** Decision value w·standardise(x) + b. */
  margin(features: ArrayLike<number>): number {
    const { mean, scale, coef, intercept } = this.json;
    if (features.length !== coef.length) throw new Error(`probe expects ${coef.length} features, got ${features.length}`);
    let z = intercept;
    for (let i = 0; i < coef.length; i++) z += (coef[i] * (features[i] - mean[i])) / scale[i];
    return z;
  }

  /** Relevance probability of a sentence. */
  score(features: ArrayLike<number>): number {
    return 1 / (1 + Math.exp(-this.margin(features)));
  }
}
