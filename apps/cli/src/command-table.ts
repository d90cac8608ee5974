/** Every subcommand of `mxcast`, in the order `mxcast --help` lists them. */
import type { Command } from './command-kit.ts';
import { listenCommand } from './commands/listen-command.ts';

export const commands: Command[] = [listenCommand];
