import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createEmbedder, USE_LITE_MODEL_NAME } from '../../../indexer/embedding/createEmbedder.js';
import { USE_LITE_ID } from '../../../indexer/embedding/UseLiteEmbedder.js';
import { loadConfig } from '../../../infra/config.js';

let modelsDir: string;
beforeAll(async () => {
  modelsDir = await mkdtemp(path.join(os.tmpdir(), 'models-'));
});
afterAll(async () => {
  await rm(modelsDir, { recursive: true, force: true });
});

describe('createEmbedder', () => {
  test('falls back to USE-lite when the configured model is absent and downloads are off', async () => {
    const config = loadConfig({ MODELS_DIR: modelsDir, EMBEDDING_MODEL: 'Xenova/all-MiniLM-L6-v2', ALLOW_REMOTE_MODELS: 'false' });
    const e = await createEmbedder(config);
    try {
      expect(e.kind).toBe('use-lite');
      expect(e.id).toBe(USE_LITE_ID);
      const [v] = await e.embed(['fallback still embeds']);
      expect(v.length).toBe(512);
    } finally {
      await e.close();
    }
  });

  test('EMBEDDING_MODEL=use-lite selects USE-lite directly', async () => {
    const e = await createEmbedder(loadConfig({ MODELS_DIR: modelsDir, EMBEDDING_MODEL: USE_LITE_MODEL_NAME }));
    expect(e.id).toBe(USE_LITE_ID);
    await e.close();
  });
});
