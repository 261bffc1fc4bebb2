import { readFileSync } from 'node:fs';
import { join } from 'node:path';
// The YAML parser @fastify/swagger depends on (already installed with it); used here only to read the compose file.
import { parse } from 'yaml';
import { CHANNELS } from '../../src/domain/channels';

interface Service {
  image?: string;
  build?: string;
  command?: string[] | string;
  ports?: string[];
  environment?: Record<string, string>;
  env_file?: string[];
  container_name?: string;
  deploy?: unknown;
  depends_on?: Record<string, { condition: string }>;
}

/**
 * docker-compose.prod.yml (docs/production.md): the processes scaled apart, Temporal on Postgres with its schema
 * set up by temporal-sql-tool, no data store on a host port, every secret required. No docker CLI here, so the
 * file is parsed and checked the way `docker compose config` would read it (YAML merge keys resolved).
 */
describe('docker-compose.prod.yml', () => {
  const root = join(__dirname, '..', '..');
  const text = readFileSync(join(root, 'docker-compose.prod.yml'), 'utf8');
  const services = (parse(text, { merge: true }) as { services: Record<string, Service> }).services;
  const command = (name: string) => [services[name].command].flat().join(' ');
  const channelWorker = (channel: string) => `${channel.replace('_', '-')}-worker`;

  it('runs Temporal on its own Postgres with the schema from temporal-sql-tool, then the namespace', () => {
    expect(services.temporal.image).toMatch(/^temporalio\/server:\d+\.\d+\.\d+$/);
    expect(services['temporal-schema'].image).toMatch(/^temporalio\/admin-tools:/);
    expect(command('temporal-schema')).toMatch(
      /temporal-sql-tool --plugin postgres12 --ep temporal-postgres/,
    );
    expect(command('temporal-schema')).toMatch(/update-schema -d \/etc\/temporal\/schema\/postgresql\/v12\//);
    expect(command('temporal-setup')).toMatch(/namespace create --namespace default/);
    for (const name of [
      'NotificationEventId',
      'NotificationEventType',
      'NotificationUserId',
      'NotificationRecipientRef',
    ])
      expect(command('temporal-setup')).toContain(name);
    expect(services.temporal.environment).toMatchObject({
      DB: 'postgres12',
      POSTGRES_SEEDS: 'temporal-postgres',
    });
  });

  it('runs the API, the workflow worker and one scalable worker per channel, from our image', () => {
    expect(command('migrate')).toBe('node dist/src/bin/migrate.js');
    expect(command('api')).toBe('node dist/src/bin/api.js');
    expect(command('workflow-worker')).toBe('node dist/src/bin/worker.js --workflows-only');
    for (const channel of CHANNELS)
      expect(command(channelWorker(channel))).toBe(`node dist/src/bin/worker.js --channels=${channel}`);
    const ours = ['migrate', 'api', 'workflow-worker', ...CHANNELS.map(channelWorker)];
    for (const name of ours) {
      expect({ name, build: services[name].build, envFile: services[name].env_file }).toEqual({
        name,
        build: '.',
        envFile: ['.env.production'],
      });
    }
    // `--scale x=N` needs no container name, no fixed replica count and no fixed host port.
    for (const [name, service] of Object.entries(services)) {
      expect({ name, containerName: service.container_name, deploy: service.deploy }).toEqual({ name });
    }
    for (const name of ['workflow-worker', ...CHANNELS.map(channelWorker)])
      expect({ name, ports: services[name].ports }).toEqual({ name });
  });

  it('publishes no data store or Temporal port; the UI on loopback, the API on the bind the env file names', () => {
    const published = Object.entries(services)
      .filter(([, s]) => s.ports?.length)
      .map(([name, s]) => [name, s.ports]);
    expect(published).toEqual([
      ['temporal-ui', ['127.0.0.1:8233:8080']],
      ['api', [expect.stringMatching(/^\$\{API_BIND:\?[^}]+\}:3000$/)]],
    ]);
  });

  it('keeps BullMQ data: Redis with AOF persistence and no eviction', () => {
    expect(command('redis')).toMatch(/--appendonly yes/);
    expect(command('redis')).toMatch(/--maxmemory-policy noeviction/);
  });

  it('starts in order: stores, schema, Temporal, namespace, migration, then our processes', () => {
    const needs = (name: string) =>
      Object.fromEntries(Object.entries(services[name].depends_on ?? {}).map(([d, c]) => [d, c.condition]));
    expect(needs('temporal-schema')).toEqual({ 'temporal-postgres': 'service_healthy' });
    expect(needs('temporal')).toEqual({ 'temporal-schema': 'service_completed_successfully' });
    expect(needs('temporal-setup')).toEqual({ temporal: 'service_healthy' });
    expect(needs('migrate')).toEqual({ postgres: 'service_healthy' });
    for (const name of ['api', 'workflow-worker'])
      expect(needs(name)).toEqual({
        migrate: 'service_completed_successfully',
        'temporal-setup': 'service_completed_successfully',
        redis: 'service_healthy',
      });
    for (const channel of CHANNELS)
      expect(needs(channelWorker(channel))).toEqual({
        migrate: 'service_completed_successfully',
        redis: 'service_healthy',
      });
    for (const [name, service] of Object.entries(services))
      for (const dependency of Object.keys(service.depends_on ?? {}))
        expect({ name, dependency, known: dependency in services }).toEqual({
          name,
          dependency,
          known: true,
        });
  });

  it('requires every variable (${VAR:?...}, no defaults) and names each in .env.production.example', () => {
    const body = text.replace(/^\s*#.*$/gm, ''); // the header comment quotes the syntax
    expect(body).not.toMatch(/\$\{[A-Z_]+:?-/);
    const variables = new Set([...body.matchAll(/\$\{([A-Z_]+)/g)].map((m) => m[1]));
    expect([...variables].sort()).toEqual(
      expect.arrayContaining([
        'API_KEYS',
        'JWT_SECRET',
        'PAYLOAD_ENCRYPTION_KEYS',
        'POSTGRES_PASSWORD',
        'REDIS_PASSWORD',
      ]),
    );
    for (const match of body.matchAll(/\$\{[A-Z_]+([^}]*)\}/g)) expect(match[1]).toMatch(/^:\?/);
    const example = readFileSync(join(root, '.env.production.example'), 'utf8');
    for (const name of variables)
      expect({ name, listed: new RegExp(`^${name}=`, 'm').test(example) }).toEqual({ name, listed: true });
  });
});
