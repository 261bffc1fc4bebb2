import { Recipient } from '../../src/db/entities';
import { ApiTestApp, apiTestEnv } from '../helpers/api-app';
import { TestStack } from '../helpers/test-stack';

const keys = {
  p256dh: 'BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM',
  auth: 'tBHItJI5svbpez7KI4CCXg',
};

describe('HTTP API: recipient endpoints the workers would call', () => {
  // Production defaults: https only, no internal addresses, push only to the browsers' push services.
  const stack = new TestStack({ env: apiTestEnv(), deliveryWorkers: false, temporalWorker: false });
  const api = new ApiTestApp(stack);
  beforeAll(async () => {
    await stack.start();
    await api.start();
  });
  afterAll(async () => {
    await api.close();
    await stack.stop();
  });

  it.each([
    ['http://127.0.0.1:6379/', 'must be an https URL'],
    ['https://127.0.0.1:6379/', 'points to a loopback address'],
    ['https://169.254.169.254/latest/meta-data/iam/', 'points to a link-local or metadata address'],
    ['https://[::ffff:10.0.0.8]/hook', 'points to a private address'],
    ['https://2130706433/', 'points to a loopback address'],
    ['https://localhost:8080/', 'points to a loopback address'],
  ])('refuses webhookUrl %s with 400 (%s) and stores nothing', async (webhookUrl, problem) => {
    const id = stack.uid('u');
    const res = await api.service({ method: 'PUT', url: `/api/recipients/${id}`, payload: { webhookUrl } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ fields: ['webhookUrl'], in: 'body' });
    expect(res.json().message).toContain(problem);
    expect(await stack.orm.em.fork().findOne(Recipient, { id })).toBeNull();
  });

  it('refuses push endpoints outside the configured push services, accepts theirs', async () => {
    const id = stack.uid('u');
    for (const endpoint of [
      'https://evil.example/wpush',
      'https://169.254.169.254/',
      'http://fcm.googleapis.com/fcm/send/x',
    ]) {
      const res = await api.service({
        method: 'PUT',
        url: `/api/recipients/${id}`,
        payload: { pushSubscriptions: [{ endpoint, keys }] },
      });
      expect({ endpoint, status: res.statusCode, fields: res.json().fields }).toEqual({
        endpoint,
        status: 400,
        fields: ['pushSubscriptions.0.endpoint'],
      });
    }
    const ok = await api.service({
      method: 'PUT',
      url: `/api/recipients/${id}`,
      payload: {
        pushSubscriptions: [
          { endpoint: 'https://fcm.googleapis.com/fcm/send/abc', keys },
          { endpoint: 'https://web.push.apple.com/QGx', keys },
        ],
      },
    });
    expect(ok.statusCode).toBe(201);
  });

  it('issues a signing secret per endpoint once, and rotates it keeping the previous one for a while', async () => {
    const id = stack.uid('u');
    const created = await api.service({
      method: 'PUT',
      url: `/api/recipients/${id}`,
      payload: { webhookUrl: 'https://hooks.shop.example/a' },
    });
    expect(created.statusCode).toBe(201);
    const first = created.json().webhookSecret as string;
    expect(first).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    // Never shown again: an update that keeps the URL answers without it.
    const again = await api.service({
      method: 'PUT',
      url: `/api/recipients/${id}`,
      payload: { name: 'Asha' },
    });
    expect(again.json()).not.toHaveProperty('webhookSecret');

    const rotated = await api.service({
      method: 'POST',
      url: `/api/recipients/${id}/webhook-secret`,
      payload: { previousValidForSeconds: 3600 },
    });
    expect(rotated.statusCode).toBe(200);
    const { webhookSecret, previousValidUntil } = rotated.json();
    expect(webhookSecret).not.toBe(first);
    expect(Date.parse(previousValidUntil) - Date.now()).toBeGreaterThan(3500_000);
    const stored = await stack.orm.em.fork().findOneOrFail(Recipient, { id });
    expect([stored.webhookSecret, stored.webhookSecretPrevious]).toEqual([webhookSecret, first]);

    // A new endpoint gets a new secret and no previous one.
    const moved = await api.service({
      method: 'PUT',
      url: `/api/recipients/${id}`,
      payload: { webhookUrl: 'https://hooks.shop.example/b' },
    });
    expect(moved.json().webhookSecret).toMatch(/^whsec_/);
    expect(moved.json().webhookSecret).not.toBe(webhookSecret);
    expect((await stack.orm.em.fork().findOneOrFail(Recipient, { id })).webhookSecretPrevious).toBeNull();

    const none = await api.service({
      method: 'POST',
      url: `/api/recipients/${stack.uid('u')}/webhook-secret`,
      payload: {},
    });
    expect(none.statusCode).toBe(404);
  });
});
