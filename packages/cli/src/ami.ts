#!/usr/bin/env -S npx tsx
import { Command } from 'commander';
import { registerStackCommands } from './stack.js';

/** `ami`: one CLI for the stack, the services and the operators' tools. */
const program = new Command('ami').description('PLN smart meter AMI pipeline').showHelpAfterError();

registerStackCommands(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  const e = err as Error;
  process.stderr.write(`ami: ${e.message}\n`);
  process.exit(1);
});
