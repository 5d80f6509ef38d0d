import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import { z } from 'zod';
import type { AskResponse, AskService } from '../../ask/AskService.js';
import type { ServiceContext } from '../../context.js';
import type { AskAdmission } from '../askAdmission.js';
import { DomainError } from '../../../infra/errors.js';
import { describeError, validate } from '../errors.js';
import { CollectionName } from '../schemas.js';
import { SseStream } from '../sse.js';

const Content = z.union([z.string(), z.array(z.object({ type: z.string(), text: z.string().optional() }).loose())]);

export const ChatBody = z
  .object({
    model: z.string().min(1).max(200),
    messages: z.array(z.object({ role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']), content: Content.nullable().optional() }).loose()).min(1).max(1000),
    stream: z.boolean().optional(),
    max_tokens: z.number().int().min(1).max(4096).optional(),
    max_completion_tokens: z.number().int().min(1).max(4096).optional(),
    temperature: z.number().min(0).max(2).optional(),
    top_p: z.number().gt(0).max(1).optional(),
    seed: z.number().int().min(0).max(2 ** 31 - 1).optional(),
    /** Extensions: the collection to retrieve from (else taken from `model`), how many chunks, and how to answer (as /v1/ask's `mode`). */
    collection: CollectionName.optional(),
    k: z.number().int().min(1).max(50).optional(),
    mode: z.enum(['full', 'blocks', 'extractive']).optional(),
  })
  .loose();

function text(content: z.infer<typeof Content> | null | undefined): string {
  if (!content) return '';
  return typeof content === 'string' ? content : content.map((p) => p.text ?? '').join('');
}

/** How the answer was made, riding along as extra fields: the mode, and for an extractive one why and its spans. */
function extras(a: AskResponse): Record<string, unknown> {
  return {
    mode: a.mode,
    ...(a.fallback ? { fallback: a.fallback } : {}),
    ...(a.sentences ? { sentences: a.sentences } : {}),
    ...(a.answerSpan ? { answerSpan: a.answerSpan } : {}),
  };
}

/** `model` names the collection: `rag/<collection>`, `rag:<collection>` or the bare collection name. */
export function collectionFromModel(model: string): string {
  return model.replace(/^rag[/:]/, '');
}

/**
 * OpenAI-compatible chat completions: the last user message is the question, answered with retrieval
 * over the collection, so existing OpenAI clients work unchanged (citations ride along as an extra field).
 */
export function openAiRouter(ctx: ServiceContext, ask: AskService, admission: AskAdmission): Router {
  const r = Router();

  r.get('/models', ctx.auth.require('ask'), async (_req, res) => {
    const cols = await ctx.store.listCollections();
    res.json({ object: 'list', data: cols.map((c) => ({ id: `rag/${c.name}`, object: 'model', created: 0, owned_by: 'rag' })) });
  });

  r.post('/chat/completions', ctx.auth.require('ask'), admission.admit, async (req, res) => {
    const body = validate(ChatBody, req.body);
    const collection = validate(CollectionName, body.collection ?? collectionFromModel(body.model), body.collection ? 'collection' : 'model');
    const question = text([...body.messages].reverse().find((m) => m.role === 'user')?.content);
    if (!question.trim()) throw new DomainError('invalid', 'messages: needs a user message with text', { field: 'messages' });
    // The same bounds as /v1/ask's question.
    if (question.length > 4000) throw new DomainError('invalid', 'messages: the last user message is longer than 4000 characters', { field: 'messages' });
    if (/[\u0000-\u0008\u000b\u000e-\u001f\u007f]/.test(question)) throw new DomainError('invalid', 'messages: the last user message holds control characters', { field: 'messages' });
    if (!(await ctx.store.collectionExists(collection))) throw new DomainError('notFound', `collection ${collection} not found (model "${body.model}")`, { field: 'model' });
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    const id = `chatcmpl-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    const request = {
      collection,
      question,
      k: body.k ?? 5,
      maxTokens: body.max_completion_tokens ?? body.max_tokens,
      temperature: body.temperature,
      topP: body.top_p,
      seed: body.seed,
      ...(body.mode ? { mode: body.mode } : {}),
      signal: abort.signal,
    };
    ask.resolve(request);
    const finish = (reason: string) => (reason === 'length' ? 'length' : 'stop');

    if (!body.stream) {
      const a = await ask.ask(request);
      res.json({
        id,
        object: 'chat.completion',
        created,
        model: body.model,
        choices: [{ index: 0, message: { role: 'assistant', content: a.answer }, finish_reason: finish(a.finishReason), logprobs: null }],
        usage: { prompt_tokens: a.usage.promptTokens, completion_tokens: a.usage.completionTokens, total_tokens: a.usage.promptTokens + a.usage.completionTokens },
        citations: a.citations,
        ...extras(a),
      });
      return;
    }
    const sse = new SseStream(res, { stallMs: ctx.config.STREAM_STALL_MS, sendBufferBytes: ctx.config.STREAM_SEND_BUFFER_BYTES });
    const chunk = (delta: Record<string, unknown>, finishReason: string | null, extra: Record<string, unknown> = {}) =>
      sse.send(null, { id, object: 'chat.completion.chunk', created, model: body.model, choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }], ...extra });
    try {
      await chunk({ role: 'assistant', content: '' }, null);
      // Awaited: a client that stops reading pauses generation.
      const a = await ask.ask(request, (e) => (e.type === 'token' || e.type === 'answer' ? chunk({ content: e.text }, null) : undefined));
      await chunk({}, finish(a.finishReason), { citations: a.citations, ...extras(a) });
    } catch (e) {
      const { status, body: error } = describeError(e);
      await sse.send(null, { error: { message: error.message, type: status < 500 ? 'invalid_request_error' : 'server_error', code: error.code } });
    } finally {
      await sse.send(null, '[DONE]');
      sse.end();
    }
  });
  return r;
}
