import fs from 'node:fs';
import path from 'node:path';
import { onnx, type IGraphProto } from '../onnx/proto.js';
import { buildDecoderGraph } from './decoderGraph.js';
import { buildEncoderGraph } from './encoderGraph.js';
import { CHATML_TEMPLATE, learnBpe, tokenizerJson, SPECIAL_TOKENS } from './bpeTokenizer.js';
import { ENGLISH_SAMPLE } from './englishSample.js';
import { PRESETS, isPresetName, type DecoderPreset, type EncoderPreset, type Preset, type PresetName } from './presets.js';
import { ExternalWeights, InlineWeights, type WeightSink } from './WeightSink.js';

export interface BuildOptions {
  seed?: number;
  attentionOutputs?: boolean;
  referenceMask?: boolean;
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
}

const OPSET = 17;
const IR_VERSION = 8;

/** Writes a complete Hugging Face-layout model directory with seeded random weights. Same seed -> identical bytes. */
export function buildTestModel(presetName: PresetName | string, outDir: string, opts: BuildOptions = {}): BuildResult {
  if (!isPresetName(presetName)) throw new Error(`unknown preset "${presetName}"; known: ${Object.keys(PRESETS).join(', ')}`);
  const preset = { ...PRESETS[presetName], ...(opts.overrides ?? {}) } as Preset;
  const seed = opts.seed ?? 0;
  const initStd = opts.initStd ?? (presetName.startsWith('tiny') ? 0.15 : 0.02);
  fs.mkdirSync(path.join(outDir, 'onnx'), { recursive: true });

  // Tokenizer first: its size bounds the model vocabulary.
  const mergeBudget = Math.min(preset.tokenizerVocab, preset.vocabSize) - 256 - SPECIAL_TOKENS.length;
  const bpe = learnBpe(readCorpus(opts.corpus), Math.max(0, mergeBudget));
  const tok = tokenizerJson(bpe);
  const ids = tok.specialTokenIds;
  if (tok.vocabSize > preset.vocabSize) throw new Error(`tokenizer vocab ${tok.vocabSize} exceeds model vocab ${preset.vocabSize}`);

  const onnxDir = path.join(outDir, 'onnx');
  const dataFile = 'model.onnx_data';
  const external = preset.kind === 'decoder' && preset.externalData;
  fs.rmSync(path.join(onnxDir, dataFile), { force: true });
  fs.rmSync(path.join(onnxDir, 'model.taps.onnx'), { force: true });
  const sink: WeightSink = external ? new ExternalWeights(onnxDir, dataFile) : new InlineWeights();
  let graph: IGraphProto;
  try {
    graph =
      preset.kind === 'decoder'
        ? buildDecoderGraph(preset, { seed, initStd, attentionOutputs: !!opts.attentionOutputs, referenceMask: !!opts.referenceMask }, sink)
        : buildEncoderGraph(preset, { seed, initStd }, sink);
  } finally {
    sink.close();
  }
  const model = onnx.ModelProto.encode({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'rag-longctx test-model builder',
    producerVersion: '1',
    graph,
  }).finish();
  fs.writeFileSync(path.join(onnxDir, 'model.onnx'), model);

  const files = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'onnx/model.onnx'];
  if (external) files.push(`onnx/${dataFile}`);
  const writeJson = (name: string, v: unknown): void => fs.writeFileSync(path.join(outDir, name), JSON.stringify(v, null, 2) + '\n');

  const bos = ids['<|endoftext|>'];
  const eos = ids['<|im_end|>'];
  const pad = ids['<|endoftext|>'];
  writeJson('config.json', preset.kind === 'decoder' ? decoderConfig(preset, { bos, eos, external, seed, attentionOutputs: !!opts.attentionOutputs, referenceMask: !!opts.referenceMask }) : encoderConfig(preset, pad));
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
    chat_template: CHATML_TEMPLATE,
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
  return { dir: outDir, preset, tokenizerVocab: tok.vocabSize, weightBytes: sink.bytes, files };
}

function decoderConfig(
  p: DecoderPreset,
  x: { bos: number; eos: number; external: boolean; seed: number; attentionOutputs: boolean; referenceMask: boolean },
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
    'transformers.js_config': { dtype: 'fp32', ...(x.external ? { use_external_data_format: { 'model.onnx': 1 } } : {}) },
    test_model: { seed: x.seed, attention_outputs: x.attentionOutputs, reference_mask: x.referenceMask },
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
