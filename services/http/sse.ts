import type { Response } from 'express';
import { componentLogger } from '../../infra/logger.js';
import { capSendBuffer } from '../../infra/socketBuffer.js';

const log = componentLogger('sse');

export interface StreamLimits {
  /** A client that reads nothing for this long is cut off (the ask aborts). */
  stallMs: number;
  /** Kernel send buffer of the stream's socket, so a non-reading client pauses generation within this many bytes. */
  sendBufferBytes: number;
}

/**
 * Server-sent events on an express response: `event: <name>` + one JSON `data:` line per event.
 * `send` resolves once the kernel has taken the event; when the client is not reading (the socket's send
 * buffer is full) it waits, which pauses whoever produces the events (the generator), and a client that
 * stays stalled for `stallMs` is disconnected, which aborts the ask.
 */
export class SseStream {
  private closed = false;

  constructor(
    private readonly res: Response,
    private readonly limits: StreamLimits,
  ) {
    res.status(200);
    res.setHeader('content-type', 'text/event-stream; charset=utf-8');
    res.setHeader('cache-control', 'no-cache, no-transform');
    res.setHeader('connection', 'keep-alive');
    res.setHeader('x-accel-buffering', 'no');
    capSendBuffer(res.socket, limits.sendBufferBytes);
    res.flushHeaders();
    res.on('close', () => (this.closed = true));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async send(event: string | null, data: unknown): Promise<void> {
    if (this.closed) return;
    const payload = typeof data === 'string' ? data : JSON.stringify(data);
    // Resolves when the kernel has taken the event (write callback), so nothing piles up in this process
    // beyond the socket's send buffer; a reading client sees no delay, a stalled one pauses the producer.
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.res.off('close', done);
        resolve();
      };
      const timer = setTimeout(() => {
        log.info({ stallMs: this.limits.stallMs }, 'stream not read for the stall time: closed, generation stopped');
        // Closing the response fires 'close', which aborts the ask (and resolves this wait).
        this.res.destroy();
      }, this.limits.stallMs);
      this.res.once('close', done);
      this.res.write(`${event ? `event: ${event}\n` : ''}data: ${payload}\n\n`, () => done());
    });
  }

  end(): void {
    if (!this.closed) this.res.end();
    this.closed = true;
  }
}

export function wantsEventStream(accept: string | undefined, stream: boolean | undefined): boolean {
  return stream === true || (!!accept && accept.includes('text/event-stream'));
}
