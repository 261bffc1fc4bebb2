import { randomBytes, randomUUID } from 'node:crypto';
import type { Channel } from '../src/domain/channels';
import { campaignEventId, campaignWorkflowId, eventWorkflowId } from '../src/domain/workflow-ids';
import { PushSubscription, Recipient } from '../src/db/entities';
import { recordConsents } from '../src/db/repositories/consent-repository';
import type { QuietHours } from '../src/domain/quiet-hours';
import { PushSubscriber } from '../test/helpers/provider-stand-ins';
import { sleep, type ChaosEnvironment } from './environment';
import type { Scenario } from './scenarios';

/** Direct sends go out on every channel: each has its own queue, worker path and duplicate policy. */
export const DIRECT_CHANNELS: Channel[] = ['in_app', 'email', 'sms', 'push', 'webhook'];
/** The campaign template (marketing_announcement) has in-app and email content. */
export const CAMPAIGN_CHANNELS: Channel[] = ['in_app', 'email'];

export interface ChaosRecipient {
  id: string;
  email: string;
  phone: string;
}

/** What a scenario sent: the recipients, the event ids whose notifications must all end final, the workflows to check. */
export interface SentWork {
  recipients: ChaosRecipient[];
  channels: Channel[];
  /** Event ids (direct sends: one per recipient; a campaign: its campaign event id). */
  eventIds: string[];
  workflowIds: string[];
  /** Publishes that were never accepted (a client gave up), with the last error: not counted as sent. */
  unaccepted: string[];
  /** Publish tries refused on the way (the fault showing at the client), and the first error. */
  refusals: { count: number; first?: string };
}

/** How a send kind lines itself up with the fault. */
export interface SendPlan {
  /** When (epoch ms) the fault should start. */
  faultAt: number;
  /** When the sends wake up (delayed, quiet hours, a campaign's start), to show it fell inside the fault. */
  wakeAt?: number;
  /** Sends made while the fault lasts (retried until accepted); resolves when they are all accepted or given up. */
  during(): Promise<void>;
  work: SentWork;
}

/** Publishes through the Temporal client or, for scenarios that kill the API, through the HTTP API. */
interface Publisher {
  direct(input: { eventId: string; userId: string; delayMs?: number }): Promise<void>;
  campaign(input: { campaignId: string; userIds: string[]; scheduledAt: Date }): Promise<void>;
}

function temporalPublisher(env: ChaosEnvironment): Publisher {
  return {
    async direct({ eventId, userId, delayMs }) {
      await env.notifications.publishNotification({
        id: eventId,
        userId,
        ...directContent(eventId),
        options: { channels: DIRECT_CHANNELS, ...(delayMs ? { delayMs } : {}) },
      });
    },
    async campaign({ campaignId, userIds, scheduledAt }) {
      await env.notifications.scheduleCampaign(campaignInput(campaignId, userIds, scheduledAt));
    },
  };
}

function apiPublisher(env: ChaosEnvironment): Publisher {
  const post = async (path: string, body: unknown, key = env.apiKey) => {
    const res = await fetch(`${env.apiUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    // 4xx other than 429 are our bug (a bad request): retrying would not help, so they surface as is.
    if (res.status >= 400)
      throw Object.assign(
        new Error(`POST ${path} answered ${res.status}: ${(await res.text()).slice(0, 300)}`),
        { permanent: res.status < 500 && res.status !== 429 },
      );
  };
  return {
    direct: ({ eventId, userId, delayMs }) =>
      post('/api/notifications', {
        id: eventId,
        userId,
        ...directContent(eventId),
        options: { channels: DIRECT_CHANNELS, ...(delayMs ? { delayMs } : {}) },
      }),
    campaign: ({ campaignId, userIds, scheduledAt }) =>
      post('/api/campaigns', campaignInput(campaignId, userIds, scheduledAt), env.adminApiKey),
  };
}

const directContent = (eventId: string) => ({
  templateCode: 'order_shipped',
  variables: { orderNumber: `C-${eventId.slice(-12)}`, total: 10, currency: 'INR' },
});

function campaignInput(campaignId: string, userIds: string[], scheduledAt: Date) {
  return {
    id: campaignId,
    name: `chaos ${campaignId.slice(0, 8)}`,
    templateCode: 'marketing_announcement',
    segment: { userIds },
    variables: { headline: 'Chaos sale', message: 'Everything must go.' },
    channels: CAMPAIGN_CHANNELS,
    scheduledAt: scheduledAt.toISOString(),
  };
}

/**
 * Retries a publish until it is accepted, as a client with an idempotency key does while the
 * service (or Temporal behind it) is down; gives up at the deadline or on a bad request.
 */
async function publishUntilAccepted(
  what: () => Promise<void>,
  deadline: number,
  refusals: SentWork['refusals'],
): Promise<{ accepted: true } | { accepted: false; error: string }> {
  for (let delayMs = 250; ; delayMs = Math.min(delayMs * 2, 2000)) {
    try {
      await what();
      return { accepted: true };
    } catch (err) {
      const error = (err as Error).message.slice(0, 300);
      refusals.count++;
      refusals.first ??= error;
      if ((err as { permanent?: boolean }).permanent || Date.now() + delayMs > deadline)
        return { accepted: false, error };
      await sleep(delayMs);
    }
  }
}

/** Recipients unique to the scenario, with an address on every channel (push subscription pointing at the stand-in). */
async function createRecipients(
  env: ChaosEnvironment,
  tag: string,
  count: number,
  quietHours: QuietHours | null,
): Promise<ChaosRecipient[]> {
  const em = env.orm.em.fork();
  const recipients: ChaosRecipient[] = [];
  const subscriptions: { recipientId: string; endpoint: string; p256dh: string; auth: string }[] = [];
  for (let i = 0; i < count; i++) {
    const id = `${tag}_u${i}`;
    const recipient = {
      id,
      email: `${id}@chaos.test`,
      phone: `+1555${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`,
    };
    em.create(Recipient, {
      id,
      email: recipient.email,
      phone: recipient.phone,
      webhookUrl: `${env.webhooks.url}/hook/${id}`,
      timezone: 'UTC',
      locale: 'en',
      roles: [],
      muted: false,
      quietHours,
      createdAt: new Date(),
      updatedAt: new Date(),
    });
    const { endpoint, keys } = new PushSubscriber(`${env.pushService.url}/push/${id}`).subscription;
    subscriptions.push({ recipientId: id, endpoint, p256dh: keys.p256dh, auth: keys.auth });
    recipients.push(recipient);
  }
  // Two flushes: the entities declare no relation, so the unit of work would not order recipients before their subscriptions.
  await em.flush();
  for (const subscription of subscriptions)
    em.create(PushSubscription, { ...subscription, createdAt: new Date() });
  await em.flush();
  // Campaigns are marketing, which needs an opt-in (docs/consent.md): every chaos recipient has one.
  const at = new Date();
  await recordConsents(
    em,
    recipients.map(({ id }) => ({
      recipientId: id,
      category: 'marketing',
      granted: true,
      at,
      source: 'import',
    })),
  );
  return recipients;
}

/** "HH:MM" of an instant in UTC. */
const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);

/**
 * Creates the scenario's recipients, publishes what must exist before the fault, and says when the
 * fault starts:
 *   immediate    half the sends just before the fault, half during it
 *   delayed      every send before, delayMs set so that the wake-up falls in the middle of the fault
 *   quiet-hours  recipients whose quiet hours end at a minute boundary in the middle of the fault
 *   campaign     a campaign over the recipients, scheduledAt in the middle of the fault
 */
export async function planSends(
  env: ChaosEnvironment,
  scenario: Scenario,
  options: { leadMs?: number } = {},
): Promise<SendPlan> {
  const tag = `c${randomBytes(4).toString('hex')}`;
  const leadMs = options.leadMs ?? 3000;
  const usesApi = scenario.fault === 'kill-api';
  if (usesApi) await env.ensureApi();
  const publisher = usesApi ? apiPublisher(env) : temporalPublisher(env);
  const half = Math.ceil(scenario.faultMs / 2);
  // A client keeps trying for the whole fault and a while after; then the send counts as never accepted.
  const acceptDeadline = () => Date.now() + scenario.faultMs + 120_000;
  const work: SentWork = {
    recipients: [],
    channels: DIRECT_CHANNELS,
    eventIds: [],
    workflowIds: [],
    unaccepted: [],
    refusals: { count: 0 },
  };

  const publishDirect = async (recipient: ChaosRecipient, index: number, delayMs?: () => number) => {
    const eventId = `${tag}_e${index}`;
    const outcome = await publishUntilAccepted(
      () => publisher.direct({ eventId, userId: recipient.id, delayMs: delayMs?.() }),
      acceptDeadline(),
      work.refusals,
    );
    if (outcome.accepted) {
      work.eventIds.push(eventId);
      work.workflowIds.push(eventWorkflowId(eventId));
    } else work.unaccepted.push(`${eventId}: ${outcome.error}`);
  };

  switch (scenario.sendKind) {
    case 'immediate': {
      work.recipients = await createRecipients(env, tag, scenario.notifications, null);
      const before = work.recipients.slice(0, Math.ceil(work.recipients.length / 2));
      const during = work.recipients.slice(before.length);
      await Promise.all(before.map((r, i) => publishDirect(r, i)));
      return {
        faultAt: Date.now(),
        work,
        during: () =>
          Promise.all(during.map((r, i) => publishDirect(r, before.length + i))).then(() => undefined),
      };
    }
    case 'delayed': {
      work.recipients = await createRecipients(env, tag, scenario.notifications, null);
      const faultAt = Date.now() + leadMs;
      const wakeAt = faultAt + half;
      await Promise.all(
        work.recipients.map((r, i) => publishDirect(r, i, () => Math.max(1, wakeAt - Date.now()))),
      );
      return { faultAt, wakeAt, work, during: async () => undefined };
    }
    case 'quiet-hours': {
      // Quiet hours have minute precision: the wake-up is the next minute boundary far enough ahead to publish and store the sends first.
      const minuteMs = 60_000;
      let boundary = Math.ceil(Date.now() / minuteMs) * minuteMs;
      while (boundary - half - leadMs < Date.now()) boundary += minuteMs;
      const quietHours: QuietHours = {
        start: hhmm(boundary - 30 * minuteMs),
        end: hhmm(boundary),
        timezone: 'UTC',
      };
      work.recipients = await createRecipients(env, tag, scenario.notifications, quietHours);
      await Promise.all(work.recipients.map((r, i) => publishDirect(r, i)));
      return { faultAt: boundary - half, wakeAt: boundary, work, during: async () => undefined };
    }
    case 'campaign': {
      work.recipients = await createRecipients(env, tag, scenario.notifications, null);
      work.channels = CAMPAIGN_CHANNELS;
      const campaignId = randomUUID();
      const faultAt = Date.now() + leadMs;
      const scheduledAt = new Date(faultAt + half);
      const outcome = await publishUntilAccepted(
        () => publisher.campaign({ campaignId, userIds: work.recipients.map((r) => r.id), scheduledAt }),
        acceptDeadline(),
        work.refusals,
      );
      if (outcome.accepted) {
        work.eventIds.push(campaignEventId(campaignId));
        work.workflowIds.push(campaignWorkflowId(campaignId));
      } else work.unaccepted.push(`campaign ${campaignId}: ${outcome.error}`);
      return { faultAt, wakeAt: scheduledAt.getTime(), work, during: async () => undefined };
    }
  }
}
