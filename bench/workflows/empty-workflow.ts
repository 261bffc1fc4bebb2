/**
 * The floor of bench/e2e-throughput.ts: a workflow that does nothing. Starting one and awaiting its result
 * costs one workflow task and the server's round trips, nothing of ours; bundled and run by the benchmark's
 * own Worker on its own task queue.
 */
export async function emptyWorkflow(): Promise<void> {
  // Nothing: the point is what Temporal costs by itself.
}
