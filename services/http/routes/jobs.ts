import { Router } from 'express';
import { z } from 'zod';
import type { ServiceContext } from '../../context.js';
import { DomainError } from '../../../infra/errors.js';
import { validate } from '../errors.js';

export const JobId = z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'must be a job id as returned by an ingest call');

export function jobsRouter(ctx: ServiceContext): Router {
  const r = Router();
  r.get('/jobs/:id', ctx.auth.require('ingest'), async (req, res) => {
    const id = validate(JobId, req.params.id, 'id');
    const status = await ctx.ingestion.status(id);
    if (!status) throw new DomainError('notFound', `job ${id} not found`, { field: 'id' });
    res.json(status);
  });
  return r;
}
