import type { ActivityDeps } from './deps';
import type { Dispatcher } from './dispatcher';
import type { Reconciler } from './reconciler';

/** What the event steps use: the activity deps plus the dispatcher and the deadline reconciler. */
export interface EventStepDeps extends ActivityDeps {
  dispatcher: Dispatcher;
  reconciler: Reconciler;
}
