import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Twilio's webhook signature (`X-Twilio-Signature`): base64 HMAC-SHA1, keyed with the account's auth
 * token, over the full URL Twilio called followed by every POST parameter, sorted by name, as name+value.
 */
export function twilioSignature(authToken: string, url: string, params: Record<string, string>): string {
  const data =
    url +
    Object.keys(params)
      .sort()
      .map((name) => name + params[name])
      .join('');
  return createHmac('sha1', authToken).update(data, 'utf8').digest('base64');
}

export function validTwilioSignature(
  authToken: string,
  url: string,
  params: Record<string, string>,
  signature: string | undefined,
): boolean {
  if (!signature) return false;
  const expected = Buffer.from(twilioSignature(authToken, url, params));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** Twilio's standard opt-out keywords (a reply of only one of them, any case). */
const STOP_WORDS = new Set(['STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT', 'OPTOUT', 'REVOKE']);

export function isStopReply(body: string | undefined): boolean {
  return STOP_WORDS.has((body ?? '').trim().toUpperCase());
}
