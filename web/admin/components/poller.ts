import type { ReactiveController, ReactiveControllerHost } from 'lit';

/**
 * Calls `tick` now and then every `everyMs` while its page is in the document and the tab is visible:
 * leaving the page (the element disconnects) or hiding the tab stops the timer. A tick that takes
 * longer than the interval is never overlapped by the next one.
 */
export class Poller implements ReactiveController {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private active = false;
  /** Bumped on every stop: a tick still running from before schedules nothing. */
  private generation = 0;

  constructor(
    host: ReactiveControllerHost,
    private readonly everyMs: number,
    private readonly tick: () => Promise<unknown> | unknown,
  ) {
    host.addController(this);
  }

  hostConnected(): void {
    document.addEventListener('visibilitychange', this.onVisibility);
    this.start();
  }

  hostDisconnected(): void {
    document.removeEventListener('visibilitychange', this.onVisibility);
    this.stop();
  }

  /** Runs a tick at once (e.g. after the user changed a filter) and restarts the interval from there. */
  refresh(): void {
    this.stop();
    this.start();
  }

  private readonly onVisibility = (): void => {
    if (document.visibilityState === 'hidden') this.stop();
    else this.start();
  };

  private start(): void {
    if (this.active) return;
    this.active = true;
    void this.run();
  }

  private stop(): void {
    this.active = false;
    this.generation++;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async run(): Promise<void> {
    const generation = this.generation;
    try {
      await this.tick();
    } catch {
      // The page shows its own errors; the next tick tries again.
    } finally {
      if (this.active && generation === this.generation)
        this.timer = setTimeout(() => void this.run(), this.everyMs);
    }
  }
}
