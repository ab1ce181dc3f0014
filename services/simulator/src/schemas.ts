import {
  AvroCodec,
  createRegistry,
  RECORD_NAMES,
  topicNames,
  UnavailableError,
  valueSubject,
  type CommonConfig,
  type RecordName,
  type TopicRole,
} from '@ami/lib';

/** Which topic carries each record (TopicNameStrategy: subject `<topic>-value`). */
export const RECORD_TOPIC: Readonly<Record<RecordName, TopicRole>> = {
  MeterProfile: 'meters',
  MeterRead: 'reads',
  MeterEvent: 'events',
  MeterCommand: 'commands',
  Outage: 'outages',
  MeterStatus: 'meterStatus',
  CommandResult: 'commandResults',
  CallRecord: 'calls',
  SuspectedOutage: 'suspectedOutages',
};

/** Topics that carry a record besides its own: machine pings are MeterCommands on `<prefix>.pings`. */
export const MORE_RECORD_TOPICS: ReadonlyArray<readonly [RecordName, TopicRole]> = [
  ['MeterCommand', 'pings'],
];

export type Compatibility = 'BACKWARD' | 'BACKWARD_TRANSITIVE' | 'FORWARD' | 'FULL' | 'NONE';

export interface Registered {
  record: RecordName;
  subject: string;
  id: number;
  compatibility: Compatibility;
}

export function subjectOf(prefix: string, record: RecordName): string {
  return valueSubject(topicNames(prefix)[RECORD_TOPIC[record]]);
}

async function registryCall(url: string, init: RequestInit, what: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, {
      ...init,
      headers: { 'Content-Type': 'application/vnd.schemaregistry.v1+json', ...init.headers },
    });
  } catch (err) {
    throw new UnavailableError('schema-registry', `${what}: ${(err as Error).message}`, err);
  }
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok)
    throw new UnavailableError('schema-registry', `${what}: HTTP ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** PUT /config/<subject>: the subject's compatibility level. */
export async function setCompatibility(
  registryUrl: string,
  subject: string,
  level: Compatibility,
): Promise<void> {
  await registryCall(
    `${registryUrl}/config/${encodeURIComponent(subject)}`,
    { method: 'PUT', body: JSON.stringify({ compatibility: level }) },
    `set ${level} on ${subject}`,
  );
}

/** GET /config/<subject>: the subject's own level. */
export async function getCompatibility(registryUrl: string, subject: string): Promise<string> {
  const body = (await registryCall(
    `${registryUrl}/config/${encodeURIComponent(subject)}`,
    { method: 'GET' },
    `read config of ${subject}`,
  )) as { compatibilityLevel?: string; compatibility?: string };
  return body.compatibilityLevel ?? body.compatibility ?? 'UNKNOWN';
}

/**
 * Register all record schemas of `schemas/` under the subject of every topic that carries them
 * (RECORD_TOPIC, MORE_RECORD_TOPICS) and set each subject BACKWARD.
 */
export async function registerSchemas(
  cfg: Pick<CommonConfig, 'SCHEMA_REGISTRY_URL' | 'AMI_TOPIC_PREFIX'>,
  codec = new AvroCodec(createRegistry(cfg)),
): Promise<Registered[]> {
  const out: Registered[] = [];
  const names = topicNames(cfg.AMI_TOPIC_PREFIX);
  const carried = [...RECORD_NAMES.map((r) => [r, RECORD_TOPIC[r]] as const), ...MORE_RECORD_TOPICS];
  for (const [record, topic] of carried) {
    const subject = valueSubject(names[topic]);
    const id = await codec.register(record, subject);
    await setCompatibility(cfg.SCHEMA_REGISTRY_URL, subject, 'BACKWARD');
    out.push({ record, subject, id, compatibility: 'BACKWARD' });
  }
  return out;
}
