import { createHash } from 'node:crypto';
import { z } from 'zod';
import { CHANNELS, type Channel } from './channels';

/**
 * Experiments on templates (docs/experiments.md): variants are template versions with weights; a
 * recipient's variant is a pure function of the experiment id and the recipient id, so every event,
 * resend and retry to that recipient renders the same variant while the experiment runs.
 * Not imported by workflows (it hashes with node:crypto): assignment happens in the event's first step.
 */

export const EXPERIMENT_METRICS = ['delivered', 'opened', 'clicked', 'converted'] as const;
export type ExperimentMetric = (typeof EXPERIMENT_METRICS)[number];

export const EXPERIMENT_STATES = ['draft', 'running', 'stopped', 'promoted'] as const;
export type ExperimentState = (typeof EXPERIMENT_STATES)[number];

export interface ExperimentVariant {
  key: string;
  templateVersion: number;
  weight: number;
}

/** What assignment needs to know about a running experiment. */
export interface ActiveExperiment {
  id: string;
  channel: Channel | null;
  variants: ExperimentVariant[];
}

/** A recipient's variant and the template version it pins (on `channel`, or every channel when null). */
export interface Assignment {
  experimentId: string;
  variant: string;
  templateVersion: number;
  channel: Channel | null;
}

export const MAX_VARIANTS = 10;

const variantSchema = z
  .object({
    key: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'must be 1-32 characters of A-Z, a-z, 0-9, _ and -'),
    templateVersion: z.number().int().min(1),
    weight: z.number().positive().max(1000).default(1),
  })
  .strict();

/** The body of `POST /api/admin/experiments` (docs/experiments.md). */
export const experimentInputSchema = z
  .object({
    name: z.string().trim().min(1).max(200),
    // Template codes are case-insensitive (stored lower case).
    templateCode: z
      .string()
      .min(1)
      .max(100)
      .transform((code) => code.toLowerCase()),
    channel: z.enum(CHANNELS).nullish(),
    campaignId: z.string().uuid().nullish(),
    variants: z.array(variantSchema).min(2).max(MAX_VARIANTS),
    metric: z.enum(EXPERIMENT_METRICS),
    windowStart: z.string().datetime({ offset: true }).nullish(),
    windowEnd: z.string().datetime({ offset: true }).nullish(),
  })
  .strict()
  .superRefine((input, ctx) => {
    const keys = input.variants.map((v) => v.key);
    keys.forEach((key, i) => {
      if (keys.indexOf(key) !== i)
        ctx.addIssue({ code: 'custom', path: ['variants', i, 'key'], message: `"${key}" is used twice` });
    });
    if (input.windowStart && input.windowEnd && Date.parse(input.windowEnd) <= Date.parse(input.windowStart))
      ctx.addIssue({ code: 'custom', path: ['windowEnd'], message: 'must be after windowStart' });
  });

export type ExperimentInput = z.output<typeof experimentInputSchema>;

/** A point in [0, 1) from the experiment and recipient ids: the first 48 bits of their SHA-256. */
export function assignmentPoint(experimentId: string, recipientId: string): number {
  const digest = createHash('sha256').update(`${experimentId}\u0000${recipientId}`).digest();
  return digest.readUIntBE(0, 6) / 2 ** 48;
}

/** The variant a recipient gets: the point falls into one variant's share of the summed weights. */
export function assignVariant(
  experimentId: string,
  recipientId: string,
  variants: readonly ExperimentVariant[],
): ExperimentVariant {
  if (variants.length === 0) throw new Error('an experiment needs variants');
  const total = variants.reduce((sum, v) => sum + v.weight, 0);
  let threshold = assignmentPoint(experimentId, recipientId) * total;
  for (const variant of variants) {
    threshold -= variant.weight;
    if (threshold < 0) return variant;
  }
  return variants[variants.length - 1];
}

/** The assignment of one recipient to the experiment. */
export function assignmentOf(experiment: ActiveExperiment, recipientId: string): Assignment {
  const variant = assignVariant(experiment.id, recipientId, experiment.variants);
  return {
    experimentId: experiment.id,
    variant: variant.key,
    templateVersion: variant.templateVersion,
    channel: experiment.channel,
  };
}
