/** A connection URL fit for logs and error messages: its password replaced by `***` (any scheme). */
export function redactedUrl(value: string): string {
  try {
    const url = new URL(value);
    // `user:secret@host` parses as scheme `user:` with an opaque path: no host means not a connection URL.
    if (!url.host) return '<unparseable URL>';
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    // Not a URL after all: say nothing of it rather than risk printing a secret.
    return '<unparseable URL>';
  }
}
