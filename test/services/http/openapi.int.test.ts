import fs from 'node:fs';
import type { Server } from 'node:http';
import type { Express } from 'express';
import type { Redis } from 'ioredis';
import { chromium } from 'playwright-core';
import { loadConfig } from '../../../infra/config.js';
import { AskService } from '../../../services/ask/AskService.js';
import { GeneratorHandle } from '../../../services/ask/GeneratorHandle.js';
import { createObservability } from '../../../services/admin/observability.js';
import { closeContext, createContext } from '../../../services/bootstrap.js';
import type { ServiceContext } from '../../../services/context.js';
import { openEmbedder } from '../../../services/embedder.js';
import { createApp } from '../../../services/http/app.js';
import { OPAQUE_MOUNTS, openApiDocument } from '../../../services/http/openapi.js';
import { CHROMIUM } from '../../support/browser.js';
import { ApiClient } from '../../support/http.js';
import { tempDir } from '../../support/processes.js';
import { OwnRedis } from '../../hardening/ownRedis.js';

/**
 * The OpenAPI document against the router itself: the whole app as `npm start` builds it (every part
 * mounted), its express stack walked route by route. A route added without documentation fails here.
 */
interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle: { stack?: Layer[] };
  rawPath?: string | string[];
  slash?: boolean;
}

/** `METHOD /path/{param}` for every route, and `GET /mount/{file}` for every non-router mount (static files). */
function servedRoutes(stack: Layer[], prefix = ''): string[] {
  const out: string[] = [];
  const asTemplate = (p: string) => p.replace(/:(\w+)/g, '{$1}').replace(/\/$/, '') || '/';
  for (const layer of stack) {
    const raw = Array.isArray(layer.rawPath) ? layer.rawPath : [layer.rawPath ?? '/'];
    for (const p of raw) {
      if (layer.route) {
        const routePaths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const rp of routePaths) for (const m of Object.keys(layer.route.methods).filter((m) => m !== '_all')) out.push(`${m.toUpperCase()} ${asTemplate(prefix + rp)}`);
        continue;
      }
      const at = layer.slash ? prefix : prefix + p;
      if (OPAQUE_MOUNTS.includes(at)) out.push(`GET ${at}`);
      else if (layer.handle.stack) out.push(...servedRoutes(layer.handle.stack, at));
      else if (!layer.slash) out.push(`GET ${at}/{file}`);
    }
  }
  return out;
}

let own: OwnRedis;
let redis: Redis;
let ctx: ServiceContext;
let app: Express;
let server: Server;
let base: string;
let close: () => Promise<void>;

beforeAll(async () => {
  own = await OwnRedis.start();
  const r = { url: own.url, redis: own.redis };
  redis = r.redis;
  const config = loadConfig({ REDIS_URL: r.url, DATA_DIR: tempDir('openapi'), MODELS_DIR: tempDir('openapi-models'), EMBEDDING_MODEL: 'use-lite', SNAPSHOT_INTERVAL_MS: '0' });
  const embedder = await openEmbedder(config);
  ctx = createContext(config, embedder);
  const generator = new GeneratorHandle(config);
  const ask = new AskService(ctx.store, ctx.search, generator, config.dataDir, { extractive: { registry: ctx.registry, embedder: ctx.embedder } });
  const observability = createObservability(ctx, generator, ask);
  app = createApp(ctx, { ask, metrics: observability.metrics, admin: observability.admin, readiness: [{ name: 'test', check: async () => true }] });
  server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  close = async () => {
    await new Promise((resolve) => server.close(resolve));
    await observability.close();
    await generator.release();
    await closeContext(ctx);
  };
}, 120_000);

afterAll(async () => {
  await close?.();
  await own?.stop();
});

describe('OpenAPI document', () => {
  it('describes every route the router serves, and nothing it does not', () => {
    const served = new Set(servedRoutes((app as unknown as { router: { stack: Layer[] } }).router.stack));
    const documented = new Set(
      Object.entries(openApiDocument().paths ?? {}).flatMap(([p, item]) =>
        Object.keys(item as object)
          .filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
          .map((m) => `${m.toUpperCase()} ${p}`),
      ),
    );
    expect(served.size).toBeGreaterThan(30);
    expect([...served].filter((r) => !documented.has(r)).sort()).toEqual([]);
    expect([...documented].filter((r) => !served.has(r)).sort()).toEqual([]);
  });

  it('is OpenAPI 3.1, served at /openapi.json exactly as generated, with schemas from zod', async () => {
    const res = await new ApiClient(base).get('/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body).toEqual(JSON.parse(JSON.stringify(openApiDocument())));
    expect(res.body.openapi).toBe('3.1.0');
    const ask = res.body.paths['/v1/ask'].post;
    const askBody = ask.requestBody.content['application/json'].schema;
    expect(askBody.properties.question.type).toBe('string');
    expect(askBody.properties.k).toMatchObject({ type: 'integer', minimum: 1, maximum: 50, default: 5 });
    expect(askBody.additionalProperties).toBe(false);
    expect(res.body.paths['/v1/collections/{collection}/documents'].post.parameters[0]).toMatchObject({ in: 'path', name: 'collection', required: true });
    expect(res.body.components.schemas.AskResponse.required).toEqual(expect.arrayContaining(['answer', 'citations', 'timings', 'cache']));
  });

  it('rejects a response that drifts from it (the shared HTTP test client validates every response)', async () => {
    const client = new ApiClient(base);
    // Real responses validate...
    expect((await client.get('/v1/collections')).status).toBe(200);
    expect((await client.post('/v1/search', { collection: 'nothing-here', query: 'x' })).status).toBe(404);
    // ...and the same validator refuses a body the document does not describe.
    const { validateResponse } = await import('../../support/openapiValidator.js');
    expect(() => validateResponse('GET', `${base}/v1/collections`, 200, 'application/json', JSON.stringify({ collections: [], extra: 1 }))).toThrow(/does not match the OpenAPI document/);
    expect(() => validateResponse('GET', `${base}/v1/jobs/x`, 200, 'application/json', JSON.stringify({ id: 'x', state: 'lost', progress: 0 }))).toThrow(/\/state must be equal to one of the allowed values/);
    expect(() => validateResponse('GET', `${base}/v1/nowhere`, 200, 'application/json', '{}')).toThrow(/not in the OpenAPI document/);
    expect(() => validateResponse('POST', `${base}/v1/search`, 201, 'application/json', '{}')).toThrow(/status 201 is not documented/);
  });

  it('is browsable at /docs, served by this server (no other origin is contacted)', async () => {
    const client = new ApiClient(base);
    const redirect = await fetch(`${base}/docs`, { redirect: 'manual' });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get('location')).toBe('/docs/');
    expect((await client.get('/docs/swagger-initializer.js')).body).toContain("url: '/openapi.json'");
    expect(fs.existsSync(CHROMIUM)).toBe(true);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    try {
      const page = await browser.newPage();
      const foreign: string[] = [];
      const problems: string[] = [];
      await page.route('**/*', (route) => {
        const url = route.request().url();
        if (url.startsWith(base) || url.startsWith('data:')) return route.continue();
        foreign.push(url);
        return route.abort();
      });
      page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
      page.on('pageerror', (e) => problems.push(e.message));
      await page.goto(`${base}/docs/`);
      await page.waitForSelector('.opblock', { timeout: 60_000 });
      const operations = await page.locator('.opblock').count();
      const title = await page.locator('.info .title').innerText();
      expect(foreign).toEqual([]);
      expect(problems).toEqual([]);
      expect(title).toMatch(/rag-longctx/);
      expect(operations).toBe(Object.values(openApiDocument().paths ?? {}).reduce((n, item) => n + Object.keys(item as object).filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m)).length, 0));
      fs.mkdirSync('test-artifacts', { recursive: true });
      await page.screenshot({ path: 'test-artifacts/api-docs.png', fullPage: false });
    } finally {
      await browser.close();
    }
  });
});
