import fs from 'node:fs';
import path from 'node:path';
import { DataType, type ITensorProto } from '../onnx/proto.js';

/** Where initializer bytes go: inside model.onnx, or an external data file next to it (needed past protobuf's 2 GB limit). */
export interface WeightSink {
  tensor(name: string, dims: number[], data: Float32Array): ITensorProto;
  close(): void;
  /** Total weight bytes written so far. */
  readonly bytes: number;
}

export class InlineWeights implements WeightSink {
  bytes = 0;
  tensor(name: string, dims: number[], data: Float32Array): ITensorProto {
    this.bytes += data.byteLength;
    return { name, dataType: DataType.FLOAT, dims, rawData: Buffer.from(data.buffer, data.byteOffset, data.byteLength) };
  }
  close(): void {}
}

/** Appends tensors to `<dir>/<location>`, page-aligned so onnxruntime can memory-map them. */
export class ExternalWeights implements WeightSink {
  bytes = 0;
  private offset = 0;
  private readonly fd: number;
  private static readonly ALIGN = 4096;

  constructor(
    dir: string,
    private readonly location: string,
  ) {
    this.fd = fs.openSync(path.join(dir, location), 'w');
  }

  tensor(name: string, dims: number[], data: Float32Array): ITensorProto {
    const pad = (ExternalWeights.ALIGN - (this.offset % ExternalWeights.ALIGN)) % ExternalWeights.ALIGN;
    if (pad) fs.writeSync(this.fd, Buffer.alloc(pad));
    this.offset += pad;
    const start = this.offset;
    fs.writeSync(this.fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    this.offset += data.byteLength;
    this.bytes += data.byteLength;
    return {
      name,
      dataType: DataType.FLOAT,
      dims,
      dataLocation: 1, // EXTERNAL
      externalData: [
        { key: 'location', value: this.location },
        { key: 'offset', value: String(start) },
        { key: 'length', value: String(data.byteLength) },
      ],
    };
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}
