import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { buildTestModel } from '../../../model/builder/buildTestModel.js';
import { VARIANTS, VARIANT_NAMES } from '../../../model/builder/variants.js';
import type { DoctorReport } from '../../../model/ModelDoctor.js';
import { runRag } from '../../support/cli.js';

async function rag(args: string[], modelsDir: string, env: Record<string, string> = {}) {
  const r = await runRag(args, { env: { MODELS_DIR: modelsDir, LOG_LEVEL: 'silent', ...env }, timeoutMs: 180_000 });
  return { ...r, status: r.code };
}

/**
 * A local HTTP server speaking the two hub endpoints `models pull` uses (the file listing and resolve/), serving
 * folders of built models: the downloader under test is the real one, over real HTTP; only the hub is local,
 * because this machine cannot reach huggingface.co.
 */
function hubServer(repos: Record<string, string>): Promise<{ url: string; close: () => Promise<void>; requested: string[] }> {
  const requested: string[] = [];
  const list = (dir: string): string[] =>
    fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => fs.statSync(path.join(dir, f)).isFile()).map((f) => f.split(path.sep).join('/'));
  const server = http.createServer((req, res) => {
    const url = decodeURIComponent(req.url ?? '/');
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/main$/.exec(url);
    const file = /^\/([^/]+\/[^/]+)\/resolve\/main\/(.+)$/.exec(url);
    if (api && repos[api[1]]) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: api[1], siblings: list(repos[api[1]]).map((rfilename) => ({ rfilename })) }));
    } else if (file && repos[file[1]] && fs.existsSync(path.join(repos[file[1]], file[2]))) {
      requested.push(file[2]);
      const p = path.join(repos[file[1]], file[2]);
      res.writeHead(200, { 'content-length': fs.statSync(p).size });
      fs.createReadStream(p).pipe(res);
    } else res.writeHead(req.method === 'HEAD' && url === '/' ? 200 : 404).end();
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(() => r())), requested }),
    ),
  );
}


describe('rag models (built CLI)', () => {
  let modelsDir: string;
  beforeAll(() => {
    modelsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rag-models-cli-'));
  });
  afterAll(() => fs.rmSync(modelsDir, { recursive: true, force: true }));

  it('pull fails fast offline with a clear message', async () => {
    const r = await rag(['models', 'pull', 'HuggingFaceTB/SmolLM2-135M-Instruct'], modelsDir);
    expect(r.status).toBe(1);
    expect(r.ms).toBeLessThan(15_000);
    expect(r.stderr).toMatch(/offline: cannot reach the Hugging Face hub/);
    expect(r.stderr).toMatch(/rag models build-test tiny/);
    expect(fs.readdirSync(modelsDir)).toEqual([]);
  });

  it('build-test writes a model that list shows with its shape', async () => {
    const b = await rag(['models', 'build-test', 'tiny', '--seed', '4', '--attention-outputs'], modelsDir);
    expect(b.status).toBe(0);
    expect(b.stdout).toMatch(/built tiny in [\d.]+ s -> .* \(optimum-fp32\)/);
    expect(fs.existsSync(path.join(modelsDir, 'test', 'tiny', 'onnx', 'model.onnx'))).toBe(true);
    const l = await rag(['models', 'list', '--json'], modelsDir);
    expect(l.status).toBe(0);
    const listed = JSON.parse(l.stdout) as { id: string; modelType: string; shape: string }[];
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ id: 'test/tiny', modelType: 'qwen2' });
    expect(listed[0].shape).toMatch(/layers 2, hidden 64, heads 4\/2 kv/);
    const bad = await rag(['models', 'build-test', 'giant'], modelsDir);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/unknown preset "giant"/);
  });
  it('build-test writes every export family under its real file name, and doctor reports each as served correctly', async () => {
    const optimum = path.join(modelsDir, 'test', 'families');
    const genai = path.join(modelsDir, 'test', 'families-gqa');
    for (const v of VARIANT_NAMES) {
      const b = await rag(['models', 'build-test', 'tiny', '--variant', v, '--out', v === 'genai-gqa' ? genai : optimum], modelsDir);
      expect(b.status).toBe(0);
      expect(b.stdout).toContain(VARIANTS[v].file);
    }
    expect((await rag(['models', 'build-test', 'tiny', '--variant', 'optimum-bnb4'], modelsDir)).stderr).toMatch(/unknown variant "optimum-bnb4"/);
    const dtypes = { 'optimum-fp32': 'fp32', 'optimum-fp16': 'fp16', 'optimum-q4': 'q4', 'optimum-q4f16': 'q4f16', 'optimum-int8': 'int8' } as const;
    for (const v of VARIANT_NAMES) {
      const args = v === 'genai-gqa' ? ['models', 'doctor', 'test/families-gqa', '--json'] : ['models', 'doctor', 'test/families', '--dtype', dtypes[v as keyof typeof dtypes], '--json'];
      const r = await rag(args, modelsDir);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const d = JSON.parse(r.stdout) as DoctorReport;
      const genaiFamily = v === 'genai-gqa';
      expect(d).toMatchObject({
        family: genaiFamily ? 'genai' : 'optimum',
        variant: v,
        file: VARIANTS[v].file,
        kvDtype: genaiFamily ? 'float16' : 'float32',
        kvBytesPerToken: 2 * 2 * 2 * 16 * (genaiFamily ? 2 : 4),
        positions: genaiFamily ? 'rewired' : 'honoured',
        taps: genaiFamily ? 'gqa-query' : 'softmax',
        tapsReason: null,
        logitsSelector: true,
      });
      expect(d.selfCheck.ok).toBe(true);
      expect(d.reencode?.ok).toBe(true);
    }
    const text = await rag(['models', 'doctor', 'test/families-gqa'], modelsDir);
    expect(text.stdout).toMatch(/positions\s+rewired/);
    expect(text.stdout).toMatch(/self-check\s+ok/);
    // The list shows the exports, not the runtime's rewritten copies.
    const listed = JSON.parse((await rag(['models', 'list', '--json'], modelsDir)).stdout) as { id: string; onnx: { file: string }[] }[];
    expect(listed.find((m) => m.id === 'test/families')?.onnx.map((f) => f.file)).toEqual(['onnx/model.onnx', 'onnx/model_fp16.onnx', 'onnx/model_int8.onnx', 'onnx/model_q4.onnx', 'onnx/model_q4f16.onnx']);
    // Twelve CLI processes, each loading onnxruntime: about 40 s on a quiet machine, several times that under load.
  }, 360_000);

  it('pull fetches the metadata and only the chosen variant with its external data', async () => {
    const hubRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'rag-hub-'));
    const optimumRepo = path.join(hubRoot, 'optimum');
    const genaiRepo = path.join(hubRoot, 'genai');
    buildTestModel('tiny', optimumRepo, { variant: 'optimum-q4', seed: 2 });
    buildTestModel('tiny', optimumRepo, { variant: 'optimum-int8', seed: 2 });
    buildTestModel('tiny', optimumRepo, { variant: 'optimum-fp32', seed: 2, overrides: { externalData: true } });
    buildTestModel('tiny', genaiRepo, { variant: 'genai-gqa', seed: 2 });
    const hub = await hubServer({ 'org/tiny': optimumRepo, 'org/tiny-gqa': genaiRepo });
    const target = fs.mkdtempSync(path.join(os.tmpdir(), 'rag-pulled-'));
    const env = { HF_ENDPOINT: hub.url };
    try {
      const q4 = await rag(['models', 'pull', 'org/tiny', '--dtype', 'q4'], target, env);
      expect(q4.stderr).not.toMatch(/rag:/);
      expect(q4.status).toBe(0);
      const pulled = (id: string) => fs.readdirSync(path.join(target, id), { recursive: true, encoding: 'utf8' }).filter((f) => !fs.statSync(path.join(target, id, f)).isDirectory()).sort();
      expect(pulled('org/tiny')).toEqual(['config.json', 'generation_config.json', 'onnx/model_q4.onnx', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json'].map((f) => f.split('/').join(path.sep)));
      const fp32 = await rag(['models', 'pull', 'org/tiny', '--dtype', 'fp32'], target, env);
      expect(fp32.status).toBe(0);
      expect(pulled('org/tiny')).toContain(path.join('onnx', 'model.onnx_data'));
      expect(pulled('org/tiny')).not.toContain(path.join('onnx', 'model_int8.onnx'));
      const missing = await rag(['models', 'pull', 'org/tiny', '--dtype', 'fp16'], target, env);
      expect(missing.status).toBe(1);
      expect(missing.stderr).toMatch(/no onnx\/model_fp16\.onnx \(dtype fp16\); it has fp32, q4, int8/);
      const gqa = await rag(['models', 'pull', 'org/tiny-gqa'], target, env);
      expect(gqa.status).toBe(0);
      expect(pulled('org/tiny-gqa')).toEqual(
        ['config.json', 'genai_config.json', 'generation_config.json', 'onnx/model_q4f16.onnx', 'onnx/model_q4f16.onnx.data', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json'].map((f) => f.split('/').join(path.sep)),
      );
      expect(hub.requested.filter((f) => f.startsWith('onnx/model_int8'))).toEqual([]);
      // The pulled folder is served like the original.
      const d = JSON.parse((await rag(['models', 'doctor', 'org/tiny-gqa', '--json'], target, env)).stdout) as DoctorReport;
      expect(d).toMatchObject({ variant: 'genai-gqa', positions: 'rewired' });
      expect(d.selfCheck.ok).toBe(true);
    } finally {
      await hub.close();
      fs.rmSync(hubRoot, { recursive: true, force: true });
      fs.rmSync(target, { recursive: true, force: true });
    }
  });
});
