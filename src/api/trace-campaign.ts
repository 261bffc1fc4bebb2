import type { Client, WorkflowExecutionDescription } from '@temporalio/client';
import type { Campaign, Notification } from '../db/entities';
import { CAMPAIGN_EVENT_TYPE } from '../domain/workflow-ids';
import {
  closedEntry,
  decode,
  eventTime,
  fetchHistory,
  signalEntry,
  timerEntry,
  type EntryFn,
  type History,
  type HistoryEvent,
  type TraceEntry,
} from './trace-history';

/** Campaign runs walked back through continue-as-new, at most. */
const MAX_CAMPAIGN_RUNS = 50;

/**
 * The campaign's runs (walked back through continue-as-new until the run that stored this
 * notification): starts, signals, timers, the fan-out page that stored this notification (the page
 * running when the row was created) and every quiet-hours dispatch. Returns the dispatch start times.
 */
export async function readCampaignHistories(
  temporal: Client,
  latest: WorkflowExecutionDescription,
  n: Notification | null,
  timeline: TraceEntry[],
): Promise<string[]> {
  const workflowId = latest.workflowId;
  const created = n?.createdAt.toISOString() ?? null;
  const dispatches: string[] = [];
  let runId: string | undefined = latest.runId;
  for (let runs = 0; runId && runs < MAX_CAMPAIGN_RUNS; runs++) {
    const history = await fetchHistory(temporal, workflowId, runId);
    const run = runId;
    const entry: EntryFn = (at, kind, summary, detail) =>
      timeline.push({ at, source: 'temporal', kind, summary, workflowId, detail: { runId: run, ...detail } });
    const previousRun = readCampaignRun(history, created, dispatches, entry);
    // Earlier runs only matter while this one started after the notification was stored.
    const runStart: string = history.events?.[0] ? eventTime(history.events[0]) : '';
    runId = created && runStart > created ? previousRun : undefined;
  }
  return dispatches.sort();
}

interface ScheduledActivity {
  name: string;
  at: string;
  startedAt?: string;
}

/** One run's entries; returns the run it continued from, if any. */
function readCampaignRun(
  history: History,
  created: string | null,
  dispatches: string[],
  entry: EntryFn,
): string | undefined {
  const scheduled = new Map<string, ScheduledActivity>();
  let previousRun: string | undefined;
  let workflowTime = '';
  for (const event of history.events ?? []) {
    const at = eventTime(event);
    if (event.workflowTaskStartedEventAttributes) workflowTime = at;
    const started = event.workflowExecutionStartedEventAttributes;
    if (started) {
      previousRun = started.continuedExecutionRunId ?? undefined;
      entry(
        at,
        'workflow.started',
        previousRun ? 'campaign workflow continued as new' : 'campaign workflow started',
      );
    } else if (event.timerStartedEventAttributes) {
      timerEntry(event, at, workflowTime, entry);
    } else if (!campaignActivityEvent(event, at, scheduled, { created, dispatches }, entry)) {
      campaignLifeEntry(event, at, entry);
    }
  }
  return previousRun;
}

/** Activity scheduled, started, completed or failed; true when `event` was one of them. */
function campaignActivityEvent(
  event: HistoryEvent,
  at: string,
  scheduled: Map<string, ScheduledActivity>,
  facts: { created: string | null; dispatches: string[] },
  entry: EntryFn,
): boolean {
  if (event.activityTaskScheduledEventAttributes) {
    scheduled.set(String(event.eventId), {
      name: event.activityTaskScheduledEventAttributes.activityType?.name ?? 'activity',
      at,
    });
  } else if (event.activityTaskStartedEventAttributes) {
    const s = scheduled.get(String(event.activityTaskStartedEventAttributes.scheduledEventId));
    if (s) s.startedAt = at;
  } else if (event.activityTaskCompletedEventAttributes) {
    const a = event.activityTaskCompletedEventAttributes;
    const s = scheduled.get(String(a.scheduledEventId));
    if (s) {
      const result = decode(a.result?.payloads?.[0]) as Record<string, unknown> | undefined;
      campaignActivityCompleted(s, at, result, facts, entry);
    }
  } else if (event.activityTaskFailedEventAttributes) {
    const a = event.activityTaskFailedEventAttributes;
    entry(
      at,
      'activity.failed',
      `${scheduled.get(String(a.scheduledEventId))?.name ?? 'activity'} failed: ${a.failure?.message ?? ''}`,
    );
  } else {
    return false;
  }
  return true;
}

/** The completed activities a trace shows: this notification's fan-out page, dispatches, openCampaign. */
function campaignActivityCompleted(
  s: ScheduledActivity,
  at: string,
  result: Record<string, unknown> | undefined,
  facts: { created: string | null; dispatches: string[] },
  entry: EntryFn,
): void {
  const { created } = facts;
  if (s.name === 'fanOutCampaignPage') {
    // The page that stored this notification ran while its row was created.
    if (created && s.at <= created && created <= at) {
      entry(
        s.startedAt ?? s.at,
        'activity.started',
        'fanOutCampaignPage started (the page with this recipient)',
      );
      entry(
        at,
        'activity.completed',
        `fanOutCampaignPage completed: ${String(result?.targeted)} listed, ${String(result?.started)} stored`,
        { result },
      );
    }
  } else if (s.name === 'dispatchCampaignDue') {
    facts.dispatches.push(s.startedAt ?? s.at);
    entry(
      s.startedAt ?? s.at,
      'activity.started',
      'dispatchCampaignDue started (notifications whose quiet hours ended)',
    );
    entry(at, 'activity.completed', `dispatchCampaignDue completed: ${String(result?.dispatched)} sent`, {
      result,
    });
  } else if (s.name === 'openCampaign') {
    entry(at, 'activity.completed', 'openCampaign completed');
  }
}

/** Timer fired, signals, continue-as-new and the close of a campaign run. */
function campaignLifeEntry(event: HistoryEvent, at: string, entry: EntryFn): void {
  if (event.timerFiredEventAttributes) {
    entry(at, 'timer.fired', 'wait over');
  } else if (event.workflowExecutionSignaledEventAttributes) {
    signalEntry(event, at, entry);
  } else if (event.workflowExecutionContinuedAsNewEventAttributes) {
    entry(at, 'workflow.continued_as_new', 'campaign workflow continued as new');
  } else if (event.workflowExecutionCompletedEventAttributes) {
    const result = decode(event.workflowExecutionCompletedEventAttributes.result?.payloads?.[0]) as
      { state?: string } | undefined;
    entry(at, 'workflow.completed', `campaign workflow completed: ${result?.state ?? 'unknown'}`);
  } else {
    closedEntry(event, at, 'campaign workflow', entry);
  }
}

/** The campaign row as the trace's `event`. */
export function campaignView(c: Campaign, eventId: string | null): Record<string, unknown> {
  return {
    id: eventId,
    type: CAMPAIGN_EVENT_TYPE,
    campaignId: c.id,
    name: c.name,
    templateCode: c.templateCode,
    segment: c.segment,
    data: c.variables,
    channels: c.channels,
    priority: c.priority,
    scheduledAt: c.scheduledAt.toISOString(),
  };
}
