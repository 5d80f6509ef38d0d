import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { OPAQUE_MOUNTS, openApiDocument } from '../../services/http/openapi.js';
import { sseEvents } from './sse.js';

/**
 * Checks a real response against the OpenAPI document the server publishes (the same compiled module
 * the server runs): the route and status must be documented, JSON bodies and every server-sent event must
 * validate against their schemas. ApiClient runs it on every response, so the integration tests check the
 * document against what the service really sends.
 */
interface Operation {
  responses: Record<string, { content?: Record<string, { schema?: unknown; 'x-events'?: Record<string, unknown> }> }>;
}

const BASE = 'https://rag-longctx.local/openapi.json';
const doc = openApiDocument() as unknown as { paths: Record<string, Record<string, Operation>> };
const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
ajv.addSchema({ ...(doc as object), $id: BASE });
const compiled = new Map<string, ValidateFunction>();

const pointer = (...parts: string[]): string => `#/${parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/')}`;

function validator(ref: string): ValidateFunction {
  let v = compiled.get(ref);
  if (!v) compiled.set(ref, (v = ajv.compile({ $ref: `${BASE}${ref}` })));
  return v;
}

/** Documented paths as regexes, literal segments before parameters (`/docs/swagger-initializer.js` before `/docs/{file}`). */
const routes = Object.keys(doc.paths)
  .map((template) => ({
    template,
    params: (template.match(/\{/g) ?? []).length,
    re: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`),
  }))
  .sort((a, b) => a.params - b.params);

function check(v: ValidateFunction, data: unknown, what: string): void {
  if (!v(data)) {
    const errs = (v.errors ?? []).slice(0, 8).map((e) => `  ${e.instancePath || '(root)'} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`);
    throw new Error(`${what} does not match the OpenAPI document (services/http/responses.ts):\n${errs.join('\n')}\nbody: ${JSON.stringify(data).slice(0, 500)}`);
  }
}

export function validateResponse(method: string, url: string, status: number, contentType: string | null, raw: string): void {
  const path = new URL(url).pathname;
  if (OPAQUE_MOUNTS.some((m) => path.startsWith(`${m}/`))) return;
  const what = `${method} ${path} -> ${status}`;
  const route = routes.find((r) => r.re.test(path) && doc.paths[r.template]![method.toLowerCase()]);
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (!route) {
    // Unknown routes and wrong methods answer the standard error; anything else is an undocumented route.
    if (status >= 400 && type === 'application/json') return check(validator(pointer('components', 'schemas', 'Error')), JSON.parse(raw), what);
    throw new Error(`${what}: the route is not in the OpenAPI document (services/http/openapi.ts)`);
  }
  const op = doc.paths[route.template]![method.toLowerCase()]!;
  const key = String(status) in op.responses ? String(status) : status >= 400 ? 'default' : null;
  if (!key) throw new Error(`${what}: status ${status} is not documented for ${method} ${route.template}`);
  const content = op.responses[key]!.content;
  if (!content || status === 204 || method === 'HEAD') return;
  const media = content[type] ? type : content['*/*'] ? '*/*' : null;
  if (!media) throw new Error(`${what}: content type ${type || '(none)'} is not documented (documented: ${Object.keys(content).join(', ')})`);
  const base = ['paths', route.template, method.toLowerCase(), 'responses', key, 'content', media];
  if (media === 'application/json') return check(validator(pointer(...base, 'schema')), JSON.parse(raw), what);
  if (media === 'text/event-stream') {
    const declared = content[media]!['x-events'] ?? {};
    for (const e of sseEvents(raw)) {
      if (!(e.event in declared)) throw new Error(`${what}: event "${e.event}" is not documented (documented: ${Object.keys(declared).join(', ')})`);
      let data: unknown = e.data;
      try {
        data = JSON.parse(e.data);
      } catch {
        /* a plain-text event, such as the OpenAI stream's [DONE] */
      }
      check(validator(pointer(...base, 'x-events', e.event)), data, `${what} event ${e.event}`);
    }
  }
}
