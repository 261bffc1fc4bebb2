import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';

/**
 * The compose files as a compose implementation reads them (docs/production.md, "Commands"): `config`
 * validates the schema, interpolates every variable and merges the overlays, offline (no engine needed).
 * Runs with whichever implementation the machine has: `COMPOSE_BIN` (a path), the `docker compose`
 * plugin, or a `docker-compose` binary (Debian's 1.29 does not know the top-level `name`, so it gets a
 * copy without it, the project name passed with -p). Without any, only the variables test runs. The
 * suite installs nothing.
 */

const root = join(__dirname, '..', '..');
const FILE_SETS = [
  ['docker-compose.yml'],
  ['docker-compose.yml', 'docker-compose.dev.yml'],
  ['docker-compose.prod.yml'],
];

interface Compose {
  command: string[];
  /** Compose 1.x: the top-level `name` is not in its schema. */
  legacy: boolean;
}

function runs(command: string[]): string | null {
  const out = spawnSync(command[0], [...command.slice(1), 'version'], { encoding: 'utf8', timeout: 20_000 });
  return out.status === 0 ? out.stdout : null;
}

function findCompose(): Compose | null {
  const candidates = [
    ...(process.env.COMPOSE_BIN ? [[process.env.COMPOSE_BIN]] : []),
    ['docker', 'compose'],
    ['docker-compose'],
  ];
  for (const command of candidates) {
    const version = runs(command);
    if (version !== null) return { command, legacy: /version 1\./i.test(version) };
  }
  return null;
}

/** Every variable a compose file requires (`${NAME:?...}` or `${NAME?...}`), comments left out. */
function requiredVariables(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8').replace(/^\s*#.*$/gm, '');
  return [...new Set([...text.matchAll(/\$\{([A-Z0-9_]+):?\?/g)].map((m) => m[1]))].sort();
}

/** The example env file's variables with a non-empty stand-in value (the example leaves secrets empty). */
function filledExample(): string {
  return readFileSync(join(root, '.env.production.example'), 'utf8')
    .split('\n')
    .map((line) => line.replace(/^([A-Z0-9_]+)=$/, '$1=validation-only-$1'))
    .join('\n');
}

describe('compose files', () => {
  it('every variable the compose files require is listed in .env.production.example', () => {
    const example = new Set(
      [...readFileSync(join(root, '.env.production.example'), 'utf8').matchAll(/^([A-Z0-9_]+)=/gm)].map(
        (m) => m[1],
      ),
    );
    for (const file of ['docker-compose.yml', 'docker-compose.prod.yml']) {
      const missing = requiredVariables(file).filter((name) => !example.has(name));
      expect({ file, missing }).toEqual({ file, missing: [] });
    }
  });

  const compose = findCompose();
  if (!compose) return;

  describe(`\`${compose.command.join(' ')} config\``, () => {
    let dir = '';
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'compose-config-'));
      writeFileSync(join(dir, '.env.production'), filledExample());
      for (const file of new Set(FILE_SETS.flat())) {
        const text = readFileSync(join(root, file), 'utf8');
        writeFileSync(join(dir, file), compose.legacy ? text.replace(/^name: .*$/m, '') : text);
      }
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it.each(FILE_SETS.map((files) => [files.join(' + '), files]))(
      'accepts %s and interpolates every secret',
      (_label, files) => {
        const args = [
          ...compose.command.slice(1),
          '--env-file',
          join(dir, '.env.production'),
          ...(compose.legacy ? ['-p', 'notifications'] : []),
          ...files.flatMap((f) => ['-f', join(dir, f)]),
          'config',
        ];
        const out = spawnSync(compose.command[0], args, { cwd: dir, encoding: 'utf8', timeout: 60_000 });
        expect({ status: out.status, stderr: out.status === 0 ? '' : out.stderr }).toEqual({
          status: 0,
          stderr: '',
        });
        const config = parse(out.stdout) as { services: Record<string, unknown> };
        expect(Object.keys(config.services)).toEqual(
          expect.arrayContaining(['postgres', 'redis', 'temporal']),
        );
        expect(out.stdout).toContain('validation-only-POSTGRES_PASSWORD');
        expect(out.stdout).not.toMatch(/\$\{[A-Z]/);
      },
    );
  });
});
