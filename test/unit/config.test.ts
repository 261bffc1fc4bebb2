import { withDevApiCredentials } from '../../src/api/dev-credentials';
import { ConfigError, loadConfig } from '../../src/config';

describe('loadConfig', () => {
  it('applies the defaults of docs/contracts.md', () => {
    const config = loadConfig({});
    expect(config.temporal).toEqual({
      address: '127.0.0.1:7233',
      namespace: 'default',
      taskQueue: 'notifications',
      campaignTaskQueue: 'notifications-campaigns',
      payloadEncryption: null,
      security: { tls: null, apiKey: null },
    });
    expect(
      loadConfig({ TEMPORAL_TASK_QUEUE: 'q', TEMPORAL_CAMPAIGN_TASK_QUEUE: 'bulk' }).temporal,
    ).toMatchObject({ taskQueue: 'q', campaignTaskQueue: 'bulk' });
    expect(config.campaignMaxBacklog).toBe(5000);
    expect(config.databaseUrl).toBe('postgres://postgres@127.0.0.1:5432/notifications');
    expect(config.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(config.smtpUrl).toBe('smtp://127.0.0.1:1025');
    expect(config.port).toBe(3000);
    expect(config.queuePrefix).toBe('{notifications}');
    expect(config.redisKeyLayout).toBe('spread');
    expect(loadConfig({ REDIS_KEY_LAYOUT: 'single' }).redisKeyLayout).toBe('single');
    expect(() => loadConfig({ REDIS_KEY_LAYOUT: 'sharded' })).toThrow(
      /^invalid configuration: REDIS_KEY_LAYOUT: /,
    );
    expect(config.providers).toEqual({ twilio: null, webPush: null, webhook: null, postmark: null });
    expect(config.emailProvider).toBe('smtp');
    expect(config.tracking).toBeNull();
    expect(config.api.shopUrl).toBeNull();
    expect(loadConfig({ SHOP_URL: 'https://shop.example' }).api.shopUrl).toBe('https://shop.example');
  });

  it.each([
    ['TEMPORAL_ADDRESS', 'localhost'],
    ['DATABASE_URL', 'mysql://x/y'],
    ['REDIS_URL', 'not a url'],
    ['PORT', '70000'],
    ['DELIVERY_CHANNELS', 'email,fax'],
    ['SEND_SMS_RATE_MAX', '-1'],
    ['SHOP_URL', 'shop.example'],
  ])('rejects %s=%s with one line naming the variable', (name, value) => {
    let error: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(new RegExp(`^invalid configuration: ${name}`));
    expect((error as Error).message).not.toContain('\n');
  });

  it('refuses half a provider configuration', () => {
    expect(() => loadConfig({ TWILIO_ACCOUNT_SID: 'AC1' })).toThrow(
      /TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM must be set together/,
    );
  });

  it('reads per-channel worker settings; a zero rate turns the limiter off', () => {
    const config = loadConfig({
      SEND_EMAIL_CONCURRENCY: '7',
      SEND_EMAIL_RATE_MAX: '0',
      DELIVERY_CHANNELS: 'email, sms',
    });
    expect(config.channels.email).toMatchObject({ concurrency: 7, rateLimit: null });
    expect(config.deliveryChannels).toEqual(['email', 'sms']);
  });
});

describe('loadConfig: browser surfaces (docs/contracts.md, "Browser surfaces")', () => {
  it('reads SESSION_TTL_MS: default 8 h, one minute to seven days', () => {
    expect(loadConfig({}).api.sessionTtlMs).toBe(8 * 3600_000);
    expect(loadConfig({ SESSION_TTL_MS: '60000' }).api.sessionTtlMs).toBe(60_000);
    expect(() => loadConfig({ SESSION_TTL_MS: '59999' })).toThrow(/^invalid configuration: SESSION_TTL_MS/);
    expect(() => loadConfig({ SESSION_TTL_MS: String(7 * 24 * 3600_000 + 1) })).toThrow(
      /^invalid configuration: SESSION_TTL_MS/,
    );
  });
});

describe('loadConfig: WIDGET_ORIGINS', () => {
  it('reads a comma list of origins, none by default, and names an entry that is not an origin', () => {
    expect(loadConfig({}).api.widgetOrigins).toEqual([]);
    expect(
      loadConfig({ WIDGET_ORIGINS: 'https://shop.example, http://localhost:8080/' }).api.widgetOrigins,
    ).toEqual(['https://shop.example', 'http://localhost:8080']);
    for (const bad of ['shop.example', 'https://shop.example/widget', 'ftp://shop.example', '*']) {
      expect(() => loadConfig({ WIDGET_ORIGINS: bad })).toThrow(
        `invalid configuration: WIDGET_ORIGINS: "${bad}" is not an origin (scheme://host[:port])`,
      );
    }
  });
});

describe('loadConfig: DEV_LOGIN', () => {
  it('is off by default, and only `npm run dev` (allowDevCredentials) may turn it on', () => {
    expect(loadConfig({}).api.devLogin).toBe(false);
    expect(() => loadConfig({ DEV_LOGIN: 'true' })).toThrow(
      'invalid configuration: DEV_LOGIN: signs anyone in as a demo user; only `npm run dev` may turn it on',
    );
    expect(loadConfig({ DEV_LOGIN: 'true' }, { allowDevCredentials: true }).api.devLogin).toBe(true);
    expect(loadConfig(withDevApiCredentials({}), { allowDevCredentials: true }).api.devLogin).toBe(true);
    expect(
      loadConfig(withDevApiCredentials({ DEV_LOGIN: 'false' }), { allowDevCredentials: true }).api.devLogin,
    ).toBe(false);
    expect(() => loadConfig({ DEV_LOGIN: 'yes' })).toThrow(/^invalid configuration: DEV_LOGIN/);
  });
});

describe('loadConfig: tracking and the email provider (docs/tracking-and-receipts.md)', () => {
  const secret = 'a-tracking-secret-of-32-characters-x';

  it('tracks with TRACKING_SECRET set (opens on by default), and not at all with TRACKING=off', () => {
    expect(loadConfig({ TRACKING_SECRET: secret, PUBLIC_URL: 'https://n.example/' }).tracking).toEqual({
      secret,
      publicUrl: 'https://n.example',
      opens: true,
    });
    expect(loadConfig({ TRACKING_SECRET: secret, TRACK_OPENS: 'false' }).tracking?.opens).toBe(false);
    const off = loadConfig({ TRACKING_SECRET: secret, TRACKING: 'OFF' });
    expect(off.tracking).toBeNull();
    // Links already sent keep working: the redirect still verifies.
    expect(off.trackingSecret).toBe(secret);
    expect(() => loadConfig({ TRACKING: 'maybe' })).toThrow(/^invalid configuration: TRACKING: /);
    expect(() => loadConfig({ TRACKING_SECRET: 'short' })).toThrow(
      /^invalid configuration: TRACKING_SECRET: /,
    );
  });

  it('tracks in npm run dev with the dev secret', () => {
    const dev = loadConfig(withDevApiCredentials({}), { allowDevCredentials: true });
    expect(dev.tracking).toMatchObject({ secret: 'dev-tracking-secret-not-for-production-use', opens: true });
  });

  it('refuses a placeholder TRACKING_SECRET and the dev one outside npm run dev', () => {
    expect(() => loadConfig({ TRACKING_SECRET: 'dev-tracking-secret-not-for-production-use' })).toThrow(
      /TRACKING_SECRET/,
    );
  });

  it('needs the Postmark token and webhook password with EMAIL_PROVIDER=postmark', () => {
    expect(() => loadConfig({ EMAIL_PROVIDER: 'postmark' })).toThrow(
      /^invalid configuration: POSTMARK_SERVER_TOKEN: required with EMAIL_PROVIDER=postmark/,
    );
    expect(() => loadConfig({ EMAIL_PROVIDER: 'postmark', POSTMARK_SERVER_TOKEN: 'pm-token' })).toThrow(
      /^invalid configuration: POSTMARK_WEBHOOK_PASSWORD: required/,
    );
    expect(() => loadConfig({ EMAIL_PROVIDER: 'sendmail' })).toThrow(
      /^invalid configuration: EMAIL_PROVIDER: /,
    );
    const config = loadConfig({
      EMAIL_PROVIDER: 'postmark',
      POSTMARK_SERVER_TOKEN: 'pm-token',
      POSTMARK_WEBHOOK_PASSWORD: 'pm-webhook-password-1',
      POSTMARK_API_URL: 'http://127.0.0.1:9999/',
    });
    expect(config.emailProvider).toBe('postmark');
    expect(config.providers.postmark).toEqual({
      apiUrl: 'http://127.0.0.1:9999',
      serverToken: 'pm-token',
      messageStream: 'outbound',
      webhookPassword: 'pm-webhook-password-1',
    });
  });
});
