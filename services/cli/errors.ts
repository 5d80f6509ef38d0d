import { ConfigError } from '../../infra/config.js';
import { DocumentSourceError } from '../../indexer/sources/DocumentSource.js';

/** A command was called wrongly (a bad option value, an unknown name): exit code 2, like commander's own usage errors. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * The `rag` exit codes: 0 done, 1 the work failed (a job, a download, a server that answered with an
 * error), 2 the call itself was wrong (usage, configuration, input that breaks the document rules;
 * nothing was done).
 */
export function exitCodeFor(err: unknown): 1 | 2 {
  return err instanceof UsageError || err instanceof ConfigError || err instanceof DocumentSourceError ? 2 : 1;
}
