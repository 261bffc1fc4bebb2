/** The text of one MIME part of a raw message (quoted-printable or base64 decoded). */
export function mimePart(raw: string, type: 'text/html' | 'text/plain'): string {
  const start = raw.indexOf(`Content-Type: ${type}`);
  if (start === -1) throw new Error(`no ${type} part in:\n${raw.slice(0, 2000)}`);
  const headerEnd = raw.indexOf('\r\n\r\n', start);
  const headers = raw.slice(start, headerEnd);
  const boundary = /boundary="?([^";\r\n]+)"?/.exec(raw)![1];
  const body = raw.slice(headerEnd + 4, raw.indexOf(`\r\n--${boundary}`, headerEnd));
  if (/Content-Transfer-Encoding: base64/i.test(headers)) return Buffer.from(body, 'base64').toString('utf8');
  if (/Content-Transfer-Encoding: quoted-printable/i.test(headers)) {
    const bytes = body
      .replace(/=\r\n/g, '')
      .replace(/=([0-9A-F]{2})/gi, (_, hex: string) => `%${hex}`)
      .replace(/%(?![0-9A-F]{2})/gi, '%25');
    return decodeURIComponent(bytes);
  }
  return body;
}
