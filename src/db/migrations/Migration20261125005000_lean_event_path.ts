import { Migration } from '@mikro-orm/migrations';

/**
 * The lean event path (docs/contracts.md, "Notification lifecycle"): one event workflow owns all its
 * recipients, so a notification's channel states, its wake-up time and the event's open-channel count
 * live in Postgres instead of one workflow per recipient.
 */
export class Migration20261125005000_lean_event_path extends Migration {
  override async up(): Promise<void> {
    // lifecycle 1: a notificationWorkflow per recipient (release 0); 2: the event workflow owns the row.
    this.addSql(`alter table notifications add column lifecycle smallint not null default 1;`);
    this.addSql(`alter table notifications add column channel_states jsonb not null default '{}';`);
    this.addSql(`alter table notifications add column fallbacks jsonb not null default '{}';`);
    this.addSql(`alter table notifications add column send_at timestamptz null;`);
    this.addSql(`alter table notifications add column version int not null default 0;`);
    this.addSql(`alter table notifications alter column workflow_id type varchar(500);`);
    // Due look-ups of waiting rows per event (timers, campaign wake-ups) stay index scans.
    this.addSql(
      `create index notifications_event_id_waiting_idx on notifications (event_id, send_at) where state in ('scheduled', 'waiting_quiet_hours');`,
    );
    this.addSql(`
      create table notification_events (
        event_id varchar(255) primary key,
        workflow_id varchar(500) not null,
        open_channels int not null default 0,
        updated_at timestamptz not null default now()
      );`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists notification_events;`);
    this.addSql(`drop index if exists notifications_event_id_waiting_idx;`);
    for (const column of ['lifecycle', 'channel_states', 'fallbacks', 'send_at', 'version']) {
      this.addSql(`alter table notifications drop column if exists ${column};`);
    }
  }
}
