import net from 'node:net';
import { capSendBuffer } from '../../infra/socketBuffer.js';

/** The send-buffer cap that stream backpressure relies on is really applied to a TCP socket (Linux: SO_SNDBUF). */
it('caps the kernel send buffer of an accepted TCP socket', async () => {
  const applied = await new Promise<boolean>((resolve, reject) => {
    const server = net.createServer((socket) => {
      const ok = capSendBuffer(socket, 8192);
      socket.end();
      server.close();
      resolve(ok);
    });
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const c = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
      c.on('data', () => undefined);
      c.on('end', () => c.destroy());
    });
  });
  expect(applied).toBe(process.platform === 'linux' || process.platform === 'darwin');
  expect(capSendBuffer(null, 8192)).toBe(false);
});
