import { createRequire } from 'node:module';
import net from 'node:net';
import { capSendBuffer } from '../../infra/socketBuffer.js';

/** SO_SNDBUF as the kernel reports it (Linux: getsockopt through the same FFI library the service uses); null elsewhere. */
function sendBufferOf(socket: net.Socket): number | null {
  if (process.platform !== 'linux') return null;
  const koffi = createRequire(import.meta.url)('koffi') as { load: (lib: string) => { func: (decl: string) => (...args: unknown[]) => number } };
  const getsockopt = koffi.load('libc.so.6').func('int getsockopt(int fd, int level, int name, _Inout_ int *value, _Inout_ uint32_t *len)');
  const value = [0];
  const fd = (socket as unknown as { _handle: { fd: number } })._handle.fd;
  expect(getsockopt(fd, 1, 7, value, [4])).toBe(0);
  return value[0]!;
}

/** The send-buffer cap that stream backpressure relies on is really applied to a TCP socket (Linux: SO_SNDBUF). */
it('caps the kernel send buffer of an accepted TCP socket', async () => {
  const { applied, before, after } = await new Promise<{ applied: boolean; before: number | null; after: number | null }>((resolve, reject) => {
    const server = net.createServer((socket) => {
      const before = sendBufferOf(socket);
      const applied = capSendBuffer(socket, 8192);
      const after = sendBufferOf(socket);
      socket.end();
      server.close();
      resolve({ applied, before, after });
    });
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const c = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
      c.on('data', () => undefined);
      c.on('end', () => c.destroy());
    });
  });
  expect(applied).toBe(process.platform === 'linux' || process.platform === 'darwin');
  if (process.platform === 'linux') {
    // Linux doubles the requested value for its bookkeeping; the default is far larger, so a no-op call cannot pass.
    expect(after).toBe(2 * 8192);
    expect(before).toBeGreaterThan(2 * 8192);
  }
  expect(capSendBuffer(null, 8192)).toBe(false);
});
