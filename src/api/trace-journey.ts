import { correlationKeyOf } from '../domain/event-catalog';
import { orderJourneyWorkflowId } from '../domain/order-journey';
import { describeOrNull } from './notification-status';
import { workflowView, type TraceSources, type TraceWorkflow } from './trace-history';

/**
 * The order journey of a notification's order (docs/order-journeys.md), linked in its trace beside the
 * event's workflow: `order-<orderNumber>` when the event data names an order and the journey exists.
 */
export async function linkOrderJourney(
  data: unknown,
  sources: TraceSources,
  workflows: TraceWorkflow[],
): Promise<void> {
  const orderNumber =
    data && typeof data === 'object' ? correlationKeyOf(data as Record<string, unknown>) : null;
  if (orderNumber === null) return;
  const description = await describeOrNull(sources.temporal, orderJourneyWorkflowId(orderNumber));
  if (description) workflows.push(workflowView('journey', description, sources));
}
