import fs from 'node:fs';
import path from 'node:path';
import { AutoModelForCausalLM, AutoTokenizer, Tensor, env } from '@huggingface/transformers';
import { learnBpe, tokenizerJson } from '../../../model/builder/bpeTokenizer.js';
import { buildTestModel } from '../../../model/builder/buildTestModel.js';
import { ENGLISH_SAMPLE } from '../../../model/builder/englishSample.js';
import { DecoderModel } from '../../../model/DecoderModel.js';
import { maxAbsDiff } from '../../support/referenceDecoder.js';
import { buildTempModel, removeTempModel } from '../../support/tempModel.js';

const HELD_OUT =
  'After the meeting, the teachers walked back to the school through the park. It was a cold morning in late October, and the leaves on the trees had turned yellow and red. ' +
  'One of them said that the new library would be finished before the end of the year, although the builders had been delayed by the heavy rain in the summer.';

describe('test-model builder', () => {
  let dir: string;
  beforeAll(() => {
    dir = buildTempModel('tiny', { seed: 1 });
  });
  afterAll(() => removeTempModel(dir));

  it('writes the Hugging Face layout, and the same seed gives byte-identical files', () => {
    const files = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'onnx/model.onnx'];
    for (const f of files) expect(fs.existsSync(path.join(dir, f))).toBe(true);
    const again = buildTempModel('tiny', { seed: 1 });
    const other = buildTempModel('tiny', { seed: 2 });
    try {
      for (const f of files) expect(fs.readFileSync(path.join(again, f)).equals(fs.readFileSync(path.join(dir, f)))).toBe(true);
      expect(fs.readFileSync(path.join(other, 'onnx/model.onnx')).equals(fs.readFileSync(path.join(dir, 'onnx/model.onnx')))).toBe(false);
    } finally {
      removeTempModel(again);
      removeTempModel(other);
    }
    const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ model_type: 'qwen2', num_hidden_layers: 2, hidden_size: 64, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 1024 });
  });

  it('has a tokenizer that transformers.js loads and that round-trips arbitrary UTF-8', async () => {
    const tok = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
    const texts = [
      HELD_OUT,
      'Ünïcödé — “quotes” 😀🚀 日本語のテキスト, עברית, русский текст.',
      'tabs\tand\nnewlines\r\n  double  spaces   ',
      '\u0000\u0001\u007f control bytes and a lone surrogate-free astral 𝄞',
      'x'.repeat(300),
    ];
    // Random code points across all planes (valid scalar values only).
    let seed = 99;
    const rnd = (n: number): number => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) % n);
    texts.push(Array.from({ length: 400 }, () => {
      let cp = rnd(0x110000);
      if (cp >= 0xd800 && cp <= 0xdfff) cp = 0x41;
      return String.fromCodePoint(cp);
    }).join(''));
    for (const t of texts) expect(tok.decode(tok.encode(t))).toBe(t);
    // Special tokens are single ids after the learned vocabulary.
    const chat = tok.apply_chat_template([{ role: 'user', content: 'Hello' }], { tokenize: false, add_generation_prompt: true }) as string;
    expect(chat).toBe('<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n');
    const chatIds = Array.from(tok.encode(chat));
    const imStart = tok.convert_tokens_to_ids('<|im_start|>');
    expect(chatIds.filter((i) => i === imStart)).toHaveLength(2);
    expect(Math.max(...chatIds)).toBeLessThan(1024);
  });

  it('learns merges deterministically; a larger vocabulary gives ~4 characters per token on unseen English', () => {
    const a = learnBpe(ENGLISH_SAMPLE, 3000);
    const b = learnBpe(ENGLISH_SAMPLE, 3000);
    expect(a.merges).toEqual(b.merges);
    expect(a.merges.length).toBeGreaterThan(2000);
    expect(learnBpe(ENGLISH_SAMPLE, 3000, 2).merges.length).toBeLessThan(a.merges.length);
    expect(tokenizerJson(a).vocabSize).toBe(a.vocab.size + 3);
  });

  it('measures characters per token of the tiny and larger tokenizers', async () => {
    const big = buildTempModel('tiny', { seed: 1, overrides: { tokenizerVocab: 8192, vocabSize: 8192 } }, 'tiny-bigvocab');
    try {
      const small = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
      const large = await AutoTokenizer.from_pretrained(big, { local_files_only: true });
      const cpt = (t: typeof small): number => HELD_OUT.length / t.encode(HELD_OUT).length;
      expect(cpt(small)).toBeGreaterThan(2.5);
      expect(cpt(large)).toBeGreaterThan(3.6);
      expect(cpt(large)).toBeGreaterThan(cpt(small));
    } finally {
      removeTempModel(big);
    }
  });

  it('a model with external weights loads in transformers.js and the runtime, with the same logits as the inline one', async () => {
    const ext = buildTempModel('tiny', { seed: 1, overrides: { externalData: true, tiedEmbeddings: true, qkvBias: false, modelType: 'llama' } }, 'tiny-ext');
    const inline = buildTempModel('tiny', { seed: 1, overrides: { tiedEmbeddings: true, qkvBias: false, modelType: 'llama' } }, 'tiny-inline');
    try {
      expect(fs.existsSync(path.join(ext, 'onnx', 'model.onnx_data'))).toBe(true);
      env.allowRemoteModels = false;
      env.localModelPath = path.dirname(ext);
      const hf = await AutoModelForCausalLM.from_pretrained(path.basename(ext), { local_files_only: true });
      const ids = [5, 300, 17, 900, 42];
      const out = (await hf({
        input_ids: new Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]),
        attention_mask: new Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]),
      })) as { logits: Tensor };
      const rt = await DecoderModel.load(inline, { intraOpThreads: 1 });
      expect(rt.config.tiedEmbeddings).toBe(true);
      const ours = await rt.forward(ids, [0, 1, 2, 3, 4], null, { logits: 'all' });
      expect(maxAbsDiff(out.logits.data as Float32Array, ours.logits as Float32Array)).toBeLessThanOrEqual(1e-4);
      await rt.release();
      await hf.dispose();
    } finally {
      removeTempModel(ext);
      removeTempModel(inline);
    }
  });

  it('rejects unknown presets', () => {
    expect(() => buildTestModel('huge', path.join(path.dirname(dir), 'x'))).toThrow(/unknown preset "huge"; known: tiny/);
  });
});
