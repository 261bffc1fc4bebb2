import type { Channel } from '../src/domain/channels';
import type { DeliveryOptions } from '../src/domain/business-event';

/**
 * What every notification of one event (or campaign) shares; plain JSON, carried by the event
 * workflow from one local activity to the next.
 */
export interface EventSpec {
  eventId: string;
  eventType: string | null;
  /** The workflow that owns the notifications (event-<id>, followup-..., campaign-<id>). */
  workflowId: string;
  templateCode: string;
  category: string;
  channels: Channel[];
  fallbacks: Partial<Record<Channel, Channel>>;
  data: Record<string, unknown>;
  options: DeliveryOptions;
  deliveryDeadlineMs: number;
  /** INFRA_RETRY_HORIZON_MS when the spec was made (older specs lack it: the worker's setting applies). */
  infraHorizonMs?: number;
  /**
   * True when a workflow waits for the outcomes (event workflows): an event row counts the open
   * channels so the last outcome wakes it once. Campaigns do not wait.
   */
  tracked: boolean;
}
