import {
  formatZoned,
  type Kdpm,
  type MeterProfile,
  type MeterState,
  type MeterStatus,
  type Outage,
  type SuspectedOutage,
} from '@ami/lib';
import { DEFAULT_LANG, LOCALE, t, type Lang, type MessageKey } from './catalogue.js';
import { verificationText, whereText, isPending } from './suspectedView.js';

/**
 * What a call-centre agent (CC 123) reads out when a customer says "my power
 * is off". Pure: the words depend only on the arguments. The one rule that must
 * never break: a disconnected meter (tusbung) is never called an outage, and a
 * meter in an outage is never called disconnected.
 */

/** KDPM label in a language (the catalogue's `kdpm.*`). */
export function kdpmLabel(kdpm: Kdpm, lang: Lang = DEFAULT_LANG): string {
  return t(lang, `kdpm.${kdpm}`);
}

export interface Consumption {
  /** First day of the customer's local billing month, YYYY-MM-DD. */
  billing_period: string;
  kwh: number;
  amount_rp: number;
  /** A boundary register was interpolated: the figure is an estimate. */
  estimated: boolean;
  /** Register time the figure runs to (period to date), epoch ms. */
  as_of: number;
  /** Reads of the period in ClickHouse; 0: the period has no read yet (nothing to bill from). */
  reads_received?: number;
}

export interface MeterAnswer {
  meter_id: string;
  idpel: string;
  kdpm: Kdpm;
  kdpm_label: string;
  ami: boolean;
  tariff: string;
  daya_va: number;
  region: string;
  ulp: string;
  gardu_id: string;
  feeder_id: string;
  timezone: string;
  /** null for an AMR meter: its state cannot be seen remotely. */
  state: MeterState | null;
  since: number | null;
  /** `since` as local time with its zone label (WIB/WITA/WIT). */
  since_text: string | null;
  outage_id: string | null;
  /**
   * A suspected outage (not yet confirmed) covering this meter, when the meter itself is
   * reported energized: the answer then says a possible outage is being verified.
   */
  suspected: {
    outage_id: string;
    status: SuspectedOutage['status'];
    scope: SuspectedOutage['scope'];
    started_at: number;
    started_text: string;
  } | null;
  headline: string;
  detail: string;
  /** What the agent tells or does next, in order. */
  advice: string[];
  /** The SOP answers (FAQ ids, catalogue.ts) that go with this state. */
  faq: string[];
  consumption: Consumption | null;
  consumption_text: string;
  lang: Lang;
}

export interface AnswerInput {
  profile: MeterProfile;
  /** Latest MeterStatus; undefined: the detector never reported the meter (energized). */
  status?: MeterStatus;
  /** The outage named by status.outage_id, when known. */
  outage?: Outage;
  /** A pending suspected outage covering the meter (its own, its gardu's or its feeder's), if any. */
  suspected?: SuspectedOutage;
  consumption?: Consumption | null;
  lang?: Lang;
}

/** Local time in the customer's zone with its label (WIB/WITA/WIT), in the language's format. */
export function formatLocalTime(epochMs: number, timeZone: string, lang: Lang = DEFAULT_LANG): string {
  return formatZoned(epochMs, timeZone, LOCALE[lang]);
}

export function formatRupiah(amount: number): string {
  return `Rp ${new Intl.NumberFormat('id-ID', { maximumFractionDigits: 0 }).format(Math.round(amount))}`;
}

export function formatKwh(kwh: number, lang: Lang = DEFAULT_LANG): string {
  return new Intl.NumberFormat(LOCALE[lang], { maximumFractionDigits: 1 }).format(kwh);
}

export function consumptionText(
  c: Consumption | null | undefined,
  timeZone: string,
  lang: Lang = DEFAULT_LANG,
): string {
  if (!c) return t(lang, 'usage.none');
  const period = c.billing_period.slice(0, 7);
  if (c.reads_received === 0) return t(lang, 'usage.no_read', { period });
  return t(lang, 'usage.text', {
    period,
    time: formatLocalTime(c.as_of, timeZone, lang),
    kwh: formatKwh(c.kwh, lang),
    rp: formatRupiah(c.amount_rp),
    est: c.estimated ? t(lang, 'usage.estimated') : '',
  });
}

interface Words {
  headline: string;
  detail: string;
  advice: string[];
  faq: string[];
}

/** The SOP answers that go with each state (FAQ ids of catalogue.ts). */
const STATE_FAQ: Readonly<Record<MeterState | 'AMR', string[]>> = {
  ENERGIZED: ['rekening'],
  OUTAGE: ['last-gasp', 'padam-vs-tusbung'],
  DISCONNECTED: ['padam-vs-tusbung', 'penormalan', 'tanggal-20'],
  RECONNECT_ENABLED: ['penormalan'],
  POWER_LIMIT_TRIP: ['power-limit'],
  UNKNOWN: ['padam-vs-tusbung'],
  AMR: ['kdpm'],
};

function sinceText(since: number | null, tz: string, lang: Lang): string {
  return since ? t(lang, 'since', { time: formatLocalTime(since, tz, lang) }) : '';
}

function outageWords(a: AnswerInput, since: number | null, lang: Lang): Words {
  const p = a.profile;
  const o = a.outage;
  const where = o
    ? t(lang, `outage.where.${o.scope}`, {
        id: o.scope === 'FEEDER' ? o.feeder_id : (o.gardu_id ?? p.gardu_id),
      })
    : t(lang, 'outage.where.GARDU', { id: p.gardu_id });
  return {
    headline: t(lang, 'state.OUTAGE.headline'),
    detail: t(lang, 'state.OUTAGE.detail', {
      id: a.status?.outage_id ?? t(lang, 'outage.being_confirmed'),
      where,
      since: sinceText(o?.started_at ?? since, p.timezone, lang),
      affected: o ? t(lang, 'outage.affected', { n: o.customers_affected }) : '',
    }),
    advice: [t(lang, 'state.OUTAGE.advice1', { ulp: p.ulp }), t(lang, 'state.OUTAGE.advice2')],
    faq: STATE_FAQ.OUTAGE,
  };
}

/**
 * A possible outage being verified. Said only for a meter the detector still reports energized:
 * a confirmed outage has its own words, and a disconnected meter (tusbung) is never called an
 * outage, suspected or not.
 */
function suspectedWords(s: SuspectedOutage, p: MeterProfile, lang: Lang): Words {
  const vars = {
    where: whereText(s, lang),
    time: formatLocalTime(s.started_at, p.timezone, lang),
    ulp: p.ulp,
    gasps: s.last_gasps,
    total: s.customers_total,
    verification: verificationText(
      {
        pings_sent: s.pings_sent,
        pings_answered: s.pings_answered,
        pings_silent: s.pings_silent,
        pings_waiting: Math.max(0, s.pings_sent - s.pings_answered - s.pings_silent),
      },
      lang,
    ),
  };
  return {
    headline: t(lang, `state.SUSPECTED.headline.${s.status === 'VERIFIED' ? 'VERIFIED' : 'SUSPECTED'}`, vars),
    detail: t(lang, 'state.SUSPECTED.detail', vars),
    advice: [t(lang, 'state.SUSPECTED.advice1', vars), t(lang, 'state.SUSPECTED.advice2', vars)],
    faq: ['last-gasp', 'padam-vs-tusbung'],
  };
}

type PlainState = Exclude<MeterState, 'OUTAGE'> | 'AMR';
const ADVICE_COUNT: Readonly<Record<PlainState, 1 | 2>> = {
  ENERGIZED: 2,
  DISCONNECTED: 2,
  RECONNECT_ENABLED: 2,
  POWER_LIMIT_TRIP: 2,
  UNKNOWN: 1,
  AMR: 2,
};

function plainWords(state: PlainState, p: MeterProfile, since: number | null, lang: Lang): Words {
  const vars = { since: sinceText(since, p.timezone, lang), ulp: p.ulp };
  const advice = [t(lang, `state.${state}.advice1` as MessageKey, vars)];
  if (ADVICE_COUNT[state] === 2) advice.push(t(lang, `state.${state}.advice2` as MessageKey, vars));
  return {
    headline: t(lang, `state.${state}.headline` as MessageKey),
    detail: t(lang, `state.${state}.detail` as MessageKey, vars),
    advice,
    faq: STATE_FAQ[state],
  };
}

/** The call-centre answer for one meter, in `a.lang` (Indonesian by default). */
export function describeMeter(a: AnswerInput): MeterAnswer {
  const lang = a.lang ?? DEFAULT_LANG;
  const p = a.profile;
  const ami = p.kdpm !== 'A';
  const state: MeterState | null = ami ? (a.status?.state ?? 'ENERGIZED') : null;
  const since = ami ? (a.status?.since ?? null) : null;
  const suspected = state === 'ENERGIZED' && a.suspected && isPending(a.suspected) ? a.suspected : null;
  const words =
    state === null
      ? plainWords('AMR', p, null, lang)
      : state === 'OUTAGE'
        ? outageWords(a, since, lang)
        : suspected
          ? suspectedWords(suspected, p, lang)
          : plainWords(state, p, since, lang);
  return {
    meter_id: p.meter_id,
    idpel: p.idpel,
    kdpm: p.kdpm,
    kdpm_label: kdpmLabel(p.kdpm, lang),
    ami,
    tariff: p.tariff,
    daya_va: p.daya_va,
    region: p.region,
    ulp: p.ulp,
    gardu_id: p.gardu_id,
    feeder_id: p.feeder_id,
    timezone: p.timezone,
    state,
    since,
    since_text: since ? formatLocalTime(since, p.timezone, lang) : null,
    outage_id: state === 'OUTAGE' ? (a.status?.outage_id ?? null) : null,
    suspected: suspected && {
      outage_id: suspected.outage_id,
      status: suspected.status,
      scope: suspected.scope,
      started_at: suspected.started_at,
      started_text: formatLocalTime(suspected.started_at, p.timezone, lang),
    },
    ...words,
    consumption: a.consumption ?? null,
    consumption_text: consumptionText(a.consumption, p.timezone, lang),
    lang,
  };
}

/** First day (YYYY-MM-DD) of the local calendar month containing `epochMs` in `timeZone`: the billing period. */
export function billingPeriodOf(epochMs: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
  }).formatToParts(new Date(epochMs));
  const y = parts.find((x) => x.type === 'year')!.value;
  const m = parts.find((x) => x.type === 'month')!.value;
  return `${y}-${m}-01`;
}
