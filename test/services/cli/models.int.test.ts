import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'services', 'cli', 'rag.js');

function rag(args: string[], modelsDir: string): { status: number | null; stdout: string; stderr: string; ms: number } {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, MODELS_DIR: modelsDir, LOG_LEVEL: 'silent' }, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
}

describe('rag models (built CLI)', () => {
  let modelsDir: string;
  beforeAll(() => {
    modelsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rag-models-cli-'));
  });
  afterAll(() => fs.rmSync(modelsDir, { recursive: true, force: true }));

  it('pull fails fast offline with a clear message', () => {
    const r = rag(['models', 'pull', 'HuggingFaceTB/SmolLM2-135M-Instruct'], modelsDir);
    expect(r.status).toBe(1);
    expect(r.ms).toBeLessThan(15_000);
    expect(r.stderr).toMatch(/offline: cannot reach the Hugging Face hub/);
    expect(r.stderr).toMatch(/rag models build-test tiny/);
    expect(fs.readdirSync(modelsDir)).toEqual([]);
  });

  it('build-test writes a model that list shows with its shape', () => {
    const b = rag(['models', 'build-test', 'tiny', '--seed', '4', '--attention-outputs'], modelsDir);
    expect(b.status).toBe(0);
    expect(b.stdout).toMatch(/built tiny in [\d.]+ s/);
    expect(fs.existsSync(path.join(modelsDir, 'test', 'tiny', 'onnx', 'model.onnx'))).toBe(true);
    const l = rag(['models', 'list', '--json'], modelsDir);
    expect(l.status).toBe(0);
    const listed = JSON.parse(l.stdout) as { id: string; modelType: string; shape: string }[];
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ id: 'test/tiny', modelType: 'qwen2' });
    expect(listed[0].shape).toMatch(/layers 2, hidden 64, heads 4\/2 kv/);
    const bad = rag(['models', 'build-test', 'giant'], modelsDir);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/unknown preset "giant"/);
  });
});
