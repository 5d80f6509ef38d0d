import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../../infra/redis.js';
import { PREFIX } from '../../indexer/store/keys.js';
import type { AskRequest, AskResponse } from '../ask/AskService.js';

export const RECENT_ASKS_KEY = `${PREFIX}:recent-asks`;

/** What the dashboard shows of one answered question: enough to see why the answer came out as it did. */
export interface RecentAsk {
  id: string;
  at: string;
  collection: string;
  question: string;
  k: number;
  answer: string;
  citations: AskResponse['citations'];
  passages: AskResponse['passages'];
  order: AskResponse['order'];
  compression: AskResponse['compression'];
  mode: AskResponse['mode'];
  fallback?: string;
  answerSpan?: AskResponse['answerSpan'];
  timings: AskResponse['timings'];
  cache: AskResponse['cache'];
  usage: AskResponse['usage'];
}

/** The last answered questions, newest first, in a capped Redis list shared by every API process. */
export class RecentAsks {
  constructor(
    private readonly redis: RedisClient,
    readonly capacity = 200,
    private readonly key = RECENT_ASKS_KEY,
  ) {}

  async record(req: Pick<AskRequest, 'collection' | 'question' | 'k'>, res: AskResponse, at = new Date()): Promise<RecentAsk> {
    const entry: RecentAsk = {
      id: randomUUID(),
      at: at.toISOString(),
      collection: req.collection,
      question: req.question,
      k: req.k,
      answer: res.answer,
      citations: res.citations,
      passages: res.passages,
      order: res.order,
      compression: res.compression,
      mode: res.mode,
      ...(res.fallback ? { fallback: res.fallback } : {}),
      ...(res.answerSpan ? { answerSpan: res.answerSpan } : {}),
      timings: res.timings,
      cache: res.cache,
      usage: res.usage,
    };
    await this.redis.multi().lpush(this.key, JSON.stringify(entry)).ltrim(this.key, 0, this.capacity - 1).exec();
    return entry;
  }

  /** Newest first. */
  async list(limit = this.capacity): Promise<RecentAsk[]> {
    const raw = await this.redis.lrange(this.key, 0, Math.max(0, Math.min(limit, this.capacity)) - 1);
    return raw.map((r) => JSON.parse(r) as RecentAsk);
  }

  async count(): Promise<number> {
    return this.redis.llen(this.key);
  }

  async get(id: string): Promise<RecentAsk | null> {
    return (await this.list()).find((a) => a.id === id) ?? null;
  }
}
