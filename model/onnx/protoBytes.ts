import fs from 'node:fs';

/**
 * Protobuf at the byte level, for ONNX files: reading fields without decoding messages (so fields newer than our
 * schema survive untouched, and multi-GB weight bytes are never loaded), and writing tags and lengths around bytes
 * we copy. Wire format: each field is a varint tag (field number << 3 | wire type) then its payload; wire type 2
 * payloads are a varint length then that many bytes.
 */
export class ProtoError extends Error {
  override name = 'ProtoError';
}

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

/** Varint bytes of a non-negative integer (exact up to 2^53). */
export function varint(n: number): Buffer {
  if (!Number.isSafeInteger(n) || n < 0) throw new ProtoError(`varint: ${n} is not a non-negative safe integer`);
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}

export function tag(field: number, wire: number): Buffer {
  return varint(field * 8 + wire);
}

/** A length-delimited field: tag, length, payload. */
export function lenField(field: number, payload: Uint8Array): Buffer {
  return Buffer.concat([tag(field, WIRE_LEN), varint(payload.length), payload]);
}

/** Size of tag + length prefix of a length-delimited field with a payload of `n` bytes. */
export function lenFieldOverhead(field: number, n: number): number {
  return tag(field, WIRE_LEN).length + varint(n).length;
}

/** One field of a message: where its tag starts, where its payload starts and ends (absolute offsets). */
export interface FieldSpan {
  field: number;
  wire: number;
  start: number;
  dataStart: number;
  end: number;
  /** The value of a varint field. */
  value?: number;
}

/** Random access to bytes: an in-memory buffer or an open file, so callers never need a whole multi-GB model in memory. */
export interface ByteSource {
  readonly size: number;
  read(start: number, end: number): Buffer;
}

export function bufferSource(buf: Uint8Array): ByteSource {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  return { size: b.length, read: (s, e) => b.subarray(s, e) };
}

export class FileSource implements ByteSource {
  readonly size: number;
  private constructor(private readonly fd: number) {
    this.size = fs.fstatSync(fd).size;
  }

  static open(file: string): FileSource {
    return new FileSource(fs.openSync(file, 'r'));
  }

  read(start: number, end: number): Buffer {
    const out = Buffer.allocUnsafe(end - start);
    let got = 0;
    while (got < out.length) {
      const n = fs.readSync(this.fd, out, got, out.length - got, start + got);
      if (n === 0) throw new ProtoError(`unexpected end of file at ${start + got}`);
      got += n;
    }
    return out;
  }

  /** Streams [start, end) into `fdOut` in bounded chunks (weights are copied, never held). */
  copyTo(fdOut: number, start: number, end: number, chunk = 16 * 2 ** 20): void {
    for (let at = start; at < end; at += chunk) fs.writeSync(fdOut, this.read(at, Math.min(end, at + chunk)));
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

function readVarintAt(src: ByteSource, pos: number, limit: number): { value: number; next: number } {
  // A varint is at most 10 bytes; read them in one go.
  const bytes = src.read(pos, Math.min(limit, pos + 10));
  let value = 0;
  let scale = 1;
  for (let i = 0; i < bytes.length; i++) {
    value += (bytes[i] & 0x7f) * scale;
    if ((bytes[i] & 0x80) === 0) return { value, next: pos + i + 1 };
    scale *= 128;
  }
  throw new ProtoError(`truncated varint at ${pos}`);
}

/** The fields of the message occupying [start, end) of `src`, in file order, without reading payloads. */
export function scanFields(src: ByteSource, start = 0, end = src.size): FieldSpan[] {
  const fields: FieldSpan[] = [];
  let pos = start;
  while (pos < end) {
    const t = readVarintAt(src, pos, end);
    const field = Math.floor(t.value / 8);
    const wire = t.value % 8;
    if (field === 0) throw new ProtoError(`invalid field number 0 at ${pos}`);
    let dataStart = t.next;
    let next: number;
    let value: number | undefined;
    if (wire === WIRE_VARINT) {
      const v = readVarintAt(src, t.next, end);
      value = v.value;
      next = v.next;
    } else if (wire === WIRE_I64) next = t.next + 8;
    else if (wire === WIRE_I32) next = t.next + 4;
    else if (wire === WIRE_LEN) {
      const len = readVarintAt(src, t.next, end);
      dataStart = len.next;
      next = len.next + len.value;
    } else throw new ProtoError(`unsupported wire type ${wire} at ${pos}`);
    if (next > end) throw new ProtoError(`field ${field} at ${pos} runs past its message (${next} > ${end})`);
    fields.push({ field, wire, start: pos, dataStart, end: next, value });
    pos = next;
  }
  return fields;
}

/** The bytes of `fields` minus those whose number is in `drop`, in order (what a message is without them). */
export function withoutFields(src: ByteSource, fields: FieldSpan[], drop: ReadonlySet<number>): Buffer {
  return Buffer.concat(fields.filter((f) => !drop.has(f.field)).map((f) => src.read(f.start, f.end)));
}
