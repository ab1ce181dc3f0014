import type { Kdpm, MeterProfile, MeterState, MeterStatus, Outage } from '@ami/lib';

/**
 * What a call-centre agent (CC 123) reads out when a customer says "my power
 * is off". Pure: the words depend only on the arguments. The one rule that must
 * never break: a disconnected meter (tusbung) is never called an outage, and a
 * meter in an outage is never called disconnected.
 */

export const KDPM_LABEL: Readonly<Record<Kdpm, string>> = {
  L: 'AMI, PLC (power line) communication',
  R: 'AMI, RF (radio mesh) communication',
  S: 'AMI, cellular communication',
  F: 'AMI, fibre-optic communication',
  A: 'AMR: remotely read, NOT an AMI meter',
};

export interface Consumption {
  /** First day of the customer's local billing month, YYYY-MM-DD. */
  billing_period: string;
  kwh: number;
  amount_rp: number;
  /** A boundary register was interpolated: the figure is an estimate. */
  estimated: boolean;
  /** Register time the figure runs to (period to date), epoch ms. */
  as_of: number;
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
  /** null for an AMR meter: its state cannot be seen remotely. */
  state: MeterState | null;
  since: number | null;
  outage_id: string | null;
  headline: string;
  detail: string;
  /** What the agent tells or does next, in order. */
  advice: string[];
  consumption: Consumption | null;
  consumption_text: string;
}

export interface AnswerInput {
  profile: MeterProfile;
  /** Latest MeterStatus; undefined: the detector never reported the meter (energized). */
  status?: MeterStatus;
  /** The outage named by status.outage_id, when known. */
  outage?: Outage;
  consumption?: Consumption | null;
}

export function formatLocalTime(epochMs: number, timeZone: string): string {
  const zone = timeZone === 'Asia/Makassar' ? 'WITA' : timeZone === 'Asia/Jayapura' ? 'WIT' : 'WIB';
  const text = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    day: '2-digit',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(new Date(epochMs));
  return `${text} ${zone}`;
}

export function formatRupiah(amount: number): string {
  return `Rp ${new Intl.NumberFormat('id-ID', { maximumFractionDigits: 0 }).format(Math.round(amount))}`;
}

export function consumptionText(c: Consumption | null | undefined, timeZone: string): string {
  if (!c) return 'Consumption this billing period is not available yet.';
  const kwh = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 }).format(c.kwh);
  const est = c.estimated ? ' (estimated: a boundary read was interpolated)' : '';
  return `This billing period (${c.billing_period.slice(0, 7)}) to ${formatLocalTime(c.as_of, timeZone)}: ${kwh} kWh, ${formatRupiah(c.amount_rp)}${est}.`;
}

interface Words {
  headline: string;
  detail: string;
  advice: string[];
}

function sinceText(since: number | null, tz: string): string {
  return since ? ` since ${formatLocalTime(since, tz)}` : '';
}

function outageWords(
  p: MeterProfile,
  since: number | null,
  outage: Outage | undefined,
  id: string | null,
): Words {
  const where = outage
    ? `${outage.scope === 'FEEDER' ? `feeder ${outage.feeder_id}` : outage.scope === 'GARDU' ? `gardu ${outage.gardu_id ?? p.gardu_id}` : 'this meter'}`
    : `gardu ${p.gardu_id}`;
  const who = outage ? `; ${outage.customers_affected} customers affected` : '';
  return {
    headline: 'Power outage (padam): no supply from the grid',
    detail: `Outage ${id ?? '(being confirmed)'} at ${where}${sinceText(outage?.started_at ?? since, p.timezone)}${who}. The meter reported the loss of supply itself.`,
    advice: [
      'Tell the customer PLN already knows about this outage and the field crew of ULP ' +
        p.ulp +
        ' is on it.',
      'No complaint is needed for the supply loss itself; log the call with the keyword "KWH METER AMI".',
    ],
  };
}

function stateWords(state: MeterState, a: AnswerInput, since: number | null): Words {
  const p = a.profile;
  const at = sinceText(since, p.timezone);
  switch (state) {
    case 'ENERGIZED':
      return {
        headline: 'Energized: supply is on at the meter',
        detail: `The meter is powered and its relay is closed${at}.`,
        advice: [
          'If the customer has no power, the fault is behind the meter (the customer installation, IML): check the MCB and the house wiring.',
          'If it persists, create a complaint in APKT for the unit to visit.',
        ],
      };
    case 'OUTAGE':
      return outageWords(p, since, a.outage, a.status?.outage_id ?? null);
    case 'DISCONNECTED':
      return {
        headline: 'Disconnected for arrears (tusbung)',
        detail: `The relay was opened by remote command for an unpaid bill${at}. The meter itself is powered and shows the relay-open symbol.`,
        advice: [
          'Supply returns after the bill is paid: reconnection is then enabled through the system.',
          'After payment, the customer presses the up and down buttons together for 3 to 5 seconds.',
        ],
      };
    case 'RECONNECT_ENABLED':
      return {
        headline: 'Reconnection enabled: the customer must press the buttons',
        detail: `Payment is recorded and reconnection is enabled${at}; the relay closes only when the customer presses the meter's buttons.`,
        advice: [
          'Ask the customer to press the up and down buttons together for 3 to 5 seconds; power then returns.',
          `If the customer cannot, report it to ULP ${p.ulp} so an officer comes to press them.`,
        ],
      };
    case 'POWER_LIMIT_TRIP':
      return {
        headline: 'Power-limit trip: the load exceeded the contracted power',
        detail: `The meter's relay opened because the load went above the power limit${at}. Supply from the grid is normal.`,
        advice: [
          'Ask the customer to switch off some appliances.',
          'Then press the up and down buttons together for 3 to 5 seconds to restore supply.',
        ],
      };
    case 'UNKNOWN':
      return {
        headline: 'State not determined',
        detail: `The meter reports its relay open for a reason the system cannot tell${at}.`,
        advice: [`Create a complaint in APKT for ULP ${p.ulp} to check the meter on site.`],
      };
  }
}

const AMR_WORDS: Words = {
  headline: 'AMR meter (KDPM A): not an AMI meter',
  detail:
    'This meter is read remotely but has no two-way control and sends no last gasp: its supply state cannot be seen from here, and remote commands are not possible.',
  advice: [
    'Ask what the meter display shows, and whether the neighbours have supply.',
    'If needed, create a complaint in APKT for the unit to visit.',
  ],
};

/** The call-centre answer for one meter. */
export function describeMeter(a: AnswerInput): MeterAnswer {
  const p = a.profile;
  const ami = p.kdpm !== 'A';
  const state: MeterState | null = ami ? (a.status?.state ?? 'ENERGIZED') : null;
  const since = ami ? (a.status?.since ?? null) : null;
  const words = state === null ? AMR_WORDS : stateWords(state, a, since);
  return {
    meter_id: p.meter_id,
    idpel: p.idpel,
    kdpm: p.kdpm,
    kdpm_label: KDPM_LABEL[p.kdpm],
    ami,
    tariff: p.tariff,
    daya_va: p.daya_va,
    region: p.region,
    ulp: p.ulp,
    gardu_id: p.gardu_id,
    state,
    since,
    outage_id: state === 'OUTAGE' ? (a.status?.outage_id ?? null) : null,
    ...words,
    consumption: a.consumption ?? null,
    consumption_text: consumptionText(a.consumption, p.timezone),
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
