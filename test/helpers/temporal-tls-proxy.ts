import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import {
  connect as http2Connect,
  createSecureServer,
  type ClientHttp2Session,
  type Http2SecureServer,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';

/** PEM files of a throw-away CA, a server certificate for `serverName` and a client certificate, made with openssl. */
export interface TestPki {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A client certificate from another CA: the server must refuse it. */
  strangerCert: string;
  strangerKey: string;
  /** The CA of the stranger: it did not sign the server's certificate. */
  otherCaCert: string;
  remove(): void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A CA and a certificate signed by it (EC P-256, one day). */
function issue(dir: string, name: string, subject: string, ca: string, extensions: string): void {
  openssl(dir, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`]);
  openssl(dir, ['req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`]);
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.crt`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-days',
    '1',
    '-sha256',
    '-extfile',
    `${name}.ext`,
    '-out',
    `${name}.crt`,
  ]);
}

function selfSignedCa(dir: string, name: string): void {
  openssl(dir, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`]);
  openssl(dir, [
    'req',
    '-x509',
    '-new',
    '-key',
    `${name}.key`,
    '-subj',
    `/CN=${name}`,
    '-days',
    '1',
    '-sha256',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-out',
    `${name}.crt`,
  ]);
}

export function makeTestPki(serverName: string): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'temporal-tls-'));
  selfSignedCa(dir, 'ca');
  selfSignedCa(dir, 'other-ca');
  const leaf = 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n';
  issue(
    dir,
    'server',
    `/CN=${serverName}`,
    'ca',
    `${leaf}extendedKeyUsage=serverAuth\nsubjectAltName=DNS:${serverName}\n`,
  );
  issue(dir, 'client', '/CN=notifications-worker', 'ca', `${leaf}extendedKeyUsage=clientAuth\n`);
  issue(dir, 'stranger', '/CN=stranger', 'other-ca', `${leaf}extendedKeyUsage=clientAuth\n`);
  const path = (f: string) => join(dir, f);
  return {
    dir,
    caCert: path('ca.crt'),
    serverCert: path('server.crt'),
    serverKey: path('server.key'),
    clientCert: path('client.crt'),
    clientKey: path('client.key'),
    strangerCert: path('stranger.crt'),
    strangerKey: path('stranger.key'),
    otherCaCert: path('other-ca.crt'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** What the proxy saw of one gRPC call. */
export interface SeenCall {
  path: string;
  clientCertSubject: string | null;
  authorization: string | null;
}

const HOP_HEADERS = new Set([':authority', ':scheme', ':method', ':path', 'connection', 'host']);

/**
 * A TLS front for the Temporal dev server, as Temporal Cloud is one: HTTP/2 over TLS with ALPN h2,
 * client certificates required and checked against the CA, each gRPC call forwarded to the dev server's
 * plain gRPC port (headers, body, trailers), and what authenticated it recorded.
 */
export class TemporalTlsProxy {
  readonly calls: SeenCall[] = [];
  /** TLS handshakes the server refused (no or a foreign client certificate). */
  refusedHandshakes = 0;
  private server!: Http2SecureServer;
  private upstream: ClientHttp2Session | null = null;
  private readonly sessions = new Set<ServerHttp2Session>();

  constructor(
    private readonly pki: TestPki,
    private readonly target: string,
  ) {}

  async start(): Promise<string> {
    this.server = createSecureServer({
      key: readFileSync(this.pki.serverKey),
      cert: readFileSync(this.pki.serverCert),
      ca: readFileSync(this.pki.caCert),
      requestCert: true,
      rejectUnauthorized: true,
      allowHTTP1: false,
    });
    this.server.on('tlsClientError', () => this.refusedHandshakes++);
    this.server.on('stream', (stream, headers) => this.forward(stream, headers));
    this.server.on('session', (session) => {
      this.sessions.add(session);
      session.on('close', () => this.sessions.delete(session));
    });
    await new Promise<void>((done) => this.server.listen(0, '127.0.0.1', done));
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private session(): ClientHttp2Session {
    if (!this.upstream || this.upstream.closed || this.upstream.destroyed) {
      this.upstream = http2Connect(`http://${this.target}`);
      this.upstream.on('error', () => undefined);
    }
    return this.upstream;
  }

  private forward(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    const socket = stream.session?.socket as TLSSocket | undefined;
    const subject = socket?.getPeerCertificate()?.subject?.CN;
    this.calls.push({
      path: String(headers[':path']),
      clientCertSubject: typeof subject === 'string' ? subject : null,
      authorization: typeof headers.authorization === 'string' ? headers.authorization : null,
    });
    const outgoing: Record<string, string | string[]> = {
      ':method': String(headers[':method']),
      ':path': String(headers[':path']),
    };
    for (const [name, value] of Object.entries(headers))
      if (!HOP_HEADERS.has(name) && value !== undefined) outgoing[name] = value;
    const call = this.session().request(outgoing);
    let trailers: Record<string, string | string[]> = {};
    let open = false;
    call.on('response', (response) => {
      if (stream.destroyed) return;
      // A trailers-only answer (an error status without a body) stays one HEADERS frame.
      open = !('grpc-status' in response);
      stream.respond(response, open ? { waitForTrailers: true } : { endStream: true });
    });
    call.on('trailers', (t) => (trailers = t as Record<string, string | string[]>));
    stream.on('wantTrailers', () => stream.sendTrailers(trailers));
    call.on('data', (chunk: Buffer) => {
      if (open && !stream.destroyed) stream.write(chunk);
    });
    call.on('end', () => {
      if (open && !stream.destroyed) stream.end();
    });
    call.on('error', () => stream.destroy());
    stream.on('close', () => call.destroy());
    stream.pipe(call);
  }

  async stop(): Promise<void> {
    this.upstream?.destroy();
    await new Promise((done) => {
      this.server.close(done);
      // Open HTTP/2 sessions (workers' pollers) would keep close() waiting.
      for (const session of this.sessions) session.destroy();
    });
  }
}
