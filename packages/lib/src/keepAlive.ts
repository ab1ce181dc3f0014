/**
 * Awaits `work` while calling kafkajs' `heartbeat` every `everyMs` (it sends only once the group's
 * heartbeat interval has passed). kafkajs heartbeats only between batches, so a batch that waits
 * longer than the session timeout would let the coordinator drop the member: the detector's events
 * waiting for the edge's lock (a storm's slice on a busy machine), the loader's rows waiting for room
 * while ClickHouse is slow or down. A failed heartbeat (say, a rebalance started) is rethrown once
 * the work is done, where kafkajs expects it.
 */
export async function whileBeating<T>(
  heartbeat: () => Promise<void>,
  work: Promise<T>,
  everyMs = 1000,
): Promise<T> {
  let failure: { err: unknown } | undefined;
  let beating = false;
  const timer = setInterval(() => {
    if (beating || failure) return;
    beating = true;
    heartbeat()
      .catch((err: unknown) => {
        failure = { err };
      })
      .finally(() => {
        beating = false;
      });
  }, everyMs);
  try {
    const result = await work;
    if (failure) throw failure.err;
    return result;
  } finally {
    clearInterval(timer);
  }
}
