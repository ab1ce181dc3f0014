import { describe, expect, it } from 'vitest';
import { loadCommonConfig } from '@ami/lib';
import { uniqueName } from '../support/fixtures.js';

const CT = 'application/vnd.schemaregistry.v1+json';
const base = () => loadCommonConfig().SCHEMA_REGISTRY_URL;

interface RegistryAnswer {
  id?: number;
  version?: number;
  schema?: string;
  is_compatible?: boolean;
}

async function call(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: RegistryAnswer }> {
  const res = await fetch(`${base()}${path}`, {
    method,
    headers: { 'Content-Type': CT, Accept: CT },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : {}) as RegistryAnswer };
}

const v1 = {
  type: 'record',
  name: 'Probe',
  namespace: 'id.co.pln.ami.test',
  fields: [{ name: 'a', type: 'string' }],
};
const v2 = { ...v1, fields: [...v1.fields, { name: 'b', type: 'int', default: 0 }] };
const incompatible = { ...v1, fields: [...v1.fields, { name: 'c', type: 'int' }] };

/** The registry of the stack speaks the Confluent REST API, compatibility rules included. */
describe('schema registry (Confluent REST API)', () => {
  const subject = `${uniqueName('probe')}-value`;

  it('registers a schema, finds it by id and as the latest version', async () => {
    const reg = await call('POST', `/subjects/${subject}/versions`, { schema: JSON.stringify(v1) });
    expect(reg.status).toBe(200);
    expect(typeof reg.json.id).toBe('number');

    const byId = await call('GET', `/schemas/ids/${reg.json.id}`);
    expect(byId.status).toBe(200);
    expect(JSON.parse(byId.json.schema!)).toEqual(v1);

    const latest = await call('GET', `/subjects/${subject}/versions/latest`);
    expect(latest.status).toBe(200);
    expect(latest.json.id).toBe(reg.json.id);
    expect(latest.json.version).toBe(1);
  });

  it('under BACKWARD accepts a field with a default and refuses one without', async () => {
    const cfg = await call('PUT', `/config/${subject}`, { compatibility: 'BACKWARD' });
    expect(cfg.status).toBe(200);

    const check = await call('POST', `/compatibility/subjects/${subject}/versions/latest`, {
      schema: JSON.stringify(incompatible),
    });
    expect(check.json.is_compatible).toBe(false);
    const refused = await call('POST', `/subjects/${subject}/versions`, {
      schema: JSON.stringify(incompatible),
    });
    expect(refused.status).toBe(409);

    const ok = await call('POST', `/subjects/${subject}/versions`, { schema: JSON.stringify(v2) });
    expect(ok.status).toBe(200);
    const latest = await call('GET', `/subjects/${subject}/versions/latest`);
    expect(latest.json.version).toBe(2);
    expect(JSON.parse(latest.json.schema!)).toEqual(v2);
  });

  it('answers 404 for an unknown schema id', async () => {
    const res = await call('GET', `/schemas/ids/987654321`);
    expect(res.status).toBe(404);
  });
});
