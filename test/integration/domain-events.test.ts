import { Notification, Preference, Template } from '../../src/db/entities';
import { EVENT_TYPES, type EventType } from '../../src/domain/business-event';
import { eventWorkflowId, followUpWorkflowId } from '../../src/domain/workflow-ids';
import type { EventResult } from '../../src/domain/notification-request';
import { recipientRef } from '../../src/db/recipient-refs';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

/** Subject line of the default email template per event, for data below. */
const EXPECTED_SUBJECT: Record<EventType, string> = {
  ORDER_CREATED: 'We received your order A-7',
  ORDER_SHIPPED: 'Your order A-7 has shipped',
  ORDER_DELIVERED: 'Your order A-7 was delivered',
  ORDER_CANCELLED: 'Your order A-7 was cancelled',
  PAYMENT_CAPTURED: 'Payment received for order A-7',
  PAYMENT_FAILED: 'Payment failed for order A-7',
  INVENTORY_LOW_STOCK: 'Low stock: Red T-shirt (TSHIRT-RED)',
};
const DATA = {
  orderNumber: 'A-7',
  total: 1499,
  currency: 'INR',
  sku: 'TSHIRT-RED',
  productName: 'Red T-shirt',
  currentStock: 2,
};

describe('business events through the workflows', () => {
  const stack = new TestStack({ env: { PAYMENT_REMINDER_DELAY_MS: '3000' } });
  beforeAll(() => stack.start());
  afterAll(() => stack.stop());

  const event = (type: string, userId: string | undefined, extra: Record<string, unknown> = {}) => ({
    id: stack.uid('evt'),
    type,
    occurredAt: new Date().toISOString(),
    ...(userId ? { userId } : {}),
    data: { ...DATA, orderNumber: stack.uid('A') },
    ...extra,
  });

  it.each(EVENT_TYPES.filter((t) => t !== 'INVENTORY_LOW_STOCK'))(
    '%s reaches the recipient by in-app and email',
    async (type) => {
      const userId = stack.uid('u');
      await stack.createRecipient({ id: userId });
      const envelope = event(type, userId);
      await stack.client.publishEvent(envelope);
      const result = await stack.client.eventResult(envelope.id);
      expect(result.notifications).toEqual([expect.objectContaining({ userId, state: 'delivered' })]);
      const [mail] = await stack.smtp.waitForMessages(`${userId}@example.test`);
      expect(mail.raw).toContain(
        `Subject: ${EXPECTED_SUBJECT[type].replace('A-7', envelope.data.orderNumber)}`,
      );
      const status = await stack.client.status(envelope.id, userId);
      expect(status.channels.in_app?.state).toBe('delivered');
      if (type === 'ORDER_SHIPPED' || type === 'ORDER_DELIVERED') {
        // No push subscription and no phone: push is suppressed with the reason, not failed.
        expect(status.channels.push).toMatchObject({
          state: 'suppressed',
          reason: expect.stringContaining('no push address'),
        });
      }
    },
  );

  it('INVENTORY_LOW_STOCK without recipients goes to every admin', async () => {
    const admins = [stack.uid('admin'), stack.uid('admin')];
    const shopper = stack.uid('u');
    for (const id of admins) await stack.createRecipient({ id, roles: ['admin'] });
    await stack.createRecipient({ id: shopper, roles: ['customer'] });
    const envelope = event('INVENTORY_LOW_STOCK', undefined);
    await stack.client.publishEvent(envelope);
    const result = await stack.client.eventResult(envelope.id);
    const reached = result.notifications.map((n) => n.userId);
    expect(reached).toEqual(expect.arrayContaining(admins));
    expect(reached).not.toContain(shopper);
    for (const id of admins) {
      const [mail] = await stack.smtp.waitForMessages(`${id}@example.test`);
      expect(mail.raw).toContain('Subject: Low stock: Red T-shirt (TSHIRT-RED)');
    }
  });

  it('suppresses a channel switched off, records why, and ends suppressed when every channel is off', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId, roles: ['admin'] });
    const em = stack.orm.em.fork();
    em.create(Preference, {
      recipientId: userId,
      category: 'inventory_alerts',
      channel: 'email',
      enabled: false,
      updatedAt: new Date(),
    });
    await em.flush();

    const partial = event('INVENTORY_LOW_STOCK', undefined, { userIds: [userId] });
    await stack.client.publishEvent(partial);
    const status = (await stack.client.eventResult(partial.id)).notifications[0];
    expect(status.state).toBe('delivered');
    const detail = await stack.client.status(partial.id, userId);
    expect(detail.channels.email).toEqual({
      state: 'suppressed',
      attempts: 0,
      reason: 'preference: inventory_alerts off for email',
    });
    expect(detail.channels.in_app?.state).toBe('delivered');

    await stack.orm.em.fork().nativeUpdate('Recipient', { id: userId }, { muted: true });
    const muted = event('INVENTORY_LOW_STOCK', undefined, { userIds: [userId] });
    await stack.client.publishEvent(muted);
    expect((await stack.client.eventResult(muted.id)).notifications[0].state).toBe('suppressed');
    const mutedStatus = await stack.client.status(muted.id, userId);
    expect(mutedStatus.channels.in_app).toMatchObject({
      state: 'suppressed',
      reason: 'recipient muted all notifications',
    });
    expect(await stack.orm.em.fork().findOneOrFail(Notification, { eventId: muted.id })).toMatchObject({
      state: 'suppressed',
    });
    expect(stack.smtp.messagesTo(`${userId}@example.test`)).toHaveLength(0);
  });

  it('keeps mandatory channels on: order emails go out despite an opt-out or a mute', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId, muted: true });
    const em = stack.orm.em.fork();
    em.create(Preference, {
      recipientId: userId,
      category: 'order_updates',
      channel: 'email',
      enabled: false,
      updatedAt: new Date(),
    });
    await em.flush();
    const envelope = event('ORDER_CREATED', userId);
    await stack.client.publishEvent(envelope);
    expect((await stack.client.eventResult(envelope.id)).notifications[0].state).toBe('delivered');
    await stack.smtp.waitForMessages(`${userId}@example.test`);
  });

  it('fails a notification whose template needs a variable the data lacks, with a clear error and no email', async () => {
    // Event data is checked at the door; a template of a code of our own is not (the client cannot read it).
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const templateCode = `needs_total_${stack.id}`;
    const em = stack.orm.em.fork();
    em.create(Template, {
      code: templateCode,
      channel: 'email',
      locale: 'en',
      version: 1,
      category: 'account',
      fields: { subject: 'Total {{total}}', html: 'x', text: 'x' },
      createdAt: new Date(),
    });
    await em.flush();
    const envelope = {
      id: stack.uid('evt'),
      userId,
      templateCode,
      occurredAt: new Date().toISOString(),
      data: { orderNumber: 'A-9', currency: 'INR' },
    };
    await stack.client.publishEvent(envelope);
    const [result] = (await stack.client.eventResult(envelope.id)).notifications;
    expect(result.state).toBe('failed');
    expect(result.error).toMatch(/variable "total"/);
    const status = await stack.client.status(envelope.id, userId);
    expect(status).toMatchObject({ state: 'failed', error: expect.stringContaining('"total"') });
    expect(await stack.orm.em.fork().count(Notification, { eventId: envelope.id })).toBe(0);
    expect(stack.smtp.messagesTo(`${userId}@example.test`)).toHaveLength(0);
  });

  it('sends the payment reminder when no PAYMENT_CAPTURED arrives', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const failed = event('PAYMENT_FAILED', userId);
    await stack.client.publishEvent(failed);
    const result = await stack.client.eventResult(failed.id);
    // Named by the recipient's opaque ref, not the user id (docs/contracts.md, "Workflows and ids").
    const ref = (await recipientRef(stack.orm.em.fork(), userId))!;
    const reminderId = followUpWorkflowId('payment_reminder', failed.data.orderNumber, ref);
    expect(reminderId).not.toContain(userId);
    const described = await stack.temporalClient.workflow.getHandle(reminderId).describe();
    expect(described.searchAttributes).toMatchObject({ NotificationRecipientRef: [ref] });
    expect(described.searchAttributes.NotificationUserId).toBeUndefined();
    expect(result.followUps).toEqual([{ userId, workflowId: reminderId }]);
    // The reminder is an event workflow of its own: a direct send of payment_reminder to this recipient.
    const reminder: EventResult = await stack.temporalClient.workflow.getHandle(reminderId).result();
    expect(reminder.notifications).toEqual([
      expect.objectContaining({ userId, workflowId: reminderId, state: 'delivered' }),
    ]);
    expect((await stack.client.statusOf(reminderId)).channels.email?.state).toBe('delivered');
    const mails = await stack.smtp.waitForMessages(`${userId}@example.test`, 2);
    expect(mails.map((m) => /Subject: (.*)/.exec(m.raw)?.[1])).toEqual([
      `Payment failed for order ${failed.data.orderNumber}`,
      `Reminder: order ${failed.data.orderNumber} is waiting for payment`,
    ]);
  });

  it('cancels the payment reminder when PAYMENT_CAPTURED for the same order comes first', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const failed = event('PAYMENT_FAILED', userId);
    await stack.client.publishEvent(failed);
    const ref = (await recipientRef(stack.orm.em.fork(), userId))!;
    const reminderId = followUpWorkflowId('payment_reminder', failed.data.orderNumber, ref);
    const captured = { ...event('PAYMENT_CAPTURED', userId), data: failed.data };
    await stack.client.eventResult(failed.id);
    await stack.client.publishEvent(captured);
    expect((await stack.client.eventResult(captured.id)).cancelled).toEqual([reminderId]);
    const reminder: EventResult = await stack.temporalClient.workflow.getHandle(reminderId).result();
    expect(reminder.notifications).toEqual([
      expect.objectContaining({
        userId,
        workflowId: reminderId,
        state: 'cancelled',
        error: expect.stringContaining('superseded by PAYMENT_CAPTURED'),
      }),
    ]);
    expect(
      await stack.orm.em.fork().findOneOrFail(Notification, { eventId: reminder.eventId }),
    ).toMatchObject({ state: 'cancelled', channelStates: {} });
    const mails = await stack.smtp.waitForMessages(`${userId}@example.test`, 2);
    expect(mails.some((m) => m.raw.includes('Reminder:'))).toBe(false);
  });

  it('PAYMENT_CAPTURED also cancels a reminder started before opaque ids, whose id carries the user id', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const orderNumber = stack.uid('A');
    // As release 4 started it: the follow-up event under `followup-<kind>-<order>-<userId>`, waiting.
    const legacyId = followUpWorkflowId('payment_reminder', orderNumber, userId);
    const reminder = await stack.temporalClient.workflow.start('businessEventWorkflow', {
      taskQueue: stack.config.temporal.taskQueue,
      workflowId: legacyId,
      args: [
        {
          id: `${stack.uid('evt')}.payment_reminder`,
          templateCode: 'payment_failed_reminder',
          occurredAt: new Date().toISOString(),
          userId,
          data: { ...DATA, orderNumber },
          options: { delayMs: 60_000 },
        },
      ],
    });
    await waitFor(async () =>
      (await stack.client.statusOf(legacyId)).state === 'scheduled' ? true : undefined,
    );
    const captured = { ...event('PAYMENT_CAPTURED', userId), data: { ...DATA, orderNumber } };
    await stack.client.publishEvent(captured);
    expect((await stack.client.eventResult(captured.id)).cancelled).toEqual([legacyId]);
    expect(((await reminder.result()) as EventResult).notifications).toEqual([
      expect.objectContaining({ userId, state: 'cancelled' }),
    ]);
  });

  it('ORDER_DELIVERED cancels a still-waiting ORDER_SHIPPED notice of the same order', async () => {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const shipped = event('ORDER_SHIPPED', userId, { options: { delayMs: 120_000 } });
    const otherOrder = event('ORDER_SHIPPED', userId, { options: { delayMs: 120_000 } });
    await stack.client.publishEvent(shipped);
    await stack.client.publishEvent(otherOrder);
    await waitFor(async () =>
      (await stack.client.status(shipped.id, userId)).state === 'scheduled' ? true : undefined,
    );
    await waitFor(async () =>
      (await stack.client.status(otherOrder.id, userId)).state === 'scheduled' ? true : undefined,
    );

    const delivered = { ...event('ORDER_DELIVERED', userId), data: shipped.data };
    await stack.client.publishEvent(delivered);
    const result = await stack.client.eventResult(delivered.id);
    expect(result.cancelled).toEqual([eventWorkflowId(shipped.id)]);
    expect((await stack.client.eventResult(shipped.id)).notifications[0]).toMatchObject({
      state: 'cancelled',
      error: expect.stringContaining('superseded by ORDER_DELIVERED'),
    });
    // The other order's notice keeps waiting.
    expect((await stack.client.status(otherOrder.id, userId)).state).toBe('scheduled');
    expect(await stack.orm.em.fork().findOneOrFail(Notification, { eventId: otherOrder.id })).toMatchObject({
      state: 'scheduled',
    });
    expect(await stack.client.cancel({ eventId: otherOrder.id, userId }, 'test cleanup')).toMatchObject({
      state: 'cancelled',
    });
  });

  it('renders the newest template version in the recipient locale, falling back to the default locale', async () => {
    const code = `test_locale_${stack.id}`;
    const em = stack.orm.em.fork();
    const add = (locale: string, version: number, subject: string) =>
      em.create(Template, {
        code,
        channel: 'email',
        locale,
        version,
        category: 'account',
        fields: { subject, html: '<p>{{name}}</p>', text: '{{name}}' },
        createdAt: new Date(),
      });
    add('en', 1, 'Hello {{name}} (v1)');
    add('en', 2, 'Hello {{name}} (v2)');
    add('de', 1, 'Hallo {{name}}');
    await em.flush();
    const german = stack.uid('u');
    const french = stack.uid('u');
    await stack.createRecipient({ id: german, locale: 'de' });
    await stack.createRecipient({ id: french, locale: 'fr' });

    const sent = await stack.client.publishBatchNotification({
      userIds: [german, french],
      templateCode: code,
      variables: { name: 'Ann <3' },
    });
    const result = await stack.client.eventResult(sent.eventId);
    expect(result.notifications.map((n) => n.state)).toEqual(['delivered', 'delivered']);
    const [de] = await stack.smtp.waitForMessages(`${german}@example.test`);
    const [fr] = await stack.smtp.waitForMessages(`${french}@example.test`);
    expect(de.raw).toContain('Subject: Hallo Ann <3');
    expect(fr.raw).toContain('Subject: Hello Ann <3 (v2)');
    expect(fr.raw).toContain('Ann &lt;3'); // escaped in the HTML part only
    const rows = await stack.orm.em
      .fork()
      .find(Notification, { eventId: sent.eventId }, { orderBy: { recipientId: 'asc' } });
    expect(Object.fromEntries(rows.map((r) => [r.recipientId, r.templateVersions.email]))).toEqual({
      [german]: 1,
      [french]: 2,
    });
  });
});
