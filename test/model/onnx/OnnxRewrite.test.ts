import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { buildTestModel } from '../../../model/builder/buildTestModel.js';
import { OnnxIndex, F } from '../../../model/onnx/OnnxIndex.js';
import { OnnxRewrite, editNodeBytes } from '../../../model/onnx/OnnxRewrite.js';
import { onnx } from '../../../model/onnx/proto.js';
import { FileSource, lenField, scanFields, bufferSource, type ByteSource } from '../../../model/onnx/protoBytes.js';
import { prepareRuntimeGraph } from '../../../model/onnx/RuntimeGraph.js';

const range = (start: number, n: number): number[] => Array.from({ length: n }, (_, i) => start + i);

async function runDecoder(file: string, extra: Record<string, ort.Tensor> = {}): Promise<Record<string, ort.Tensor>> {
  const s = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
  const ids = [5, 300, 17, 900, 42, 8];
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]),
    position_ids: new ort.Tensor('int64', BigInt64Array.from(range(0, ids.length).map(BigInt)), [1, ids.length]),
    ...extra,
  };
  for (let i = 0; i < 2; i++) for (const k of ['key', 'value']) feeds[`past_key_values.${i}.${k}`] = new ort.Tensor('float32', new Float32Array(0), [1, 2, 0, 16]);
  const out = await s.run(feeds);
  await s.release();
  return out;
}

/** A ByteSource that counts what is read. */
function counting(file: string): ByteSource & { bytesRead: number; close(): void } {
  const f = FileSource.open(file);
  const c = {
    size: f.size,
    bytesRead: 0,
    read(start: number, end: number) {
      c.bytesRead += end - start;
      return f.read(start, end);
    },
    close: () => f.close(),
  };
  return c;
}

describe('lossless ONNX rewrites', () => {
  let root: string;
  let dir: string;
  let source: string;

  beforeAll(() => {
    root = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'rag-rewrite-'));
    dir = path.join(root, 'tiny');
    buildTestModel('tiny', dir, { seed: 2 });
    source = path.join(dir, 'onnx', 'model.onnx');
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it('a rewrite without edits is small, reads no weight bytes, points its weights into the source file, and computes the same outputs', async () => {
    const src = counting(source);
    const ix = OnnxIndex.read(src);
    const weightBytes = [...ix.initializers.values()].reduce((n, t) => n + (t.raw ? t.raw.end - t.raw.start : 0), 0);
    expect(weightBytes).toBeGreaterThan(0.9 * src.size);
    const out = path.join(dir, 'onnx', 'model.copy.onnx');
    new OnnxRewrite(ix).write(source, out);
    // Only the graph's structure was read: never the weights (a 2 GB model is not loaded, decoded or re-encoded).
    expect(src.bytesRead).toBeLessThan(src.size - weightBytes + 64 * 1024);
    src.close();
    expect(fs.statSync(out).size).toBeLessThan(0.05 * fs.statSync(source).size);

    const a = await runDecoder(source);
    const b = await runDecoder(out);
    expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
    for (const k of Object.keys(a)) expect(Buffer.from((b[k].data as Float32Array).buffer).equals(Buffer.from((a[k].data as Float32Array).buffer))).toBe(true);

    // Equal in meaning: the same nodes, I/O and initializers (name, type, shape, bytes), field for field.
    const g1 = onnx.ModelProto.decode(fs.readFileSync(source)).graph;
    const g2 = onnx.ModelProto.decode(fs.readFileSync(out)).graph;
    expect(onnx.GraphProto.toObject(onnx.GraphProto.create({ node: g2?.node, input: g2?.input, output: g2?.output }))).toEqual(
      onnx.GraphProto.toObject(onnx.GraphProto.create({ node: g1?.node, input: g1?.input, output: g1?.output })),
    );
    const srcBytes = fs.readFileSync(source);
    for (const t of g1?.initializer ?? []) {
      const r = (g2?.initializer ?? []).find((x) => x.name === t.name);
      expect([r?.dataType, r?.dims?.map(Number)]).toEqual([t.dataType, t.dims?.map(Number)]);
      if (r?.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
        const kv = Object.fromEntries((r.externalData ?? []).map((e) => [e.key, e.value]));
        expect(kv.location).toBe('model.onnx');
        expect(srcBytes.subarray(Number(kv.offset), Number(kv.offset) + Number(kv.length)).equals(Buffer.from(t.rawData as Uint8Array))).toBe(true);
      } else expect(Buffer.from(r?.rawData as Uint8Array).equals(Buffer.from(t.rawData as Uint8Array))).toBe(true);
    }
    fs.rmSync(out);
  });

  it('keeps fields newer than the shipped protobuf schema (which a decode + encode silently drops)', async () => {
    // Add ONNX >= 1.16 metadata_props to the model, the graph and the LM head node (the node the selector edits).
    const entry = (k: string, v: string) => onnx.StringStringEntryProto.encode({ key: k, value: v }).finish();
    const bytes = fs.readFileSync(source);
    const src = bufferSource(bytes);
    const model = scanFields(src);
    const graphSpan = model.find((f) => f.field === F.model.graph) as NonNullable<(typeof model)[number]>;
    const graphFields = scanFields(src, graphSpan.dataStart, graphSpan.end).map((f) => {
      const b = src.read(f.start, f.end);
      if (f.field !== F.graph.node) return b;
      const node = onnx.NodeProto.decode(src.read(f.dataStart, f.end));
      return node.name === '/lm_head/MatMul' ? lenField(F.graph.node, Buffer.concat([src.read(f.dataStart, f.end), lenField(9, entry('origin', 'lm-head'))])) : b;
    });
    const graph = Buffer.concat([...graphFields, lenField(16, entry('graph-note', 'kept'))]);
    const withNew = Buffer.concat([...model.map((f) => (f.field === F.model.graph ? lenField(F.model.graph, graph) : src.read(f.start, f.end))), lenField(14, entry('model-note', 'kept'))]);
    const file = path.join(dir, 'onnx', 'model_meta.onnx');
    fs.writeFileSync(file, withNew);

    // The shipped schema (ONNX 1.10) drops the node's and the graph's metadata: a decode + encode loses them.
    const reencoded = Buffer.from(onnx.ModelProto.encode(onnx.ModelProto.decode(withNew)).finish());
    expect(reencoded.includes(Buffer.from('lm-head'))).toBe(false);
    expect(reencoded.includes(Buffer.from('graph-note'))).toBe(false);

    const rt = prepareRuntimeGraph(file, { taps: true });
    const out = fs.readFileSync(rt.path);
    for (const s of ['lm-head', 'graph-note', 'model-note']) expect(out.includes(Buffer.from(s))).toBe(true);
    // ...and onnxruntime (which knows the newer fields) runs the edited graph.
    const res = await runDecoder(rt.path, {
      rag_logits_rows: new ort.Tensor('int64', BigInt64Array.of(5n), [1]),
      rag_attention_rows: new ort.Tensor('int64', BigInt64Array.of(5n), [1]),
      // Past-key rotation off (RuntimeGraph.rotatesPast); head size 16.
      rag_past_rotate: new ort.Tensor('bool', Uint8Array.of(0), []),
      rag_past_cos: new ort.Tensor('float32', new Float32Array(8), [1, 8]),
      rag_past_sin: new ort.Tensor('float32', new Float32Array(8), [1, 8]),
    });
    expect(res.logits.dims).toEqual([1, 1, 1024]);
    const plain = await runDecoder(source);
    expect(Array.from(res.logits.data as Float32Array)).toEqual(Array.from((plain.logits.data as Float32Array).subarray(5 * 1024)));
  });

  it('edits a node at the byte level: new input list in place, outputs appended, attributes replaced; other bytes untouched', () => {
    const node = onnx.NodeProto.encode({
      input: ['a', 'b'],
      output: ['y'],
      name: 'n',
      opType: 'GroupQueryAttention',
      domain: 'com.microsoft',
      attribute: [
        { name: 'qk_output', type: 2, i: 0 },
        { name: 'num_heads', type: 2, i: 4 },
      ],
    }).finish();
    const withUnknown = Buffer.concat([Buffer.from(node), lenField(9, Buffer.from('x'))]);
    const edited = editNodeBytes(withUnknown, { inputs: ['a', '', 'c'], appendOutputs: ['qk'], attributes: [{ name: 'qk_output', type: 2, i: 2 }] });
    const back = onnx.NodeProto.decode(edited);
    expect(back.input).toEqual(['a', '', 'c']);
    expect(back.output).toEqual(['y', 'qk']);
    expect(back.attribute?.map((a) => [a.name, Number(a.i)])).toEqual([
      ['num_heads', 4],
      ['qk_output', 2],
    ]);
    expect([back.name, back.opType, back.domain]).toEqual(['n', 'GroupQueryAttention', 'com.microsoft']);
    const tail = scanFields(bufferSource(edited)).filter((f) => f.field === 9);
    expect(tail).toHaveLength(1);
  });
});
