/**
 * Awaits `work` while calling kafkajs' `heartbeat` every `everyMs` (it sends only once the group's
 * heartbeat interval has passed). A batch of events waits for the edge's lock, which a step may hold
 * for seconds (a storm's slice on a busy machine); kafkajs heartbeats only between batches, so a
 * long enough wait would let the coordinator drop the member after the session timeout (a drop was
 * seen once in a full-speed load test on an overloaded machine; its cause was not pinned down, and
 * this was the one wait without heartbeats). A failed heartbeat (say, a rebalance started) is
 * rethrown once the work is done, where kafkajs expects it.
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
