import { Router } from 'express';
import { GeneratorUnavailableError, PlanningError, type AskRequest, type AskService } from '../../ask/AskService.js';
import type { ServiceContext } from '../../context.js';
import { HttpError, validate } from '../errors.js';
import { AskBody } from '../schemas.js';
import { SseStream, wantsEventStream } from '../sse.js';

export function askRouter(ctx: ServiceContext, ask: AskService): Router {
  const r = Router();
  r.post('/ask', ctx.auth.require('ask'), async (req, res) => {
    const { stream, ...body } = validate(AskBody, req.body);
    if (body.keepRatio !== undefined && body.budgetTokens !== undefined) throw new HttpError(400, 'keepRatio, budgetTokens: give one or the other', 'budgetTokens');
    if (!(await ctx.store.collectionExists(body.collection))) throw new HttpError(404, `collection ${body.collection} not found`, 'collection');
    const abort = new AbortController();
    // Stop generating when the client goes away.
    res.on('close', () => abort.abort());

    // Checked before any stream opens, so a client always gets a plain 503 when no answer is possible.
    try {
      ask.requireGenerator();
    } catch (e) {
      if (e instanceof GeneratorUnavailableError) throw new HttpError(503, e.message);
      throw e;
    }
    const request: AskRequest = { ...body, signal: abort.signal };
    if (!wantsEventStream(req.header('accept'), stream)) {
      res.json(await ask.ask(request).catch(asHttpError));
      return;
    }
    const sse = new SseStream(res);
    try {
      await ask.ask(request, (e) => {
        if (e.type === 'retrieval') sse.send('retrieval', { hits: e.hits });
        else if (e.type === 'token') sse.send('token', { text: e.text, id: e.id });
        else sse.send('done', e.response);
      });
    } catch (e) {
      const code = e instanceof PlanningError ? 'bad_request' : 'internal';
      sse.send('error', { error: { code, message: e instanceof Error ? e.message : String(e) } });
    } finally {
      sse.end();
    }
  });
  return r;
}

/** Pipeline errors a client can fix (no probe trained, no taps for attention scoring) are 400s. */
export function asHttpError(e: unknown): never {
  if (e instanceof PlanningError) throw new HttpError(400, e.message);
  if (e instanceof GeneratorUnavailableError) throw new HttpError(503, e.message);
  throw e;
}
