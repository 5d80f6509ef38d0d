import type { Job } from 'bullmq';
import type { Logger } from 'pino';

/** A child logger for one job: its queue, id and the HTTP request id that created it (when there was one). */
export function jobLogger(log: Logger, job: Pick<Job, 'id' | 'queueName' | 'attemptsMade'> & { data?: unknown }): Logger {
  const requestId = (job.data as { requestId?: unknown } | undefined)?.requestId;
  return log.child({
    queue: job.queueName,
    jobId: job.id,
    attempt: job.attemptsMade,
    ...(typeof requestId === 'string' && requestId ? { requestId } : {}),
  });
}
