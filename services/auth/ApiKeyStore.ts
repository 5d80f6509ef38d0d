import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RedisClient } from '../../infra/redis.js';
import { PREFIX } from '../../indexer/store/keys.js';

/** What a key may do. `admin` implies `ingest`, which implies `ask`. */
export type Scope = 'ask' | 'ingest' | 'admin';
export const SCOPES: readonly Scope[] = ['ask', 'ingest', 'admin'];
const RANK: Record<Scope, number> = { ask: 0, ingest: 1, admin: 2 };

export function scopeAllows(granted: readonly Scope[], needed: Scope): boolean {
  return granted.some((g) => RANK[g] >= RANK[needed]);
}

export interface ApiKeyRecord {
  id: string;
  name: string;
  scopes: Scope[];
  /** sha256 of the secret part: keys are random 192-bit values, so a fast hash is enough and lookups stay cheap. */
  hash: string;
  createdAt: string;
}

export interface Principal {
  keyId: string;
  name: string;
  scopes: Scope[];
}

const KEYS_HASH = `${PREFIX}:apikeys`;
const FORMAT = /^rag_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{32})$/;

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * API keys stored hashed in Redis. A key reads `rag_<id>_<secret>`: the id finds the record, the
 * secret is compared by hash in constant time. The bootstrap ADMIN_API_KEY is never stored.
 */
export class ApiKeyStore {
  private readonly bootstrapHash: Buffer | null;

  constructor(
    private readonly redis: RedisClient,
    bootstrapAdminKey?: string,
  ) {
    this.bootstrapHash = bootstrapAdminKey ? sha256(bootstrapAdminKey) : null;
  }

  /** Authentication is on once a bootstrap key is configured or any key exists. */
  async enforced(): Promise<boolean> {
    return this.bootstrapHash !== null || (await this.redis.hlen(KEYS_HASH)) > 0;
  }

  async create(name: string, scopes: Scope[]): Promise<{ key: string; record: ApiKeyRecord }> {
    const id = randomBytes(9).toString('base64url').replace(/[-_]/g, 'x').slice(0, 12);
    const secret = randomBytes(24).toString('base64url');
    const record: ApiKeyRecord = { id, name, scopes: [...new Set(scopes)], hash: sha256(secret).toString('hex'), createdAt: new Date().toISOString() };
    await this.redis.hset(KEYS_HASH, id, JSON.stringify(record));
    return { key: `rag_${id}_${secret}`, record };
  }

  async list(): Promise<Omit<ApiKeyRecord, 'hash'>[]> {
    const all = await this.redis.hvals(KEYS_HASH);
    return all
      .map((v) => JSON.parse(v) as ApiKeyRecord)
      .map(({ hash: _hash, ...rest }) => rest)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async revoke(id: string): Promise<boolean> {
    return (await this.redis.hdel(KEYS_HASH, id)) === 1;
  }

  /** The principal a presented key stands for, or null. */
  async verify(presented: string): Promise<Principal | null> {
    if (this.bootstrapHash && timingSafeEqual(sha256(presented), this.bootstrapHash)) {
      return { keyId: 'bootstrap', name: 'ADMIN_API_KEY', scopes: ['admin'] };
    }
    const m = FORMAT.exec(presented);
    if (!m) return null;
    const raw = await this.redis.hget(KEYS_HASH, m[1]!);
    if (!raw) return null;
    const record = JSON.parse(raw) as ApiKeyRecord;
    if (!timingSafeEqual(sha256(m[2]!), Buffer.from(record.hash, 'hex'))) return null;
    return { keyId: record.id, name: record.name, scopes: record.scopes };
  }
}
