import fs from 'node:fs';
import path from 'node:path';
import { GraphBuilder } from '../onnx/GraphBuilder.js';
import type { IGraphProto } from '../onnx/proto.js';
import { buildDecoderGraph } from './decoderGraph.js';
import { buildEncoderGraph } from './encoderGraph.js';
import { buildGenaiGraph } from './genaiGraph.js';
import { CHATML_TEMPLATE, learnBpe, tokenizerJson, SPECIAL_TOKENS } from './bpeTokenizer.js';
import { ENGLISH_SAMPLE } from './englishSample.js';
import { Numerics } from './numerics.js';
import { PRESETS, isPresetName, type DecoderPreset, type EncoderPreset, type Preset, type PresetName } from './presets.js';
import { SeededWeights, type DecoderWeights } from './seededWeights.js';
import { InductionWeights } from './inductionWeights.js';
import { PASS_THROUGH_TEMPLATE, inductionCorpus } from './inductionCorpus.js';
import { VARIANTS, VARIANT_NAMES, isVariantName, type VariantName, type VariantSpec } from './variants.js';
import { WeightSpool } from './WeightSpool.js';

export interface BuildOptions {
  seed?: number;
  /** Export family and precision (decoders only); default `optimum-fp32` (onnx/model.onnx). */
  variant?: VariantName;
  attentionOutputs?: boolean;
  referenceMask?: boolean;
  /** Test graph without a position_ids input (positions derived inside, nothing to rewire); optimum variants only. */
  internalPositions?: boolean;
  /** A text file or a folder of text files to learn BPE merges from; default: the shipped English sample. */
  corpus?: string;
  /** Override preset fields (e.g. `{ tiedEmbeddings: true }`) for tests of other shapes. */
  overrides?: Partial<DecoderPreset> | Partial<EncoderPreset>;
  /** Std of random weights; default 0.02 (0.15 for `tiny`/`tiny-encoder` so attention is peaked enough for tests to discriminate). */
  initStd?: number;
}

export interface BuildResult {
  dir: string;
  preset: Preset;
  tokenizerVocab: number;
  weightBytes: number;
  files: string[];
  /** The decoder file written (e.g. onnx/model_q4.onnx). */
  onnxFile: string;
}

const OPSET = 17;
const IR_VERSION = 8;
const GENAI_OPSET = 14;
const GENAI_IR_VERSION = 7;
/** Protobuf's limit for one message, minus room for the graph's structure. */
const INLINE_LIMIT = 2 ** 31 - 64 * 2 ** 20;

/** The files a variant's weights go to: none (inline), `<file>_data` (optimum, past 2 GiB) or `<file>.data` (genai). */
function dataFileFor(spec: VariantSpec, forceExternal: boolean, weightBytes: number): string | null {
  const base = path.basename(spec.file);
  if (spec.externalData === 'always') return `${base}.data`;
  return forceExternal || weightBytes > INLINE_LIMIT ? `${base}_data` : null;
}

/** Writes a complete Hugging Face-layout model directory with seeded random weights. Same seed -> identical bytes. */
export function buildTestModel(presetName: PresetName | string, outDir: string, opts: BuildOptions = {}): BuildResult {
  if (!isPresetName(presetName)) throw new Error(`unknown preset "${presetName}"; known: ${Object.keys(PRESETS).join(', ')}`);
  const preset = { ...PRESETS[presetName], ...(opts.overrides ?? {}) } as Preset;
  const seed = opts.seed ?? 0;
  const initStd = opts.initStd ?? (presetName.startsWith('tiny') ? 0.15 : 0.02);
  fs.mkdirSync(path.join(outDir, 'onnx'), { recursive: true });

  // Tokenizer first: its size bounds the model vocabulary.
  const mergeBudget = Math.min(preset.tokenizerVocab, preset.vocabSize) - 256 - SPECIAL_TOKENS.length;
  const induction = preset.kind === 'decoder' && preset.weights === 'induction';
  const bpe = learnBpe(opts.corpus || !induction ? readCorpus(opts.corpus) : inductionCorpus(), Math.max(0, mergeBudget));
  const tok = tokenizerJson(bpe);
  const ids = tok.specialTokenIds;
  if (tok.vocabSize > preset.vocabSize) throw new Error(`tokenizer vocab ${tok.vocabSize} exceeds model vocab ${preset.vocabSize}`);

  const onnxDir = path.join(outDir, 'onnx');
  if (opts.variant && !isVariantName(opts.variant)) throw new Error(`unknown variant "${opts.variant}"; known: ${VARIANT_NAMES.join(', ')}`);
  const spec = VARIANTS[opts.variant ?? 'optimum-fp32'];
  if (preset.kind === 'encoder' && opts.variant && opts.variant !== 'optimum-fp32') throw new Error(`variant ${opts.variant}: encoders are built in fp32 only`);
  if (opts.internalPositions && spec.family !== 'optimum') throw new Error('internalPositions applies to optimum variants');
  const onnxFile = preset.kind === 'decoder' ? spec.file : 'onnx/model.onnx';
  const modelPath = path.join(outDir, onnxFile);
  const stem = path.basename(onnxFile, '.onnx');
  // A rebuilt variant replaces its own weights and derived (rewritten) files, and leaves other variants alone.
  for (const f of fs.readdirSync(onnxDir)) {
    if (f.startsWith(`${stem}.onnx_data`) || f.startsWith(`${stem}.onnx.data`) || f.startsWith(`${stem}.rag.`) || f.startsWith(`${stem}.taps.`)) fs.rmSync(path.join(onnxDir, f), { force: true });
  }
  const spool = new WeightSpool(onnxDir, stem);
  const g = new GraphBuilder();
  const weights: DecoderWeights = induction ? new InductionWeights(preset as DecoderPreset) : new SeededWeights(seed, initStd);
  let graph: IGraphProto;
  try {
    if (preset.kind === 'encoder') graph = buildEncoderGraph(preset, { seed, initStd }, spool);
    else {
      const nx = new Numerics(g, spool, spec);
      graph =
        spec.family === 'genai'
          ? buildGenaiGraph(preset, weights, g, nx)
          : buildDecoderGraph(preset, { weights, attentionOutputs: !!opts.attentionOutputs, referenceMask: !!opts.referenceMask, internalPositions: !!opts.internalPositions }, g, nx);
    }
  } catch (err) {
    spool.discard();
    throw err;
  }
  const dataFile = dataFileFor(spec, preset.kind === 'decoder' && preset.externalData, spool.bytes);
  const genai = preset.kind === 'decoder' && spec.family === 'genai';
  spool.write(
    modelPath,
    {
      irVersion: genai ? GENAI_IR_VERSION : IR_VERSION,
      opsetImport: [{ domain: '', version: genai ? GENAI_OPSET : OPSET }, ...(preset.kind === 'decoder' && (spec.linear === 'q4' || genai) ? [{ domain: 'com.microsoft', version: 1 }] : [])],
      producerName: genai ? 'onnxruntime-genai (rag-longctx test-model builder replica)' : 'rag-longctx test-model builder',
      producerVersion: '1',
      graph,
    },
    dataFile,
  );

  const files = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', onnxFile];
  if (dataFile) files.push(`onnx/${dataFile}`);
  if (genai) files.push('genai_config.json');
  const writeJson = (name: string, v: unknown): void => fs.writeFileSync(path.join(outDir, name), JSON.stringify(v, null, 2) + '\n');
  const external = externalOptimumFiles(onnxDir);

  const bos = ids['<|endoftext|>'];
  const eos = ids['<|im_end|>'];
  const pad = ids['<|endoftext|>'];
  writeJson('config.json', preset.kind === 'decoder' ? decoderConfig(preset, { bos, eos, external, seed, attentionOutputs: !!opts.attentionOutputs, referenceMask: !!opts.referenceMask }) : encoderConfig(preset, pad));
  if (genai) writeJson('genai_config.json', genaiConfig(preset as DecoderPreset, onnxFile, { bos, eos, pad }));
  writeJson('generation_config.json', { bos_token_id: bos, eos_token_id: [eos, ids['<|endoftext|>']], pad_token_id: pad, do_sample: false });
  fs.writeFileSync(path.join(outDir, 'tokenizer.json'), JSON.stringify(tok.tokenizerJson) + '\n');
  writeJson('tokenizer_config.json', {
    tokenizer_class: preset.kind === 'decoder' && preset.modelType === 'qwen2' ? 'Qwen2Tokenizer' : 'GPT2Tokenizer',
    add_bos_token: false,
    add_eos_token: false,
    add_prefix_space: false,
    bos_token: '<|endoftext|>',
    eos_token: preset.kind === 'decoder' ? '<|im_end|>' : '<|endoftext|>',
    pad_token: '<|endoftext|>',
    unk_token: null,
    clean_up_tokenization_spaces: false,
    errors: 'replace',
    model_max_length: preset.maxPositions,
    chat_template: induction ? PASS_THROUGH_TEMPLATE : CHATML_TEMPLATE,
    added_tokens_decoder: Object.fromEntries(
      SPECIAL_TOKENS.map((t) => [String(ids[t]), { content: t, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true }]),
    ),
  });
  writeJson('special_tokens_map.json', {
    bos_token: '<|endoftext|>',
    eos_token: preset.kind === 'decoder' ? '<|im_end|>' : '<|endoftext|>',
    pad_token: '<|endoftext|>',
    additional_special_tokens: ['<|im_start|>', '<|im_end|>'],
  });
  return { dir: outDir, preset, tokenizerVocab: tok.vocabSize, weightBytes: spool.bytes, files, onnxFile };
}

/** Optimum files in onnx/ whose weights live in `<file>_data` (transformers.js reads this map from config.json). */
function externalOptimumFiles(onnxDir: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of fs.readdirSync(onnxDir).sort()) {
    if (f.endsWith('.onnx') && !f.includes('.rag.') && fs.existsSync(path.join(onnxDir, `${f}_data`))) out[f] = 1;
  }
  return out;
}

/** genai_config.json as the onnxruntime-genai builder writes it (the decoder's file and I/O names; no position_ids). */
function genaiConfig(p: DecoderPreset, filename: string, ids: { bos: number; eos: number; pad: number }): object {
  const D = p.hidden / p.heads;
  return {
    model: {
      bos_token_id: ids.bos,
      context_length: p.maxPositions,
      decoder: {
        session_options: { log_id: 'onnxruntime-genai', provider_options: [] },
        filename,
        head_size: D,
        hidden_size: p.hidden,
        inputs: { input_ids: 'input_ids', attention_mask: 'attention_mask', past_key_names: 'past_key_values.%d.key', past_value_names: 'past_key_values.%d.value' },
        outputs: { logits: 'logits', present_key_names: 'present.%d.key', present_value_names: 'present.%d.value' },
        num_attention_heads: p.heads,
        num_hidden_layers: p.layers,
        num_key_value_heads: p.kvHeads,
      },
      eos_token_id: [ids.eos],
      pad_token_id: ids.pad,
      type: p.modelType,
      vocab_size: p.vocabSize,
    },
    search: { do_sample: false, max_length: p.maxPositions, num_beams: 1, past_present_share_buffer: true, top_k: 1, top_p: 1, temperature: 1 },
  };
}

function decoderConfig(
  p: DecoderPreset,
  x: { bos: number; eos: number; external: Record<string, number>; seed: number; attentionOutputs: boolean; referenceMask: boolean },
): object {
  return {
    architectures: [p.modelType === 'qwen2' ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM'],
    model_type: p.modelType,
    hidden_size: p.hidden,
    intermediate_size: p.intermediate,
    num_hidden_layers: p.layers,
    num_attention_heads: p.heads,
    num_key_value_heads: p.kvHeads,
    head_dim: p.hidden / p.heads,
    vocab_size: p.vocabSize,
    max_position_embeddings: p.maxPositions,
    rope_theta: p.ropeTheta,
    rope_scaling: null,
    rms_norm_eps: p.rmsNormEps,
    hidden_act: 'silu',
    attention_bias: p.qkvBias,
    tie_word_embeddings: p.tiedEmbeddings,
    bos_token_id: x.bos,
    eos_token_id: x.eos,
    torch_dtype: 'float32',
    use_cache: true,
    'transformers.js_config': { dtype: 'fp32', ...(Object.keys(x.external).length > 0 ? { use_external_data_format: x.external } : {}) },
    test_model: { seed: x.seed, ...(p.weights === 'induction' ? { weights: 'induction' } : {}), attention_outputs: x.attentionOutputs, reference_mask: x.referenceMask },
  };
}

function encoderConfig(p: EncoderPreset, pad: number): object {
  return {
    architectures: ['BertModel'],
    model_type: 'bert',
    hidden_size: p.hidden,
    intermediate_size: p.intermediate,
    num_hidden_layers: p.layers,
    num_attention_heads: p.heads,
    vocab_size: p.vocabSize,
    max_position_embeddings: p.maxPositions,
    type_vocab_size: p.typeVocabSize,
    layer_norm_eps: p.layerNormEps,
    hidden_act: 'gelu',
    pad_token_id: pad,
    torch_dtype: 'float32',
    'transformers.js_config': { dtype: 'fp32' },
  };
}

function readCorpus(corpus: string | undefined): string {
  if (!corpus) return ENGLISH_SAMPLE;
  const stat = fs.statSync(corpus);
  if (!stat.isDirectory()) return fs.readFileSync(corpus, 'utf8');
  const files = fs.readdirSync(corpus, { recursive: true, encoding: 'utf8' }).sort();
  return files
    .map((f) => path.join(corpus, f))
    .filter((f) => fs.statSync(f).isFile())
    .map((f) => fs.readFileSync(f, 'utf8'))
    .join('\n');
}
