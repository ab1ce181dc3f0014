import kafkajs, {
  type AclEntry,
  type AclOperationTypes,
  type AclResourceTypes,
  type ResourcePatternTypes,
} from 'kafkajs';
import { topicNames, type TopicRole } from '@ami/lib';

// kafkajs is CommonJS: its enums are reachable through the default export only.
const {
  AclOperationTypes: Op,
  AclPermissionTypes,
  AclResourceTypes: Res,
  ResourcePatternTypes: Pattern,
} = kafkajs;

/** The Kafka principals of the pipeline, one per service (docs/security.md). */
export type PipelineUser = 'simulator' | 'headend' | 'detector' | 'loader' | 'dashboard' | 'commands';

/**
 * A contract topic, the detector's internal state topic (services/detector/src/changelog.ts), or the
 * simulated physical world the simulator tells its head-end (services/simulator/src/supply.ts).
 */
export type GrantTopic = TopicRole | 'detectorState' | 'detectorRepartition' | 'simSupply';

export function grantTopicName(prefix: string, topic: GrantTopic): string {
  if (topic === 'detectorState') return `${prefix}.detector-state`;
  if (topic === 'detectorRepartition') return `${prefix}.detector-repartition`;
  if (topic === 'simSupply') return `${prefix}.sim.supply`;
  return topicNames(prefix)[topic];
}

export interface UserGrants {
  /** Topics the user may consume. */
  read: GrantTopic[];
  /** Topics the user may produce to. */
  write: GrantTopic[];
  /** May see (DESCRIBE) every topic under the prefix, e.g. to check at start-up that the topics exist. */
  describeAll: boolean;
  /** Consumer groups whose names start with this (PREFIXED), if the user consumes. */
  groupPrefix?: string;
  /** Transactional ids starting with this (PREFIXED), if the user produces in transactions. */
  transactionalIdPrefix?: string;
}

/**
 * Who may do what. Deny is the default (StandardAuthorizer with
 * allow.everyone.if.no.acl.found=false): anything not listed here fails with
 * TOPIC_/GROUP_/TRANSACTIONAL_ID_AUTHORIZATION_FAILED. Topics are created by
 * the operator (super user), never by a service; `auto.create.topics.enable=false`
 * (the detector's state topic too: the detector creates it only when it is missing).
 * Group and transactional id prefixes match the services' defaults
 * (DETECTOR_GROUP_ID=ami-detector, LOADER_GROUP_ID=ami-loader, HEADEND_GROUP_ID=ami-headend,
 * WEB_GROUP_PREFIX=ami-web).
 */
export const PIPELINE_GRANTS: Record<PipelineUser, UserGrants> = {
  simulator: { read: [], write: ['meters', 'reads', 'events', 'simSupply'], describeAll: true },
  headend: {
    read: ['commands', 'pings', 'meters', 'simSupply'],
    write: ['commandResults', 'dlq'],
    describeAll: false,
    groupPrefix: 'ami-headend',
  },
  /**
   * Pings (READ_NOW) to verify suspected outages go to `pings`, never `commands`: a stolen detector
   * credential cannot send a DISCONNECT (the head-end refuses anything but READ_NOW on `pings`).
   * Reads the head-end's results. Reads and events not placed by feeder go through its repartition
   * topic (services/detector/README.md, "Scaling out").
   */
  detector: {
    read: ['meters', 'reads', 'events', 'detectorState', 'detectorRepartition', 'commandResults'],
    write: [
      'outages',
      'suspectedOutages',
      'momentary',
      'meterStatus',
      'dlq',
      'detectorState',
      'detectorRepartition',
      'pings',
    ],
    describeAll: true,
    groupPrefix: 'ami-detector',
    transactionalIdPrefix: 'ami-detector',
  },
  /** Loads every contract topic it has a table for (services/loader/src/loader.ts checks them at start-up). */
  loader: {
    read: ['meters', 'reads', 'events', 'outages', 'momentary', 'calls', 'commandResults'],
    write: ['dlq'],
    describeAll: false,
    groupPrefix: 'ami-loader',
  },
  /** The live views of services/web (outages, call-centre lookup): read-only. */
  dashboard: {
    read: ['outages', 'suspectedOutages', 'meterStatus', 'meters'],
    write: [],
    describeAll: false,
    groupPrefix: 'ami-web',
  },
  /**
   * The remote-command API (issue 6): publishes commands, nothing else. The only principal with
   * WRITE on `commands` (authn, authz and an append-only audit in front of it).
   */
  commands: { read: [], write: ['commands'], describeAll: false },
};

/** The ACLs (all ALLOW, host `*`) that give `user` the grants of `PIPELINE_GRANTS` under a topic prefix. */
export function pipelineAcls(
  prefix: string,
  user: PipelineUser,
  grants: UserGrants = PIPELINE_GRANTS[user],
): AclEntry[] {
  const principal = `User:${user}`;
  const allow = (
    resourceType: AclResourceTypes,
    resourceName: string,
    resourcePatternType: ResourcePatternTypes,
    operation: AclOperationTypes,
  ): AclEntry => ({
    resourceType,
    resourceName,
    resourcePatternType,
    principal,
    host: '*',
    operation,
    permissionType: AclPermissionTypes.ALLOW,
  });
  const acls: AclEntry[] = [];
  for (const t of grants.read)
    acls.push(allow(Res.TOPIC, grantTopicName(prefix, t), Pattern.LITERAL, Op.READ));
  for (const t of grants.write)
    acls.push(allow(Res.TOPIC, grantTopicName(prefix, t), Pattern.LITERAL, Op.WRITE));
  if (grants.describeAll) acls.push(allow(Res.TOPIC, `${prefix}.`, Pattern.PREFIXED, Op.DESCRIBE));
  if (grants.groupPrefix) acls.push(allow(Res.GROUP, grants.groupPrefix, Pattern.PREFIXED, Op.READ));
  if (grants.transactionalIdPrefix) {
    acls.push(allow(Res.TRANSACTIONAL_ID, grants.transactionalIdPrefix, Pattern.PREFIXED, Op.WRITE));
  }
  return acls;
}

/**
 * The schema registry's user (Apicurio's kafkasql storage): its own topics `_ami-registry-*`
 * (created by the registry at first start, so CREATE too) and its consumer groups `apicurio-*`.
 */
export function registryAcls(user = 'registry', topicPrefix = '_ami-registry-'): AclEntry[] {
  const allow = (
    resourceType: AclResourceTypes,
    resourceName: string,
    operation: AclOperationTypes,
  ): AclEntry => ({
    resourceType,
    resourceName,
    resourcePatternType: Pattern.PREFIXED,
    principal: `User:${user}`,
    host: '*',
    operation,
    permissionType: AclPermissionTypes.ALLOW,
  });
  return [
    ...[Op.CREATE, Op.READ, Op.WRITE, Op.DESCRIBE, Op.DESCRIBE_CONFIGS].map((op) =>
      allow(Res.TOPIC, topicPrefix, op),
    ),
    allow(Res.GROUP, 'apicurio', Op.READ),
  ];
}
