import fs from 'node:fs';
import path from 'node:path';
import { DataType, onnx, type IGraphProto, type IModelProto, type ITensorProto } from '../onnx/proto.js';
import { FileSource, lenFieldOverhead, tag, varint, WIRE_LEN } from '../onnx/protoBytes.js';

/** Where initializer bytes go while a graph is built. */
export interface WeightSink {
  /** A float32 tensor. */
  tensor(name: string, dims: number[], data: Float32Array): ITensorProto;
  /** Any element type, as little-endian bytes. */
  raw(name: string, dims: number[], dataType: number, bytes: Uint8Array): ITensorProto;
  /** Total weight bytes so far. */
  readonly bytes: number;
}

const ALIGN = 4096;
const EXTERNAL = 1;
const GRAPH_FIELD = 7;
const INITIALIZER_FIELD = 5;
const RAW_DATA_FIELD = 9;

/**
 * Spools every initializer's bytes to a file as the graph is built (page-aligned, so onnxruntime can memory-map
 * them), so no more than one tensor is in memory at a time. `write` then either renames the spool into the model's
 * external data file, or streams a single-file model (as optimum writes models under 2 GiB) by splicing each
 * tensor's bytes into its TensorProto: the multi-GB protobuf is never encoded as one buffer.
 */
export class WeightSpool implements WeightSink {
  bytes = 0;
  private offset = 0;
  private readonly fd: number;
  private readonly spoolPath: string;
  private readonly spooled = new Map<ITensorProto, { offset: number; length: number }>();

  constructor(private readonly dir: string, stem: string) {
    this.spoolPath = path.join(dir, `${stem}.spool.tmp`);
    this.fd = fs.openSync(this.spoolPath, 'w');
  }

  tensor(name: string, dims: number[], data: Float32Array): ITensorProto {
    return this.raw(name, dims, DataType.FLOAT, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }

  raw(name: string, dims: number[], dataType: number, bytes: Uint8Array): ITensorProto {
    const pad = (ALIGN - (this.offset % ALIGN)) % ALIGN;
    if (pad) fs.writeSync(this.fd, Buffer.alloc(pad));
    this.offset += pad;
    const start = this.offset;
    fs.writeSync(this.fd, bytes);
    this.offset += bytes.byteLength;
    this.bytes += bytes.byteLength;
    const t: ITensorProto = { name, dataType, dims };
    this.spooled.set(t, { offset: start, length: bytes.byteLength });
    return t;
  }

  /** Drops the spooled bytes (a build that failed). */
  discard(): void {
    fs.closeSync(this.fd);
    fs.rmSync(this.spoolPath, { force: true });
  }

  /**
   * Writes `model` (whose graph holds this spool's tensors) to `modelPath`. `dataFile` (a name next to the model):
   * weights go there as external data; null: one self-contained protobuf (must stay under 2 GiB).
   */
  write(modelPath: string, model: IModelProto, dataFile: string | null): void {
    fs.closeSync(this.fd);
    const graph = model.graph as IGraphProto;
    try {
      if (dataFile !== null) {
        for (const [t, s] of this.spooled) {
          t.dataLocation = EXTERNAL;
          t.externalData = [
            { key: 'location', value: dataFile },
            { key: 'offset', value: String(s.offset) },
            { key: 'length', value: String(s.length) },
          ];
        }
        fs.renameSync(this.spoolPath, path.join(this.dir, dataFile));
        fs.writeFileSync(modelPath, onnx.ModelProto.encode(model).finish());
        return;
      }
      this.writeInline(modelPath, model, graph);
    } finally {
      fs.rmSync(this.spoolPath, { force: true });
    }
  }

  private writeInline(modelPath: string, model: IModelProto, graph: IGraphProto): void {
    const spooledInits = (graph.initializer ?? []).filter((t) => this.spooled.has(t));
    const inlineInits = (graph.initializer ?? []).filter((t) => !this.spooled.has(t));
    const graphHead = Buffer.from(onnx.GraphProto.encode({ ...graph, initializer: inlineInits }).finish());
    const parts = spooledInits.map((t) => {
      const header = Buffer.from(onnx.TensorProto.encode(t).finish());
      const s = this.spooled.get(t) as { offset: number; length: number };
      const tensorLen = header.length + lenFieldOverhead(RAW_DATA_FIELD, s.length) + s.length;
      return { header, s, tensorLen };
    });
    const graphLen = graphHead.length + parts.reduce((n, p) => n + lenFieldOverhead(INITIALIZER_FIELD, p.tensorLen) + p.tensorLen, 0);
    const modelHead = Buffer.from(onnx.ModelProto.encode({ ...model, graph: null }).finish());
    if (modelHead.length + lenFieldOverhead(GRAPH_FIELD, graphLen) + graphLen >= 2 ** 31) {
      throw new Error(`${modelPath}: ${graphLen} bytes exceed protobuf's 2 GiB limit; write external data instead`);
    }
    const src = FileSource.open(this.spoolPath);
    const tmp = `${modelPath}.${process.pid}.tmp`;
    const out = fs.openSync(tmp, 'w');
    try {
      fs.writeSync(out, modelHead);
      fs.writeSync(out, Buffer.concat([tag(GRAPH_FIELD, WIRE_LEN), varint(graphLen), graphHead]));
      for (const p of parts) {
        fs.writeSync(out, Buffer.concat([tag(INITIALIZER_FIELD, WIRE_LEN), varint(p.tensorLen), p.header, tag(RAW_DATA_FIELD, WIRE_LEN), varint(p.s.length)]));
        src.copyTo(out, p.s.offset, p.s.offset + p.s.length);
      }
    } finally {
      fs.closeSync(out);
      src.close();
    }
    fs.renameSync(tmp, modelPath);
  }
}
