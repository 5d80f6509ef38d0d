/** One server-sent event of a finished stream: its name (`message` when unnamed) and its data lines joined by newlines. */
export interface SseEvent {
  event: string;
  data: string;
}

/** Splits a whole `text/event-stream` body into its events (blank-line separated blocks). */
export function sseEvents(body: string): SseEvent[] {
  return body
    .split('\n\n')
    .filter((b) => b.trim())
    .map((block) => ({
      event: /^event: (.*)$/m.exec(block)?.[1] ?? 'message',
      data: block
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n'),
    }));
}
