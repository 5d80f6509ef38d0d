import { Router } from 'express';
import type { ServiceContext } from '../../context.js';
import { DomainError } from '../../../infra/errors.js';
import { validate } from '../errors.js';
import { SearchBody } from '../schemas.js';

export function searchRouter(ctx: ServiceContext): Router {
  const r = Router();
  r.post('/search', ctx.auth.require('ask'), async (req, res) => {
    const body = validate(SearchBody, req.body);
    if (!(await ctx.store.collectionExists(body.collection))) {
      throw new DomainError('notFound', `collection ${body.collection} not found`, { field: 'collection' });
    }
    const started = performance.now();
    const result = await ctx.search.search(body.collection, body.query, body.k, body.mode, ctx.config.SEARCH_EF);
    res.json({ hits: result.hits, mode: result.mode, tookMs: performance.now() - started });
  });
  return r;
}
