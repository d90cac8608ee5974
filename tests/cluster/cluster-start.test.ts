/**
 * A relay started with `--cluster` whose NATS servers cannot be reached refuses to start at once
 * (docs/operations.md "Cluster"): one line naming the servers and the cause, exit 1, no URL
 * printed, nothing listening. A node without its store would only answer 503.
 */
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { runMxcast, tempDir } from '../capture/capture-harness.ts';

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('relay --cluster with NATS unreachable', () => {
  it('refuses to start with a one-line error and exit 1', async () => {
    const port = await closedPort();
    const nats = `nats://127.0.0.1:${port}`;
    const started = Date.now();
    const run = runMxcast(['relay', '--port', '0', '--data', tempDir(), '--cluster', nats]);
    const { code, stdout, stderr } = await run.done;
    expect(code, stderr).toBe(1);
    expect(stdout).toBe('');
    const lines = stderr.split('\n').filter((l) => l.startsWith('mxcast relay:'));
    expect(lines).toEqual([
      expect.stringMatching(
        new RegExp(`^mxcast relay: cannot start: cluster: cannot open JetStream at ${nats}: .+`),
      ),
    ]);
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});
