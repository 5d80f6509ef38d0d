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

  it('uses REDIS_URL unless REDIS_CLUSTER_NODES is set, which makes the target a cluster', () => {
    expect(loadConfig({ REDIS_URL: 'redis://10.0.0.9:6380' }).redis).toEqual({ kind: 'single', url: 'redis://10.0.0.9:6380' });
    const c = loadConfig({ REDIS_URL: 'redis://ignored:1', REDIS_CLUSTER_NODES: '10.0.0.5:7000, redis-node-2:7001,[::1]:7002' });
    expect(c.redis).toEqual({
      kind: 'cluster',
      nodes: [
        { host: '10.0.0.5', port: 7000 },
        { host: 'redis-node-2', port: 7001 },
        { host: '::1', port: 7002 },
      ],
    });
    expect(c.replicaAck).toEqual({ replicas: 0, timeoutMs: 2000 });
    expect(loadConfig({ REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '500' }).replicaAck).toEqual({ replicas: 1, timeoutMs: 500 });
  });

  it('names each bad entry of REDIS_CLUSTER_NODES', () => {
    let err: unknown;
    try {
      loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:7000,127.0.0.1,bad host:7001,127.0.0.1:70000,,127.0.0.1:7000' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    expect(problems.every((p) => p.startsWith('REDIS_CLUSTER_NODES="127.0.0.1:7000,127.0.0.1,'))).toBe(true);
    expect(problems.map((p) => p.slice(p.indexOf('": ') + 3))).toEqual([
      'entry 2 "127.0.0.1" is not host:port (e.g. 10.0.0.5:7000,10.0.0.6:7000)',
      'entry 3 "bad host:7001" is not host:port (e.g. 10.0.0.5:7000,10.0.0.6:7000)',
      'entry 4 "127.0.0.1:70000" is not host:port (e.g. 10.0.0.5:7000,10.0.0.6:7000)',
      'entry 5 "" is not host:port (e.g. 10.0.0.5:7000,10.0.0.6:7000)',
      '127.0.0.1:7000 is listed twice',
    ]);
  });
});
