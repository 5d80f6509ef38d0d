import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { writeFileAtomicSync } from '../../infra/atomicWrite.js';
import type { EmbedderIdentity } from '../../indexer/embedding/Embedder.js';
import { featureIndex, RANKER_FEATURES, type FeaturedCandidate, type FeatureGroup } from './RankerFeatures.js';
// Imported (not only read from disk) so the compiler copies it next to this module in dist/.
import shippedRanker from './sentence-ranker.json' with { type: 'json' };

/**
 * A trained sentence ranker: two logistic-regression models over RANKER_FEATURES, read from one small JSON
 * file. The `embedder` model uses the retrieval score (in hybrid mode it folds in the embedder's cosine), so
 * it only fits the embedder and search mode it was trained with; the `lexical` model uses text and BM25
 * statistics only and fits any setup. `select` returns the embedder model when it fits and otherwise the
 * lexical one, with the reason, so a different embedder degrades to a learned fallback instead of garbage.
 */
export const RANKER_FORMAT = 'sentence-ranker/1';

const ModelSchema = z.object({
  features: z.array(z.string()).min(1),
  mean: z.array(z.number()),
  scale: z.array(z.number().positive()),
  coef: z.array(z.number()),
  intercept: z.number(),
  C: z.number().positive(),
  /** Cross-validated selection metric per C (mean top-1 accuracy over held-out folds of articles). */
  cv: z.array(z.object({ C: z.number(), top1: z.number(), auc: z.number() })),
});

const FileSchema = z.object({
  format: z.literal(RANKER_FORMAT),
  /** Embedder the `embedder` model's features came from. */
  embedder: z.object({ id: z.string().min(1), dim: z.number().int().positive() }),
  /** How candidates were retrieved in training: search mode and passages per question. */
  retrieval: z.object({ mode: z.string().min(1), k: z.number().int().positive() }),
  models: z.object({ embedder: ModelSchema, lexical: ModelSchema }),
  /** Free-form provenance: data, split, label rule, example counts. */
  trainedOn: z.record(z.string(), z.unknown()),
});

export type RankerModelJson = z.infer<typeof ModelSchema>;
export type RankerFileJson = z.infer<typeof FileSchema>;

/** The ranker file that ships with the package (trained on SQuAD v1.1 dev with USE-lite, see the README). */
export const SHIPPED_RANKER_FILE = fileURLToPath(new URL('./sentence-ranker.json', import.meta.url));

export class RankerModel {
  private readonly columns: number[];

  constructor(readonly json: RankerModelJson, source: string) {
    const d = json.features.length;
    if (json.mean.length !== d || json.scale.length !== d || json.coef.length !== d) {
      throw new Error(`${source}: ${d} features but mean/scale/coef have ${json.mean.length}/${json.scale.length}/${json.coef.length} values`);
    }
    this.columns = json.features.map((name) => featureIndex(name));
  }

  get features(): readonly string[] {
    return this.json.features;
  }

  /** The feature groups the model reads. */
  get groups(): FeatureGroup[] {
    return [...new Set(this.columns.map((c) => RANKER_FEATURES[c].group))];
  }

  /** Decision value w·standardise(x) + b over the model's columns of a full feature vector. */
  score(features: ArrayLike<number>): number {
    const { mean, scale, coef, intercept } = this.json;
    let z = intercept;
    for (let j = 0; j < this.columns.length; j++) z += (coef[j] * (features[this.columns[j]] - mean[j])) / scale[j];
    return z;
  }

  /** Candidates by descending score (ties: retrieval order, then position), each with its score. */
  rank<T extends FeaturedCandidate>(candidates: readonly T[]): (T & { score: number })[] {
    return candidates
      .map((c) => ({ ...c, score: this.score(c.features) }))
      .sort((a, b) => b.score - a.score || a.passage - b.passage || a.sentence - b.sentence);
  }
}

export interface RankerSelection {
  model: RankerModel;
  kind: 'embedder' | 'lexical';
  /** Why the embedder model was not used; null when it was. */
  fallback: string | null;
}

export class SentenceRanker {
  readonly embedder: RankerModel;
  readonly lexical: RankerModel;

  private constructor(
    readonly json: RankerFileJson,
    readonly source: string,
  ) {
    this.embedder = new RankerModel(json.models.embedder, `${source} (embedder model)`);
    this.lexical = new RankerModel(json.models.lexical, `${source} (lexical model)`);
    if (this.lexical.groups.some((g) => g !== 'lexical')) throw new Error(`${source}: the lexical model reads ${this.lexical.groups.join(', ')} features`);
  }

  static fromJSON(json: unknown, source = 'sentence ranker'): SentenceRanker {
    const parsed = FileSchema.safeParse(json);
    if (!parsed.success) throw new Error(`${source}: not a ${RANKER_FORMAT} file (${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')})`);
    return new SentenceRanker(parsed.data, source);
  }

  /** The ranker shipped with the package. */
  static shipped(): SentenceRanker {
    return SentenceRanker.fromJSON(shippedRanker, 'the shipped sentence ranker');
  }

  static load(file: string = SHIPPED_RANKER_FILE): SentenceRanker {
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (err) {
      throw new Error(`sentence ranker ${file}: ${err instanceof Error ? err.message : String(err)}`);
    }
    return SentenceRanker.fromJSON(raw, `sentence ranker ${path.basename(file)}`);
  }

  /** Where `rag ranker train` writes by default, and where serving looks first. */
  static dataDirFile(dataDir: string): string {
    return path.join(dataDir, 'rankers', 'sentence-ranker.json');
  }

  /** The ranker serving uses: one trained into DATA_DIR (`rag ranker train`) when there is one, else the shipped one. */
  static forDataDir(dataDir: string): SentenceRanker {
    const file = SentenceRanker.dataDirFile(dataDir);
    return fs.existsSync(file) ? SentenceRanker.load(file) : SentenceRanker.shipped();
  }

  save(file: string): void {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    writeFileAtomicSync(file, `${JSON.stringify(this.json, null, 1)}\n`);
  }

  /**
   * The model to serve with: the embedder model when serving uses the embedder and search mode it was trained
   * with (and, if it reads sentence vectors, they are available), otherwise the lexical model and the reason.
   */
  select(serving: { embedder: EmbedderIdentity | null; mode: string; sentenceVectors?: boolean }): RankerSelection {
    const trained = this.json.embedder;
    const e = serving.embedder;
    let why: string | null = null;
    if (!e || e.id !== trained.id || e.dim !== trained.dim) {
      why =
        `${this.source} was trained with embedder ${trained.id} (${trained.dim}-d), but serving uses ` +
        `${e ? `${e.id} (${e.dim}-d)` : 'no embedder'}; using its lexical-only model ` +
        '(train one for this embedder with `rag ranker train`)';
    } else if (serving.mode !== this.json.retrieval.mode) {
      why = `${this.source} was trained on ${this.json.retrieval.mode} retrieval scores, but this search is ${serving.mode}; using its lexical-only model`;
    } else if (this.embedder.groups.includes('dense') && !serving.sentenceVectors) {
      why = `${this.source} reads sentence vectors, which this collection does not store; using its lexical-only model`;
    }
    return why === null ? { model: this.embedder, kind: 'embedder', fallback: null } : { model: this.lexical, kind: 'lexical', fallback: why };
  }
}
