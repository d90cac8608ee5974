/** Every subcommand of `mxcast`, in the order `mxcast --help` lists them. */
import type { Command } from './command-kit.ts';
import { encryptCommand } from './commands/encrypt-command.ts';
import { decryptCommand } from './commands/decrypt-command.ts';
import { inspectCommand } from './commands/inspect-command.ts';
import { relayCommand } from './commands/relay-command.ts';
import { tokenCommand } from './commands/token-command.ts';
import { listenCommand } from './commands/listen-command.ts';
import { captureCommand } from './commands/capture-command.ts';
import { rekeyCommand } from './commands/rekey-command.ts';

export const commands: Command[] = [
  relayCommand,
  tokenCommand,
  listenCommand,
  captureCommand,
  rekeyCommand,
  encryptCommand,
  decryptCommand,
  inspectCommand,
];
