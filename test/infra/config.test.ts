import path from 'node:path';
import { loadConfig, ConfigError } from '../../infra/config.js';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(8080);
    expect(c.REDIS_URL).toBe('redis://127.0.0.1:6379');
    expect(c.dataDir).toBe(path.resolve('./data'));
    expect(c.modelsDir).toBe(path.resolve('./models'));
    expect(c.ALLOW_REMOTE_MODELS).toBe('auto');
    expect(c.HF_ENDPOINT).toBe('https://huggingface.co/');
  });

  it('parses numbers and booleans', () => {
    const c = loadConfig({ PORT: '9000', ALLOW_REMOTE_MODELS: 'yes', ORT_INTRA_OP_THREADS: '2' });
    expect(c.PORT).toBe(9000);
    expect(c.ALLOW_REMOTE_MODELS).toBe(true);
    expect(c.ORT_INTRA_OP_THREADS).toBe(2);
  });

  it('names every invalid variable in one error', () => {
    let err: unknown;
    try {
      loadConfig({ PORT: 'eighty', REDIS_URL: 'http://x', ADMIN_API_KEY: 'short' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/PORT="eighty"/);
    expect(msg).toMatch(/REDIS_URL="http:\/\/x": must start with redis/);
    expect(msg).toMatch(/ADMIN_API_KEY/);
    expect((err as ConfigError).problems).toHaveLength(3);
  });
});
