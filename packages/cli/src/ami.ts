#!/usr/bin/env -S npx tsx
import { Command } from 'commander';
import { registerStackCommands } from './stack.js';
import { registerDemoCommand } from './demo.js';
import { registerWebCommands } from '../../../services/web/src/cli.js';
import { registerSimulatorCommands } from '../../../services/simulator/src/cli.js';
import { registerLoaderCommands } from '../../../services/loader/src/cli.js';
import { registerDetectorCommands } from '../../../services/detector/src/cli.js';

/** `ami`: one CLI for the stack, the services and the operators' tools. */
const program = new Command('ami').description('PLN smart meter AMI pipeline').showHelpAfterError();

registerStackCommands(program);
registerDemoCommand(program);
registerWebCommands(program);
registerSimulatorCommands(program);
registerLoaderCommands(program);
registerDetectorCommands(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  const e = err as Error;
  process.stderr.write(`ami: ${e.message}\n`);
  process.exit(1);
});
