import { execFile } from 'node:child_process';
import { access, constants, mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

/** Newest Temporal CLI release whose go.mod has no replace directive, so `go install` can build it. */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
const MODULE = 'github.com/temporalio/cli/cmd/temporal';

export interface TemporalCliEnv {
  TEMPORAL_CLI_PATH?: string;
  PATH?: string;
  XDG_CACHE_HOME?: string;
  HOME?: string;
}

/** Per-user cache shared by every clone on the machine, so only the first run pays the build. */
export function temporalCliCacheDir(env: TemporalCliEnv): string {
  const cacheHome = env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache');
  return join(cacheHome, 'notification-service', 'temporal-cli', TEMPORAL_CLI_VERSION);
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds a Temporal CLI: TEMPORAL_CLI_PATH, then `temporal` on PATH, then the cache;
 * builds it from the Go module proxy into the cache when none exists.
 */
export async function resolveTemporalCli(
  env: TemporalCliEnv,
  log: (line: string) => void = () => {},
): Promise<string> {
  if (env.TEMPORAL_CLI_PATH) {
    if (await isExecutable(env.TEMPORAL_CLI_PATH)) return env.TEMPORAL_CLI_PATH;
    throw new Error(`TEMPORAL_CLI_PATH: ${env.TEMPORAL_CLI_PATH} is not an executable file`);
  }
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const candidate = join(dir, 'temporal');
    if (await isExecutable(candidate)) return candidate;
  }
  const cacheDir = temporalCliCacheDir(env);
  const cached = join(cacheDir, 'temporal');
  if (await isExecutable(cached)) return cached;

  log(
    `Building Temporal CLI ${TEMPORAL_CLI_VERSION} with go install into ${cacheDir} (first run only, ~3 minutes)...`,
  );
  await mkdir(cacheDir, { recursive: true });
  try {
    await promisify(execFile)('go', ['install', `${MODULE}@${TEMPORAL_CLI_VERSION}`], {
      env: { ...process.env, GOBIN: cacheDir, GOFLAGS: '-buildvcs=false' },
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(
      `could not build the Temporal CLI (go install ${MODULE}@${TEMPORAL_CLI_VERSION}): ${e.stderr?.trim() || e.message}`,
      { cause: err },
    );
  }
  if (!(await isExecutable(cached))) throw new Error(`go install finished but ${cached} is missing`);
  return cached;
}
