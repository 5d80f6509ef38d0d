import { argmax } from '../../../generator/Sampler.js';
import { SeededRandom } from '../../../infra/random.js';
import { STATION_NAMES } from '../../../model/builder/inductionCorpus.js';
import { INDUCTION, hammingCode } from '../../../model/builder/inductionWeights.js';
import { VARIANT_NAMES } from '../../../model/builder/variants.js';
import { DecoderModel } from '../../../model/DecoderModel.js';
import { buildTempModel, removeTempModel } from '../../support/tempModel.js';

const range = (start: number, n: number): number[] => Array.from({ length: n }, (_, i) => start + i);

/** Greedy continuation of `ids` by `n` tokens; with the prompt's last-row attention per layer. */
async function greedy(model: DecoderModel, ids: number[], n: number, tap = false): Promise<{ out: number[]; attentions: Float32Array[] }> {
  let r = await model.forward(ids, range(0, ids.length), null, { logits: 'last', present: 'all', ...(tap ? { attentions: 'last' as const } : {}) });
  const attentions = r.attentions ?? [];
  let cache = r.present;
  const out: number[] = [];
  for (let k = 0; k < n; k++) {
    out.push(argmax(r.logits as Float32Array));
    if (k === n - 1) break;
    r = await model.forward([out[k]], [ids.length + k], cache, { logits: 'last', present: 'all' });
    cache = r.present;
  }
  return { out, attentions };
}

describe('induction preset: a hand-set copying circuit', () => {
  let dir: string;
  let model: DecoderModel;
  beforeAll(async () => {
    dir = buildTempModel('induction');
    model = await DecoderModel.load(dir, { taps: true });
  });
  afterAll(async () => {
    await model?.release();
    removeTempModel(dir);
  });

  it('codes tokens with the extended Hamming code: distinct codes agree on at most 12 of 16 signs', () => {
    const codes = range(0, model.config.vocabSize).map(hammingCode);
    let worst = -Infinity;
    for (let a = 0; a < codes.length; a++) {
      for (let b = a + 1; b < codes.length; b++) {
        let dot = 0;
        for (let k = 0; k < INDUCTION.codeDim; k++) dot += codes[a][k] * codes[b][k];
        worst = Math.max(worst, dot);
      }
    }
    expect(worst).toBe(8);
  });

  it('ships a tokenizer where station names are one token and digits one token each, and a pass-through template', () => {
    const tok = model.tokenizer;
    const pieces = (s: string): string[] => Array.from(tok.encode(s, { add_special_tokens: false })).map((i) => tok.decode([i]));
    for (const name of STATION_NAMES) expect(pieces(` ${name}`)).toEqual([` ${name}`]);
    expect(pieces(' is 4821.')).toEqual([' is', ' 4', '8', '2', '1', '.']);
    const chat = tok.apply_chat_template(
      [
        { role: 'system', content: 'ignored' },
        { role: 'user', content: 'The access code of Kestrel Station is' },
      ],
      { tokenize: false, add_generation_prompt: true },
    );
    expect(chat).toBe('The access code of Kestrel Station is');
  });

  it('continues a repeated random segment exactly, and the last layer attends to the matched position', async () => {
    const rng = new SeededRandom(17, 'induction-test');
    const vocab = 1021; // the learned vocabulary; the three special tokens follow it
    const int = (n: number): number => Math.floor(rng.uniform() * n);
    const draw = (n: number): number[] => Array.from({ length: n }, () => int(vocab));
    let right = 0;
    let total = 0;
    const matchedMass: number[] = [];
    for (let trial = 0; trial < 40; trial++) {
      const segment = draw(24);
      const given = 6 + int(6);
      const before = draw(20 + int(200));
      const ids = [...before, ...segment, ...draw(20 + int(400)), ...segment.slice(0, given)];
      const want = segment.slice(given);
      const { out, attentions } = await greedy(model, ids, want.length, true);
      right += out.filter((t, i) => t === want[i]).length;
      total += want.length;
      // Last layer, head 0 (the matching head), prompt's last row: the position holding segment[given] first time.
      const T = ids.length;
      const last = attentions[model.config.layers - 1];
      matchedMass.push(last[before.length + given]);
      expect(last.length).toBe(model.config.heads * T);
    }
    expect(right / total).toBeGreaterThanOrEqual(0.99);
    expect(Math.min(...matchedMass)).toBeGreaterThanOrEqual(0.9);
  });

  it('answers a cloze question from a fact in context in every export variant', async () => {
    const text =
      'The river rises in the hills. The access code of Kestrel Station is 4821. The weather is cold. ' +
      'The access code of Marlow Station is 4837. Trains first reached the town.\n\nQuestion: The access code of ';
    for (const variant of VARIANT_NAMES) {
      const vdir = buildTempModel('induction', { variant });
      const m = await DecoderModel.load(vdir);
      try {
        for (const [name, code] of [['Kestrel', '4821'], ['Marlow', '4837']]) {
          const ids = Array.from(m.tokenizer.encode(`${text}${name} Station is`, { add_special_tokens: false }));
          const { out } = await greedy(m, ids, 5);
          expect([variant, m.tokenizer.decode(out)]).toEqual([variant, ` ${code}.`]);
        }
      } finally {
        await m.release();
        removeTempModel(vdir);
      }
    }
  });
});
