import { randomUUID } from 'node:crypto';
import {
  assignmentOf,
  assignmentPoint,
  assignVariant,
  experimentInputSchema,
  type ExperimentVariant,
} from '../../src/domain/experiments';
import { compareProportions, normalCdf, sampleSizePerVariant } from '../../src/domain/experiment-stats';

const variants = (...weights: number[]): ExperimentVariant[] =>
  weights.map((weight, i) => ({ key: `v${i}`, templateVersion: i + 1, weight }));

function shares(experimentId: string, list: ExperimentVariant[], recipients: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < recipients; i++) {
    const key = assignVariant(experimentId, `u_${i}`, list).key;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).map(([k, n]) => [k, n / recipients]));
}

describe('assignVariant', () => {
  it('gives a recipient the same variant every time, and another experiment may differ', () => {
    const list = variants(1, 1);
    const first = Array.from({ length: 200 }, (_, i) => assignVariant('exp-1', `u_${i}`, list).key);
    const again = Array.from({ length: 200 }, (_, i) => assignVariant('exp-1', `u_${i}`, list).key);
    const other = Array.from({ length: 200 }, (_, i) => assignVariant('exp-2', `u_${i}`, list).key);
    expect(again).toEqual(first);
    expect(other).not.toEqual(first);
  });

  it('splits 20,000 recipients by the weights (within 1.5 points)', () => {
    const even = shares(randomUUID(), variants(1, 1), 20_000);
    expect(even.v0).toBeCloseTo(0.5, 1);
    expect(Math.abs(even.v0 - 0.5)).toBeLessThan(0.015);
    const skewed = shares(randomUUID(), variants(70, 20, 10), 20_000);
    expect(Math.abs(skewed.v0 - 0.7)).toBeLessThan(0.015);
    expect(Math.abs(skewed.v1 - 0.2)).toBeLessThan(0.015);
    expect(Math.abs(skewed.v2 - 0.1)).toBeLessThan(0.015);
  });

  it('maps ids to points in [0, 1) that spread evenly over ten deciles', () => {
    const deciles = new Array<number>(10).fill(0);
    for (let i = 0; i < 10_000; i++) {
      const point = assignmentPoint('exp', `recipient-${i}`);
      expect(point).toBeGreaterThanOrEqual(0);
      expect(point).toBeLessThan(1);
      deciles[Math.floor(point * 10)]++;
    }
    for (const n of deciles) expect(Math.abs(n - 1000)).toBeLessThan(120);
  });

  it('pins the variant version on the experiment channel', () => {
    const assignment = assignmentOf(
      { id: 'exp-3', channel: 'email', variants: variants(0.0001, 1000) },
      'u_1',
    );
    expect(assignment).toEqual({
      experimentId: 'exp-3',
      variant: 'v1',
      templateVersion: 2,
      channel: 'email',
    });
  });
});

describe('experimentInputSchema', () => {
  const valid = {
    name: 'Subject lines',
    templateCode: 'order_created',
    channel: 'email',
    metric: 'opened',
    variants: [
      { key: 'A', templateVersion: 1 },
      { key: 'B', templateVersion: 2, weight: 3 },
    ],
  };
  const issuePaths = (input: unknown): string[] => {
    const result = experimentInputSchema.safeParse(input);
    return result.success ? [] : result.error.issues.map((i) => i.path.join('.'));
  };

  it('accepts a valid experiment and defaults weights to 1', () => {
    expect(experimentInputSchema.parse(valid).variants[0].weight).toBe(1);
  });

  it('names the bad field', () => {
    expect(issuePaths({ ...valid, variants: [valid.variants[0]] })).toEqual(['variants']);
    expect(issuePaths({ ...valid, variants: [valid.variants[0], { key: 'A', templateVersion: 2 }] })).toEqual(
      ['variants.1.key'],
    );
    expect(issuePaths({ ...valid, metric: 'bought' })).toEqual(['metric']);
    expect(issuePaths({ ...valid, channel: 'fax' })).toEqual(['channel']);
    expect(
      issuePaths({ ...valid, windowStart: '2026-12-02T00:00:00Z', windowEnd: '2026-12-01T00:00:00Z' }),
    ).toEqual(['windowEnd']);
    expect(issuePaths({ ...valid, variants: [valid.variants[0], { key: 'B', templateVersion: 0 }] })).toEqual(
      ['variants.1.templateVersion'],
    );
  });
});

describe('experiment statistics', () => {
  it('normalCdf matches tabulated values', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.959963984540054)).toBeCloseTo(0.975, 6);
    expect(normalCdf(-1)).toBeCloseTo(0.158655254, 6);
    expect(normalCdf(3)).toBeCloseTo(0.998650102, 6);
  });

  it('two-proportion z-test: 200/1000 against 250/1000', () => {
    const result = compareProportions({ trials: 1000, successes: 200 }, { trials: 1000, successes: 250 });
    expect(result.difference).toBeCloseTo(0.05, 10);
    expect(result.lift).toBeCloseTo(0.25, 10);
    expect(result.z).toBeCloseTo(2.677398, 5);
    expect(result.pValue).toBeCloseTo(0.0074196, 5);
    expect(result.ci95![0]).toBeCloseTo(0.0134636, 6);
    expect(result.ci95![1]).toBeCloseTo(0.0865364, 6);
  });

  it('no difference: p-value 1; no trials: nothing to say', () => {
    expect(
      compareProportions({ trials: 500, successes: 50 }, { trials: 500, successes: 50 }).pValue,
    ).toBeCloseTo(1, 6);
    const empty = compareProportions({ trials: 0, successes: 0 }, { trials: 10, successes: 1 });
    expect(empty).toMatchObject({ z: null, pValue: null, ci95: null, lift: null });
  });

  it('sample size at 80% power and 5% significance matches the textbook (Fleiss, no continuity correction)', () => {
    expect(sampleSizePerVariant(0.1, 0.15)).toBe(686);
    expect(sampleSizePerVariant(0.1, 0.12)).toBe(3841);
    expect(sampleSizePerVariant(0.2, 0.2)).toBeNull();
  });
});
