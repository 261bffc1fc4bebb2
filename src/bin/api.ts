import { signUserToken } from '../api/dev-credentials';
import { assertApiConfigured, startApi } from '../api/server';
import { loadConfig } from '../config';
import { startService } from '../runtime/service';
import { onShutdownSignal, runMain } from './run-main';

/**
 * The HTTP API process.
 *   node dist/src/bin/api.js                            serve on PORT (API_HOST, default 0.0.0.0)
 *   node dist/src/bin/api.js token u_42 [--admin] [--ttl=1h]
 *                                                        print an HS256 token signed with JWT_SECRET (testing)
 */
runMain(async () => {
  const [command, ...args] = process.argv.slice(2);
  const config = loadConfig();

  if (command === 'token') {
    const userId = args.find((a) => !a.startsWith('--'));
    if (!userId) throw new Error('usage: api.js token <userId> [--admin] [--ttl=12h]');
    if (!config.api.jwt?.secret)
      throw new Error(
        'JWT_SECRET is not set: tokens are signed with it (with JWT_JWKS_URL your identity provider issues them)',
      );
    const ttl = args.find((a) => a.startsWith('--ttl='))?.slice('--ttl='.length);
    const token = await signUserToken(config.api.jwt.secret, userId, {
      admin: args.includes('--admin'),
      ttl,
      issuer: config.api.jwt.issuer,
      audience: config.api.jwt.audience,
      adminClaim: config.api.jwt.adminClaim,
    });
    process.stdout.write(`${token}\n`);
    return;
  }
  if (command !== undefined) throw new Error(`unknown command "${command}" (known: token)`);

  assertApiConfigured(config);
  const service = await startService(config, { temporalWorker: false, deliveryWorkers: false }, (line) =>
    process.stdout.write(`${line}\n`),
  );
  let api;
  try {
    api = await startApi(service, { logLevel: 'info' });
  } catch (err) {
    await service.stop();
    throw err;
  }
  process.stdout.write(
    `HTTP API listening on ${config.api.host}:${config.port} (docs ${api.docsUrl}, queues ${api.queuesUrl})\n`,
  );
  onShutdownSignal(async () => {
    await api.close();
    await service.stop();
  });
});
