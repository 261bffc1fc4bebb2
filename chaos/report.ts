import type { ScenarioResult } from './judge';

const dupText = (r: ScenarioResult) => {
  const parts = Object.entries(r.duplicates).map(([channel, n]) => `${channel} ${n}`);
  return parts.length
    ? `${parts.join(', ')}${r.duplicatesBeyondPolicy ? ` (${r.duplicatesBeyondPolicy} beyond policy)` : ''}`
    : '0';
};

/** The markdown table of a run (docs/chaos.md shows one). */
export function resultTable(results: ScenarioResult[]): string {
  const lines = [
    '| scenario | sent | delivered | failed (partially) | expired (or a channel) | other final | lost | stuck | duplicates | settle s | verdict |',
    '| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- | ---: | --- |',
  ];
  for (const r of results) {
    const { delivered = 0, failed = 0, partially_delivered: partial = 0 } = r.states;
    const expired = r.expired;
    const other = Object.entries(r.states)
      .filter(
        ([state]) =>
          ![
            'delivered',
            'failed',
            'partially_delivered',
            'expired',
            'scheduled',
            'waiting_quiet_hours',
            'sending',
          ].includes(state),
      )
      .map(([state, n]) => `${state} ${n}`)
      .join(', ');
    lines.push(
      `| ${r.scenario.name} | ${r.sent} | ${delivered} | ${failed}${partial ? ` (${partial})` : ''} | ${expired} | ${other || '-'} | ${r.lost} | ${r.stuck.length} | ${dupText(r)} | ${Math.round(r.settleMs / 1000)} | ${r.verdict === 'pass' ? 'pass' : `**FAIL**: ${r.reasons.join('; ')}`} |`,
    );
  }
  return lines.join('\n');
}

/** Failure details below the table: rows that are not final or failed, history tails, process events. */
export function failureDetails(results: ScenarioResult[]): string {
  const blocks: string[] = [];
  for (const r of results) {
    if (r.verdict === 'pass' && r.notes.length === 0) continue;
    const lines = [`### ${r.scenario.name} (${r.verdict})`];
    for (const note of r.notes) lines.push(`- note: ${note}`);
    for (const detail of r.details) lines.push(`- ${detail}`);
    blocks.push(lines.join('\n'));
  }
  return blocks.join('\n\n');
}
