import { redactedUrl } from '../../src/redacted-url';

describe('redactedUrl', () => {
  it.each([
    ['redis://:s3cret@cache:6379/0', 'redis://:***@cache:6379/0'],
    ['postgres://app:p%40ss@db:5432/notifications', 'postgres://app:***@db:5432/notifications'],
    ['smtps://mailer:hunter2@smtp.example:465', 'smtps://mailer:***@smtp.example:465'],
  ])('hides the password of %s', (input, expected) => {
    expect(redactedUrl(input)).toBe(expected);
  });

  it('leaves a URL without password as it is', () => {
    expect(redactedUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
  });

  it('prints nothing of a value that is not a URL', () => {
    expect(redactedUrl('user:secret@host')).not.toContain('secret');
  });
});
