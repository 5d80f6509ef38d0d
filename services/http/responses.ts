import { z } from 'zod';
import { ProfileSchema } from '../../reranker/BasinProfile.js';

/**
 * Response shapes of the public API, the half of the OpenAPI document that request validation does not
 * give us. Objects are closed (`additionalProperties: false` in the document): a field a route starts
 * sending fails the integration tests' response validation until it is described here.
 */

const count = z.number().int().min(0);
const ms = z.number().min(0);

export const ErrorResponse = z
  .object({ error: z.object({ code: z.string(), message: z.string(), field: z.string().optional() }) })
  .meta({ id: 'Error', description: 'Every error: a code, a message naming the offending field, and the field.' });

export const Health = z.object({ status: z.literal('ok') });
/** What /readyz says about Redis: its mode and, for a cluster, the cluster's own state and which masters answer. */
const RedisHealth = z
  .object({
    ready: z.boolean(),
    mode: z.enum(['single', 'cluster']),
    state: z.string().optional().describe('cluster_state from CLUSTER INFO (ok or fail)'),
    slotsOk: count.optional(),
    clusterSize: count.optional().describe('masters serving slots, as the cluster counts them'),
    masters: count.optional().describe('masters this process routes to'),
    mastersReachable: count.optional().describe('of those, how many answered PING'),
    error: z.string().optional(),
  })
  .meta({ id: 'RedisHealth' });

export const Readiness = z
  .object({ status: z.enum(['ready', 'not-ready']), checks: z.record(z.string(), z.boolean()), details: z.object({ redis: RedisHealth.optional() }) })
  .meta({ id: 'Readiness' });

export const IngestAccepted = z.object({ documentIds: z.array(z.string()), jobIds: z.array(z.string()) }).meta({ id: 'IngestAccepted' });

const IndexStepResult = z.object({ documentId: z.string(), applied: z.boolean(), reason: z.string().optional(), added: count, removed: count });
export const JobStatus = z
  .object({
    id: z.string(),
    state: z.enum(['waiting', 'active', 'completed', 'failed']),
    progress: z.number().min(0).max(100),
    error: z.string().optional(),
    // null when BullMQ holds no return value for the root job (observed for completed flows in test/services/http/ask.int.test.ts)
    result: IndexStepResult.nullable().optional(),
    documentId: z.string().optional(),
    collection: z.string().optional(),
  })
  .meta({ id: 'JobStatus' });

const Embedder = z.object({ id: z.string(), dim: z.number().int().positive() });
const CollectionInfo = z.object({ name: z.string(), embedder: Embedder.nullable(), documents: count, chunks: count, createdAt: z.string().nullable() }).meta({ id: 'CollectionInfo' });
export const CollectionList = z.object({ collections: z.array(CollectionInfo) });
export const CollectionDetail = CollectionInfo.extend({
  index: z.object({ vectors: count, tombstones: count, appliedLogId: z.string() }).nullable(),
}).meta({ id: 'CollectionDetail' });

const Span = z.object({ start: count, end: count });
export const StoredDocument = z
  .object({
    id: z.string(),
    collection: z.string(),
    title: z.string(),
    text: z.string(),
    metadata: z.record(z.string(), z.unknown()),
    contentHash: z.string(),
    chunkIds: z.array(z.string()),
    version: z.number().int(),
    updatedAt: z.string(),
    chunks: z.array(z.object({ id: z.string(), index: count, start: count, end: count, tokenCount: count, sentences: z.array(Span) })),
  })
  .meta({ id: 'Document' });
export const DocumentDeleted = z.object({ deleted: z.literal(true), documentId: z.string() });

const SearchHit = z.object({ documentId: z.string(), chunkId: z.string(), score: z.number(), text: z.string(), start: count, end: count }).meta({ id: 'SearchHit' });
export const SearchResponse = z.object({ hits: z.array(SearchHit), mode: z.enum(['dense', 'bm25', 'hybrid']), tookMs: ms }).meta({ id: 'SearchResponse' });

const Citation = z.object({ documentId: z.string(), chunkId: z.string(), start: count, end: count }).meta({ id: 'Citation' });
const AskTimings = z.object({
  retrieveMs: ms,
  assembleMs: ms,
  compressMs: ms,
  questionPrefillMs: ms,
  firstTokenMs: ms.nullable(),
  decodeMs: ms,
  totalMs: ms,
});
const Compression = z.object({ method: z.enum(['none', 'lexical', 'raw', 'probe']), keptTokens: count, totalTokens: count, ratio: z.number() });
const Order = z.object({ method: z.enum(['retrieval', 'zigzag', 'basin']), profile: z.array(z.number()).optional(), fallback: z.string().optional() });
const CacheCounts = z.object({ hits: count, misses: count, memoryHits: count, diskHits: count });
const Usage = z.object({ promptTokens: count, completionTokens: count });
const Passage = z.object({
  documentId: z.string(),
  chunkId: z.string(),
  title: z.string(),
  start: count,
  text: z.string(),
  retrievalRank: count,
  slot: count.nullable(),
  sentences: z.array(z.object({ start: count, end: count, kept: z.boolean(), score: z.number().nullable() })),
});
const AskMode = z.enum(['full', 'blocks', 'extractive']);
const Fallback = z.string().meta({ description: 'why the answer is extractive although no mode was asked for (no generator available)' });
const RankedSentence = Citation.extend({ text: z.string(), score: z.number() }).meta({ id: 'RankedSentence' });
const AnswerSpan = z.object({ start: count, end: count, text: z.string() }).meta({ id: 'AnswerSpan', description: 'a short answer inside the answer sentence, in document offsets' });
export const AskResponse = z
  .object({
    answer: z.string().meta({ description: 'the generated answer, or (extractive) exactly the text of the best retrieved sentence, cited by citations[0]' }),
    citations: z.array(Citation),
    kept: z.array(Citation.extend({ score: z.number().nullable() })),
    compression: Compression,
    order: Order,
    mode: AskMode,
    fallback: Fallback.optional(),
    sentences: z.array(RankedSentence).optional().meta({ description: 'extractive: the next best sentences after the answer, best first' }),
    answerSpan: AnswerSpan.optional(),
    ranker: z.object({ model: z.enum(['embedder', 'lexical']), fallback: z.string().optional() }).optional().meta({ description: 'extractive: which sentence-ranker model scored the sentences' }),
    finishReason: z.enum(['stop', 'length', 'aborted']),
    timings: AskTimings,
    cache: CacheCounts,
    usage: Usage,
    passages: z.array(Passage),
  })
  .meta({ id: 'AskResponse' });

/** The server-sent events of a streamed ask, by event name (documented as `x-events` of the stream). */
export const AskStreamEvents = {
  retrieval: z.object({ hits: z.array(SearchHit) }).meta({ id: 'AskEventRetrieval' }),
  token: z.object({ text: z.string(), id: z.number().int() }).meta({ id: 'AskEventToken' }),
  answer: z.object({ text: z.string() }).meta({ id: 'AskEventAnswer', description: 'extractive asks: the whole answer at once (instead of tokens)' }),
  done: AskResponse,
  error: ErrorResponse,
};

const ChatMessage = z.object({ role: z.literal('assistant'), content: z.string() });
const ChatFinish = z.enum(['stop', 'length']);
export const ChatCompletion = z
  .object({
    id: z.string(),
    object: z.literal('chat.completion'),
    created: z.number().int(),
    model: z.string(),
    choices: z.array(z.object({ index: z.number().int(), message: ChatMessage, finish_reason: ChatFinish, logprobs: z.null() })),
    usage: z.object({ prompt_tokens: count, completion_tokens: count, total_tokens: count }),
    citations: z.array(Citation),
    mode: AskMode,
    fallback: Fallback.optional(),
    sentences: z.array(RankedSentence).optional(),
    answerSpan: AnswerSpan.optional(),
  })
  .meta({ id: 'ChatCompletion' });
export const ChatCompletionChunk = z
  .object({
    id: z.string(),
    object: z.literal('chat.completion.chunk'),
    created: z.number().int(),
    model: z.string(),
    choices: z.array(
      z.object({
        index: z.number().int(),
        delta: z.object({ role: z.literal('assistant').optional(), content: z.string().optional() }),
        finish_reason: ChatFinish.nullable(),
        logprobs: z.null(),
      }),
    ),
    citations: z.array(Citation).optional(),
    mode: AskMode.optional(),
    fallback: Fallback.optional(),
    sentences: z.array(RankedSentence).optional(),
    answerSpan: AnswerSpan.optional(),
  })
  .meta({ id: 'ChatCompletionChunk' });
/** Unnamed SSE events arrive as `message`; the stream ends with the data `[DONE]`. */
export const ChatStreamEvents = {
  message: z.union([ChatCompletionChunk, z.object({ error: z.object({ message: z.string(), type: z.string() }) }), z.literal('[DONE]')]),
};
export const ModelList = z.object({
  object: z.literal('list'),
  data: z.array(z.object({ id: z.string(), object: z.literal('model'), created: z.number().int(), owned_by: z.string() })),
});

const Scopes = z.array(z.enum(['ask', 'ingest', 'admin']));
const KeyRecord = z.object({ id: z.string(), name: z.string(), scopes: Scopes, createdAt: z.string() });
export const KeyCreated = KeyRecord.extend({ key: z.string().meta({ description: 'The secret: shown once, stored hashed.' }) });
export const KeyList = z.object({ keys: z.array(KeyRecord) });
export const KeyRevoked = z.object({ revoked: z.literal(true), id: z.string() });
export const Session = z.object({ name: z.string(), scopes: Scopes });
export const LoggedOut = z.object({ loggedOut: z.literal(true) });

const QueueDepth = z.object({ queue: z.string(), counts: z.record(z.string(), count) });
const JobSummary = z
  .object({
    queue: z.string(),
    id: z.string(),
    name: z.string(),
    progress: z.number(),
    attemptsMade: count,
    timestamp: z.number(),
    processedOn: z.number().nullable(),
    finishedOn: z.number().nullable(),
    failedReason: z.string().nullable(),
    subject: z.string(),
    requestId: z.string().nullable(),
  })
  .meta({ id: 'JobSummary' });
const DoctorCheck = z.object({ ok: z.boolean(), maxAbsDiff: z.number().min(0), tolerance: z.number().min(0) });
/** `rag models doctor` for the loaded generator: how its export family is served, and a self-check. */
export const ModelDoctor = z
  .object({
    model: z.string(),
    family: z.enum(['optimum', 'genai', 'unknown']),
    variant: z.string(),
    file: z.string(),
    runtimeFile: z.string(),
    kvDtype: z.enum(['float32', 'float16']),
    kvBytesPerToken: count,
    positions: z.enum(['honoured', 'rewired', 'refused']),
    positionsReason: z.string().nullable(),
    taps: z.enum(['softmax', 'gqa-query', 'gqa-qk']).nullable(),
    tapsReason: z.string().nullable(),
    logitsSelector: z.boolean(),
    selfCheck: DoctorCheck,
    reencode: DoctorCheck.nullable(),
  })
  .meta({ id: 'ModelDoctor' });
export const AdminOverview = z.object({
  collections: z.array(
    z.object({ name: z.string(), documents: count, chunks: count, embedder: Embedder.nullable(), index: z.object({ vectors: count, tombstones: count }).nullable() }),
  ),
  embedder: Embedder,
  generator: z.union([
    z.object({
      state: z.literal('ready'),
      configured: z.string(),
      modelId: z.string(),
      dir: z.string(),
      taps: z.boolean(),
      layers: count,
      sharedPrefix: z.boolean(),
      kvDir: z.string().nullable(),
      doctor: ModelDoctor.nullable(),
    }),
    z.object({ state: z.enum(['loading', 'unavailable']), configured: z.string(), reason: z.string().optional() }),
  ]),
  queues: z.array(QueueDepth),
  asks: count,
});
export const AdminIngestion = z.object({ queues: z.array(QueueDepth), active: z.array(JobSummary), failed: z.array(JobSummary) });
export const JobRetried = z.object({ retried: z.literal(true), queue: z.string(), id: z.string() });
export const JobRemoved = z.object({ removed: z.literal(true), queue: z.string(), id: z.string() });
const Tier = z.object({ hits: count, misses: count, evictions: count, bytes: count, entries: count }).catchall(z.number());
export const AdminKv = z.object({
  available: z.boolean(),
  tiers: z.record(z.string(), Tier).nullable(),
  computed: count,
  disk: z.object({ corrupt: count, writes: count, writeErrors: count }).nullable(),
});
export const AdminLatency = z.object({
  questions: count,
  stages: z.array(z.object({ stage: z.string(), count, values: z.record(z.string(), ms.nullable()) })),
  series: z.array(z.object({ at: z.string(), timings: AskTimings })),
});
export const AdminCalibration = z.object({ model: z.string(), profiles: z.array(ProfileSchema), jobs: z.array(JobSummary) });
export const CalibrationQueued = z.object({ jobId: z.string(), queue: z.string() });
export const RecentAsks = z.object({
  asks: z.array(
    z.object({
      id: z.string(),
      at: z.string(),
      collection: z.string(),
      question: z.string(),
      k: z.number().int(),
      answer: z.string(),
      citations: z.array(Citation),
      passages: z.array(Passage),
      order: Order,
      compression: Compression,
      mode: AskMode,
      fallback: Fallback.optional(),
      answerSpan: AnswerSpan.optional(),
      timings: AskTimings,
      cache: CacheCounts,
      usage: Usage,
    }),
  ),
});
