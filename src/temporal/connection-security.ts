import { readFileSync } from 'node:fs';

/**
 * How our processes reach a Temporal frontend that wants TLS, mTLS or an API key (Temporal Cloud, or a
 * self-hosted server behind TLS): docs/contracts.md, "Environment", and docs/production.md, "Temporal
 * Cloud". Read once at start; a bad setting is an error naming it. Certificates and keys are PEM files,
 * read at start (a rotated certificate takes a restart).
 */
export interface TemporalConnectionSecurity {
  /** null: plain TCP (the dev server, a compose-internal server). */
  tls: {
    /** PEM: the client certificate (chain) and its private key, for mTLS. */
    clientCertPair?: { crt: Buffer; key: Buffer };
    /** PEM: the CA that signed the server's certificate; absent: the system's CAs (Temporal Cloud). */
    serverRootCACertificate?: Buffer;
    /** The name the server's certificate must carry, when it differs from the address's host. */
    serverNameOverride?: string;
  } | null;
  /** Sent as `Authorization: Bearer <key>` on every call; requires TLS. */
  apiKey: string | null;
}

type Env = Record<string, string | undefined>;

const NAMES = {
  tls: 'TEMPORAL_TLS',
  cert: 'TEMPORAL_TLS_CERT',
  key: 'TEMPORAL_TLS_KEY',
  ca: 'TEMPORAL_TLS_CA',
  serverName: 'TEMPORAL_TLS_SERVER_NAME',
  apiKey: 'TEMPORAL_API_KEY',
} as const;

function setting(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/** A PEM file's content; the error names the setting and what is wrong with the file. */
function pemFile(name: string, path: string, kind: 'CERTIFICATE' | 'PRIVATE KEY'): Buffer {
  let content: Buffer;
  try {
    content = readFileSync(path);
  } catch (err) {
    throw new Error(
      `${name}: cannot read "${path}" (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      {
        cause: err,
      },
    );
  }
  // "PRIVATE KEY" also matches "RSA PRIVATE KEY" and "EC PRIVATE KEY".
  if (!new RegExp(`-----BEGIN [A-Z ]*${kind}-----`).test(content.toString('latin1')))
    throw new Error(`${name}: "${path}" holds no PEM ${kind.toLowerCase()} (-----BEGIN ...${kind}-----)`);
  return content;
}

function tlsSwitch(env: Env): boolean | undefined {
  const raw = setting(env, NAMES.tls);
  if (raw === undefined) return undefined;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw new Error(`${NAMES.tls}: must be true or false, got "${raw}"`);
}

/**
 * TEMPORAL_TLS (true/false; on by itself when any other of these is set), TEMPORAL_TLS_CERT and
 * TEMPORAL_TLS_KEY (PEM paths, both or neither), TEMPORAL_TLS_CA (PEM path), TEMPORAL_TLS_SERVER_NAME,
 * TEMPORAL_API_KEY. Throws an Error whose message starts with the setting at fault.
 */
export function temporalConnectionSecurityFrom(env: Env): TemporalConnectionSecurity {
  const cert = setting(env, NAMES.cert);
  const key = setting(env, NAMES.key);
  const ca = setting(env, NAMES.ca);
  const serverName = setting(env, NAMES.serverName);
  const apiKey = setting(env, NAMES.apiKey) ?? null;
  if ((cert === undefined) !== (key === undefined))
    throw new Error(
      cert === undefined
        ? `${NAMES.cert}: required with ${NAMES.key} (the client certificate of the key)`
        : `${NAMES.key}: required with ${NAMES.cert} (the certificate's private key)`,
    );
  const needingTls = [
    cert && NAMES.cert,
    ca && NAMES.ca,
    serverName && NAMES.serverName,
    apiKey && NAMES.apiKey,
  ].filter((name) => !!name);
  const wanted = tlsSwitch(env);
  if (wanted === false && needingTls.length > 0)
    throw new Error(`${NAMES.tls}: false, but TLS is needed by ${needingTls.join(', ')}`);
  if (!wanted && needingTls.length === 0) return { tls: null, apiKey: null };
  return {
    tls: {
      ...(cert && key
        ? {
            clientCertPair: {
              crt: pemFile(NAMES.cert, cert, 'CERTIFICATE'),
              key: pemFile(NAMES.key, key, 'PRIVATE KEY'),
            },
          }
        : {}),
      ...(ca ? { serverRootCACertificate: pemFile(NAMES.ca, ca, 'CERTIFICATE') } : {}),
      ...(serverName ? { serverNameOverride: serverName } : {}),
    },
    apiKey,
  };
}

/** The options both Connection.connect and NativeConnection.connect take for it. */
export function connectionSecurityOptions(security: TemporalConnectionSecurity | undefined): {
  tls?: NonNullable<TemporalConnectionSecurity['tls']>;
  apiKey?: string;
} {
  if (!security?.tls) return {};
  return { tls: security.tls, ...(security.apiKey ? { apiKey: security.apiKey } : {}) };
}
