/**
 * `--relay URL[,URL…]`: the nodes of one relay cluster (docs/operations.md "Cluster"). The first
 * is the one used (and named in a listen link); the others are where a capture or a listener
 * goes on when it stops answering. One URL is the usual single relay.
 */
import { CliError } from './command-kit.ts';

export function parseRelayList(flag: string, text: string): [string, ...string[]] {
  const urls = text
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '');
  for (const url of urls) {
    if (!/^https?:\/\/[^/]/.test(url))
      throw new CliError(
        `${flag} must be an http(s) URL (or several, comma-separated), got '${url}'`,
      );
  }
  const [first, ...rest] = urls.map((u) => u.replace(/\/+$/, ''));
  if (first === undefined) throw new CliError(`${flag} URL is required`);
  return [first, ...rest];
}
