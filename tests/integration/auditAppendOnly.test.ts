import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ClickHouseLogLevel,
  createClient,
  type ClickHouseClient,
  type ClickHouseSettings,
} from '@clickhouse/client';
import { auditDatabases, createClickHouse, sqlIdent } from '@ami/lib';
import { ClickHouseComponent, freePorts, loadStackSettings } from '@ami/stack';
import { loadOrCreateSecrets, type Secrets } from '@ami/stack/secrets';
import { loadMigrations, migrate, MIGRATIONS_DIR } from '@ami/loader/migrate';
import { insertAudit, type AuditRow } from '@ami/web/store';
import { eventually, testLogger, uniqueName } from '../support/fixtures.js';
import { startWeb, type WebHarness } from '../support/webHarness.js';

/**
 * The command audit is append-only for every service user. A ClickHouse of its own (the local
 * stack's component and users.xml, on free ports, in a temporary AMI_HOME) so that forgeries
 * can really be tried; the users' names and databases are the stack's (`ami`, `ami_audit`).
 */
const DB = 'ami';
const { trail: TRAIL_DB, inbox: INBOX_DB } = auditDatabases(DB);
const TRAIL = `${TRAIL_DB}.command_audit`;
const INBOX = `${INBOX_DB}.command_audit`;

/** As configured, and with DDL switched back on for the query (18.16 lets any non-readonly user). */
const BYPASS: ClickHouseSettings[] = [{}, { allow_ddl: 1 }];

/** Server error codes that mean "not allowed": ACCESS_DENIED, READONLY, QUERY_IS_PROHIBITED. */
const REFUSED = ['291', '164', '392'];

const auditRow = (over: Partial<AuditRow> = {}): AuditRow => ({
  request_id: uniqueName('req'),
  command_id: 'cmd-1',
  at: Date.now(),
  issued_by: 'ani',
  role: 'operator',
  type: 'DISCONNECT',
  target: 'idpel:510000000001',
  meter_id: 'MTR-1',
  idpel: '510000000001',
  power_limit_va: null,
  reason: 'tusbung',
  result: 'SENT',
  detail: '',
  ...over,
});

const forgedJson = (by: string) => ({
  ...auditRow({ request_id: `forged-by-${by}`, issued_by: 'nobody' }),
  at: Math.floor(Date.now() / 1000),
  recorded_at: Math.floor(Date.now() / 1000),
});

async function errorCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    // 18.16's error text ("Code: 291, e.displayText() = ...") is older than the client's parser.
    const e = err as { code?: string; message: string };
    return e.code ?? /^Code: (\d+)/.exec(e.message)?.[1] ?? e.message;
  }
  return 'accepted';
}

describe('command audit: append-only for every service user (users.xml of the local stack)', () => {
  let home: string;
  let server: ClickHouseComponent;
  let url: string;
  let tcpPort: number;
  let secrets: Secrets;
  const clients: ClickHouseClient[] = [];
  let admin: ClickHouseClient;
  /** A client as the services make it, or (for attempts that must fail) one that does not log each refusal. */
  const as = (user: string, password: string, quiet = false) => {
    const c = quiet
      ? createClient({ url, username: user, password, log: { level: ClickHouseLogLevel.OFF } })
      : createClickHouse({ CLICKHOUSE_URL: url, CLICKHOUSE_USER: user, CLICKHOUSE_PASSWORD: password });
    clients.push(c);
    return c;
  };
  let users: Record<'ami_writer' | 'ami_analyst' | 'ami_audit', ClickHouseClient>;
  const trailRows = async (where = '1') => {
    const rs = await admin.query({
      query: `SELECT request_id, issued_by, toString(result) AS result FROM ${TRAIL} WHERE ${where} ORDER BY request_id`,
      format: 'JSONEachRow',
    });
    return rs.json<{ request_id: string; issued_by: string; result: string }>();
  };

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'ami-audit-'));
    const [http, tcp] = (await freePorts(2)) as [number, number];
    tcpPort = tcp;
    server = new ClickHouseComponent(
      loadStackSettings({
        AMI_HOME: home,
        CLICKHOUSE_HTTP_PORT: String(http),
        CLICKHOUSE_TCP_PORT: String(tcp),
      }),
    );
    await server.install();
    await server.start();
    await eventually(async () => ((await server.healthy()) ? true : undefined), {
      what: 'private ClickHouse up',
    });
    url = server.address;
    secrets = loadOrCreateSecrets(join(home, 'secrets.env'));
    admin = as('default', process.env.CLICKHOUSE_DEFAULT_PASSWORD ?? '');
    await migrate(admin, DB, testLogger);
    users = {
      ami_writer: as('ami_writer', secrets.CLICKHOUSE_WRITER_PASSWORD, true),
      ami_analyst: as('ami_analyst', secrets.CLICKHOUSE_ANALYST_PASSWORD, true),
      ami_audit: as('ami_audit', secrets.CLICKHOUSE_AUDIT_PASSWORD, true),
    };
  }, 120_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await server?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it("the audit user's INSERT lands in the trail, through the inbox", async () => {
    const row = auditRow();
    await insertAudit(as('ami_audit', secrets.CLICKHOUSE_AUDIT_PASSWORD), DB, [row]);
    expect(await trailRows(`request_id = '${row.request_id}'`)).toEqual([
      { request_id: row.request_id, issued_by: 'ani', result: 'SENT' },
    ]);
  });

  it('refuses forged INSERTs by the loader and the analyst user, into the trail and the inbox', async () => {
    for (const user of ['ami_writer', 'ami_analyst'] as const)
      for (const table of [TRAIL, INBOX])
        expect(
          await errorCode(users[user].insert({ table, format: 'JSONEachRow', values: [forgedJson(user)] })),
          `${user} INSERT INTO ${table}`,
        ).toBeOneOf(REFUSED);
    // The audit user's door leads into the trail only: it cannot write the trail directly either.
    expect(
      await errorCode(
        users.ami_audit.insert({ table: TRAIL, format: 'JSONEachRow', values: [forgedJson('ami_audit')] }),
      ),
    ).toBeOneOf(REFUSED);
    expect(await trailRows("issued_by = 'nobody'")).toEqual([]);
  });

  it('refuses ALTER ... DELETE/UPDATE, DROP/DETACH PARTITION, TRUNCATE, RENAME, DROP by every service user, even with allow_ddl=1 for the query', async () => {
    const kept = await trailRows();
    expect(kept.length).toBeGreaterThan(0);
    const partition = new Date().toISOString().slice(0, 7).replace('-', '');
    const rewrites = [
      `ALTER TABLE ${TRAIL} DELETE WHERE 1`,
      `ALTER TABLE ${TRAIL} UPDATE detail = 'rewritten' WHERE 1`,
      `ALTER TABLE ${TRAIL} DROP PARTITION ${partition}`,
      `ALTER TABLE ${TRAIL} DETACH PARTITION ${partition}`,
      `TRUNCATE TABLE ${TRAIL}`,
      `RENAME TABLE ${TRAIL} TO ${TRAIL_DB}.command_audit_old`,
      `RENAME TABLE ${TRAIL} TO ${DB}.command_audit_stolen`,
      `RENAME TABLE ${TRAIL} TO ${INBOX_DB}.command_audit_stolen`,
      `DROP TABLE ${TRAIL}`,
      `DROP DATABASE ${TRAIL_DB}`,
      `CREATE TABLE ${TRAIL_DB}.command_audit_fake (x UInt8) ENGINE = Memory`,
      // ami's administrator has a blank password on the local stack: the server may not be
      // made to sign in to itself as `default` either.
      `INSERT INTO FUNCTION remote('127.0.0.1:${tcpPort}', ${TRAIL}, 'default', '') SELECT * FROM ${TRAIL}`,
    ];
    for (const [user, ch] of Object.entries(users))
      for (const query of rewrites)
        for (const settings of BYPASS) {
          const code = await errorCode(ch.command({ query, clickhouse_settings: settings }));
          expect(code, `${user}: ${query} ${JSON.stringify(settings)}`).toBeOneOf(REFUSED);
        }
    // The inbox holds nothing to delete and refuses mutations (a Buffer table).
    for (const query of [`ALTER TABLE ${INBOX} DELETE WHERE 1`, `TRUNCATE TABLE ${INBOX}`])
      expect(
        await errorCode(users.ami_audit.command({ query, clickhouse_settings: { allow_ddl: 1 } })),
      ).not.toBe('accepted');
    expect(await trailRows()).toEqual(kept);
  });

  it('lets analysts read the trail; the loader and the audit user cannot read it', async () => {
    const count = async (ch: ClickHouseClient, from: string) => {
      const rs = await ch.query({ query: `SELECT count() AS n FROM ${from}`, format: 'JSONEachRow' });
      return Number((await rs.json<{ n: number }>())[0]!.n);
    };
    const viaAdmin = `remote('127.0.0.1:${tcpPort}', ${TRAIL}, 'default', '')`;
    const rows = (await trailRows()).length;
    expect(await count(users.ami_analyst, TRAIL)).toBe(rows);
    for (const user of ['ami_writer', 'ami_audit'] as const)
      for (const from of [TRAIL, viaAdmin])
        expect(await errorCode(count(users[user], from)), `${user} reads ${from}`).toBeOneOf(REFUSED);
    expect(
      await errorCode(
        users.ami_audit
          .query({ query: `SELECT * FROM ${INBOX}`, format: 'JSONEachRow' })
          .then((r) => r.json()),
      ),
    ).toBeOneOf(REFUSED);
  });

  it('migration 010 moves the rows written before it into the trail, once, also when run again', async () => {
    const db = uniqueName('it_audit_move');
    const before = mkdtempSync(join(tmpdir(), 'ami-migrations-'));
    try {
      for (const f of readdirSync(MIGRATIONS_DIR).filter((f) => /^00\d_.*\.sql$/.test(f)))
        copyFileSync(join(MIGRATIONS_DIR, f), join(before, f));
      await migrate(admin, db, testLogger, `${before}/`);
      const old = [
        auditRow({ result: 'SENT' }),
        auditRow({ result: 'REFUSED', detail: 'AMR_METER: not AMI' }),
      ];
      await admin.insert({
        table: `${sqlIdent(db)}.command_audit`,
        format: 'JSONEachRow',
        values: old.map((r) => ({ ...r, at: Math.floor(r.at / 1000), recorded_at: Math.floor(r.at / 1000) })),
      });
      await migrate(admin, db, testLogger);
      const moved = loadMigrations(db).find((m) => m.version === 10)!;
      for (const statement of moved.statements) await admin.command({ query: statement }); // an interrupted run, again
      const rs = await admin.query({
        query: `SELECT request_id, toString(result) AS result FROM ${sqlIdent(auditDatabases(db).trail)}.command_audit ORDER BY request_id`,
        format: 'JSONEachRow',
      });
      expect(await rs.json()).toEqual(
        old
          .map((r) => ({ request_id: r.request_id, result: r.result }))
          .sort((a, b) => (a.request_id < b.request_id ? -1 : 1)),
      );
      const left = await admin.query({
        query: `SELECT name FROM system.tables WHERE database = '${db}' AND name = 'command_audit'`,
        format: 'JSONEachRow',
      });
      expect(await left.json()).toEqual([]);
    } finally {
      rmSync(before, { recursive: true, force: true });
      const a = auditDatabases(db);
      for (const d of [db, a.trail, a.inbox])
        await admin.command({ query: `DROP DATABASE IF EXISTS ${sqlIdent(d)}` });
    }
  });

  describe('the web service', () => {
    let h: WebHarness;

    beforeAll(async () => {
      // History and billing read as the analyst (it can write nothing); the audit as ami_audit.
      h = await startWeb({
        CLICKHOUSE_URL: url,
        CLICKHOUSE_DB: DB,
        CLICKHOUSE_USER: 'ami_analyst',
        CLICKHOUSE_PASSWORD: secrets.CLICKHOUSE_ANALYST_PASSWORD,
        CLICKHOUSE_AUDIT_USER: 'ami_audit',
        CLICKHOUSE_AUDIT_PASSWORD: secrets.CLICKHOUSE_AUDIT_PASSWORD,
      });
    }, 120_000);
    afterAll(async () => {
      await h?.stop();
    });

    it('writes the audit of a command request through the audit user', async () => {
      // Refused meters are audited like sent ones, in the same INSERT, before anything is sent.
      const res = await fetch(`${h.base}/api/commands`, {
        method: 'POST',
        headers: { authorization: `Bearer ${h.operatorToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'DISCONNECT', idpels: ['510000000099'], reason: 'tusbung' }),
      });
      expect(res.status).toBe(422);
      const { request_id } = (await res.json()) as { request_id: string };
      const rows = await trailRows(`request_id = '${request_id.replace(/[^0-9a-f-]/g, '')}'`);
      expect(rows).toEqual([{ request_id, issued_by: 'ani', result: 'REFUSED' }]);
    });
  });
});
