import { pino, type Logger } from 'pino';

/**
 * One structured JSON logger for the whole process; children carry a component name and request ids.
 * Logs go to stderr so stdout stays clean for command output (`rag bench --json`, `rag ingest` summaries).
 */
export const logger: Logger = pino(
  {
    level: process.env.LOG_LEVEL ?? 'info',
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  },
  pino.destination({ fd: 2, sync: true }),
);

export function componentLogger(component: string, bindings: Record<string, unknown> = {}): Logger {
  return logger.child({ component, ...bindings });
}
