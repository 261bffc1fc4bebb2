import { isStopReply, twilioSignature, validTwilioSignature } from '../../src/consent/twilio-signature';
import { signUnsubscribeToken, verifyUnsubscribeToken } from '../../src/consent/unsubscribe-token';

describe('Twilio webhook signatures', () => {
  // The example of Twilio's security documentation (auth token 12345).
  const url = 'https://mycompany.com/myapp.php?foo=1&bar=2';
  const params = {
    CallSid: 'CA1234567890ABCDE',
    Caller: '+14158675309',
    Digits: '1234',
    From: '+14158675309',
    To: '+18005551212',
  };

  it("computes Twilio's documented signature", () => {
    expect(twilioSignature('12345', url, params)).toBe('RSOYDt4T1cUTdK1PDd93/VVr8B8=');
    expect(validTwilioSignature('12345', url, params, 'RSOYDt4T1cUTdK1PDd93/VVr8B8=')).toBe(true);
  });

  it('refuses another token, URL, parameter or a missing signature', () => {
    const good = twilioSignature('12345', url, params);
    expect(validTwilioSignature('54321', url, params, good)).toBe(false);
    expect(validTwilioSignature('12345', `${url}&x=1`, params, good)).toBe(false);
    expect(validTwilioSignature('12345', url, { ...params, Digits: '1235' }, good)).toBe(false);
    expect(validTwilioSignature('12345', url, params, undefined)).toBe(false);
  });

  it('knows the opt-out keywords, alone and in any case', () => {
    expect(['STOP', ' stop ', 'Unsubscribe', 'stopall', 'QUIT'].map(isStopReply)).toEqual([
      true,
      true,
      true,
      true,
      true,
    ]);
    expect(['stop please', 'START', '', undefined].map(isStopReply)).toEqual([false, false, false, false]);
  });
});

describe('unsubscribe tokens', () => {
  const secret = 'unit-unsubscribe-secret-0123456789abcdef';
  const claims = {
    recipientId: 'u_42',
    category: 'marketing',
    channel: 'email' as const,
    issuedAtMs: Date.parse('2026-01-01T00:00:00Z'),
    notificationId: '6f1c7d9e-2d55-4d7e-9a40-0d8f2f5c1a11',
  };
  const day = 86_400_000;

  it('verifies what it signed within the TTL, down to the second', () => {
    const token = signUnsubscribeToken(claims, secret);
    expect(verifyUnsubscribeToken(token, secret, 400 * day, claims.issuedAtMs + 399 * day)).toEqual({
      ok: true,
      claims,
    });
  });

  it('names the problem: expired, bad signature, malformed, from the future', () => {
    const token = signUnsubscribeToken(claims, secret);
    const now = claims.issuedAtMs;
    expect(verifyUnsubscribeToken(token, secret, 400 * day, now + 401 * day)).toEqual({
      ok: false,
      problem: 'expired',
    });
    expect(verifyUnsubscribeToken(token, 'other-secret-0123456789abcdef0123', 400 * day, now)).toEqual({
      ok: false,
      problem: 'bad signature',
    });
    const [payload, signature] = token.split('.');
    const altered = Buffer.from(
      Buffer.from(payload, 'base64url').toString().replace('u_42', 'u_43'),
    ).toString('base64url');
    expect(verifyUnsubscribeToken(`${altered}.${signature}`, secret, 400 * day, now)).toEqual({
      ok: false,
      problem: 'bad signature',
    });
    expect(verifyUnsubscribeToken('abc', secret, 400 * day, now)).toEqual({
      ok: false,
      problem: 'malformed',
    });
    expect(verifyUnsubscribeToken(token, secret, 400 * day, now - 2 * day)).toEqual({
      ok: false,
      problem: 'malformed',
    });
  });
});
