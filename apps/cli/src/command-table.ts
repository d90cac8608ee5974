/** Every subcommand of `mxcast`, in the order `mxcast --help` lists them. */
import type { Command } from './command-kit.ts';
import { relayCommand } from './commands/relay-command.ts';
import { tokenCommand } from './commands/token-command.ts';
import { listenCommand } from './commands/listen-command.ts';
import { captureCommand } from './commands/capture-command.ts';

export const commands: Command[] = [
  relayCommand,
  tokenCommand,
  listenCommand,
  captureCommand,
];
