import http from 'node:http';
import type { Socket } from 'node:net';
import type { Express } from 'express';
import { DomainError } from '../../infra/errors.js';
import { componentLogger } from '../../infra/logger.js';
import { describeError } from './errors.js';

const log = componentLogger('http-server');

export interface ConnectionLimits {
  /** The request line and headers must arrive within this (slow-header clients get 408 and are closed). */
  headersTimeoutMs: number;
  /** The whole request, body included, must arrive within this (slow bodies: 408 and closed). */
  requestTimeoutMs: number;
  /** Open connections per peer address; 0 = no cap. Beyond it a new connection gets 429 and is closed. */
  maxConnectionsPerClient: number;
}

/** A complete response written straight to the socket (before or instead of express), mapped like every other error. */
function rawResponse(err: DomainError): string {
  const { status, body, retryAfterSeconds } = describeError(err);
  const json = JSON.stringify({ error: body });
  const retry = retryAfterSeconds === undefined ? '' : `Retry-After: ${retryAfterSeconds}\r\n`;
  return `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(json)}\r\n${retry}Connection: close\r\n\r\n${json}`;
}

const TIMEOUT_RESPONSE = rawResponse(new DomainError('timeout', 'request: headers or body did not arrive in time; connection closed'));
const BAD_REQUEST_RESPONSE = rawResponse(new DomainError('invalid', 'request: malformed HTTP'));
const TOO_MANY_RESPONSE = rawResponse(new DomainError('tooMany', 'too many open connections from this client address', { retryAfterSeconds: 1 }));

/**
 * The HTTP server around the app, with the limits that protect it from slow or greedy clients: Node's own
 * headers and whole-request deadlines (checked every second instead of Node's default 30 s, so a bound of a
 * few seconds holds), a JSON 408 when they fire, and a cap on concurrent connections per peer address.
 */
export function createHttpServer(app: Express, limits: ConnectionLimits): http.Server {
  const server = http.createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
    },
    app,
  );
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // Nothing may be written once a response has started; a reset peer is simply gone.
    if (err.code !== 'ECONNRESET' && socket.writable && socket.bytesWritten === 0) {
      socket.end(err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? TIMEOUT_RESPONSE : BAD_REQUEST_RESPONSE);
    }
    socket.destroySoon();
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') log.info({ client: socket.remoteAddress }, 'request did not arrive in time: 408, connection closed');
  });
  if (limits.maxConnectionsPerClient > 0) {
    const open = new Map<string, number>();
    server.on('connection', (socket: Socket) => {
      const peer = socket.remoteAddress ?? 'unknown';
      const n = (open.get(peer) ?? 0) + 1;
      if (n > limits.maxConnectionsPerClient) {
        socket.end(TOO_MANY_RESPONSE);
        socket.destroySoon();
        return;
      }
      open.set(peer, n);
      socket.once('close', () => {
        const left = (open.get(peer) ?? 1) - 1;
        if (left > 0) open.set(peer, left);
        else open.delete(peer);
      });
    });
  }
  return server;
}
