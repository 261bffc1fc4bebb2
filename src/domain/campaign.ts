import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { businessEventSchema } from './business-event';
import { CHANNELS, type Channel } from './channels';
import type { Category } from './event-catalog';
import { checkData, templateDataSpec } from './event-data';
import { findUnsafeJson, MAX_JSON_DEPTH } from './json-safety';
import type { Priority } from './priorities';

/**
 * A campaign: one marketing notification, scheduled for a segment of recipients. Its notifications
 * belong to category `marketing` (not mandatory: preferences and the global mute apply) and are never
 * urgent (quiet hours apply).
 */
export const CAMPAIGN_CATEGORY: Category = 'marketing';
export const CAMPAIGN_PRIORITIES = ['low', 'normal', 'high'] as const satisfies readonly Priority[];
export const CAMPAIGN_STATES = ['scheduled', 'running', 'completed', 'cancelled'] as const;
export type CampaignState = (typeof CAMPAIGN_STATES)[number];

/** Explicit recipients a campaign may name; larger audiences are segments by role. */
export const MAX_SEGMENT_USER_IDS = 1000;
const MAX_VARIABLES_BYTES = 64 * 1024;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const userIdSchema = businessEventSchema.shape.userId.unwrap();
const templateCodeSchema = businessEventSchema.shape.templateCode.unwrap();
/** The same rule as recipients' roles (PUT /api/recipients/:id). */
export const roleSchema = z.string().regex(/^[a-z0-9_-]{1,64}$/, 'must be 1-64 chars of [a-z0-9_-]');
export const campaignIdSchema = z
  .string()
  .regex(UUID_PATTERN, 'must be a UUID')
  .transform((id) => id.toLowerCase());

/** Recipients with any of `roles`, plus those named in `userIds`; only recipients that exist are reached. */
export const campaignSegmentSchema = z
  .object({
    roles: z.array(roleSchema).min(1).max(20).optional().describe('recipients having any of these roles'),
    userIds: z
      .array(userIdSchema)
      .min(1)
      .max(MAX_SEGMENT_USER_IDS)
      .optional()
      .describe(`explicit recipients (at most ${MAX_SEGMENT_USER_IDS})`),
  })
  .strict()
  .refine(
    (segment) => segment.roles !== undefined || segment.userIds !== undefined,
    'must name roles or userIds',
  );

export const campaignSchema = z
  .object({
    id: campaignIdSchema.optional().describe('idempotency key (UUID); default: a new one per call'),
    name: z.string().trim().min(1).max(200),
    templateCode: templateCodeSchema.describe('a template of category marketing'),
    segment: campaignSegmentSchema,
    variables: z
      .record(z.string(), z.unknown())
      .default({})
      .describe('template variables, the same for every recipient'),
    channels: z
      .array(z.enum(CHANNELS))
      .min(1)
      .refine((list) => new Set(list).size === list.length, 'must not repeat a channel')
      .nullable()
      .default(null)
      .describe("channels to try; default: the template's channels"),
    priority: z
      .enum(CAMPAIGN_PRIORITIES, { error: 'must be low, normal or high (campaigns are never urgent)' })
      .default('low'),
    scheduledAt: z.iso.datetime({ offset: true }).optional().describe('when to start sending; default: now'),
  })
  .strict()
  .superRefine((campaign, ctx) => {
    // Strings Postgres refuses and deep nesting stop here, before the row is stored or a workflow started.
    const unsafe = findUnsafeJson({ name: campaign.name, variables: campaign.variables }, MAX_JSON_DEPTH + 1);
    if (unsafe) {
      ctx.addIssue({ code: 'custom', path: [unsafe.path], message: unsafe.message });
      return;
    }
    if (JSON.stringify(campaign.variables).length > MAX_VARIABLES_BYTES) {
      ctx.addIssue({
        code: 'custom',
        path: ['variables'],
        message: `must serialize to at most ${MAX_VARIABLES_BYTES} bytes`,
      });
    }
    const schema = templateDataSpec(campaign.templateCode);
    if (schema && schema.category !== CAMPAIGN_CATEGORY) {
      // Known without a database: the same answer the API gives for any non-marketing template.
      const message = `template "${campaign.templateCode}" is in category ${schema.category}, campaigns send ${CAMPAIGN_CATEGORY} templates`;
      ctx.addIssue({ code: 'custom', path: ['templateCode'], message });
      return;
    }
    for (const problem of schema ? checkData(schema.spec, campaign.variables, schema.label) : []) {
      ctx.addIssue({ code: 'custom', path: ['variables', problem.field], message: problem.message });
    }
  });

export type CampaignInput = z.input<typeof campaignSchema>;
export type CampaignSegment = z.output<typeof campaignSegmentSchema>;

/** A validated campaign with every default applied: plain JSON, the argument of campaignWorkflow. */
export interface CampaignDefinition {
  id: string;
  name: string;
  templateCode: string;
  segment: CampaignSegment;
  variables: Record<string, unknown>;
  channels: Channel[] | null;
  priority: (typeof CAMPAIGN_PRIORITIES)[number];
  /** ISO 8601, UTC. */
  scheduledAt: string;
}

export class InvalidCampaignError extends Error {
  override readonly name = 'InvalidCampaignError';
  constructor(
    message: string,
    /** Dotted paths of the offending fields, e.g. ["segment.roles.0"]. */
    readonly fields: string[],
  ) {
    super(message);
  }
}

/**
 * Validates a campaign and applies defaults (a new id, now as scheduledAt); throws InvalidCampaignError
 * naming every offending field.
 */
export function parseCampaign(input: unknown, now: () => Date = () => new Date()): CampaignDefinition {
  const result = campaignSchema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.flatMap((issue) => {
      const path = issue.path.map(String).join('.');
      // An unknown key is named itself, not its parent object.
      if (issue.code === 'unrecognized_keys')
        return issue.keys.map((key) => ({
          field: path ? `${path}.${key}` : key,
          message: 'is not a known field',
        }));
      return [{ field: path || '(campaign)', message: issue.message }];
    });
    const text = problems.map((p) => `${p.field}: ${p.message}`).join('; ');
    throw new InvalidCampaignError(`invalid campaign: ${text}`, [...new Set(problems.map((p) => p.field))]);
  }
  return campaignDefinition(result.data, now);
}

/** A campaign that passed campaignSchema, with the defaults that need a call applied (a new id, now). */
export function campaignDefinition(
  parsed: z.output<typeof campaignSchema>,
  now: () => Date = () => new Date(),
): CampaignDefinition {
  const { id, scheduledAt, ...rest } = parsed;
  return {
    ...rest,
    id: id ?? randomUUID(),
    scheduledAt: (scheduledAt ? new Date(scheduledAt) : now()).toISOString(),
  };
}

/** Answer of campaignWorkflow's `campaignProgress` query, and its result. */
export interface CampaignProgress {
  campaignId: string;
  state: CampaignState;
  /** When sending starts (or started), ISO 8601. */
  scheduledAt: string;
  /** Recipients of the segment listed so far (the whole segment once completed). */
  targeted: number;
  /** Notifications stored for the segment so far (sent, waiting for quiet hours, or suppressed). */
  started: number;
  /** Keyset cursor: the last recipient id reached; null before the first page. */
  afterUserId: string | null;
  /** Workflow runs so far: 1 plus the number of continue-as-new. */
  runs: number;
  cancelReason?: string;
  /** Distinct times at which notifications parked for quiet hours are due (epoch ms); one timer each. */
  wakeTimes?: number[];
}

/**
 * What the first activity resolves from the stored campaign: everything the workflow needs to start
 * children, without the segment (the listing activity reads it from Postgres).
 */
export interface CampaignPlan {
  campaignId: string;
  state: CampaignState;
  scheduledAt: string;
  templateCode: string;
  category: string;
  channels: Channel[];
  fallbacks: Partial<Record<Channel, Channel>>;
  variables: Record<string, unknown>;
  priority: CampaignDefinition['priority'];
  deliveryDeadlineMs: number;
  targeted: number;
  started: number;
  /** CAMPAIGN_STAGE_LEAD_MS when the campaign was opened; absent in plans of earlier releases (no staging). */
  stageLeadMs?: number;
}

/** Argument of campaignWorkflow: plain JSON, so any Temporal client can start one. */
export interface CampaignWorkflowInput {
  campaignId: string;
  /** The definition; the first activity stores it (idempotent by id). Without it, the stored row is used. */
  campaign?: CampaignDefinition;
  /** Recipients per bulk page (default 500, at most 5000; NotificationClient asks for 2500). */
  pageSize?: number;
  /** Pages per workflow run before continue-as-new (default 200), keeping each run's history small. */
  pagesPerRun?: number;
  /**
   * Set by continue-as-new: where the previous run stopped. Release-0 runs carry neither wakeTimes nor
   * fannedOut; a run that continues from one goes on paging from its cursor.
   */
  resume?: {
    plan: CampaignPlan;
    afterUserId: string | null;
    targeted: number;
    started: number;
    runs: number;
    wakeTimes?: number[];
    fannedOut?: boolean;
    /** A staged campaign not yet released: its start (epoch ms). */
    releaseAtMs?: number;
  };
}
