import { z } from 'zod';
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject, type ZodOpenApiResponsesObject } from 'zod-openapi';
import { SESSION_COOKIE } from '../auth/SessionStore.js';
import * as R from './responses.js';
import { AskBody, BatchBody, CollectionName, DocumentBody, DocumentId, SearchBody } from './schemas.js';
import { KeyId, Login, NewKey } from './routes/admin.js';
import { JobId as AdminJobId, Limit, QueueName, Recalibrate } from './routes/adminDashboard.js';
import { JobId } from './routes/jobs.js';
import { ChatBody } from './routes/openai.js';

/**
 * The OpenAPI 3.1 description of every route the server serves, generated from the zod schemas the routes
 * validate with (request side, services/http/schemas.ts and the route modules) and services/http/responses.ts
 * (response side). Served at /openapi.json and browsable at /docs; test/services/http/openapi.test.ts fails
 * for any route the router serves that is missing here.
 */

type Scope = 'ask' | 'ingest' | 'admin';

const json = (schema: z.ZodType, description: string) => ({ description, content: { 'application/json': { schema } } });
const text = (type: string, description: string) => ({ description, content: { [type]: { schema: z.string() } } });
const errors: ZodOpenApiResponsesObject = { default: json(R.ErrorResponse, 'An error: 4xx names the offending field, 429 carries Retry-After, 503 says what is missing') };

function op(tag: string, summary: string, scope: Scope | null, responses: ZodOpenApiResponsesObject, extra: Partial<ZodOpenApiOperationObject> = {}): ZodOpenApiOperationObject {
  const needs = scope ? `Needs the \`${scope}\` scope once authentication is enforced.` : '';
  const description = [needs, extra.description].filter(Boolean).join('\n\n');
  return {
    tags: [tag],
    summary,
    ...extra,
    ...(description ? { description } : {}),
    ...(scope ? { security: [{ apiKey: [] }, { session: [] }] } : {}),
    responses: { ...responses, ...errors },
  };
}

const body = (schema: z.ZodType) => ({ requestBody: { required: true, content: { 'application/json': { schema } } } });
const path = (shape: z.ZodRawShape) => ({ requestParams: { path: z.object(shape) } });
/** A server-sent event stream; `x-events` gives each event's data schema by event name. */
const stream = (events: Record<string, z.ZodType>, description: string) => ({
  description,
  content: { 'text/event-stream': { schema: z.string(), 'x-events': Object.fromEntries(Object.keys(events).map((name) => [name, { $ref: `#/components/schemas/${eventSchemaId(events, name)}` }])) } },
});
function eventSchemaId(events: Record<string, z.ZodType>, name: string): string {
  const id = (z.globalRegistry.get(events[name]!) as { id?: string } | undefined)?.id;
  return id ?? `Event_${name}`;
}
const File = { file: z.string().meta({ description: 'a file of the bundle' }) };
const staticFiles = (summary: string, scope: Scope | null = null) => ({ get: op('Pages', summary, scope, { '200': text('*/*', 'the file (JavaScript, CSS, images)') }, path(File)) });

const paths: ZodOpenApiPathsObject = {
  '/healthz': { get: op('Operations', 'Liveness', null, { '200': json(R.Health, 'the process answers') }) },
  '/readyz': { get: op('Operations', 'Readiness: Redis, generator settled, indexes loaded, workers alive, not shutting down', null, { '200': json(R.Readiness, 'ready'), '503': json(R.Readiness, 'not ready; the checks say which part') }) },
  '/metrics': { get: op('Operations', 'Prometheus metrics', 'admin', { '200': text('text/plain', 'Prometheus text exposition format') }) },
  '/openapi.json': { get: op('Operations', 'This document', null, { '200': { description: 'OpenAPI 3.1', content: { 'application/json': { schema: z.record(z.string(), z.unknown()) } } } }) },
  '/docs': { get: op('Pages', 'The browsable API reference (Swagger UI, served from this server)', null, { '301': { description: 'to /docs/' } }) },
  '/docs/swagger-initializer.js': { get: op('Pages', 'Points the reference page at /openapi.json', null, { '200': text('text/javascript', 'script') }) },
  '/docs/{file}': staticFiles('The reference page and its bundle (swagger-ui-dist)'),

  '/v1/collections/{collection}/documents': {
    post: op('Documents', 'Ingest one document or a batch', 'ingest', { '202': json(R.IngestAccepted, 'queued: one job per document, ids derived from id + content') }, {
      ...path({ collection: CollectionName }),
      requestBody: { required: true, content: { 'application/json': { schema: z.union([DocumentBody, BatchBody]) } } },
    }),
  },
  '/v1/collections/{collection}/documents/{id}': {
    get: op('Documents', 'A stored document with its chunks', 'ask', { '200': json(R.StoredDocument, 'the document') }, path({ collection: CollectionName, id: DocumentId })),
    delete: op('Documents', 'Delete a document (gone from search at once)', 'ingest', { '200': json(R.DocumentDeleted, 'deleted') }, path({ collection: CollectionName, id: DocumentId })),
  },
  '/v1/jobs/{id}': { get: op('Documents', 'State of one ingestion flow (chunk, embed, index)', 'ingest', { '200': json(R.JobStatus, 'the flow') }, path({ id: JobId })) },
  '/v1/collections': { get: op('Collections', 'Collections with document and chunk counts', 'ask', { '200': json(R.CollectionList, 'every collection') }) },
  '/v1/collections/{collection}': { get: op('Collections', 'One collection with its index state', 'ask', { '200': json(R.CollectionDetail, 'the collection') }, path({ collection: CollectionName })) },
  '/v1/search': { post: op('Search and ask', 'Search a collection (BM25, dense or hybrid)', 'ask', { '200': json(R.SearchResponse, 'hits with character offsets') }, body(SearchBody)) },
  '/v1/ask': {
    post: op(
      'Search and ask',
      'Answer a question from a collection',
      'ask',
      {
        '200': {
          description:
            'the answer; with `"stream": true` or `Accept: text/event-stream`, server-sent events `retrieval`, `token`... (generated) or one `answer` (extractive), `done` (the full response) or `error`',
          content: { ...json(R.AskResponse, '').content, ...stream(R.AskStreamEvents, '').content },
        },
      },
      {
        ...body(AskBody),
        description:
          '`mode: "extractive"` answers with the best retrieved sentence (learned sentence ranker, no generator). Without a generator model an ask ' +
          'that names no mode is answered extractively and says so (`fallback`); one that asks for `full` or `blocks` is 503 with instructions.',
      },
    ),
  },
  '/v1/chat/completions': {
    post: op(
      'OpenAI-compatible',
      'Chat completion: the last user message is the question, `model` (`rag/<collection>`) or `collection` names the collection',
      'ask',
      { '200': { description: 'a chat completion, or with `"stream": true` chunks ending with `[DONE]`', content: { ...json(R.ChatCompletion, '').content, ...stream(R.ChatStreamEvents, '').content } } },
      body(ChatBody),
    ),
  },
  '/v1/models': { get: op('OpenAI-compatible', 'Collections as models (`rag/<collection>`)', 'ask', { '200': json(R.ModelList, 'models') }) },

  '/v1/admin/keys': {
    post: op('Admin', 'Create an API key (shown once)', 'admin', { '201': json(R.KeyCreated, 'the key') }, body(NewKey)),
    get: op('Admin', 'List API keys (without secrets)', 'admin', { '200': json(R.KeyList, 'keys') }),
  },
  '/v1/admin/keys/{id}': { delete: op('Admin', 'Revoke an API key', 'admin', { '200': json(R.KeyRevoked, 'revoked') }, path({ id: KeyId })) },
  '/v1/admin/session': {
    post: op('Admin', 'Trade an admin key for a dashboard session cookie', null, { '201': json(R.Session, 'logged in; the cookie is set') }, body(Login)),
    get: op('Admin', 'Who the session belongs to', 'admin', { '200': json(R.Session, 'the principal') }),
    delete: op('Admin', 'Log out', null, { '200': json(R.LoggedOut, 'the cookie is cleared') }),
  },
  '/v1/admin/overview': { get: op('Dashboard data', 'Collections, embedder, generator, queues', 'admin', { '200': json(R.AdminOverview, 'overview') }) },
  '/v1/admin/ingestion': { get: op('Dashboard data', 'Queue depths, active and failed jobs', 'admin', { '200': json(R.AdminIngestion, 'ingestion') }) },
  '/v1/admin/jobs/{queue}/{id}/retry': { post: op('Dashboard data', 'Retry a failed job', 'admin', { '200': json(R.JobRetried, 'retried') }, path({ queue: QueueName, id: AdminJobId })) },
  '/v1/admin/jobs/{queue}/{id}': { delete: op('Dashboard data', 'Remove a job', 'admin', { '200': json(R.JobRemoved, 'removed') }, path({ queue: QueueName, id: AdminJobId })) },
  '/v1/admin/kv': { get: op('Dashboard data', "The API process's KV block store", 'admin', { '200': json(R.AdminKv, 'KV tiers') }) },
  '/v1/admin/latency': { get: op('Dashboard data', 'Ask stage percentiles over the recent questions', 'admin', { '200': json(R.AdminLatency, 'latency') }) },
  '/v1/admin/calibration': {
    get: op('Dashboard data', 'Attention-basin profiles and calibration jobs', 'admin', { '200': json(R.AdminCalibration, 'profiles and jobs') }),
    post: op('Dashboard data', 'Queue a recalibration', 'admin', { '202': json(R.CalibrationQueued, 'queued') }, body(Recalibrate)),
  },
  '/v1/admin/recent-asks': {
    get: op('Dashboard data', 'The last answered questions, newest first', 'admin', { '200': json(R.RecentAsks, 'questions') }, { requestParams: { query: z.object({ limit: Limit }) } }),
  },

  '/admin': { get: op('Pages', 'The operator dashboard (a browser without a session is sent to /admin/login)', 'admin', { '200': text('text/html', 'the page'), '302': { description: 'to /admin/login' } }) },
  '/admin/login': { get: op('Pages', 'Dashboard login page', null, { '200': text('text/html', 'the page') }) },
  '/admin/open/{file}': staticFiles('Login page assets'),
  '/admin/app/{file}': staticFiles('Dashboard script', 'admin'),
  '/admin/vendor/uplot/{file}': staticFiles('uPlot, the charting library (from node_modules)', 'admin'),
  '/admin/queues': { get: op('Pages', 'Bull Board: queue inspection UI (its own routes live under this path)', 'admin', { '200': text('text/html', 'the page') }) },
};

/**
 * Mounts the document describes by one entry although the mounted app serves more: Bull Board's UI and its
 * private API. The route walk does not descend into them.
 */
export const OPAQUE_MOUNTS = ['/admin/queues'];

let cached: ReturnType<typeof createDocument> | undefined;

export function openApiDocument(): ReturnType<typeof createDocument> {
  cached ??= createDocument({
    openapi: '3.1.0',
    info: {
      title: 'rag-longctx',
      version: '0.1.0',
      description:
        'Long-context retrieval-augmented question answering. Send `Authorization: Bearer <key>`; scopes nest (ask < ingest < admin). ' +
        'Until `ADMIN_API_KEY` is set or a key exists the API is open (development). Errors are `{error: {code, message, field}}`.',
    },
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'an API key (`rag keys create`, POST /v1/admin/keys)' },
        session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE, description: 'the dashboard session (POST /v1/admin/session)' },
      },
      schemas: Object.fromEntries(
        [...Object.entries(R.AskStreamEvents), ...Object.entries(R.ChatStreamEvents)].map(([name, schema]) => [eventSchemaId({ [name]: schema }, name), schema]),
      ),
    },
    paths,
  });
  return cached;
}
