import type { Request, RequestHandler } from 'express';
import { componentLogger } from '../../infra/logger.js';
import { DomainError } from '../../infra/errors.js';
import { scopeAllows, type ApiKeyStore, type Principal, type Scope } from './ApiKeyStore.js';
import { readCookie, SESSION_COOKIE, type SessionStore } from './SessionStore.js';

const log = componentLogger('auth');

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Whether a request comes from a page of this same origin. Browsers send `Sec-Fetch-Site` (trusted first) and
 * `Origin` on state-changing requests; a cross-site form or script cannot forge either. Neither present:
 * not a browser request from our page, so not same-origin. Our own origin is the request's scheme and host
 * (both from X-Forwarded-* only through TRUST_PROXY_HOPS trusted proxies).
 */
export function fromSameOrigin(req: Request): boolean {
  const site = req.header('sec-fetch-site');
  if (site) return site === 'same-origin';
  const origin = req.header('origin');
  return !!origin && origin === `${req.protocol}://${req.host}`;
}

/**
 * Who is calling: a Bearer API key, or the dashboard's session cookie. Enforcement starts once an
 * ADMIN_API_KEY is configured or any key exists; before that the service is open (a development setup)
 * and says so in the log.
 */
export class Authenticator {
  private enforcedCache: { value: boolean; at: number } | null = null;
  private warned = false;

  constructor(
    readonly keys: ApiKeyStore,
    readonly sessions: SessionStore,
  ) {}

  private async enforced(): Promise<boolean> {
    const now = Date.now();
    if (!this.enforcedCache || now - this.enforcedCache.at > 2000) this.enforcedCache = { value: await this.keys.enforced(), at: now };
    if (!this.enforcedCache.value && !this.warned) {
      this.warned = true;
      log.warn('no ADMIN_API_KEY and no API keys: the API is open to anyone who can reach it');
    }
    return this.enforcedCache.value;
  }

  /** Forget the cached enforcement state (after keys are created or revoked). */
  invalidate(): void {
    this.enforcedCache = null;
  }

  /** Resolves the caller into res.locals.principal; when enforced, a presented but wrong key is a 401 at once. */
  identify(): RequestHandler {
    return async (req, res, next) => {
      const header = req.header('authorization');
      // With authentication off, credentials are ignored (clients such as OpenAI's always send one).
      if (header !== undefined && (await this.enforced())) {
        const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
        if (!m) return next(new DomainError('unauthorized', 'authorization: expected "Bearer <api key>"', { field: 'authorization' }));
        const p = await this.keys.verify(m[1]!);
        if (!p) return next(new DomainError('unauthorized', 'authorization: unknown or revoked API key', { field: 'authorization' }));
        res.locals.principal = p;
        return next();
      }
      const sid = readCookie(req.header('cookie'), SESSION_COOKIE);
      const session = sid ? await this.sessions.get(sid) : null;
      // A cookie rides along on cross-site requests too (SameSite is the browser's rule, not ours to rely on):
      // state changes made with it must come from our own pages.
      if (session && !SAFE_METHODS.has(req.method) && !fromSameOrigin(req)) {
        return next(new DomainError('forbidden', 'origin: a request authenticated by the session cookie must come from this origin (Origin / Sec-Fetch-Site); API clients send "Authorization: Bearer <key>"', { field: 'origin' }));
      }
      if (session) res.locals.principal = session;
      next();
    };
  }

  require(scope: Scope): RequestHandler {
    return async (_req, res, next) => {
      if (!(await this.enforced())) return next();
      const p = res.locals.principal as Principal | undefined;
      if (!p) return next(new DomainError('unauthorized', 'authorization: this endpoint needs an API key (send "Authorization: Bearer <key>")', { field: 'authorization' }));
      if (!scopeAllows(p.scopes, scope)) return next(new DomainError('forbidden', `authorization: key "${p.name}" lacks the "${scope}" scope`, { field: 'authorization' }));
      next();
    };
  }
}
