import type { OnnxIndex } from './OnnxIndex.js';
import { DataType } from './proto.js';

const BOOL_OPS = new Set(['Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'And', 'Or', 'Not', 'Xor', 'IsNaN', 'IsInf']);
const INT64_OPS = new Set(['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin']);

/**
 * Element types of a graph's intermediate tensors, propagated from what the file declares (inputs, initializers,
 * value_info) through the ops decoder exports use: needed to declare a new graph output with the type onnxruntime
 * will infer (a tap declared float32 on an fp16 Softmax fails at session creation).
 */
export class TensorTypes {
  private readonly known = new Map<string, number>();
  private readonly producers;

  constructor(private readonly ix: OnnxIndex) {
    this.producers = ix.producers();
    for (const v of [...ix.inputs, ...ix.outputs, ...ix.valueInfo]) {
      const t = v.info.type?.tensorType?.elemType;
      if (v.info.name && typeof t === 'number' && t !== 0) this.known.set(v.info.name, t);
    }
    for (const [name, init] of ix.initializers) this.known.set(name, init.dataType);
  }

  of(tensor: string, depth = 0): number {
    const hit = this.known.get(tensor);
    if (hit !== undefined) return hit;
    const p = this.producers.get(tensor);
    if (!p || depth > 5000) return 0;
    const n = p.node;
    const op = n.opType ?? '';
    const index = (n.output ?? []).indexOf(tensor);
    const attr = (name: string) => (n.attribute ?? []).find((a) => a.name === name);
    let t: number;
    if (op === 'Cast') t = Number(attr('to')?.i ?? 0);
    else if (INT64_OPS.has(op)) t = DataType.INT64;
    else if (BOOL_OPS.has(op)) t = DataType.BOOL;
    else if (op === 'DynamicQuantizeLinear') t = index === 1 ? DataType.FLOAT : DataType.UINT8;
    else if (op === 'MatMulInteger') t = DataType.INT32;
    else if (op === 'Where') t = this.of((n.input ?? [])[1] ?? '', depth + 1);
    else if (op === 'Constant' || op === 'ConstantOfShape') t = Number(attr('value')?.t?.dataType ?? DataType.FLOAT);
    else t = this.of((n.input ?? []).find((i) => i) ?? '', depth + 1);
    this.known.set(tensor, t);
    return t;
  }
}
