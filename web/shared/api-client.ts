/**
 * The browser side of the HTTP API (docs/contracts.md#browser-surfaces). Same-origin pages sign in
 * once (POST /api/session) and ride the httpOnly session cookie, sending the session's CSRF token on
 * every unsafe request; the embeddable widget on a shop's own origin passes a bearer token instead.
 */

import type { SessionView } from '../../src/api/contract-types';

/** An error answer of the API (its ErrorBody), or a network failure (status 0). */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
    readonly fields: string[] = [],
  ) {
    super(message);
  }
}

/** What GET/POST /api/session answer (src/api/contract-types.ts, shared with the server). */
export type Session = SessionView;

export interface ApiClientOptions {
  /** Origin (and optional path prefix) of the API; default: this page's origin. */
  base?: string;
  /** A bearer token (the widget on a shop page); when absent the session cookie is used. */
  token?: string | null;
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export class ApiClient {
  private csrfToken: string | null = null;
  readonly base: string;
  token: string | null;

  constructor(options: ApiClientOptions = {}) {
    this.base = (options.base ?? location.origin).replace(/\/+$/, '');
    this.token = options.token ?? null;
  }

  /** The current cookie session, or null when signed out (or expired). */
  async session(): Promise<Session | null> {
    try {
      return this.remember(await this.request<Session>('GET', '/api/session'));
    } catch (err) {
      if (err instanceof HttpError && err.status === 401) return null;
      throw err;
    }
  }

  /** Opens a cookie session with an admin API key or a JWT. */
  async signIn(credentials: { adminKey: string } | { token: string }): Promise<Session> {
    return this.remember(await this.request<Session>('POST', '/api/session', credentials));
  }

  async signOut(): Promise<void> {
    await this.request('DELETE', '/api/session');
    this.csrfToken = null;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }
  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }
  put<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('PUT', path, body);
  }

  /** URL of an SSE stream: with a bearer token it rides in ?access_token= (EventSource sends no headers). */
  streamUrl(path: string): string {
    const url = new URL(this.base + path);
    if (this.token) url.searchParams.set('access_token', this.token);
    return url.toString();
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    // Marks our own calls: the API then answers 401 without a Basic challenge (no browser login prompt).
    const headers: Record<string, string> = { accept: 'application/json', 'x-requested-with': 'fetch' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    else if (UNSAFE.has(method) && this.csrfToken) headers['x-csrf-token'] = this.csrfToken;
    let response: Response;
    try {
      response = await fetch(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: this.token ? 'omit' : 'same-origin',
      });
    } catch (err) {
      throw new HttpError(
        0,
        `the notification service does not answer (${err instanceof Error ? err.message : String(err)})`,
      );
    }
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    if (!response.ok) {
      const error = parsed as { message?: string; fields?: string[] } | null;
      throw new HttpError(
        response.status,
        error?.message ?? `${response.status} ${response.statusText}`,
        error?.fields ?? [],
      );
    }
    return parsed as T;
  }

  private remember(session: Session): Session {
    this.csrfToken = session.csrfToken;
    return session;
  }
}
