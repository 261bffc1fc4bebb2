import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import * as proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';
import { randomBytes } from 'node:crypto';
import { Worker } from '@temporalio/worker';
import { AesGcmPayloadCodec } from '../../src/temporal/payload-codec';

/**
 * Replays the histories recorded from earlier releases (test/histories/<release>/*.json, see the README
 * there) against the current workflow bundle: a change to workflows/ that would break workflows already
 * in flight (non-determinism) fails here instead of in production. Runs no workflow of its own.
 */
const HISTORIES_DIR = join(__dirname, '..', 'histories');

type History = proto.temporal.api.history.v1.IHistory;

/**
 * The files hold a history as proto3 JSON, the format of `historyToJSON` from @temporalio/common and of
 * `temporal workflow show --output json`. We do not call @temporalio/common's `historyFromJSON`: in this
 * install it throws "type must be a Type" (@temporalio/common and @temporalio/proto each got their own
 * copy of protobufjs 8, so protojson's instanceof check fails). This is the same conversion with the
 * protobufjs copy that @temporalio/proto's reflected types belong to; int64 fields come back as Long,
 * so Worker.runReplayHistories takes the result as a decoded history.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const protojson = require(
  require.resolve('protobufjs/ext/protojson', {
    paths: [dirname(require.resolve('@temporalio/proto/package.json'))],
  }),
) as {
  fromJson(type: unknown, json: unknown, options: { ignoreUnknownFields: boolean }): unknown;
};
const historyType = (patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown }).lookupType(
  'temporal.api.history.v1.History',
);

function historyFromJSONFile(text: string): History {
  const json = JSON.parse(text) as { events?: unknown };
  if (!Array.isArray(json?.events) || json.events.length === 0)
    throw new TypeError('not a history: expected {"events": [...]} with at least one event');
  const history = protojson.fromJson(historyType, json, { ignoreUnknownFields: true }) as History | null;
  if (!history) throw new TypeError('not a history');
  return history;
}

/** Every *.json below dir, as paths relative to test/histories, sorted. */
function historyFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.json'))
    .map((entry) => relative(HISTORIES_DIR, join(entry.parentPath, entry.name)))
    .sort();
}

const files = historyFiles(HISTORIES_DIR);

describe('workflow determinism: recorded histories replay against the current workflow bundle', () => {
  /** file -> null (replayed) or the replay/load error. */
  const outcomes = new Map<string, string | null>();

  beforeAll(async () => {
    const bundle = process.env.TEST_WORKFLOW_BUNDLE;
    if (!bundle) throw new Error('TEST_WORKFLOW_BUNDLE is not set (test/helpers/global-setup.ts builds it)');
    const loaded: { file: string; workflowId: string; history: History }[] = [];
    for (const file of files) {
      try {
        const history = historyFromJSONFile(readFileSync(join(HISTORIES_DIR, file), 'utf8'));
        // The started event carries the workflow id; workflows may read it (workflowInfo().workflowId).
        const workflowId = history.events![0].workflowExecutionStartedEventAttributes?.workflowId || file;
        loaded.push({ file, workflowId, history });
      } catch (err) {
        outcomes.set(file, `could not load the history: ${String(err)}`);
      }
    }
    // One replay worker for all histories; results come back one per history, in order. It carries the
    // payload codec production workers carry: histories recorded in clear (before encryption) pass through it.
    const codec = new AesGcmPayloadCodec({ currentKeyId: 'replay', keys: { replay: randomBytes(32) } });
    let next = 0;
    try {
      for await (const result of Worker.runReplayHistories(
        { workflowBundle: { codePath: bundle }, dataConverter: { payloadCodecs: [codec] } },
        loaded,
      )) {
        outcomes.set(
          loaded[next++].file,
          result.error ? `${result.error.name}: ${result.error.message}` : null,
        );
      }
    } catch (err) {
      for (const { file } of loaded.slice(next)) outcomes.set(file, `replay aborted: ${String(err)}`);
    }
  }, 120_000);

  it('has recorded histories to replay (test/histories/<release>/*.json)', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it.each(files.length > 0 ? files : ['(no history files)'])('%s replays without error', (file) => {
    expect({ file, error: outcomes.has(file) ? outcomes.get(file) : 'not replayed' }).toEqual({
      file,
      error: null,
    });
  });
});
