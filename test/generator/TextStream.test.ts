import { AutoTokenizer, type PreTrainedTokenizer } from '@huggingface/transformers';
import { TextStream } from '../../generator/TextStream.js';
import { buildTempModel, removeTempModel } from '../support/tempModel.js';

describe('TextStream (incremental detokenization)', () => {
  let dir: string;
  let tokenizer: PreTrainedTokenizer;
  beforeAll(async () => {
    dir = buildTempModel('tiny', { seed: 4 });
    tokenizer = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
  });
  afterAll(() => removeTempModel(dir));

  it('emits deltas that add up to the full decode, holds back split characters, and decodes a bounded window', () => {
    const text = 'The founders said: café, naïve — 日本語 and 🙂 emoji; then   spaces\nand a new line. '.repeat(6);
    const ids = tokenizer.encode(text, { add_special_tokens: false });
    const windows: number[] = [];
    const decode = tokenizer.decode.bind(tokenizer);
    const counting = new Proxy(tokenizer, {
      get: (t, prop, recv) => (prop === 'decode' ? (x: number[], o: object) => (windows.push(x.length), decode(x, o)) : Reflect.get(t, prop, recv)),
    });
    const stream = new TextStream(counting);
    let joined = '';
    for (const [i, id] of ids.entries()) {
      const delta = stream.push(id);
      expect(delta.includes('\uFFFD')).toBe(false);
      joined += delta;
      // Never ahead of the text decoded so far.
      expect(decode(ids.slice(0, i + 1), { skip_special_tokens: true }).startsWith(joined)).toBe(true);
    }
    expect(joined).toBe(decode(ids, { skip_special_tokens: true }));
    expect(stream.text()).toBe(joined);
    expect(ids.length).toBeGreaterThan(200);
    // Each step decodes a short window, not everything generated so far.
    expect(Math.max(...windows.slice(0, -1))).toBeLessThanOrEqual(12);
  });

  it('skips special tokens and starts empty', () => {
    const stream = new TextStream(tokenizer);
    expect(stream.text()).toBe('');
    const eos = tokenizer.encode('<|im_end|>', { add_special_tokens: false });
    expect(eos.length).toBe(1);
    expect(stream.push(eos[0])).toBe('');
    const ids = tokenizer.encode(' hello world', { add_special_tokens: false });
    const out = ids.map((id) => stream.push(id)).join('');
    expect(out).toBe(' hello world');
    expect(stream.text()).toBe(' hello world');
  });
});
