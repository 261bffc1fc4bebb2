/**
 * Significance of an experiment (docs/experiments.md): a two-proportion z-test between a variant and
 * the control (the first variant), the 95% confidence interval of the difference, and the sample
 * size per variant that would detect the observed difference at 5% significance and 80% power.
 */

/** Trials (notifications sent) and successes (first occurrences of the metric) of one variant. */
export interface Proportion {
  trials: number;
  successes: number;
}

export interface Comparison {
  /** Treatment rate minus control rate. */
  difference: number;
  /** Relative change of the rate against the control; null when the control's rate is 0. */
  lift: number | null;
  z: number | null;
  /** Two-sided; null when either side has no trials or both rates are 0 or 1 (no variance). */
  pValue: number | null;
  /** 95% interval of the difference (unpooled standard error); null without trials. */
  ci95: [number, number] | null;
  /** Per variant, to detect this difference at alpha 0.05 (two-sided) with 80% power; null when there is none. */
  sampleSizeNeeded: number | null;
}

/** z of the two-sided 95% level and of 80% power. */
const Z_975 = 1.959963984540054;
const Z_80 = 0.8416212335729143;

/** Standard normal distribution function (Abramowitz and Stegun 26.2.17, absolute error below 7.5e-8). */
export function normalCdf(x: number): number {
  const t = 1 / (1 + 0.2316419 * Math.abs(x));
  const poly =
    t * (0.31938153 + t * (-0.356563782 + t * (1.781477937 + t * (-1.821255978 + t * 1.330274429))));
  const upper = (Math.exp((-x * x) / 2) / Math.sqrt(2 * Math.PI)) * poly;
  return x >= 0 ? 1 - upper : upper;
}

export function rateOf(p: Proportion): number {
  return p.trials > 0 ? p.successes / p.trials : 0;
}

/** Compares a treatment with the control. */
export function compareProportions(control: Proportion, treatment: Proportion): Comparison {
  const p1 = rateOf(control);
  const p2 = rateOf(treatment);
  const difference = p2 - p1;
  const lift = p1 > 0 ? difference / p1 : null;
  if (control.trials === 0 || treatment.trials === 0)
    return { difference, lift, z: null, pValue: null, ci95: null, sampleSizeNeeded: null };
  const pooled = (control.successes + treatment.successes) / (control.trials + treatment.trials);
  const pooledSe = Math.sqrt(pooled * (1 - pooled) * (1 / control.trials + 1 / treatment.trials));
  const z = pooledSe > 0 ? difference / pooledSe : null;
  const pValue = z === null ? null : Math.min(1, 2 * (1 - normalCdf(Math.abs(z))));
  const se = Math.sqrt((p1 * (1 - p1)) / control.trials + (p2 * (1 - p2)) / treatment.trials);
  const ci95: [number, number] = [difference - Z_975 * se, difference + Z_975 * se];
  return { difference, lift, z, pValue, ci95, sampleSizeNeeded: sampleSizePerVariant(p1, p2) };
}

/**
 * Per-group sample size of a two-sided two-proportion test (normal approximation, no continuity
 * correction): ((z_a/2 sqrt(2 pbar qbar) + z_b sqrt(p1 q1 + p2 q2)) / (p1 - p2))^2, rounded up.
 */
export function sampleSizePerVariant(p1: number, p2: number): number | null {
  if (p1 === p2) return null;
  const pBar = (p1 + p2) / 2;
  const numerator =
    Z_975 * Math.sqrt(2 * pBar * (1 - pBar)) + Z_80 * Math.sqrt(p1 * (1 - p1) + p2 * (1 - p2));
  return Math.ceil((numerator / (p1 - p2)) ** 2);
}
