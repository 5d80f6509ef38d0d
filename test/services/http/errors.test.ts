import { ReplyError } from 'ioredis';
import { EmbedderMismatchError } from '../../../indexer/embedding/Embedder.js';
import { DomainError } from '../../../infra/errors.js';
import { GeneratorUnavailableError, PlanningError } from '../../../services/ask/AskService.js';
import { JobActionError } from '../../../services/admin/QueueInspector.js';
import { describeError } from '../../../services/http/errors.js';

/** The one mapping from errors to HTTP responses, fed the errors the code really throws. */
describe('describeError', () => {
  it('maps domain errors by kind, keeping the field', () => {
    const rows = [
      [new EmbedderMismatchError({ id: 'a', dim: 8 }, { id: 'b', dim: 16 }, 'docs'), 409, 'conflict', 'collection'],
      [new PlanningError('no probe trained'), 400, 'bad_request', undefined],
      [new GeneratorUnavailableError('no model'), 503, 'unavailable', undefined],
      [new JobActionError('notFound', 'job x not found'), 404, 'not_found', 'id'],
      [new JobActionError('conflict', 'job x is active'), 409, 'conflict', 'id'],
      [new DomainError('forbidden', 'origin'), 403, 'forbidden', undefined],
      [new DomainError('timeout', 'slow'), 408, 'request_timeout', undefined],
    ] as const;
    for (const [err, status, code, field] of rows) {
      const d = describeError(err);
      expect({ name: err.name, status: d.status, code: d.body.code, field: d.body.field }).toEqual({ name: err.name, status, code, field });
      expect(d.body.message).toBe(err.message);
    }
    expect(describeError(new DomainError('tooMany', 'slow down', { retryAfterSeconds: 7 })).retryAfterSeconds).toBe(7);
  });

  it('a Redis that cannot serve is 503 with Retry-After; a Redis that refuses the command is not', () => {
    // How ioredis reports a connection that cannot carry a command (test/hardening/redisOutage.int.test.ts
    // produces these from a killed and a frozen redis-server, end to end).
    for (const message of ['Command timed out', 'Connection is closed.', "Stream isn't writeable and enableOfflineQueue options is false", 'connect ECONNREFUSED 127.0.0.1:6379']) {
      const d = describeError(new Error(message));
      expect({ message, status: d.status, retryAfter: d.retryAfterSeconds }).toEqual({ message, status: 503, retryAfter: 5 });
      expect(d.body.message).toMatch(/Redis/);
    }
    expect(describeError(new ReplyError('LOADING Redis is loading the dataset in memory')).status).toBe(503);
    expect(describeError(new ReplyError('READONLY You cannot write against a read only replica.')).status).toBe(503);
    // A wrong command is our fault, not an outage.
    const wrong = describeError(new ReplyError('WRONGTYPE Operation against a key holding the wrong kind of value'));
    expect({ status: wrong.status, message: wrong.body.message }).toEqual({ status: 500, message: 'internal error' });
  });

  it('unknown errors are 500 without their message', () => {
    const d = describeError(new Error('secret detail'));
    expect(d).toEqual({ status: 500, body: { code: 'internal', message: 'internal error' }, retryAfterSeconds: undefined });
  });
});
