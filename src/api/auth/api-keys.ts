import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiKeyConfig } from '../../config';

export interface VerifiedKey {
  name: string;
  admin: boolean;
}

/**
 * Checks a presented API key against the configured SHA-256 hashes. Every configured hash is compared
 * (in constant time) whatever matches, so timing reveals neither which key nor how much of it matched.
 */
export class ApiKeyVerifier {
  private readonly keys: { name: string; admin: boolean; hash: Buffer }[];

  constructor(serviceKeys: ApiKeyConfig[], adminKeys: ApiKeyConfig[]) {
    this.keys = [
      ...serviceKeys.map((k) => ({ name: k.name, admin: false, hash: Buffer.from(k.sha256, 'hex') })),
      ...adminKeys.map((k) => ({ name: k.name, admin: true, hash: Buffer.from(k.sha256, 'hex') })),
    ];
  }

  get configured(): boolean {
    return this.keys.length > 0;
  }

  verify(presented: string): VerifiedKey | null {
    const hash = createHash('sha256').update(presented).digest();
    let found: VerifiedKey | null = null;
    for (const key of this.keys) {
      if (timingSafeEqual(hash, key.hash) && !found) found = { name: key.name, admin: key.admin };
    }
    return found;
  }
}
