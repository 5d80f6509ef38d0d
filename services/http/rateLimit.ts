import type { RequestHandler } from 'express';
import type { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { componentLogger } from '../../infra/logger.js';
import type { Principal } from '../auth/ApiKeyStore.js';
import { DomainError } from '../../infra/errors.js';
import { asRedisUnavailable } from '../../infra/redis.js';

const log = componentLogger('rate-limit');

export interface RateLimitOptions {
  /** Requests per window per caller; 0 = unlimited. */
  requests: number;
  /** Question requests (model work) per window per caller, counted on top of `requests`; 0 = no separate limit. */
  askRequests: number;
  windowSeconds: number;
}

/** Paths whose requests run the generator: they get the smaller question budget. */
const ASK_PATHS = new Set(['/ask', '/chat/completions']);

/** Who a request is charged to: its API key, else (authentication off, or no key sent) the client address. */
export function rateLimitSubject(principal: Principal | undefined, ip: string | undefined): string {
  return principal ? `key:${principal.keyId}` : `ip:${ip ?? 'unknown'}`;
}

/**
 * Fixed-window request limits kept in Redis (rate-limiter-flexible's atomic counters), so every API
 * replica draws on one budget per caller. Over the limit: 429 with Retry-After in whole seconds. When Redis does
 * not answer within REDIS_REQUEST_TIMEOUT_MS the request fails at once with 503 (every /v1 route needs Redis,
 * so waiting again in the handler would only double the wait); any other limiter fault lets the request
 * through (logged).
 */
export function rateLimiter(redis: Redis, opts: RateLimitOptions): RequestHandler {
  const make = (points: number, keyPrefix: string) =>
    points > 0 ? new RateLimiterRedis({ storeClient: redis, points, duration: opts.windowSeconds, keyPrefix, useRedisPackage: false }) : null;
  const all = make(opts.requests, 'rag:ratelimit:all');
  const ask = make(opts.askRequests, 'rag:ratelimit:ask');
  return async (req, res, next) => {
    const subject = rateLimitSubject(res.locals.principal as Principal | undefined, req.ip);
    const limiters = [all, ASK_PATHS.has(req.path) ? ask : null].filter((l) => l !== null);
    try {
      let last: RateLimiterRes | null = null;
      for (const l of limiters) last = await l.consume(subject);
      if (last) {
        res.setHeader('ratelimit-remaining', String(last.remainingPoints));
        res.setHeader('ratelimit-reset', String(Math.ceil(last.msBeforeNext / 1000)));
      }
      next();
    } catch (e) {
      if (e instanceof RateLimiterRes) {
        const seconds = Math.max(1, Math.ceil(e.msBeforeNext / 1000));
        return next(new DomainError('tooMany', `too many requests for ${subject.startsWith('key:') ? 'this API key' : 'this client address'}; retry after ${seconds} s`, { retryAfterSeconds: seconds }));
      }
      // The limiter's command is bounded like every request's (REDIS_REQUEST_TIMEOUT_MS, or the first failed
      // reconnect): if it failed, Redis is not answering, so refuse now rather than wait again in the handler.
      const unavailable = asRedisUnavailable(e);
      if (unavailable) return next(unavailable);
      log.warn({ err: (e as Error).message }, 'rate limiter failed; request let through');
      next();
    }
  };
}
