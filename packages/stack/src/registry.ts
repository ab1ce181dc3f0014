import type { StackComponent } from './component.js';
import type { StackSettings } from './settings.js';
import { httpOk } from './processes.js';
import { join } from 'node:path';

/** Placeholder until the registry choice is settled. */
export class RegistryComponent implements StackComponent {
  readonly name = 'schema-registry';
  readonly logFile: string;
  constructor(private readonly s: StackSettings) {
    this.logFile = join(s.AMI_HOME, 'logs', 'schema-registry.log');
  }
  get address() {
    return `http://${this.s.STACK_HOST}:${this.s.SCHEMA_REGISTRY_PORT}`;
  }
  async install() {}
  async start() {}
  running() {
    return true;
  }
  async healthy() {
    return httpOk(`${this.address}/subjects`).catch(() => true);
  }
  async stop() {}
}
