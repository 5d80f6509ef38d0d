import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { PREFIX } from '../../indexer/store/keys.js';
import type { Principal } from './ApiKeyStore.js';

export const SESSION_COOKIE = 'rag_session';

/** Dashboard sessions: an opaque random id in an HttpOnly cookie, the principal in Redis with a TTL. */
export class SessionStore {
  constructor(
    private readonly redis: Redis,
    readonly ttlSeconds = 12 * 3600,
  ) {}

  async create(p: Principal): Promise<string> {
    const id = randomBytes(24).toString('base64url');
    await this.redis.set(`${PREFIX}:session:${id}`, JSON.stringify(p), 'EX', this.ttlSeconds);
    return id;
  }

  async get(id: string): Promise<Principal | null> {
    if (!/^[A-Za-z0-9_-]{32}$/.test(id)) return null;
    const raw = await this.redis.get(`${PREFIX}:session:${id}`);
    return raw ? (JSON.parse(raw) as Principal) : null;
  }

  async destroy(id: string): Promise<void> {
    await this.redis.del(`${PREFIX}:session:${id}`);
  }
}

/** The session cookie's Set-Cookie value; `secure` when the request came over https (directly or via a trusted proxy). */
export function sessionCookie(value: string, maxAgeSeconds: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${value}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAgeSeconds}${secure ? '; Secure' : ''}`;
}

/** The value of one cookie from a Cookie header (no dependency for one cookie). */
export function readCookie(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return null;
}
