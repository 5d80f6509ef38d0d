import type { ErrorRequestHandler, RequestHandler } from 'express';
import { z } from 'zod';
import { componentLogger } from '../../infra/logger.js';
import { PositionsUnsupportedError } from '../../model/DecoderModel.js';

const log = componentLogger('http');

/** An error with an HTTP status; `field` names the offending input for 4xx errors. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
    readonly code = statusCode(status),
  ) {
    super(message);
  }
}

function statusCode(status: number): string {
  return (
    ({ 400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 409: 'conflict', 413: 'payload_too_large', 415: 'unsupported_media_type', 429: 'rate_limited', 503: 'unavailable' } as Record<number, string>)[status] ?? 'error'
  );
}

/** Parse `input` with `schema` or throw a 400 naming the first bad field (e.g. `documents.3.text`). */
export function validate<T extends z.ZodType>(schema: T, input: unknown, where = 'body'): z.infer<T> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = issue.path.length ? issue.path.join('.') : where;
  throw new HttpError(400, `${field}: ${issue.message}`, field);
}

export const notFound: RequestHandler = (req, _res, next) => next(new HttpError(404, `no route for ${req.method} ${req.path}`));

export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  let status = 500;
  let body: { code: string; message: string; field?: string };
  if (err instanceof HttpError) {
    status = err.status;
    body = { code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) };
  } else if (err instanceof PositionsUnsupportedError) {
    // The model cannot take explicit positions, so Block-Attention (the default mode) cannot serve it: say which mode can.
    status = 400;
    body = { code: statusCode(400), message: `mode: ${err.message}`, field: 'mode' };
  } else if (err && typeof err === 'object' && 'type' in err && typeof (err as { status?: unknown }).status === 'number') {
    // body-parser errors: malformed JSON, oversized bodies, bad charsets.
    const e = err as { status: number; type: string; message: string; limit?: number };
    status = e.status;
    const message =
      e.type === 'entity.parse.failed'
        ? `body: malformed JSON (${e.message})`
        : e.type === 'entity.too.large'
          ? `body: larger than the ${e.limit} byte limit`
          : `body: ${e.message}`;
    body = { code: statusCode(status), message, field: 'body' };
  } else {
    log.error({ err, requestId: req.headers['x-request-id'] }, 'unhandled error');
    body = { code: 'internal', message: 'internal error' };
  }
  if (res.headersSent) return;
  res.status(status).json({ error: body });
};
