import { spawn } from 'node:child_process';
import path from 'node:path';
import { DIST } from './processes.js';

export interface RagRun {
  /** Exit code; null when the process was killed (see timedOut). */
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
  /** True when the command had not exited by the timeout and was killed: a command that hangs. */
  timedOut: boolean;
}

/** The line the CLI prints when something it opened kept the process alive after the command finished. */
export const LINGERING = /still running .* after the command finished/;

/**
 * Runs the built `rag` CLI as a child process (stdin closed, stdout/stderr piped, so neither is a terminal)
 * and resolves when it exits or, killed, at the timeout. `onStderr` sees stderr as it arrives.
 */
export function runRag(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number; onStderr?: (all: string) => void } = {}): Promise<RagRun> {
  const t0 = Date.now();
  const child = spawn(process.execPath, [path.join(DIST, 'services', 'cli', 'rag.js'), ...args], {
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    opts.onStderr?.(stderr);
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, opts.timeoutMs ?? 60_000);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - t0, timedOut });
    });
  });
}
