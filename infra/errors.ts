/**
 * The one error hierarchy. Code at every layer throws a DomainError (or a subclass) saying what kind of
 * failure it is; the HTTP layer maps kinds to status codes in one place (services/http/errors.ts), the CLI
 * prints the message. Kinds describe the failure, not a transport:
 *
 * - `invalid`: the caller's input is wrong (names `field` when one input is to blame)
 * - `unauthorized` / `forbidden`: no or wrong credentials / credentials without the right
 * - `notFound`, `conflict`: the thing named does not exist / the request contradicts what is stored
 * - `tooLarge`, `unsupportedMedia`: the body is too big / not in a format this service reads
 * - `tooMany`: the caller is over a limit; `retryAfterSeconds` says when to try again
 * - `timeout`: the caller was too slow (a request that did not arrive in time)
 * - `unavailable`: a dependency (Redis, the generator model) cannot serve now; `retryAfterSeconds` when known
 * - `internal`: a fault of ours (corrupt derived data that is normally rebuilt, an invariant broken)
 */
export type ErrorKind =
  | 'invalid'
  | 'unauthorized'
  | 'forbidden'
  | 'notFound'
  | 'conflict'
  | 'tooLarge'
  | 'unsupportedMedia'
  | 'tooMany'
  | 'timeout'
  | 'unavailable'
  | 'internal';

export interface DomainErrorOptions {
  /** The input to blame (`documents.3.text`, `collection`, `authorization`). */
  field?: string;
  /** For `tooMany` and `unavailable`: when the caller may usefully try again. */
  retryAfterSeconds?: number;
  cause?: unknown;
}

export class DomainError extends Error {
  readonly field?: string;
  readonly retryAfterSeconds?: number;

  constructor(
    readonly kind: ErrorKind,
    message: string,
    opts: DomainErrorOptions = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.field = opts.field;
    this.retryAfterSeconds = opts.retryAfterSeconds;
  }
}
