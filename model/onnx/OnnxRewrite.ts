import fs from 'node:fs';
import path from 'node:path';
import { F, type IndexedNode, type OnnxIndex } from './OnnxIndex.js';
import { onnx, type IAttributeProto, type INodeProto, type ITensorProto, type IValueInfoProto } from './proto.js';
import { lenField, scanFields, tag, varint, WIRE_VARINT, bufferSource } from './protoBytes.js';

export interface NodeEdit {
  /** The node's complete new input list. */
  inputs?: string[];
  /** Outputs appended to the node's list. */
  appendOutputs?: string[];
  /** Attributes set (replacing one of the same name, or added). */
  attributes?: IAttributeProto[];
}

export interface WriteOptions {
  /**
   * Inline initializers of at least this many bytes become external data pointing at their bytes inside the source
   * file itself (it is in the same folder): the rewritten model is small, nothing is copied, and onnxruntime reads the
   * weights straight from the original file. Default 1024 bytes (what optimum uses as its external-data threshold).
   */
  externalizeFrom?: number;
}

const EXTERNAL = 1;

/**
 * A lossless edit of an ONNX file: every byte of the source that is not edited is copied as is (so fields newer
 * than our protobuf schema survive), edited nodes are changed at the byte level (only their input list, appended
 * outputs and attributes), and new nodes, inputs, outputs and small initializers are added. Big weights are never
 * decoded, re-encoded or copied: see WriteOptions.externalizeFrom.
 */
export class OnnxRewrite {
  private readonly nodeEdits = new Map<IndexedNode, NodeEdit>();
  private readonly newNodes: INodeProto[] = [];
  private readonly newInputs: IValueInfoProto[] = [];
  private readonly newOutputs: IValueInfoProto[] = [];
  private readonly replacedOutputs = new Map<string, IValueInfoProto>();
  private readonly newInitializers: ITensorProto[] = [];
  private readonly newOpsets = new Map<string, number>();

  constructor(readonly index: OnnxIndex) {}

  editNode(node: IndexedNode, edit: NodeEdit): void {
    const prev = this.nodeEdits.get(node) ?? {};
    this.nodeEdits.set(node, {
      inputs: edit.inputs ?? prev.inputs,
      appendOutputs: [...(prev.appendOutputs ?? []), ...(edit.appendOutputs ?? [])],
      attributes: [...(prev.attributes ?? []), ...(edit.attributes ?? [])],
    });
  }

  /** Declares an operator set domain the new nodes use (written only when the model does not import it already). */
  addOpset(domain: string, version: number): void {
    if (!this.index.opsets.has(domain)) this.newOpsets.set(domain, version);
  }

  /** A node's input list as it will be written (after the edits made so far). */
  inputsOf(node: IndexedNode): string[] {
    return [...(this.nodeEdits.get(node)?.inputs ?? node.node.input ?? [])];
  }

  /**
   * New nodes; each is written right after the last existing node producing one of its inputs. That keeps the
   * node list topologically sorted, and onnxruntime runs the node as soon as its input exists, so an intermediate it
   * reads (a layer's [heads, S, T] attention) is freed as early as without it.
   */
  addNodes(...nodes: INodeProto[]): void {
    this.newNodes.push(...nodes);
  }

  addInput(info: IValueInfoProto): void {
    this.newInputs.push(info);
  }

  addOutput(info: IValueInfoProto): void {
    this.newOutputs.push(info);
  }

  /** Replaces the graph output of the same name in place (same position in the output list). */
  replaceOutput(info: IValueInfoProto): void {
    this.replacedOutputs.set(info.name as string, info);
  }

  addInitializer(t: ITensorProto): void {
    this.newInitializers.push(t);
  }

  hasInitializer(name: string): boolean {
    return this.index.initializers.has(name) || this.newInitializers.some((t) => t.name === name);
  }

  /** Writes the rewritten model to `outPath` (which must be in the source's folder when weights are externalized). */
  write(sourcePath: string, outPath: string, opts: WriteOptions = {}): void {
    const ix = this.index;
    const src = ix.src;
    const threshold = opts.externalizeFrom ?? 1024;
    if (path.resolve(path.dirname(outPath)) !== path.resolve(path.dirname(sourcePath))) {
      throw new Error(`rewrite of ${sourcePath}: the output must sit next to the source (external data paths are relative)`);
    }
    const sourceName = path.basename(sourcePath);
    const nodeOf = new Map(ix.nodes.map((n) => [n.span.start, n]));
    const initOf = new Map([...ix.initializers.values()].map((i) => [i.span.start, i]));
    const outputOf = new Map(ix.outputs.map((o) => [o.span.start, o]));

    // Place each new node after the last node producing one of its inputs (edited nodes produce their appended outputs).
    const producedAt = new Map<string, number>();
    ix.nodes.forEach((n, k) => {
      for (const o of [...(n.node.output ?? []), ...(this.nodeEdits.get(n)?.appendOutputs ?? [])]) if (o) producedAt.set(o, k);
    });
    const after = new Map<number, INodeProto[]>();
    for (const n of this.newNodes) {
      const at = Math.max(-1, ...(n.input ?? []).map((i) => producedAt.get(i) ?? -1));
      after.set(at, [...(after.get(at) ?? []), n]);
      for (const o of n.output ?? []) producedAt.set(o, at);
    }
    const nodeIndex = new Map(ix.nodes.map((n, k) => [n.span.start, k]));
    const encodeNode = (n: INodeProto): Buffer => lenField(F.graph.node, onnx.NodeProto.encode(n).finish());

    const parts: Buffer[] = [...(after.get(-1) ?? []).map(encodeNode)];
    for (const span of ix.graphFields) {
      if (span.field === F.graph.node) {
        const node = nodeOf.get(span.start) as IndexedNode;
        const edit = this.nodeEdits.get(node);
        parts.push(edit ? lenField(F.graph.node, editNodeBytes(src.read(span.dataStart, span.end), edit)) : src.read(span.start, span.end));
        parts.push(...(after.get(nodeIndex.get(span.start) as number) ?? []).map(encodeNode));
        continue;
      }
      if (span.field === F.graph.initializer) {
        const init = initOf.get(span.start);
        if (init?.raw && init.raw.end - init.raw.start >= threshold) {
          const header = Buffer.concat(init.headerFields.map((f) => src.read(f.start, f.end)));
          const location = [
            { key: 'location', value: sourceName },
            { key: 'offset', value: String(init.raw.start) },
            { key: 'length', value: String(init.raw.end - init.raw.start) },
          ];
          const extra = Buffer.concat([
            ...location.map((e) => lenField(F.tensor.externalData, onnx.StringStringEntryProto.encode(e).finish())),
            tag(F.tensor.dataLocation, WIRE_VARINT),
            varint(EXTERNAL),
          ]);
          parts.push(lenField(F.graph.initializer, Buffer.concat([header, extra])));
          continue;
        }
      }
      if (span.field === F.graph.output) {
        const out = outputOf.get(span.start);
        const replacement = out ? this.replacedOutputs.get(out.info.name ?? '') : undefined;
        if (replacement) {
          parts.push(lenField(F.graph.output, onnx.ValueInfoProto.encode(replacement).finish()));
          continue;
        }
      }
      parts.push(src.read(span.start, span.end));
    }
    parts.push(
      ...this.newInitializers.map((t) => lenField(F.graph.initializer, onnx.TensorProto.encode(t).finish())),
      ...this.newInputs.map((v) => lenField(F.graph.input, onnx.ValueInfoProto.encode(v).finish())),
      ...this.newOutputs.map((v) => lenField(F.graph.output, onnx.ValueInfoProto.encode(v).finish())),
    );
    const graph = Buffer.concat(parts);
    const model: Buffer[] = [];
    for (const f of ix.modelFields) model.push(f.field === F.model.graph ? lenField(F.model.graph, graph) : src.read(f.start, f.end));
    for (const [domain, version] of this.newOpsets) model.push(lenField(F.model.opsetImport, onnx.OperatorSetIdProto.encode({ domain, version }).finish()));
    const tmp = `${outPath}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, Buffer.concat(model));
    fs.renameSync(tmp, outPath);
  }
}

/**
 * Applies `edit` to a serialized NodeProto without decoding it: the input list is re-emitted where it first
 * appeared, outputs are appended after the existing ones, attributes of the same name are dropped and the new ones
 * appended. All other fields keep their bytes and order.
 */
export function editNodeBytes(bytes: Buffer, edit: NodeEdit): Buffer {
  const src = bufferSource(bytes);
  const fields = scanFields(src);
  const setNames = new Set((edit.attributes ?? []).map((a) => a.name));
  const out: Buffer[] = [];
  let inputsDone = false;
  const lastOutput = fields.map((f) => f.field).lastIndexOf(F.node.output);
  const emitInputs = (): void => {
    for (const i of edit.inputs ?? []) out.push(lenField(F.node.input, Buffer.from(i, 'utf8')));
    inputsDone = true;
  };
  fields.forEach((f, k) => {
    if (f.field === F.node.input && edit.inputs) {
      if (!inputsDone) emitInputs();
      return;
    }
    if (f.field === F.node.attribute && setNames.size > 0) {
      const attr = onnx.AttributeProto.decode(src.read(f.dataStart, f.end));
      if (setNames.has(attr.name)) return;
    }
    out.push(src.read(f.start, f.end));
    if (k === lastOutput) for (const o of edit.appendOutputs ?? []) out.push(lenField(F.node.output, Buffer.from(o, 'utf8')));
  });
  if (edit.inputs && !inputsDone) out.unshift(...edit.inputs.map((i) => lenField(F.node.input, Buffer.from(i, 'utf8'))));
  if (lastOutput < 0) for (const o of edit.appendOutputs ?? []) out.push(lenField(F.node.output, Buffer.from(o, 'utf8')));
  for (const a of edit.attributes ?? []) out.push(lenField(F.node.attribute, onnx.AttributeProto.encode(a).finish()));
  return Buffer.concat(out);
}
