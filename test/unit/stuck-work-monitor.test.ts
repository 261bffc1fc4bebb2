import { rotatingWindow } from '../../src/operations/stuck-work';
import { stuckWorkScanMsFrom } from '../../src/operations/stuck-work-monitor';

describe('STUCK_WORK_SCAN_MS', () => {
  it('defaults to a minute, 0 turns scans off', () => {
    expect(stuckWorkScanMsFrom({})).toBe(60_000);
    expect(stuckWorkScanMsFrom({ STUCK_WORK_SCAN_MS: '' })).toBe(60_000);
    expect(stuckWorkScanMsFrom({ STUCK_WORK_SCAN_MS: '0' })).toBe(0);
    expect(stuckWorkScanMsFrom({ STUCK_WORK_SCAN_MS: '15000' })).toBe(15_000);
  });

  it.each(['-1', '1.5', 'soon', '999'])('refuses %p naming the variable', (value) => {
    expect(() => stuckWorkScanMsFrom({ STUCK_WORK_SCAN_MS: value })).toThrow(
      `STUCK_WORK_SCAN_MS must be 0 (off) or a whole number of milliseconds of at least 1000, got "${value}"`,
    );
  });
});

describe('rotating through running workflows, oldest first', () => {
  const run = (i: number) => ({
    workflowId: `wf-${i}`,
    runId: `r${i}`,
    workflowType: 't',
    startedAt: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(),
  });
  const runs = [run(3), run(1), run(4), run(2), run(0)];
  const ids = (w: { workflowId: string }[]) => w.map((r) => r.workflowId);

  it('starts at the oldest and continues after the cursor, wrapping round', () => {
    const first = rotatingWindow(runs, null, 2);
    expect(ids(first.window)).toEqual(['wf-0', 'wf-1']);
    const second = rotatingWindow(runs, first.nextCursor, 2);
    expect(ids(second.window)).toEqual(['wf-2', 'wf-3']);
    const third = rotatingWindow(runs, second.nextCursor, 2);
    expect(ids(third.window)).toEqual(['wf-4', 'wf-0']);
    expect(ids(rotatingWindow(runs, third.nextCursor, 2).window)).toEqual(['wf-1', 'wf-2']);
  });

  it('ends a cycle with a null cursor when the newest was read, and never reads one run twice per scan', () => {
    expect(rotatingWindow(runs, null, 5).nextCursor).toBeNull();
    expect(ids(rotatingWindow(runs, null, 50).window)).toEqual(['wf-0', 'wf-1', 'wf-2', 'wf-3', 'wf-4']);
    expect(rotatingWindow(runs.slice(0, 2), null, 1).nextCursor).not.toBeNull();
  });

  it('starts over when the cursor is past every run (they finished), and reads nothing on a zero budget', () => {
    expect(ids(rotatingWindow(runs, '9999|z', 1).window)).toEqual(['wf-0']);
    expect(rotatingWindow(runs, 'c', 0)).toEqual({ window: [], nextCursor: 'c' });
  });
});
