import type { ConnectionOptions } from 'bullmq';
import type { Channel } from '../domain/channels';
import type { DeliveryAttemptStatus } from '../db/entities';
import type { Orm } from '../db/orm';
import type { ChannelWorkerConfig } from '../config';
import type { OutcomeRecorder } from '../state/outcome-recorder';
import type { SendRecordStore } from '../state/send-records';
import type { OutcomeReporter } from './outcome-reporter';
import type { ChannelProvider } from './providers/provider';

/** Told about every recorded attempt and final failure (metrics). */
export interface DeliveryObserver {
  attemptRecorded(channel: Channel, status: DeliveryAttemptStatus, durationMs: number): void;
  /** The job will not be tried again: a permanent error, or its attempts are used up. */
  jobFailed(channel: Channel, reason: 'permanent' | 'exhausted'): void;
  /** Our own Postgres or Redis failed the job: it was put back for delayMs without spending an attempt. */
  infrastructureRetry?(channel: Channel, delayMs: number): void;
}

export interface ChannelWorkerOptions {
  channel: Channel;
  connection: ConnectionOptions;
  prefix: string;
  config: ChannelWorkerConfig;
  orm: Orm;
  provider: ChannelProvider;
  sendRecords: Pick<SendRecordStore, 'claim' | 'markSent' | 'markUnknown' | 'isSent' | 'release'>;
  /** SEND_RECORD_STALE_MS: recording a send is retried in-process while the claim is younger than this. @defaultValue 60000 */
  staleAfterMs?: number;
  /** Lean event path: outcomes go to Postgres (and wake the event workflow once). */
  recorder: OutcomeRecorder;
  /** Release-0 notification workflows: outcomes go by signal. */
  outcomes: OutcomeReporter;
  /** Identifies this process in send records (host:pid). */
  workerId: string;
  /**
   * How long a job's lock lives without renewal: a job whose worker died runs again after about
   * twice this (stall detection runs at the same interval). @defaultValue 30000
   */
  lockDurationMs?: number;
  /** INFRA_RETRY_MAX_BACKOFF_MS: longest wait between tries after infrastructure errors. @defaultValue 60000 */
  infraRetryMaxBackoffMs?: number;
  /**
   * INFRA_RETRY_HORIZON_MS: how long work may wait on our own infrastructure before the event workflow
   * expires it; the stall budget (maxStalledCount) is derived from it. @defaultValue 86400000
   */
  infraRetryHorizonMs?: number;
  observer?: DeliveryObserver;
  /** Where problems that do not fail the job are written (an outcome that could not be reported). */
  log?: (line: string) => void;
}
