import { describe, expect, it } from 'vitest';
import {
  clickhouseClusterEnv,
  clickhouseClusterReplicas,
  clusterConfigXml,
} from '../src/clickhouseCluster.js';
import { stackComponents } from '../src/index.js';
import { loadStackSettings } from '../src/settings.js';

describe('the stack’s ClickHouse cluster', () => {
  const settings = (env: Record<string, string> = {}) =>
    loadStackSettings({ AMI_HOME: '/nonexistent', ...env });

  it('is never started by default: the demo stays on the single node', () => {
    expect(stackComponents(settings()).map((c) => c.name)).toEqual([
      'kafka',
      'schema-registry',
      'clickhouse',
    ]);
    expect(stackComponents(settings({ STACK_CLICKHOUSE_CLUSTER: 'true' })).map((c) => c.name)).toEqual([
      'kafka',
      'schema-registry',
      'clickhouse',
      'zookeeper',
      'clickhouse-r1',
      'clickhouse-r2',
    ]);
  });

  it('gives each replica its own ports and folder, and services replica 1 with the cluster name', () => {
    const s = settings({ CLICKHOUSE_CLUSTER_HTTP_PORT: '18131' });
    expect(clickhouseClusterReplicas(s).map((r) => r.address)).toEqual([
      'http://127.0.0.1:18131',
      'http://127.0.0.1:18132',
    ]);
    expect(clickhouseClusterEnv(s)).toEqual({
      CLICKHOUSE_URL: 'http://127.0.0.1:18131',
      CLICKHOUSE_CLUSTER: 'ami',
    });
  });

  it('names both replicas in one shard, its own macros and escapes the password', () => {
    const xml = clusterConfigXml(settings(), 2, 'a<b&c');
    expect(xml.match(/<port>903[12]<\/port>/g)).toEqual(['<port>9031</port>', '<port>9032</port>']);
    expect(xml.match(/<shard>/g)).toHaveLength(2); // the remote_servers shard and the macro
    expect(xml).toContain('<replica>r2</replica>');
    expect(xml).toContain('<interserver_http_port>9042</interserver_http_port>');
    expect(xml).toContain('<password>a&lt;b&amp;c</password>');
    // An XML comment may not hold two dashes (the server refuses the file).
    const comments = [...xml.matchAll(/<!--([\s\S]*?)-->/g)].map((m) => m[1]);
    expect(comments.length).toBeGreaterThan(0);
    expect(comments.filter((c) => c!.includes('--'))).toEqual([]);
  });
});
