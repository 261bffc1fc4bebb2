import { compareProportions, rateOf } from '../domain/experiment-stats';
import type { ExperimentRow } from '../db/repositories/experiment-repository';
import type { ExperimentResultsView, VariantResultView } from './contract-types';

/** Significance level of the dashboard's "significant" mark (two-sided). */
const ALPHA = 0.05;

/**
 * Each variant's trials (sent) and successes (first occurrences of the metric) from the rollups, and
 * its z-test against the control, the first variant (docs/experiments.md).
 */
export function experimentResults(
  experiment: ExperimentRow,
  totals: Map<string, { sent: number; conversions: number }>,
  rolledUpAt: Date | null,
): ExperimentResultsView {
  const [control] = experiment.variants;
  const controlCounts = totals.get(control.key) ?? { sent: 0, conversions: 0 };
  const controlProportion = { trials: controlCounts.sent, successes: controlCounts.conversions };
  const variants = experiment.variants.map((variant, i): VariantResultView => {
    const counts = totals.get(variant.key) ?? { sent: 0, conversions: 0 };
    const proportion = { trials: counts.sent, successes: counts.conversions };
    const base = {
      key: variant.key,
      templateVersion: variant.templateVersion,
      control: i === 0,
      sent: counts.sent,
      conversions: counts.conversions,
      rate: rateOf(proportion),
    };
    if (i === 0)
      return {
        ...base,
        difference: null,
        lift: null,
        z: null,
        pValue: null,
        ci95: null,
        sampleSizeNeeded: null,
        significant: false,
      };
    const comparison = compareProportions(controlProportion, proportion);
    return { ...base, ...comparison, significant: comparison.pValue !== null && comparison.pValue < ALPHA };
  });
  const sent = variants.filter((v) => v.sent > 0);
  const leader = sent.length ? sent.reduce((best, v) => (v.rate > best.rate ? v : best)).key : null;
  return { metric: experiment.metric, rolledUpAt: rolledUpAt?.toISOString() ?? null, variants, leader };
}
