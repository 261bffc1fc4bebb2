import type { EntityManager } from '@mikro-orm/postgresql';
import type { Channel } from '../../domain/channels';
import type {
  ActiveExperiment,
  ExperimentInput,
  ExperimentMetric,
  ExperimentState,
  ExperimentVariant,
} from '../../domain/experiments';

/** An experiments row (docs/experiments.md). */
export interface ExperimentRow {
  id: string;
  name: string;
  templateCode: string;
  channel: Channel | null;
  campaignId: string | null;
  variants: ExperimentVariant[];
  metric: ExperimentMetric;
  windowStart: Date | null;
  windowEnd: Date | null;
  state: ExperimentState;
  winner: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** A template version appended by a promotion. */
export interface PromotedVersion {
  channel: Channel;
  locale: string;
  version: number;
}

/** Another experiment of the template code is running (one at a time: the unique partial index). */
export class ExperimentAlreadyRunning extends Error {
  override readonly name = 'ExperimentAlreadyRunning';
}

const COLUMNS = `id, name, template_code as "templateCode", channel, campaign_id as "campaignId", variants, metric,
  window_start as "windowStart", window_end as "windowEnd", state, winner, created_at as "createdAt", updated_at as "updatedAt"`;

type StoredExperiment = Omit<ExperimentRow, 'windowStart' | 'windowEnd' | 'createdAt' | 'updatedAt'> & {
  windowStart: string | Date | null;
  windowEnd: string | Date | null;
  createdAt: string | Date;
  updatedAt: string | Date;
};

/** The driver answers timestamps as text: the row with its times as Dates. */
function rowOf(stored: StoredExperiment): ExperimentRow {
  const at = (value: string | Date) => new Date(value);
  return {
    ...stored,
    windowStart: stored.windowStart === null ? null : at(stored.windowStart),
    windowEnd: stored.windowEnd === null ? null : at(stored.windowEnd),
    createdAt: at(stored.createdAt),
    updatedAt: at(stored.updatedAt),
  };
}

/** Experiments; the notifications' experiment and variant are written by src/state/notification-store.ts. */
export class ExperimentRepository {
  constructor(private readonly em: EntityManager) {}

  private get connection() {
    return this.em.getConnection();
  }

  async create(input: ExperimentInput): Promise<ExperimentRow> {
    const [row] = await this.connection.execute<StoredExperiment[]>(
      `insert into experiments (name, template_code, channel, campaign_id, variants, metric, window_start, window_end)
       values (?, ?, ?, ?, ?::jsonb, ?, ?, ?) returning ${COLUMNS}`,
      [
        input.name,
        input.templateCode,
        input.channel ?? null,
        input.campaignId ?? null,
        JSON.stringify(input.variants),
        input.metric,
        input.windowStart ?? null,
        input.windowEnd ?? null,
      ],
    );
    return rowOf(row);
  }

  async findById(id: string): Promise<ExperimentRow | null> {
    const [row] = await this.connection.execute<StoredExperiment[]>(
      `select ${COLUMNS} from experiments where id = ?`,
      [id],
    );
    return row ? rowOf(row) : null;
  }

  /** Newest first, optionally of one state or template code. */
  async list(options: {
    limit: number;
    state?: ExperimentState;
    templateCode?: string;
  }): Promise<ExperimentRow[]> {
    const rows = await this.connection.execute<StoredExperiment[]>(
      `select ${COLUMNS} from experiments
        where (?::text is null or state = ?) and (?::text is null or template_code = ?)
        order by created_at desc, id limit ?`,
      [
        options.state ?? null,
        options.state ?? null,
        options.templateCode ?? null,
        options.templateCode ?? null,
        options.limit,
      ],
    );
    return rows.map(rowOf);
  }

  /**
   * Moves `from` -> `to` in one statement; returns the row, or null when it was in none of `from`.
   * Starting while another experiment of the code runs throws ExperimentAlreadyRunning.
   */
  async transition(id: string, from: ExperimentState[], to: ExperimentState): Promise<ExperimentRow | null> {
    try {
      const [row] = await this.connection.execute<StoredExperiment[]>(
        `update experiments set state = ?, updated_at = now(),
                window_start = case when ? = 'running' then coalesce(window_start, now()) else window_start end,
                window_end = case when ? in ('stopped', 'promoted') then least(coalesce(window_end, now()), now()) else window_end end
          where id = ? and state in (select jsonb_array_elements_text(?::jsonb)) returning ${COLUMNS}`,
        [to, to, to, id, JSON.stringify(from)],
      );
      return row ? rowOf(row) : null;
    } catch (err) {
      if ((err as { code?: string }).code === '23505' || /experiments_running_idx/.test(String(err)))
        throw new ExperimentAlreadyRunning('another experiment of this template is running', { cause: err });
      throw err;
    }
  }

  /**
   * Promotes `winner` in one transaction: every template row of the experiment's code (and channel)
   * at the winner's version is appended as the newest version of its (channel, locale), and the
   * experiment ends `promoted`. Null when the experiment is not running or stopped.
   */
  async promote(
    id: string,
    winner: ExperimentVariant,
  ): Promise<{ experiment: ExperimentRow; versions: PromotedVersion[] } | null> {
    return this.em.transactional(async (tx) => {
      const ctx = tx.getTransactionContext();
      const connection = tx.getConnection();
      const [locked] = await connection.execute<StoredExperiment[]>(
        `select ${COLUMNS} from experiments where id = ? and state in ('running', 'stopped') for update`,
        [id],
        'all',
        ctx,
      );
      if (!locked) return null;
      const versions = await connection.execute<PromotedVersion[]>(
        `insert into templates (code, channel, locale, version, category, fields)
         select t.code, t.channel, t.locale,
                (select max(m.version) + 1 from templates m where m.code = t.code and m.channel = t.channel and m.locale = t.locale),
                t.category, t.fields
           from templates t where t.code = ? and t.version = ? and (?::text is null or t.channel = ?)
         returning channel, locale, version`,
        [locked.templateCode, winner.templateVersion, locked.channel, locked.channel],
        'all',
        ctx,
      );
      const [experiment] = await connection.execute<StoredExperiment[]>(
        `update experiments set state = 'promoted', winner = ?, updated_at = now(),
                window_end = least(coalesce(window_end, now()), now())
          where id = ? returning ${COLUMNS}`,
        [winner.key, id],
        'all',
        ctx,
      );
      return { experiment: rowOf(experiment), versions };
    });
  }

  /** The running experiment of a template code whose window is open at `at`, in the shape assignment needs. */
  async activeFor(templateCode: string, eventId: string, at: Date): Promise<ActiveExperiment | null> {
    const [row] = await this.connection.execute<(ActiveExperiment & { campaignId: string | null })[]>(
      `select id, channel, variants, campaign_id as "campaignId" from experiments
        where template_code = ? and state = 'running'
          and (window_start is null or window_start <= ?) and (window_end is null or window_end > ?)`,
      [templateCode, at, at],
    );
    if (!row) return null;
    // An experiment of a campaign applies to that campaign's notifications only (event id campaign_<id>).
    if (row.campaignId && eventId !== `campaign_${row.campaignId}`) return null;
    return { id: row.id, channel: row.channel, variants: row.variants };
  }

  /** Template versions of the code (per channel), to check a new experiment's variants against. */
  async versionsOf(templateCode: string): Promise<{ channel: Channel; version: number }[]> {
    return this.connection.execute(
      `select distinct channel, version from templates where code = ? order by channel, version`,
      [templateCode],
    );
  }
}
