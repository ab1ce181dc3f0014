import type { CommandResult, Kdpm, RelayState } from '@ami/lib';
import { t, type Lang } from './catalogue.js';
import { formatKwh, formatLocalTime } from './wording.js';

/**
 * "Ping the meter now": an agent's READ_NOW through the head-end, and what came
 * back. Pure (the clock is an argument): the web feeds it the head-end's
 * CommandResults as they arrive. The head-end answers a READ_NOW once, when the
 * meter answered (ACCEPTED, with the read in the result) or when the meter's
 * medium timed out (REFUSED, `NO_ANSWER: ...`).
 *   WAITING    sent, no result yet
 *   ANSWERED   the meter answered: register, voltage, relay (ACCEPTED with read_at)
 *   NO_ANSWER  the meter did not answer within its medium's time-out: it may be without
 *              supply, or its communication (PLC/RF/cellular) is out of reach
 *   BUSY       the PLC concentrator had no room for the ping: try again
 *   REFUSED    the head-end refused for another reason (unknown meter, AMR, ...)
 *   TIMED_OUT  no result from the head-end within the web's own time-out (the head-end is
 *              down or slow): nothing is known about the meter
 */
export type PingState = 'WAITING' | 'ANSWERED' | 'NO_ANSWER' | 'BUSY' | 'REFUSED' | 'TIMED_OUT';

/** Below this the meter is taken as not powered (an answer from a meter on its capacitor). */
export const POWERED_MIN_VOLTAGE_V = 100;

/** The head-end's reason codes (`CODE: sentence`) that say more than "refused". */
export type RefusalCode = 'NO_ANSWER' | 'CONCENTRATOR_BUSY' | 'OTHER';

export function refusalCode(reason: string | null): RefusalCode {
  const code = (reason ?? '').split(':', 1)[0]!.trim();
  return code === 'NO_ANSWER' || code === 'CONCENTRATOR_BUSY' ? code : 'OTHER';
}

export interface PingRead {
  read_at: number;
  /** The register "stand" in kWh, as on the meter's display. */
  stand_kwh: number;
  voltage_v: number;
  relay: RelayState;
  powered: boolean;
  /** From the command reaching the head-end to the meter's answer. */
  answered_in_ms: number | null;
}

export interface PingAnswer {
  command_id: string;
  meter_id: string;
  sent_at: number;
  state: PingState;
  /** The head-end's decision, when it came. */
  result: { status: CommandResult['status']; reason: string | null; decided_at: number } | null;
  read: PingRead | null;
}

interface Pending {
  command_id: string;
  meter_id: string;
  sent_at: number;
  result: PingAnswer['result'];
  read: PingRead | null;
}

/** The meter's answer carried by an ACCEPTED READ_NOW result, or null (no answer in it). */
export function readOf(r: CommandResult): PingRead | null {
  // The answer's fields are optional (results written before they existed have none).
  const { read_at, energy_import_wh, voltage_v, relay } = r;
  if (r.status !== 'ACCEPTED' || r.type !== 'READ_NOW') return null;
  if (read_at == null || energy_import_wh == null || voltage_v == null || relay == null) return null;
  return {
    read_at,
    stand_kwh: energy_import_wh / 1000,
    voltage_v,
    relay,
    powered: voltage_v >= POWERED_MIN_VOLTAGE_V,
    answered_in_ms: r.answered_in_ms ?? null,
  };
}

export class PingTracker {
  private readonly pings = new Map<string, Pending>();
  /** Results of any command (operators' too), by command_id, for the answers shown to who sent them. */
  private readonly results = new Map<string, CommandResult & { seen_at: number }>();

  constructor(
    /** How long a ping waits for the head-end's result before TIMED_OUT. */
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
    if (!p) return;
    p.result = { status: r.status, reason: r.reason, decided_at: r.decided_at };
    p.read = readOf(r);
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
  if (p.result?.status === 'REFUSED') {
    const code = refusalCode(p.result.reason);
    return code === 'NO_ANSWER' ? 'NO_ANSWER' : code === 'CONCENTRATOR_BUSY' ? 'BUSY' : 'REFUSED';
  }
  // ACCEPTED without a read (a head-end that answers only through the reads topic) waits like no result.
  return now - p.sent_at >= timeoutMs ? 'TIMED_OUT' : 'WAITING';
}

/** A head-end reason as a person reads it: the codes agents meet are worded, others shown as sent. */
export function reasonText(reason: string | null, lang: Lang): string {
  const code = refusalCode(reason);
  return code === 'OTHER' ? (reason ?? '') : t(lang, `reason.${code}`);
}

export interface PingContext {
  /** The customer's zone (WIB/WITA/WIT) for the times. */
  timeZone: string;
  kdpm: Kdpm | null;
  gardu_id: string | null;
  /** The web's own wait for the head-end (WEB_PING_TIMEOUT_S). */
  timeoutMs: number;
}

/** The sentence the agent reads for a ping, in `lang`. */
export function pingText(a: PingAnswer, c: PingContext, lang: Lang): string {
  const at = (ms: number) => formatLocalTime(ms, c.timeZone, lang);
  const medium = c.kdpm ? t(lang, `medium.${c.kdpm}`) : '?';
  switch (a.state) {
    case 'ANSWERED': {
      const r = a.read!;
      return t(lang, 'ping.ANSWERED', {
        time: at(r.read_at),
        after:
          r.answered_in_ms === null
            ? ''
            : t(lang, 'ping.after', { s: formatKwh(r.answered_in_ms / 1000, lang) }),
        powered: t(lang, r.powered ? 'ping.powered' : 'ping.not_powered'),
        relay: t(lang, `relay.${r.relay}`),
        stand: formatKwh(r.stand_kwh, lang),
        v: formatKwh(r.voltage_v, lang),
      });
    }
    case 'NO_ANSWER':
      return t(lang, 'ping.NO_ANSWER', { medium, time: at(a.result!.decided_at) });
    case 'BUSY':
      return t(lang, 'ping.BUSY', { gardu: c.gardu_id ?? '?' });
    case 'REFUSED':
      return t(lang, 'ping.REFUSED', { reason: a.result?.reason ?? '' });
    case 'TIMED_OUT':
      return t(lang, 'ping.TIMED_OUT', { s: Math.round(c.timeoutMs / 1000) });
    case 'WAITING':
      return t(lang, 'ping.WAITING', { time: at(a.sent_at), medium });
  }
}
