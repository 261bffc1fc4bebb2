/**
 * Shards by measured duration instead of jest's path hash (`npm test` runs two shards side by side,
 * tools/run-tests.js): test/durations.json holds each file's seconds from a full run, and the files are
 * dealt longest first to the shard with the least work so far, so both shards end at about the same time.
 * A file missing from the list counts as the median file. Refresh the list from a run's `--report` JSON when
 * shards drift apart (its testResults carry start and end times per file). Files that wait for a quiet-hours
 * minute boundary (campaign-workflow, domain-scheduling: 10-70 s from one run to the next) are listed at their
 * worst, so they land in different shards.
 */
const { readFileSync } = require('node:fs');
const { join, posix, relative, sep } = require('node:path');
const Sequencer = require('@jest/test-sequencer').default;

const ROOT = join(__dirname, '..', '..');
const DURATIONS = JSON.parse(readFileSync(join(ROOT, 'test', 'durations.json'), 'utf8'));

class BalancedSequencer extends Sequencer {
  shard(tests, { shardIndex, shardCount }) {
    const known = Object.values(DURATIONS).sort((a, b) => a - b);
    const median = known.length > 0 ? known[Math.floor(known.length / 2)] : 1;
    const weighed = tests
      .map((test) => {
        const path = relative(ROOT, test.path).split(sep).join(posix.sep);
        return { test, path, seconds: DURATIONS[path] ?? median };
      })
      // Longest first; equal durations by path, so every shard process deals the same way.
      .sort((a, b) => b.seconds - a.seconds || (a.path < b.path ? -1 : 1));
    const loads = Array.from({ length: shardCount }, () => 0);
    const mine = [];
    for (const entry of weighed) {
      const lightest = loads.indexOf(Math.min(...loads));
      loads[lightest] += entry.seconds;
      if (lightest === shardIndex - 1) mine.push(entry.test);
    }
    return mine;
  }
}

module.exports = BalancedSequencer;
