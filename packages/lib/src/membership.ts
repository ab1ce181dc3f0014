import type { Consumer } from 'kafkajs';

/**
 * Whether the group still counts this consumer as a member, from what kafkajs reports: a heartbeat
 * answered, a rebalance announced, a join completed. kafkajs rejoins silently when the coordinator
 * has forgotten the member (`UNKNOWN_MEMBER_ID`: no REBALANCING event), and the raw fetch of reads,
 * which kafkajs does not know about, would go on with partitions that may have moved. Nothing heard
 * for `lapseMs` (the session timeout plus the longest join, the rebalance timeout) means the member
 * was dropped: `lapsed` says so once, until the next proof.
 */
export class MembershipWatch {
  private provenAt: number;
  private gone = false;

  constructor(
    private readonly lapseMs: number,
    now: number,
  ) {
    this.provenAt = now;
  }

  proven(now: number): void {
    this.provenAt = now;
    this.gone = false;
  }

  lapsed(now: number): boolean {
    if (this.gone || now - this.provenAt <= this.lapseMs) return false;
    this.gone = true;
    return true;
  }
}

/**
 * Calls `onLapse` (once per lapse) when the group has not been heard from for `lapseMs`; the proofs
 * are kafkajs' HEARTBEAT, REBALANCING and GROUP_JOIN events. Returns the function that stops the watch.
 */
export function watchMembership(
  consumer: Consumer,
  lapseMs: number,
  onLapse: () => void,
  checkEveryMs = 1000,
): () => void {
  const watch = new MembershipWatch(lapseMs, Date.now());
  const { HEARTBEAT, REBALANCING, GROUP_JOIN } = consumer.events;
  for (const proof of [HEARTBEAT, REBALANCING, GROUP_JOIN])
    consumer.on(proof, () => watch.proven(Date.now()));
  const timer = setInterval(() => {
    if (watch.lapsed(Date.now())) onLapse();
  }, checkEveryMs);
  timer.unref();
  return () => clearInterval(timer);
}
