import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Passwords of the local stack, generated once per machine into
 * AMI_HOME/secrets.env (mode 0600, ignored by git). Nothing secret is committed.
 */
export const SECRET_NAMES = [
  'CLICKHOUSE_WRITER_PASSWORD',
  'CLICKHOUSE_ANALYST_PASSWORD',
  /** The web service's command audit user (`ami_audit`): INSERT through the audit inbox only. */
  'CLICKHOUSE_AUDIT_PASSWORD',
] as const;
export type Secrets = Record<(typeof SECRET_NAMES)[number], string>;

/** Generates the secrets named (default: ClickHouse's) that the file lacks; returns all the file holds. */
export function loadOrCreateSecrets(
  file: string,
  names: readonly string[] = SECRET_NAMES,
): Secrets & Record<string, string> {
  const existing: Record<string, string> = {};
  if (existsSync(file)) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
      if (m) existing[m[1]!] = m[2]!;
    }
  }
  let changed = false;
  for (const name of names) {
    if (!existing[name]) {
      existing[name] = randomBytes(18).toString('base64url');
      changed = true;
    }
  }
  if (changed) {
    mkdirSync(dirname(file), { recursive: true });
    const text = Object.entries(existing)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n');
    writeFileSync(file, `${text}\n`, { mode: 0o600 });
  }
  return existing as Secrets & Record<string, string>;
}
