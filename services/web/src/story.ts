import type { CallRecord, MeterProfile, SuspectedOutage } from '@ami/lib';
import { COMPLAINT_TYPES, t, type Lang, type MessageKey } from './catalogue.js';
import { reasonText } from './ping.js';
import type { StoryData } from './store.js';
import { toSuspectedRow, verificationText, whereText } from './suspectedView.js';
import { billingPeriodOf, formatKwh, formatLocalTime, formatRupiah } from './wording.js';

/**
 * The customer's story as an agent reads it: one timeline of the last 30 days
 * (relay changes with their cause, outages and momentaries of the meter, its
 * gardu or feeder, the suspected outage being verified there now, remote
 * commands with the head-end's answer, calls logged),
 * the latest read and the bills by month. Pure; every time is local with its
 * zone label.
 */

export type TimelineKind = 'event' | 'outage' | 'suspected' | 'momentary' | 'command' | 'call';

export interface TimelineEntry {
  at: number;
  at_text: string;
  kind: TimelineKind;
  text: string;
}

export interface BillLine {
  billing_period: string;
  period_text: string;
  kwh_text: string;
  amount_text: string;
  basis_text: string;
  kwh: number | null;
  amount_rp: number | null;
}

export interface Story {
  timeline: TimelineEntry[];
  latest_read_text: string;
  bills: BillLine[];
  /** null when ClickHouse did not answer: the page says the history is unavailable. */
  available: boolean;
}

function subtypeLabel(c: CallRecord, lang: Lang): { type: string; sub: string } {
  const type = COMPLAINT_TYPES[c.complaint_type];
  return {
    type: type?.label[lang] ?? c.complaint_type,
    sub: type?.subtypes[c.complaint_subtype]?.[lang] ?? c.complaint_subtype,
  };
}

export function callText(c: CallRecord, lang: Lang): string {
  return t(lang, 'story.call', {
    keyword: c.keyword,
    agent: c.agent,
    ...subtypeLabel(c, lang),
    status: t(lang, `status.${c.status}`),
  });
}

/** The suspected outage covering the meter now (not yet confirmed): where, since when, how verified. */
function suspectedEntry(s: SuspectedOutage, lang: Lang): Omit<TimelineEntry, 'at_text'> {
  return {
    at: s.started_at,
    kind: 'suspected',
    text: t(lang, 'story.suspected', {
      where: whereText(s, lang),
      status: t(lang, `susp.status.${s.status}`),
      verification: verificationText(toSuspectedRow(s), lang),
    }),
  };
}

function timeline(
  d: StoryData,
  calls: readonly CallRecord[],
  suspected: SuspectedOutage | undefined,
  tz: string,
  lang: Lang,
): TimelineEntry[] {
  const at = (ms: number) => formatLocalTime(ms, tz, lang);
  const entries: Omit<TimelineEntry, 'at_text'>[] = [
    ...(suspected ? [suspectedEntry(suspected, lang)] : []),
    ...d.events.map((e) => ({
      at: e.at,
      kind: 'event' as const,
      text: t(lang, `story.event.${e.type}` as MessageKey, {
        cause: t(lang, `cause.${e.cause}` as MessageKey),
      }),
    })),
    ...d.outages.map((o) =>
      o.momentary
        ? {
            at: o.started_at,
            kind: 'momentary' as const,
            text: t(lang, 'story.momentary', {
              id: o.outage_id,
              s: Math.round(((o.restored_at ?? o.started_at) - o.started_at) / 1000),
              n: o.customers_affected,
            }),
          }
        : {
            at: o.started_at,
            kind: 'outage' as const,
            text: t(lang, 'story.outage', {
              scope: t(lang, `scope.${o.scope}` as MessageKey),
              id: o.outage_id,
              n: o.customers_affected,
              restored:
                o.restored_at === null
                  ? t(lang, 'story.still_out')
                  : t(lang, 'story.restored_at', { time: at(o.restored_at) }),
            }),
          },
    ),
    ...d.commands.map((c) => ({
      at: c.at,
      kind: 'command' as const,
      text: t(lang, 'story.command', {
        type: c.type,
        user: c.issued_by,
        role: c.role,
        answer:
          c.audit_result !== 'SENT'
            ? t(lang, 'answer.not_sent', { detail: c.detail })
            : c.answer === null
              ? t(lang, 'answer.none')
              : c.answer.status === 'REFUSED'
                ? t(lang, 'answer.REFUSED', { reason: reasonText(c.answer.reason, lang) })
                : t(lang, 'answer.ACCEPTED', { time: at(c.answer.decided_at) }),
      }),
    })),
    ...calls.map((c) => ({ at: c.called_at, kind: 'call' as const, text: callText(c, lang) })),
  ];
  return entries.sort((a, b) => b.at - a.at).map((e) => ({ ...e, at_text: at(e.at) }));
}

function billLines(d: StoryData, p: MeterProfile, lang: Lang, now: number): BillLine[] {
  const current = billingPeriodOf(now, p.timezone);
  const lines = d.bills.map((b) => {
    const noRead = b.reads_received === 0;
    const inProgress = b.billing_period === current;
    const basis = noRead
      ? t(lang, 'bills.no_read')
      : t(lang, b.estimated ? 'bills.estimated' : 'bills.exact') +
        (b.minimum_applied ? t(lang, 'bills.minimum') : '') +
        (inProgress ? t(lang, 'bills.to_date', { time: formatLocalTime(b.as_of, p.timezone, lang) }) : '');
    return {
      billing_period: b.billing_period,
      period_text: b.billing_period.slice(0, 7),
      kwh_text: noRead ? '—' : formatKwh(b.kwh, lang),
      amount_text: noRead ? '—' : formatRupiah(b.amount_rp),
      basis_text: basis,
      kwh: noRead ? null : b.kwh,
      amount_rp: noRead ? null : b.amount_rp,
    };
  });
  // The current period always has a line: with no row yet it says plainly there is no read.
  if (!lines.some((l) => l.billing_period === current))
    lines.unshift({
      billing_period: current,
      period_text: current.slice(0, 7),
      kwh_text: '—',
      amount_text: '—',
      basis_text: t(lang, 'bills.no_read'),
      kwh: null,
      amount_rp: null,
    });
  return lines;
}

export function buildStory(
  d: StoryData | null,
  calls: readonly CallRecord[],
  p: MeterProfile,
  lang: Lang,
  now: number,
  suspected?: SuspectedOutage,
): Story {
  if (!d)
    return {
      timeline: timeline(
        { events: [], outages: [], commands: [], latest_read: null, bills: [] },
        calls,
        suspected,
        p.timezone,
        lang,
      ),
      latest_read_text: t(lang, 'story.unavailable'),
      bills: [],
      available: false,
    };
  const r = d.latest_read;
  return {
    timeline: timeline(d, calls, suspected, p.timezone, lang),
    latest_read_text: r
      ? t(lang, 'read.text', {
          time: formatLocalTime(r.read_at, p.timezone, lang),
          stand: formatKwh(r.energy_import_wh / 1000, lang),
          v: formatKwh(r.voltage_v, lang),
          relay: t(lang, `relay.${r.relay}` as MessageKey),
        })
      : t(lang, 'read.none'),
    bills: billLines(d, p, lang, now),
    available: true,
  };
}
