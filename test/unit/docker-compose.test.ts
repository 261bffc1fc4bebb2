import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** docker-compose.yml is described as production-like: no default secrets, no data store on a host port (issue 10, point 5). */
describe('docker-compose.yml', () => {
  const text = readFileSync(join(__dirname, '..', '..', 'docker-compose.yml'), 'utf8');
  /** Lines per top-level service (two-space indented keys under `services:`); no YAML parser among our dependencies. */
  const services = new Map<string, string[]>();
  let current: string | null = null;
  for (const line of text.split('\n')) {
    const service = /^ {2}([a-z0-9-]+):\s*$/.exec(line);
    if (/^\S/.test(line)) current = null;
    if (service && text.indexOf('\nservices:') < text.indexOf(line)) services.set((current = service[1]), []);
    else if (current) services.get(current)!.push(line);
  }

  it('publishes no data store or Temporal port, and other tools on loopback only', () => {
    expect([...services.keys()]).toEqual(
      expect.arrayContaining(['postgres', 'redis', 'temporal-postgres', 'temporal', 'api']),
    );
    for (const name of ['postgres', 'redis', 'temporal-postgres', 'temporal']) {
      expect({ name, ports: services.get(name)!.filter((line) => /^\s+ports:/.test(line)) }).toEqual({
        name,
        ports: [],
      });
    }
    for (const [name, lines] of services) {
      for (const line of lines.filter((l) => /^\s+ports:/.test(l) && name !== 'api'))
        expect({ name, line }).toEqual({ name, line: expect.stringMatching(/ports: \[["']127\.0\.0\.1:/) });
    }
  });

  it('requires every secret (${VAR:?...}) and has no default for any variable', () => {
    expect(text).not.toMatch(/\$\{[A-Z_]+:?-/);
    const secrets = text
      .split('\n')
      .filter((line) =>
        /^\s+[A-Z_]*(PASSWORD|PWD|SECRET|API_KEYS|TOKEN|AUTH|ENCRYPTION_KEYS)[A-Z_]*:/.test(line),
      );
    expect(secrets.length).toBeGreaterThanOrEqual(8);
    expect(secrets.some((line) => /PAYLOAD_ENCRYPTION_KEYS: \$\{PAYLOAD_ENCRYPTION_KEYS:\?/.test(line))).toBe(
      true,
    );
    for (const line of secrets) expect(line).toMatch(/:\s+\$\{[A-Z_]+:\?/);
    for (const line of text.split('\n').filter((l) => /^\s+[A-Z_]+_URL: \S+:\/\/[^/\s]*@/.test(l)))
      expect(line).toMatch(/:\$\{[A-Z_]+:\?[^}]*\}@/);
  });
});
