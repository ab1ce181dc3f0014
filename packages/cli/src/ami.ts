#!/usr/bin/env -S npx tsx
import { Command } from 'commander';
import { registerStackCommands } from './stack.js';
import { registerDemoCommand } from './demo.js';
import { registerWebCommands } from '@ami/web/cli';
import { registerSimulatorCommands } from '@ami/simulator/cli';
import { registerLoaderCommands } from '@ami/loader/cli';
import { registerDetectorCommands } from '@ami/detector/cli';

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
