import type { EntityManager } from '@mikro-orm/postgresql';
import type { Channel } from '../../domain/channels';
import type { QuietHours } from '../../domain/quiet-hours';
import { Preference, Recipient } from '../entities';

export interface PreferenceCell {
  category: string;
  channel: Channel;
  enabled: boolean;
}

export interface StoredPreferences {
  muted: boolean;
  quietHours: QuietHours | null;
  /** Explicit choices only; a cell without a row is enabled. */
  cells: PreferenceCell[];
}

export interface PreferenceChange {
  muted?: boolean;
  quietHours?: QuietHours | null;
  cells?: PreferenceCell[];
}

/** A recipient's opt-ins/outs (categories x channels), global mute and quiet hours. */
export class PreferenceRepository {
  constructor(private readonly em: EntityManager) {}

  /** Null when the recipient does not exist. */
  async load(recipientId: string): Promise<StoredPreferences | null> {
    const recipient = await this.em.findOne(
      Recipient,
      { id: recipientId },
      { fields: ['muted', 'quietHours'] },
    );
    if (!recipient) return null;
    const rows = await this.em.find(Preference, { recipientId });
    return {
      muted: recipient.muted,
      quietHours: recipient.quietHours ?? null,
      cells: rows.map((r) => ({ category: r.category, channel: r.channel, enabled: r.enabled })),
    };
  }

  /** Applies a partial change in one transaction; false when the recipient does not exist. */
  async update(recipientId: string, change: PreferenceChange): Promise<boolean> {
    return this.em.transactional(async (em) => {
      const recipient = await em.findOne(Recipient, { id: recipientId });
      if (!recipient) return false;
      if (change.muted !== undefined) recipient.muted = change.muted;
      if (change.quietHours !== undefined) recipient.quietHours = change.quietHours;
      for (const cell of change.cells ?? []) {
        await em
          .createQueryBuilder(Preference)
          .insert({
            recipientId,
            category: cell.category,
            channel: cell.channel,
            enabled: cell.enabled,
            updatedAt: new Date(),
          })
          .onConflict(['recipientId', 'category', 'channel'])
          .merge(['enabled', 'updatedAt'])
          .execute();
      }
      await em.flush();
      return true;
    });
  }
}
