import { createServer } from 'node:net';
import { DriverException, UniqueConstraintViolationException } from '@mikro-orm/core';
import { MikroORM } from '@mikro-orm/postgresql';
import { Client, Connection } from '@temporalio/client';
import { UnrecoverableError } from 'bullmq';
import { Redis, ReplyError } from 'ioredis';
// The class node-postgres throws for a server's ErrorResponse (pg re-exports it; pg itself ships no types).
import { DatabaseError } from 'pg-protocol';
import {
  InfrastructureError,
  infrastructureBackoffMs,
  infrastructureKind,
  isInfrastructureError,
} from '../../src/delivery/infrastructure-errors';
import { PermanentDeliveryError } from '../../src/delivery/providers/provider';
import { maxStalledCountFor } from '../../src/delivery/channel-worker';
import { InfrastructureRetryLog } from '../../src/delivery/infrastructure-recovery';
import { isNearlyFull, parseInfoMemory } from '../../src/api/redis-backpressure';

/** A port nothing listens on (taken from the OS, then released). */
async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function thrownBy(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/** node-postgres builds a DatabaseError from the server's ErrorResponse; fields as captured from a real server (Postgres 15). */
function serverError(message: string, code: string, severity: 'ERROR' | 'FATAL'): DatabaseError {
  const err = new DatabaseError(message, message.length + 30, 'error');
  err.code = code;
  err.severity = severity;
  return err;
}

describe('isInfrastructureError on errors produced by real failures', () => {
  it('Postgres unreachable, through MikroORM (a DriverException carrying ECONNREFUSED) and raw execute', async () => {
    const port = await closedPort();
    const orm = await MikroORM.init({
      clientUrl: `postgres://postgres@127.0.0.1:${port}/x`,
      entities: [],
      discovery: { warnWhenNoEntities: false },
      connect: false,
    });
    try {
      const raw = await thrownBy(() => orm.em.fork().getConnection().execute('select 1'));
      expect((raw as { code?: string }).code).toBe('ECONNREFUSED');
      expect(isInfrastructureError(raw)).toBe(true);
      const wrapped = new DriverException(raw as Error);
      expect(isInfrastructureError(wrapped)).toBe(true);
    } finally {
      await orm.close();
    }
  });

  it('Redis unreachable: MaxRetriesPerRequestError, "Connection is closed.", offline queue off', async () => {
    const port = await closedPort();
    const retrying = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 0, retryStrategy: () => 50 });
    retrying.on('error', () => undefined);
    const offline = new Redis({ host: '127.0.0.1', port, lazyConnect: true, enableOfflineQueue: false });
    offline.on('error', () => undefined);
    const closed = new Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null });
    closed.on('error', () => undefined);
    try {
      const maxRetries = await thrownBy(() => retrying.get('k'));
      expect((maxRetries as Error).name).toBe('MaxRetriesPerRequestError');
      const notWritable = await thrownBy(() => offline.get('k'));
      const connectionClosed = await thrownBy(() => closed.connect());
      expect((connectionClosed as Error).message).toBe('Connection is closed.');
      for (const err of [maxRetries, notWritable, connectionClosed])
        expect(isInfrastructureError(err)).toBe(true);
    } finally {
      retrying.disconnect();
      offline.disconnect();
      closed.disconnect();
    }
  });

  it('Postgres server errors of an unavailable server: admin shutdown, shutting down, too many clients, statement timeout', () => {
    const errors = [
      serverError('terminating connection due to administrator command', '57P01', 'FATAL'),
      serverError('the database system is shutting down', '57P03', 'FATAL'),
      serverError('sorry, too many clients already', '53300', 'FATAL'),
      serverError('canceling statement due to statement timeout', '57014', 'ERROR'),
      serverError('server closed the connection unexpectedly', '08006', 'FATAL'),
    ];
    for (const err of errors) {
      expect(isInfrastructureError(err)).toBe(true);
      // MikroORM copies the driver error's own properties (code included) onto its DriverException.
      expect(isInfrastructureError(new DriverException(err))).toBe(true);
    }
  });

  it('messages without a code: a connection cut mid-query (pg, as knex prefixes it), a full knex pool', () => {
    expect(isInfrastructureError(new Error('select pg_sleep(10) - Connection terminated unexpectedly'))).toBe(
      true,
    );
    const knexTimeout = Object.assign(
      new Error(
        'Knex: Timeout acquiring a connection. The pool is probably full. Are you missing a .transacting(trx) call?',
      ),
      { name: 'KnexTimeoutError', sql: 'select 1' },
    );
    expect(isInfrastructureError(knexTimeout)).toBe(true);
  });

  it('Redis refusing writes: OOM, READONLY replica, LOADING, MISCONF', () => {
    for (const message of [
      "OOM command not allowed when used memory > 'maxmemory'.",
      "READONLY You can't write against a read only replica.",
      'LOADING Redis is loading the dataset in memory',
      'MISCONF Redis is configured to save RDB snapshots, but it is currently not able to persist on disk.',
    ]) {
      expect(isInfrastructureError(new ReplyError(message))).toBe(true);
    }
  });

  it('Temporal unreachable: the ServiceError of a signal, caused by gRPC UNAVAILABLE or, with a deadline, DEADLINE_EXCEEDED', async () => {
    const connection = Connection.lazy({ address: `127.0.0.1:${await closedPort()}`, connectTimeout: 500 });
    try {
      // The client retries UNAVAILABLE for a while; a deadline keeps the test short (and gives the other status).
      const err = await thrownBy(() =>
        connection.withDeadline(Date.now() + 1_500, () =>
          new Client({ connection }).workflow.getHandle('event-x').signal('outcomesReady'),
        ),
      );
      expect((err as Error).name).toBe('ServiceError');
      expect([4, 14]).toContain(((err as Error).cause as { code?: number }).code);
      expect(isInfrastructureError(err)).toBe(true);
    } finally {
      await connection.close();
    }
  });

  it('an InfrastructureError, and an error caused by one', () => {
    const infra = new InfrastructureError(
      'in-app delivery: marking the notification delivered in Postgres',
      new Error('boom'),
    );
    expect(infra.message).toBe('in-app delivery: marking the notification delivered in Postgres: boom');
    expect(isInfrastructureError(infra)).toBe(true);
    expect(isInfrastructureError(new Error('outer', { cause: infra }))).toBe(true);
  });

  it('is false for everything else: bad statements, constraint violations, Redis command errors, provider verdicts', () => {
    const notOurs = [
      new Error('boom'),
      serverError('relation "things" does not exist', '42P01', 'ERROR'),
      new UniqueConstraintViolationException(
        serverError('duplicate key value violates unique constraint', '23505', 'ERROR'),
      ),
      new ReplyError('ERR wrong number of arguments for command'),
      new PermanentDeliveryError('550 mailbox unavailable'),
      new UnrecoverableError('notification not found'),
      'a string',
      null,
      undefined,
    ];
    for (const err of notOurs) expect(isInfrastructureError(err)).toBe(false);
  });
});

describe('infrastructureKind', () => {
  it('names the service (what a worker waits for before promoting the jobs it put back)', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    expect(infrastructureKind(refused)).toBe('network');
    expect(infrastructureKind(serverError('the database system is shutting down', '57P03', 'FATAL'))).toBe(
      'postgres',
    );
    expect(infrastructureKind(new Error('select 1 - Connection terminated unexpectedly'))).toBe('postgres');
    expect(
      infrastructureKind(new ReplyError("OOM command not allowed when used memory > 'maxmemory'.")),
    ).toBe('redis');
    expect(infrastructureKind(new Error('Connection is closed.'))).toBe('redis');
    expect(
      infrastructureKind(
        Object.assign(new Error('14 UNAVAILABLE'), { code: 14, details: 'No connection established' }),
      ),
    ).toBe('temporal');
    // Wrapped: the cause decides; a wrapper around anything else is ours all the same.
    expect(infrastructureKind(new InfrastructureError('in-app delivery', refused))).toBe('network');
    expect(
      infrastructureKind(
        new InfrastructureError(
          'in-app delivery',
          serverError('relation "x" does not exist', '42P01', 'ERROR'),
        ),
      ),
    ).toBe('unspecified');
    expect(infrastructureKind(new Error('boom'))).toBeNull();
  });
});

describe('infrastructureBackoffMs', () => {
  it('starts at 1 s, doubles, is capped and jitters down by at most 20 %', () => {
    const noJitter = () => 0;
    expect([1, 2, 3, 4, 5, 6, 7, 8, 100].map((n) => infrastructureBackoffMs(n, 60_000, noJitter))).toEqual([
      1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000,
    ]);
    expect(infrastructureBackoffMs(1, 60_000, () => 0.999)).toBeGreaterThanOrEqual(800);
    expect(infrastructureBackoffMs(10, 5_000, noJitter)).toBe(5_000);
  });
});

describe('InfrastructureRetryLog', () => {
  afterEach(() => jest.useRealTimers());

  it('writes the first line of a window, then one summary of the lines held back', () => {
    jest.useFakeTimers();
    const lines: string[] = [];
    const retryLog = new InfrastructureRetryLog((line) => lines.push(line), 5_000);
    retryLog.write('job 1 failed');
    retryLog.write('job 2 failed');
    retryLog.write('job 3 failed');
    expect(lines).toEqual(['job 1 failed']);
    jest.advanceTimersByTime(5_000);
    expect(lines).toEqual(['job 1 failed', '2 more like it in the last 5 s; the latest: job 3 failed']);
    retryLog.write('job 4 failed');
    expect(lines[2]).toBe('job 4 failed');
    retryLog.flush();
    expect(lines).toHaveLength(3);
  });
});

describe('maxStalledCountFor', () => {
  it('covers the horizon with one stall per stall check, never below 1', () => {
    expect(maxStalledCountFor(86_400_000, 30_000)).toBe(2880);
    expect(maxStalledCountFor(1000, 30_000)).toBe(1);
  });
});

describe('Redis backpressure', () => {
  const info = (used: number, max: number) =>
    `# Memory\r\nused_memory:${used}\r\nused_memory_human:1M\r\nmaxmemory:${max}\r\nmaxmemory_human:0B\r\nmaxmemory_policy:noeviction\r\n`;

  it('reads used_memory and maxmemory from INFO memory, and names a missing field', () => {
    expect(parseInfoMemory(info(900, 1000))).toEqual({ usedMemory: 900, maxMemory: 1000 });
    expect(() => parseInfoMemory('# Memory\r\nused_memory:1\r\n')).toThrow(
      'INFO memory has no maxmemory field',
    );
  });

  it('is nearly full at the ratio of maxmemory; never without maxmemory or with ratio 0', () => {
    expect(isNearlyFull({ usedMemory: 800, maxMemory: 1000 }, 0.8)).toBe(true);
    expect(isNearlyFull({ usedMemory: 799, maxMemory: 1000 }, 0.8)).toBe(false);
    expect(isNearlyFull({ usedMemory: 10 ** 12, maxMemory: 0 }, 0.8)).toBe(false);
    expect(isNearlyFull({ usedMemory: 1000, maxMemory: 1000 }, 0)).toBe(false);
  });
});
