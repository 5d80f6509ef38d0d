import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { DomainError, type ErrorKind } from '../../infra/errors.js';
import { componentLogger } from '../../infra/logger.js';
import { asRedisUnavailable } from '../../infra/redis.js';

const log = componentLogger('http');

/** The one mapping from error kinds to HTTP: status and the `code` clients read. */
const HTTP: Record<ErrorKind, { status: number; code: string }> = {
  invalid: { status: 400, code: 'bad_request' },
  unauthorized: { status: 401, code: 'unauthorized' },
  forbidden: { status: 403, code: 'forbidden' },
  notFound: { status: 404, code: 'not_found' },
  timeout: { status: 408, code: 'request_timeout' },
  conflict: { status: 409, code: 'conflict' },
  tooLarge: { status: 413, code: 'payload_too_large' },
  unsupportedMedia: { status: 415, code: 'unsupported_media_type' },
  tooMany: { status: 429, code: 'rate_limited' },
  internal: { status: 500, code: 'internal' },
  unavailable: { status: 503, code: 'unavailable' },
};

/** body-parser's errors (oversized or aborted bodies, bad charsets) as domain errors. */
function bodyParserError(err: unknown): DomainError | null {
  if (!err || typeof err !== 'object' || !('type' in err) || typeof (err as { status?: unknown }).status !== 'number') return null;
  const e = err as { status: number; type: string; message: string; limit?: number };
  if (e.type === 'entity.too.large') return new DomainError('tooLarge', `body: larger than the ${e.limit} byte limit`, { field: 'body' });
  if (e.type === 'entity.parse.failed') return new DomainError('invalid', `body: malformed JSON (${e.message})`, { field: 'body' });
  if (e.status === 415) return new DomainError('unsupportedMedia', `body: ${e.message}`, { field: 'body' });
  return new DomainError('invalid', `body: ${e.message}`, { field: 'body' });
}

/** Any thrown value as the error the client is told about; unknown faults become `internal` (and are logged by the caller). */
export function toDomainError(err: unknown): DomainError {
  if (err instanceof DomainError) return err;
  return asRedisUnavailable(err) ?? bodyParserError(err) ?? new DomainError('internal', 'internal error', { cause: err });
}

export interface ErrorBody {
  code: string;
  message: string;
  field?: string;
}

/** Status, JSON body and Retry-After of an error, for plain responses and for errors sent inside a stream. */
export function describeError(err: unknown): { status: number; body: ErrorBody; retryAfterSeconds?: number } {
  const e = toDomainError(err);
  const { status, code } = HTTP[e.kind];
  return { status, body: { code, message: e.message, ...(e.field ? { field: e.field } : {}) }, retryAfterSeconds: e.retryAfterSeconds };
}

/** Parse `input` with `schema` or throw an `invalid` error naming the first bad field (e.g. `documents.3.text`). */
export function validate<T extends z.ZodType>(schema: T, input: unknown, where = 'body'): z.infer<T> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = issue.path.length ? issue.path.join('.') : where;
  throw new DomainError('invalid', `${field}: ${issue.message}`, { field });
}

export const notFound: RequestHandler = (req, _res, next) => next(new DomainError('notFound', `no route for ${req.method} ${req.path}`));

function requestId(res: Response): string | undefined {
  return typeof res.locals.requestId === 'string' ? res.locals.requestId : undefined;
}

export const errorHandler: ErrorRequestHandler = (err, _req, res, _next) => {
  const e = toDomainError(err);
  const { status, body, retryAfterSeconds } = describeError(e);
  if (status >= 500) {
    if (e.kind === 'internal') log.error({ err: e.cause ?? err, requestId: requestId(res) }, 'unhandled error');
    else log.warn({ err: e.message, requestId: requestId(res) }, 'request failed: dependency unavailable');
  }
  if (res.headersSent) return;
  if (retryAfterSeconds !== undefined) res.setHeader('retry-after', String(Math.max(1, Math.ceil(retryAfterSeconds))));
  res.status(status).json({ error: body });
};
