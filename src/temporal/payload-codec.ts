import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';

/**
 * Encrypted Temporal payloads (docs/contracts.md, "Payload encryption"). Every payload our clients and
 * workers hand to Temporal (workflow and activity arguments and results, signal, update and query
 * arguments, memo) is sealed with AES-256-GCM before it leaves the process:
 *
 *   metadata: { encoding: "binary/encrypted", "encryption-key-id": "<key id>" }
 *   data:     12-byte random IV | ciphertext | 16-byte GCM tag
 *
 * The plaintext is the whole original Payload (its metadata too, so not even the encoding shows) in
 * protobuf wire format, the layout of Temporal's encryption samples. The key id is authenticated as
 * additional data. Decoding picks the key by the id in the metadata, so keys rotate: one current key
 * encodes, every configured key decodes. Payloads without the encrypted encoding pass through untouched:
 * histories recorded before encryption was turned on (test/histories) still replay and still run.
 */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const ENCODING_METADATA = 'encoding';
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const KEY_BYTES = 32;
export const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

export interface PayloadEncryptionConfig {
  /** Id of the key new payloads are encrypted with. */
  currentKeyId: string;
  /** Every key that may still decode (the current one included): id -> 32 raw bytes. */
  keys: Record<string, Buffer>;
}

export class PayloadDecryptionError extends Error {
  override readonly name = 'PayloadDecryptionError';
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

export class AesGcmPayloadCodec implements PayloadCodec {
  private readonly keys: Map<string, Buffer>;
  private readonly currentKeyId: string;

  constructor(config: PayloadEncryptionConfig) {
    this.keys = new Map(Object.entries(config.keys));
    for (const [id, key] of this.keys) {
      if (!KEY_ID_PATTERN.test(id))
        throw new Error(`payload encryption key id "${id.slice(0, 70)}" must match ${KEY_ID_PATTERN}`);
      if (key.length !== KEY_BYTES)
        throw new Error(
          `payload encryption key "${id}" must be ${KEY_BYTES} bytes (AES-256), not ${key.length}`,
        );
    }
    if (!this.keys.has(config.currentKeyId))
      throw new Error(`payload encryption key id "${config.currentKeyId}" is not among the keys`);
    this.currentKeyId = config.currentKeyId;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const key = this.keys.get(this.currentKeyId)!;
    const keyId = utf8.encode(this.currentKeyId);
    return payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(keyId);
      const sealed = Buffer.concat([
        iv,
        cipher.update(serializePayload(payload)),
        cipher.final(),
        cipher.getAuthTag(),
      ]);
      return {
        metadata: { [ENCODING_METADATA]: utf8.encode(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: keyId },
        data: new Uint8Array(sealed),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => (isEncrypted(payload) ? this.open(payload) : payload));
  }

  private open(payload: Payload): Payload {
    const rawId = payload.metadata?.[KEY_ID_METADATA];
    const keyId = rawId ? fromUtf8.decode(rawId) : '';
    const key = this.keys.get(keyId);
    if (!key)
      throw new PayloadDecryptionError(
        `payload encrypted with key "${keyId.slice(0, 70)}", which is not configured (PAYLOAD_ENCRYPTION_KEYS)`,
      );
    const data = payload.data ?? new Uint8Array();
    if (data.length < IV_BYTES + TAG_BYTES)
      throw new PayloadDecryptionError(`encrypted payload too short (${data.length} bytes)`);
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
    decipher.setAAD(rawId!);
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([
        decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch {
      throw new PayloadDecryptionError(
        `encrypted payload with key "${keyId}" failed authentication (tampered, or a different key under the same id)`,
      );
    }
    return deserializePayload(plain);
  }
}

export function isEncrypted(payload: Payload): boolean {
  const encoding = payload.metadata?.[ENCODING_METADATA];
  return !!encoding && fromUtf8.decode(encoding) === ENCRYPTED_ENCODING;
}

/** The codec for a config, or null when payload encryption is off. */
export function payloadCodecFor(encryption: PayloadEncryptionConfig | null): AesGcmPayloadCodec | null {
  return encryption ? new AesGcmPayloadCodec(encryption) : null;
}

/** The DataConverter for every Client and Worker we create (empty, i.e. the SDK default, when encryption is off). */
export function temporalDataConverter(temporal: {
  payloadEncryption: PayloadEncryptionConfig | null;
}): DataConverter {
  const codec = payloadCodecFor(temporal.payloadEncryption);
  return codec ? { payloadCodecs: [codec] } : {};
}

/** `id1:base64key,id2:base64key` -> keys, or a message naming the bad entry (never echoing key material). */
export function parseEncryptionKeys(value: string): { keys: Record<string, Buffer> } | { error: string } {
  const keys: Record<string, Buffer> = {};
  for (const [i, entry] of value
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .entries()) {
    const colon = entry.indexOf(':');
    const id = colon > 0 ? entry.slice(0, colon) : '';
    const material = colon > 0 ? entry.slice(colon + 1).trim() : '';
    if (!KEY_ID_PATTERN.test(id))
      return { error: `entry ${i + 1} must be <key id>:<base64 key>, the id of 1-64 chars [A-Za-z0-9._-]` };
    if (keys[id]) return { error: `key id "${id}" appears twice` };
    const key = /^[A-Za-z0-9+/_-]+={0,2}$/.test(material)
      ? Buffer.from(material, material.includes('-') || material.includes('_') ? 'base64url' : 'base64')
      : Buffer.alloc(0);
    if (key.length !== KEY_BYTES)
      return { error: `key "${id}" must be ${KEY_BYTES} bytes in base64 (openssl rand -base64 32)` };
    keys[id] = key;
  }
  if (Object.keys(keys).length === 0) return { error: 'no keys' };
  return { keys };
}

/** The env form of a config (for child processes that must share the keys). */
export function encryptionKeysEnv(encryption: PayloadEncryptionConfig | null): Record<string, string> {
  if (!encryption) return {};
  return {
    PAYLOAD_ENCRYPTION_KEYS: Object.entries(encryption.keys)
      .map(([id, key]) => `${id}:${key.toString('base64')}`)
      .join(','),
    PAYLOAD_ENCRYPTION_KEY_ID: encryption.currentKeyId,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The codec server protocol: Payloads as proto3 JSON, `{ "payloads": [{ "metadata": { k: base64 }, "data": base64 }] }`.

export interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

export function payloadFromJson(json: JsonPayload): Payload {
  const metadata: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(json.metadata ?? {}))
    metadata[k] = new Uint8Array(Buffer.from(v, 'base64'));
  return { metadata, data: new Uint8Array(Buffer.from(json.data ?? '', 'base64')) };
}

export function payloadToJson(payload: Payload): JsonPayload {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(payload.metadata ?? {}))
    if (v) metadata[k] = Buffer.from(v).toString('base64');
  return { metadata, data: Buffer.from(payload.data ?? new Uint8Array()).toString('base64') };
}

// ---------------------------------------------------------------------------------------------------------------
// temporal.api.common.v1.Payload in protobuf wire format (map<string, bytes> metadata = 1; bytes data = 2), written
// by hand so this module needs no protobuf runtime; the same bytes `Payload.encode(payload).finish()` gives.

export function serializePayload(payload: Payload): Buffer {
  if ((payload as { externalPayloads?: unknown[] }).externalPayloads?.length)
    throw new Error('externally stored payloads are not encrypted by this codec');
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(payload.metadata ?? {})) {
    if (!v) continue;
    const entry = Buffer.concat([
      lengthDelimited(1, Buffer.from(k, 'utf8')),
      lengthDelimited(2, Buffer.from(v)),
    ]);
    parts.push(lengthDelimited(1, entry));
  }
  if (payload.data && payload.data.length > 0) parts.push(lengthDelimited(2, Buffer.from(payload.data)));
  return Buffer.concat(parts);
}

export function deserializePayload(bytes: Buffer): Payload {
  const metadata: Record<string, Uint8Array> = {};
  let data = new Uint8Array();
  for (const field of fields(bytes)) {
    if (field.number === 1 && field.bytes) {
      let key = '';
      let value = new Uint8Array();
      for (const inner of fields(field.bytes)) {
        if (inner.number === 1 && inner.bytes) key = inner.bytes.toString('utf8');
        if (inner.number === 2 && inner.bytes) value = new Uint8Array(inner.bytes);
      }
      metadata[key] = value;
    } else if (field.number === 2 && field.bytes) {
      data = new Uint8Array(field.bytes);
    }
  }
  return { metadata, data };
}

function lengthDelimited(fieldNumber: number, bytes: Buffer): Buffer {
  return Buffer.concat([varint((fieldNumber << 3) | 2), varint(bytes.length), bytes]);
}

function varint(value: number): Buffer {
  const out: number[] = [];
  while (value > 0x7f) {
    out.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return Buffer.from(out);
}

function* fields(bytes: Buffer): Generator<{ number: number; bytes?: Buffer }> {
  let pos = 0;
  const readVarint = (): number => {
    let result = 0;
    let factor = 1;
    for (;;) {
      if (pos >= bytes.length) throw new PayloadDecryptionError('decrypted payload is not a Payload message');
      const b = bytes[pos++];
      result += (b & 0x7f) * factor;
      if (b < 0x80) return result;
      factor *= 128;
    }
  };
  while (pos < bytes.length) {
    const tag = readVarint();
    const wireType = tag & 7;
    const number = Math.floor(tag / 8);
    if (wireType === 2) {
      const length = readVarint();
      if (pos + length > bytes.length)
        throw new PayloadDecryptionError('decrypted payload is not a Payload message');
      yield { number, bytes: bytes.subarray(pos, pos + length) };
      pos += length;
    } else if (wireType === 0) {
      readVarint();
    } else if (wireType === 1) {
      pos += 8;
    } else if (wireType === 5) {
      pos += 4;
    } else {
      throw new PayloadDecryptionError('decrypted payload is not a Payload message');
    }
  }
}

/**
 * `npm run dev` encrypts with this fixed, publicly known key when PAYLOAD_ENCRYPTION_KEYS is unset, so the
 * dev setup runs the same code path as production and .data/temporal.db stays readable across restarts.
 * It protects nothing: never configure it anywhere else (src/bin/worker.ts and api.ts never apply it).
 */
export const DEV_PAYLOAD_KEY_ID = 'dev-not-secret';
export const DEV_PAYLOAD_KEY = createHash('sha256')
  .update('notification-service dev payload key (publicly known, not secret)')
  .digest('base64');

/** The environment with the dev payload key filled in when no keys are configured. */
export function withDevPayloadEncryption(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if ((env.PAYLOAD_ENCRYPTION_KEYS ?? '').trim() !== '') return env;
  return {
    ...env,
    PAYLOAD_ENCRYPTION_KEYS: `${DEV_PAYLOAD_KEY_ID}:${DEV_PAYLOAD_KEY}`,
    PAYLOAD_ENCRYPTION_KEY_ID: DEV_PAYLOAD_KEY_ID,
  };
}

/**
 * A history as `fetchHistory()` returns it holds payloads as stored (encrypted); this decodes every payload
 * in it, in place, with the codecs of the client that fetched it (what the Web UI does through the codec
 * endpoint). Readers that convert history payloads themselves (the notification trace) go through here.
 */
export async function decodeHistoryPayloads<T>(
  history: T,
  client: { options: { loadedDataConverter: { payloadCodecs: PayloadCodec[] } } },
): Promise<T> {
  const codecs = [...client.options.loadedDataConverter.payloadCodecs].reverse();
  if (codecs.length === 0) return history;
  const visit = async (value: unknown): Promise<void> => {
    if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return;
    const record = value as Record<string, unknown>;
    for (const [key, child] of Object.entries(record)) {
      if (looksLikePayload(child)) {
        let decoded = [child];
        for (const codec of codecs) decoded = await codec.decode(decoded);
        record[key] = decoded[0];
      } else {
        await visit(child);
      }
    }
  };
  await visit(history);
  return history;
}

function looksLikePayload(value: unknown): value is Payload {
  if (value === null || typeof value !== 'object') return false;
  const record = value as Record<string, unknown>;
  return (
    record.data instanceof Uint8Array &&
    record.metadata !== null &&
    typeof record.metadata === 'object' &&
    !(record.metadata instanceof Uint8Array)
  );
}
