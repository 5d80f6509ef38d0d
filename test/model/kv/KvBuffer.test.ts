import { DecoderModel } from '../../../model/DecoderModel.js';
import { KvCache } from '../../../model/kv/KvCache.js';
import { ReferenceDecoder, maxAbsDiff } from '../../support/referenceDecoder.js';
import { buildTempModel, removeTempModel } from '../../support/tempModel.js';

const range = (start: number, n: number): number[] => Array.from({ length: n }, (_, i) => start + i);
const argmax = (a: ArrayLike<number>): number => {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
};

/** [kvHeads, T, D] + [kvHeads, 1, D] -> [kvHeads, T + 1, D]. */
function appendRow(past: Float64Array, row: ArrayLike<number>, kvHeads: number): Float64Array {
  const D = row.length / kvHeads;
  const T = past.length / (kvHeads * D);
  const out = new Float64Array(past.length + row.length);
  for (let h = 0; h < kvHeads; h++) {
    out.set(past.subarray(h * T * D, (h + 1) * T * D), h * (T + 1) * D);
    for (let i = 0; i < D; i++) out[(h * (T + 1) + T) * D + i] = row[h * D + i]!;
  }
  return out;
}

/** A decode step over a buffer with spare (masked) capacity equals the float64 reference decoder over the exact past. */
describe.each([
  ['int64 mask', false],
  ['reference (additive) mask', true],
])('decodeStep over a KvBuffer (%s)', (_name, referenceMask) => {
  let dir: string;
  let model: DecoderModel;
  let ref: ReferenceDecoder;

  beforeAll(async () => {
    dir = buildTempModel('tiny', { seed: 21, referenceMask });
    model = await DecoderModel.load(dir, { intraOpThreads: 1 });
    ref = ReferenceDecoder.load(dir);
  });
  afterAll(async () => {
    await model.release();
    removeTempModel(dir);
  });

  it('greedy steps match the reference logits and KV; only the new row is written; the buffer refuses to overflow', async () => {
    expect(model.decodesInBuffer).toBe(true);
    const ids = Array.from(model.tokenizer.encode('The river rises in the hills and runs to the sea.'));
    const prompt = await model.forward(ids, range(0, ids.length), null, { logits: 'last' });
    const steps = 6;
    const buffer = model.decodeBuffer([prompt.present], steps);
    expect(buffer.capacity).toBe(ids.length + steps);
    const before = Float32Array.from(buffer.layers[0]!.key as Float32Array);
    let refPast: { key: Float64Array; value: Float64Array }[] = range(0, model.config.layers).map((l) => ({ key: Float64Array.from(prompt.present.layers[l]!.key), value: Float64Array.from(prompt.present.layers[l]!.value) }));
    let logits = prompt.logits as Float32Array;
    const seq = [...ids];
    for (let s = 0; s < steps; s++) {
      const id = argmax(logits);
      seq.push(id);
      const pos = buffer.length;
      logits = await model.decodeStep(buffer, id, pos);
      const r = ref.forward([id], [pos], refPast);
      expect(maxAbsDiff(logits, r.logits)).toBeLessThanOrEqual(1e-4);
      refPast = r.layers.map((l, i) => ({ key: appendRow(refPast[i]!.key, l.key, model.config.kvHeads), value: appendRow(refPast[i]!.value, l.value, model.config.kvHeads) }));
    }
    expect(buffer.length).toBe(ids.length + steps);
    expect(Array.from(buffer.positions)).toEqual(range(0, ids.length + steps));
    // The buffer holds exactly the reference's KV of the whole sequence (head-major with capacity = length now).
    const asCache = new KvCache(buffer.layers.map((l) => ({ key: l.key as Float32Array, value: l.value as Float32Array })), buffer.kvHeads, buffer.headDim, buffer.positions);
    for (let l = 0; l < model.config.layers; l++) {
      expect(maxAbsDiff(asCache.layers[l]!.key, refPast[l]!.key)).toBeLessThanOrEqual(1e-4);
      expect(maxAbsDiff(asCache.layers[l]!.value, refPast[l]!.value)).toBeLessThanOrEqual(1e-4);
    }
    // Prompt rows were not touched by the steps.
    const D = buffer.headDim;
    for (let h = 0; h < buffer.kvHeads; h++) {
      const a = (buffer.layers[0]!.key as Float32Array).subarray(h * buffer.capacity * D, (h * buffer.capacity + ids.length) * D);
      expect(Array.from(a)).toEqual(Array.from(before.subarray(h * buffer.capacity * D, (h * buffer.capacity + ids.length) * D)));
    }
    await expect(model.decodeStep(buffer, 1, buffer.length)).rejects.toThrow(/full/);
  });
});
