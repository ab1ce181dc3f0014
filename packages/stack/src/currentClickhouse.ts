import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DaemonComponent } from './component.js';
import { STACK_ASSETS, type StackSettings } from './settings.js';

/** chDB's version of ClickHouse, pinned in chdb/requirements.txt. */
export const CURRENT_CLICKHOUSE_PACKAGE = 'chdb-core==26.9.0';

/**
 * A current ClickHouse (26.9, embedded by PyPI's chdb-core) behind ClickHouse's HTTP interface
 * (chdb/http_server.py), so the project's SQL is proven on a current release as well as
 * on Debian's 18.16. Not part of `stack up`: the test suite starts it for the SQL checks.
 */
export class CurrentClickHouseComponent extends DaemonComponent {
  private readonly venv: string;

  constructor(s: StackSettings) {
    super('clickhouse-current', s, 'clickhouse-current', 5_000);
    this.venv = join(s.AMI_HOME, 'chdb-venv');
  }

  get address(): string {
    return `http://${this.s.STACK_HOST}:${this.s.CURRENT_CLICKHOUSE_PORT}`;
  }

  private get python(): string {
    return join(this.venv, 'bin', 'python');
  }

  installed(): boolean {
    if (!existsSync(this.python)) return false;
    try {
      execFileSync(this.python, ['-c', 'import chdb'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  }

  /** A virtualenv under AMI_HOME with chdb-core from PyPI (~900 MB, once). */
  async install(): Promise<void> {
    if (this.installed()) return;
    execFileSync('python3', ['-m', 'venv', this.venv], { stdio: 'inherit' });
    execFileSync(
      this.python,
      ['-m', 'pip', 'install', '-q', '-r', join(STACK_ASSETS, 'chdb', 'requirements.txt')],
      { stdio: 'inherit' },
    );
  }

  async start(): Promise<void> {
    if (this.running()) return;
    this.spawn({
      command: this.python,
      args: [
        join(STACK_ASSETS, 'chdb', 'http_server.py'),
        '--port',
        String(this.s.CURRENT_CLICKHOUSE_PORT),
        '--path',
        join(this.home, 'data'),
      ],
    });
  }

  async healthy(): Promise<boolean> {
    const res = await fetch(`${this.address}/ping`, { signal: AbortSignal.timeout(2000) });
    return res.ok && (await res.text()).startsWith('Ok');
  }
}
