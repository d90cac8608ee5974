/** Every subcommand of `mxcast`, in the order `mxcast --help` lists them. */
import type { Command } from './command-kit.ts';

export const commands: Command[] = [];
