import { ValidationError, type MeterCommandType } from '@ami/lib';
import type { CommandReport } from './campaign.js';
import { parseCampaignFile } from './commands.js';

/** `ami command <verb>`: the verbs an operator types, to contract command types. */
export const VERBS: Readonly<Record<string, MeterCommandType>> = {
  disconnect: 'DISCONNECT',
  reconnect: 'ENABLE_RECONNECT',
  'power-limit': 'SET_POWER_LIMIT',
  'read-now': 'READ_NOW',
};

export interface CommandOptions {
  idpel?: string[];
  meter?: string[];
  limitVa?: string;
  reason?: string;
}

/** The API body of `ami command`; `fileText` is the campaign file's content, if any. */
export function commandBody(verb: string, o: CommandOptions, fileText?: string): Record<string, unknown> {
  const type = VERBS[verb];
  if (!type)
    throw new ValidationError(
      `unknown command ${JSON.stringify(verb)}; use ${Object.keys(VERBS).join(', ')}`,
    );
  const idpels = [...(o.idpel ?? []), ...(fileText === undefined ? [] : parseCampaignFile(fileText))];
  const meterIds = o.meter ?? [];
  if (idpels.length + meterIds.length === 0) throw new ValidationError('give --idpel, --meter or --file');
  let limit: number | null = null;
  if (o.limitVa !== undefined) {
    limit = Number(o.limitVa);
    if (!Number.isInteger(limit))
      throw new ValidationError(`--limit-va ${o.limitVa} is not a whole number of VA`);
  }
  if (type === 'SET_POWER_LIMIT' && limit === null)
    throw new ValidationError('power-limit needs --limit-va <VA>');
  return { type, idpels, meter_ids: meterIds, power_limit_va: limit, reason: o.reason ?? null };
}

/** A readable report: totals, then one line per meter (refusals with their reason). */
export function formatReport(r: CommandReport): string {
  const head = `${r.type} by ${r.issued_by} (request ${r.request_id}): ${r.sent} sent, ${r.refused} refused, ${r.failed} failed`;
  const lines = r.results.map(
    (x) =>
      `${x.result.padEnd(11)} ${x.target.padEnd(24)} ${x.meter_id ?? '-'}${x.code ? `  ${x.code}: ${x.message}` : ''}`,
  );
  return [head, ...lines].join('\n');
}
