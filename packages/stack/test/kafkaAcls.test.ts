import { describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import { PIPELINE_GRANTS, pipelineAcls, type PipelineUser } from '../src/kafkaAcls.js';

const { AclOperationTypes: Op, AclResourceTypes: Res, ResourcePatternTypes: Pattern } = kafkajs;

/** The principals whose ACLs allow `operation` on the topic `name` (a literal ACL or a matching prefix). */
function allowed(name: string, operation: number): PipelineUser[] {
  return (Object.keys(PIPELINE_GRANTS) as PipelineUser[]).filter((user) =>
    pipelineAcls('ami', user).some(
      (a) =>
        a.resourceType === Res.TOPIC &&
        a.operation === operation &&
        (a.resourceName === name ||
          (a.resourcePatternType === Pattern.PREFIXED && name.startsWith(a.resourceName))),
    ),
  );
}

describe('pipeline grants', () => {
  it('only the audited command API may write ami.commands (where DISCONNECT travels)', () => {
    // A stolen detector (or any other service) credential cannot cut a customer's supply.
    expect(allowed('ami.commands', Op.WRITE)).toEqual(['commands']);
  });

  it("the detector's pings go to ami.pings, which only the head-end reads", () => {
    expect(allowed('ami.pings', Op.WRITE)).toEqual(['detector']);
    expect(allowed('ami.pings', Op.READ)).toEqual(['headend']);
    expect(allowed('ami.commands', Op.READ)).toEqual(['headend']);
    // The detector still follows the head-end's answers.
    expect(allowed('ami.command-results', Op.READ)).toContain('detector');
  });
});
