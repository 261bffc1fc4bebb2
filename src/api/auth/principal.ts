import type { ApiScope } from '../../config';

/** Who is calling: a service or operator holding an API key, or a user holding a JWT (until it expires). */
export type Principal =
  | { kind: 'key'; name: string; admin: boolean; scopes: readonly ApiScope[] }
  | { kind: 'user'; userId: string; admin: boolean; expiresAt: Date };
