import { loadConfig } from '../../src/config';
import { DEFAULT_PUSH_HOSTS } from '../../src/domain/outbound-url';

describe('config: outbound URLs and send safety', () => {
  it("defaults to https only, no internal addresses, push to the browsers' push services", () => {
    const config = loadConfig({});
    expect(config.outbound).toEqual({
      webhook: { allowHttp: false, allowedCidrs: [], allowedHosts: null },
      push: { allowHttp: false, allowedCidrs: [], allowedHosts: DEFAULT_PUSH_HOSTS },
    });
    expect([config.smtpTimeoutMs, config.httpProviderTimeoutMs, config.sendRecordStaleMs]).toEqual([
      30_000, 10_000, 60_000,
    ]);
  });

  it('takes the development settings explicitly', () => {
    const config = loadConfig({
      OUTBOUND_ALLOW_HTTP: 'true',
      OUTBOUND_ALLOWED_CIDRS: '127.0.0.0/8, ::1/128',
      PUSH_ALLOWED_HOSTS: '*',
    });
    expect(config.outbound.webhook).toEqual({
      allowHttp: true,
      allowedCidrs: ['127.0.0.0/8', '::1/128'],
      allowedHosts: null,
    });
    expect(config.outbound.push.allowedHosts).toBeNull();
    expect(
      loadConfig({ PUSH_ALLOWED_HOSTS: 'push.example.com,*.push.example.net' }).outbound.push.allowedHosts,
    ).toEqual(['push.example.com', '*.push.example.net']);
  });

  it.each([
    [{ OUTBOUND_ALLOW_HTTP: 'yes' }, /OUTBOUND_ALLOW_HTTP/],
    [{ OUTBOUND_ALLOWED_CIDRS: 'localhost' }, /OUTBOUND_ALLOWED_CIDRS: must be a comma list of CIDRs/],
    [{ PUSH_ALLOWED_HOSTS: 'https://fcm.googleapis.com' }, /PUSH_ALLOWED_HOSTS/],
  ])('refuses %j', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('refuses SEND_RECORD_STALE_MS at or below the longest provider timeout (a slow living worker would be taken over)', () => {
    expect(() => loadConfig({ SEND_RECORD_STALE_MS: '30000' })).toThrow(
      'invalid configuration: SEND_RECORD_STALE_MS: must exceed the longest provider timeout (30000 ms: SMTP_TIMEOUT_MS, HTTP_PROVIDER_TIMEOUT_MS)',
    );
    expect(() =>
      loadConfig({ SEND_RECORD_STALE_MS: '5000', SMTP_TIMEOUT_MS: '4000', HTTP_PROVIDER_TIMEOUT_MS: '6000' }),
    ).toThrow(/SEND_RECORD_STALE_MS/);
    expect(
      loadConfig({ SEND_RECORD_STALE_MS: '5000', SMTP_TIMEOUT_MS: '4000', HTTP_PROVIDER_TIMEOUT_MS: '4000' })
        .sendRecordStaleMs,
    ).toBe(5000);
  });
});
