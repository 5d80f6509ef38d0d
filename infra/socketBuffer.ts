import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { componentLogger } from './logger.js';

const log = componentLogger('socket');

type SetSockOpt = (socket: Socket, level: number, option: number, value: number) => void;

/** SOL_SOCKET / SO_SNDBUF per platform (Linux, then the BSD values macOS uses). */
const CONSTANTS: Partial<Record<NodeJS.Platform, { level: number; sndbuf: number }>> = {
  linux: { level: 1, sndbuf: 7 },
  darwin: { level: 0xffff, sndbuf: 0x1001 },
};

let setsockopt: SetSockOpt | null | undefined;

function load(): SetSockOpt | null {
  if (setsockopt !== undefined) return setsockopt;
  try {
    // N-API prebuilds ship inside the package; no install script runs.
    setsockopt = (createRequire(import.meta.url)('sockopt') as { setsockopt: SetSockOpt }).setsockopt;
  } catch (e) {
    log.warn({ err: (e as Error).message }, 'sockopt unavailable: stream sockets keep the kernel send buffer (backpressure starts later)');
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
  const c = CONSTANTS[process.platform];
  const set = c ? load() : null;
  if (!socket || !c || !set) return false;
  try {
    set(socket, c.level, c.sndbuf, bytes);
    return true;
  } catch (e) {
    log.debug({ err: (e as Error).message }, 'could not cap the send buffer');
    return false;
  }
}
