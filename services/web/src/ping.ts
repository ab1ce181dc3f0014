import type { CommandResult, MeterRead, RelayState } from '@ami/lib';

/**
 * "Ping the meter now": an agent's READ_NOW through the head-end, and what came
 * back. Pure (the clock is an argument): the web feeds it the head-end's
 * CommandResults and the meters' ON_DEMAND reads as they arrive.
 *   WAITING    sent, no answer yet (within the time-out)
 *   ANSWERED   the meter sent its on-demand read (register, voltage, relay)
 *   REFUSED    the head-end refused the command (reason)
 *   NO_ANSWER  accepted or not, no read within the time-out: the meter is dark or its
 *              communication (PLC/RF/cellular) is down
 */
export type PingState = 'WAITING' | 'ANSWERED' | 'REFUSED' | 'NO_ANSWER';

/** Below this the meter is taken as not powered (a read from a dark meter on its capacitor). */
export const POWERED_MIN_VOLTAGE_V = 100;

export interface PingAnswer {
  command_id: string;
  meter_id: string;
  sent_at: number;
  state: PingState;
  /** The head-end's decision, when it came. */
  result: { status: CommandResult['status']; reason: string | null; decided_at: number } | null;
  read: {
    read_at: number;
    /** The register "stand" in kWh, as on the meter's display. */
    stand_kwh: number;
    voltage_v: number;
    relay: RelayState;
    powered: boolean;
  } | null;
}

interface Pending {
  command_id: string;
  meter_id: string;
  sent_at: number;
  result: PingAnswer['result'];
  read: PingAnswer['read'];
}

export class PingTracker {
  private readonly pings = new Map<string, Pending>();
  /** Results of any command (operators' too), by command_id, for the answers shown to who sent them. */
  private readonly results = new Map<string, CommandResult & { seen_at: number }>();

  constructor(
    private readonly timeoutMs: number,
    /** How long answers are kept in memory (ClickHouse keeps them for good). */
    private readonly keepMs = 3_600_000,
  ) {}

  sent(commandId: string, meterId: string, at: number): void {
    this.pings.set(commandId, {
      command_id: commandId,
      meter_id: meterId,
      sent_at: at,
      result: null,
      read: null,
    });
  }

  onResult(r: CommandResult, now: number): void {
    this.results.set(r.command_id, { ...r, seen_at: now });
    const p = this.pings.get(r.command_id);
    if (p) p.result = { status: r.status, reason: r.reason, decided_at: r.decided_at };
  }

  /** An ON_DEMAND read answers the newest unanswered ping of its meter sent before it arrived. */
  onRead(r: MeterRead): void {
    if (r.kind !== 'ON_DEMAND') return;
    let target: Pending | undefined;
    for (const p of this.pings.values())
      if (p.meter_id === r.meter_id && p.read === null && (!target || p.sent_at > target.sent_at)) target = p;
    if (!target) return;
    target.read = {
      read_at: r.read_at,
      stand_kwh: r.energy_import_wh / 1000,
      voltage_v: r.voltage_v,
      relay: r.relay,
      powered: r.voltage_v >= POWERED_MIN_VOLTAGE_V,
    };
  }

  answer(commandId: string, now: number): PingAnswer | undefined {
    const p = this.pings.get(commandId);
    if (!p) return undefined;
    return { ...p, state: pingState(p, now, this.timeoutMs) };
  }

  result(commandId: string): CommandResult | undefined {
    const r = this.results.get(commandId);
    if (!r) return undefined;
    const { seen_at: _seen, ...result } = r;
    return result;
  }

  /** Forgets what is older than keepMs. */
  prune(now: number): void {
    for (const [id, p] of this.pings) if (p.sent_at < now - this.keepMs) this.pings.delete(id);
    for (const [id, r] of this.results) if (r.seen_at < now - this.keepMs) this.results.delete(id);
  }
}

export function pingState(
  p: Pick<Pending, 'sent_at' | 'result' | 'read'>,
  now: number,
  timeoutMs: number,
): PingState {
  if (p.read) return 'ANSWERED';
  if (p.result?.status === 'REFUSED') return 'REFUSED';
  return now - p.sent_at >= timeoutMs ? 'NO_ANSWER' : 'WAITING';
}
