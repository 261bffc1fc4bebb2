import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { ApiConfig } from '../../config';

/** The shopper (or operator) a bearer token speaks for. */
export interface VerifiedToken {
  /** `sub`: the recipient id. */
  subject: string;
  /** The configured admin claim (JWT_ADMIN_CLAIM) holds its value; never without a configured issuer and audience. */
  admin: boolean;
  /** `exp`, required: a stream opened with the token ends then. */
  expiresAt: Date;
}

export class InvalidTokenError extends Error {
  override readonly name = 'InvalidTokenError';
}

export class TokenKeysUnavailableError extends Error {
  override readonly name = 'TokenKeysUnavailableError';
}

const USER_ID_PATTERN = /^[A-Za-z0-9._:@-]{1,200}$/;
const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
];

/** Verifies bearer JWTs: HS256 with a shared secret, or asymmetric keys from a JWKS URL (cached by jose). */
export class JwtVerifier {
  private readonly key: Uint8Array | JWTVerifyGetKey;
  private readonly algorithms: string[];

  constructor(private readonly config: NonNullable<ApiConfig['jwt']>) {
    if (config.secret) {
      this.key = new TextEncoder().encode(config.secret);
      this.algorithms = ['HS256'];
    } else {
      this.key = createRemoteJWKSet(new URL(config.jwksUrl!), {
        timeoutDuration: 5000,
        cooldownDuration: 30_000,
      });
      this.algorithms = ASYMMETRIC_ALGORITHMS;
    }
  }

  async verify(token: string): Promise<VerifiedToken> {
    let payload: JWTPayload;
    try {
      // exp required: a token without one would be valid forever.
      const options = {
        algorithms: this.algorithms,
        issuer: this.config.issuer,
        audience: this.config.audience,
        clockTolerance: 5,
        requiredClaims: ['exp'],
      };
      payload =
        this.key instanceof Uint8Array
          ? (await jwtVerify(token, this.key, options)).payload
          : (await jwtVerify(token, this.key, options)).payload;
    } catch (err) {
      // The key set could not be fetched: our outage, not the caller's mistake.
      if (err instanceof errors.JWKSTimeout || !(err instanceof errors.JOSEError))
        throw new TokenKeysUnavailableError(String(err));
      throw new InvalidTokenError(describe(err));
    }
    if (typeof payload.sub !== 'string' || !USER_ID_PATTERN.test(payload.sub)) {
      throw new InvalidTokenError('token subject (sub) must be a recipient id');
    }
    return { subject: payload.sub, admin: this.isAdmin(payload), expiresAt: new Date(payload.exp! * 1000) };
  }

  /** Only from the configured claim, and only when issuer and audience are checked (loadConfig insists). */
  private isAdmin(payload: JWTPayload): boolean {
    const claim = this.config.adminClaim;
    if (!claim || !this.config.issuer || !this.config.audience) return false;
    const value = payload[claim.name];
    return Array.isArray(value) ? value.includes(claim.value) : value === claim.value;
  }
}

/** A reason fit for a 401 body: what is wrong with the token, never key material. */
function describe(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'token expired';
  if (err instanceof errors.JWTClaimValidationFailed)
    return err.reason === 'missing' ? `token claim ${err.claim} missing` : `token claim ${err.claim} invalid`;
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'token signature invalid';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'token algorithm not allowed';
  if (err instanceof errors.JWKSNoMatchingKey) return 'token signed by an unknown key';
  return 'token malformed';
}
