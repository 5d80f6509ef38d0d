import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { componentLogger } from '../infra/logger.js';

const log = componentLogger('supervisor');

/** Runs the queue-worker process next to the API and restarts it if it dies (jobs it held are retried). */
export class WorkerSupervisor {
  private child: ChildProcess | null = null;
  private stopping = false;
  private restarts = 0;

  constructor(private readonly script = fileURLToPath(new URL('./workers/main.js', import.meta.url))) {}

  start(): void {
    this.child = fork(this.script, [], { stdio: 'inherit', env: process.env });
    const child = this.child;
    child.on('exit', (code, signal) => {
      if (this.stopping) return;
      this.restarts++;
      const delay = Math.min(30_000, 500 * 2 ** Math.min(this.restarts, 6));
      log.error({ code, signal, restarts: this.restarts, delay }, 'worker process exited; restarting');
      setTimeout(() => !this.stopping && this.start(), delay).unref();
    });
  }

  get alive(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  async stop(timeoutMs = 30_000): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child || !this.alive) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        resolve();
      }, timeoutMs);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }
}
