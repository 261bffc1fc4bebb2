import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { eventWorkflowId } from '../../src/domain/workflow-ids';
import { ENCRYPTED_ENCODING, type JsonPayload } from '../../src/temporal/payload-codec';
import { ADMIN_KEY, ApiTestApp, apiTestEnv, SERVICE_KEY, token } from '../helpers/api-app';
import { TestStack } from '../helpers/test-stack';

const run = promisify(execFile);
const text = (bytes: Uint8Array | null | undefined) =>
  Buffer.from(bytes ?? new Uint8Array()).toString('utf8');
const base64 = (value: string) => Buffer.from(value).toString('base64');

interface ShownHistory {
  events: {
    workflowExecutionStartedEventAttributes?: { input: { payloads: JsonPayload[] } };
    workflowExecutionCompletedEventAttributes?: { result: { payloads: JsonPayload[] } };
  }[];
}

/** A payload as the CLI prints it, opened: its encoding and its JSON value. */
function opened(payload: JsonPayload): { encoding: string; value: unknown } {
  return {
    encoding: Buffer.from(payload.metadata?.encoding ?? '', 'base64').toString(),
    value: JSON.parse(Buffer.from(payload.data ?? '', 'base64').toString()),
  };
}

/** Every `{ metadata, data }` object of the CLI's JSON output. */
function payloadsIn(value: unknown, found: JsonPayload[] = []): JsonPayload[] {
  if (value === null || typeof value !== 'object') return found;
  const record = value as Record<string, unknown>;
  if (record.metadata && typeof record.metadata === 'object' && 'encoding' in record.metadata)
    found.push(record);
  else for (const child of Object.values(record)) payloadsIn(child, found);
  return found;
}

/**
 * The operator's tool during an incident (issue 15, item 4): the real temporal CLI reading and writing our
 * encrypted payloads through the API's codec endpoint (docs/contracts.md, "Payload encryption").
 */
describe('the temporal CLI through the codec endpoint', () => {
  const stack = new TestStack({ env: apiTestEnv() });
  const api = new ApiTestApp(stack);
  const basicAuth = `Basic ${base64(`ops:${ADMIN_KEY}`)}`;
  let home: string;
  let plainConnection: Connection;
  let plain: Client;

  /** Runs the CLI against the test server with a home of its own, so no operator profile on this machine applies. */
  async function temporal(args: string[], codecAuth: string | null = basicAuth): Promise<string> {
    const codec = [`--codec-endpoint`, `${api.url}/codec`, ...(codecAuth ? ['--codec-auth', codecAuth] : [])];
    const { stdout } = await run(
      process.env.TEST_TEMPORAL_CLI_PATH!,
      [
        ...args,
        '--address',
        process.env.TEST_TEMPORAL_ADDRESS!,
        '--namespace',
        stack.config.temporal.namespace,
        ...codec,
      ],
      { env: { PATH: process.env.PATH, HOME: home }, timeout: 30_000, maxBuffer: 16 * 1024 * 1024 },
    );
    return stdout;
  }

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'temporal-cli-home-'));
    await stack.start();
    await api.start({ listen: true });
    plainConnection = await Connection.connect({ address: stack.config.temporal.address });
    plain = new Client({ connection: plainConnection, namespace: stack.config.temporal.namespace });
  });
  afterAll(async () => {
    await plainConnection?.close();
    await api.close();
    await stack.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it('starts an event, queries its status and shows its history in clear, while Temporal stores the payloads encrypted', async () => {
    const userId = stack.uid('u');
    const email = `cli.${stack.id}@example.test`;
    await stack.createRecipient({ id: userId, email });
    const eventId = stack.uid('evt');
    const orderNumber = `A-CLI-${stack.id}`;
    const workflowId = eventWorkflowId(eventId);
    const event = {
      id: eventId,
      templateCode: 'order_created',
      occurredAt: new Date().toISOString(),
      userId,
      data: { orderNumber, total: 7, currency: 'INR' },
      options: { channels: ['email', 'in_app'] },
    };

    // The CLI encodes the input through POST /codec/encode (an admin JWT this time), the worker decodes it.
    const adminJwt = `Bearer ${await token('oncall', { admin: true })}`;
    await temporal(
      [
        'workflow',
        'start',
        '--type',
        'businessEventWorkflow',
        '--task-queue',
        stack.config.temporal.taskQueue,
        '--workflow-id',
        workflowId,
        '--input',
        JSON.stringify(event),
      ],
      adminJwt,
    );
    const [mail] = await stack.smtp.waitForMessages(email);
    expect(mail.raw).toContain(orderNumber);
    await stack.client.eventResult(eventId);

    // A query without arguments: the CLI sends `{}` to /codec/encode (proto3 JSON leaves an empty list out).
    const status = JSON.parse(
      await temporal(['workflow', 'query', '--workflow-id', workflowId, '--name', 'status', '-o', 'json']),
    );
    expect(JSON.stringify(status)).toContain('"delivered"');
    expect(status).toMatchObject({
      queryResult: [
        { state: 'delivered', channels: { email: { state: 'delivered' }, in_app: { state: 'delivered' } } },
      ],
    });

    // The history, decoded by the codec (proto3 JSON: bytes in base64): the input as submitted, the result naming
    // the delivered notification, and no payload left encrypted.
    const history = JSON.parse(
      await temporal(['workflow', 'show', '--workflow-id', workflowId, '-o', 'json']),
    ) as ShownHistory;
    const startedEvent = history.events.find(
      (e) => e.workflowExecutionStartedEventAttributes,
    )!.workflowExecutionStartedEventAttributes!;
    expect(startedEvent.input.payloads.map(opened)).toEqual([{ encoding: 'json/plain', value: event }]);
    const completedEvent = history.events.find(
      (e) => e.workflowExecutionCompletedEventAttributes,
    )!.workflowExecutionCompletedEventAttributes!;
    expect(completedEvent.result.payloads.map(opened)).toEqual([
      {
        encoding: 'json/plain',
        value: expect.objectContaining({
          eventId,
          notifications: [expect.objectContaining({ userId, state: 'delivered' })],
        }),
      },
    ]);
    const encodings = payloadsIn(history).map((p) =>
      Buffer.from(p.metadata?.encoding ?? '', 'base64').toString(),
    );
    expect(encodings.length).toBeGreaterThan(3);
    expect(encodings).not.toContain(ENCRYPTED_ENCODING);

    // What Temporal stores: encrypted under this stack's key, no order number for a client without keys.
    const stored = await plain.workflow.getHandle(workflowId).fetchHistory();
    const input = stored.events![0].workflowExecutionStartedEventAttributes!.input!.payloads!;
    expect(input.map((p) => text(p.metadata?.encoding))).toEqual([ENCRYPTED_ENCODING]);
    expect(text(input[0].metadata?.['encryption-key-id'])).toBe(`test-${stack.id}`);
    const raw = JSON.stringify(stored, (_k, v: unknown) =>
      v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v,
    );
    expect(raw).not.toContain(orderNumber);
    expect(raw).not.toContain(email);
  }, 60_000);

  it('is refused without an admin credential, and the CLI says so', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const eventId = await stack.publishEmail(userId);
    await stack.client.eventResult(eventId);
    // A query shows the codec's answer; `workflow start`/`show` retry a refused codec call until their 10 s deadline instead.
    const query = ['workflow', 'query', '--workflow-id', eventWorkflowId(eventId), '--name', 'status'];
    const anonymous = await temporal(query, null).then(
      () => null,
      (err: { stderr?: string }) => err,
    );
    expect(anonymous?.stderr).toMatch(/Unauthorized.*missing credentials/);
    const service = await temporal(query, `Basic ${base64(`svc:${SERVICE_KEY}`)}`).then(
      () => null,
      (err: { stderr?: string }) => err,
    );
    expect(service?.stderr).toMatch(/Forbidden/);
    expect(JSON.parse(await temporal([...query, '-o', 'json']))).toMatchObject({
      queryResult: [{ state: 'delivered' }],
    });
  }, 60_000);

  describe('proto3 JSON defaults', () => {
    const decode = (payload: unknown) =>
      api.admin({ method: 'POST', url: '/codec/decode', payload: payload as Record<string, unknown> });
    const encode = (payload: unknown) =>
      api.admin({ method: 'POST', url: '/codec/encode', payload: payload as Record<string, unknown> });

    it('takes a missing or null payloads list as empty', async () => {
      for (const body of [{}, { payloads: null }, { payloads: [] }]) {
        for (const res of [await decode(body), await encode(body)]) {
          expect(res.statusCode).toBe(200);
          expect(res.json()).toEqual({ payloads: [] });
        }
      }
    });

    it('takes a payload without metadata or data as one with none and empty bytes', async () => {
      const encoded = await encode({
        payloads: [
          {},
          { metadata: null, data: null },
          { metadata: { encoding: base64('binary/null'), other: null } },
        ],
      });
      expect(encoded.statusCode).toBe(200);
      const payloads = encoded.json<{ payloads: JsonPayload[] }>().payloads;
      expect(payloads.map((p) => Buffer.from(p.metadata!.encoding, 'base64').toString())).toEqual([
        ENCRYPTED_ENCODING,
        ENCRYPTED_ENCODING,
        ENCRYPTED_ENCODING,
      ]);
      const decoded = await decode({ payloads });
      expect(decoded.json()).toEqual({
        payloads: [
          { metadata: {}, data: '' },
          { metadata: {}, data: '' },
          { metadata: { encoding: base64('binary/null') }, data: '' },
        ],
      });
    });

    it('documents the list as optional in the OpenAPI document', async () => {
      const doc = (await api.inject({ method: 'GET', url: '/docs/json' })).json();
      const body = doc.paths['/codec/decode'].post.requestBody.content['application/json'].schema;
      expect(body.properties).toHaveProperty('payloads');
      expect(body.required ?? []).not.toContain('payloads');
    });

    it('still names what is wrong in a malformed body', async () => {
      const res = await decode({ payloads: [{ data: 'not base64!' }] });
      expect(res.statusCode).toBe(400);
      expect(res.json().message ?? res.body).toMatch(/payloads.*data.*base64/s);
    });
  });
});
