import type { MeterCommand, MeterProfile } from '@ami/lib';
import {
  admit,
  answerPing,
  concentratorBusy,
  IDLE,
  noAnswer,
  pingOnAnswerDue,
  pingOnSend,
  release,
  stoppedBeforeAnswer,
  type ConcentratorLimits,
  type ConcentratorLoad,
  type Decision,
  type MeterState,
  type Route,
} from './headend.js';
import { drawPing, type Medium, type PingDraw } from './media.js';

/** A command waiting for its meter: a ping (in flight or queued at a concentrator), or a control command to a dark meter. */
interface Unanswered {
  cmd: MeterCommand;
  profile: MeterProfile;
  medium: Medium;
  /** PLC pings only: the concentrator whose slot (or queue place) it holds. */
  concentrator?: string;
  /** Wall clock when the command reached the head-end. */
  receivedAt: number;
}

export interface ExchangeOptions {
  /** Seed of the latency and loss draws. */
  seed: number;
  /** Multiplies latencies and time-outs (1: the media table). */
  scale: number;
  limits: ConcentratorLimits;
  /** The simulated physical world: is the meter without supply at `now`? */
  isDark: (profile: MeterProfile, now: number) => boolean;
  /** The head-end's state of a meter when it answers (relay, power limit). */
  stateOf: (meterId: string) => MeterState | undefined;
  /** A command that waited got its one result (an answer, NO_ANSWER, or HEADEND_STOPPED from `stop`). */
  onResult: (cmd: MeterCommand, d: Decision, profile: MeterProfile) => void;
  now?: () => number;
}

/**
 * The head-end's exchanges with meters over their media, in wall-clock time:
 * pings wait for their latency or time-out on timers, PLC pings for a slot at
 * their gardu's concentrator, control commands to dark meters for their
 * time-out. Every command handed to `begin` ends in exactly one result: at
 * once (CONCENTRATOR_BUSY), through `onResult`, or in `stop`'s list. No I/O:
 * the decisions are headend.ts's; the Kafka edge publishes them.
 */
export class Exchanges {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly concentrators = new Map<string, ConcentratorLoad<Unanswered>>();
  private readonly unanswered = new Set<Unanswered>();
  private readonly now: () => number;

  constructor(private readonly o: ExchangeOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Commands waiting for their meter (in flight or queued). */
  get waiting(): number {
    return this.unanswered.size;
  }

  /** Pings in flight and queued at one concentrator. */
  loadOf(concentrator: string): ConcentratorLoad<unknown> {
    return this.concentrators.get(concentrator) ?? IDLE;
  }

  /**
   * A command that needs its meter (route `ping` or `unreachable`). Returns
   * the decision when it is refused at once (CONCENTRATOR_BUSY), else
   * undefined: the result comes through `onResult`.
   */
  begin(
    cmd: MeterCommand,
    profile: MeterProfile,
    r: Exclude<Route, { kind: 'decided' }>,
    now: number,
  ): Decision | undefined {
    const u: Unanswered = { cmd, profile, medium: r.medium, receivedAt: now };
    if (r.kind === 'unreachable') {
      this.unanswered.add(u);
      const timeoutMs = Math.round(r.medium.timeoutMs * this.o.scale);
      this.later(timeoutMs, () => this.finish(u, noAnswer(cmd, profile, r.medium, timeoutMs, this.now())));
      return undefined;
    }
    if (r.concentrator) {
      const a = admit(this.concentrators.get(r.concentrator) ?? IDLE, u, this.o.limits);
      if (a.admitted === 'BUSY') return concentratorBusy(cmd, r.concentrator, this.o.limits, now);
      this.concentrators.set(r.concentrator, a.load);
      u.concentrator = r.concentrator;
      this.unanswered.add(u);
      if (a.admitted === 'SEND') this.send(u);
      return undefined;
    }
    this.unanswered.add(u);
    this.send(u);
    return undefined;
  }

  /**
   * Cancels every timer and returns one REFUSED HEADEND_STOPPED per command
   * still waiting (in flight or queued): nothing happens after this.
   */
  stop(now: number): Decision[] {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const out = [...this.unanswered].map((u) => stoppedBeforeAnswer(u.cmd, now));
    this.unanswered.clear();
    this.concentrators.clear();
    return out;
  }

  /** The ping leaves the head-end: the meter answers after the latency, or the time-out ends it. */
  private send(u: Unanswered): void {
    const draw = drawPing(u.medium, this.o.seed, u.cmd.command_id, this.o.scale);
    const step = pingOnSend(draw, this.o.isDark(u.profile, this.now()));
    this.later(step.afterMs, () => (step.answer ? this.answerDue(u, draw) : this.timedOut(u, draw)));
  }

  private answerDue(u: Unanswered, draw: PingDraw): void {
    const now = this.now();
    const step = pingOnAnswerDue(draw, this.o.isDark(u.profile, now));
    if (!step.answer) return this.later(step.afterMs, () => this.timedOut(u, draw));
    this.finish(u, answerPing(u.cmd, u.profile, this.o.stateOf(u.cmd.meter_id), u.receivedAt, now));
  }

  private timedOut(u: Unanswered, draw: PingDraw): void {
    this.finish(u, noAnswer(u.cmd, u.profile, u.medium, draw.timeoutMs, this.now()));
  }

  /** The command's one result; a PLC ping hands its concentrator slot to the oldest queued one. */
  private finish(u: Unanswered, d: Decision): void {
    if (!this.unanswered.delete(u)) return;
    this.o.onResult(u.cmd, d, u.profile);
    if (!u.concentrator) return;
    const { load, next } = release(this.concentrators.get(u.concentrator) ?? IDLE);
    if (load.inFlight === 0) this.concentrators.delete(u.concentrator);
    else this.concentrators.set(u.concentrator, load);
    if (next) this.send(next);
  }

  private later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }
}
