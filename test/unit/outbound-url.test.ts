import {
  blockedAddressReason,
  DEFAULT_PUSH_HOSTS,
  hostAllowed,
  isCidr,
  outboundUrlProblem,
  STRICT_OUTBOUND_POLICY as strict,
} from '../../src/domain/outbound-url';

describe('blockedAddressReason', () => {
  it.each([
    ['127.0.0.1', 'loopback address'],
    ['127.8.9.10', 'loopback address'],
    ['::1', 'loopback address'],
    ['::ffff:127.0.0.1', 'loopback address'],
    ['::ffff:7f00:1', 'loopback address'],
    ['10.1.2.3', 'private address'],
    ['172.16.0.1', 'private address'],
    ['192.168.1.1', 'private address'],
    ['100.100.100.200', 'private address'],
    ['fd00:ec2::254', 'private address'],
    ['64:ff9b::a00:1', 'private address'],
    ['169.254.169.254', 'link-local or metadata address'],
    ['fe80::1%eth0', 'link-local or metadata address'],
    ['224.0.0.1', 'multicast address'],
    ['ff02::1', 'multicast address'],
    ['0.0.0.0', 'unspecified address'],
    ['::', 'unspecified address'],
    ['255.255.255.255', 'reserved address'],
    ['2002:7f00:1::', 'reserved address'],
  ])('refuses %s (%s)', (ip, reason) => {
    expect(blockedAddressReason(ip)).toBe(reason);
  });

  it.each(['8.8.8.8', '172.32.0.1', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])(
    'allows the public address %s',
    (ip) => {
      expect(blockedAddressReason(ip)).toBeNull();
    },
  );

  it('lets explicitly allowed ranges through (development and tests), and only those', () => {
    expect(blockedAddressReason('127.0.0.1', ['127.0.0.0/8'])).toBeNull();
    expect(blockedAddressReason('::ffff:127.0.0.1', ['127.0.0.0/8'])).toBeNull();
    expect(blockedAddressReason('169.254.169.254', ['127.0.0.0/8'])).toBe('link-local or metadata address');
    expect(blockedAddressReason('10.0.0.5', ['10.0.0.5'])).toBeNull();
  });

  it('validates CIDR notation', () => {
    expect(['127.0.0.0/8', '::1/128', '10.0.0.1'].every(isCidr)).toBe(true);
    expect(['127.0.0.0/33', 'localhost', '10.0.0.0/8/1', '::1/129'].some(isCidr)).toBe(false);
  });
});

describe('outboundUrlProblem', () => {
  it.each([
    ['http://127.0.0.1:6379/', 'must be an https URL'],
    ['https://127.0.0.1:6379/', 'points to a loopback address'],
    ['https://169.254.169.254/latest/meta-data/', 'points to a link-local or metadata address'],
    ['https://2130706433/', 'points to a loopback address'],
    ['https://0x7f.1/', 'points to a loopback address'],
    ['https://[::ffff:127.0.0.1]/', 'points to a loopback address'],
    ['https://[fd00:ec2::254]/', 'points to a private address'],
    ['https://localhost/hook', 'points to a loopback address'],
    ['https://api.localhost./hook', 'points to a loopback address'],
    ['https://user:pw@hooks.example.com/', 'must not carry credentials'],
    ['ftp://hooks.example.com/', 'must be an https URL'],
    ['not a url', 'is not a URL'],
  ])('refuses %s', (url, problem) => {
    expect(outboundUrlProblem(url, strict)).toBe(problem);
  });

  it('accepts public https URLs', () => {
    expect(outboundUrlProblem('https://hooks.example.com/notify?x=1', strict)).toBeNull();
    expect(outboundUrlProblem('https://8.8.8.8/', strict)).toBeNull();
  });

  it('accepts http and loopback only when explicitly allowed', () => {
    const dev = { allowHttp: true, allowedCidrs: ['127.0.0.0/8'], allowedHosts: null };
    expect(outboundUrlProblem('http://127.0.0.1:4000/hook', dev)).toBeNull();
    expect(outboundUrlProblem('http://169.254.169.254/', dev)).toBe(
      'points to a link-local or metadata address',
    );
    expect(outboundUrlProblem('http://127.0.0.1:4000/hook', { ...dev, allowHttp: false })).toBe(
      'must be an https URL',
    );
  });

  it('limits push endpoints to the configured push services', () => {
    const push = { ...strict, allowedHosts: DEFAULT_PUSH_HOSTS };
    expect(outboundUrlProblem('https://fcm.googleapis.com/fcm/send/abc', push)).toBeNull();
    expect(outboundUrlProblem('https://web.push.apple.com/QG', push)).toBeNull();
    expect(outboundUrlProblem('https://evil.example/wpush', push)).toBe(
      'host evil.example is not an allowed host',
    );
    expect(outboundUrlProblem('https://push.apple.com.evil.example/', push)).toBe(
      'host push.apple.com.evil.example is not an allowed host',
    );
    expect(hostAllowed('PUSH.APPLE.COM', ['*.push.apple.com'])).toBe(false);
    expect(hostAllowed('anything', ['*'])).toBe(true);
  });
});
