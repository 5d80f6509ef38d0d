import { Router } from 'express';
import { z } from 'zod';
import { SCOPES, type Principal, type Scope } from '../../auth/ApiKeyStore.js';
import { SESSION_COOKIE, readCookie, sessionCookie } from '../../auth/SessionStore.js';
import type { ServiceContext } from '../../context.js';
import { DomainError } from '../../../infra/errors.js';
import { validate } from '../errors.js';

export const NewKey = z.strictObject({
  name: z.string().trim().min(1).max(100).regex(/^[\w .@-]+$/, 'letters, digits, spaces and . _ - @ only'),
  scopes: z.array(z.enum(SCOPES as [Scope, ...Scope[]])).min(1, 'must name at least one scope'),
});
export const KeyId = z.string().regex(/^[A-Za-z0-9]{12}$/, 'must be a key id as listed by GET /v1/admin/keys');
export const Login = z.strictObject({ key: z.string().min(1).max(200) });

/** Key management (admin scope) and the dashboard's login session. */
export function adminRouter(ctx: ServiceContext): Router {
  const r = Router();
  const admin = ctx.auth.require('admin');

  r.post('/admin/keys', admin, async (req, res) => {
    const body = validate(NewKey, req.body);
    const { key, record } = await ctx.auth.keys.create(body.name, body.scopes);
    ctx.auth.invalidate();
    res.status(201).json({ id: record.id, name: record.name, scopes: record.scopes, createdAt: record.createdAt, key });
  });
  r.get('/admin/keys', admin, async (_req, res) => {
    res.json({ keys: await ctx.auth.keys.list() });
  });
  r.delete('/admin/keys/:id', admin, async (req, res) => {
    const id = validate(KeyId, req.params.id, 'id');
    if (!(await ctx.auth.keys.revoke(id))) throw new DomainError('notFound', `key ${id} not found`, { field: 'id' });
    ctx.auth.invalidate();
    res.json({ revoked: true, id });
  });

  // Dashboard login: trade an admin key for an HttpOnly, SameSite=Strict session cookie.
  r.post('/admin/session', async (req, res) => {
    const { key } = validate(Login, req.body);
    const p = await ctx.auth.keys.verify(key);
    if (!p || !p.scopes.includes('admin')) throw new DomainError('unauthorized', 'key: not a valid admin key', { field: 'key' });
    const sid = await ctx.auth.sessions.create(p);
    res.setHeader('set-cookie', sessionCookie(sid, ctx.auth.sessions.ttlSeconds, req.secure));
    res.status(201).json({ name: p.name, scopes: p.scopes });
  });
  r.get('/admin/session', admin, (_req, res) => {
    const p = res.locals.principal as Principal | undefined;
    res.json(p ? { name: p.name, scopes: p.scopes } : { name: 'anonymous (authentication is off)', scopes: ['admin'] });
  });
  r.delete('/admin/session', async (req, res) => {
    const sid = readCookie(req.header('cookie'), SESSION_COOKIE);
    if (sid) await ctx.auth.sessions.destroy(sid);
    res.setHeader('set-cookie', sessionCookie('', 0, req.secure));
    res.json({ loggedOut: true });
  });
  return r;
}
