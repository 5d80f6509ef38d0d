import fs from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Queue } from 'bullmq';
import { allParagraphs, loadSquad } from '../../../indexer/sources/squad.js';
import { queueOptions, QUEUES } from '../../../indexer/pipeline/jobs.js';
import { buildTestModel } from '../../../model/builder/buildTestModel.js';
import { parseExposition, type Exposition } from '../../support/prometheus.js';
import { freshRedis, REPO, sharedFile, spawnService, tempDir, waitUntil, type Spawned } from '../../support/processes.js';
import { CHROMIUM } from '../../support/browser.js';

/**
 * The admin dashboard end to end: a real API and worker process (auth enforced, built tiny generator), a real
 * Chromium driven by playwright-core. Screenshots of every view go to test-artifacts/.
 */

// Browser globals used inside page functions (the project compiles without the DOM lib).
interface DomNode {
  textContent: string | null;
  querySelector(s: string): DomNode | null;
  querySelectorAll(s: string): Iterable<DomNode> & ArrayLike<DomNode>;
}
declare const document: DomNode & { body: { innerText: string } };
declare const window: Record<string, unknown>;
declare const location: { hash: string };

const KEY = 'h8-admin-key-0123456789abcdef';
const C = 'dashc';
const QUESTION = 'Which NFL team represented the AFC at Super Bowl 50?';
const ARTIFACTS = path.join(REPO, 'test-artifacts');

let redis: Redis;
let api: Spawned;
let worker: Spawned;
let base: string;
let browser: Browser;
let page: Page;
const consoleErrors: string[] = [];
let docCount = 0;
// The whole file shares one server; the expectations of later tests build on earlier ones.

async function call(method: string, p: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; text: string; headers: Headers }> {
  const res = await fetch(base + p, {
    method,
    redirect: 'manual',
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed, text, headers: res.headers };
}
const admin = (method: string, p: string, body?: unknown, headers: Record<string, string> = {}) => call(method, p, body, { authorization: `Bearer ${KEY}`, ...headers });

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: path.join(ARTIFACTS, `dashboard-${name}.png`), fullPage: true });
}

async function view(name: string): Promise<void> {
  await page.evaluate((h) => (location.hash = h), `#${name}`);
  await page.waitForSelector(`#view[data-view="${name}"]`);
}

async function scrape(): Promise<Exposition> {
  const r = await admin('GET', '/metrics');
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(r.text);
}

beforeAll(async () => {
  expect(fs.existsSync(CHROMIUM)).toBe(true);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const r = await freshRedis(7);
  redis = r.redis;
  const modelsDir = tempDir('models');
  buildTestModel('tiny', path.join(modelsDir, 'test', 'tiny'));
  const env = {
    REDIS_URL: r.url,
    DATA_DIR: tempDir('dash'),
    MODELS_DIR: modelsDir,
    GENERATOR_MODEL: 'test/tiny',
    PORT: '0',
    RUN_WORKERS: 'false',
    SNAPSHOT_INTERVAL_MS: '0',
    ADMIN_API_KEY: KEY,
  };
  [api, worker] = await Promise.all([spawnService('services/main.js', env, 'listening'), spawnService('services/workers/main.js', { ...env, LOG_LEVEL: 'info' }, 'ready')]);
  base = `http://127.0.0.1:${api.port}`;
  await waitUntil(async () => (await call('GET', '/readyz')).status === 200, 60_000, 'readiness');
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  // Script errors, CSP refusals, and failed requests of our pages (the deliberate wrong-key login aside).
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource') && !page.url().includes('/admin/queues')) consoleErrors.push(m.text());
  });
  page.on('response', (res) => {
    const u = new URL(res.url());
    const ours = u.pathname.startsWith('/v1/admin') || (u.pathname.startsWith('/admin') && !u.pathname.startsWith('/admin/queues'));
    if (ours && res.status() >= 400 && !(u.pathname === '/v1/admin/session' && res.request().method() === 'POST' && res.status() === 401)) consoleErrors.push(`${res.status()} ${u.pathname}`);
  });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all([api?.kill(), worker?.kill()]);
  redis?.disconnect();
});

describe('admin access control', () => {
  it('refuses every admin page and admin API without an admin session or key', async () => {
    // A browser is sent to the login page; the page itself, its script and Bull Board are not served.
    for (const p of ['/admin', '/admin/', '/admin/queues']) {
      const r = await call('GET', p, undefined, { accept: 'text/html' });
      expect([p, r.status, r.headers.get('location')]).toEqual([p, 302, '/admin/login']);
    }
    for (const p of ['/admin/app/dashboard.js', '/admin/vendor/uplot/uPlot.iife.min.js', '/admin/queues/api/queues', '/metrics', '/v1/admin/overview', '/v1/admin/ingestion', '/v1/admin/kv', '/v1/admin/latency', '/v1/admin/calibration', '/v1/admin/recent-asks']) {
      const r = await call('GET', p, undefined, { accept: 'application/json' });
      expect([p, r.status]).toEqual([p, 401]);
    }
    expect((await call('POST', '/v1/admin/calibration', { k: 2, n: 1 })).status).toBe(401);
    expect((await call('POST', '/v1/admin/jobs/rag-index/x/retry', {})).status).toBe(401);
    expect((await call('DELETE', '/v1/admin/jobs/rag-index/x')).status).toBe(401);
    // The login page is public and holds no data.
    const login = await call('GET', '/admin/login', undefined, { accept: 'text/html' });
    expect(login.status).toBe(200);
    expect(login.text).toContain('id="login-form"');

    // A key without the admin scope is refused too (403), and a wrong key never gets a session.
    const created = await admin('POST', '/v1/admin/keys', { name: 'asker', scopes: ['ask'] });
    expect(created.status).toBe(201);
    for (const p of ['/v1/admin/overview', '/metrics']) expect((await call('GET', p, undefined, { authorization: `Bearer ${created.body.key}` })).status).toBe(403);
    expect((await call('POST', '/v1/admin/session', { key: created.body.key })).status).toBe(401);
  });
});

describe('dashboard in a browser', () => {
  let answer: any;

  it('logs in through the login page', async () => {
    await page.goto(`${base}/admin/`);
    await page.waitForURL(`${base}/admin/login`);
    await shot('login');
    await page.fill('#key', 'not-the-key');
    await page.click('#login-button');
    await page.waitForSelector('#login-error:not([hidden])');
    expect(await page.textContent('#login-error')).toMatch(/not a valid admin key/);
    await page.fill('#key', KEY);
    await page.click('#login-button');
    await page.waitForURL(`${base}/admin/`);
    await page.waitForSelector('#view[data-view="overview"] .stats');
    const cookies = await page.context().cookies();
    const session = cookies.find((c) => c.name === 'rag_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
  }, 60_000);

  it('shows ingestion through the API reaching completion', async () => {
    const squad = await loadSquad(sharedFile('squad-v1.1-dev.json'));
    const docs = allParagraphs(squad)
      .slice(0, 12)
      .map((p) => ({ id: p.id, title: p.title, text: p.context }));
    docCount = docs.length;
    await view('ingestion');
    // Hold the embed step so the view can be seen mid-flight: chunked, waiting to embed, index steps waiting on children.
    const embedQueue = new Queue(QUEUES.embed, queueOptions(redis));
    await embedQueue.pause();
    const res = await admin('POST', `/v1/collections/${C}/documents`, { documents: docs }, { 'x-request-id': 'h8-ingest-req' });
    expect(res.status).toBe(202);
    const cell = (q: string, s: string) => `#view tr[data-queue="${q}"] td[data-state="${s}"]`;
    try {
      await page.waitForFunction(
        ([chunked, children, n]) => document.querySelector(chunked as string)?.textContent === String(n) && document.querySelector(children as string)?.textContent === String(n),
        [cell('rag-chunk', 'completed'), cell('rag-index', 'waiting-children'), docs.length] as const,
        { timeout: 60_000, polling: 250 },
      );
      expect((await admin('GET', `/v1/jobs/${res.body.jobIds[0]}`)).body.state).not.toBe('completed');
      await shot('ingestion-running');
    } finally {
      await embedQueue.resume();
      await embedQueue.close();
    }
    // The view polls: watch it until our jobs are done and no step of any document is waiting or running.
    await waitUntil(async () => (await Promise.all(res.body.jobIds.map((id: string) => admin('GET', `/v1/jobs/${id}`)))).every((s) => s.body.state === 'completed'), 180_000, 'ingestion');
    const settled = (q: string) => ['waiting', 'waiting-children', 'delayed', 'active'].map((s) => cell(q, s));
    const queues = ['rag-chunk', 'rag-embed', 'rag-index', 'rag-prefill'];
    await page.waitForFunction((sels) => sels.every((s) => document.querySelector(s)?.textContent === '0'), queues.flatMap(settled), { timeout: 180_000, polling: 500 });
    const depths = (await admin('GET', '/v1/admin/ingestion')).body.queues;
    await page.waitForFunction(
      (pairs) => pairs.every(([sel, n]) => document.querySelector(sel)?.textContent === n),
      depths.flatMap((q: any) => ['completed', 'failed'].map((s) => [cell(q.queue, s), Number(q.counts[s] ?? 0).toLocaleString('en-US')])) as [string, string][],
      { timeout: 10_000, polling: 500 },
    );
    const completed = Object.fromEntries(depths.map((q: any) => [q.queue, q.counts.completed]));
    for (const q of queues) expect(completed[q]).toBeGreaterThanOrEqual(docs.length);
    for (const id of res.body.jobIds) expect((await admin('GET', `/v1/jobs/${id}`)).body.state).toBe('completed');
    await shot('ingestion');
    // Worker log lines for the jobs carry the request id of the ingest call.
    const lines = worker
      .output()
      .split('\n')
      .filter((l) => l.includes('"document indexed"'))
      .map((l) => JSON.parse(l));
    expect(lines.length).toBe(docs.length);
    for (const l of lines) expect(l).toMatchObject({ requestId: 'h8-ingest-req', queue: 'rag-index', collection: C });
  }, 240_000);

  it('overview shows collections, index sizes and the models in use', async () => {
    await admin('POST', '/v1/search', { collection: C, query: 'Super Bowl', k: 3 }); // loads the collection index in the API process
    await view('overview');
    await page.waitForFunction((c) => [...document.querySelectorAll('#view td strong')].some((e) => e.textContent === c), C, { timeout: 20_000 });
    const o = (await admin('GET', '/v1/admin/overview')).body;
    const coll = o.collections.find((c: any) => c.name === C);
    expect(coll).toMatchObject({ documents: docCount });
    expect(coll.chunks).toBeGreaterThanOrEqual(docCount);
    expect(coll.index.vectors).toBe(coll.chunks);
    expect(o.generator).toMatchObject({ state: 'ready', configured: 'test/tiny', taps: true });
    expect(typeof o.generator.kvDir).toBe('string');
    await page.waitForFunction((n) => document.querySelector('#view')!.textContent!.includes(`${n}`), coll.chunks);
    const text = (await page.textContent('#view'))!;
    for (const s of [o.embedder.id, o.generator.modelId, o.generator.kvDir, 'attention taps']) expect(text).toContain(s);
    // The model doctor's report (run when the generator loaded) is in the overview and on the model panel.
    expect(o.generator.doctor).toMatchObject({ family: 'optimum', variant: 'optimum-fp32', file: 'onnx/model.onnx', kvDtype: 'float32', positions: 'honoured', taps: 'softmax', logitsSelector: true });
    expect(o.generator.doctor.selfCheck.ok).toBe(true);
    for (const s of ['model doctor', 'optimum-fp32', 'onnx/model.onnx', `${o.generator.doctor.kvBytesPerToken.toLocaleString('en-US')} bytes/token`, 'honoured', 'softmax', 'self-check']) expect(text).toContain(s);
    await shot('overview');
  }, 60_000);

  it('finds an answered question in recent questions with kept sentences highlighted as the API reported', async () => {
    const r = await admin('POST', '/v1/ask', { collection: C, question: QUESTION, k: 3, compression: 'lexical', keepRatio: 0.4, maxTokens: 8 });
    expect(r.status).toBe(200);
    answer = r.body;
    const flags = answer.passages.flatMap((p: any) => p.sentences.map((s: any) => s.kept));
    expect(flags).toContain(true);
    expect(flags).toContain(false);

    await view('recent');
    await page.waitForFunction((q) => document.querySelector('.ask-detail .question')?.textContent === q, QUESTION, { timeout: 20_000 });
    const shown = await page.$$eval('.ask-detail article.passage', (arts) =>
      arts.map((a) => ({
        chunk: a.getAttribute('data-chunk'),
        sentences: [...a.querySelectorAll('span.sent')].map((s) => ({
          start: Number(s.getAttribute('data-start')),
          end: Number(s.getAttribute('data-end')),
          kept: s.classList.contains('kept'),
          dropped: s.classList.contains('dropped'),
          text: s.textContent,
        })),
      })),
    );
    expect(shown).toHaveLength(answer.passages.length);
    for (const p of answer.passages) {
      const dom = shown.find((s) => s.chunk === p.chunkId)!;
      expect(dom).toBeDefined();
      expect(dom.sentences.map((s) => [s.start, s.end, s.kept, s.dropped])).toEqual(p.sentences.map((s: any) => [s.start, s.end, s.kept, !s.kept]));
      for (const s of dom.sentences) expect(s.text).toBe(p.text.slice(s.start - p.start, s.end - p.start));
    }
    // Passages are listed in the order they were placed in the context.
    const placed = [...answer.passages].filter((p: any) => p.slot !== null).sort((a: any, b: any) => a.slot - b.slot).map((p: any) => p.chunkId);
    expect(shown.map((s) => s.chunk).slice(0, placed.length)).toEqual(placed);
    const detail = (await page.textContent('.ask-detail'))!;
    expect(detail).toContain(answer.answer.trim());
    expect(detail).toContain(answer.order.method);
    for (const c of answer.citations) expect(detail).toContain(`${c.documentId} [${c.start}:${c.end}]`);
    expect(await page.$$('.waterfall .wf-row')).toHaveLength(6);
    // Question text and answers are shown as text, never parsed as markup.
    await shot('recent');
  }, 120_000);

  it('renders question and passage text as text (escaping)', async () => {
    const hostile = `<img src=x onerror="window.__xss=1"> what is <b>Super Bowl</b>?`;
    const r = await admin('POST', '/v1/ask', { collection: C, question: hostile, k: 2, maxTokens: 4 });
    expect(r.status).toBe(200);
    await page.waitForFunction((q) => [...document.querySelectorAll('.ask-list .ask-q')].some((e) => e.textContent === q), hostile, { timeout: 20_000 });
    await page.click('.ask-list li:first-child');
    await page.waitForFunction((q) => document.querySelector('.ask-detail .question')?.textContent === q, hostile);
    expect(await page.evaluate(() => window.__xss)).toBeUndefined();
    expect(await page.$$('.ask-detail .question img, .ask-list img')).toHaveLength(0);
  }, 60_000);

  it('KV cache view matches the API process store counters', async () => {
    await view('kv');
    await page.waitForSelector('#view tr[data-tier="memory"]');
    const kv = (await admin('GET', '/v1/admin/kv')).body;
    expect(kv.available).toBe(true);
    const memHits = kv.tiers.memory.hits + kv.tiers.disk.hits;
    expect(memHits + kv.computed).toBeGreaterThan(0);
    const cells = await page.$$eval('#view tr[data-tier="memory"] td', (tds) => tds.map((t) => t.textContent));
    expect(cells[3]).toBe(kv.tiers.memory.hits.toLocaleString('en-US'));
    expect(cells[4]).toBe(kv.tiers.memory.misses.toLocaleString('en-US'));
    await shot('kv');
  }, 30_000);

  it('latency view shows per-stage percentiles over recent questions', async () => {
    await view('latency');
    await page.waitForSelector('#view tr[data-stage="total"]');
    const l = (await admin('GET', '/v1/admin/latency')).body;
    expect(l.questions).toBe(2);
    const total = l.stages.find((s: any) => s.stage === 'total');
    expect(total.count).toBe(2);
    expect(total.values.p50).toBeLessThanOrEqual(total.values.p99);
    expect(await page.$$eval('#view tr[data-stage="total"] td', (tds) => tds[1]!.textContent)).toBe('2');
    await page.waitForSelector('#view .chart canvas');
    await shot('latency');
  }, 30_000);

  it('shows an extractive answer in recent questions: its mode, the answer sentence and candidates highlighted with their scores', async () => {
    const r = await admin('POST', '/v1/ask', { collection: C, question: QUESTION, k: 3, mode: 'extractive' });
    expect(r.status).toBe(200);
    const a = r.body;
    expect(a.mode).toBe('extractive');
    await view('recent');
    await page.waitForFunction((q) => [...document.querySelectorAll('.ask-list .ask-q')].some((e) => e.textContent === q), QUESTION, { timeout: 20_000 });
    await page.click('.ask-list li:first-child');
    await page.waitForFunction((ans) => document.querySelector('.ask-detail .answer')?.textContent === ans, a.answer, { timeout: 20_000 });
    expect(await page.textContent('.ask-detail dd.mode')).toMatch(/^extractive \(best retrieved sentence, no generator\)/);
    const detail = (await page.textContent('.ask-detail'))!;
    expect(detail).toContain(`${a.citations[0].documentId} [${a.citations[0].start}:${a.citations[0].end}]`);
    if (a.answerSpan) expect(await page.textContent('.ask-detail .answer-span mark')).toBe(a.answerSpan.text);
    // The answer and the listed candidates are the highlighted sentences, with their ranker scores.
    const kept = await page.$$eval('.ask-detail article.passage span.sent.kept', (spans) => spans.map((s) => ({ start: Number(s.getAttribute('data-start')), text: s.textContent, title: s.getAttribute('title') })));
    expect(kept.map((k) => k.start).sort((x, y) => x - y)).toEqual(a.kept.map((k: any) => k.start).sort((x: number, y: number) => x - y));
    const answerSpan = kept.find((k) => k.text === a.answer)!;
    expect(answerSpan.title).toBe(`kept · score ${a.kept[0].score.toFixed(3)}`);
    await shot('recent-extractive');
  }, 60_000);

  it('Bull Board is mounted behind the same session', async () => {
    await page.goto(`${base}/admin/queues`);
    await page.waitForFunction(() => document.body.innerText.includes('rag-index') && !document.body.innerText.includes('Loading'), undefined, { timeout: 30_000 });
    await shot('bull-board');
    await page.goto(`${base}/admin/#overview`);
    await page.waitForSelector('#view[data-view="overview"]');
  }, 60_000);

  it('failed jobs are listed with their reason and can be retried and removed', async () => {
    // A calibration over a layer the model does not have fails at once with a clear reason.
    const r = await admin('POST', '/v1/admin/calibration', { k: 2, n: 1, layers: [99] });
    expect(r.status).toBe(202);
    await view('ingestion');
    const row = `#view tr.job-failed[data-job="${r.body.jobId}"]`;
    await page.waitForSelector(row, { timeout: 60_000 });
    expect(await page.textContent(`${row} td.reason`)).toMatch(/layer 99 outside/);
    await shot('ingestion-failed');
    const firstFailure = (await admin('GET', '/v1/admin/ingestion')).body.failed.find((j: any) => j.id === r.body.jobId).finishedOn;
    await page.click(`${row} button:text("Retry")`);
    await waitUntil(async () => (await admin('GET', '/v1/admin/ingestion')).body.failed.some((j: any) => j.id === r.body.jobId && j.finishedOn > firstFailure), 60_000, 'the retried job to fail again');
    await page.waitForSelector(row);
    await page.click(`${row} button:text("Remove")`);
    await page.waitForSelector(row, { state: 'detached' });
    expect((await admin('GET', '/v1/admin/ingestion')).body.failed.some((j: any) => j.id === r.body.jobId)).toBe(false);
    expect((await admin('DELETE', `/v1/admin/jobs/rag-calibrate/${r.body.jobId}`)).status).toBe(404);
    expect((await admin('POST', `/v1/admin/jobs/nope/1/retry`, {})).status).toBe(404);
  }, 120_000);
});

describe('calibration job', () => {
  it('enqueued through the admin API, completed by the worker, shown in the dashboard API and summing to 1', async () => {
    const r = await admin('POST', '/v1/admin/calibration', { k: 3, n: 4, seed: 1 }, { 'x-request-id': 'h8-calib-req' });
    expect(r.status).toBe(202);
    expect(r.body.queue).toBe('rag-calibrate');
    await waitUntil(async () => (await admin('GET', '/v1/admin/calibration')).body.jobs.some((j: any) => j.id === r.body.jobId && j.finishedOn && !j.failedReason), 120_000, 'the calibration job');
    const c = (await admin('GET', '/v1/admin/calibration')).body;
    const profile = c.profiles.find((p: any) => p.k === 3);
    expect(profile).toMatchObject({ attentionMode: 'blocks', prompts: 4, seed: 1 });
    expect(profile.values).toHaveLength(3);
    expect(profile.values.reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(1, 9);
    for (const v of profile.values) expect(v).toBeGreaterThan(0);
    const job = c.jobs.find((j: any) => j.id === r.body.jobId);
    expect(job).toMatchObject({ progress: 100, requestId: 'h8-calib-req' });
    const saved = worker
      .output()
      .split('\n')
      .filter((l) => l.includes('"calibration saved"'))
      .map((l) => JSON.parse(l));
    expect(saved.some((l) => l.requestId === 'h8-calib-req' && l.k === 3)).toBe(true);
  }, 180_000);

  it('the calibration view draws each profile and recalibrates from its form', async () => {
    await view('calibration');
    await page.waitForSelector('#view .chart canvas');
    await page.fill('#recalibrate-form input[name="k"]', '4');
    await page.fill('#recalibrate-form input[name="n"]', '3');
    await page.click('#recalibrate');
    await page.waitForFunction(() => [...document.querySelectorAll('#view .card h2')].some((h) => /^k=4 /.test(h.textContent ?? '')), undefined, { timeout: 120_000, polling: 500 });
    const c = (await admin('GET', '/v1/admin/calibration')).body;
    const p4 = c.profiles.find((p: any) => p.k === 4);
    expect(p4.values.reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(1, 9);
    const chips = await page.$$eval('#view .card', (cards) => cards.filter((c) => /^k=4 /.test(c.querySelector('h2')?.textContent ?? '')).flatMap((c) => [...c.querySelectorAll('.chip')].map((x) => x.textContent)));
    expect(chips).toEqual(p4.values.map((v: number, i: number) => `slot ${i + 1}: ${(v * 100).toFixed(1)}%`));
    await page.waitForFunction(() => document.querySelectorAll('#view .chart canvas').length >= 2);
    await shot('calibration');
  }, 180_000);
});

describe('/metrics', () => {
  it('parses as Prometheus text; counters and histograms move after an ask', async () => {
    const before = await scrape();
    const askCount = (e: Exposition) => e.value('rag_asks_total', { mode: 'blocks', compression: 'lexical' }) ?? 0;
    const stageCount = (e: Exposition, stage: string) => e.value('rag_ask_stage_duration_seconds_count', { stage }) ?? 0;
    const askRoute = (e: Exposition) => e.value('http_request_duration_seconds_count', { route: '/v1/ask', method: 'POST', status: '200' }) ?? 0;

    const r = await admin('POST', '/v1/ask', { collection: C, question: QUESTION, k: 3, compression: 'lexical', maxTokens: 4 });
    expect(r.status).toBe(200);
    const jobId = (await admin('POST', `/v1/collections/${C}/documents`, { id: 'extra', text: 'One more short document about football.' })).body.jobIds[0];
    expect((await admin('GET', `/v1/jobs/${jobId}`)).status).toBe(200);
    const after = await scrape();

    expect(askCount(after)).toBe(askCount(before) + 1);
    for (const stage of ['retrieve', 'assemble', 'compress', 'question_prefill', 'first_token', 'decode', 'total']) expect([stage, stageCount(after, stage)]).toEqual([stage, stageCount(before, stage) + 1]);
    expect(askRoute(after)).toBe(askRoute(before) + 1);
    const totalSum = (e: Exposition) => e.value('rag_ask_stage_duration_seconds_sum', { stage: 'total' }) ?? 0;
    expect(totalSum(after) - totalSum(before)).toBeCloseTo(r.body.timings.totalMs / 1000, 6);
    expect(after.value('rag_ask_stage_duration_seconds_bucket', { stage: 'total', le: '+Inf' })).toBe(stageCount(after, 'total'));
    // Routes are labelled by their pattern, never the raw URL.
    expect(after.value('http_request_duration_seconds_count', { route: '/v1/jobs/:id', method: 'GET', status: '200' })).toBeGreaterThanOrEqual(1);
    expect(after.series('http_request_duration_seconds_count').some((m) => m.labels.route!.includes(jobId))).toBe(false);
    expect(after.family('http_request_duration_seconds').type).toBe('HISTOGRAM');
    expect(after.family('rag_ask_stage_duration_seconds').type).toBe('HISTOGRAM');
    expect(after.family('rag_asks_total').type).toBe('COUNTER');

    const depths = (await admin('GET', '/v1/admin/ingestion')).body.queues;
    const indexCompleted = depths.find((q: any) => q.queue === 'rag-index').counts.completed;
    expect(after.value('rag_queue_jobs', { queue: 'rag-index', state: 'completed' })).toBeGreaterThanOrEqual(indexCompleted - 1);
    expect(after.value('rag_queue_jobs', { queue: 'rag-calibrate', state: 'completed' })).toBeGreaterThanOrEqual(2);
    expect(after.value('rag_collection_documents', { collection: C })).toBeGreaterThanOrEqual(docCount);
    expect(after.value('rag_index_vectors', { collection: C })).toBeGreaterThanOrEqual(docCount);
    const kv = (await admin('GET', '/v1/admin/kv')).body;
    expect(after.family('rag_kv_cache_hits_total').type).toBe('COUNTER');
    expect(after.value('rag_kv_cache_hits_total', { tier: 'memory' })).toBe(kv.tiers.memory.hits);
    expect(after.value('rag_kv_cache_hits_total', { tier: 'disk' })).toBe(kv.tiers.disk.hits);
    expect(after.value('rag_kv_cache_misses_total', { tier: 'disk' })).toBe(kv.tiers.disk.misses);
    expect(after.value('rag_kv_cache_bytes', { tier: 'memory' })).toBe(kv.tiers.memory.bytes);
    expect((after.value('rag_kv_cache_hits_total', { tier: 'memory' }) ?? 0) + (after.value('rag_kv_cache_hits_total', { tier: 'disk' }) ?? 0)).toBeGreaterThan(
      (before.value('rag_kv_cache_hits_total', { tier: 'memory' }) ?? 0) + (before.value('rag_kv_cache_hits_total', { tier: 'disk' }) ?? 0),
    );
    // Default process metrics.
    expect(after.family('process_cpu_seconds_total').type).toBe('COUNTER');
    expect(after.family('nodejs_eventloop_lag_seconds').type).toBe('GAUGE');
  }, 120_000);

  it('the dashboard pages raised no script errors', () => {
    expect(consoleErrors).toEqual([]);
  });
});
