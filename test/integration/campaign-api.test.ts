import { randomUUID } from 'node:crypto';
import { Campaign, Notification } from '../../src/db/entities';
import { campaignWorkflowId } from '../../src/domain/workflow-ids';
import { ApiTestApp, apiTestEnv } from '../helpers/api-app';
import { grantMarketingConsent } from '../helpers/consent';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

describe('HTTP API: campaigns', () => {
  const stack = new TestStack({ env: apiTestEnv() });
  const api = new ApiTestApp(stack);
  beforeAll(async () => {
    await stack.start();
    await api.start();
  });
  afterAll(async () => {
    await api.close();
    await stack.stop();
  });

  const body = (role: string, extra: Record<string, unknown> = {}) => ({
    name: `Launch ${role}`,
    templateCode: 'marketing_announcement',
    segment: { roles: [role] },
    variables: { headline: 'New collection', message: 'Have a look.' },
    ...extra,
  });
  const later = () => new Date(Date.now() + 3600_000).toISOString();

  it('is for operators only', async () => {
    const post = { method: 'POST' as const, url: '/api/campaigns', payload: body('anyone') };
    expect((await api.service(post)).statusCode).toBe(403);
    expect((await api.as('u_1', post)).statusCode).toBe(403);
    expect((await api.inject(post)).statusCode).toBe(401);
    expect((await api.service({ method: 'GET', url: '/api/campaigns' })).statusCode).toBe(403);
    expect(await stack.orm.em.fork().count(Campaign, { name: 'Launch anyone' })).toBe(0);
  });

  it('names the offending fields and starts nothing', async () => {
    const invalid = await api.admin({
      method: 'POST',
      url: '/api/campaigns',
      payload: { ...body('x'), name: '', segment: {}, priority: 'urgent', scheduledAt: 'soon', extra: 1 },
    });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json()).toMatchObject({
      in: 'body',
      fields: expect.arrayContaining(['name', 'segment', 'priority', 'scheduledAt', 'extra']),
    });
    expect(invalid.json().message).toContain(
      'priority: must be low, normal or high (campaigns are never urgent)',
    );

    const id = randomUUID();
    const transactional = await api.admin({
      method: 'POST',
      url: '/api/campaigns',
      payload: body('x', { id, templateCode: 'order_created' }),
    });
    expect(transactional.json()).toMatchObject({
      statusCode: 400,
      fields: ['templateCode'],
      message: expect.stringContaining('campaigns send marketing templates'),
    });
    const unknown = await api.admin({
      method: 'POST',
      url: '/api/campaigns',
      payload: body('x', { id, templateCode: 'no_such_template' }),
    });
    expect(unknown.json()).toMatchObject({ statusCode: 400, fields: ['templateCode'] });
    await expect(
      stack.temporalClient.workflow.getHandle(campaignWorkflowId(id)).describe(),
    ).rejects.toThrow();
    expect((await api.admin({ method: 'GET', url: '/api/campaigns/not-a-uuid' })).json()).toMatchObject({
      statusCode: 400,
      fields: ['id'],
      in: 'params',
    });
    expect((await api.admin({ method: 'GET', url: `/api/campaigns/${id}` })).statusCode).toBe(404);
  });

  it('schedules idempotently, shows live progress, lists newest first and cancels', async () => {
    const id = randomUUID();
    const scheduledAt = later();
    const created = await api.admin({
      method: 'POST',
      url: '/api/campaigns',
      payload: body(stack.uid('promo'), { id, scheduledAt }),
    });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toEqual({ id, workflowId: `campaign-${id}`, started: true });
    const again = await api.admin({
      method: 'POST',
      url: '/api/campaigns',
      payload: body(stack.uid('promo'), { id, scheduledAt }),
    });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual({ id, workflowId: `campaign-${id}`, started: false });

    const detail = await waitFor(async () => {
      const response = await api.admin({ method: 'GET', url: `/api/campaigns/${id}` });
      return response.json().progress ? response.json() : undefined;
    });
    expect(detail).toMatchObject({
      id,
      state: 'scheduled',
      scheduledAt,
      priority: 'low',
      channels: null,
      workflow: { status: 'RUNNING' },
      progress: { state: 'scheduled', scheduledAt, targeted: 0, started: 0 },
      notifications: {},
    });

    const other = randomUUID();
    expect(
      (
        await api.admin({
          method: 'POST',
          url: '/api/campaigns',
          payload: body(stack.uid('promo'), { id: other, scheduledAt }),
        })
      ).statusCode,
    ).toBe(201);
    const first = await api.admin({ method: 'GET', url: '/api/campaigns?limit=1&state=scheduled' });
    expect(first.json()).toMatchObject({ items: [{ id: other }], nextCursor: other });
    const second = await api.admin({
      method: 'GET',
      url: `/api/campaigns?limit=1&state=scheduled&cursor=${other}`,
    });
    expect(second.json().items.map((c: { id: string }) => c.id)).toEqual([id]);

    for (const campaignId of [id, other]) {
      const cancelled = await api.admin({
        method: 'POST',
        url: `/api/campaigns/${campaignId}/cancel`,
        payload: { reason: 'launch moved' },
      });
      expect(cancelled.statusCode).toBe(200);
      expect(cancelled.json()).toMatchObject({ state: 'cancelled', started: 0 });
    }
    const twice = await api.admin({ method: 'POST', url: `/api/campaigns/${id}/cancel` });
    expect(twice.statusCode).toBe(409);
    const final = await waitFor(async () => {
      const response = (await api.admin({ method: 'GET', url: `/api/campaigns/${id}` })).json();
      return response.workflow?.status === 'COMPLETED' ? response : undefined;
    });
    expect(final).toMatchObject({
      state: 'cancelled',
      progress: { state: 'cancelled', cancelReason: 'launch moved' },
    });
  });

  it('runs a campaign to explicit recipients and counts their notifications', async () => {
    const [a, b] = [stack.uid('u'), stack.uid('u')];
    await stack.createRecipient({ id: a });
    await stack.createRecipient({ id: b, muted: true });
    await grantMarketingConsent(stack, [a, b]);
    const created = await api.admin({
      method: 'POST',
      url: '/api/campaigns',
      payload: { ...body('unused'), segment: { userIds: [a, b, stack.uid('nobody')] } },
    });
    expect(created.statusCode).toBe(201);
    const { id } = created.json();
    const detail = await waitFor(async () => {
      const response = (await api.admin({ method: 'GET', url: `/api/campaigns/${id}` })).json();
      const settled = (response.notifications.delivered ?? 0) + (response.notifications.suppressed ?? 0);
      return response.state === 'completed' && settled === 2 ? response : undefined;
    });
    // The unknown user id is no recipient: not targeted.
    expect(detail).toMatchObject({
      targeted: 2,
      started: 2,
      progress: { state: 'completed' },
      notifications: { delivered: 1, suppressed: 1 },
    });
    await stack.smtp.waitForMessages(`${a}@example.test`);

    // An operator traces one of its notifications like any other: the campaign workflow owns it.
    const stored = await stack.orm.em
      .fork()
      .findOneOrFail(Notification, { eventId: `campaign_${id}`, recipientId: a });
    const res = await api.admin({ method: 'GET', url: `/api/notifications/${stored.id}/trace` });
    expect(res.statusCode).toBe(200);
    const trace = res.json();
    expect(trace).toMatchObject({
      notificationId: stored.id,
      workflowId: `campaign-${id}`,
      status: { state: 'delivered', channels: { email: { state: 'delivered' } } },
    });
    expect(
      trace.workflows.map((w: { role: string; workflowId: string; status: string }) => [
        w.role,
        w.workflowId,
        w.status,
      ]),
    ).toEqual([['campaign', `campaign-${id}`, 'COMPLETED']]);
    expect(trace.event).toMatchObject({
      id: `campaign_${id}`,
      type: 'CAMPAIGN',
      campaignId: id,
      templateCode: 'marketing_announcement',
    });
    expect(trace.states.map((s: { state: string }) => s.state)).toEqual(['sending', 'delivered']);
    expect(trace.channels.email).toMatchObject({
      status: { state: 'delivered' },
      sendRecord: { status: 'sent' },
    });
    const summaries = trace.timeline.map((e: { summary: string }) => e.summary);
    expect(summaries).toEqual(
      expect.arrayContaining([
        'campaign workflow started',
        'fanOutCampaignPage completed: 2 listed, 2 stored',
        'campaign workflow completed: completed',
      ]),
    );
    // The same by its key.
    expect(
      (
        await api.admin({ method: 'GET', url: `/api/notifications/notification-campaign_${id}-${a}/trace` })
      ).json().notificationId,
    ).toBe(stored.id);
  });

  it('documents the routes', async () => {
    const doc = (await api.inject({ method: 'GET', url: '/docs/json' })).json();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/api/campaigns', '/api/campaigns/{id}', '/api/campaigns/{id}/cancel']),
    );
    expect(doc.paths['/api/campaigns'].post.requestBody.content['application/json'].schema.required).toEqual([
      'name',
      'templateCode',
      'segment',
    ]);
  });
});
