import type { Job } from 'bullmq';

/**
 * Jobs a channel worker put back because Postgres failed (docs/contracts.md, "BullMQ", infrastructure
 * errors) would otherwise sleep out their backoff after Postgres is back: up to
 * INFRA_RETRY_MAX_BACKOFF_MS, i.e. about a minute after a long outage. While any of them waits, this
 * asks Postgres once a second (`probe`) and, once it answers, promotes them to run now. Jobs delayed
 * for anything else (a provider's backoff, a claim held elsewhere, Redis or Temporal failing) are
 * never promoted.
 */
export class PostgresRecovery {
  private readonly waiting = new Map<string, { job: Job; untilMs: number }>();
  private timer: NodeJS.Timeout | null = null;
  private probing = false;
  private stopped = false;

  constructor(
    /** Resolves when Postgres answers (e.g. `select 1`), rejects otherwise. */
    private readonly probe: () => Promise<unknown>,
    private readonly log: (line: string) => void,
    private readonly intervalMs = 1000,
  ) {}

  /** The job was moved to delayed until untilMs because Postgres failed. */
  add(job: Job, untilMs: number): void {
    if (this.stopped || !job.id) return;
    this.waiting.set(job.id, { job, untilMs });
    this.schedule();
  }

  /** Jobs still waiting to be promoted (tests, metrics). */
  get size(): number {
    return this.waiting.size;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.waiting.clear();
  }

  private schedule(): void {
    if (this.timer || this.probing || this.stopped) return;
    this.timer = setTimeout(() => void this.check(), this.intervalMs);
    this.timer.unref();
  }

  private async check(): Promise<void> {
    this.timer = null;
    this.probing = true;
    try {
      // A job whose delay ran out runs by itself: nothing to promote.
      const now = Date.now();
      for (const [id, entry] of this.waiting) if (entry.untilMs <= now) this.waiting.delete(id);
      if (this.waiting.size === 0) return;
      const up = await this.probe().then(
        () => true,
        () => false,
      );
      if (!up || this.stopped) return;
      const due = [...this.waiting.values()];
      this.waiting.clear();
      // A job no longer delayed (run, removed) refuses the promotion: nothing to do for it.
      const promoted = (
        await Promise.all(
          due.map(({ job }) =>
            job.promote().then(
              () => 1,
              () => 0,
            ),
          ),
        )
      ).reduce<number>((a, b) => a + b, 0);
      if (promoted > 0)
        this.log(
          `Postgres answers again: ${promoted} job(s) put back for it run now instead of waiting out their backoff`,
        );
    } finally {
      this.probing = false;
      if (this.waiting.size > 0) this.schedule();
    }
  }
}

/**
 * Log lines about jobs put back for infrastructure errors, at most one per window: during an outage
 * every job of the queue fails the same way, and one line per job and retry would flood the log.
 * The first line of a window is written at once, the rest are counted and summed up when it ends.
 */
export class InfrastructureRetryLog {
  private suppressed = 0;
  private latest = '';
  private windowEnds = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly log: (line: string) => void,
    private readonly windowMs = 5_000,
  ) {}

  write(line: string): void {
    const now = Date.now();
    if (now >= this.windowEnds) {
      this.windowEnds = now + this.windowMs;
      this.log(line);
      return;
    }
    this.suppressed++;
    this.latest = line;
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.windowEnds - now);
      this.timer.unref();
    }
  }

  /** Writes the summary of the lines held back (also at close). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.suppressed === 0) return;
    this.log(
      `${this.suppressed} more like it in the last ${Math.round(this.windowMs / 1000)} s; the latest: ${this.latest}`,
    );
    this.suppressed = 0;
    this.latest = '';
  }
}
