import helmet from 'helmet';
import type { RequestHandler } from 'express';

/**
 * Security headers on every response (helmet's defaults: HSTS, nosniff, frame denial, no referrer, ...).
 * Helmet's default Content-Security-Policy fits HTML pages; mounts serving a UI (the dashboard) may set
 * their own, so the site-wide one is left out here and the JSON API gets the strictest policy instead.
 */
export function securityHeaders(): RequestHandler {
  return helmet({ contentSecurityPolicy: false });
}

/** JSON responses are never rendered as documents: nothing may load, run or frame them. */
export const apiContentSecurityPolicy: RequestHandler = (_req, res, next) => {
  res.setHeader('content-security-policy', "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
  res.setHeader('cache-control', 'no-store');
  next();
};
