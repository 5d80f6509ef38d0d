import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { loadConfig } from '../../infra/config.js';
import { REPO } from '../support/processes.js';

/**
 * Docker does not run on this machine, so the compose file is checked here instead: it parses (with its merge
 * keys), the `cluster` profile wires six append-only cluster nodes, a one-shot creation and the service, and the
 * environment each service gets passes the service's own configuration schema.
 */
interface Service {
  image?: string;
  profiles?: string[];
  command?: string[] | string;
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  ports?: string[];
  volumes?: string[];
  hostname?: string;
}

const compose = parse(fs.readFileSync(path.join(REPO, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const services = compose.services;
const NODES = [1, 2, 3, 4, 5, 6].map((i) => `redis-node-${i}`);

/** Compose's variable interpolation, as far as the file uses it: ${V:-default}, ${V:?error}, ${V}, $$. */
function interpolate(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\$|\$\{(\w+)(?::([-?])([^}]*))?\}/g, (all, name: string | undefined, op: string | undefined, arg: string | undefined) => {
    if (all === '$$') return '$';
    const v = vars[name!];
    if (op === '-') return v ?? arg!;
    if (op === '?' && v === undefined) throw new Error(`${name}: ${arg}`);
    return v ?? '';
  });
}

function environmentOf(name: string): Record<string, string> {
  const vars = { ADMIN_API_KEY: 'an-admin-key-of-enough-length' };
  return Object.fromEntries(Object.entries(services[name]!.environment ?? {}).map(([k, v]) => [k, interpolate(String(v), vars)]));
}

describe('docker-compose.yml', () => {
  it('the default stack (no profile) runs on one Redis, with an environment the service accepts', () => {
    for (const name of ['redis', 'api', 'worker']) expect(services[name]!.profiles).toBeUndefined();
    for (const name of ['api', 'worker']) {
      const config = loadConfig(environmentOf(name));
      expect(config.redis).toEqual({ kind: 'single', url: 'redis://redis:6379' });
      expect(services[name]!.depends_on).toEqual({ redis: { condition: 'service_healthy' } });
    }
  });

  it('the cluster profile: six cluster nodes with append-only persistence, each announcing its own name', () => {
    for (const node of NODES) {
      const s = services[node]!;
      expect(s.profiles).toEqual(['cluster']);
      expect(s.hostname).toBe(node);
      const args = s.command as string[];
      const opt = (flag: string) => args[args.indexOf(flag) + 1];
      expect(opt('--cluster-enabled')).toBe('yes');
      expect(opt('--appendonly')).toBe('yes');
      expect(opt('--appendfsync')).toBe('everysec');
      expect(opt('--maxmemory-policy')).toBe('noeviction');
      expect(opt('--cluster-announce-hostname')).toBe(node);
      expect(s.volumes).toEqual([`${node}:/data`]);
      expect(compose.volumes).toHaveProperty(node);
    }
  });

  it('a one-shot service creates 3 masters with a replica each once every node is healthy', () => {
    const create = services['redis-cluster-create']!;
    expect(create.profiles).toEqual(['cluster']);
    expect(Object.keys(create.depends_on!).sort()).toEqual([...NODES].sort());
    for (const dep of Object.values(create.depends_on!)) expect(dep.condition).toBe('service_healthy');
    const script = interpolate((create.command as string[]).join('\n'), {});
    expect(script).toContain('redis-cli --cluster create');
    expect(script).toContain('--cluster-replicas 1 --cluster-yes');
    expect(script).toContain('for n in 1 2 3 4 5 6; do echo "$(getent hosts redis-node-$n');
    // Re-running `up` on an existing cluster must not fail the services that wait for this one.
    expect(script).toMatch(/cluster_state:ok.*exit 0/);
  });

  it('the API and workers of the cluster profile wait for the cluster and are configured for it', () => {
    for (const name of ['api-cluster', 'worker-cluster']) {
      const s = services[name]!;
      expect(s.profiles).toEqual(['cluster']);
      expect(s.depends_on).toEqual({ 'redis-cluster-create': { condition: 'service_completed_successfully' } });
      const config = loadConfig(environmentOf(name));
      expect(config.redis).toEqual({ kind: 'cluster', nodes: NODES.map((host) => ({ host, port: 6379 })) });
      expect(config.replicaAck).toEqual({ replicas: 1, timeoutMs: 2000 });
    }
    expect(loadConfig(environmentOf('api-cluster')).RUN_WORKERS).toBe(false);
    // Both stacks can run side by side: they publish different host ports.
    const hostPort = (name: string) => interpolate(services[name]!.ports![0]!, {}).split(':')[0];
    expect(hostPort('api-cluster')).not.toBe(hostPort('api'));
  });
});
