/**
 * Entry point of the `mxcast` command: dispatches to one subcommand per file in ./commands.
 */
import { commands } from './command-table.ts';
import { CliError, EXIT, formatHelp } from './command-kit.ts';

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(formatHelp(commands));
    return name ? EXIT.ok : EXIT.badArguments;
  }
  if (name === '--version') {
    process.stdout.write('mxcast 0.1.0\n');
    return EXIT.ok;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`mxcast: unknown command '${name}'. Run 'mxcast --help' for the list.\n`);
    return EXIT.badArguments;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.help.trimEnd() + '\n');
    return EXIT.ok;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`mxcast ${name}: ${err.message}\n`);
      return err.exitCode;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`mxcast ${name}: ${message}\n`);
    return EXIT.error;
  }
}
