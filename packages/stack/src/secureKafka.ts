import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ConfigError, UnavailableError } from '@ami/lib';
import {
  isAlive,
  kafkaClusterAnswers,
  readPid,
  spawnDaemon,
  stopDaemon,
  tailFile,
  waitUntil,
} from './processes.js';
import { log4j2Properties, newKraftClusterId } from './kafka.js';

const run = promisify(execFile);

export interface ScramUser {
  name: string;
  password: string;
}

export interface SecureKafkaOptions {
  /** A folder of its own (config, data, log, pid); created if missing. Never the stack's AMI_HOME/kafka. */
  home: string;
  /** The Kafka jars, e.g. `new KafkaComponent(settings).libs`. */
  libs: string;
  host?: string;
  /** Client listener (SASL_PLAINTEXT, SCRAM-SHA-512). */
  port: number;
  /** Controller listener (SASL_PLAINTEXT, PLAIN, only `admin`). */
  controllerPort: number;
  /** The super user: inter-broker, controller, ACL and user administration. */
  admin: ScramUser;
  /** Further SCRAM-SHA-512 users written into the metadata log at format time. */
  formatUsers?: ScramUser[];
  /**
   * Also a SASL_SSL listener (TLS, then SCRAM-SHA-512) on this port, with a
   * server certificate for `host` signed by a CA generated into `home/tls`
   * (`caFile`; clients trust it with NODE_EXTRA_CA_CERTS).
   */
  tlsPort?: number;
  /**
   * Benchmarks only, never a deployment: also a PLAINTEXT listener (no TLS, no SASL) on this
   * port, whose clients are User:ANONYMOUS, a super user like `admin`. Beside the SASL
   * listeners of the same broker it splits what SASL and TLS cost from what the broker costs.
   */
  unauthenticatedBenchPort?: number;
  /** Where the CA and the server key store live (created once, kept across restarts); default `home/tls`. Nodes of a cluster share one. */
  tlsDir?: string;
  heap?: string;
  /**
   * Run the JVM with its default JIT (C2) and garbage collector, as a production
   * broker runs. Off by default: C1 only and the serial GC start faster on a small
   * machine, but make TLS about 5x dearer on the broker (the AES-GCM intrinsics are
   * C2's), so benchmarks turn it on.
   */
  fullJit?: boolean;
  /** This node's id in a cluster (default 1). */
  nodeId?: number;
  /** Every controller of the KRaft quorum (default: this node alone). */
  quorum?: Array<{ nodeId: number; controllerPort: number }>;
  /** The KRaft cluster id the storage is formatted with (every node of a cluster the same). */
  clusterId?: string;
  /**
   * Replicas of every topic, internal ones included (default 1); with more than one,
   * `min.insync.replicas` 2 and replication between the brokers over SASL_SSL (`tlsPort` needed).
   */
  replicationFactor?: number;
}

/**
 * The SASL_SSL listener's cipher suites, in the broker's order of preference: AES-GCM first
 * (AES-NI and the JVM's C2 intrinsics), AES-128 before AES-256, ChaCha20-Poly1305 last (no
 * intrinsic in Java 17: about 7x slower there); TLS 1.3 suites, then TLS 1.2 ones for older clients.
 */
export const TLS_CIPHER_SUITES = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
  'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
  'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256',
].join(',');

/** A password that is safe inside JAAS quotes and `--add-scram` brackets (base64url, no padding). */
export function generatePassword(bytes = 24): string {
  return randomBytes(bytes).toString('base64url');
}

/** `n` distinct TCP ports that were free a moment ago on `host` (held open together, then released). */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Server>((resolve, reject) => {
          const srv = createServer();
          srv.on('error', reject);
          srv.listen(0, host, () => resolve(srv));
        }),
    ),
  );
  const ports = servers.map((srv) => (srv.address() as AddressInfo).port);
  await Promise.all(servers.map((srv) => new Promise((resolve) => srv.close(resolve))));
  return ports;
}

/**
 * A single-node KRaft Kafka (broker and controller in one process) secured the
 * way a production cluster is: clients authenticate with SASL/SCRAM-SHA-512,
 * every request is checked by the StandardAuthorizer (deny unless an ACL
 * allows, `admin` is the only super user), the controller listener accepts
 * only `admin` (SASL/PLAIN). It runs from the same jars as the local stack but
 * in its own folder and on its own ports, so it never touches the stack's broker.
 *
 * Passwords live in memory and in the 0600 files of `home` only; callers
 * generate them at run time and delete `home` afterwards.
 */
export class SecureKafkaBroker {
  readonly host: string;
  readonly logFile: string;
  private readonly pidFile: string;
  private readonly configFile: string;
  private readonly adminClientFile: string;
  readonly nodeId: number;

  constructor(private readonly o: SecureKafkaOptions) {
    this.host = o.host ?? '127.0.0.1';
    this.nodeId = o.nodeId ?? 1;
    if ((o.replicationFactor ?? 1) > 1 && !o.tlsPort)
      throw new ConfigError(
        'a replicated SecureKafkaBroker needs tlsPort (its brokers replicate over SASL_SSL)',
      );
    this.logFile = join(o.home, 'kafka.log');
    this.pidFile = join(o.home, 'kafka.pid');
    this.configFile = join(o.home, 'server.properties');
    this.adminClientFile = join(o.home, 'admin-client.properties');
  }

  get address(): string {
    return `${this.host}:${this.o.port}`;
  }

  /** The SASL_SSL listener, if `tlsPort` was given. */
  get tlsAddress(): string | undefined {
    return this.o.tlsPort ? `${this.host}:${this.o.tlsPort}` : undefined;
  }

  private get tlsDir(): string {
    return this.o.tlsDir ?? join(this.o.home, 'tls');
  }

  /** The CA (PEM) that signed the broker's TLS certificate. */
  get caFile(): string {
    return join(this.tlsDir, 'ca.pem');
  }

  /** The environment a service needs to reach this broker as `user`, in the names `loadCommonConfig` reads. */
  clientEnv(user: ScramUser, { tls = false } = {}): Record<string, string> {
    if (tls && !this.tlsAddress) throw new ConfigError('this broker has no TLS listener (tlsPort)');
    return {
      KAFKA_BROKERS: tls ? this.tlsAddress! : this.address,
      KAFKA_SSL: tls ? 'true' : 'false',
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: user.name,
      KAFKA_SASL_PASSWORD: user.password,
    };
  }

  private javaArgs(mainClass: string, args: string[], heap = '256m'): string[] {
    return [
      `-Xmx${heap}`,
      // Tools and this test broker are short-lived and lightly loaded: the C1 compiler
      // and the serial GC start faster on a small machine (`fullJit` for a production-like broker).
      ...(this.o.fullJit ? [] : ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC']),
      `-Dlog4j2.configurationFile=${join(this.o.home, 'log4j2.properties')}`,
      '-cp',
      `${this.o.libs}/*`,
      mainClass,
      ...args,
    ];
  }

  private writeFiles(): void {
    const { home, port, controllerPort: cport, admin } = this.o;
    const host = this.host;
    const rf = this.o.replicationFactor ?? 1;
    mkdirSync(join(home, 'data'), { recursive: true, mode: 0o700 });
    const scramJaas = `org.apache.kafka.common.security.scram.ScramLoginModule required username="${admin.name}" password="${admin.password}";`;
    // PLAIN on the controller listener: the server side checks `user_admin`, the client side (broker to controller) logs in as admin.
    const plainJaas = `org.apache.kafka.common.security.plain.PlainLoginModule required username="${admin.name}" password="${admin.password}" user_${admin.name}="${admin.password}";`;
    const tls = this.o.tlsPort
      ? {
          listener: `,SASL_SSL://${host}:${this.o.tlsPort}`,
          map: ',SASL_SSL:SASL_SSL',
          props: `listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=${scramJaas}
listener.name.sasl_ssl.ssl.cipher.suites=${TLS_CIPHER_SUITES}
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location=${this.writeCertificates()}
ssl.truststore.type=PEM
ssl.truststore.location=${this.caFile}
`,
        }
      : { listener: '', map: '', props: '' };
    const bench = this.o.unauthenticatedBenchPort
      ? {
          listener: `,PLAINTEXT://${host}:${this.o.unauthenticatedBenchPort}`,
          map: ',PLAINTEXT:PLAINTEXT',
          user: ';User:ANONYMOUS',
        }
      : { listener: '', map: '', user: '' };
    const quorum = this.o.quorum ?? [{ nodeId: this.nodeId, controllerPort: cport }];
    const props = `# Written by packages/stack/src/secureKafka.ts; holds generated passwords (0600).
process.roles=broker,controller
node.id=${this.nodeId}
controller.quorum.voters=${quorum.map((q) => `${q.nodeId}@${host}:${q.controllerPort}`).join(',')}
listeners=SASL_PLAINTEXT://${host}:${port},CONTROLLER://${host}:${cport}${tls.listener}${bench.listener}
advertised.listeners=SASL_PLAINTEXT://${host}:${port}${tls.listener}${bench.listener}
controller.listener.names=CONTROLLER
inter.broker.listener.name=${rf > 1 ? 'SASL_SSL' : 'SASL_PLAINTEXT'}
listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT${tls.map}${bench.map}
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
sasl.mechanism.controller.protocol=PLAIN
listener.name.sasl_plaintext.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=${scramJaas}
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=${plainJaas}
${tls.props}authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:${admin.name}${bench.user}
allow.everyone.if.no.acl.found=false
log.dirs=${join(home, 'data')}
num.partitions=3
auto.create.topics.enable=false
default.replication.factor=${rf}
min.insync.replicas=${Math.min(rf, 2)}
offsets.topic.replication.factor=${rf}
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=${rf}
transaction.state.log.min.isr=${Math.min(rf, 2)}
transaction.state.log.num.partitions=3
group.initial.rebalance.delay.ms=0
`;
    writeFileSync(this.configFile, props, { mode: 0o600 });
    writeFileSync(
      this.adminClientFile,
      `security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\nsasl.jaas.config=${scramJaas}\n`,
      { mode: 0o600 },
    );
    writeFileSync(
      join(home, 'log4j2.properties'),
      log4j2Properties({
        // Every denied request, e.g. "Principal = User:dashboard is Denied operation = WRITE ... on resource = Topic:LITERAL:ami.outages".
        'kafka.authorizer.logger': 'INFO',
      }),
    );
  }

  /**
   * A throw-away CA and a server certificate for `host` (IP and DNS SANs),
   * made with openssl once (a restarted node keeps them, so clients that trust
   * the CA still do); returns the PEM key store (PKCS#8 key + chain) Kafka reads.
   */
  private writeCertificates(): string {
    const dir = this.tlsDir;
    const store = join(dir, 'server-keystore.pem');
    if (existsSync(store)) return store;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const ssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    const san = /^[0-9.]+$|:/.test(this.host) ? `IP:${this.host}` : `DNS:${this.host}`;
    writeFileSync(join(dir, 'server.ext'), `subjectAltName=${san},DNS:localhost\n`);
    ssl([
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '2',
      '-subj',
      '/CN=ami-test-ca',
    ]);
    ssl([
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
      '-subj',
      `/CN=${this.host}`,
    ]);
    ssl([
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.crt',
      '-days',
      '2',
      '-extfile',
      'server.ext',
    ]);
    writeFileSync(
      `${store}.tmp`,
      [
        readFileSync(join(dir, 'server.key'), 'utf8'),
        readFileSync(join(dir, 'server.crt'), 'utf8'),
        readFileSync(this.caFile, 'utf8'),
      ].join(''),
      { mode: 0o600 },
    );
    renameSync(`${store}.tmp`, store);
    return store;
  }

  /** Write the config, format the storage with the SCRAM users, start the process (returns at once). */
  async start(): Promise<void> {
    if (this.running()) return;
    this.writeFiles();
    // Formatted once: Kafka 4's format checks the cluster id even with --ignore-formatted, and a
    // process that starts the node again (the stack's next `up`) does not know the first id.
    if (!existsSync(join(this.o.home, 'data', 'meta.properties'))) await this.format();
    const heap = this.o.heap ?? '512m';
    spawnDaemon({
      name: `secure-kafka-${this.nodeId}`,
      command: 'java',
      args: [`-Xms${heap}`, ...this.javaArgs('kafka.Kafka', [this.configFile], heap)],
      logFile: this.logFile,
      pidFile: this.pidFile,
    });
  }

  /** Formats the storage with the cluster id and the SCRAM users (in the metadata log from the start). */
  private async format(): Promise<void> {
    const users = [this.o.admin, ...(this.o.formatUsers ?? [])];
    const scram = users.flatMap((u) => [
      '--add-scram',
      `SCRAM-SHA-512=[name=${u.name},password=${u.password}]`,
    ]);
    await run(
      'java',
      this.javaArgs('kafka.tools.StorageTool', [
        'format',
        '-t',
        this.o.clusterId ?? newKraftClusterId(),
        '-c',
        this.configFile,
        '--ignore-formatted',
        ...scram,
      ]),
      { timeout: 60_000 },
    );
  }

  /** The broker's log (stdout/stderr), including the authorizer's denials. */
  log(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8') : '';
  }

  running(): boolean {
    return isAlive(readPid(this.pidFile));
  }

  /** True when `admin` can authenticate here and the cluster has `brokers` brokers and a controller. */
  async healthy(brokers = 1): Promise<boolean> {
    if (!this.running()) return false;
    const { name: username, password } = this.o.admin;
    return kafkaClusterAnswers(this.address, { mechanism: 'scram-sha-512', username, password }, brokers);
  }

  async waitHealthy(timeoutMs = 60_000, brokers = 1): Promise<void> {
    const ok = await waitUntil(() => this.healthy(brokers), timeoutMs, 300);
    if (!ok) {
      throw new UnavailableError(
        'secure-kafka',
        `not healthy after ${timeoutMs} ms (${this.running() ? 'process running' : 'process exited'}); log: ${this.logFile}\n${tailFile(this.logFile, 30)}`,
      );
    }
  }

  /**
   * Create or change a SCRAM-SHA-512 user on the running cluster, the way an
   * operator does (kafka-configs.sh): kafkajs has no AlterUserScramCredentials.
   */
  async upsertScramUser(user: ScramUser): Promise<void> {
    await run(
      'java',
      this.javaArgs('org.apache.kafka.tools.ConfigCommand', [
        '--bootstrap-server',
        this.address,
        '--command-config',
        this.adminClientFile,
        '--alter',
        '--add-config',
        `SCRAM-SHA-512=[password=${user.password}]`,
        '--entity-type',
        'users',
        '--entity-name',
        user.name,
      ]),
      { timeout: 60_000 },
    );
  }

  /** SIGTERM the process group (a controlled shutdown: leaders move first), SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    await stopDaemon(this.pidFile, graceMs);
  }

  /** SIGKILL the process group at once (a crash: no controlled shutdown), and wait until it is gone. */
  async kill(): Promise<void> {
    await stopDaemon(this.pidFile, 0, 'SIGKILL');
  }
}
