import type { HeldMail } from '../test/helpers/smtp-peer';
import type { HeldRequest } from '../test/helpers/provider-stand-ins';
import { sleep, type ChaosEnvironment } from './environment';
import type { Scenario } from './scenarios';

/** One fault: armed before the sends (if it needs to see them), injected at the planned time, healed after its duration. */
export interface FaultControl {
  /** Called before the scenario publishes anything. */
  arm(): void;
  inject(): Promise<void>;
  heal(): Promise<void>;
  /** What happened that the report should say (e.g. whether a send was in flight at the kill). */
  notes: string[];
}

/** How long kill-channel-worker waits for a send to be in flight before it kills anyway. */
const IN_FLIGHT_WAIT_MS = 5000;
/** redis-flush empties Redis again this often while the fault lasts (a failover to an empty replica, repeatedly). */
const FLUSH_EVERY_MS = 2000;

/**
 *   redis-refuse-writes   maxmemory 1 + noeviction: every write answers OOM, reads work; healed by maxmemory 0
 *   redis-flush           FLUSHALL at the start and every 2 s while the fault lasts
 *   redis-restart         SHUTDOWN NOSAVE, started again (empty) after the duration
 *   postgres-restart      pg_ctl stop -m fast, started again after the duration
 *   temporal-restart      SIGKILL of the dev server, started again on the same state file and port
 *   kill-workflow-worker  SIGKILL of the workflow worker process, started again after the duration
 *   kill-channel-worker   SIGKILL of the channel worker process (immediate sends: while an email and a webhook are in flight)
 *   kill-api              SIGKILL of the HTTP API process; the scenario publishes through it
 */
export function faultFor(env: ChaosEnvironment, scenario: Scenario): FaultControl {
  const notes: string[] = [];
  switch (scenario.fault) {
    case 'redis-refuse-writes':
      return {
        notes,
        arm() {},
        inject: () => env.redis.refuseWrites(),
        heal: () => env.redis.acceptWrites(),
      };
    case 'redis-flush': {
      let timer: NodeJS.Timeout | null = null;
      let flushes = 0;
      const flush = () =>
        env.redis.flush().then(
          () => void flushes++,
          (err: Error) => notes.push(`a flush failed: ${err.message}`),
        );
      return {
        notes,
        arm() {},
        async inject() {
          await flush();
          timer = setInterval(() => void flush(), FLUSH_EVERY_MS);
        },
        async heal() {
          if (timer) clearInterval(timer);
          await flush();
          notes.push(`${flushes} flushes`);
        },
      };
    }
    case 'redis-restart':
      return { notes, arm() {}, inject: () => env.redis.stop('shutdown'), heal: () => env.redis.restart() };
    case 'postgres-restart':
      return { notes, arm() {}, inject: () => env.pg.stop('fast'), heal: () => env.pg.restart() };
    case 'temporal-restart':
      return { notes, arm() {}, inject: () => env.killTemporal(), heal: () => env.startTemporal() };
    case 'kill-workflow-worker':
      return {
        notes,
        arm() {},
        inject: () => env.workflowWorker.kill(),
        heal: () => env.workflowWorker.resume(),
      };
    case 'kill-api':
      return { notes, arm() {}, inject: () => env.api!.kill(), heal: () => env.api!.resume() };
    case 'kill-channel-worker': {
      let holds: (HeldMail | HeldRequest)[] = [];
      return {
        notes,
        arm() {
          // Only immediate sends are in flight at the kill; for the others the worker is simply down at their wake-up.
          if (scenario.sendKind === 'immediate') holds = [env.smtp.holdNext(), env.webhooks.holdNext()];
        },
        async inject() {
          if (holds.length) {
            const inFlight = await Promise.race([
              Promise.any(holds.map((h) => h.arrived)).then(() => true),
              sleep(IN_FLIGHT_WAIT_MS).then(() => false),
            ]);
            notes.push(
              inFlight
                ? 'killed with a send in flight at a provider'
                : `no send reached a provider within ${IN_FLIGHT_WAIT_MS} ms: killed anyway`,
            );
          }
          await env.channelWorker.kill();
          // The killed sender is gone: the SMTP peer accepts nothing from its closed session; the stand-in's answer goes nowhere.
          for (const hold of holds) hold.release();
        },
        heal: () => env.channelWorker.resume(),
      };
    }
  }
}
