import type { Response } from 'express';

/** Server-sent events on an express response: `event: <name>` + one JSON `data:` line per event. */
export class SseStream {
  private closed = false;

  constructor(private readonly res: Response) {
    res.status(200);
    res.setHeader('content-type', 'text/event-stream; charset=utf-8');
    res.setHeader('cache-control', 'no-cache, no-transform');
    res.setHeader('connection', 'keep-alive');
    res.setHeader('x-accel-buffering', 'no');
    res.flushHeaders();
    res.on('close', () => (this.closed = true));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  send(event: string | null, data: unknown): void {
    if (this.closed) return;
    const payload = typeof data === 'string' ? data : JSON.stringify(data);
    this.res.write(`${event ? `event: ${event}\n` : ''}data: ${payload}\n\n`);
  }

  end(): void {
    if (!this.closed) this.res.end();
    this.closed = true;
  }
}

export function wantsEventStream(accept: string | undefined, stream: boolean | undefined): boolean {
  return stream === true || (!!accept && accept.includes('text/event-stream'));
}
