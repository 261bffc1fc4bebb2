import { DefaultLogger, Runtime } from '@temporalio/worker';

// Worker lifecycle and activity INFO lines drown test output; warnings and errors still show.
try {
  Runtime.install({ logger: new DefaultLogger('WARN') });
} catch {
  // Already installed in this process (jest reuses it across files with --runInBand).
}
