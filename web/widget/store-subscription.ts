import type { ReactiveController, ReactiveControllerHost } from 'lit';
import type { NotificationStore } from './notification-store';

/**
 * Re-renders an element whenever its `store` changes state. The element's `store` property may be
 * swapped (a new token): the subscription follows it before each update.
 */
export class StoreSubscription implements ReactiveController {
  private current: NotificationStore | null = null;
  private readonly onChange = () => this.host.requestUpdate();

  constructor(private readonly host: ReactiveControllerHost & { store: NotificationStore | null }) {
    host.addController(this);
  }

  hostConnected(): void {
    this.follow(this.host.store);
  }

  hostUpdate(): void {
    if (this.host.store !== this.current) this.follow(this.host.store);
  }

  hostDisconnected(): void {
    this.follow(null);
  }

  private follow(store: NotificationStore | null): void {
    this.current?.removeEventListener('change', this.onChange);
    this.current = store;
    store?.addEventListener('change', this.onChange);
  }
}
