import net from 'node:net';
import type { Redis } from 'ioredis';
import { freshRedis, spawnService, tempDir, type Spawned } from '../../support/processes.js';

/**
 * Slow clients are cut off: headers or a body trickling in at 1 byte/s get 408 and a closed connection once
 * HTTP_HEADERS_TIMEOUT_MS / HTTP_REQUEST_TIMEOUT_MS have passed, and one address cannot hold more than
 * HTTP_MAX_CONNECTIONS_PER_CLIENT connections, while other clients are still served.
 */
const HEADERS_MS = 2000;
const REQUEST_MS = 4000;
const PER_CLIENT = 8;
/** Generous for a loaded machine; without the limits these requests stay open for minutes (or forever). */
const SLACK_MS = 5000;
let redis: Redis;
let api: Spawned;
const sockets: net.Socket[] = [];

beforeAll(async () => {
  const r = await freshRedis(15);
  redis = r.redis;
  api = await spawnService(
    'services/main.js',
    {
      REDIS_URL: r.url,
      DATA_DIR: tempDir('slow'),
      PORT: '0',
      RUN_WORKERS: 'false',
      GENERATOR_MODEL: 'absent/model',
      HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_MS),
      HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_MS),
      HTTP_MAX_CONNECTIONS_PER_CLIENT: String(PER_CLIENT),
    },
    'listening',
  );
}, 60_000);

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await api?.kill();
  redis?.disconnect();
});

interface Trickle {
  /** The status line the server answered with, if any. */
  status: Promise<{ status: number | null; ms: number; bytesSent: number }>;
}

/** A raw connection that sends `head` at once and then `rest` one byte per second, recording the answer and when the server closed. */
function trickle(head: string, rest: string, localAddress = '127.0.0.1'): Trickle {
  const started = performance.now();
  const socket = net.connect({ port: api.port!, host: '127.0.0.1', localAddress });
  sockets.push(socket);
  let received = '';
  let sent = 0;
  socket.on('data', (d) => (received += d.toString()));
  socket.on('error', () => undefined);
  socket.on('connect', () => {
    socket.write(head);
    const timer = setInterval(() => {
      if (sent >= rest.length || socket.destroyed || !socket.writable) return clearInterval(timer);
      socket.write(rest[sent++]!);
    }, 1000);
    socket.on('close', () => clearInterval(timer));
  });
  return {
    status: new Promise((resolve) =>
      socket.on('close', () => {
        const m = /^HTTP\/1\.1 (\d{3})/.exec(received);
        resolve({ status: m ? Number(m[1]) : null, ms: performance.now() - started, bytesSent: sent });
      }),
    ),
  };
}

async function get(path: string, localAddress: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port: api.port!, host: '127.0.0.1', localAddress }, () => socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    let received = '';
    socket.on('data', (d) => (received += d.toString()));
    socket.on('error', reject);
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1] ?? 0)));
  });
}

it('headers arriving at 1 byte/s: 408 and closed after HTTP_HEADERS_TIMEOUT_MS', async () => {
  const t = trickle('GET /healthz HTTP/1.1\r\n', 'Host: 127.0.0.1\r\nX-Slow: ' + 'a'.repeat(200) + '\r\n\r\n');
  const r = await t.status;
  expect(r.status).toBe(408);
  expect(r.ms).toBeGreaterThanOrEqual(HEADERS_MS * 0.9);
  expect(r.ms).toBeLessThan(HEADERS_MS + SLACK_MS);
}, 30_000);

it('a 278-byte body at 1 byte/s: 408 and closed after HTTP_REQUEST_TIMEOUT_MS, not 200 after 278 s', async () => {
  const body = JSON.stringify({ collection: 'none', query: 'x'.repeat(240) }).slice(0, 278).padEnd(278, ' ');
  const t = trickle(`POST /v1/search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`, body);
  const r = await t.status;
  expect(r.status).toBe(408);
  expect(r.bytesSent).toBeLessThan(body.length);
  expect(r.ms).toBeGreaterThanOrEqual(REQUEST_MS * 0.9);
  expect(r.ms).toBeLessThan(REQUEST_MS + SLACK_MS);
}, 60_000);

it('50 slow connections from one address: only HTTP_MAX_CONNECTIONS_PER_CLIENT are held (the rest get 429 at once), all are closed by the deadline, and other clients are served meanwhile', async () => {
  const started = performance.now();
  const slow = Array.from({ length: 50 }, () => trickle('POST /v1/search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n', '{'.repeat(500)));
  // Another client address is not affected by this one's cap (127.0.0.0/8 is all loopback).
  await new Promise((r) => setTimeout(r, 500));
  expect(await get('/healthz', '127.0.0.2')).toBe(200);
  const results = await Promise.all(slow.map((s) => s.status));
  const counts = new Map<number | null, number>();
  for (const r of results) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
  expect(Object.fromEntries(counts)).toEqual({ 408: PER_CLIENT, 429: 50 - PER_CLIENT });
  for (const r of results.filter((x) => x.status === 429)) expect(r.ms).toBeLessThan(SLACK_MS);
  expect(performance.now() - started).toBeLessThan(REQUEST_MS + SLACK_MS + 1000);
  // The address is served again once its connections are gone.
  expect(await get('/healthz', '127.0.0.1')).toBe(200);
}, 60_000);
