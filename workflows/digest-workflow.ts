import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineSignal,
  proxyActivities,
  setHandler,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  DIGEST_ITEM_SIGNAL,
  DIGEST_LINGER_MS,
  MAX_DIGEST_ITEMS,
  type DigestItemSignal,
  type DigestWorkflowInput,
} from '../src/domain/digest';

/** Sent by the event path's routing step (an activity), with signalWithStart. */
export const digestItemSignal = defineSignal<[DigestItemSignal]>(DIGEST_ITEM_SIGNAL);

/** Creating the digest notification touches only our own stores and Temporal: retried until it succeeds. */
const { sendDigest } = proxyActivities<Activities>({
  startToCloseTimeout: '60 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '5 minutes', backoffCoefficient: 2 },
});

export interface DigestResult {
  /** The digest notifications' event ids this run created. */
  sent: string[];
  items: number;
}

/**
 * One recipient's digest for one key (docs/digests-and-caps.md): items arrive as signals, deduplicated
 * by event id; the first item opens a window (a timer until its close time, or until the window holds
 * MAX_DIGEST_ITEMS), then one activity sends them as one notification, idempotent by the key and the
 * window's start. Items arriving meanwhile open the next window in a new run (continue-as-new), so
 * each run's history stays one window long. While open the workflow always holds a timer or an
 * activity; it finishes only after DIGEST_LINGER_MS without a new item, every handler done.
 */
export async function digestWorkflow(input: DigestWorkflowInput): Promise<DigestResult> {
  const recent = new Set(input.recentIds ?? []);
  const pending = new Map<string, DigestItemSignal>();
  const take = (signal: DigestItemSignal) => {
    const id = signal?.item?.eventId;
    if (typeof id === 'string' && !recent.has(id) && !pending.has(id)) pending.set(id, signal);
  };
  (input.pending ?? []).forEach(take);
  setHandler(digestItemSignal, take);

  // Started by signalWithStart, the first item is here before this code runs; otherwise wait a linger.
  if (pending.size === 0) await condition(() => pending.size > 0, DIGEST_LINGER_MS);
  if (pending.size === 0) return { sent: [], items: 0 };
  const windowStartMs = Date.now();
  const closeAtMs = Math.max([...pending.values()][0].closeAtMs, windowStartMs + 1);
  await condition(() => pending.size >= MAX_DIGEST_ITEMS, closeAtMs - windowStartMs);
  const batch = [...pending.values()].slice(0, MAX_DIGEST_ITEMS).map((s) => s.item);
  for (const item of batch) {
    pending.delete(item.eventId);
    recent.add(item.eventId);
  }
  const { eventId } = await sendDigest({ ...target(input), windowStartMs, items: batch });
  // Late duplicates of what was just sent are dropped; a new item opens the next window, in a new run.
  if (pending.size === 0) await condition(() => pending.size > 0, DIGEST_LINGER_MS);
  await condition(allHandlersFinished);
  if (pending.size > 0) {
    await continueAsNew<typeof digestWorkflow>({
      ...target(input),
      pending: [...pending.values()],
      recentIds: [...recent].slice(-MAX_DIGEST_ITEMS * 2),
    });
  }
  return { sent: [eventId], items: batch.length };
}

function target(input: DigestWorkflowInput) {
  return {
    recipientId: input.recipientId,
    ...(input.recipientRef ? { recipientRef: input.recipientRef } : {}),
    key: input.key,
    templateCode: input.templateCode,
  };
}
