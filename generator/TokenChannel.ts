/**
 * A single-consumer async queue: the producer pushes items as they are made, the consumer iterates them as they
 * arrive. Lets generation run ahead on its own while an HTTP stream reads tokens at its own pace.
 */
export class TokenChannel<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private waiter: (() => void) | null = null;
  private closed = false;
  private error: unknown = null;
  private iterated = false;

  push(item: T): void {
    this.items.push(item);
    this.wake();
  }

  close(error?: unknown): void {
    this.closed = true;
    if (error !== undefined) this.error = error;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    if (this.iterated) throw new Error('TokenChannel can be iterated once');
    this.iterated = true;
    for (;;) {
      if (this.items.length > 0) {
        yield this.items.shift() as T;
        continue;
      }
      if (this.closed) {
        if (this.error !== null) throw this.error;
        return;
      }
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }
}
