import type { MeterCommandType } from '@ami/lib';
import type { Plan } from './commands.js';
import type { AuditResult, AuditRow } from './store.js';

/** What one command request did, meter by meter: nothing is left out. */
export interface CommandReport {
  request_id: string;
  type: MeterCommandType;
  issued_by: string;
  sent: number;
  refused: number;
  failed: number;
  results: {
    target: string;
    meter_id: string | null;
    idpel: string | null;
    result: AuditResult;
    command_id: string | null;
    code: string | null;
    message: string | null;
  }[];
}

export interface RequestContext {
  request_id: string;
  user: string;
  role: string;
  type: MeterCommandType;
  power_limit_va: number | null;
  reason: string | null;
  now: number;
}

/** Audit rows of a plan: SENT for each accepted meter, REFUSED (with the reason) for the rest. */
export function auditRows(plan: Plan, c: RequestContext): AuditRow[] {
  const base = {
    request_id: c.request_id,
    at: c.now,
    issued_by: c.user,
    role: c.role,
    type: c.type,
    power_limit_va: c.power_limit_va,
    reason: c.reason,
  };
  return [
    ...plan.accepted.map((a) => ({
      ...base,
      command_id: a.command.command_id,
      target: a.target,
      meter_id: a.meter_id,
      idpel: a.idpel,
      result: 'SENT' as const,
      detail: '',
    })),
    ...plan.refused.map((r) => ({
      ...base,
      command_id: '',
      target: r.target,
      meter_id: r.meter_id ?? '',
      idpel: r.idpel ?? '',
      result: 'REFUSED' as const,
      detail: `${r.code}: ${r.message}`,
    })),
  ];
}

/** The rows that record a failed send of the accepted commands. */
export function sendFailedRows(rows: readonly AuditRow[], error: string): AuditRow[] {
  return rows
    .filter((r) => r.result === 'SENT')
    .map((r) => ({ ...r, result: 'SEND_FAILED' as const, detail: error }));
}

export function commandReport(plan: Plan, c: RequestContext, sendError: string | null): CommandReport {
  const sentResult: AuditResult = sendError ? 'SEND_FAILED' : 'SENT';
  return {
    request_id: c.request_id,
    type: c.type,
    issued_by: c.user,
    sent: sendError ? 0 : plan.accepted.length,
    refused: plan.refused.length,
    failed: sendError ? plan.accepted.length : 0,
    results: [
      ...plan.accepted.map((a) => ({
        target: a.target,
        meter_id: a.meter_id,
        idpel: a.idpel,
        result: sentResult,
        command_id: a.command.command_id,
        code: sendError ? 'SEND_FAILED' : null,
        message: sendError,
      })),
      ...plan.refused.map((r) => ({
        target: r.target,
        meter_id: r.meter_id,
        idpel: r.idpel,
        result: 'REFUSED' as const,
        command_id: null,
        code: r.code,
        message: r.message,
      })),
    ],
  };
}

/** HTTP status of a report: 200 all sent, 207 some refused or failed, 422 nothing sent. */
export function reportStatus(r: CommandReport): 200 | 207 | 422 | 503 {
  if (r.failed > 0) return 503;
  if (r.refused === 0) return 200;
  return r.sent > 0 ? 207 : 422;
}
