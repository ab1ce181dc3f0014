import { describe, expect, it } from 'vitest';
import { AvroCodec, createRegistry, RECORD_NAMES, schemaText } from '@ami/lib';
import { getCompatibility, registerSchemas, subjectOf } from '@ami/simulator/schemas';
import { testConfig } from '../support/fixtures.js';

/** Registration under TopicNameStrategy subjects with BACKWARD compatibility, against the real registry. */

async function postVersion(
  registryUrl: string,
  subject: string,
  schema: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${registryUrl}/subjects/${encodeURIComponent(subject)}/versions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ schema }),
  });
  return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
}

function withField(record: 'MeterRead', field: Record<string, unknown>): string {
  const doc = JSON.parse(schemaText(record)) as { fields: unknown[] };
  doc.fields.push(field);
  return JSON.stringify(doc);
}

describe('ami schemas register', () => {
  const cfg = testConfig();

  it('registers every schema under <prefix>.<topic>-value and sets BACKWARD per subject', async () => {
    const registered = await registerSchemas(cfg);
    expect(registered.map((r) => r.record).sort()).toEqual([...RECORD_NAMES, 'MeterCommand'].sort());
    // Machine pings are MeterCommands on a topic of their own (the detector may not write commands).
    expect(registered.filter((r) => r.record === 'MeterCommand').map((r) => r.subject)).toEqual([
      `${cfg.AMI_TOPIC_PREFIX}.commands-value`,
      `${cfg.AMI_TOPIC_PREFIX}.pings-value`,
    ]);
    expect(registered.find((r) => r.record === 'MeterRead')?.subject).toBe(
      `${cfg.AMI_TOPIC_PREFIX}.reads-value`,
    );
    expect(registered.find((r) => r.record === 'MeterStatus')?.subject).toBe(
      `${cfg.AMI_TOPIC_PREFIX}.meter-status-value`,
    );
    for (const r of registered) {
      expect(r.id).toBeGreaterThan(0);
      expect(await getCompatibility(cfg.SCHEMA_REGISTRY_URL, r.subject)).toBe('BACKWARD');
    }
    // idempotent: registering again gives the same ids
    const again = await registerSchemas(cfg);
    expect(again.map((r) => r.id)).toEqual(registered.map((r) => r.id));
  });

  it('accepts a compatible change (a new field with a default)', async () => {
    const subject = subjectOf(cfg.AMI_TOPIC_PREFIX, 'MeterRead');
    const ok = await postVersion(
      cfg.SCHEMA_REGISTRY_URL,
      subject,
      withField('MeterRead', {
        name: 'current_a',
        type: ['null', 'float'],
        default: null,
        doc: 'test field',
      }),
    );
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.id).toEqual(expect.any(Number));
  });

  it('refuses an incompatible change (a new field without a default)', async () => {
    const subject = subjectOf(cfg.AMI_TOPIC_PREFIX, 'MeterRead');
    const refused = await postVersion(
      cfg.SCHEMA_REGISTRY_URL,
      subject,
      withField('MeterRead', { name: 'phase_angle', type: 'float' }),
    );
    expect(refused.status, JSON.stringify(refused.body)).toBe(409);
  });

  it('services starting together on a new subject all register (the first one setting BACKWARD is not a conflict)', async () => {
    // Each service has its own codec and registry client, as separate processes do.
    for (let round = 0; round < 3; round++) {
      const subject = `${cfg.AMI_TOPIC_PREFIX}.race-${round}-value`;
      const codecs = Array.from({ length: 6 }, () => new AvroCodec(createRegistry(cfg)));
      const ids = await Promise.all(codecs.map((c) => c.register('MeterRead', subject)));
      expect(new Set(ids).size).toBe(1);
      expect(await getCompatibility(cfg.SCHEMA_REGISTRY_URL, subject)).toBe('BACKWARD');
    }
  });
});
