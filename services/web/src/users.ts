import { readFileSync, statSync } from 'node:fs';
import type { Logger } from '@ami/lib';
import { parseUsers, type User } from './auth.js';
import type { WebConfig } from './config.js';

/** The users whose tokens work right now. */
export interface UserSource {
  list(): readonly User[];
  stop(): void;
}

/** Users fixed at start-up (`AMI_WEB_USERS`, tests): revoking one needs a restart. */
export class FixedUsers implements UserSource {
  constructor(private readonly users: readonly User[]) {}
  list(): readonly User[] {
    return this.users;
  }
  stop(): void {}
}

/**
 * Users from `AMI_WEB_USERS_FILE`, read again whenever the file changes
 * (checked every `reloadMs`): removing an entry, replacing its hash or moving
 * its `expires_at` into the past revokes the token, and its browser sessions,
 * within that time. A file that becomes invalid fails closed: no user is
 * accepted until it is fixed (logged at each check), so a broken edit can
 * never keep a revoked token alive.
 */
export class UsersFile implements UserSource {
  private users: readonly User[];
  private stamp: string;
  private readonly timer: NodeJS.Timeout;

  /** Reads the file now; an invalid file at start-up throws (ConfigError) so the service does not start. */
  constructor(
    private readonly path: string,
    private readonly logger: Logger,
    reloadMs: number,
  ) {
    this.stamp = this.stampOf();
    this.users = parseUsers(readFileSync(path, 'utf8'));
    this.timer = setInterval(() => this.check(), reloadMs);
    this.timer.unref();
  }

  list(): readonly User[] {
    return this.users;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Re-reads the file if its size, time or inode changed. */
  check(): void {
    let stamp: string;
    try {
      stamp = this.stampOf();
    } catch (err) {
      if (this.stamp !== 'missing')
        this.logger.error({ err, path: this.path }, 'users file gone: no user is accepted');
      this.stamp = 'missing';
      this.users = [];
      return;
    }
    if (stamp === this.stamp) return;
    this.stamp = stamp;
    try {
      this.users = parseUsers(readFileSync(this.path, 'utf8'));
      this.logger.info({ path: this.path, users: this.users.length }, 'users file reloaded');
    } catch (err) {
      this.users = [];
      this.logger.error(
        { err, path: this.path },
        'users file invalid: no user is accepted until it is fixed',
      );
    }
  }

  private stampOf(): string {
    const s = statSync(this.path);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  }
}

export function loadUsers(
  cfg: Pick<WebConfig, 'AMI_WEB_USERS' | 'AMI_WEB_USERS_FILE' | 'WEB_USERS_RELOAD_S'>,
  logger: Logger,
): UserSource {
  return cfg.AMI_WEB_USERS_FILE
    ? new UsersFile(cfg.AMI_WEB_USERS_FILE, logger, cfg.WEB_USERS_RELOAD_S * 1000)
    : new FixedUsers(parseUsers(cfg.AMI_WEB_USERS));
}
