import fs from 'node:fs';
import path from 'node:path';
import { Probe } from '../../compressor/Probe.js';
import { buildTestModel } from '../../model/builder/buildTestModel.js';
import { runRag } from '../support/cli.js';
import { sharedFile, tempDir } from '../support/processes.js';

/** Runs the CLI and returns its stdout, failing on any exit code but 0. */
async function run(args: string[], env: Record<string, string>): Promise<{ stdout: string }> {
  const r = await runRag(args, { env, timeoutMs: 300_000 });
  if (r.code !== 0) throw new Error(`rag ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
  return r;
}

describe('rag probe train / rag calibrate on the built tiny model (end to end)', () => {
  let root: string;
  let env: Record<string, string>;

  beforeAll(() => {
    root = tempDir('probe-cli');
    buildTestModel('tiny', path.join(root, 'models', 'test', 'tiny'), { seed: 1 });
    env = { MODELS_DIR: path.join(root, 'models'), DATA_DIR: path.join(root, 'data'), GENERATOR_MODEL: 'test/tiny', LOG_LEVEL: 'warn' };
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it('trains a probe that serving can load for this model and layout', async () => {
    const { stdout } = await run(['probe', 'train', '--data', sharedFile('squad-v1.1-dev.json'), '--n', '60'], env);
    const out = JSON.parse(stdout.trim()) as { out: string; examples: number; layout: { layers: number; heads: number }; modelId: string; templateId: string; cv: unknown[] };
    expect(out.examples).toBe(120);
    expect(out.layout).toEqual({ layers: 2, heads: 4 });
    expect(out.cv).toHaveLength(7);
    expect(out.out.startsWith(path.join(root, 'data', 'probes'))).toBe(true);
    const probe = Probe.load(out.out, { modelId: out.modelId, attentionMode: 'blocks', templateId: out.templateId, layout: { layers: 2, heads: 4 } });
    expect(probe.json.trainedOn).toEqual({ examples: 120, positives: 60, negatives: 60 });
  });

  it('calibrates a profile that sums to 1 and repeats exactly', async () => {
    const args = ['calibrate', '--k', '3', '--n', '4', '--data', sharedFile('squad-v1.1-dev.json')];
    const a = JSON.parse((await run(args, env)).stdout.trim()) as { file: string; values: number[]; k: number };
    const b = JSON.parse((await run(args, env)).stdout.trim()) as { values: number[] };
    expect(a.k).toBe(3);
    expect(a.values.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 12);
    expect(b.values).toEqual(a.values);
    expect(fs.existsSync(a.file)).toBe(true);
  });

  it('says in the help that the probe is meaningless on test models', async () => {
    const { stdout } = await run(['probe', 'train', '--help'], env);
    expect(stdout).toMatch(/meaningless/);
  });
});
