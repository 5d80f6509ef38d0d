import { Router } from 'express';
import type { AskRequest, AskService } from '../../ask/AskService.js';
import type { ServiceContext } from '../../context.js';
import type { AskAdmission } from '../askAdmission.js';
import { DomainError } from '../../../infra/errors.js';
import { describeError, validate } from '../errors.js';
import { AskBody } from '../schemas.js';
import { SseStream, wantsEventStream } from '../sse.js';

export function askRouter(ctx: ServiceContext, ask: AskService, admission: AskAdmission): Router {
  const r = Router();
  r.post('/ask', ctx.auth.require('ask'), admission.admit, async (req, res) => {
    const { stream, ...body } = validate(AskBody, req.body);
    if (body.keepRatio !== undefined && body.budgetTokens !== undefined) throw new DomainError('invalid', 'keepRatio, budgetTokens: give one or the other', { field: 'budgetTokens' });
    if (!(await ctx.store.collectionExists(body.collection))) throw new DomainError('notFound', `collection ${body.collection} not found`, { field: 'collection' });
    const abort = new AbortController();
    // Stop generating when the client goes away.
    res.on('close', () => abort.abort());

    const request: AskRequest = { ...body, signal: abort.signal };
    // Checked before any stream opens, so a client always gets a plain 503 (or 400) when no answer is possible.
    ask.resolve(request);
    if (!wantsEventStream(req.header('accept'), stream)) {
      res.json(await ask.ask(request));
      return;
    }
    const sse = new SseStream(res, { stallMs: ctx.config.STREAM_STALL_MS, sendBufferBytes: ctx.config.STREAM_SEND_BUFFER_BYTES });
    try {
      // Each send resolves once the socket takes it: a client that stops reading pauses generation.
      await ask.ask(request, (e) => {
        if (e.type === 'retrieval') return sse.send('retrieval', { hits: e.hits });
        if (e.type === 'token') return sse.send('token', { text: e.text, id: e.id });
        if (e.type === 'answer') return sse.send('answer', { text: e.text });
        return sse.send('done', e.response);
      });
    } catch (e) {
      await sse.send('error', { error: describeError(e).body });
    } finally {
      sse.end();
    }
  });
  return r;
}

