import { Migration } from '@mikro-orm/migrations';

/** Recipients, push subscriptions, templates, preferences, notifications, send records, delivery attempts. */
export class Migration20261125000000_initial extends Migration {
  override async up(): Promise<void> {
    this.addRecipientTables();
    this.addTemplateAndPreferenceTables();
    this.addNotificationTables();
  }

  /** Recipients and their push subscriptions. */
  private addRecipientTables(): void {
    this.addSql(`
      create table recipients (
        id varchar(200) primary key,
        email varchar(320) null,
        phone varchar(32) null,
        timezone varchar(64) not null default 'UTC',
        locale varchar(16) not null default 'en',
        roles text[] not null default '{}',
        muted boolean not null default false,
        quiet_hours jsonb null,
        webhook_url varchar(2048) null,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      );`);
    this.addSql(`create index recipients_roles_idx on recipients using gin (roles);`);
    this.addSql(`
      create table push_subscriptions (
        id uuid primary key default gen_random_uuid(),
        recipient_id varchar(200) not null references recipients (id) on delete cascade,
        endpoint varchar(2048) not null unique,
        p256dh varchar(200) not null,
        auth varchar(100) not null,
        created_at timestamptz not null default now()
      );`);
    this.addSql(`create index push_subscriptions_recipient_id_idx on push_subscriptions (recipient_id);`);
  }

  /** Templates (one row per code, channel, locale and version) and recipients' per-channel preferences. */
  private addTemplateAndPreferenceTables(): void {
    this.addSql(`
      create table templates (
        id uuid primary key default gen_random_uuid(),
        code varchar(100) not null,
        channel varchar(16) not null,
        locale varchar(16) not null,
        version int not null check (version > 0),
        category varchar(64) not null,
        fields jsonb not null,
        created_at timestamptz not null default now(),
        constraint templates_code_channel_locale_version_unique unique (code, channel, locale, version)
      );`);
    this.addSql(`
      create table preferences (
        id uuid primary key default gen_random_uuid(),
        recipient_id varchar(200) not null references recipients (id) on delete cascade,
        category varchar(64) not null,
        channel varchar(16) not null,
        enabled boolean not null,
        updated_at timestamptz not null default now(),
        constraint preferences_recipient_id_category_channel_unique unique (recipient_id, category, channel)
      );`);
  }

  /** Notifications, the send record per channel, and every delivery attempt. */
  private addNotificationTables(): void {
    this.addSql(`
      create table notifications (
        id uuid primary key default gen_random_uuid(),
        event_id varchar(255) not null,
        event_type varchar(64) null,
        recipient_id varchar(200) not null references recipients (id) on delete cascade,
        template_code varchar(100) not null,
        template_versions jsonb not null default '{}',
        category varchar(64) not null,
        priority varchar(16) not null,
        state varchar(32) not null,
        channels jsonb not null default '[]',
        workflow_id varchar(500) not null,
        title text null,
        body text null,
        action_url varchar(2048) null,
        action_text varchar(200) null,
        data jsonb not null default '{}',
        content jsonb not null default '{}',
        error text null,
        read_at timestamptz null,
        delivered_at timestamptz null,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        constraint notifications_event_id_recipient_id_unique unique (event_id, recipient_id)
      );`);
    this.addSql(
      `create index notifications_recipient_id_created_at_idx on notifications (recipient_id, created_at desc, id desc);`,
    );
    this.addSql(`
      create table send_records (
        notification_id uuid not null references notifications (id) on delete cascade,
        channel varchar(16) not null,
        status varchar(16) not null,
        provider_message_id varchar(200) null,
        claimed_by varchar(200) null,
        claimed_at timestamptz null,
        sent_at timestamptz null,
        primary key (notification_id, channel)
      );`);
    this.addSql(`
      create table delivery_attempts (
        id uuid primary key default gen_random_uuid(),
        notification_id uuid not null references notifications (id) on delete cascade,
        channel varchar(16) not null,
        attempt int not null,
        status varchar(32) not null,
        provider varchar(64) not null,
        provider_message_id varchar(200) null,
        error text null,
        started_at timestamptz not null,
        finished_at timestamptz not null,
        duration_ms int not null
      );`);
    this.addSql(
      `create index delivery_attempts_notification_id_channel_idx on delivery_attempts (notification_id, channel);`,
    );
  }

  override async down(): Promise<void> {
    for (const table of [
      'delivery_attempts',
      'send_records',
      'notifications',
      'preferences',
      'templates',
      'push_subscriptions',
      'recipients',
    ]) {
      this.addSql(`drop table if exists ${table} cascade;`);
    }
  }
}
