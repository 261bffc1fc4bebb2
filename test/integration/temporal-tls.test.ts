import { loadConfig } from '../../src/config';
import { connectTemporalClient, connectTemporalWorker } from '../../src/runtime/connections';
import { makeTestPki, TemporalTlsProxy, type TestPki } from '../helpers/temporal-tls-proxy';
import { TestStack } from '../helpers/test-stack';

/**
 * Temporal Cloud's way in (docs/production.md, "Temporal Cloud instead of self-hosted"): TLS with a
 * client certificate and an API key. A TLS front with a CA of the test's own (openssl) stands for the
 * Cloud endpoint and forwards each gRPC call to the dev server; the client and the workflow worker of a
 * whole stack connect through it only.
 */
describe('Temporal over TLS: mTLS and API key', () => {
  const SERVER_NAME = 'temporal.test';
  const API_KEY = 'test-api-key-0123456789';
  let pki: TestPki;
  let proxy: TemporalTlsProxy;
  let address = '';
  let stack: TestStack;
  const secured = () => ({
    TEMPORAL_ADDRESS: address,
    TEMPORAL_TLS_CERT: pki.clientCert,
    TEMPORAL_TLS_KEY: pki.clientKey,
    TEMPORAL_TLS_CA: pki.caCert,
    TEMPORAL_TLS_SERVER_NAME: SERVER_NAME,
    TEMPORAL_API_KEY: API_KEY,
  });

  beforeAll(async () => {
    pki = makeTestPki(SERVER_NAME);
    proxy = new TemporalTlsProxy(pki, process.env.TEST_TEMPORAL_ADDRESS!);
    address = await proxy.start();
    stack = await new TestStack({ env: secured() }).start();
  });
  afterAll(async () => {
    await stack?.stop();
    await proxy?.stop();
    pki?.remove();
  });

  it('the client and the workflow worker reach Temporal through TLS only, with the certificate and the key: an event is delivered', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const eventId = await stack.publishEmail(userId);
    const [mail] = await stack.smtp.waitForMessages(`${userId}@example.test`);
    expect(mail.raw).toContain('Subject:');
    await stack.client.eventResult(eventId);

    const paths = new Set(proxy.calls.map((c) => c.path.split('/').pop()));
    // The client started the workflow, the worker polled and completed its tasks, all through the front.
    for (const method of ['StartWorkflowExecution', 'PollWorkflowTaskQueue', 'RespondWorkflowTaskCompleted'])
      expect(paths).toContain(method);
    for (const call of proxy.calls)
      expect(call).toMatchObject({
        clientCertSubject: 'notifications-worker',
        authorization: `Bearer ${API_KEY}`,
      });
  });

  it('without a client certificate, or with one of another CA, the front refuses the handshake and the start fails naming the address', async () => {
    const { TEMPORAL_TLS_CERT: _c, TEMPORAL_TLS_KEY: _k, ...noCert } = secured();
    const stranger = { ...secured(), TEMPORAL_TLS_CERT: pki.strangerCert, TEMPORAL_TLS_KEY: pki.strangerKey };
    for (const env of [noCert, stranger]) {
      const refusedBefore = proxy.refusedHandshakes;
      const temporal = loadConfig(env).temporal;
      await expect(connectTemporalClient(temporal)).rejects.toThrow(`Temporal unreachable at ${address}`);
      await expect(connectTemporalWorker(temporal)).rejects.toThrow(`Temporal unreachable at ${address}`);
      expect(proxy.refusedHandshakes).toBeGreaterThan(refusedBefore);
    }
  });

  it('a server certificate the configured CA did not sign, or for another name, is refused by our side', async () => {
    for (const env of [
      { ...secured(), TEMPORAL_TLS_CA: pki.otherCaCert },
      { ...secured(), TEMPORAL_TLS_SERVER_NAME: 'elsewhere.test' },
    ]) {
      const temporal = loadConfig(env).temporal;
      await expect(connectTemporalClient(temporal)).rejects.toThrow(`Temporal unreachable at ${address}`);
      await expect(connectTemporalWorker(temporal)).rejects.toThrow(`Temporal unreachable at ${address}`);
    }
  });
});
