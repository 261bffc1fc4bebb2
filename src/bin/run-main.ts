/** Runs an entry point; any start-up failure is one clear line on stderr and exit code 1. */
export function runMain(main: () => Promise<unknown>): void {
  main().catch((err: unknown) => {
    process.stderr.write(`error: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}\n`);
    process.exit(1);
  });
}

/** Calls `stop` once on SIGINT/SIGTERM; a second signal exits at once. */
export function onShutdownSignal(stop: () => Promise<void>): void {
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) process.exit(1);
      stopping = true;
      process.stderr.write(`${signal}: shutting down gracefully...\n`);
      stop().then(
        () => process.exit(0),
        (err: unknown) => {
          process.stderr.write(`error during shutdown: ${String(err)}\n`);
          process.exit(1);
        },
      );
    });
  }
}
