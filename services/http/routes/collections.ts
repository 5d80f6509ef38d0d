import { Router } from 'express';
import type { ServiceContext } from '../../context.js';
import { DomainError } from '../../../infra/errors.js';
import { validate } from '../errors.js';
import { CollectionName } from '../schemas.js';

export function collectionsRouter(ctx: ServiceContext): Router {
  const r = Router();
  r.get('/collections', ctx.auth.require('ask'), async (_req, res) => {
    res.json({ collections: await ctx.store.listCollections() });
  });
  r.get('/collections/:collection', ctx.auth.require('ask'), async (req, res) => {
    const collection = validate(CollectionName, req.params.collection, 'collection');
    const info = await ctx.store.collectionInfo(collection);
    if (!info) throw new DomainError('notFound', `collection ${collection} not found`, { field: 'collection' });
    const index = ctx.registry.loaded().find((i) => i.collection === collection);
    res.json({ ...info, index: index ? { vectors: index.vectors.size, tombstones: index.vectors.tombstones, appliedLogId: index.appliedLogId } : null });
  });
  return r;
}
