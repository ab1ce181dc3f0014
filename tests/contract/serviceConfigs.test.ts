import { describe, expect, it } from 'vitest';
import { serviceGroupId } from '@ami/lib';
import { loadDetectorConfig } from '@ami/detector/config';
import { loadLoaderConfig } from '@ami/loader/config';
import { loadSimulatorConfig } from '@ami/simulator/config';
import { loadWebConfig } from '@ami/web/config';

/** What every service's configuration has in common: derived names, typed switches, no fault injection. */
describe('group and transactional ids follow the topic prefix (issue 19)', () => {
  it('each service derives its consumer group from AMI_TOPIC_PREFIX unless set explicitly', () => {
    const env = { AMI_TOPIC_PREFIX: 'pilot-bali' };
    expect(loadDetectorConfig(env).DETECTOR_GROUP_ID).toBe('pilot-bali-detector');
    expect(loadLoaderConfig(env).LOADER_GROUP_ID).toBe('pilot-bali-loader');
    expect(loadSimulatorConfig(env).HEADEND_GROUP_ID).toBe('pilot-bali-headend');
    expect(loadWebConfig(env).WEB_GROUP_PREFIX).toBe('pilot-bali-web');
    // The default prefix keeps the names used before.
    expect(loadDetectorConfig({}).DETECTOR_GROUP_ID).toBe('ami-detector');
    expect(loadLoaderConfig({}).LOADER_GROUP_ID).toBe('ami-loader');
    expect(loadSimulatorConfig({}).HEADEND_GROUP_ID).toBe('ami-headend');
    expect(loadWebConfig({}).WEB_GROUP_PREFIX).toBe('ami-web');
    expect(loadDetectorConfig({ ...env, DETECTOR_GROUP_ID: 'mine' }).DETECTOR_GROUP_ID).toBe('mine');
  });

  it('two prefixes never share a detector group or transactional id', () => {
    const a = loadDetectorConfig({ AMI_TOPIC_PREFIX: 'a', DETECTOR_INSTANCE_ID: 'host1' });
    const b = loadDetectorConfig({ AMI_TOPIC_PREFIX: 'b', DETECTOR_INSTANCE_ID: 'host1' });
    expect(a.DETECTOR_GROUP_ID).not.toBe(b.DETECTOR_GROUP_ID);
    // output.ts: the transactional id is `<DETECTOR_GROUP_ID>-<DETECTOR_INSTANCE_ID>`.
    expect(`${a.DETECTOR_GROUP_ID}-${a.DETECTOR_INSTANCE_ID}`).not.toBe(
      `${b.DETECTOR_GROUP_ID}-${b.DETECTOR_INSTANCE_ID}`,
    );
    expect(serviceGroupId('a', 'detector')).toBe(a.DETECTOR_GROUP_ID);
  });
});

describe('every service reads its switches as booleans', () => {
  it('types every switch of every service as a boolean', () => {
    const env = {
      LOADER_RAW_FETCH: 'no',
      DETECTOR_RAW_FETCH: '0',
      WEB_VIEWS_REQUIRE_AUTH: 'yes',
      KAFKA_SSL: '1',
    };
    expect(loadLoaderConfig(env)).toMatchObject({ LOADER_RAW_FETCH: false, KAFKA_SSL: true });
    expect(loadDetectorConfig(env)).toMatchObject({ DETECTOR_RAW_FETCH: false, DETECTOR_TRACE_STEPS: false });
    expect(loadWebConfig(env)).toMatchObject({ WEB_VIEWS_REQUIRE_AUTH: true, WEB_COOKIE_SECURE: false });
  });

  it('keeps fault injection out of the production configuration', () => {
    for (const cfg of [
      loadLoaderConfig({}),
      loadDetectorConfig({}),
      loadSimulatorConfig({}),
      loadWebConfig({}),
    ])
      expect(Object.keys(cfg).filter((k) => /FAULT|CRASH|INJECT/.test(k))).toEqual([]);
  });
});
