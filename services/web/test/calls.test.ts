import { describe, expect, it } from 'vitest';
import type { CallRecord } from '@ami/lib';
import { complaintStep, logCallSchema, newCall, openComplaints, type Actor } from '../src/calls.js';
import { CallTable } from '../src/tables.js';
import { T0, profile } from './fixtures.js';

const agent: Actor = { user: 'sri', role: 'agent', ulps: [] };
const denpasar: Actor = { user: 'wayan', role: 'unit', ulps: ['DENPASAR'] };
const sanur: Actor = { user: 'made', role: 'unit', ulps: ['SANUR'] };

function logged(outcome: 'ISSUE_CLOSED' | 'FORWARDED_TO_UNIT', id = 'call-1'): CallRecord {
  const r = newCall(
    logCallSchema.parse({
      q: '512345678901',
      complaint_type: 'KELUHAN_METER',
      complaint_subtype: 'PENORMALAN',
      outcome,
      notes: ' pelanggan tidak bisa menekan tombol ',
    }),
    profile(),
    agent,
    T0,
    id,
  );
  if (!r.ok) throw new Error(r.refusal.key);
  return r.value;
}

describe('logging a call as the SOP says', () => {
  it('records the keyword KWH METER AMI, type, sub-type, agent, time and notes', () => {
    const c = logged('ISSUE_CLOSED');
    expect(c).toMatchObject({
      keyword: 'KWH METER AMI',
      complaint_type: 'KELUHAN_METER',
      complaint_subtype: 'PENORMALAN',
      agent: 'sri',
      called_at: T0,
      notes: 'pelanggan tidak bisa menekan tombol',
      idpel: '512345678901',
      ulp: 'DENPASAR',
      action: 'LOGGED',
    });
  });

  it('closed at first contact: Issue Closed at CC 123, PTL off, nothing for the unit', () => {
    const c = logged('ISSUE_CLOSED');
    expect(c).toMatchObject({ status: 'ISSUE_CLOSED', ptl: false });
    expect(openComplaints([c], denpasar)).toEqual([]);
  });

  it('forwarded: an open complaint for the customer’s ULP with PTL on', () => {
    const c = logged('FORWARDED_TO_UNIT');
    expect(c).toMatchObject({ status: 'OPEN', ptl: true });
    expect(openComplaints([c], denpasar)).toEqual([c]);
    expect(openComplaints([c], sanur)).toEqual([]);
  });

  it('refuses a sub-type that is not under its type, and unknown fields or outcomes', () => {
    const r = newCall(
      {
        q: 'x',
        complaint_type: 'INFORMASI',
        complaint_subtype: 'PENORMALAN',
        outcome: 'ISSUE_CLOSED',
        notes: '',
      },
      profile(),
      agent,
      T0,
      'c',
    );
    expect(r.ok).toBe(false);
    expect(!r.ok && r.refusal).toMatchObject({ status: 400, key: 'error.subtype' });
    expect(
      logCallSchema.safeParse({ q: '1', complaint_type: 'A', complaint_subtype: 'B', outcome: 'LATER' })
        .success,
    ).toBe(false);
    expect(
      logCallSchema.safeParse({
        q: '1',
        complaint_type: 'A',
        complaint_subtype: 'B',
        outcome: 'ISSUE_CLOSED',
        agent: 'me',
      }).success,
    ).toBe(false);
    expect(
      logCallSchema.safeParse({
        q: '1',
        complaint_type: 'A\u0000',
        complaint_subtype: 'B',
        outcome: 'ISSUE_CLOSED',
      }).success,
    ).toBe(false);
  });
});

describe('the unit works a forwarded complaint', () => {
  it('OPEN -> IN_PROGRESS -> CLOSED by unit staff of its ULP, with a resolution; PTL off at the end', () => {
    const c = logged('FORWARDED_TO_UNIT');
    const w = complaintStep(c, c.call_id, 'WORK_STARTED', denpasar, T0 + 60_000);
    expect(w.ok && w.value).toMatchObject({
      status: 'IN_PROGRESS',
      ptl: true,
      actor: 'wayan',
      action: 'WORK_STARTED',
    });
    const done = complaintStep(
      w.ok ? w.value : undefined,
      c.call_id,
      'CLOSED',
      denpasar,
      T0 + 120_000,
      ' tombol ditekan petugas ',
    );
    expect(done.ok && done.value).toMatchObject({
      status: 'CLOSED',
      ptl: false,
      resolution: 'tombol ditekan petugas',
      agent: 'sri',
      updated_at: T0 + 120_000,
    });
  });

  it('may close an OPEN complaint directly', () => {
    const c = logged('FORWARDED_TO_UNIT');
    expect(complaintStep(c, c.call_id, 'CLOSED', denpasar, T0, 'selesai').ok).toBe(true);
  });

  it('refuses: another ULP (403), no resolution (400), a closed or closed-at-CC call (409/404), unknown id (404)', () => {
    const c = logged('FORWARDED_TO_UNIT');
    const refusal = (r: ReturnType<typeof complaintStep>) => (r.ok ? null : r.refusal.status);
    expect(refusal(complaintStep(c, c.call_id, 'WORK_STARTED', sanur, T0))).toBe(403);
    expect(refusal(complaintStep(c, c.call_id, 'CLOSED', denpasar, T0, '  '))).toBe(400);
    const closed = complaintStep(c, c.call_id, 'CLOSED', denpasar, T0, 'ok');
    expect(
      refusal(complaintStep(closed.ok ? closed.value : undefined, c.call_id, 'WORK_STARTED', denpasar, T0)),
    ).toBe(409);
    expect(
      refusal(complaintStep(closed.ok ? closed.value : undefined, c.call_id, 'CLOSED', denpasar, T0, 'x')),
    ).toBe(409);
    const cc = logged('ISSUE_CLOSED');
    expect(refusal(complaintStep(cc, cc.call_id, 'CLOSED', denpasar, T0, 'x'))).toBe(404);
    expect(refusal(complaintStep(undefined, 'nope', 'CLOSED', denpasar, T0, 'x'))).toBe(404);
  });

  it('each change is strictly later than the one before, so the latest per call_id is its state', () => {
    const c = logged('FORWARDED_TO_UNIT');
    const w = complaintStep(c, c.call_id, 'WORK_STARTED', denpasar, T0 - 5_000); // a clock behind
    expect(w.ok && w.value.updated_at).toBe(T0 + 1);
  });
});

describe('CallTable', () => {
  it('keeps the latest record per call_id; a record read back late never undoes a later one', () => {
    const table = new CallTable();
    const c = logged('FORWARDED_TO_UNIT');
    const closed = complaintStep(c, c.call_id, 'CLOSED', denpasar, T0 + 1000, 'ok');
    table.apply(c.idpel, c);
    table.apply(c.idpel, closed.ok ? closed.value : c);
    table.apply(c.idpel, c); // the LOGGED record consumed back from Kafka after the local close
    expect(table.get(c.call_id)?.status).toBe('CLOSED');
    table.apply(c.idpel, logged('ISSUE_CLOSED', 'call-2'));
    expect(
      table
        .ofIdpel(c.idpel)
        .map((x) => x.call_id)
        .sort(),
    ).toEqual(['call-1', 'call-2']);
  });
});
