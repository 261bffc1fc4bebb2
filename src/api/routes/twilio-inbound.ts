import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isStopReply, validTwilioSignature } from '../../consent/twilio-signature';
import { recipientIdsByPhone, recordChannelChoice } from '../../db/repositories/consent-repository';
import { CONSENT_CATEGORIES } from '../../domain/consent';
import type { ApiContext } from '../context';
import { ApiError } from '../errors';
import { acceptFormBodies } from '../form-body';
import { errors, noQuery } from '../schemas';

const inboundSchema = {
  tags: ['webhooks'],
  summary: 'Twilio inbound SMS (STOP replies)',
  description:
    "Twilio's inbound-message webhook, form-encoded, signed with `X-Twilio-Signature` (HMAC-SHA1 with TWILIO_AUTH_TOKEN over PUBLIC_URL + path + the sorted parameters): 403 without a valid signature. A reply of STOP (or UNSUBSCRIBE, STOPALL, CANCEL, END, QUIT, OPTOUT, REVOKE) switches marketing off for sms for every recipient with that phone number (consent history source `sms-stop`). Answers an empty TwiML response.",
  querystring: noQuery,
  body: z.record(z.string(), z.string()),
  response: { 200: z.string().describe('empty TwiML'), ...errors(400, 403, 404, 413, 429) },
};

/** `POST /api/webhooks/twilio/inbound` (docs/consent.md): SMS STOP replies switch marketing sms off. */
export function twilioInboundRoutes(ctx: ApiContext): FastifyPluginAsyncZod {
  return async (app) => {
    acceptFormBodies(app);
    app.post('/api/webhooks/twilio/inbound', { schema: inboundSchema }, async (request, reply) => {
      const { config } = ctx.deps;
      const authToken = config.providers.twilio?.authToken;
      if (!authToken) throw new ApiError(404, 'Twilio is not configured (TWILIO_* unset)');
      // The URL Twilio called: our public origin (behind a proxy the request's own host may differ).
      const url = `${config.publicUrl}${request.url}`;
      const signature = request.headers['x-twilio-signature'];
      if (
        !validTwilioSignature(
          authToken,
          url,
          request.body,
          typeof signature === 'string' ? signature : undefined,
        )
      )
        throw new ApiError(403, 'invalid X-Twilio-Signature');
      const from = request.body.From;
      if (from && isStopReply(request.body.Body)) {
        for (const recipientId of await recipientIdsByPhone(request.em, from))
          for (const category of CONSENT_CATEGORIES)
            await recordChannelChoice(request.em, {
              recipientId,
              category,
              channel: 'sms',
              enabled: false,
              source: 'sms-stop',
            });
      }
      return reply
        .header('content-type', 'text/xml')
        .send('<?xml version="1.0" encoding="UTF-8"?><Response></Response>');
    });
  };
}
