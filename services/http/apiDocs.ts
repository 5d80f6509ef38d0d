import { createRequire } from 'node:module';
import path from 'node:path';
import express, { Router, type RequestHandler } from 'express';
import { openApiDocument } from './openapi.js';

/** swagger-ui-dist's folder: the reference page is served from node_modules, never from a CDN. */
function swaggerUiDir(): string {
  return path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
}

/** The page's own script (same origin, so the strict policy below needs no inline script): read this server's document. */
const INITIALIZER = `window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
  });
};
`;

const pagePolicy: RequestHandler = (_req, res, next) => {
  // Swagger UI sets inline styles; everything else is this origin's.
  res.setHeader('content-security-policy', "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'");
  next();
};

/** `/openapi.json` (the generated OpenAPI 3.1 document) and `/docs` (a browsable reference of it). Public: they describe, they hold nothing. */
export function apiDocsRouter(): Router {
  const r = Router();
  r.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument());
  });
  r.get('/docs', (req, res, next) => (req.path === '/docs' && !req.originalUrl.split('?')[0]!.endsWith('/') ? res.redirect(301, '/docs/') : next()));
  r.get('/docs/swagger-initializer.js', pagePolicy, (_req, res) => {
    res.type('text/javascript').send(INITIALIZER);
  });
  r.use('/docs', pagePolicy, express.static(swaggerUiDir(), { index: 'index.html' }));
  return r;
}
