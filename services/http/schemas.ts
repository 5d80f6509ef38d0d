import { z } from 'zod';
import { CONTROL_MESSAGE, DocumentIdSchema, DocumentRecord, noControl } from '../../indexer/sources/DocumentRules.js';
import { COLLECTION_NAME } from '../../indexer/store/keys.js';

/** Request shapes of the public API; the OpenAPI document (services/http/openapi.ts) is generated from these. */
export const CollectionName = z.string().regex(COLLECTION_NAME, 'must be 1-64 characters of letters, digits, _ or -, starting with a letter or digit');
export const DocumentId = DocumentIdSchema;

/** The same rules as `rag ingest` applies to files (indexer/sources/DocumentRules.ts). */
export const DocumentBody = DocumentRecord;

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
