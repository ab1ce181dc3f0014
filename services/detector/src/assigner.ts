import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

/**
 * Co-partitioned assignment: a member gets partition p of EVERY subscribed
 * topic, so one gardu's reads and events (both keyed by gardu_id, same
 * partition count) are processed by the same instance. kafkajs' round-robin
 * assigner would split them.
 */
export const CoPartitionedAssigner: PartitionAssigner = ({ cluster }) => ({
  name: 'AmiCoPartitioned',
  version: 1,
  async assign({ members, topics }) {
    const ids = members.map((m) => m.memberId).sort();
    const assignment: Record<string, Record<string, number[]>> = Object.fromEntries(
      ids.map((id) => [id, {}]),
    );
    for (const topic of topics) {
      for (const { partitionId } of cluster.findTopicPartitionMetadata(topic)) {
        const owner = assignment[ids[partitionId % ids.length]!]!;
        (owner[topic] ??= []).push(partitionId);
      }
    }
    return ids.map((memberId) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({
        version: 1,
        assignment: assignment[memberId]!,
        userData: Buffer.alloc(0),
      }),
    }));
  },
  protocol({ topics }) {
    return {
      name: 'AmiCoPartitioned',
      metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }),
    };
  },
});
