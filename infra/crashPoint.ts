/**
 * Test-only crash points. With RAG_CRASH_POINT=<name> a forked process (one with an IPC channel) announces
 * `{type: 'crash-point', name, ...detail}` when it reaches that point and then stops there, so a test can
 * SIGKILL it at exactly that step. Unset, or without IPC, it returns at once and changes nothing.
 */
const ARMED = process.env.RAG_CRASH_POINT;

export async function crashPoint(name: string, detail: Record<string, unknown> = {}): Promise<void> {
  if (ARMED !== name || !process.send) return;
  process.send({ type: 'crash-point', name, ...detail });
  await new Promise<never>(() => undefined);
}
