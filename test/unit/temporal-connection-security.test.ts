import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';
import { connectionSecurityOptions } from '../../src/temporal/connection-security';

/** TEMPORAL_TLS* and TEMPORAL_API_KEY (docs/contracts.md, "Environment"): what connects how, and errors naming the setting. */
describe('Temporal connection security settings', () => {
  let dir = '';
  const CERT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  const KEY = '-----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY-----\n';
  const file = (name: string, content: string) => {
    writeFileSync(join(dir, name), content);
    return join(dir, name);
  };
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'temporal-security-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const security = (env: Record<string, string>) => loadConfig(env).temporal.security;
  const failure = (env: Record<string, string>) => {
    try {
      loadConfig(env);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error('expected a ConfigError');
  };

  it('plain TCP by default; an API key alone turns TLS on with the system CAs (Temporal Cloud)', () => {
    expect(security({})).toEqual({ tls: null, apiKey: null });
    expect(connectionSecurityOptions(security({}))).toEqual({});
    const cloud = security({ TEMPORAL_API_KEY: 'k-1' });
    expect(cloud).toEqual({ tls: {}, apiKey: 'k-1' });
    expect(connectionSecurityOptions(cloud)).toEqual({ tls: {}, apiKey: 'k-1' });
    expect(security({ TEMPORAL_TLS: 'true' })).toEqual({ tls: {}, apiKey: null });
  });

  it('reads the client certificate pair, the CA and the server name from PEM files', () => {
    const cert = file('client.crt', CERT);
    const key = file('client.key', KEY);
    const ca = file('ca.crt', CERT);
    const read = security({
      TEMPORAL_TLS_CERT: cert,
      TEMPORAL_TLS_KEY: key,
      TEMPORAL_TLS_CA: ca,
      TEMPORAL_TLS_SERVER_NAME: 'ns.acct.tmprl.cloud',
    });
    expect(read?.tls?.clientCertPair?.crt.toString()).toBe(CERT);
    expect(read?.tls?.clientCertPair?.key.toString()).toBe(KEY);
    expect(read?.tls?.serverRootCACertificate?.toString()).toBe(CERT);
    expect(read?.tls?.serverNameOverride).toBe('ns.acct.tmprl.cloud');
    expect(read?.apiKey).toBeNull();
  });

  it('names the setting at fault', () => {
    const cert = file('ok.crt', CERT);
    const key = file('ok.key', KEY);
    expect(failure({ TEMPORAL_TLS_CERT: cert })).toBe(
      "invalid configuration: TEMPORAL_TLS_KEY: required with TEMPORAL_TLS_CERT (the certificate's private key)",
    );
    expect(failure({ TEMPORAL_TLS_KEY: key })).toMatch(
      /^invalid configuration: TEMPORAL_TLS_CERT: required with/,
    );
    expect(failure({ TEMPORAL_TLS_CERT: join(dir, 'missing.crt'), TEMPORAL_TLS_KEY: key })).toMatch(
      /^invalid configuration: TEMPORAL_TLS_CERT: cannot read ".*missing\.crt" \(ENOENT\)$/,
    );
    expect(failure({ TEMPORAL_TLS_CERT: key, TEMPORAL_TLS_KEY: key })).toMatch(
      /^invalid configuration: TEMPORAL_TLS_CERT: ".*ok\.key" holds no PEM certificate/,
    );
    expect(failure({ TEMPORAL_TLS_CERT: cert, TEMPORAL_TLS_KEY: cert })).toMatch(
      /^invalid configuration: TEMPORAL_TLS_KEY: ".*ok\.crt" holds no PEM private key/,
    );
    expect(failure({ TEMPORAL_TLS_CA: file('empty.crt', '') })).toMatch(
      /^invalid configuration: TEMPORAL_TLS_CA: ".*empty\.crt" holds no PEM certificate/,
    );
    expect(failure({ TEMPORAL_TLS: 'yes' })).toBe(
      'invalid configuration: TEMPORAL_TLS: must be true or false, got "yes"',
    );
    expect(failure({ TEMPORAL_TLS: 'false', TEMPORAL_API_KEY: 'k' })).toBe(
      'invalid configuration: TEMPORAL_TLS: false, but TLS is needed by TEMPORAL_API_KEY',
    );
  });
});
