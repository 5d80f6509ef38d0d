import path from 'node:path';
import { allParagraphs, loadSquad } from '../../../indexer/sources/squad.js';
import { buildTestModel } from '../../../model/builder/buildTestModel.js';
import { VARIANT_NAMES, type VariantName } from '../../../model/builder/variants.js';
import { OwnRedis } from '../../hardening/ownRedis.js';
import { runRag, type RagRun } from '../../support/cli.js';
import { ApiClient, waitForJobs } from '../../support/http.js';
import { sharedFile, spawnService, tempDir, waitUntil, type Spawned } from '../../support/processes.js';

/**
 * The ask endpoint over every export family: one API process per replica (GENERATOR_MODEL + GENERATOR_DTYPE), basin
 * profiles calibrated for it with `rag calibrate` (blocks and full), and questions in blocks, full and head-recompute modes with
 * attention-probe ("raw") compression and basin ordering.
 */
const C = 'families';
const DTYPE: Partial<Record<VariantName, string>> = { 'optimum-fp32': 'fp32', 'optimum-fp16': 'fp16', 'optimum-q4': 'q4', 'optimum-q4f16': 'q4f16', 'optimum-int8': 'int8' };
const QUESTION = 'Which NFL team represented the AFC at Super Bowl 50?';

let own: OwnRedis;
let worker: Spawned;
let base: Record<string, string>;
let squadFile: string;

function variantEnv(v: VariantName): Record<string, string> {
  return v === 'genai-gqa' ? { ...base, GENERATOR_MODEL: 'test/tiny-gqa' } : { ...base, GENERATOR_MODEL: 'test/tiny', GENERATOR_DTYPE: DTYPE[v] as string };
}

/** The built CLI as the operator runs it (quiet logs; calibration and probe training take minutes on the test models). */
function rag(args: string[], env: Record<string, string>): Promise<RagRun> {
  return runRag(args, { env: { ...env, LOG_LEVEL: 'silent' }, timeoutMs: 240_000 });
}

beforeAll(async () => {
  // A redis-server of its own: every logical database of the shared one is taken by other test files.
  own = await OwnRedis.start();
  const modelsDir = tempDir('family-models');
  for (const v of VARIANT_NAMES) buildTestModel('tiny', path.join(modelsDir, 'test', v === 'genai-gqa' ? 'tiny-gqa' : 'tiny'), { variant: v, seed: 6 });
  buildTestModel('tiny', path.join(modelsDir, 'test', 'tiny-nopos'), { seed: 6, internalPositions: true });
  squadFile = sharedFile('squad-v1.1-dev.json');
  base = { REDIS_URL: own.url, DATA_DIR: tempDir('families'), MODELS_DIR: modelsDir, PORT: '0', RUN_WORKERS: 'false', SNAPSHOT_INTERVAL_MS: '0', PREFILL_ON_INGEST: 'false' };
  worker = await spawnService('services/workers/main.js', variantEnv('optimum-fp32'), 'ready');
  const api = await spawnService('services/main.js', variantEnv('optimum-fp32'), 'listening');
  try {
    const client = new ApiClient(`http://127.0.0.1:${api.port}`);
    const docs = allParagraphs(await loadSquad(squadFile))
      .slice(0, 8)
      .map((p) => ({ id: p.id, title: p.title, text: p.context }));
    const res = await client.post(`/v1/collections/${C}/documents`, { documents: docs });
    await waitForJobs(client, res.body.jobIds, 180_000);
  } finally {
    await api.kill();
  }
}, 300_000);

afterAll(async () => {
  await worker?.kill();
  await own?.stop();
});

describe.each(VARIANT_NAMES)('POST /v1/ask served by the %s replica', (variant) => {
  let api: Spawned;
  let client: ApiClient;

  beforeAll(async () => {
    const env = variantEnv(variant);
    // Profiles are per attention mode: one for blocks, one for full.
    for (const mode of ['blocks', 'full']) {
      const cal = await rag(['calibrate', '--k', '3', '--n', '2', '--mode', mode, '--data', squadFile], env);
      expect(cal.stderr).not.toMatch(/^rag:/m);
      expect(cal.code).toBe(0);
    }
    api = await spawnService('services/main.js', env, 'listening');
    client = new ApiClient(`http://127.0.0.1:${api.port}`);
    await waitUntil(async () => (await client.get('/readyz')).status === 200, 120_000, 'readiness');
  }, 300_000);
  afterAll(async () => {
    await api?.kill();
  });

  it('loads the variant and reports its doctor check in the admin overview', async () => {
    const o = await client.get('/v1/admin/overview');
    expect(o.status).toBe(200);
    expect(o.body.generator.state).toBe('ready');
    expect(o.body.generator.doctor).toMatchObject({ variant, logitsSelector: true, positions: variant === 'genai-gqa' ? 'rewired' : 'honoured' });
    expect(o.body.generator.doctor.selfCheck.ok).toBe(true);
    expect(o.body.generator.taps).toBe(true);
  });

  it.each([
    ['blocks', {}],
    ['full', {}],
    ['blocks', { recomputeHead: 4 }],
  ] as const)('answers in %s mode %j with attention compression and basin ordering', async (mode, extra) => {
    const r = await client.post('/v1/ask', { collection: C, question: QUESTION, k: 3, maxTokens: 4, mode, compression: 'raw', keepRatio: 0.5, order: 'basin', ...extra });
    expect(r.status).toBe(200);
    expect(r.body.mode).toBe(mode);
    expect(typeof r.body.answer).toBe('string');
    expect(r.body.usage.completionTokens).toBeGreaterThan(0);
    expect(r.body.compression.method).toBe('raw');
    expect(r.body.compression.keptTokens).toBeLessThanOrEqual(Math.floor(0.5 * r.body.compression.totalTokens));
    expect(r.body.kept.length).toBeGreaterThanOrEqual(1);
    // Ordered by the calibrated profile for this model (not the zig-zag fallback).
    expect(r.body.order.method).toBe('basin');
    expect(r.body.order.fallback).toBeUndefined();
    expect(r.body.order.profile).toHaveLength(3);
    expect(r.body.citations.length).toBeGreaterThanOrEqual(1);
  });
});

describe('a model whose graph cannot take positions', () => {
  it('answers in full mode and refuses blocks mode with a 400 naming the model and the mode that works', async () => {
    const api = await spawnService('services/main.js', { ...base, GENERATOR_MODEL: 'test/tiny-nopos' }, 'listening');
    try {
      const client = new ApiClient(`http://127.0.0.1:${api.port}`);
      await waitUntil(async () => (await client.get('/readyz')).status === 200, 120_000, 'readiness');
      expect((await client.get('/v1/admin/overview')).body.generator.doctor).toMatchObject({ positions: 'refused', reencode: null });
      const full = await client.post('/v1/ask', { collection: C, question: QUESTION, k: 2, maxTokens: 3, mode: 'full' });
      expect(full.status).toBe(200);
      const blocks = await client.post('/v1/ask', { collection: C, question: QUESTION, k: 2, maxTokens: 3 });
      expect(blocks.status).toBe(400);
      expect(blocks.body.error.field).toBe('mode');
      expect(blocks.body.error.message).toMatch(/tiny-nopos.*cannot take them.*Use mode "full"/);
    } finally {
      await api.kill();
    }
  }, 180_000);
});
