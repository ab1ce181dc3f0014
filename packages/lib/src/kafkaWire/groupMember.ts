import type { Cluster, PartitionAssigner } from 'kafkajs';
import { AmiError } from '../errors.js';
import type { GroupMember } from './messages/txn.js';

/** What a kafkajs Broker does at SyncGroup (not in kafkajs' types). */
type SyncGroup = (request: { groupId: string; generationId: number; memberId: string }) => Promise<unknown>;

/**
 * The group generation and member id of a kafkajs consumer, for TxnOffsetCommit
 * v3 (KIP-447: the group coordinator refuses the offsets of a member the group
 * has moved past, so a zombie commits nothing whatever its transactional id).
 *
 * kafkajs 2.2.4 keeps the generation to itself: GROUP_JOIN gives the member id
 * only, HEARTBEAT the generation only at the first heartbeat, seconds after a
 * rejoin, while the member commits meanwhile. So it is taken where kafkajs
 * learns it is a member of a generation: its SyncGroup request that succeeded,
 * right before GROUP_JOIN (as the Java consumer's groupMetadata() changes when
 * a join completes). The consumer's assigner factory is given the consumer's
 * own cluster, whose group coordinator the consumer syncs with; wrap the
 * assigner with `assigner()`.
 */
export class GroupMembership {
  private current: GroupMember | undefined;
  private readonly watched = new WeakSet<object>();

  /**
   * The member as of the last completed join (undefined before the first). Kept when the group
   * forgets the member (a lapsed session): a commit with it is refused, as it should be.
   */
  get member(): GroupMember | undefined {
    return this.current;
  }

  /** `inner`, following the consumer's SyncGroup. Throws at the consumer's creation if kafkajs changed. */
  assigner(inner: PartitionAssigner): PartitionAssigner {
    return (config) => {
      this.watch(config.cluster);
      return inner(config);
    };
  }

  private watch(cluster: Cluster): void {
    const find = cluster.findGroupCoordinator;
    if (typeof find !== 'function')
      throw new AmiError(
        'kafkajs cluster has no findGroupCoordinator: the group generation cannot be followed',
        {
          retriable: false,
          code: 'kafkajs-incompatible',
        },
      );
    cluster.findGroupCoordinator = async (group) => {
      const broker = await find.call(cluster, group);
      this.watchSync(broker as unknown as { syncGroup?: SyncGroup });
      return broker;
    };
  }

  private watchSync(broker: { syncGroup?: SyncGroup }): void {
    if (this.watched.has(broker)) return;
    const sync = broker.syncGroup;
    if (typeof sync !== 'function')
      throw new AmiError('kafkajs broker has no syncGroup: the group generation cannot be followed', {
        retriable: false,
        code: 'kafkajs-incompatible',
      });
    this.watched.add(broker);
    broker.syncGroup = async (request) => {
      const answer = await sync.call(broker, request);
      this.current = { generationId: request.generationId, memberId: request.memberId };
      return answer;
    };
  }
}
export type { GroupMember } from './messages/txn.js';
