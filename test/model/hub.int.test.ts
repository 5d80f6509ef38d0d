import fs from 'node:fs';
import type { Server } from 'node:http';
import net from 'node:net';
import path from 'node:path';
import express from 'express';
import type { Redis } from 'ioredis';
import { buildTestModel } from '../../model/builder/buildTestModel.js';
import { ApiClient } from '../support/http.js';
import { spawnService, tempDir, waitUntil, type Spawned } from '../support/processes.js';
import { OwnRedis } from '../hardening/ownRedis.js';

/**
 * ALLOW_REMOTE_MODELS=auto, the default, on `npm start`'s entry point: a model missing from MODELS_DIR is
 * downloaded when the hub answers (here a local server speaking the hub's listing and file protocol, serving
 * built models: the embedder through transformers.js's hub client, one variant of the decoder by the project's), and start-up falls back at once when it does not (a server
 * that accepts connections and never answers, as a black-holed network does).
 */
let own: OwnRedis;
let redis: Redis;
let redisUrl: string;

beforeAll(async () => {
  own = await OwnRedis.start();
  const r = { url: own.url, redis: own.redis };
  redis = r.redis;
  redisUrl = r.url;
});
afterAll(async () => {
  await own?.stop();
});

/** Resolves when the process reports its generator settled (loaded, or known to be unavailable). */
function generatorSettled(s: Spawned): Promise<string> {
  return new Promise((resolve) => s.child.on('message', (m: { type?: string; state?: string }) => m?.type === 'generator' && resolve(m.state ?? '')));
}

describe('first start with models missing from MODELS_DIR', () => {
  it('falls back at once, with the usual messages, when the hub does not answer', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => sockets.push(s)); // accepts, never answers
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}/`;
    const started = Date.now();
    // The default model ids and the default ALLOW_REMOTE_MODELS (an empty value means unset).
    const api = await spawnService(
      'services/main.js',
      { REDIS_URL: redisUrl, DATA_DIR: tempDir('hub-off'), MODELS_DIR: tempDir('hub-off-models'), PORT: '0', RUN_WORKERS: 'false', ALLOW_REMOTE_MODELS: '', HF_ENDPOINT: endpoint, LOG_LEVEL: 'info', EMBEDDING_MODEL: '', GENERATOR_MODEL: '' },
      'listening',
      120_000,
    );
    try {
      const state = await generatorSettled(api);
      const seconds = (Date.now() - started) / 1000;
      expect(state).toBe('unavailable');
      const out = api.output();
      const why = `the model hub at ${endpoint} does not answer (no answer within 3000 ms), so nothing was downloaded (ALLOW_REMOTE_MODELS=auto)`;
      expect(out).toContain('embedding model Xenova/all-MiniLM-L6-v2 could not be loaded; using use-lite');
      expect(out).toContain(why);
      expect(out).toMatch(/generator model onnx-community\/Qwen2\.5-0\.5B-Instruct is not available: .*does not answer \(no answer within 3000 ms\).*rag models pull/);
      // Two probes of 3 s at most (embedder thread, generator), nothing waits on the dead connection beyond them.
      expect(seconds).toBeLessThan(60);
      const client = new ApiClient(`http://127.0.0.1:${api.port}`);
      await waitUntil(async () => (await client.get('/readyz')).status === 200, 60_000, 'ready');
      const posted = await client.post('/v1/collections/offline/documents', { id: 'a', text: 'The hub was unreachable, yet ingestion works.' });
      expect(posted.status).toBe(202);
    } finally {
      await api.kill();
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });

  it('downloads what is missing, with progress in the log, when the hub answers', async () => {
    // A hub-protocol file server (GET /<org>/<name>/resolve/main/<file>) over two built models.
    const hubRoot = tempDir('hub-files');
    buildTestModel('tiny', path.join(hubRoot, 'test-org', 'tiny', 'resolve', 'main'), { seed: 3 });
    buildTestModel('tiny-encoder', path.join(hubRoot, 'test-org', 'tiny-encoder', 'resolve', 'main'), { seed: 3 });
    const requests: string[] = [];
    const hub = express();
    hub.use((req, _res, next) => {
      // transformers.js probes some files with a one-byte range request before fetching them whole.
      if (!req.headers.range) requests.push(`${req.method} ${req.path}`);
      next();
    });
    // The file listing (GET /api/models/<org>/<name>/revision/<rev>): the decoder download fetches one variant of it.
    hub.get('/api/models/:org/:name/revision/:rev', (req, res) => {
      const root = path.join(hubRoot, req.params.org, req.params.name, 'resolve', 'main');
      const files = fs.readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => fs.statSync(path.join(root, f)).isFile());
      res.json({ siblings: files.map((f) => ({ rfilename: f.split(path.sep).join('/') })) });
    });
    hub.use(express.static(hubRoot));
    const server: Server = await new Promise((resolve) => {
      const s = hub.listen(0, '127.0.0.1', () => resolve(s));
    });
    const endpoint = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`;
    const modelsDir = tempDir('hub-models');
    const api = await spawnService(
      'services/main.js',
      {
        REDIS_URL: redisUrl,
        DATA_DIR: tempDir('hub-on'),
        MODELS_DIR: modelsDir,
        PORT: '0',
        // The worker process needs the generator too: the two processes must not download it twice.
        RUN_WORKERS: 'true',
        ALLOW_REMOTE_MODELS: '',
        HF_ENDPOINT: endpoint,
        LOG_LEVEL: 'info',
        GENERATOR_MODEL: 'test-org/tiny',
        EMBEDDING_MODEL: 'test-org/tiny-encoder',
      },
      'listening',
      180_000,
    );
    try {
      expect(await generatorSettled(api)).toBe('ready');
      const client = new ApiClient(`http://127.0.0.1:${api.port}`);
      await waitUntil(async () => (await client.get('/readyz')).status === 200, 120_000, 'ready');
      const out = api.output();
      expect(out).toMatch(/downloading test-org\/tiny: onnx\/model\.onnx/);
      expect(out).toMatch(/downloading test-org\/tiny-encoder: onnx\/model\.onnx/);
      expect(out).toMatch(/"percent":100/);
      for (const name of ['tiny', 'tiny-encoder']) {
        const got = fs.readFileSync(path.join(modelsDir, 'test-org', name, 'onnx', 'model.onnx'));
        expect(got.equals(fs.readFileSync(path.join(hubRoot, 'test-org', name, 'resolve', 'main', 'onnx', 'model.onnx')))).toBe(true);
        // Downloaded once, though the API and the worker process both wanted it.
        expect(requests.filter((r) => r === `GET /test-org/${name}/resolve/main/onnx/model.onnx`)).toHaveLength(1);
      }
      const overview = await client.get('/v1/admin/overview');
      expect(overview.body.embedder.id).toBe('transformers:test-org/tiny-encoder');
      expect(overview.body.generator).toMatchObject({ state: 'ready', configured: 'test-org/tiny' });
    } finally {
      await api.kill();
      server.close();
    }
  });
});
