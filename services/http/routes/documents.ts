import { Router } from 'express';
import { duplicateIds, toNewDocument } from '../../../indexer/sources/DocumentRules.js';
import type { ServiceContext } from '../../context.js';
import { DomainError } from '../../../infra/errors.js';
import { validate } from '../errors.js';
import { CollectionName, DocumentId, ingestSchemaFor, type DocumentBodyT } from '../schemas.js';

export function documentsRouter(ctx: ServiceContext): Router {
  const r = Router();

  r.post('/collections/:collection/documents', ctx.auth.require('ingest'), async (req, res) => {
    const collection = validate(CollectionName, req.params.collection, 'collection');
    const body = validate(ingestSchemaFor(req.body), req.body);
    const docs: DocumentBodyT[] = 'documents' in body ? body.documents : [body];
    await ctx.ingestion.assertEmbedder(collection, ctx.embedder);
    const documents = docs.map(toNewDocument);
    const ids = documents.map((d) => d.id);
    const [dup] = duplicateIds(ids);
    if (dup) throw new DomainError('invalid', `documents: id ${dup.id} appears more than once in this batch`, { field: 'documents' });
    const requestId = String(res.locals.requestId ?? '');
    const jobIds: string[] = [];
    for (const d of documents) jobIds.push((await ctx.ingestion.submit(collection, d, requestId)).jobId);
    res.status(202).json({ documentIds: ids, jobIds });
  });

  r.get('/collections/:collection/documents/:id', ctx.auth.require('ask'), async (req, res) => {
    const collection = validate(CollectionName, req.params.collection, 'collection');
    const id = validate(DocumentId, req.params.id, 'id');
    const doc = await ctx.store.getDocument(collection, id);
    if (!doc) throw new DomainError('notFound', `document ${id} not found in collection ${collection}`, { field: 'id' });
    const chunks = (await ctx.store.getChunks(collection, doc.chunkIds)).filter((c) => c !== null);
    res.json({ ...doc, chunks: chunks.map((c) => ({ id: c.id, index: c.index, start: c.start, end: c.end, tokenCount: c.tokenCount, sentences: c.sentences })) });
  });

  r.delete('/collections/:collection/documents/:id', ctx.auth.require('ingest'), async (req, res) => {
    const collection = validate(CollectionName, req.params.collection, 'collection');
    const id = validate(DocumentId, req.params.id, 'id');
    const deleted = await ctx.store.deleteDocument(collection, id);
    if (!deleted) throw new DomainError('notFound', `document ${id} not found in collection ${collection}`, { field: 'id' });
    res.json({ deleted: true, documentId: id });
  });

  return r;
}
