import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ModelNotFoundError, isHubId, resolveModelDir } from '../../model/resolveModelDir.js';
import { UnsupportedModelError, decoderShapeFromConfig, kvBytesPerToken } from '../../model/DecoderShape.js';

describe('resolveModelDir', () => {
  let root: string;
  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'rag-resolve-'));
    for (const d of ['test/tiny', 'Org/model-1.5B']) {
      fs.mkdirSync(path.join(root, d), { recursive: true });
      fs.writeFileSync(path.join(root, d, 'config.json'), '{}');
    }
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it('finds relative paths and hub ids under MODELS_DIR, and absolute paths', () => {
    expect(resolveModelDir('test/tiny', root)).toBe(path.join(root, 'test', 'tiny'));
    expect(resolveModelDir('Org/model-1.5B', root)).toBe(path.join(root, 'Org', 'model-1.5B'));
    expect(resolveModelDir(path.join(root, 'test', 'tiny'), '/nonexistent')).toBe(path.join(root, 'test', 'tiny'));
    expect(isHubId('onnx-community/Qwen2.5-0.5B-Instruct')).toBe(true);
    expect(isHubId('../etc')).toBe(false);
  });

  it('says how to provide a missing model', () => {
    expect(() => resolveModelDir('onnx-community/Qwen2.5-0.5B-Instruct', root)).toThrow(ModelNotFoundError);
    expect(() => resolveModelDir('onnx-community/Qwen2.5-0.5B-Instruct', root)).toThrow(/rag models pull onnx-community\/Qwen2\.5-0\.5B-Instruct.*rag models build-test tiny/);
    expect(() => resolveModelDir('test/missing', root)).toThrow(/not found.*rag models build-test tiny/);
  });
});

describe('decoderShapeFromConfig', () => {
  const qwen = {
    model_type: 'qwen2',
    hidden_size: 896,
    num_attention_heads: 14,
    num_key_value_heads: 2,
    num_hidden_layers: 24,
    intermediate_size: 4864,
    vocab_size: 151936,
    rope_theta: 1000000,
    max_position_embeddings: 32768,
    tie_word_embeddings: true,
    bos_token_id: 151643,
    eos_token_id: 151645,
    rope_scaling: null,
  };

  it('reads a real config shape', () => {
    const s = decoderShapeFromConfig(qwen);
    expect(s).toMatchObject({ layers: 24, heads: 14, kvHeads: 2, headDim: 64, hidden: 896, vocabSize: 151936, ropeTheta: 1e6, tiedEmbeddings: true, eosTokenIds: [151645] });
    // DESIGN: about 12 KiB per token in fp16 for Qwen2.5-0.5B.
    expect(kvBytesPerToken(s, 2)).toBe(12288);
  });

  it('rejects RoPE scaling and partial rotary clearly', () => {
    expect(() => decoderShapeFromConfig({ ...qwen, rope_scaling: { type: 'yarn', factor: 4 } })).toThrow(UnsupportedModelError);
    expect(() => decoderShapeFromConfig({ ...qwen, rope_scaling: { rope_type: 'llama3', factor: 8 } })).toThrow(/rope_scaling of type "llama3" is not supported/);
    expect(decoderShapeFromConfig({ ...qwen, rope_scaling: { rope_type: 'default' } }).ropeTheta).toBe(1e6);
    expect(() => decoderShapeFromConfig({ ...qwen, partial_rotary_factor: 0.5 })).toThrow(/partial_rotary_factor/);
    expect(() => decoderShapeFromConfig({ ...qwen, num_key_value_heads: 3 })).toThrow(/not a multiple/);
  });
});
