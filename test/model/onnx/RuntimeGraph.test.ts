import fs from 'node:fs';
import path from 'node:path';
import { buildTestModel } from '../../../model/builder/buildTestModel.js';
import { analyseDecoderExport } from '../../../model/onnx/DecoderExport.js';
import { OnnxIndex } from '../../../model/onnx/OnnxIndex.js';
import { DataType, onnx, tensorValueInfo } from '../../../model/onnx/proto.js';
import { bufferSource } from '../../../model/onnx/protoBytes.js';
import { prepareRuntimeGraph, runtimePathFor } from '../../../model/onnx/RuntimeGraph.js';

describe('runtime graph preparation', () => {
  let root: string;
  beforeAll(() => {
    root = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'rag-runtime-graph-'));
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it('writes the rewrite once, reuses it while the export is unchanged, and rewrites it when the export changes', () => {
    const dir = path.join(root, 'q4');
    buildTestModel('tiny', dir, { variant: 'optimum-q4', seed: 1 });
    const source = path.join(dir, 'onnx', 'model_q4.onnx');
    const first = prepareRuntimeGraph(source, { taps: true });
    expect(first).toMatchObject({ cached: false, path: runtimePathFor(source, 'softmax') });
    expect(first.path.endsWith('model_q4.rag-taps.onnx')).toBe(true);
    expect(prepareRuntimeGraph(source, { taps: true }).cached).toBe(true);
    const plain = prepareRuntimeGraph(source, { taps: false });
    expect(plain.path.endsWith('model_q4.rag.onnx')).toBe(true);
    expect(plain.taps).toBeNull();
    const future = new Date(Date.now() + 5000);
    fs.utimesSync(source, future, future);
    expect(prepareRuntimeGraph(source, { taps: true }).cached).toBe(false);
    // A rewrite stamped by another version of the rewriter is not trusted.
    const stamp = `${first.path}.json`;
    fs.writeFileSync(stamp, JSON.stringify({ ...JSON.parse(fs.readFileSync(stamp, 'utf8')), version: 0 }));
    expect(prepareRuntimeGraph(source, { taps: true }).cached).toBe(false);
  });

  it('reports why a fused-attention graph cannot be tapped or given positions', () => {
    const inputs = [
      tensorValueInfo('input_ids', DataType.INT64, ['b', 's']),
      tensorValueInfo('attention_mask', DataType.INT64, ['b', 't']),
      tensorValueInfo('past_key_values.0.key', DataType.FLOAT, ['b', 2, 'p', 16]),
      tensorValueInfo('past_key_values.0.value', DataType.FLOAT, ['b', 2, 'p', 16]),
    ];
    const bytes = onnx.ModelProto.encode({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }, { domain: 'com.microsoft', version: 1 }],
      graph: {
        name: 'g',
        input: inputs,
        output: [tensorValueInfo('logits', DataType.FLOAT, null)],
        node: [
          { opType: 'MultiHeadAttention', domain: 'com.microsoft', name: '/model/layers.0/attn/MultiHeadAttention', input: ['q', 'k', 'v'], output: ['o'] },
          { opType: 'MatMul', name: '/lm_head/MatMul', input: ['o', 'w'], output: ['logits'] },
        ],
      },
    }).finish();
    const ex = analyseDecoderExport(OnnxIndex.read(bufferSource(bytes)));
    expect(ex.family).toBe('unknown');
    expect(ex.taps).toEqual({ mode: null, reason: 'the graph uses fused attention (com.microsoft.MultiHeadAttention) whose probabilities cannot be read' });
    expect(ex.positions.mode).toBe('refused');
    expect(ex.positions.reason).toMatch(/no position_ids input and no GroupQueryAttention/);
    expect('site' in ex.selector && ex.selector.site.hidden).toBe('o');
  });
});
