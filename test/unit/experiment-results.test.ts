import { experimentResults } from '../../src/api/experiment-results';
import type { ExperimentRow } from '../../src/db/repositories/experiment-repository';

const experiment: ExperimentRow = {
  id: 'exp-1',
  name: 'Subjects',
  templateCode: 'order_created',
  channel: 'email',
  campaignId: null,
  variants: [
    { key: 'A', templateVersion: 1, weight: 1 },
    { key: 'B', templateVersion: 2, weight: 1 },
    { key: 'C', templateVersion: 3, weight: 1 },
  ],
  metric: 'clicked',
  windowStart: null,
  windowEnd: null,
  state: 'running',
  winner: null,
  createdAt: new Date(),
  updatedAt: new Date(),
};

describe('experimentResults', () => {
  it('compares every variant with the first, marks significance below 0.05 and names the leader', () => {
    const totals = new Map([
      ['A', { sent: 1000, conversions: 200 }],
      ['B', { sent: 1000, conversions: 250 }],
      ['C', { sent: 1000, conversions: 210 }],
    ]);
    const results = experimentResults(experiment, totals, new Date('2026-12-07T10:00:00Z'));
    const [a, b, c] = results.variants;
    expect(a).toMatchObject({ key: 'A', control: true, rate: 0.2, pValue: null, significant: false });
    expect(b).toMatchObject({ key: 'B', control: false, rate: 0.25, significant: true });
    expect(b.pValue).toBeCloseTo(0.0074196, 5);
    expect(c.significant).toBe(false);
    expect(c.sampleSizeNeeded).toBeGreaterThan(1000);
    expect(results).toMatchObject({ metric: 'clicked', leader: 'B', rolledUpAt: '2026-12-07T10:00:00.000Z' });
  });

  it('answers zeros and no leader before anything was sent', () => {
    const results = experimentResults(experiment, new Map(), null);
    expect(results.leader).toBeNull();
    expect(results.variants.map((v) => [v.sent, v.conversions, v.pValue])).toEqual([
      [0, 0, null],
      [0, 0, null],
      [0, 0, null],
    ]);
  });
});
