import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../infra/config.js';
import { assertWritableDir, drainHttpServer, within } from '../../services/lifecycle.js';

/** A server whose handler answers after `delayMs`; keep-alive clients hold idle sockets open. */
async function slowServer(delayMs: number): Promise<{ server: http.Server; url: string }> {
  const server = http.createServer((_req, res) => {
    setTimeout(() => res.end('done'), delayMs);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

describe('drainHttpServer', () => {
  it('lets an in-flight request finish, closes idle keep-alive sockets, and refuses new connections', async () => {
    const { server, url } = await slowServer(300);
    const agent = new http.Agent({ keepAlive: true });
    const get = () =>
      new Promise<string>((resolve, reject) => {
        http.get(url, { agent }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve(body));
        }).on('error', reject);
      });
    expect(await get()).toBe('done'); // leaves an idle keep-alive socket behind
    const inFlight = get();
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    const drained = drainHttpServer(server, 5000);
    expect(await inFlight).toBe('done');
    expect(await drained).toEqual({ forced: false });
    expect(Date.now() - started).toBeLessThan(2000);
    await expect(fetch(url)).rejects.toThrow();
    agent.destroy();
  });

  it('cuts off requests still running at the timeout', async () => {
    const { server, url } = await slowServer(10_000);
    const pending = fetch(url).then(
      () => 'answered',
      () => 'cut off',
    );
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    expect(await drainHttpServer(server, 200)).toEqual({ forced: true });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await pending).toBe('cut off');
  });
});

describe('within', () => {
  it('resolves with the value, or with the fallback after the time limit', async () => {
    expect(await within(Promise.resolve(1), 100, 0)).toBe(1);
    expect(await within(new Promise<number>((r) => setTimeout(() => r(1), 500)), 20, 0)).toBe(0);
    await expect(within(Promise.reject(new Error('boom')), 100, 0)).rejects.toThrow('boom');
  });
});

describe('assertWritableDir', () => {
  it('creates a missing directory and accepts it', () => {
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rag-w-')), 'a', 'b');
    assertWritableDir(dir, 'DATA_DIR');
    expect(fs.statSync(dir).isDirectory()).toBe(true);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('names the variable when the path cannot be a writable directory', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rag-w-')), 'plain-file');
    fs.writeFileSync(file, 'x');
    let err: unknown;
    try {
      assertWritableDir(path.join(file, 'sub'), 'DATA_DIR');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/DATA_DIR=".*plain-file\/sub": not a writable directory \(ENOTDIR\)/);
  });
});
