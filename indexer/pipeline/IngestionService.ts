import { FlowProducer, Job, Queue, QueueEvents, type ConnectionOptions } from 'bullmq';
import type { ReplicaAck } from '../../infra/config.js';
import { awaitReplicas, isRedisClient, NO_REPLICA_ACK, releaseConnection } from '../../infra/redis.js';
import { assertSameEmbedder, type EmbedderIdentity } from '../embedding/Embedder.js';
import type { DocumentStore } from '../store/DocumentStore.js';
import { documentContentHash, ingestJobId, jobOptions, QUEUE_PREFIX, QUEUES, type IngestJobData, type IndexStepResult, type QueueConnection } from './jobs.js';

export interface NewDocument {
  id: string;
  title: string;
  text: string;
  metadata: Record<string, unknown>;
}

export type PublicJobState = 'waiting' | 'active' | 'completed' | 'failed';

export interface JobStatus {
  id: string;
  state: PublicJobState;
  progress: number;
  error?: string;
  result?: IndexStepResult;
  documentId?: string;
  collection?: string;
}

export interface SubmitResult {
  jobId: string;
  /** This exact content is already stored (its flow completed earlier): nothing new was queued. */
  alreadyStored: boolean;
}

/** How one ingestion flow ended, as its root (index) job reports it. */
export interface SettledJob {
  id: string;
  state: 'completed' | 'failed';
  result?: IndexStepResult;
  error?: string;
}

/** How long a wait trusts the event stream before it reads the job's state again. */
const RECHECK_MS = 5000;
/** Flows waited on at once: each holds listeners on the queue-events stream and one job read. */
const WAIT_WINDOW = 256;

/**
 * Accepts documents and turns each into one deterministic chunk -> embed -> index flow. It owns the
 * connection it is given (BullMQ never closes a connection passed in) and closes it on close().
 */
export class IngestionService {
  private readonly flows: FlowProducer;
  private readonly queues: Record<keyof typeof QUEUES, Queue>;
  private events: { events: QueueEvents; connection: ConnectionOptions } | undefined;

  constructor(
    private readonly queueOptions: QueueConnection,
    private readonly store: DocumentStore,
    private readonly attempts: number,
    /** Replicas that must hold an accepted flow before submit returns (REDIS_WAIT_REPLICAS). */
    private readonly replicaAck: ReplicaAck = NO_REPLICA_ACK,
  ) {
    this.flows = new FlowProducer(queueOptions);
    this.queues = {
      chunk: new Queue(QUEUES.chunk, queueOptions),
      embed: new Queue(QUEUES.embed, queueOptions),
      index: new Queue(QUEUES.index, queueOptions),
      prefill: new Queue(QUEUES.prefill, queueOptions),
    };
  }

  /** Refuse to add to a collection built with another embedder: its vectors would not be comparable. */
  async assertEmbedder(collection: string, embedder: EmbedderIdentity): Promise<void> {
    const stored = await this.store.collectionEmbedder(collection);
    if (stored) assertSameEmbedder(stored, embedder, collection);
  }

  queue(name: keyof typeof QUEUES): Queue {
    return this.queues[name];
  }

  /** Enqueue one document version; resubmitting identical content returns the existing job. */
  async submit(collection: string, doc: NewDocument, requestId?: string): Promise<SubmitResult> {
    const document = { id: doc.id, title: doc.title, text: doc.text, metadata: doc.metadata };
    const contentHash = documentContentHash(document);
    const jobId = ingestJobId(collection, doc.id, contentHash);
    const existing = await Job.fromId(this.queues.index, jobId);
    if (existing) {
      const state = await existing.getState();
      if (state !== 'completed' && state !== 'failed') return { jobId, alreadyStored: false };
      const stored = await this.store.getDocumentMeta(collection, doc.id);
      if (state === 'completed' && stored?.contentHash === contentHash) return { jobId, alreadyStored: true };
      // The content was stored before and replaced since (or the job failed): run it again as a new version.
      await this.removeFlow(jobId);
    }
    const version = await this.store.nextVersion(collection);
    const data: IngestJobData = { collection, document, contentHash, version, requestId };
    const opts = jobOptions(this.attempts);
    await this.flows.add({
      name: 'index',
      queueName: QUEUES.index,
      data,
      opts: { ...opts, jobId },
      children: [
        {
          name: 'embed',
          queueName: QUEUES.embed,
          data: { collection, documentId: doc.id, version, requestId },
          opts: { ...opts, jobId: `${jobId}-embed`, failParentOnFailure: true },
          children: [
            {
              name: 'chunk',
              queueName: QUEUES.chunk,
              data,
              opts: { ...opts, jobId: `${jobId}-chunk`, failParentOnFailure: true },
            },
          ],
        },
      ],
    });
    // Accepted means durable: the flow's keys (one slot, the queue prefix's hash tag) are on the replicas.
    const conn = this.queueOptions.connection;
    if (isRedisClient(conn)) await awaitReplicas(conn, `${QUEUE_PREFIX}:${QUEUES.index}:id`, this.replicaAck);
    return { jobId, alreadyStored: false };
  }

  private async removeFlow(jobId: string): Promise<void> {
    for (const [q, id] of [
      [this.queues.index, jobId],
      [this.queues.embed, `${jobId}-embed`],
      [this.queues.chunk, `${jobId}-chunk`],
    ] as const) {
      const j = await Job.fromId(q, id);
      if (j) await j.remove({ removeChildren: false }).catch(() => undefined);
    }
  }

  /** The user-facing state of a whole flow, read from its root and children. */
  async status(jobId: string): Promise<JobStatus | null> {
    const root = await Job.fromId<IngestJobData, IndexStepResult>(this.queues.index, jobId);
    if (!root) return null;
    const state = await root.getState();
    const base = { id: jobId, documentId: root.data.document?.id, collection: root.data.collection };
    if (state === 'completed') return { ...base, state: 'completed', progress: 100, result: root.returnvalue };
    if (state === 'failed') return { ...base, state: 'failed', progress: 0, error: root.failedReason || 'failed' };
    if (state === 'active') return { ...base, state: 'active', progress: 90 };
    // Waiting on children: report how far the chunk and embed steps got.
    const [embed, chunk] = await Promise.all([Job.fromId(this.queues.embed, `${jobId}-embed`), Job.fromId(this.queues.chunk, `${jobId}-chunk`)]);
    const [es, cs] = await Promise.all([embed?.getState(), chunk?.getState()]);
    if (es === 'failed' || cs === 'failed') {
      return { ...base, state: 'failed', progress: 0, error: (es === 'failed' ? embed : chunk)?.failedReason ?? 'failed' };
    }
    if (es === 'completed') return { ...base, state: 'active', progress: 80 };
    if (es === 'active') return { ...base, state: 'active', progress: 50 };
    if (cs === 'completed') return { ...base, state: 'active', progress: 30 };
    if (cs === 'active') return { ...base, state: 'active', progress: 10 };
    return { ...base, state: 'waiting', progress: 0 };
  }

  /**
   * Waits until every flow has finished (completed or failed) and calls `onSettled` as each does. Driven by
   * BullMQ's queue events (`Job.waitUntilFinished`), not by polling; a flow that finished before the wait
   * began settles at once. Flows nobody works on are waited for indefinitely.
   */
  async waitFor(jobIds: readonly string[], onSettled: (s: SettledJob) => void = () => undefined): Promise<SettledJob[]> {
    const events = this.queueEvents();
    const out = new Array<SettledJob>(jobIds.length);
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < jobIds.length) {
        const i = next++;
        out[i] = await this.settle(jobIds[i]!, events);
        onSettled(out[i]);
      }
    };
    await Promise.all(Array.from({ length: Math.min(WAIT_WINDOW, jobIds.length) }, lane));
    return out;
  }

  private async settle(id: string, events: QueueEvents): Promise<SettledJob> {
    for (;;) {
      const job = await Job.fromId<IngestJobData, IndexStepResult>(this.queues.index, id);
      if (!job) return { id, state: 'failed', error: `job ${id} not found (removed, or never submitted)` };
      try {
        return { id, state: 'completed', result: (await job.waitUntilFinished(events, RECHECK_MS)) as IndexStepResult };
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        // A finish event can slip past a QueueEvents reader that had not issued its first read yet: after a quiet
        // interval, the job's stored state decides (the loop fetches it again), instead of waiting forever.
        if (!message.startsWith('Job wait')) return { id, state: 'failed', error: message };
      }
    }
  }

  private queueEvents(): QueueEvents {
    if (!this.events) {
      // QueueEvents blocks on its connection, so it gets a dedicated one.
      const c = this.queueOptions.connection as { duplicate?: () => ConnectionOptions };
      const connection = typeof c.duplicate === 'function' ? c.duplicate() : this.queueOptions.connection;
      this.events = { events: new QueueEvents(QUEUES.index, { ...this.queueOptions, connection }), connection };
      // Every waiting job listens for the queue's 'closing' event.
      this.queues.index.setMaxListeners(WAIT_WINDOW + 16);
    }
    return this.events.events;
  }

  async close(): Promise<void> {
    if (this.events) {
      await this.events.events.close();
      if (this.events.connection !== this.queueOptions.connection) releaseConnection(this.events.connection);
    }
    await this.flows.close();
    await Promise.all(Object.values(this.queues).map((q) => q.close()));
    releaseConnection(this.queueOptions.connection);
  }
}
