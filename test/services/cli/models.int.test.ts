import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runRag } from '../../support/cli.js';

async function rag(args: string[], modelsDir: string) {
  const r = await runRag(args, { env: { MODELS_DIR: modelsDir, LOG_LEVEL: 'silent' } });
  return { ...r, status: r.code };
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
    expect(b.stdout).toMatch(/built tiny in [\d.]+ s/);
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
});
