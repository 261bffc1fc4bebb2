import { Client, Connection } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { NotificationClient } from '../../src/client/notification-client';
import { eventWorkflowId } from '../../src/domain/workflow-ids';
import {
  ENCRYPTED_ENCODING,
  payloadToJson,
  temporalDataConverter,
  type JsonPayload,
} from '../../src/temporal/payload-codec';
import { ADMIN_KEY, ApiTestApp, apiTestEnv, SERVICE_KEY } from '../helpers/api-app';
import { TestStack } from '../helpers/test-stack';

/** Every payload (Temporal's `{ metadata, data }` messages) anywhere in a history, with where it is. */
function payloadsIn(
  value: unknown,
  path = '',
  found: { path: string; payload: Payload }[] = [],
): { path: string; payload: Payload }[] {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return found;
  const record = value as Record<string, unknown>;
  if (record.data instanceof Uint8Array && record.metadata && typeof record.metadata === 'object') {
    found.push({ path, payload: record });
    return found;
  }
  // Search attributes are payloads Temporal must read to index them: in clear by design (ids only).
  for (const [key, child] of Object.entries(record))
    if (key !== 'searchAttributes') payloadsIn(child, `${path}.${key}`, found);
  return found;
}
const text = (bytes: Uint8Array | null | undefined) =>
  Buffer.from(bytes ?? new Uint8Array()).toString('utf8');

describe('Temporal payloads are encrypted (issue 10, point 9)', () => {
  const UI_ORIGIN = 'http://temporal-ui.test:8233';
  const stack = new TestStack({ env: apiTestEnv({ TEMPORAL_UI_URL: UI_ORIGIN }) });
  const api = new ApiTestApp(stack);
  let plainConnection: Connection;
  let plain: Client;
  let eventId: string;
  const orderNumber = `A-SECRET-${Date.now()}`;
  let email: string;

  beforeAll(async () => {
    await stack.start();
    await api.start();
    plainConnection = await Connection.connect({ address: stack.config.temporal.address });
    plain = new Client({ connection: plainConnection, namespace: stack.config.temporal.namespace });
    const userId = stack.uid('u');
    email = `jane.doe.${stack.id}@example.test`;
    await stack.createRecipient({ id: userId, email });
    eventId = stack.uid('evt');
    await stack.client.publishNotification({
      id: eventId,
      userId,
      templateCode: 'order_created',
      variables: { orderNumber, total: 5, currency: 'INR' },
      options: { channels: ['email', 'in_app'] },
    });
    await stack.client.eventResult(eventId);
  });
  afterAll(async () => {
    await plainConnection?.close();
    await api.close();
    await stack.stop();
  });

  it('a client without the codec reads no event data or address in the history; the codec-equipped client decodes it', async () => {
    const history = await plain.workflow.getHandle(eventWorkflowId(eventId)).fetchHistory();
    const found = payloadsIn(history);
    expect(found.length).toBeGreaterThan(3);
    // Markers' own bookkeeping (patch ids, a local activity's seq and times) is written by the SDK core, not by a codec.
    const coreBookkeeping = /markerRecordedEventAttributes\.details\.(patch-data|data)\./;
    expect(
      found
        .filter(
          ({ path, payload }) =>
            text(payload.metadata?.encoding) !== ENCRYPTED_ENCODING && !coreBookkeeping.test(path),
        )
        .map(({ path, payload }) => `${path}: ${text(payload.data)}`),
    ).toEqual([]);
    const everything = found.map(({ payload }) => text(payload.data)).join('\n');
    expect(everything).not.toContain(orderNumber);
    expect(everything).not.toContain(email);
    // Not even in the raw bytes of the whole history (failures, markers, memo included).
    const raw = JSON.stringify(history, (_k, v: unknown) =>
      v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v,
    );
    expect(raw).not.toContain(orderNumber);
    expect(raw).not.toContain(email);

    // The codec our clients and workers use opens the started event's input: the business event as submitted.
    const [codec] = temporalDataConverter(stack.config.temporal).payloadCodecs!;
    const input = history.events![0].workflowExecutionStartedEventAttributes!.input!.payloads!;
    const [event] = (await codec.decode(input)).map((p) =>
      defaultPayloadConverter.fromPayload<{ id: string; data: { orderNumber: string } }>(p),
    );
    expect(event).toMatchObject({ id: eventId, data: { orderNumber } });
    // And the codec-equipped client reads memo and result as usual.
    expect((await stack.temporalClient.workflow.getHandle(eventWorkflowId(eventId)).describe()).memo).toEqual(
      { templateCode: 'order_created', channels: ['email', 'in_app'] },
    );
  });

  it('workers with the codec still run workflows whose payloads are in clear (started before encryption was turned on)', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const id = stack.uid('evt');
    const unencrypted = new NotificationClient(plain, stack.config.temporal.taskQueue, {
      campaignTaskQueue: stack.config.temporal.campaignTaskQueue,
    });
    await unencrypted.publishNotification({
      id,
      userId,
      templateCode: 'order_created',
      variables: { orderNumber: 'A-PLAIN-1', total: 5, currency: 'INR' },
      options: { channels: ['in_app'] },
    });
    // Its result comes back encrypted by the worker; the codec-equipped client reads it.
    const result = await stack.client.eventResult(id);
    expect(JSON.stringify(result)).toContain('delivered');
    const history = await plain.workflow.getHandle(eventWorkflowId(id)).fetchHistory();
    const input = history.events![0].workflowExecutionStartedEventAttributes!.input!.payloads!;
    expect(text(input[0].metadata?.encoding)).toBe('json/plain');
  });

  describe('codec endpoint for the Web UI', () => {
    const encryptedInput = async (): Promise<JsonPayload[]> => {
      const history = await plain.workflow.getHandle(eventWorkflowId(eventId)).fetchHistory();
      return history.events![0].workflowExecutionStartedEventAttributes!.input!.payloads!.map(payloadToJson);
    };

    it('decodes for an admin, with CORS headers for the Web UI origin', async () => {
      const res = await api.admin({
        method: 'POST',
        url: '/codec/decode',
        headers: { origin: UI_ORIGIN, 'x-namespace': 'default' },
        payload: { payloads: await encryptedInput() },
      });
      expect(res.statusCode).toBe(200);
      expect(res.headers['access-control-allow-origin']).toBe(UI_ORIGIN);
      expect(res.headers['access-control-allow-credentials']).toBe('true');
      const [decoded] = res.json<{ payloads: JsonPayload[] }>().payloads;
      expect(Buffer.from(decoded.metadata!.encoding, 'base64').toString()).toBe('json/plain');
      expect(JSON.parse(Buffer.from(decoded.data!, 'base64').toString())).toMatchObject({
        id: eventId,
        data: { orderNumber },
      });

      // Encode answers with the current key; decode opens it again. Payloads in clear pass decode untouched.
      const clear = payloadToJson(defaultPayloadConverter.toPayload({ hello: 'world' }));
      const encoded = (
        await api.admin({ method: 'POST', url: '/codec/encode', payload: { payloads: [clear] } })
      ).json<{ payloads: JsonPayload[] }>();
      expect(Buffer.from(encoded.payloads[0].metadata!.encoding, 'base64').toString()).toBe(
        ENCRYPTED_ENCODING,
      );
      const back = (
        await api.admin({
          method: 'POST',
          url: '/codec/decode',
          payload: { payloads: [...encoded.payloads, clear] },
        })
      ).json<{ payloads: JsonPayload[] }>();
      expect(back.payloads).toEqual([clear, clear]);
    });

    it('refuses anonymous callers and service keys; a foreign origin gets no CORS grant', async () => {
      const payload = { payloads: await encryptedInput() };
      const anonymous = await api.inject({
        method: 'POST',
        url: '/codec/decode',
        headers: { origin: UI_ORIGIN },
        payload,
      });
      expect(anonymous.statusCode).toBe(401);
      expect(anonymous.body).not.toContain(orderNumber);
      // The refusal is readable by the UI (CORS headers on it), so it shows "unauthorized" rather than a network error.
      expect(anonymous.headers['access-control-allow-origin']).toBe(UI_ORIGIN);
      const service = await api.inject({
        method: 'POST',
        url: '/codec/decode',
        headers: { 'x-api-key': SERVICE_KEY },
        payload,
      });
      expect(service.statusCode).toBe(403);
      expect(service.body).not.toContain(orderNumber);
      const foreign = await api.admin({
        method: 'POST',
        url: '/codec/decode',
        headers: { origin: 'https://evil.example' },
        payload,
      });
      expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
    });

    it('answers the preflight (OPTIONS, sent without credentials) for the Web UI origin only', async () => {
      const preflight = await api.inject({
        method: 'OPTIONS',
        url: '/codec/decode',
        headers: {
          origin: UI_ORIGIN,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type,x-namespace,authorization',
        },
      });
      expect(preflight.statusCode).toBe(204);
      expect(preflight.headers['access-control-allow-origin']).toBe(UI_ORIGIN);
      expect(preflight.headers['access-control-allow-credentials']).toBe('true');
      expect(String(preflight.headers['access-control-allow-methods'])).toContain('POST');
      expect(String(preflight.headers['access-control-allow-headers']).toLowerCase()).toEqual(
        expect.stringContaining('x-namespace'),
      );
      const foreign = await api.inject({
        method: 'OPTIONS',
        url: '/codec/encode',
        headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
      });
      expect(foreign.statusCode).toBe(403);
      expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
    });

    it('is reached with the admin key as the Basic password too (a browser that signed in to the API)', async () => {
      const res = await api.inject({
        method: 'POST',
        url: '/codec/decode',
        headers: { authorization: `Basic ${Buffer.from(`ops:${ADMIN_KEY}`).toString('base64')}` },
        payload: { payloads: await encryptedInput() },
      });
      expect(res.statusCode).toBe(200);
    });
  });
});
