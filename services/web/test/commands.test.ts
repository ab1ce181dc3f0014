import { describe, expect, it } from 'vitest';
import { ValidationError } from '@ami/lib';
import { auditRows, commandReport, reportStatus, sendFailedRows } from '../src/campaign.js';
import { commandBody, formatReport } from '../src/cliCore.js';
import { parseCampaignFile, parseCommandRequest, planCommands } from '../src/commands.js';
import { ProfileTable } from '../src/tables.js';
import { T0, profile } from './fixtures.js';

const table = new ProfileTable();
table.apply('MTR-1', profile({ meter_id: 'MTR-1', idpel: '111111111111', daya_va: 1300 }));
table.apply('MTR-2', profile({ meter_id: 'MTR-2', idpel: '222222222222', daya_va: 5500 }));
table.apply('MTR-A', profile({ meter_id: 'MTR-A', idpel: '333333333333', kdpm: 'A' }));

let n = 0;
const ctx = { user: 'ani', now: T0, newId: () => `cmd-${++n}` };
const req = (body: object) => parseCommandRequest(body, 100);

describe('command requests', () => {
  it('an operator scoped to regions or ULPs gets meters elsewhere refused OUT_OF_SCOPE, meter by meter', () => {
    const scoped = new ProfileTable();
    scoped.apply(
      'M-BALI',
      profile({ meter_id: 'M-BALI', idpel: '444444444444', region: 'BALI', ulp: 'DENPASAR' }),
    );
    scoped.apply(
      'M-JKT',
      profile({ meter_id: 'M-JKT', idpel: '555555555555', region: 'JAKARTA', ulp: 'MENTENG' }),
    );
    const body = req({ type: 'DISCONNECT', meter_ids: ['M-BALI', 'M-JKT'] });
    const byRegion = planCommands(body, scoped, { ...ctx, scope: { regions: ['BALI'] } });
    expect(byRegion.accepted.map((a) => a.meter_id)).toEqual(['M-BALI']);
    expect(byRegion.refused).toMatchObject([{ meter_id: 'M-JKT', code: 'OUT_OF_SCOPE' }]);
    const byUlp = planCommands(body, scoped, { ...ctx, scope: { ulps: ['MENTENG'] } });
    expect(byUlp.accepted.map((a) => a.meter_id)).toEqual(['M-JKT']);
    expect(planCommands(body, scoped, { ...ctx, scope: { regions: [], ulps: [] } }).accepted).toHaveLength(2);
  });

  it('refuses unreadable requests as a whole with clear errors', () => {
    expect(() => req({ type: 'EXPLODE', idpels: ['111111111111'] })).toThrow(/type must be one of/);
    expect(() => req({ type: 'DISCONNECT' })).toThrow(/no meters/);
    expect(() => req({ type: 'SET_POWER_LIMIT', idpels: ['111111111111'] })).toThrow(/needs power_limit_va/);
    expect(() => req({ type: 'DISCONNECT', idpels: ['111111111111'], power_limit_va: 900 })).toThrow(
      /only for SET_POWER_LIMIT/,
    );
    expect(() => parseCommandRequest({ type: 'READ_NOW', meter_ids: ['a', 'b', 'c'] }, 2)).toThrow(
      /at most 2/,
    );
    expect(() => req({ type: 'READ_NOW', meter_ids: ['a'], extra: 1 })).toThrow(ValidationError);
  });

  it('a campaign reports every meter: sent or refused with the reason', () => {
    const plan = planCommands(
      req({
        type: 'DISCONNECT',
        idpels: ['111111111111', '999999999999', '333333333333', '12ab', '111111111111'],
        meter_ids: ['MTR-2', 'nope'],
      }),
      table,
      ctx,
    );
    expect(plan.accepted.map((a) => a.meter_id)).toEqual(['MTR-1', 'MTR-2']);
    expect(plan.refused.map((r) => [r.target, r.code])).toEqual([
      ['idpel:999999999999', 'UNKNOWN_IDPEL'],
      ['idpel:333333333333', 'AMR_METER'],
      ['idpel:12ab', 'INVALID_IDPEL'],
      ['idpel:111111111111', 'DUPLICATE'],
      ['meter:nope', 'UNKNOWN_METER'],
    ]);
    expect(plan.accepted[0]!.command).toMatchObject({
      meter_id: 'MTR-1',
      type: 'DISCONNECT',
      issued_by: 'ani',
      issued_at: T0,
      power_limit_va: null,
    });
    expect(plan.refused.find((r) => r.code === 'AMR_METER')!.message).toMatch(/AMR.*not AMI/);
  });

  it('power limits must lie within 450 VA and the meter daya', () => {
    const plan = planCommands(
      req({ type: 'SET_POWER_LIMIT', idpels: ['111111111111', '222222222222'], power_limit_va: 2200 }),
      table,
      ctx,
    );
    expect(plan.accepted.map((a) => a.meter_id)).toEqual(['MTR-2']);
    expect(plan.accepted[0]!.command.power_limit_va).toBe(2200);
    expect(plan.refused[0]).toMatchObject({ code: 'POWER_LIMIT_OUT_OF_RANGE', meter_id: 'MTR-1' });
    expect(plan.refused[0]!.message).toMatch(/450\.\.1300 VA/);
    const low = planCommands(
      req({ type: 'SET_POWER_LIMIT', meter_ids: ['MTR-2'], power_limit_va: 449 }),
      table,
      ctx,
    );
    expect(low.refused[0]!.code).toBe('POWER_LIMIT_OUT_OF_RANGE');
    const edge = planCommands(
      req({ type: 'SET_POWER_LIMIT', meter_ids: ['MTR-1'], power_limit_va: 450 }),
      table,
      ctx,
    );
    expect(edge.accepted).toHaveLength(1);
  });

  it('audit rows and the report cover every target; a failed send is recorded as such', () => {
    const plan = planCommands(
      req({ type: 'DISCONNECT', idpels: ['111111111111', '999999999999'] }),
      table,
      ctx,
    );
    const c = {
      request_id: 'r1',
      user: 'ani',
      role: 'operator',
      type: 'DISCONNECT' as const,
      power_limit_va: null,
      reason: 'TUL VI-01',
      now: T0,
    };
    const rows = auditRows(plan, c);
    expect(rows.map((r) => [r.target, r.result])).toEqual([
      ['idpel:111111111111', 'SENT'],
      ['idpel:999999999999', 'REFUSED'],
    ]);
    expect(rows[1]!.detail).toMatch(/^UNKNOWN_IDPEL: /);
    expect(sendFailedRows(rows, 'boom')).toEqual([{ ...rows[0], result: 'SEND_FAILED', detail: 'boom' }]);
    const ok = commandReport(plan, c, null);
    expect([ok.sent, ok.refused, ok.failed, reportStatus(ok)]).toEqual([1, 1, 0, 207]);
    const failed = commandReport(plan, c, 'boom');
    expect([failed.sent, failed.failed, reportStatus(failed)]).toEqual([0, 1, 503]);
    expect(formatReport(ok)).toMatch(/1 sent, 1 refused, 0 failed\n.*SENT.*\n.*REFUSED.*UNKNOWN_IDPEL/);
  });
});

describe('campaign files and the CLI body', () => {
  it('reads one IDPEL per line, ignoring comments and blanks', () => {
    expect(
      parseCampaignFile(
        '# tusbung 21 Nov\n111111111111\n\n222222222222 # late\n333333333333,444444444444\r\n',
      ),
    ).toEqual(['111111111111', '222222222222', '333333333333', '444444444444']);
  });

  it('maps verbs to command types and checks options', () => {
    expect(commandBody('reconnect', { idpel: ['111111111111'] })).toMatchObject({
      type: 'ENABLE_RECONNECT',
      idpels: ['111111111111'],
    });
    expect(commandBody('power-limit', { meter: ['MTR-1'], limitVa: '900' })).toMatchObject({
      type: 'SET_POWER_LIMIT',
      power_limit_va: 900,
    });
    expect(commandBody('disconnect', {}, '111111111111\n')).toMatchObject({ idpels: ['111111111111'] });
    expect(() => commandBody('explode', { idpel: ['1'] })).toThrow(/unknown command/);
    expect(() => commandBody('power-limit', { idpel: ['1'] })).toThrow(/--limit-va/);
    expect(() => commandBody('read-now', {})).toThrow(/--idpel, --meter or --file/);
  });
});
