import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { componentLogger } from './logger.js';

const log = componentLogger('socket');

type SetSockOpt = (fd: number, level: number, option: number, value: number) => number;

/** SOL_SOCKET / SO_SNDBUF and the C library that has setsockopt, per platform (Linux, then the BSD values macOS uses). */
const PLATFORM: Partial<Record<NodeJS.Platform, { level: number; sndbuf: number; libc: string }>> = {
  linux: { level: 1, sndbuf: 7, libc: 'libc.so.6' },
  darwin: { level: 0xffff, sndbuf: 0x1001, libc: 'libSystem.B.dylib' },
};

let setsockopt: SetSockOpt | null | undefined;

function load(libc: string): SetSockOpt | null {
  if (setsockopt !== undefined) return setsockopt;
  try {
    // koffi (an FFI library whose prebuilt binaries ship inside the package) calls the C library's setsockopt directly.
    const koffi = createRequire(import.meta.url)('koffi') as {
      load: (lib: string) => { func: (decl: string) => (...args: unknown[]) => number };
    };
    const fn = koffi.load(libc).func('int setsockopt(int fd, int level, int name, _In_ int *value, uint32_t len)');
    setsockopt = (fd, level, option, value) => fn(fd, level, option, [value], 4);
  } catch (e) {
    log.warn({ err: (e as Error).message }, 'setsockopt unavailable: stream sockets keep the kernel send buffer (backpressure starts later)');
    setsockopt = null;
  }
  return setsockopt;
}

/**
 * Caps the kernel send buffer of a socket (SO_SNDBUF; Linux doubles the value for bookkeeping). Node exposes
 * no such setting for TCP, and Linux grows a socket's send buffer on its own up to net.ipv4.tcp_wmem's
 * maximum (4 MiB by default): a client that never reads would then absorb a whole answer before write()
 * ever returns false, so the generator would run for nobody. Returns whether the cap was applied.
 */
export function capSendBuffer(socket: Socket | null | undefined, bytes: number): boolean {
  const c = PLATFORM[process.platform];
  const set = c ? load(c.libc) : null;
  const fd = (socket as unknown as { _handle?: { fd?: number } } | null | undefined)?._handle?.fd;
  if (!socket || !c || !set || typeof fd !== 'number' || fd < 0) return false;
  try {
    return set(fd, c.level, c.sndbuf, bytes) === 0;
  } catch (e) {
    log.debug({ err: (e as Error).message }, 'could not cap the send buffer');
    return false;
  }
}
