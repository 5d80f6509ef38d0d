import { z } from 'zod';
import { COLLECTION_NAME, DOCUMENT_ID } from '../../indexer/store/keys.js';

/** Request shapes of the public API: every /v1 body is validated against one of these, with field paths in the errors. */
const noNul = (s: string) => !s.includes('\u0000');
/** C0 control characters other than tab, line feed, form feed and carriage return, and DEL: never meaningful in text, often an injection attempt. */
const CONTROL = /[\u0000-\u0008\u000b\u000e-\u001f\u007f]/;
const noControl = (s: string) => !CONTROL.test(s);
const CONTROL_MESSAGE = 'must not contain control characters (other than tab, line breaks and form feed)';
/** Metadata is stored with the document and returned as is: bounded so one document cannot bloat Redis. */
export const MAX_METADATA_BYTES = 64 * 1024;

export const CollectionName = z.string().regex(COLLECTION_NAME, 'must be 1-64 characters of letters, digits, _ or -, starting with a letter or digit');
export const DocumentId = z.string().regex(DOCUMENT_ID, 'must be 1-128 characters of letters, digits, ., _ or -, starting with a letter or digit');

export const DocumentBody = z.strictObject({
  id: DocumentId.optional(),
  title: z.string().max(1000).refine(noNul, 'must not contain NUL characters').refine(noControl, CONTROL_MESSAGE).optional(),
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

export const BatchBody = z.strictObject({
  documents: z.array(DocumentBody).min(1, 'must hold at least one document').max(10_000, 'at most 10000 documents per request'),
});

/** One document, or `{documents: [...]}`; chosen by shape so errors name the field of the form the client meant. */
export function ingestSchemaFor(body: unknown): typeof DocumentBody | typeof BatchBody {
  return body !== null && typeof body === 'object' && 'documents' in body ? BatchBody : DocumentBody;
}

export const SearchMode = z.enum(['dense', 'bm25', 'hybrid']);

export const SearchBody = z.strictObject({
  collection: CollectionName,
  query: z.string().refine((s) => s.trim().length > 0, 'must not be empty').refine((s) => s.length <= 4000, 'at most 4000 characters').refine(noControl, CONTROL_MESSAGE),
  k: z.number().int().min(1).max(100).default(10),
  mode: SearchMode.optional(),
});

export type DocumentBodyT = z.infer<typeof DocumentBody>;

export const AskBody = z.strictObject({
  collection: CollectionName,
  question: z.string().refine((s) => s.trim().length > 0, 'must not be empty').refine((s) => s.length <= 4000, 'at most 4000 characters').refine(noControl, CONTROL_MESSAGE),
  k: z.number().int().min(1).max(50).default(5),
  stream: z.boolean().optional(),
  searchMode: SearchMode.optional(),
  mode: z.enum(['full', 'blocks']).optional(),
  recomputeHead: z.number().int().min(0).max(4096).optional(),
  compression: z.enum(['none', 'lexical', 'raw', 'probe']).optional(),
  keepRatio: z.number().gt(0).max(1).optional(),
  budgetTokens: z.number().int().min(1).max(1_000_000).optional(),
  order: z.enum(['retrieval', 'zigzag', 'basin']).optional(),
  maxTokens: z.number().int().min(1).max(4096).optional(),
  temperature: z.number().min(0).max(5).optional(),
  topP: z.number().gt(0).max(1).optional(),
  seed: z.number().int().min(0).max(2 ** 31 - 1).optional(),
});
