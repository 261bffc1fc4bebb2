import { createHash, timingSafeEqual } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { validTwilioSignature } from '../../consent/twilio-signature';
import { suppressEmailAddress } from '../../db/repositories/email-suppressions';
import { TWILIO_STATUS_PATH } from '../../delivery/providers/twilio-sms-provider';
import { recordDeliveryReceipt, type ReceiptKind } from '../../state/delivery-receipts';
import { notificationIdBySentMessage } from '../../state/send-records';
import type { ApiContext } from '../context';
import { ApiError } from '../errors';
import { acceptFormBodies } from '../form-body';
import { errors, UUID_PATTERN } from '../schemas';

const twilioStatusSchema = {
  tags: ['webhooks'],
  summary: 'Twilio status callback (SMS delivery receipts)',
  description:
    "Twilio's StatusCallback, form-encoded, signed with `X-Twilio-Signature` (HMAC-SHA1 with TWILIO_AUTH_TOKEN over PUBLIC_URL + path + query + the sorted parameters): 401 without a valid signature. The SMS provider sets it on every message with the notification id as `n`. MessageStatus `delivered` records engagement `delivered`; `undelivered` and `failed` record `undelivered` and move the sms channel from delivered to failed (once). Other statuses are acknowledged and ignored.",
  querystring: z.object({ n: z.string().max(100).optional() }),
  body: z.record(z.string(), z.string()),
  response: { 204: z.null().describe('acknowledged'), ...errors(400, 401, 404, 413, 429) },
};

const postmarkBody = z
  .object({
    RecordType: z.string().max(100),
    MessageID: z.string().max(200).optional(),
    Metadata: z.record(z.string(), z.string()).optional(),
    Recipient: z.string().max(500).optional(),
    Email: z.string().max(500).optional(),
    Type: z.string().max(100).optional(),
    Description: z.string().max(2000).optional(),
    DeliveredAt: z.string().max(100).optional(),
    BouncedAt: z.string().max(100).optional(),
  })
  .passthrough();

const postmarkSchema = {
  tags: ['webhooks'],
  summary: 'Postmark webhooks (email delivery, bounce and spam-complaint receipts)',
  description:
    'Postmark posts its Delivery, Bounce and SpamComplaint webhooks here with HTTP Basic auth (any user name, POSTMARK_WEBHOOK_PASSWORD): 401 otherwise. Delivery records `delivered`; a hard bounce (Type HardBounce or BadEmailAddress) records `bounced`, moves the email channel to failed and suppresses the address; a spam complaint records `complained` and suppresses the address. Other record types and soft bounces are acknowledged and ignored. The notification comes from the message metadata `notificationId` (or the message id).',
  body: postmarkBody,
  response: { 204: z.null().describe('acknowledged'), ...errors(400, 401, 404, 413, 429) },
};

/** Postmark bounce types that mean the address will never take mail. */
const HARD_BOUNCES = new Set(['HardBounce', 'BadEmailAddress']);

/** `POST /api/webhooks/twilio/status` and `POST /api/webhooks/postmark` (docs/tracking-and-receipts.md). */
export function deliveryReceiptRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    acceptFormBodies(app);
    app.post(TWILIO_STATUS_PATH, { schema: twilioStatusSchema }, async (request, reply) => {
      const { config } = ctx.deps;
      const authToken = config.providers.twilio?.authToken;
      if (!authToken) throw new ApiError(404, 'Twilio is not configured (TWILIO_* unset)');
      const signature = request.headers['x-twilio-signature'];
      const url = `${config.publicUrl}${request.url}`;
      if (
        !validTwilioSignature(
          authToken,
          url,
          request.body,
          typeof signature === 'string' ? signature : undefined,
        )
      )
        throw new ApiError(401, 'invalid X-Twilio-Signature');
      const kind = twilioReceiptKind(request.body.MessageStatus);
      const notificationId = request.query.n ?? '';
      if (kind && UUID_PATTERN.test(notificationId)) {
        const code = request.body.ErrorCode;
        await recordDeliveryReceipt(request.em, {
          notificationId,
          channel: 'sms',
          kind,
          at: ctx.now(),
          error: code ? `Twilio error ${code}` : request.body.MessageStatus,
          detail: { messageSid: request.body.MessageSid, status: request.body.MessageStatus },
        });
      }
      return reply.code(204).send(null);
    });

    app.post('/api/webhooks/postmark', { schema: postmarkSchema }, async (request, reply) => {
      const password = ctx.deps.config.providers.postmark?.webhookPassword;
      if (!password) throw new ApiError(404, 'Postmark is not configured (EMAIL_PROVIDER=postmark unset)');
      if (!basicAuthPasswordIs(request.headers.authorization, password)) {
        void reply.header('www-authenticate', 'Basic realm="postmark-webhooks"');
        throw new ApiError(401, 'Postmark webhooks need HTTP Basic auth with POSTMARK_WEBHOOK_PASSWORD');
      }
      await recordPostmarkReceipt(request.em, request.body, ctx.now());
      return reply.code(204).send(null);
    });
  };
}

function twilioReceiptKind(status: string | undefined): ReceiptKind | null {
  if (status === 'delivered') return 'delivered';
  if (status === 'undelivered' || status === 'failed') return 'undelivered';
  return null;
}

/** A Postmark webhook: the receipt on its notification, and a hard bounce's or complaint's address suppressed. */
async function recordPostmarkReceipt(
  em: EntityManager,
  body: z.infer<typeof postmarkBody>,
  now: Date,
): Promise<void> {
  const kind = postmarkReceiptKind(body);
  if (!kind) return;
  const notificationId = await notificationOf(em, body);
  const address = body.Email ?? body.Recipient;
  if ((kind === 'bounced' || kind === 'complained') && address)
    await suppressEmailAddress(em, {
      address,
      reason: kind,
      source: 'postmark',
      notificationId: notificationId ?? undefined,
      detail: body.Description ?? body.Type,
    });
  if (!notificationId) return;
  const at = Date.parse(body.DeliveredAt ?? body.BouncedAt ?? '');
  await recordDeliveryReceipt(em, {
    notificationId,
    channel: 'email',
    kind,
    at: Number.isNaN(at) ? now : new Date(at),
    error: body.Description ?? body.Type,
    detail: {
      messageId: body.MessageID,
      recordType: body.RecordType,
      ...(body.Type ? { type: body.Type } : {}),
    },
  });
}

function postmarkReceiptKind(body: z.infer<typeof postmarkBody>): ReceiptKind | null {
  switch (body.RecordType) {
    case 'Delivery':
      return 'delivered';
    case 'Bounce':
      return HARD_BOUNCES.has(body.Type ?? '') ? 'bounced' : null;
    case 'SpamComplaint':
      return 'complained';
    default:
      return null;
  }
}

async function notificationOf(em: EntityManager, body: z.infer<typeof postmarkBody>): Promise<string | null> {
  const fromMetadata = body.Metadata?.notificationId;
  if (fromMetadata && UUID_PATTERN.test(fromMetadata)) return fromMetadata;
  return body.MessageID ? notificationIdBySentMessage(em, 'email', body.MessageID) : null;
}

/** Any user name; the password compared in constant time (by hash, so lengths do not leak). */
function basicAuthPasswordIs(header: string | undefined, password: string): boolean {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header ?? '');
  if (!match) return false;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const given = decoded.slice(decoded.indexOf(':') + 1);
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return decoded.includes(':') && timingSafeEqual(digest(given), digest(password));
}
