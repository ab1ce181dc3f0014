import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { DaemonComponent, installJarsOnce } from './component.js';
import type { StackSettings } from './settings.js';

/** The ZooKeeper release the cluster runs (the newest 3.9 whose dependencies Maven Central serves). */
export const ZOOKEEPER_VERSION = '3.9.5';

/** Sends a four-letter command and resolves with the answer ('' when none came within 2 s). */
function fourLetterWord(host: string, port: number, word: string): Promise<string> {
  return new Promise((resolve) => {
    let answer = '';
    const socket = connect({ host, port }, () => socket.end(word));
    socket.setTimeout(2000, () => socket.destroy());
    socket.on('data', (d) => (answer += d.toString()));
    socket.on('close', () => resolve(answer));
    socket.on('error', () => resolve(''));
  });
}

/**
 * One standalone ZooKeeper for the local ClickHouse cluster: ClickHouse 18.16 keeps its
 * replication log, its block hashes (insert deduplication) and the `ON CLUSTER` DDL queue there.
 * Jars from Maven Central (`zookeeper/pom.xml`) into AMI_HOME, run as a plain JVM with a
 * small heap, C1 only and the serial GC: it starts in about a second and holds kilobytes.
 */
export class ZooKeeperComponent extends DaemonComponent {
  constructor(s: StackSettings) {
    super('zookeeper', s, 'zookeeper', 10_000);
  }

  get address(): string {
    return `${this.s.STACK_HOST}:${this.s.ZOOKEEPER_PORT}`;
  }

  get libs(): string {
    return join(this.home, `libs-${ZOOKEEPER_VERSION}`);
  }

  async install(): Promise<void> {
    installJarsOnce(this.libs, `zookeeper-${ZOOKEEPER_VERSION}.jar`, (outputDirectory) =>
      this.maven('zookeeper/pom.xml', 'dependency:copy-dependencies', {
        outputDirectory,
        includeScope: 'runtime',
        'zookeeper.version': ZOOKEEPER_VERSION,
      }),
    );
  }

  private writeConfig(): string {
    const dataDir = join(this.home, 'data');
    mkdirSync(dataDir, { recursive: true });
    const file = join(this.home, 'zoo.cfg');
    // No admin server (it would take port 8080); `ruok` is the health probe.
    writeFileSync(
      file,
      `# Written by \`ami stack up\`; edit packages/stack/src/zookeeper.ts instead.
tickTime=2000
dataDir=${dataDir}
clientPort=${this.s.ZOOKEEPER_PORT}
clientPortAddress=${this.s.STACK_HOST}
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr,mntr
autopurge.purgeInterval=1
`,
    );
    return file;
  }

  async start(): Promise<void> {
    if (this.running()) return;
    const config = this.writeConfig();
    this.spawn({
      command: 'java',
      args: [
        '-Xmx128m',
        '-XX:+UseSerialGC',
        '-XX:TieredStopAtLevel=1',
        '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
        '-cp',
        `${this.libs}/*`,
        'org.apache.zookeeper.server.quorum.QuorumPeerMain',
        config,
      ],
    });
  }

  async healthy(): Promise<boolean> {
    return (
      this.running() && (await fourLetterWord(this.s.STACK_HOST, this.s.ZOOKEEPER_PORT, 'ruok')) === 'imok'
    );
  }
}
