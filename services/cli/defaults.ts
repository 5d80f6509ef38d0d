/**
 * Evaluated before any other module of the CLI (it is rag.ts's first import), so the logger sees it: a
 * command's stderr is for its progress and errors, so service logs below warnings are off unless
 * LOG_LEVEL asks for them.
 */
process.env.LOG_LEVEL ||= 'warn';
