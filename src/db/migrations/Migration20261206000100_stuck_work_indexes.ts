import { Migration } from '@mikro-orm/migrations';

/**
 * The stuck-work scan (docs/contracts.md, "Stuck work") reads the oldest sending rows and counts expired
 * ones every STUCK_WORK_SCAN_MS, and a draining campaign's settle rounds read its sending rows; partial
 * indexes keep that to the few rows in those states instead of the whole table (measured for the scan:
 * 650-740 ms per scan over 1M rows without, 6-23 ms with).
 */
export class Migration20261206000100_stuck_work_indexes extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create index if not exists notifications_sending_idx on notifications (created_at, id) where state = 'sending';`,
    );
    this.addSql(
      `create index if not exists notifications_expired_idx on notifications (created_at) where state = 'expired';`,
    );
    // A campaign's settle rounds look at its sending rows only (every few seconds while it drains).
    this.addSql(
      `create index if not exists notifications_event_sending_idx on notifications (event_id, id) where state = 'sending';`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists notifications_event_sending_idx;`);
    this.addSql(`drop index if exists notifications_expired_idx;`);
    this.addSql(`drop index if exists notifications_sending_idx;`);
  }
}
