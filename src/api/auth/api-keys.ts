import { createHash, timingSafeEqual } from 'node:crypto';
import { API_SCOPES, type ApiKeyConfig, type ApiScope } from '../../config';

export interface VerifiedKey {
  name: string;
  admin: boolean;
  scopes: readonly ApiScope[];
}

/**
 * Checks a presented API key against the configured SHA-256 hashes. Every configured hash is compared
 * (in constant time) whatever matches, so timing reveals neither which key nor how much of it matched.
 */
export class ApiKeyVerifier {
  private readonly keys: (VerifiedKey & { hash: Buffer })[];

  constructor(serviceKeys: ApiKeyConfig[], adminKeys: ApiKeyConfig[]) {
    // A key configured without scopes keeps every scope: what it could do before scopes existed.
    this.keys = [
      ...serviceKeys.map((k) => ({
        name: k.name,
        admin: false,
        scopes: k.scopes ?? API_SCOPES,
        hash: Buffer.from(k.sha256, 'hex'),
      })),
      ...adminKeys.map((k) => ({
        name: k.name,
        admin: true,
        scopes: API_SCOPES,
        hash: Buffer.from(k.sha256, 'hex'),
      })),
    ];
  }

  get configured(): boolean {
    return this.keys.length > 0;
  }

  /** The configured admin key of that name: a browser session opened with it lives only as long as the key. */
  adminNamed(name: string): VerifiedKey | null {
    const key = this.keys.find((k) => k.admin && k.name === name);
    return key ? { name: key.name, admin: key.admin, scopes: key.scopes } : null;
  }

  verify(presented: string): VerifiedKey | null {
    const hash = createHash('sha256').update(presented).digest();
    let found: VerifiedKey | null = null;
    for (const key of this.keys) {
      if (timingSafeEqual(hash, key.hash) && !found)
        found = { name: key.name, admin: key.admin, scopes: key.scopes };
    }
    return found;
  }
}
