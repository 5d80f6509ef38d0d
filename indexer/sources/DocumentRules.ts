import { z } from 'zod';
import { defaultDocumentId } from '../pipeline/jobs.js';
import type { NewDocument } from '../pipeline/IngestionService.js';
import { DOCUMENT_ID } from '../store/keys.js';

/**
 * What a document must look like to be ingested, whichever way it arrives (HTTP body, `rag ingest` file,
 * JSONL record, SQuAD paragraph): one set of rules, so a document the API refuses is refused by the CLI too.
 */

/** C0 control characters other than tab, line feed, form feed and carriage return, and DEL: never meaningful in text, often an injection attempt. */
const CONTROL = /[\u0000-\u0008\u000b\u000e-\u001f\u007f]/;
export const noControl = (s: string): boolean => !CONTROL.test(s);
export const CONTROL_MESSAGE = 'must not contain control characters (other than tab, line breaks and form feed)';
const noNul = (s: string) => !s.includes('\u0000');
/** Metadata is stored with the document and returned as is: bounded so one document cannot bloat Redis. */
export const MAX_METADATA_BYTES = 64 * 1024;
export const MAX_TITLE_CHARS = 1000;

export const DocumentIdSchema = z.string().regex(DOCUMENT_ID, 'must be 1-128 characters of letters, digits, ., _ or -, starting with a letter or digit');

export const DocumentRecord = z.strictObject({
  id: DocumentIdSchema.optional(),
  title: z.string().max(MAX_TITLE_CHARS).refine(noNul, 'must not contain NUL characters').refine(noControl, CONTROL_MESSAGE).optional(),
  text: z
    .string()
    .refine((s) => s.trim().length > 0, 'must not be empty')
    .refine(noNul, 'must not contain NUL characters')
    .refine(noControl, CONTROL_MESSAGE),
  metadata: z
    .record(z.string().max(200), z.unknown())
    .refine((m) => Buffer.byteLength(JSON.stringify(m)) <= MAX_METADATA_BYTES, `must be at most ${MAX_METADATA_BYTES} bytes as JSON`)
    .optional(),
});

export type DocumentRecordT = z.infer<typeof DocumentRecord>;

/** The stored form: a record without an id is named by its text's hash, so resubmitting it is a no-op. */
export function toNewDocument(r: DocumentRecordT): NewDocument {
  return { id: r.id ?? defaultDocumentId(r.text), title: r.title ?? '', text: r.text, metadata: r.metadata ?? {} };
}

/** Each problem of a record as `field: message` (every issue, so a file's author can fix them in one pass). */
export function recordProblems(input: unknown): string[] {
  const r = DocumentRecord.safeParse(input);
  if (r.success) return [];
  return r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : 'record'}: ${i.message}`);
}

/** Index of every document whose id an earlier one in the batch already has, with that earlier index. */
export function duplicateIds(ids: readonly string[]): { index: number; first: number; id: string }[] {
  const seen = new Map<string, number>();
  const out: { index: number; first: number; id: string }[] = [];
  ids.forEach((id, index) => {
    const first = seen.get(id);
    if (first === undefined) seen.set(id, index);
    else out.push({ index, first, id });
  });
  return out;
}
