import fs from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { keys } from '../../../indexer/store/keys.js';
import { LINGERING, runRag, type RagRun } from '../../support/cli.js';
import { sharedFile, spawnService, tempDir, type Spawned } from '../../support/processes.js';
import { OwnRedis } from '../../hardening/ownRedis.js';
import { QUEUE_PREFIX, QUEUES } from '../../../indexer/pipeline/jobs.js';

/**
 * Every `rag` command as a user runs it: a child process with piped output, which must exit by itself
 * (0 done, 1 failed, 2 bad usage or input) well within its timeout. Real Redis (a private redis-server), real
 * in-process workers, a real API for `rag ask`.
 */
let own: OwnRedis;
let redis: Redis;
let env: Record<string, string>;
let docsDir: string;
let root: string;

const C = 'clidocs';
const TEXTS = {
  'alpha.txt': 'Alpha essays talk about orchards. The orchard keeper grows pears and quinces.',
  'beta.md': 'Beta notes describe harbours. Ships leave the harbour at dawn with the tide.',
  'gamma.txt': 'Gamma writing covers mountains. Climbers rope up before the glacier crossing.',
};

function summary(r: RagRun): Record<string, any> {
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as Record<string, any>;
  } catch {
    throw new Error(`no JSON summary on stdout (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
}

/** The collections of every ingestion flow in the queue (each root job's data names its collection). */
async function queuedCollections(): Promise<string[]> {
  const out: string[] = [];
  for (const key of await redis.keys(`${QUEUE_PREFIX}:${QUEUES.index}:ing-*`)) {
    if ((await redis.type(key)) !== 'hash') continue;
    const data = await redis.hget(key, 'data');
    if (data) out.push((JSON.parse(data) as { collection: string }).collection);
  }
  return out;
}

/** Finished by itself, with this code, and nothing kept it alive after its work. */
function expectExit(r: RagRun, code: number): void {
  expect({ timedOut: r.timedOut, code: r.code, lingering: LINGERING.test(r.stderr) }).toEqual({ timedOut: false, code, lingering: false });
}

beforeAll(async () => {
  own = await OwnRedis.start();
  const r = { url: own.url, redis: own.redis };
  redis = r.redis;
  root = tempDir('cli');
  docsDir = path.join(root, 'docs');
  fs.mkdirSync(docsDir);
  for (const [name, text] of Object.entries(TEXTS)) fs.writeFileSync(path.join(docsDir, name), text);
  env = { REDIS_URL: r.url, DATA_DIR: path.join(root, 'data'), MODELS_DIR: path.join(root, 'models'), EMBEDDING_MODEL: 'use-lite', SNAPSHOT_INTERVAL_MS: '0' };
});

afterAll(async () => {
  await own?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('rag ingest', () => {
  it('ingests a folder, exits 0 and counts every document as indexed', async () => {
    const r = await runRag(['ingest', docsDir, '-c', C], { env, timeoutMs: 120_000 });
    expectExit(r, 0);
    expect(summary(r)).toMatchObject({ collection: C, submitted: 3, indexed: 3, unchanged: 0, failed: 0, documents: 3 });
  });

  it('a re-run over unchanged documents counts them as unchanged and exits 0', async () => {
    const r = await runRag(['ingest', docsDir, '-c', C], { env, timeoutMs: 60_000 });
    expectExit(r, 0);
    expect(summary(r)).toMatchObject({ submitted: 3, indexed: 0, unchanged: 3, failed: 0, documents: 3 });
  });

  it('an edited document is indexed again, the others stay unchanged', async () => {
    const edited = path.join(root, 'edited');
    fs.cpSync(docsDir, edited, { recursive: true });
    fs.appendFileSync(path.join(edited, 'beta.md'), ' The lighthouse keeper logs every arrival.');
    const r = await runRag(['ingest', edited, '-c', C], { env, timeoutMs: 60_000 });
    expectExit(r, 0);
    expect(summary(r)).toMatchObject({ submitted: 3, indexed: 1, unchanged: 2, documents: 3 });
  });

  it('--no-wait enqueues and exits 0 at once', async () => {
    const jsonl = path.join(root, 'later.jsonl');
    fs.writeFileSync(jsonl, `${JSON.stringify({ id: 'later-1', text: 'Queued for later by the no-wait option.' })}\n`);
    const r = await runRag(['ingest', jsonl, '-c', 'clilater', '--no-wait'], { env, timeoutMs: 60_000 });
    expectExit(r, 0);
    expect(summary(r)).toEqual({ collection: 'clilater', submitted: 1, unchanged: 0 });
  });

  it('refuses records that break the HTTP API document rules, naming file, line and field, and ingests nothing (exit 2)', async () => {
    const bad = path.join(root, 'bad.jsonl');
    fs.writeFileSync(
      bad,
      [
        JSON.stringify({ id: 'fine-1', text: 'A perfectly good record.' }),
        JSON.stringify({ id: 'bell', text: 'rings \u0007 here' }),
        JSON.stringify({ id: '../etc/passwd', text: 'path in the id' }),
        JSON.stringify({ id: 'big', text: 'metadata too large', metadata: { blob: 'x'.repeat(70 * 1024) } }),
        '',
        '{"id": "broken", "text": ',
      ].join('\n'),
    );
    const r = await runRag(['ingest', bad, '-c', 'clibad'], { env, timeoutMs: 60_000 });
    expectExit(r, 2);
    expect(r.stderr).toContain(`${bad}:6: invalid JSON`);
    const fixed = bad.replace(/bad\.jsonl$/, 'bad2.jsonl');
    fs.writeFileSync(fixed, fs.readFileSync(bad, 'utf8').split('\n').slice(0, 4).join('\n'));
    const r2 = await runRag(['ingest', fixed, '-c', 'clibad'], { env, timeoutMs: 60_000 });
    expectExit(r2, 2);
    expect(r2.stderr).toContain('3 problems in the input; nothing was ingested');
    expect(r2.stderr).toContain(`${fixed}:2: text: must not contain control characters`);
    expect(r2.stderr).toMatch(new RegExp(`${fixed.replace(/[.]/g, '\\.')}:3: id: must be 1-128 characters`));
    expect(r2.stderr).toContain(`${fixed}:4: metadata: must be at most 65536 bytes as JSON`);
    expect(await redis.exists(keys.docs('clibad'))).toBe(0);
    const queued = await queuedCollections();
    expect(queued).toContain(C);
    expect(queued).not.toContain('clibad');
  });

  it('duplicate ids in one input are refused like a duplicate in an HTTP batch', async () => {
    const dup = path.join(root, 'dup.json');
    fs.writeFileSync(dup, JSON.stringify([{ id: 'twice', text: 'one' }, { id: 'twice', text: 'two' }]));
    const r = await runRag(['ingest', dup, '-c', 'clidup'], { env, timeoutMs: 60_000 });
    expectExit(r, 2);
    expect(r.stderr).toContain(`${dup}[1]: id twice appears more than once (first at ${dup}[0])`);
  });

  it('bad usage exits 2 with the reason', async () => {
    const cases: [string[], RegExp][] = [
      [['ingest', path.join(root, 'missing-folder'), '-c', C], /no such file or folder/],
      [['ingest', docsDir, '-c', 'no spaces'], /--collection "no spaces"/],
      [['ingest', docsDir, '-c', C, '--workers', 'maybe'], /--workers "maybe"/],
      [['ingest', docsDir], /required option '-c, --collection <name>'/],
      [['no-such-command'], /unknown command 'no-such-command'/],
      [['keys', 'create', '--name', 'x', '--scopes', 'root'], /--scopes: unknown root/],
      [['models', 'build-test', 'giant'], /unknown preset "giant"/],
      [['bench', 'nothing', '--json'], /unknown benchmark "nothing"/],
      [['calibrate', '--k', 'many'], /--k must be an integer >= 1/],
      // The evaluation's scratch collection is checked like ingest's (a usage error, before anything is ingested).
      [['eval', 'squad', sharedFile('squad-v1.1-dev.json'), '--collection', 'no spaces', '--n', '1'], /--collection "no spaces"/],
    ];
    const runs = await Promise.all(cases.map(([args]) => runRag(args, { env, timeoutMs: 60_000 })));
    runs.forEach((r, i) => {
      expectExit(r, 2);
      expect(r.stderr).toMatch(cases[i]![1]);
    });
  });

  it('prints a progress line every few seconds when stderr is not a terminal, and finishes once workers come', async () => {
    const slow = path.join(root, 'slow');
    fs.mkdirSync(slow);
    for (let i = 0; i < 4; i++) fs.writeFileSync(path.join(slow, `s${i}.txt`), `Progress document ${i} waits for a worker to arrive.`);
    let workers: Spawned | undefined;
    let starting: Promise<Spawned> | undefined;
    try {
      const run = runRag(['ingest', slow, '-c', 'cliprogress', '--workers', 'no'], {
        env,
        timeoutMs: 180_000,
        // Two lines while nothing moves, then workers arrive and the jobs finish.
        onStderr: (all) => {
          if (!starting && (all.match(/^index 0\/4 docs/gm) ?? []).length >= 2) {
            starting = spawnService('services/workers/main.js', env, 'ready', 120_000);
          }
        },
      });
      const r = await run;
      workers = await starting;
      expectExit(r, 0);
      const lines = r.stderr.split('\n').filter((l) => /^(enqueue|index) \d+\/4 docs/.test(l));
      expect(lines.filter((l) => l.startsWith('index 0/4')).length).toBeGreaterThanOrEqual(2);
      expect(lines.at(-1)).toMatch(/^index 4\/4 docs \(100%\), \S+ elapsed/);
      // A plain line, not a bar redrawn with terminal escapes.
      expect(r.stderr).not.toMatch(/\u001b\[/);
      expect(summary(r)).toMatchObject({ indexed: 4, failed: 0 });
    } finally {
      await workers?.kill();
    }
  });
});

describe('the other commands exit when done', () => {
  let api: Spawned;
  beforeAll(async () => {
    api = await spawnService('services/main.js', { ...env, PORT: '0', RUN_WORKERS: 'false' }, 'listening', 120_000);
  });
  afterAll(async () => {
    await api?.kill();
  });

  it('reindex: 0 for a collection, 1 for a missing one', async () => {
    const [ok, missing] = await Promise.all([runRag(['reindex', '-c', C], { env }), runRag(['reindex', '-c', 'nowhere'], { env })]);
    expectExit(ok, 0);
    expect(summary(ok)).toMatchObject({ collection: C, chunks: 3 });
    expectExit(missing, 1);
    expect(missing.stderr).toMatch(/collection nowhere not found/);
  });

  it('keys create / list / revoke, and 1 for an unknown key', async () => {
    const created = await runRag(['keys', 'create', '--name', 'cli-test', '--scopes', 'ask,ingest'], { env });
    expectExit(created, 0);
    const { id } = summary(created) as { id: string };
    const listed = await runRag(['keys', 'list'], { env });
    expectExit(listed, 0);
    expect((JSON.parse(listed.stdout) as { id: string }[]).map((k) => k.id)).toContain(id);
    expectExit(await runRag(['keys', 'revoke', id], { env }), 0);
    const again = await runRag(['keys', 'revoke', id], { env });
    expectExit(again, 1);
    expect(again.stderr).toMatch(/not found/);
  });

  it('ask: an extractive answer (asked, or as the fallback without a generator), 1 with the 503 for a generator mode, 1 when no service answers', async () => {
    const url = `http://127.0.0.1:${api.port}`;
    const [fallback, extractive, asJson, noModel, noService] = await Promise.all([
      runRag(['ask', 'Who keeps the orchard?', '-c', C, '--url', url], { env }),
      runRag(['ask', 'Who keeps the orchard?', '-c', C, '--url', url, '--mode', 'extractive'], { env }),
      runRag(['ask', 'Who keeps the orchard?', '-c', C, '--url', url, '--mode', 'extractive', '--json'], { env }),
      runRag(['ask', 'Who keeps the orchard?', '-c', C, '--url', url, '--mode', 'blocks'], { env }),
      runRag(['ask', 'Who keeps the orchard?', '-c', C, '--url', 'http://127.0.0.1:9'], { env }),
    ]);
    // Which sentence wins is the ranker's business (measured by `rag eval squad`); here: the CLI prints the service's answer.
    expectExit(asJson, 0);
    const res = JSON.parse(asJson.stdout) as { answer: string; mode: string; citations: { documentId: string; start: number; end: number }[] };
    expect(res.mode).toBe('extractive');
    expect(TEXTS['alpha.txt'].slice(res.citations[0]!.start, res.citations[0]!.end)).toBe(res.answer);
    expectExit(fallback, 0);
    expect(fallback.stdout).toBe(`${res.answer}\n`);
    expect(fallback.stderr).toMatch(/note: no generator available/);
    expect(fallback.stderr).toMatch(/mode: extractive/);
    expectExit(extractive, 0);
    expect(extractive.stdout).toBe(fallback.stdout);
    expect(extractive.stderr).not.toMatch(/note:/);
    expectExit(noModel, 1);
    expect(noModel.stderr).toMatch(/503: generator model .* is not available/);
    expectExit(noService, 1);
    expect(noService.stderr).toMatch(/cannot reach the service at http:\/\/127\.0\.0\.1:9 .*npm start/);
  });

  it('models list, help and a calibration without a model', async () => {
    const [list, help, calibrate] = await Promise.all([
      runRag(['models', 'list'], { env }),
      runRag(['--help'], { env }),
      runRag(['calibrate', '--k', '2', '--n', '2'], { env }),
    ]);
    expectExit(list, 0);
    expect(list.stdout).toMatch(/no models under/);
    expectExit(help, 0);
    expect(help.stdout).toMatch(/Usage: rag/);
    expectExit(calibrate, 1);
    expect(calibrate.stderr).toMatch(/not found/);
  });
});
