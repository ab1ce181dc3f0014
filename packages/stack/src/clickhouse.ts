import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DaemonComponent } from './component.js';
import { httpOk } from './processes.js';
import { loadOrCreateSecrets } from './secrets.js';
import { STACK_ASSETS, type StackSettings } from './settings.js';
import { ConfigError } from '@ami/lib';

const SERVER_BIN = '/usr/sbin/clickhouse-server';

function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\$\{([A-Z_0-9]+)\}/g, (_, k: string) => {
    const v = values[k];
    if (v === undefined) throw new ConfigError(`clickhouse config template: no value for ${k}`);
    return v;
  });
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** A server other than the stack's single node (a replica of the cluster): name, folder, ports, overrides. */
export interface ClickHouseServerOptions {
  name: string;
  homeDir: string;
  httpPort: number;
  tcpPort: number;
  /** Merged over the config (`config.d/`) and the users file (`users.d/`) by the server at start. */
  configOverride?: string;
  usersOverride?: string;
}

/** ClickHouse server from Debian's package, as a plain process with a project-local config. */
export class ClickHouseComponent extends DaemonComponent {
  private readonly server: ClickHouseServerOptions;

  constructor(s: StackSettings, server?: ClickHouseServerOptions) {
    const options = server ?? {
      name: 'clickhouse',
      homeDir: 'clickhouse',
      httpPort: s.CLICKHOUSE_HTTP_PORT,
      tcpPort: s.CLICKHOUSE_TCP_PORT,
    };
    super(options.name, s, options.homeDir, 30_000);
    this.server = options;
  }

  get address(): string {
    return `http://${this.s.STACK_HOST}:${this.server.httpPort}`;
  }

  async install(): Promise<void> {
    if (existsSync(SERVER_BIN) && existsSync('/usr/bin/clickhouse-client')) return;
    const apt = (args: string[]) =>
      execFileSync('apt-get', args, {
        stdio: 'inherit',
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      });
    apt(['update', '-qq']);
    apt(['install', '-y', '-qq', 'clickhouse-server', 'clickhouse-client']);
  }

  /** The single node's server log keeps its place; another server logs in its own folder. */
  private logDir(): string {
    return this.server.homeDir === 'clickhouse' ? join(this.s.AMI_HOME, 'logs') : join(this.home, 'log');
  }

  private writeConfig(): string {
    const dataDir = join(this.home, 'data');
    const logDir = this.logDir();
    mkdirSync(dataDir, { recursive: true });
    mkdirSync(logDir, { recursive: true });
    const secrets = loadOrCreateSecrets(join(this.s.AMI_HOME, 'secrets.env'));
    const usersFile = join(this.home, 'users.xml');
    writeFileSync(
      usersFile,
      fill(readFileSync(join(STACK_ASSETS, 'clickhouse', 'users.xml'), 'utf8'), {
        DEFAULT_PASSWORD: process.env.CLICKHOUSE_DEFAULT_PASSWORD ?? '',
        WRITER_PASSWORD_SHA256: sha256(secrets.CLICKHOUSE_WRITER_PASSWORD),
        ANALYST_PASSWORD_SHA256: sha256(secrets.CLICKHOUSE_ANALYST_PASSWORD),
        AUDIT_PASSWORD_SHA256: sha256(secrets.CLICKHOUSE_AUDIT_PASSWORD),
      }),
      { mode: 0o600 },
    );
    const configFile = join(this.home, 'config.xml');
    writeFileSync(
      configFile,
      fill(readFileSync(join(STACK_ASSETS, 'clickhouse', 'config.xml'), 'utf8'), {
        LOG_DIR: logDir,
        DATA_DIR: dataDir,
        USERS_FILE: usersFile,
        HOST: this.s.STACK_HOST,
        HTTP_PORT: String(this.server.httpPort),
        TCP_PORT: String(this.server.tcpPort),
      }),
    );
    this.writeOverride('config.d', this.server.configOverride);
    this.writeOverride('users.d', this.server.usersOverride, 0o600);
    return configFile;
  }

  private writeOverride(dir: string, xml: string | undefined, mode = 0o644): void {
    if (xml === undefined) return;
    mkdirSync(join(this.home, dir), { recursive: true });
    writeFileSync(join(this.home, dir, 'ami.xml'), xml, { mode });
  }

  async start(): Promise<void> {
    if (this.running()) return;
    const configFile = this.writeConfig();
    this.forceRestoreAfterCrash();
    this.spawn({ command: SERVER_BIN, args: [`--config-file=${configFile}`], cwd: this.home });
  }

  /**
   * The server removes its `status` file when it stops cleanly: one left behind means a crash. A
   * replica that crashed mid-insert or mid-merge can hold parts ZooKeeper never heard of, and with
   * more than a few it refuses to start ("doesn't look like the set of parts in ZooKeeper").
   * `flags/force_restore_data` (read once, then deleted by the server) has it move them to
   * `detached/` and fetch what it lacks from the other replica: acknowledged inserts are in
   * ZooKeeper, so nothing is lost. Without replicated tables the flag does nothing.
   */
  private forceRestoreAfterCrash(): void {
    const dataDir = join(this.home, 'data');
    if (!existsSync(join(dataDir, 'status'))) return;
    mkdirSync(join(dataDir, 'flags'), { recursive: true });
    writeFileSync(join(dataDir, 'flags', 'force_restore_data'), '');
  }

  /** Whether the process lives, and the last lines of its error log: why it does not answer. */
  diagnosis(lines = 20): string {
    const errLog = join(this.logDir(), 'clickhouse-server.err.log');
    const tail = existsSync(errLog) ? readFileSync(errLog, 'utf8').trimEnd().split('\n').slice(-lines) : [];
    return `${this.name} ${this.running() ? 'running' : 'not running'}; ${errLog}:\n${tail.join('\n')}`;
  }

  async healthy(): Promise<boolean> {
    return this.running() && (await httpOk(`${this.address}/ping`));
  }
}
