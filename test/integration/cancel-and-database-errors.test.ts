import { ApplicationFailure } from '@temporalio/common';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { failPermanentDatabaseErrors } from '../../activities/errors';
import { Notification } from '../../src/db/entities';
import { TestStack } from '../helpers/test-stack';
import { waitFor } from '../helpers/wait-for';

/**
 * Nothing wedges (docs/contracts.md, "Retry budgets" and "Notification lifecycle"): a cancel reaches a
 * notification in every state before a provider is called, and data Postgres refuses fails at once.
 */
describe('cancel before any provider call, and permanent database errors', () => {
  const stack = new TestStack({ deliveryWorkers: false });
  beforeAll(() => stack.start());
  afterAll(() => stack.stop());

  const row = (eventId: string) => stack.orm.em.fork().findOneOrFail(Notification, { eventId });

  async function sendingEvent(): Promise<{ eventId: string; userId: string }> {
    const userId = stack.uid('u');
    await stack.createRecipient({ id: userId });
    const eventId = await stack.publishEmail(userId);
    // Handed to the queue (no channel worker runs yet): the row says sending.
    await waitFor(async () =>
      (await row(eventId).catch(() => null))?.state === 'sending' ? true : undefined,
    );
    return { eventId, userId };
  }

  it('cancels a notification that is queued but not yet picked up: the late pickup skips the provider', async () => {
    const { eventId, userId } = await sendingEvent();
    const status = await stack.client.cancel({ eventId, userId }, 'order voided');
    expect(status).toMatchObject({
      state: 'cancelled',
      error: 'cancelled: order voided',
      channels: { email: { state: 'cancelled' } },
    });
    expect((await stack.client.eventResult(eventId)).notifications).toEqual([
      expect.objectContaining({ userId, state: 'cancelled' }),
    ]);

    stack.startDeliveryWorkers();
    try {
      const { notification, attempts } = await waitFor(async () => {
        const found = await stack.deliveryAttempts(eventId, userId);
        return found.attempts.length > 0 ? found : undefined;
      });
      expect(attempts.map((a) => a.status)).toEqual(['skipped_cancelled']);
      expect(notification.state).toBe('cancelled');
      expect(stack.smtp.messagesTo(`${userId}@example.test`)).toHaveLength(0);
    } finally {
      await stack.stopDeliveryWorkers();
    }
  });

  it('refuses the cancel once a worker holds the send (a provider may have been called), naming why', async () => {
    const { eventId, userId } = await sendingEvent();
    const { id } = await row(eventId);
    // What a worker's claim writes just before it calls the provider.
    await stack.orm.em
      .fork()
      .getConnection()
      .execute(
        `insert into send_records (notification_id, channel, status, claimed_by, claimed_at) values (?, 'email', 'sending', 'test-worker', now())`,
        [id],
      );
    const refused = await stack.client.cancel({ eventId, userId }).then(
      () => null,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((refused as WorkflowUpdateFailedError).cause?.message).toBe(
      'notification is sending: a provider was already called for it',
    );
    expect((await row(eventId)).state).toBe('sending');
    await stack.temporalClient.workflow.getHandle(`event-${eventId}`).terminate('test cleanup');
  });

  it('fails an activity at once when Postgres refuses the data itself, and leaves other errors to retries', async () => {
    const conn = stack.orm.em.fork().getConnection();
    const activities = failPermanentDatabaseErrors({
      storeText: async (text: string) => conn.execute(`select ?::text as t`, [text]),
      storeJson: async (json: string) => conn.execute(`select (?::jsonb)->>'note' as t`, [json]),
      unreachable: async () => {
        throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
      },
    });
    const nul = await activities.storeText('a\u0000b').then(
      () => null,
      (err: unknown) => err,
    );
    expect(nul).toBeInstanceOf(ApplicationFailure);
    expect(nul).toMatchObject({
      type: 'DatabaseRejected',
      nonRetryable: true,
      message: expect.stringContaining('storeText: Postgres refused the data'),
    });
    const escapedNul = await activities.storeJson('{"note": "a\\u0000b"}').then(
      () => null,
      (err: unknown) => err,
    );
    expect(escapedNul).toMatchObject({ type: 'DatabaseRejected', nonRetryable: true });
    await expect(activities.storeText('fine')).resolves.toEqual([{ t: 'fine' }]);
    await expect(activities.unreachable()).rejects.toThrow('ECONNREFUSED');
    await expect(activities.unreachable()).rejects.not.toBeInstanceOf(ApplicationFailure);
  });
});
