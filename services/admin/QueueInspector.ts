import type { Job, Queue } from 'bullmq';
import { DomainError } from '../../infra/errors.js';

export const JOB_STATES = ['waiting', 'waiting-children', 'prioritized', 'delayed', 'active', 'completed', 'failed'] as const;

export interface QueueDepth {
  queue: string;
  counts: Record<string, number>;
}

/** A job as the dashboard lists it: never the whole payload (documents can be megabytes). */
export interface JobSummary {
  queue: string;
  id: string;
  name: string;
  progress: number;
  attemptsMade: number;
  timestamp: number;
  processedOn: number | null;
  finishedOn: number | null;
  failedReason: string | null;
  subject: string;
  requestId: string | null;
}

export class JobActionError extends DomainError {
  constructor(kind: 'notFound' | 'conflict', message: string) {
    super(kind, message, { field: 'id' });
  }
}

/** What a job is about, from the payload fields the pipeline's queues use. */
function subjectOf(data: unknown): string {
  if (!data || typeof data !== 'object') return '';
  const d = data as { collection?: unknown; documentId?: unknown; document?: { id?: unknown }; k?: unknown; n?: unknown; mode?: unknown };
  const doc = d.document?.id ?? d.documentId;
  if (typeof d.collection === 'string') return typeof doc === 'string' ? `${d.collection} / ${doc}` : d.collection;
  if (typeof d.k === 'number') return `k=${d.k}, ${String(d.n)} prompts, ${String(d.mode)} attention`;
  return '';
}

export function jobSummary(queue: string, job: Job): JobSummary {
  const progress = typeof job.progress === 'number' ? job.progress : 0;
  const requestId = (job.data as { requestId?: unknown } | undefined)?.requestId;
  return {
    queue,
    id: job.id ?? '',
    name: job.name,
    progress,
    attemptsMade: job.attemptsMade,
    timestamp: job.timestamp,
    processedOn: job.processedOn ?? null,
    finishedOn: job.finishedOn ?? null,
    failedReason: job.failedReason || null,
    subject: subjectOf(job.data),
    requestId: typeof requestId === 'string' && requestId ? requestId : null,
  };
}

/** Queue depths, active and failed jobs across the pipeline's BullMQ queues, and the two operator actions on a job. */
export class QueueInspector {
  private readonly byName: Map<string, Queue>;

  constructor(queues: readonly Queue[]) {
    this.byName = new Map(queues.map((q) => [q.name, q]));
  }

  get names(): string[] {
    return [...this.byName.keys()];
  }

  queue(name: string): Queue | undefined {
    return this.byName.get(name);
  }

  async depths(): Promise<QueueDepth[]> {
    return Promise.all([...this.byName.values()].map(async (q) => ({ queue: q.name, counts: await q.getJobCounts(...JOB_STATES) })));
  }

  async jobs(state: 'active' | 'failed' | 'completed' | 'waiting', limit = 50): Promise<JobSummary[]> {
    const lists = await Promise.all([...this.byName.values()].map(async (q) => (await q.getJobs([state], 0, limit - 1)).filter((j): j is Job => !!j).map((j) => jobSummary(q.name, j))));
    const time = (j: JobSummary) => j.finishedOn ?? j.processedOn ?? j.timestamp;
    return lists
      .flat()
      .sort((a, b) => time(b) - time(a))
      .slice(0, limit);
  }

  private async find(queue: string, id: string): Promise<Job> {
    const q = this.byName.get(queue);
    if (!q) throw new JobActionError('notFound', `queue ${queue} is not one of ${this.names.join(', ')}`);
    const job = await q.getJob(id);
    if (!job) throw new JobActionError('notFound', `job ${id} not found in ${queue}`);
    return job;
  }

  /** Run a failed job again (BullMQ moves it back to waiting). */
  async retry(queue: string, id: string): Promise<void> {
    const job = await this.find(queue, id);
    const state = await job.getState();
    if (state !== 'failed') throw new JobActionError('conflict', `job ${id} is ${state}; only failed jobs can be retried`);
    await job.retry('failed');
  }

  async remove(queue: string, id: string): Promise<void> {
    const job = await this.find(queue, id);
    try {
      await job.remove();
    } catch (e) {
      // BullMQ refuses to remove a locked (active) job or one a parent still waits on.
      throw new JobActionError('conflict', `job ${id} cannot be removed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}
