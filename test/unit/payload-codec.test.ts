import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { ConfigError, loadConfig } from '../../src/config';
import { signalPayloadOf, CHANNEL_FAILURE_CODES } from '../../src/delivery/outcome-reporter';
import {
  AesGcmPayloadCodec,
  DEV_PAYLOAD_KEY_ID,
  ENCRYPTED_ENCODING,
  encryptionKeysEnv,
  KEY_ID_METADATA,
  PayloadDecryptionError,
  payloadFromJson,
  payloadToJson,
  serializePayload,
  deserializePayload,
  temporalDataConverter,
  withDevPayloadEncryption,
} from '../../src/temporal/payload-codec';

const keyA = randomBytes(32);
const keyB = randomBytes(32);
const text = (bytes: Uint8Array | null | undefined) =>
  Buffer.from(bytes ?? new Uint8Array()).toString('utf8');
const toPayload = (value: unknown): Payload => defaultPayloadConverter.toPayload(value);
const EVENT = { id: 'evt_1', data: { orderNumber: 'A-SECRET-1001' }, email: 'jane.doe@example.test' };

describe('AesGcmPayloadCodec', () => {
  const codecA = new AesGcmPayloadCodec({ currentKeyId: 'a', keys: { a: keyA } });

  it('seals the whole payload: encoding binary/encrypted, the key id in the metadata, nothing readable, a fresh IV each time', async () => {
    const [sealed] = await codecA.encode([toPayload(EVENT)]);
    expect(Object.keys(sealed.metadata!).sort()).toEqual(['encoding', KEY_ID_METADATA]);
    expect(text(sealed.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(text(sealed.metadata![KEY_ID_METADATA])).toBe('a');
    expect(text(sealed.data)).not.toContain('A-SECRET-1001');
    expect(text(sealed.data)).not.toContain('json/plain');
    const [again] = await codecA.encode([toPayload(EVENT)]);
    expect(Buffer.from(again.data!).equals(Buffer.from(sealed.data!))).toBe(false);

    const [opened] = await codecA.decode([sealed]);
    expect(defaultPayloadConverter.fromPayload(opened)).toEqual(EVENT);
  });

  it('keeps every payload kind intact (undefined, binary, empty arrays)', async () => {
    const payloads = [
      toPayload(undefined),
      toPayload(new Uint8Array([0, 1, 2, 255])),
      toPayload(''),
      toPayload(null),
    ];
    const opened = await codecA.decode(await codecA.encode(payloads));
    expect(opened.map((p) => defaultPayloadConverter.fromPayload(p))).toEqual([
      undefined,
      new Uint8Array([0, 1, 2, 255]),
      '',
      null,
    ]);
    expect(await codecA.encode([])).toEqual([]);
  });

  it('rotates keys: encoded with A, the keyring {A, B} (current B) still decodes it and encodes new payloads with B', async () => {
    const [withA] = await codecA.encode([toPayload(EVENT)]);
    const rotated = new AesGcmPayloadCodec({ currentKeyId: 'b', keys: { a: keyA, b: keyB } });
    expect(defaultPayloadConverter.fromPayload((await rotated.decode([withA]))[0])).toEqual(EVENT);
    const [withB] = await rotated.encode([toPayload(EVENT)]);
    expect(text(withB.metadata![KEY_ID_METADATA])).toBe('b');
    // Once A is retired, its payloads no longer decode, with an error naming the key id (never key material).
    const onlyB = new AesGcmPayloadCodec({ currentKeyId: 'b', keys: { b: keyB } });
    expect(defaultPayloadConverter.fromPayload((await onlyB.decode([withB]))[0])).toEqual(EVENT);
    await expect(onlyB.decode([withA])).rejects.toThrow(
      new PayloadDecryptionError(
        'payload encrypted with key "a", which is not configured (PAYLOAD_ENCRYPTION_KEYS)',
      ),
    );
  });

  it('passes payloads without the encrypted encoding through untouched (histories recorded before encryption)', async () => {
    const plain = toPayload(EVENT);
    const [out] = await codecA.decode([plain]);
    expect(out).toBe(plain);
  });

  it('refuses a tampered payload, a swapped key id and a different key under the same id', async () => {
    const [sealed] = await codecA.encode([toPayload(EVENT)]);
    const flipped = Buffer.from(sealed.data!);
    flipped[20] ^= 1;
    await expect(codecA.decode([{ ...sealed, data: flipped }])).rejects.toThrow(PayloadDecryptionError);
    const both = new AesGcmPayloadCodec({ currentKeyId: 'a', keys: { a: keyA, b: keyA } });
    // Same key, other id: the key id is authenticated data, so it does not open.
    await expect(
      both.decode([{ ...sealed, metadata: { ...sealed.metadata, [KEY_ID_METADATA]: Buffer.from('b') } }]),
    ).rejects.toThrow(PayloadDecryptionError);
    const impostor = new AesGcmPayloadCodec({ currentKeyId: 'a', keys: { a: keyB } });
    await expect(impostor.decode([sealed])).rejects.toThrow(/failed authentication/);
  });

  it("writes the plaintext as the Payload protobuf message (the layout of Temporal's encryption samples)", () => {
    const payload = {
      metadata: { encoding: Buffer.from('json/plain'), 'x-extra': new Uint8Array([1, 2, 3]) },
      data: Buffer.from('x'.repeat(300)),
    };
    const ours = serializePayload(payload);
    const theirs = Buffer.from(temporal.api.common.v1.Payload.encode(payload).finish());
    expect(ours.equals(theirs)).toBe(true);
    expect(deserializePayload(theirs)).toEqual({
      metadata: { encoding: new Uint8Array(Buffer.from('json/plain')), 'x-extra': new Uint8Array([1, 2, 3]) },
      data: new Uint8Array(Buffer.from('x'.repeat(300))),
    });
  });

  it('reads and writes the codec server JSON form (bytes as base64)', () => {
    const payload = toPayload(EVENT);
    const json = payloadToJson(payload);
    expect(json.metadata).toEqual({ encoding: Buffer.from('json/plain').toString('base64') });
    expect(defaultPayloadConverter.fromPayload(payloadFromJson(json))).toEqual(EVENT);
  });
});

describe('payload encryption settings', () => {
  const b64 = (key: Buffer) => key.toString('base64');

  it('is off unless PAYLOAD_ENCRYPTION_KEYS is set; then every client and worker gets the codec', () => {
    expect(loadConfig({}).temporal.payloadEncryption).toBeNull();
    expect(temporalDataConverter({ payloadEncryption: null })).toEqual({});
    const config = loadConfig({ PAYLOAD_ENCRYPTION_KEYS: `k1:${b64(keyA)}` });
    expect(config.temporal.payloadEncryption).toEqual({ currentKeyId: 'k1', keys: { k1: keyA } });
    expect(temporalDataConverter(config.temporal).payloadCodecs).toHaveLength(1);
    // Round trip through the env form child processes get.
    expect(
      loadConfig(encryptionKeysEnv(config.temporal.payloadEncryption)).temporal.payloadEncryption,
    ).toEqual(config.temporal.payloadEncryption);
  });

  it('takes several keys with PAYLOAD_ENCRYPTION_KEY_ID naming the current one', () => {
    const config = loadConfig({
      PAYLOAD_ENCRYPTION_KEYS: `old:${b64(keyA)}, new:${b64(keyB)}`,
      PAYLOAD_ENCRYPTION_KEY_ID: 'new',
    });
    expect(config.temporal.payloadEncryption).toEqual({
      currentKeyId: 'new',
      keys: { old: keyA, new: keyB },
    });
  });

  it.each([
    [
      { PAYLOAD_ENCRYPTION_KEYS: `k1:${b64(randomBytes(16))}` },
      'PAYLOAD_ENCRYPTION_KEYS: key "k1" must be 32 bytes',
    ],
    [{ PAYLOAD_ENCRYPTION_KEYS: 'k1:not*base64' }, 'PAYLOAD_ENCRYPTION_KEYS: key "k1" must be 32 bytes'],
    [
      { PAYLOAD_ENCRYPTION_KEYS: b64(keyA) },
      'PAYLOAD_ENCRYPTION_KEYS: entry 1 must be <key id>:<base64 key>',
    ],
    [
      { PAYLOAD_ENCRYPTION_KEYS: `k1:${b64(keyA)},k1:${b64(keyB)}` },
      'PAYLOAD_ENCRYPTION_KEYS: key id "k1" appears twice',
    ],
    [
      { PAYLOAD_ENCRYPTION_KEYS: `a:${b64(keyA)},b:${b64(keyB)}` },
      'PAYLOAD_ENCRYPTION_KEY_ID: required with more than one key',
    ],
    [
      { PAYLOAD_ENCRYPTION_KEYS: `a:${b64(keyA)}`, PAYLOAD_ENCRYPTION_KEY_ID: 'b' },
      'PAYLOAD_ENCRYPTION_KEY_ID: "b" is not a key id',
    ],
    [{ PAYLOAD_ENCRYPTION_KEY_ID: 'a' }, 'PAYLOAD_ENCRYPTION_KEY_ID: set without PAYLOAD_ENCRYPTION_KEYS'],
    [
      { CODEC_CORS_ORIGINS: 'http://ui.example/path' },
      'CODEC_CORS_ORIGINS: "http://ui.example/path" is not an origin',
    ],
  ])('refuses %o naming the variable, never the key', (env, message) => {
    let error: unknown;
    try {
      loadConfig(env);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(message);
    expect((error as Error).message).not.toContain(b64(keyA));
  });

  it('lets the Web UI origin call the codec endpoint: the origin of TEMPORAL_UI_URL, or CODEC_CORS_ORIGINS', () => {
    expect(loadConfig({}).api.codecCorsOrigins).toEqual(['http://127.0.0.1:8233']);
    expect(loadConfig({ TEMPORAL_UI_URL: 'https://temporal.shop.example/ui/' }).api.codecCorsOrigins).toEqual(
      ['https://temporal.shop.example'],
    );
    expect(
      loadConfig({ CODEC_CORS_ORIGINS: 'https://a.example, http://localhost:8233' }).api.codecCorsOrigins,
    ).toEqual(['https://a.example', 'http://localhost:8233']);
  });

  it('dev mode encrypts with the fixed, documented dev key unless keys are configured', () => {
    expect(
      loadConfig(withDevPayloadEncryption({}), { allowDevCredentials: true }).temporal.payloadEncryption
        ?.currentKeyId,
    ).toBe(DEV_PAYLOAD_KEY_ID);
    expect(() => loadConfig(withDevPayloadEncryption({}))).toThrow(/PAYLOAD_ENCRYPTION_KEYS/);
    const own = { PAYLOAD_ENCRYPTION_KEYS: `mine:${b64(keyA)}` };
    expect(withDevPayloadEncryption(own)).toBe(own);
  });
});

describe('release-0 channelOutcome signal', () => {
  it('carries a failure code, never the provider text', () => {
    const providerText = 'SMTP 550 5.1.1 <jane.doe@example.test>: mailbox unavailable';
    expect(signalPayloadOf({ channel: 'email', state: 'failed', attempts: 6, error: providerText })).toEqual({
      channel: 'email',
      state: 'failed',
      attempts: 6,
      error: CHANNEL_FAILURE_CODES.exhausted,
    });
    expect(
      signalPayloadOf({
        channel: 'push',
        state: 'failed',
        attempts: 1,
        error: 'no subscription for jane',
        permanent: true,
      }),
    ).toEqual({
      channel: 'push',
      state: 'failed',
      attempts: 1,
      error: CHANNEL_FAILURE_CODES.permanent,
      permanent: true,
    });
    expect(
      signalPayloadOf({ channel: 'sms', state: 'delivered', attempts: 1, providerMessageId: 'SM1' }),
    ).toEqual({ channel: 'sms', state: 'delivered', attempts: 1, providerMessageId: 'SM1' });
  });
});
