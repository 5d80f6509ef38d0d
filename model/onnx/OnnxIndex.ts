import { onnx, type INodeProto, type IValueInfoProto } from './proto.js';
import { FileSource, ProtoError, scanFields, withoutFields, WIRE_LEN, type ByteSource, type FieldSpan } from './protoBytes.js';

/** ONNX protobuf field numbers this project reads or edits (onnx.proto3). */
export const F = {
  model: { graph: 7, opsetImport: 8 },
  graph: { node: 1, initializer: 5, input: 11, output: 12, valueInfo: 13 },
  node: { input: 1, output: 2, name: 3, opType: 4, attribute: 5, domain: 7 },
  tensor: { dims: 1, dataType: 2, name: 8, rawData: 9, externalData: 13, dataLocation: 14 },
} as const;

/** Tensor payload fields that can be large (typed data and raw bytes); everything else in a TensorProto is small. */
const TENSOR_DATA_FIELDS = new Set([4, 5, 6, 7, 9, 10, 11]);

export interface IndexedNode {
  span: FieldSpan;
  node: INodeProto;
}

export interface IndexedValueInfo {
  span: FieldSpan;
  info: IValueInfoProto;
}

export interface IndexedInitializer {
  span: FieldSpan;
  name: string;
  dataType: number;
  dims: number[];
  /** raw_data payload [start, end) in the file, when the bytes are inline. */
  raw: { start: number; end: number } | null;
  /** Key/value pairs of external data (location, offset, length), when the bytes live in another file. */
  external: Record<string, string> | null;
  /** The tensor's fields except its data payloads (for rewriting it as external data losslessly). */
  headerFields: FieldSpan[];
}

/**
 * An index of an ONNX model file, read field by field from disk: nodes and graph I/O are decoded (they are
 * small), initializers only down to their name, type, shape and where their bytes are. A 2 GB single-file model
 * is indexed with a few MB of memory, and the spans let a rewrite copy every byte it does not change verbatim,
 * including fields newer than the protobuf schema this project ships (onnx-proto, ONNX 1.10).
 */
export class OnnxIndex {
  private constructor(
    readonly src: ByteSource,
    readonly modelFields: FieldSpan[],
    readonly graph: FieldSpan,
    readonly graphFields: FieldSpan[],
    readonly nodes: IndexedNode[],
    readonly inputs: IndexedValueInfo[],
    readonly outputs: IndexedValueInfo[],
    readonly valueInfo: IndexedValueInfo[],
    readonly initializers: Map<string, IndexedInitializer>,
    readonly opsets: Map<string, number>,
  ) {}

  static read(src: ByteSource): OnnxIndex {
    const modelFields = scanFields(src);
    const graph = modelFields.find((f) => f.field === F.model.graph && f.wire === WIRE_LEN);
    if (!graph) throw new ProtoError('not an ONNX model: no graph');
    const opsets = new Map<string, number>();
    for (const f of modelFields.filter((m) => m.field === F.model.opsetImport)) {
      const o = onnx.OperatorSetIdProto.decode(src.read(f.dataStart, f.end));
      opsets.set(o.domain ?? '', Number(o.version ?? 0));
    }
    const graphFields = scanFields(src, graph.dataStart, graph.end);
    const nodes: IndexedNode[] = [];
    const inputs: IndexedValueInfo[] = [];
    const outputs: IndexedValueInfo[] = [];
    const valueInfo: IndexedValueInfo[] = [];
    const initializers = new Map<string, IndexedInitializer>();
    const info = (span: FieldSpan): IndexedValueInfo => ({ span, info: onnx.ValueInfoProto.decode(src.read(span.dataStart, span.end)) });
    for (const span of graphFields) {
      if (span.wire !== WIRE_LEN) continue;
      if (span.field === F.graph.node) nodes.push({ span, node: onnx.NodeProto.decode(src.read(span.dataStart, span.end)) });
      else if (span.field === F.graph.input) inputs.push(info(span));
      else if (span.field === F.graph.output) outputs.push(info(span));
      else if (span.field === F.graph.valueInfo) valueInfo.push(info(span));
      else if (span.field === F.graph.initializer) {
        const init = readInitializer(src, span);
        initializers.set(init.name, init);
      }
    }
    return new OnnxIndex(src, modelFields, graph, graphFields, nodes, inputs, outputs, valueInfo, initializers, opsets);
  }

  static open(file: string): OnnxIndex {
    return OnnxIndex.read(FileSource.open(file));
  }

  close(): void {
    if (this.src instanceof FileSource) this.src.close();
  }

  /** Node producing each tensor. */
  producers(): Map<string, IndexedNode> {
    const m = new Map<string, IndexedNode>();
    for (const n of this.nodes) for (const o of n.node.output ?? []) if (o) m.set(o, n);
    return m;
  }

  /** Nodes reading each tensor. */
  consumers(): Map<string, IndexedNode[]> {
    const m = new Map<string, IndexedNode[]>();
    for (const n of this.nodes) {
      for (const i of n.node.input ?? []) {
        if (!i) continue;
        const list = m.get(i) ?? [];
        list.push(n);
        m.set(i, list);
      }
    }
    return m;
  }

  /** Element type of a graph input/output/value_info/initializer, or 0 when the file does not say. */
  elemType(name: string): number {
    const vi = [...this.inputs, ...this.outputs, ...this.valueInfo].find((v) => v.info.name === name);
    const t = vi?.info.type?.tensorType?.elemType;
    if (typeof t === 'number' && t !== 0) return t;
    return this.initializers.get(name)?.dataType ?? 0;
  }

  /** Raw little-endian bytes of a small initializer (inline or external), e.g. a cos/sin cache or a constant. */
  initializerBytes(name: string, dir: string): Buffer {
    const init = this.initializers.get(name);
    if (!init) throw new ProtoError(`no initializer ${name}`);
    if (init.raw) return Buffer.from(this.src.read(init.raw.start, init.raw.end));
    if (init.external) {
      const f = FileSource.open(`${dir}/${init.external.location}`);
      try {
        const offset = Number(init.external.offset ?? 0);
        const length = init.external.length !== undefined ? Number(init.external.length) : f.size - offset;
        return Buffer.from(f.read(offset, offset + length));
      } finally {
        f.close();
      }
    }
    throw new ProtoError(`initializer ${name} stores typed data, not raw bytes`);
  }
}

function readInitializer(src: ByteSource, span: FieldSpan): IndexedInitializer {
  const fields = scanFields(src, span.dataStart, span.end);
  const headerFields = fields.filter((f) => !TENSOR_DATA_FIELDS.has(f.field));
  const header = onnx.TensorProto.decode(withoutFields(src, fields, TENSOR_DATA_FIELDS));
  const rawField = fields.find((f) => f.field === F.tensor.rawData);
  const external =
    header.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL
      ? Object.fromEntries((header.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']))
      : null;
  return {
    span,
    name: header.name ?? '',
    dataType: header.dataType ?? 0,
    dims: (header.dims ?? []).map(Number),
    raw: rawField ? { start: rawField.dataStart, end: rawField.end } : null,
    external,
    headerFields,
  };
}
