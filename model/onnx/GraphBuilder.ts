import { DataType, tensorValueInfo, type Dim, type IAttributeProto, type INodeProto, type ITensorProto, type IValueInfoProto } from './proto.js';

/** onnxruntime's contrib operators (MatMulNBits, GroupQueryAttention, SkipSimplifiedLayerNormalization, ...). */
export const MS_DOMAIN = 'com.microsoft';

export type AttrValue = number | string | number[] | { float: number } | { tensor: ITensorProto };

/**
 * Accumulates nodes, initializers and graph I/O. Node and tensor names follow the optimum/torch exporter
 * convention (`/model/layers.0/self_attn/Softmax` -> `..._output_0`) so tools written for real exports
 * (the attention-tap rewriter) find the same names in our models.
 */
export class GraphBuilder {
  readonly nodes: INodeProto[] = [];
  readonly initializers: ITensorProto[] = [];
  readonly inputs: IValueInfoProto[] = [];
  readonly outputs: IValueInfoProto[] = [];
  private readonly usedNames = new Set<string>();

  input(name: string, elemType: number, dims: Dim[]): string {
    this.inputs.push(tensorValueInfo(name, elemType, dims));
    return name;
  }

  output(name: string, elemType: number, dims: Dim[] | null): void {
    this.outputs.push(tensorValueInfo(name, elemType, dims));
  }

  /** Adds one node; returns its output names (`<name>_output_<i>`, or the given names). */
  node(opType: string, inputs: string[], name: string, attrs: Record<string, AttrValue> = {}, outputCount: number | string[] = 1, domain = ''): string[] {
    let unique = name;
    for (let i = 1; this.usedNames.has(unique); i++) unique = `${name}_${i}`;
    this.usedNames.add(unique);
    const outputs = Array.isArray(outputCount) ? outputCount : Array.from({ length: outputCount }, (_, i) => `${unique}_output_${i}`);
    this.nodes.push({ opType, name: unique, input: inputs, output: outputs, attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)), ...(domain ? { domain } : {}) });
    return outputs;
  }

  /** Single-output convenience form of `node`. */
  op(opType: string, inputs: string[], name: string, attrs: Record<string, AttrValue> = {}): string {
    return this.node(opType, inputs, name, attrs)[0];
  }

  /** Single-output node whose output carries a fixed name (graph outputs such as `present.0.key`). */
  opNamed(opType: string, inputs: string[], name: string, output: string, attrs: Record<string, AttrValue> = {}): string {
    return this.node(opType, inputs, name, attrs, [output])[0];
  }

  initializer(tensor: ITensorProto): string {
    this.initializers.push(tensor);
    return tensor.name as string;
  }

  int64(name: string, values: number[], dims: number[] = [values.length]): string {
    const data = Buffer.alloc(8 * values.length);
    values.forEach((v, i) => data.writeBigInt64LE(BigInt(v), 8 * i));
    return this.initializer({ name, dataType: DataType.INT64, dims, rawData: data });
  }

  float(name: string, values: ArrayLike<number>, dims: number[] = [values.length]): string {
    const f = Float32Array.from(values);
    return this.initializer({ name, dataType: DataType.FLOAT, dims, rawData: Buffer.from(f.buffer, f.byteOffset, f.byteLength) });
  }

  double(name: string, values: ArrayLike<number>, dims: number[] = [values.length]): string {
    const f = Float64Array.from(values);
    return this.initializer({ name, dataType: DataType.DOUBLE, dims, rawData: Buffer.from(f.buffer, f.byteOffset, f.byteLength) });
  }
}

function attribute(name: string, v: AttrValue): IAttributeProto {
  const T = 1; // AttributeType enum values from onnx.proto
  if (typeof v === 'number') return Number.isInteger(v) ? { name, type: 2, i: v } : { name, type: T, f: v };
  if (typeof v === 'string') return { name, type: 3, s: Buffer.from(v, 'utf8') };
  if (Array.isArray(v)) return { name, type: 7, ints: v };
  if ('float' in v) return { name, type: T, f: v.float };
  return { name, type: 4, t: v.tensor };
}
