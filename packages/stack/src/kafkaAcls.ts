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
export type PipelineUser = 'simulator' | 'headend' | 'detector' | 'loader' | 'dashboard';

export interface UserGrants {
  /** Topics (by contract role) the user may consume. */
  read: TopicRole[];
  /** Topics (by contract role) the user may produce to. */
  write: TopicRole[];
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
 * the operator (super user), never by a service; `auto.create.topics.enable=false`.
 * Group and transactional id prefixes match the services' defaults
 * (DETECTOR_GROUP_ID=ami-detector, LOADER_GROUP_ID=ami-loader, HEADEND_GROUP_ID=ami-headend).
 */
export const PIPELINE_GRANTS: Record<PipelineUser, UserGrants> = {
  simulator: { read: [], write: ['meters', 'reads', 'events'], describeAll: true },
  headend: {
    read: ['commands'],
    write: ['commandResults', 'dlq'],
    describeAll: false,
    groupPrefix: 'ami-headend',
  },
  detector: {
    read: ['meters', 'reads', 'events'],
    write: ['outages', 'meterStatus', 'dlq'],
    describeAll: true,
    groupPrefix: 'ami-detector',
    transactionalIdPrefix: 'ami-detector',
  },
  loader: {
    read: ['meters', 'reads', 'events', 'outages', 'meterStatus', 'commandResults'],
    write: ['dlq'],
    describeAll: false,
    groupPrefix: 'ami-loader',
  },
  dashboard: {
    read: ['outages', 'meterStatus'],
    write: [],
    describeAll: false,
    groupPrefix: 'ami-dashboard',
  },
};

/** The ACLs (all ALLOW, host `*`) that give `user` the grants of `PIPELINE_GRANTS` under a topic prefix. */
export function pipelineAcls(
  prefix: string,
  user: PipelineUser,
  grants: UserGrants = PIPELINE_GRANTS[user],
): AclEntry[] {
  const topics = topicNames(prefix);
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
  for (const role of grants.read) acls.push(allow(Res.TOPIC, topics[role], Pattern.LITERAL, Op.READ));
  for (const role of grants.write) acls.push(allow(Res.TOPIC, topics[role], Pattern.LITERAL, Op.WRITE));
  if (grants.describeAll) acls.push(allow(Res.TOPIC, `${prefix}.`, Pattern.PREFIXED, Op.DESCRIBE));
  if (grants.groupPrefix) acls.push(allow(Res.GROUP, grants.groupPrefix, Pattern.PREFIXED, Op.READ));
  if (grants.transactionalIdPrefix) {
    acls.push(allow(Res.TRANSACTIONAL_ID, grants.transactionalIdPrefix, Pattern.PREFIXED, Op.WRITE));
  }
  return acls;
}
