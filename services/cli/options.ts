import { UsageError } from './errors.js';

/** Option values arrive as strings: these parse them or stop with a usage error (exit code 2) naming the option. */
export function intOption(value: string, name: string, min = 0): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min} (got ${value})`);
  return n;
}

export function oneOf<T extends string>(value: string, allowed: readonly T[], name: string): T {
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`--${name} must be one of ${allowed.join('|')} (got ${value})`);
  return value as T;
}
