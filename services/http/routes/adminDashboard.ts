import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import express, { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import type { AdminDashboard } from '../../admin/AdminDashboard.js';
import type { ServiceContext } from '../../context.js';
import { DomainError } from '../../../infra/errors.js';
import { validate } from '../errors.js';

export const QueueName = z.string().regex(/^[a-z-]{1,40}$/, 'must be a queue name as listed by GET /v1/admin/ingestion');
export const JobId = z.string().regex(/^[A-Za-z0-9_:.-]{1,200}$/, 'must be a job id as listed by GET /v1/admin/ingestion');
export const Recalibrate = z.strictObject({
  k: z.number().int().min(1).max(32).default(5),
  n: z.number().int().min(1).max(1024).default(32),
  seed: z.number().int().min(0).max(2 ** 31 - 1).default(0),
  mode: z.enum(['blocks', 'full']).default('blocks'),
  layers: z.array(z.number().int().min(0).max(1023)).min(1).max(1024).optional(),
});
export const Limit = z.coerce.number().int().min(1).max(200).default(50);

/** The dashboard's data API under /v1/admin (admin scope, like key management). */
export function adminDashboardApi(ctx: ServiceContext, dash: AdminDashboard): Router {
  const r = Router();
  const admin = ctx.auth.require('admin');
  r.get('/admin/overview', admin, async (_req, res) => {
    res.json(await dash.overview());
  });
  r.get('/admin/ingestion', admin, async (_req, res) => {
    const [queues, active, failed] = await Promise.all([dash.inspector.depths(), dash.inspector.jobs('active', 50), dash.inspector.jobs('failed', 50)]);
    res.json({ queues, active, failed });
  });
  r.post('/admin/jobs/:queue/:id/retry', admin, async (req, res) => {
    const queue = validate(QueueName, req.params.queue, 'queue');
    const id = validate(JobId, req.params.id, 'id');
    await dash.inspector.retry(queue, id);
    res.json({ retried: true, queue, id });
  });
  r.delete('/admin/jobs/:queue/:id', admin, async (req, res) => {
    const queue = validate(QueueName, req.params.queue, 'queue');
    const id = validate(JobId, req.params.id, 'id');
    await dash.inspector.remove(queue, id);
    res.json({ removed: true, queue, id });
  });
  r.get('/admin/kv', admin, (_req, res) => {
    res.json(dash.kv());
  });
  r.get('/admin/latency', admin, async (_req, res) => {
    res.json(await dash.latency());
  });
  r.get('/admin/calibration', admin, async (_req, res) => {
    res.json(await dash.calibrationView());
  });
  r.post('/admin/calibration', admin, async (req, res) => {
    const body = validate(Recalibrate, req.body ?? {});
    const jobId = await dash.calibration.enqueue({ ...body, requestId: String(res.locals.requestId ?? '') || undefined });
    res.status(202).json({ jobId, queue: dash.calibration.queue.name });
  });
  r.get('/admin/recent-asks', admin, async (req, res) => {
    const limit = validate(Limit, req.query.limit ?? undefined, 'limit');
    res.json({ asks: await dash.recent.list(limit) });
  });
  return r;
}

/** services/admin/public, found from the compiled file (dist/ or a private build folder) up to the repository. */
function publicDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'services', 'admin', 'public');
    if (fs.existsSync(path.join(candidate, 'index.html'))) return candidate;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('services/admin/public (the dashboard pages) not found above the compiled code');
    dir = up;
  }
}

function uplotDir(): string {
  return path.dirname(createRequire(import.meta.url).resolve('uplot'));
}

/**
 * The dashboard pages at /admin: a public login page; everything else (the page, its script, the charting
 * library, Bull Board) needs an admin session or key. A browser without one is sent to the login page; any
 * other client gets the API's 401/403.
 */
export function adminPages(ctx: ServiceContext, dash: AdminDashboard): Router {
  const pub = publicDir();
  const r = Router();
  r.use(ctx.auth.identify());
  const requireAdmin = ctx.auth.require('admin');
  const guard: RequestHandler = (req, res, next) =>
    requireAdmin(req, res, (err?: unknown) => {
      if (!err) return next();
      if (req.method === 'GET' && err instanceof DomainError && err.kind === 'unauthorized' && req.accepts(['json', 'html']) === 'html') {
        return res.redirect(302, `/admin/login`);
      }
      next(err);
    });
  const noStore: RequestHandler = (_req, res, next) => {
    res.setHeader('cache-control', 'no-store');
    next();
  };

  // Our pages load only same-origin files (no inline script); Bull Board's own UI is left to its defaults.
  const csp: RequestHandler = (_req, res, next) => {
    res.setHeader('content-security-policy', "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'");
    next();
  };

  r.get('/login', csp, noStore, (_req, res) => res.sendFile(path.join(pub, 'login.html')));
  r.use('/open', csp, express.static(path.join(pub, 'open'), { index: false }));
  r.use(guard);
  r.get('/', csp, noStore, (_req, res) => res.sendFile(path.join(pub, 'index.html')));
  r.use('/app', csp, express.static(path.join(pub, 'app'), { index: false }));
  r.use('/vendor/uplot', csp, express.static(uplotDir(), { index: false }));

  const board = new ExpressAdapter();
  board.setBasePath('/admin/queues');
  createBullBoard({
    queues: dash.inspector.names.map((n) => new BullMQAdapter(dash.inspector.queue(n)!)),
    serverAdapter: board,
    options: { uiConfig: { boardTitle: 'rag queues' } },
  });
  r.use('/queues', board.getRouter() as Router);
  return r;
}
