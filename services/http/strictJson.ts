import express, { type RequestHandler } from 'express';
import { DomainError } from '../../infra/errors.js';

/** Deeper nesting than any request shape needs; bounds the recursion of everything that walks a body. */
export const MAX_JSON_DEPTH = 32;

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * Parses a request body as strict JSON: valid UTF-8 only (a lenient decoder would turn bad bytes into
 * U+FFFD and store text the client never sent), no lone surrogates, no duplicate keys (JSON.parse keeps
 * the last one silently, so two layers could read different values), no prototype-polluting keys, and
 * bounded nesting. Throws an `invalid` DomainError naming the problem.
 */
export function parseStrictJson(body: Buffer): unknown {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw new DomainError('invalid', 'body: not valid UTF-8', { field: 'body' });
  }
  let value: unknown;
  try {
    value = JSON.parse(text, (key, v: unknown) => {
      if (FORBIDDEN_KEYS.has(key)) throw new DomainError('invalid', `body: the key "${key}" is not allowed`, { field: 'body' });
      if (typeof v === 'string' && LONE_SURROGATE.test(v)) throw new DomainError('invalid', `body: ${key ? `"${key}" ` : ''}holds an unpaired UTF-16 surrogate (not encodable as UTF-8)`, { field: 'body' });
      return v;
    });
  } catch (e) {
    if (e instanceof DomainError) throw e;
    throw new DomainError('invalid', `body: malformed JSON (${(e as Error).message})`, { field: 'body' });
  }
  checkStructure(text);
  return value;
}

/** One pass over already-valid JSON text: duplicate keys per object and nesting depth. */
function checkStructure(text: string): void {
  const stack: ({ keys: Set<string>; expectKey: boolean } | null)[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      const start = i;
      for (i++; text[i] !== '"'; i++) if (text[i] === '\\') i++;
      const top = stack[stack.length - 1];
      if (top && top.expectKey) {
        const key = JSON.parse(text.slice(start, i + 1)) as string;
        if (top.keys.has(key)) throw new DomainError('invalid', `body: duplicate key "${key}"`, { field: 'body' });
        top.keys.add(key);
        top.expectKey = false;
      }
    } else if (ch === '{' || ch === '[') {
      if (stack.length >= MAX_JSON_DEPTH) throw new DomainError('invalid', `body: nested deeper than ${MAX_JSON_DEPTH} levels`, { field: 'body' });
      stack.push(ch === '{' ? { keys: new Set(), expectKey: true } : null);
    } else if (ch === '}' || ch === ']') {
      stack.pop();
    } else if (ch === ',') {
      const top = stack[stack.length - 1];
      if (top) top.expectKey = true;
    }
  }
}

/**
 * The API's body parser: raw bytes up to `limit` (413 beyond), then parseStrictJson. A declared charset other
 * than UTF-8 is refused rather than guessed at.
 */
export function strictJsonBody(limit: number): RequestHandler[] {
  return [
    express.raw({ type: () => true, limit }),
    (req, _res, next) => {
      const raw: unknown = req.body;
      req.body = undefined;
      // Only these methods carry a body in this API; anything sent with GET or DELETE is ignored.
      if (!['POST', 'PUT', 'PATCH'].includes(req.method)) return next();
      if (!Buffer.isBuffer(raw) || raw.length === 0) return next(new DomainError('invalid', 'body: empty; send a JSON document', { field: 'body' }));
      const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(req.header('content-type') ?? '')?.[1]?.toLowerCase();
      if (charset && charset !== 'utf-8' && charset !== 'utf8') return next(new DomainError('unsupportedMedia', `content-type: charset ${charset} is not supported; send UTF-8`, { field: 'content-type' }));
      try {
        req.body = parseStrictJson(raw);
        next();
      } catch (e) {
        next(e);
      }
    },
  ];
}
