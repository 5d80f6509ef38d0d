import onnxProto from 'onnx-proto';

/** The ONNX protobuf schema (onnx v1.10 via onnx-proto). Older than current exports: never re-encode a foreign model with it. */
export const onnx = onnxProto.onnx;
export type ModelProto = onnxProto.onnx.ModelProto;
export type IModelProto = onnxProto.onnx.IModelProto;
export type IGraphProto = onnxProto.onnx.IGraphProto;
export type INodeProto = onnxProto.onnx.INodeProto;
export type ITensorProto = onnxProto.onnx.ITensorProto;
export type IValueInfoProto = onnxProto.onnx.IValueInfoProto;
export type IAttributeProto = onnxProto.onnx.IAttributeProto;

export const DataType = onnxProto.onnx.TensorProto.DataType;

/** A symbolic (string) or fixed (number) dimension. */
export type Dim = string | number;

export function tensorValueInfo(name: string, elemType: number, dims: Dim[] | null): IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: dims === null ? null : { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/** Converts protobufjs int64 values (number or Long) to a JS number. */
export function toNumber(v: number | { toNumber(): number } | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}
