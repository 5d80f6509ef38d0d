import { Queue } from 'bullmq';
import { jobOptions, type QueueConnection } from '../../indexer/pipeline/jobs.js';
import { CALIBRATE_QUEUE, type CalibrationJobData } from '../workers/CalibrationWorker.js';

/** The API side of recalibration: enqueue a `rag-calibrate` job for the worker process. */
export class CalibrationJobs {
  readonly queue: Queue<CalibrationJobData>;

  constructor(queueOptions: QueueConnection) {
    this.queue = new Queue<CalibrationJobData>(CALIBRATE_QUEUE, queueOptions);
  }

  async enqueue(data: CalibrationJobData): Promise<string> {
    // One attempt: a calibration that fails (no taps, no data) fails the same way again; the operator retries.
    const job = await this.queue.add('calibrate', data, { ...jobOptions(1), removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } });
    return job.id!;
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
