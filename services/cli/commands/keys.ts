import type { Command } from 'commander';
import { loadConfig } from '../../../infra/config.js';
import { createRedis } from '../../../infra/redis.js';
import { ApiKeyStore, SCOPES, type Scope } from '../../auth/ApiKeyStore.js';
import { UsageError } from '../errors.js';

async function withStore<T>(fn: (s: ApiKeyStore) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const redis = createRedis(config.REDIS_URL);
  try {
    return await fn(new ApiKeyStore(redis, config.ADMIN_API_KEY));
  } finally {
    redis.disconnect();
  }
}

/** `rag keys create|list|revoke`: API key management straight on Redis (for bootstrapping and operators). */
export function registerKeysCommands(program: Command): void {
  const keys = program.command('keys').description('manage API keys (stored hashed in Redis)');
  keys
    .command('create')
    .requiredOption('--name <name>', 'who or what the key is for')
    .option('--scopes <list>', `comma-separated: ${SCOPES.join(', ')} (admin > ingest > ask)`, 'ask')
    .description('create a key; it is printed once and cannot be shown again')
    .action(async (opts: { name: string; scopes: string }) => {
      const scopes = opts.scopes.split(',').map((s) => s.trim());
      const bad = scopes.filter((s) => !SCOPES.includes(s as Scope));
      if (bad.length) throw new UsageError(`--scopes: unknown ${bad.join(', ')}; choose from ${SCOPES.join(', ')}`);
      const { key, record } = await withStore((s) => s.create(opts.name, scopes as Scope[]));
      process.stdout.write(`${JSON.stringify({ id: record.id, name: record.name, scopes: record.scopes, key })}\n`);
    });
  keys
    .command('list')
    .description('list keys (without secrets)')
    .action(async () => {
      process.stdout.write(`${JSON.stringify(await withStore((s) => s.list()))}\n`);
    });
  keys
    .command('revoke <id>')
    .description('revoke a key by id')
    .action(async (id: string) => {
      if (!(await withStore((s) => s.revoke(id)))) throw new Error(`key ${id} not found`);
      process.stdout.write(`${JSON.stringify({ revoked: id })}\n`);
    });
}
