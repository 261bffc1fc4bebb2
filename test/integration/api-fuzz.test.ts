import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { campaignTaskQueueFor } from '../../src/client/notification-client';
import { Campaign, Recipient, Template } from '../../src/db/entities';
import { ADMIN_KEY, ApiTestApp, apiTestEnv, SERVICE_KEY, token } from '../helpers/api-app';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

/**
 * Property-based: generated malformed bodies against every write endpoint. Whatever comes in, the API
 * answers below 500, a refused request starts no workflow (Temporal visibility lists exactly the
 * workflows of accepted requests), and /healthz keeps answering within a second.
 */

const BATCHES = 400;
const BATCH_SIZE = 25; // requests in flight at once; BATCHES x BATCH_SIZE = 10,000 bodies

const NUL = '\u0000';
const HIGH = '\ud800';
const LOW = '\udfff';
/** Replaced in the body text by arrays nested that deep (JSON.stringify cannot nest thousands deep). */
const deepMarker = (levels: number) => `__DEEP_${levels}__`;

type Auth = 'service' | 'admin' | 'user';
interface Endpoint {
  name: string;
  method: 'POST' | 'PUT';
  auth: Auth;
  /** Valid path segments and a body a well-behaved caller would send. */
  path: (segment: string) => string;
  validSegment: () => string;
  valid: () => Record<string, unknown>;
}

describe('HTTP API under generated malformed requests', () => {
  const stack = new TestStack({
    env: apiTestEnv({ API_RATE_LIMIT_PER_KEY: '0', API_RATE_LIMIT_PER_USER: '0' }),
    // Nothing runs the workflows: an accepted request's workflow stays visible on this stack's task queue.
    temporalWorker: false,
    deliveryWorkers: false,
  });
  const api = new ApiTestApp(stack);
  const shopper = `fuzz_${stack.id}_shopper`;
  const templateCode = `fuzz_${stack.id}_tpl`;
  let userToken = '';

  beforeAll(async () => {
    await stack.start();
    await api.start({ listen: true });
    await stack.createRecipient({ id: shopper });
    userToken = await token(shopper);
  });

  afterAll(async () => {
    // Rows accepted requests created must not show up in other test files (same database).
    const em = stack.orm.em.fork();
    await em.nativeDelete(Template, { code: { $like: `fuzz\\_${stack.id}%` } });
    await em.nativeDelete(Campaign, { id: { $in: campaignIds } });
    await em.nativeDelete(Recipient, { id: { $like: `fuzz\\_${stack.id}%` } });
    await api.close();
    await stack.stop();
  });

  const now = () => new Date().toISOString();
  const later = () => new Date(Date.now() + 30 * 24 * 3600_000).toISOString();
  const endpoints: Endpoint[] = [
    {
      name: 'events',
      method: 'POST',
      auth: 'service',
      path: () => '/api/events',
      validSegment: () => '',
      valid: () => ({
        id: `fuzz_${randomUUID()}`,
        type: 'ORDER_CREATED',
        occurredAt: now(),
        userId: shopper,
        data: { orderNumber: 'A-1', total: 10, currency: 'INR' },
      }),
    },
    {
      name: 'direct send',
      method: 'POST',
      auth: 'service',
      path: () => '/api/notifications',
      validSegment: () => '',
      valid: () => ({
        userId: shopper,
        templateCode: 'ORDER_CREATED',
        variables: { orderNumber: 'A-1', userName: 'Fuzz' },
        options: { priority: 'high', actionText: 'View' },
      }),
    },
    {
      name: 'batch send',
      method: 'POST',
      auth: 'service',
      path: () => '/api/notifications/batch',
      validSegment: () => '',
      valid: () => ({
        userIds: [shopper],
        templateCode: 'LOW_STOCK_ALERT',
        variables: { productName: 'Mug', currentStock: 2, threshold: 5 },
        options: { priority: 'urgent' },
      }),
    },
    {
      name: 'recipient',
      method: 'PUT',
      auth: 'service',
      path: (id) => `/api/recipients/${id}`,
      validSegment: () => `fuzz_${stack.id}_${randomUUID().slice(0, 8)}`,
      valid: () => ({
        name: 'Fuzz',
        email: 'fuzz@example.test',
        locale: 'en',
        roles: ['fuzz'],
        quietHours: { start: '22:00', end: '07:00', timezone: 'UTC' },
      }),
    },
    {
      name: 'preferences',
      method: 'PUT',
      auth: 'user',
      path: () => '/api/preferences',
      validSegment: () => '',
      valid: () => ({ muted: false, channels: { marketing: { email: false } } }),
    },
    {
      name: 'template version',
      method: 'POST',
      auth: 'admin',
      path: (code) => `/api/templates/${code}/versions`,
      validSegment: () => templateCode,
      valid: () => ({
        channel: 'in_app',
        category: 'account',
        fields: { title: 'Hi {{#if name}}{{name}}{{/if}}', body: '{{message}}' },
      }),
    },
    {
      name: 'template preview',
      method: 'POST',
      auth: 'admin',
      path: (code) => `/api/templates/${code}/preview`,
      validSegment: () => 'order_created',
      valid: () => ({
        channel: 'in_app',
        fields: { title: '{{a}}', body: '{{#unless b}}none{{/unless}}' },
        variables: { a: 1, items: [1, 2] },
      }),
    },
    {
      name: 'campaign',
      method: 'POST',
      auth: 'admin',
      path: () => '/api/campaigns',
      validSegment: () => '',
      valid: () => ({
        name: `fuzz ${stack.id}`,
        templateCode: 'marketing_announcement',
        segment: { userIds: [`fuzz_${stack.id}_nobody`] },
        variables: { headline: 'Sale', message: 'Now' },
        scheduledAt: later(),
      }),
    },
    {
      name: 'campaign cancel',
      method: 'POST',
      auth: 'admin',
      path: (id) => `/api/campaigns/${id}/cancel`,
      validSegment: () => randomUUID(),
      valid: () => ({ reason: 'budget' }),
    },
    {
      name: 'notification cancel',
      method: 'POST',
      auth: 'service',
      path: (id) => `/api/notifications/${id}/cancel`,
      validSegment: () => `notification-fuzz_${randomUUID()}-${shopper}`,
      valid: () => ({ reason: 'customer asked' }),
    },
    {
      name: 'notification reschedule',
      method: 'POST',
      auth: 'service',
      path: (id) => `/api/notifications/${id}/reschedule`,
      validSegment: () => randomUUID(),
      valid: () => ({ sendAt: later() }),
    },
  ];

  // --- generators -------------------------------------------------------------------------------

  const nastyString = fc.oneof(
    fc.constantFrom(
      `a${NUL}b`,
      NUL,
      `x${HIGH}`,
      `${LOW}y`,
      HIGH + HIGH,
      'ok 🎉',
      '',
      ' ',
      '\u202e\u0007',
      'x'.repeat(3000),
      '{{#if a}}'.repeat(5000) + '{{/if}}'.repeat(5000),
      '{{#if a}}1' + '{{else if b}}2'.repeat(2000) + '{{/if}}',
      '{{a ' + '(b '.repeat(500) + 'c' + ')'.repeat(500) + '}}',
      '{{> partial}}',
      '{{lookup a "b"}}',
      '{{#each a}}{{@root.b}}{{/each}}',
      '{{#if a}}{{../b}}{{/if}}',
      '{{orderNumber}} {{sku}}',
      'ORDER_CREATED',
      'LOW_STOCK_ALERT',
      'marketing_announcement',
      'constructor',
      '__proto__',
      '2026-13-45T99:00:00Z',
      '2026-11-25T10:00:00Z',
      'javascript:alert(1)',
      'https://ok.example/x',
      'urgent',
      'email',
      deepMarker(33),
      deepMarker(5000),
      deepMarker(60_000),
    ),
    // Any code points, lone surrogates included (a 'binary' unit would build a map of all 1.1 M first).
    fc
      .array(fc.integer({ min: 0, max: 0x10ffff }), { maxLength: 24 })
      .map((points) => String.fromCodePoint(...points)),
    fc
      .tuple(fc.string({ maxLength: 8 }), fc.constantFrom(NUL, HIGH, LOW), fc.string({ maxLength: 8 }))
      .map((parts) => parts.join('')),
  );
  const key = fc.oneof(
    nastyString,
    fc.constantFrom(
      'id',
      'type',
      'data',
      'variables',
      'options',
      'fields',
      'userId',
      'userIds',
      'name',
      'segment',
      'channels',
    ),
  );
  const { value: nastyValue } = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      nastyString,
      fc.integer(),
      fc.constantFrom(0, -1, 1.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2),
      fc.boolean(),
      fc.constant(null),
      fc.array(tie('value'), { maxLength: 3 }),
      fc.dictionary(key, tie('value'), { maxKeys: 3 }),
    ),
  }));

  type Mutation = { op: 'set' | 'delete'; pick: number; value: unknown; key: string };
  const mutation: fc.Arbitrary<Mutation> = fc.record({
    op: fc.constantFrom('set', 'set', 'set', 'delete'),
    pick: fc.nat(),
    value: nastyValue,
    key,
  });

  /** Every object path of a value (the root included), to aim mutations at. */
  function objectPaths(value: unknown, path: string[] = []): string[][] {
    if (value === null || typeof value !== 'object') return [];
    return [path, ...Object.entries(value).flatMap(([k, v]) => objectPaths(v, [...path, k]))];
  }

  function mutate(body: Record<string, unknown>, m: Mutation): void {
    const paths = objectPaths(body);
    const target = paths[m.pick % paths.length].reduce<Record<string, unknown>>(
      (o, k) => o[k] as Record<string, unknown>,
      body,
    );
    const keys = Object.keys(target);
    if (m.op === 'delete') {
      if (keys.length) delete target[keys[m.pick % keys.length]];
      return;
    }
    // Half the time an existing field gets a wrong value, else a new (maybe unknown) field appears.
    const name = keys.length && m.pick % 2 === 0 ? keys[m.pick % keys.length] : m.key;
    Object.defineProperty(target, name, {
      value: m.value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }

  const segment = fc.oneof(
    { weight: 8, arbitrary: fc.constant(null) },
    // Never a valid code or id of rows other tests use: accepted requests would change them.
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '%00',
        '%ED%A0%80',
        '%F0%9F%98%80',
        'a'.repeat(600),
        '%2e%2e',
        'Bad%20Code',
        'x%0Ay',
        '%E2%80%AE',
      ),
    },
  );

  interface Sent {
    endpoint: Endpoint;
    url: string;
    text: string;
    contentType: string;
  }

  const request: fc.Arbitrary<Sent> = fc
    .record({
      endpoint: fc.constantFrom(...endpoints),
      mutations: fc.array(mutation, { minLength: 1, maxLength: 3 }),
      whole: fc.oneof({ weight: 11, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: nastyValue }),
      segment,
      text: fc.constantFrom(
        'json',
        'json',
        'json',
        'json',
        'json',
        'json',
        'json',
        'json',
        'truncated',
        'text/plain',
      ),
      cut: fc.nat(),
    })
    .map(({ endpoint, mutations, whole, segment: badSegment, text, cut }) => {
      const body = endpoint.valid();
      for (const m of mutations) mutate(body, m);
      let json = JSON.stringify(whole !== null ? whole : body) ?? 'null';
      json = json.replace(
        /"__DEEP_(\d+)__"/g,
        (_, levels: string) => '['.repeat(Number(levels)) + ']'.repeat(Number(levels)),
      );
      if (text === 'truncated') json = json.slice(0, cut % Math.max(json.length, 1));
      return {
        endpoint,
        url: endpoint.path(badSegment ?? endpoint.validSegment()),
        text: json,
        contentType: text === 'text/plain' ? 'text/plain' : 'application/json',
      };
    });

  // --- the run ----------------------------------------------------------------------------------

  function headers(auth: Auth, contentType: string): Record<string, string> {
    const credentials: Record<string, string> =
      auth === 'user'
        ? { authorization: `Bearer ${userToken}` }
        : { 'x-api-key': auth === 'admin' ? ADMIN_KEY : SERVICE_KEY };
    return { ...credentials, 'content-type': contentType };
  }

  /** Workflow ids of accepted requests (2xx answers name them). */
  const accepted = new Set<string>();
  const campaignIds: string[] = [];
  const refusedEventIds: string[] = [];
  const statuses = new Map<number, number>();
  let sent = 0;

  async function send(r: Sent): Promise<void> {
    // Injected: the whole Fastify pipeline without an HTTP client in this process (fetch would double
    // the run time); /healthz is probed over a real socket meanwhile.
    const injected = await api.inject({
      method: r.endpoint.method,
      url: r.url,
      headers: headers(r.endpoint.auth, r.contentType),
      payload: r.text,
    });
    const res = { status: injected.statusCode };
    const answer = injected.body;
    sent++;
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    if (res.status >= 500)
      throw new Error(
        `${r.endpoint.name} ${r.url} answered ${res.status} ${answer.slice(0, 300)} to ${r.text.slice(0, 300)}`,
      );
    if (res.status < 300) {
      const { workflowId, id } = JSON.parse(answer) as { workflowId?: unknown; id?: unknown };
      if (typeof workflowId === 'string') accepted.add(workflowId);
      if (r.endpoint.name === 'campaign' && typeof id === 'string') campaignIds.push(id);
      return;
    }
    const id = /^\{"id":"(fuzz_[0-9a-f-]+)"/.exec(r.text)?.[1];
    if (id) refusedEventIds.push(id);
  }

  /** Times /healthz every 100 ms until stopped. */
  function watchHealth(): { stop: () => Promise<{ probes: number; slowestMs: number; failures: string[] }> } {
    let running = true;
    let probes = 0;
    let slowestMs = 0;
    const failures: string[] = [];
    const loop = (async () => {
      while (running) {
        const started = performance.now();
        try {
          const res = await fetch(`${api.url}/healthz`, { signal: AbortSignal.timeout(5000) });
          await res.text();
          if (res.status !== 200) failures.push(`status ${res.status}`);
        } catch (err) {
          failures.push(String(err));
        }
        slowestMs = Math.max(slowestMs, performance.now() - started);
        probes++;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    return {
      stop: async () => {
        running = false;
        await loop;
        return { probes, slowestMs, failures };
      },
    };
  }

  it("answers the issue's requests with 400, at once", async () => {
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    const cases: [string, Auth, string][] = [
      [
        '/api/campaigns',
        'admin',
        JSON.stringify({
          name: `Sale${NUL}`,
          templateCode: 'marketing_announcement',
          segment: { roles: ['fuzz'] },
        }),
      ],
      [
        '/api/campaigns',
        'admin',
        JSON.stringify({
          name: 'Sale',
          templateCode: 'marketing_announcement',
          segment: { roles: ['fuzz'] },
          variables: { headline: HIGH, message: 'm' },
        }),
      ],
      [
        '/api/campaigns',
        'admin',
        `{"name":"Sale","templateCode":"marketing_announcement","segment":{"roles":["fuzz"]},"variables":{"headline":"h","message":"m","x":${deep}}}`,
      ],
      [
        `/api/templates/${templateCode}/versions`,
        'admin',
        JSON.stringify({ channel: 'sms', category: 'account', fields: { text: `hi${NUL}` } }),
      ],
      [
        `/api/templates/${templateCode}/versions`,
        'admin',
        JSON.stringify({
          channel: 'sms',
          category: 'account',
          fields: { text: 'x'.repeat(35_000) + '{{#if a}}'.repeat(5000) + '{{/if}}'.repeat(5000) },
        }),
      ],
      [
        '/api/notifications/batch',
        'service',
        `{"userIds":["${shopper}"],"templateCode":"LOW_STOCK_ALERT","variables":{"productName":"Mug","currentStock":1,"x":${deep}}}`,
      ],
      [
        '/api/events',
        'service',
        JSON.stringify({
          id: `fuzz_${randomUUID()}`,
          type: 'ORDER_CREATED',
          occurredAt: now(),
          userId: shopper,
          data: { orderNumber: 'A-1', note: NUL },
        }),
      ],
      [
        '/api/notifications',
        'service',
        JSON.stringify({
          userId: shopper,
          templateCode: 'ORDER_CREATED',
          variables: { orderNumber: 'A-1' },
          options: { actionUrl: `/x${LOW}` },
        }),
      ],
    ];
    for (const [url, auth, text] of cases) {
      const started = performance.now();
      const res = await fetch(api.url + url, {
        method: 'POST',
        headers: headers(auth, 'application/json'),
        body: text,
      });
      const body = (await res.json()) as { fields: string[] };
      expect({ url, status: res.status }).toEqual({ url, status: 400 });
      expect(body.fields.length).toBeGreaterThan(0);
      expect(performance.now() - started).toBeLessThan(1000);
    }
  });

  it(`answers ${BATCHES * BATCH_SIZE} generated malformed requests below 500, starts workflows only for accepted ones, /healthz within 1 s`, async () => {
    const health = watchHealth();
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(request, { minLength: BATCH_SIZE, maxLength: BATCH_SIZE }),
          async (batch) => {
            await Promise.all(batch.map(send));
          },
        ),
        { numRuns: BATCHES, endOnFailure: true },
      );
    } finally {
      const { probes, slowestMs, failures } = await health.stop();
      expect(failures).toEqual([]);
      expect(slowestMs).toBeLessThan(1000);
      expect(probes).toBeGreaterThan(10);
    }
    expect(sent).toBeGreaterThanOrEqual(10_000);
    const refused = [...statuses].filter(([status]) => status >= 400).reduce((n, [, count]) => n + count, 0);
    // Most generated bodies are malformed: the run is about refusals.
    expect(refused / sent).toBeGreaterThan(0.8);

    // Visibility lists exactly the workflows of accepted requests on this stack's task queue.
    const query = `TaskQueue = '${stack.config.temporal.taskQueue}' OR TaskQueue = '${campaignTaskQueueFor(stack.config.temporal.taskQueue)}'`;
    const listed = await waitFor(
      async () => {
        const ids: string[] = [];
        for await (const execution of stack.temporalClient.workflow.list({ query }))
          ids.push(execution.workflowId);
        return ids.length >= accepted.size ? ids : undefined;
      },
      30_000,
      250,
    );
    expect([...new Set(listed)].sort()).toEqual([...accepted].sort());
    // And, strongly consistent, for refused events with an id of their own: no workflow under it.
    for (const id of refusedEventIds.slice(0, 100)) {
      await expect(stack.temporalClient.workflow.getHandle(`event-${id}`).describe()).rejects.toThrow(
        /not found/i,
      );
    }
  }, 120_000); // about 15 s on an idle 2-CPU machine; the margin is for a busy one
});
