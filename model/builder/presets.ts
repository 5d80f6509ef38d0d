/** Shapes of the test models. Benchmark presets copy real configs so compute cost (which does not depend on weight values) is real. */
export interface DecoderPreset {
  kind: 'decoder';
  modelType: 'llama' | 'qwen2';
  layers: number;
  hidden: number;
  intermediate: number;
  heads: number;
  kvHeads: number;
  vocabSize: number;
  ropeTheta: number;
  rmsNormEps: number;
  maxPositions: number;
  tiedEmbeddings: boolean;
  qkvBias: boolean;
  /** Target size of the learned BPE vocabulary (bytes + merges + specials); capped by vocabSize. */
  tokenizerVocab: number;
  /**
   * Force optimum variants' weights into `<file>_data`. Otherwise they are inside the file as optimum writes them
   * (qwen2.5-0.5b fp32 is one 1.9 GB protobuf, like the real export) unless past protobuf's 2 GiB limit.
   */
  externalData: boolean;
  /**
   * `seeded` (default): random weights from the seed. `induction`: hand-set weights that copy from context (see
   * inductionWeights.ts), with their own tokenizer corpus and a pass-through chat template.
   */
  weights?: 'seeded' | 'induction';
}

export interface EncoderPreset {
  kind: 'encoder';
  modelType: 'bert';
  layers: number;
  hidden: number;
  intermediate: number;
  heads: number;
  vocabSize: number;
  maxPositions: number;
  typeVocabSize: number;
  layerNormEps: number;
  tokenizerVocab: number;
}

export type Preset = DecoderPreset | EncoderPreset;

export const PRESETS = {
  tiny: {
    kind: 'decoder',
    modelType: 'qwen2',
    layers: 2,
    hidden: 64,
    intermediate: 128,
    heads: 4,
    kvHeads: 2,
    vocabSize: 1024,
    ropeTheta: 10000,
    rmsNormEps: 1e-6,
    maxPositions: 32768,
    tiedEmbeddings: false,
    qkvBias: true,
    tokenizerVocab: 1024,
    externalData: false,
  },
  'smollm2-135m': {
    kind: 'decoder',
    modelType: 'llama',
    layers: 30,
    hidden: 576,
    intermediate: 1536,
    heads: 9,
    kvHeads: 3,
    vocabSize: 49152,
    ropeTheta: 100000,
    rmsNormEps: 1e-5,
    maxPositions: 8192,
    tiedEmbeddings: true,
    qkvBias: false,
    tokenizerVocab: 8192,
    externalData: false,
  },
  'qwen2.5-0.5b': {
    kind: 'decoder',
    modelType: 'qwen2',
    layers: 24,
    hidden: 896,
    intermediate: 4864,
    heads: 14,
    kvHeads: 2,
    vocabSize: 151936,
    ropeTheta: 1000000,
    rmsNormEps: 1e-6,
    maxPositions: 32768,
    tiedEmbeddings: true,
    qkvBias: true,
    tokenizerVocab: 8192,
    externalData: false,
  },
  // Hand-set induction circuit (inductionWeights.ts): a model whose attention means something, for end-to-end answer tests.
  induction: {
    kind: 'decoder',
    modelType: 'qwen2',
    layers: 3,
    hidden: 256,
    intermediate: 16,
    heads: 2,
    kvHeads: 1,
    vocabSize: 1024,
    ropeTheta: 1e26,
    rmsNormEps: 1e-6,
    maxPositions: 32768,
    tiedEmbeddings: false,
    qkvBias: true,
    tokenizerVocab: 1024,
    externalData: false,
    weights: 'induction',
  },
  'tiny-encoder': {
    kind: 'encoder',
    modelType: 'bert',
    layers: 2,
    hidden: 64,
    intermediate: 128,
    heads: 4,
    vocabSize: 1024,
    maxPositions: 512,
    typeVocabSize: 2,
    layerNormEps: 1e-12,
    tokenizerVocab: 1024,
  },
} as const satisfies Record<string, Preset>;

export type PresetName = keyof typeof PRESETS;

export function isPresetName(name: string): name is PresetName {
  return Object.hasOwn(PRESETS, name);
}
