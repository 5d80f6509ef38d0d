import { pino, type Logger } from 'pino';

/**
 * One structured JSON logger for the whole process; children carry a component name and request ids.
 * Logs go to stderr so stdout stays clean for command output (`rag bench --json`, `rag ingest` summaries),
 * or, with LOG_FILE, appended to that file (the test runner keeps each test file's logs there).
 */
const file = process.env.LOG_FILE?.trim();

export const logger: Logger = pino(
  {
    level: process.env.LOG_LEVEL ?? 'info',
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  },
  file ? pino.destination({ dest: file, append: true, mkdir: true, sync: true }) : pino.destination({ fd: 2, sync: true }),
);

export function componentLogger(component: string, bindings: Record<string, unknown> = {}): Logger {
  return logger.child({ component, ...bindings });
}
