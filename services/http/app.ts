import { randomUUID } from 'node:crypto';
import express, { type Express } from 'express';
import type { ServiceContext } from '../context.js';
import { DomainError } from '../../infra/errors.js';
import { apiDocsRouter } from './apiDocs.js';
import { errorHandler, notFound } from './errors.js';
import type { AskService } from '../ask/AskService.js';
import type { ServiceMetrics } from '../../infra/metrics.js';
import type { AdminDashboard } from '../admin/AdminDashboard.js';
import { adminRouter } from './routes/admin.js';
import { adminDashboardApi, adminPages } from './routes/adminDashboard.js';
import { askRouter } from './routes/ask.js';
import { collectionsRouter } from './routes/collections.js';
import { documentsRouter } from './routes/documents.js';
import { jobsRouter } from './routes/jobs.js';
import { openAiRouter } from './routes/openai.js';
import { searchRouter } from './routes/search.js';
import { rateLimiter } from './rateLimit.js';
import { apiContentSecurityPolicy, securityHeaders } from './security.js';
import { strictJsonBody } from './strictJson.js';
import { AskAdmission } from './askAdmission.js';

export interface ReadinessCheck {
  name: string;
  check: () => Promise<boolean>;
}

/** The HTTP API. Routers are mounted per area; every error leaves as JSON `{error: {code, message, field?}}`. */
export interface AppParts {
  readiness?: ReadinessCheck[];
  /** The question pipeline; without it /v1/ask is not mounted (e.g. an ingestion-only API). */
  ask?: AskService;
  /** Bounds on questions in progress (per caller, running, waiting); without it, from ctx.config. */
  askAdmission?: AskAdmission;
  /** Prometheus metrics: HTTP latency by route, served at /metrics (admin scope once auth is enforced). */
  metrics?: ServiceMetrics;
  /** The operator dashboard at /admin and its data API under /v1/admin. */
  admin?: AdminDashboard;
}

export function createApp(ctx: ServiceContext, parts: AppParts = {}): Express {
  const readiness = parts.readiness ?? [];
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.set('trust proxy', ctx.config.TRUST_PROXY_HOPS);
  app.use(securityHeaders());

  app.use((req, res, next) => {
    const incoming = req.header('x-request-id');
    const id = incoming && /^[A-Za-z0-9._-]{1,100}$/.test(incoming) ? incoming : randomUUID();
    res.locals.requestId = id;
    res.setHeader('x-request-id', id);
    next();
  });
  if (parts.metrics) app.use(parts.metrics.httpMiddleware());

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const results = await Promise.all(
      readiness.map(async (r) => {
        try {
          return [r.name, await r.check()] as const;
        } catch {
          return [r.name, false] as const;
        }
      }),
    );
    const ok = results.every(([, v]) => v);
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'not-ready', checks: Object.fromEntries(results) });
  });

  const api = express.Router();
  api.use(apiContentSecurityPolicy);
  api.use((req, _res, next) => {
    if (['POST', 'PUT', 'PATCH'].includes(req.method) && !req.is('application/json')) {
      return next(new DomainError('unsupportedMedia', 'body: send JSON with Content-Type: application/json', { field: 'content-type' }));
    }
    next();
  });
  api.use(strictJsonBody(ctx.config.MAX_BODY_BYTES));
  api.use(ctx.auth.identify());
  api.use(rateLimiter(ctx.redis, { requests: ctx.config.RATE_LIMIT_REQUESTS, askRequests: ctx.config.RATE_LIMIT_ASK_REQUESTS, windowSeconds: ctx.config.RATE_LIMIT_WINDOW_SECONDS }));
  api.use(adminRouter(ctx));
  if (parts.admin) api.use(adminDashboardApi(ctx, parts.admin));
  api.use(documentsRouter(ctx));
  api.use(collectionsRouter(ctx));
  api.use(jobsRouter(ctx));
  api.use(searchRouter(ctx));
  if (parts.ask) {
    const admission = parts.askAdmission ?? AskAdmission.fromConfig(ctx.config);
    api.use(askRouter(ctx, parts.ask, admission));
    api.use(openAiRouter(ctx, parts.ask, admission));
  }
  app.use('/v1', api);
  if (parts.metrics) {
    const metrics = parts.metrics;
    app.get('/metrics', ctx.auth.identify(), ctx.auth.require('admin'), async (_req, res) => {
      const { contentType, body } = await metrics.render();
      res.type(contentType).send(body);
    });
  }
  if (parts.admin) app.use('/admin', adminPages(ctx, parts.admin));
  app.use(apiDocsRouter());

  app.use(notFound);
  app.use(errorHandler);
  return app;
}
