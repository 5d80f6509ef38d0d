import type { RequestHandler } from 'express';
import type { Config } from '../../infra/config.js';
import { DomainError } from '../../infra/errors.js';
import type { Principal } from '../auth/ApiKeyStore.js';
import { rateLimitSubject } from './rateLimit.js';

export interface AskAdmissionLimits {
  /** Questions one caller (API key, or client address while authentication is off) may have running or waiting; 0 = no cap. */
  perClient: number;
  /** Questions this process answers at once (each uses every core through onnxruntime). */
  concurrent: number;
  /** Questions waiting for a free slot; beyond it new ones are refused (503), so a burst cannot pile up work. */
  queued: number;
}

export interface AskAdmissionState {
  inFlight: number;
  queued: number;
  /** Cumulative refusals by reason. */
  rejected: { per_client: number; queue_full: number };
}

/** Seconds a refused caller is told to wait: one of its own questions, or one in the queue, usually ends by then. */
const RETRY_AFTER_SECONDS = 2;

/**
 * Admission for the routes that run the generator (/v1/ask, /v1/chat/completions), per process: at most
 * `concurrent` run, at most `queued` wait (first come, first served), and one caller may hold at most
 * `perClient` of either. Refusals come at once: 429 for a caller over its cap, 503 when the queue is full,
 * both with Retry-After. A slot is released when the response closes (finished, failed, or the client left),
 * and a caller that leaves while waiting gives its place up. Kept per process, not in Redis: it guards this
 * process's CPU, and a Redis-held count would leak whenever a process dies mid-answer.
 */
export class AskAdmission {
  private running = 0;
  private readonly waiting: { subject: string; admit: () => void }[] = [];
  private readonly bySubject = new Map<string, number>();
  private readonly refused = { per_client: 0, queue_full: 0 };

  constructor(private readonly limits: AskAdmissionLimits) {}

  static fromConfig(config: Config): AskAdmission {
    return new AskAdmission({ perClient: config.ASK_MAX_PER_CLIENT, concurrent: config.ASK_MAX_CONCURRENT, queued: config.ASK_MAX_QUEUED });
  }

  state(): AskAdmissionState {
    return { inFlight: this.running, queued: this.waiting.length, rejected: { ...this.refused } };
  }

  readonly admit: RequestHandler = (req, res, next) => {
    const subject = rateLimitSubject(res.locals.principal as Principal | undefined, req.ip);
    const held = this.bySubject.get(subject) ?? 0;
    if (this.limits.perClient > 0 && held >= this.limits.perClient) {
      this.refused.per_client++;
      const who = subject.startsWith('key:') ? 'this API key' : 'this client address';
      return next(new DomainError('tooMany', `${who} already has ${held} questions in progress (at most ${this.limits.perClient} at once); retry when one has finished`, { retryAfterSeconds: RETRY_AFTER_SECONDS }));
    }
    if (this.running >= this.limits.concurrent && this.waiting.length >= this.limits.queued) {
      this.refused.queue_full++;
      return next(new DomainError('unavailable', `busy: ${this.running} questions are being answered and ${this.waiting.length} are waiting; retry shortly`, { retryAfterSeconds: RETRY_AFTER_SECONDS }));
    }
    this.bySubject.set(subject, held + 1);
    let state: 'waiting' | 'running' | 'done' = 'waiting';
    const start = () => {
      state = 'running';
      this.running++;
      next();
    };
    const entry = { subject, admit: start };
    res.once('close', () => {
      if (state === 'running') this.running--;
      else if (state === 'waiting') this.waiting.splice(this.waiting.indexOf(entry), 1);
      state = 'done';
      const left = (this.bySubject.get(subject) ?? 1) - 1;
      if (left > 0) this.bySubject.set(subject, left);
      else this.bySubject.delete(subject);
      this.startWaiting();
    });
    if (this.running < this.limits.concurrent) start();
    else this.waiting.push(entry);
  };

  private startWaiting(): void {
    while (this.running < this.limits.concurrent && this.waiting.length > 0) this.waiting.shift()!.admit();
  }
}
