/**
 * `mxcast capture --homeserver --room` and `mxcast listen --homeserver --room` against the real
 * stack (docs/matrix.md "From nothing to a live broadcast in a room"): Synapse behind nginx, the
 * relay in homeserver mode (the Matrix access token is the upload and download token), and every
 * user a separate `mxcast` process with a password from a file and a device in its state dir.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWav } from '@mxcast/audio';
import { rms, startCliRoom, type CliRoom } from './matrix-cli-kit.ts';

let room: CliRoom;
let link: SlowLink;
const mx: CliRoom['mx'] = (...a) => room.mx(...a);

beforeAll(async () => {
  room = await startCliRoom({ relayHomeserver: true });
  link = await startSlowLink(new URL(room.stack.url));
}, 900_000);

afterAll(async () => {
  link?.close();
  await room?.stop();
});

interface SlowLink {
  url: string;
  /** From now on, bytes towards the server (and their end) are held for a second. */
  slow: boolean;
  close(): void;
}

/** A TCP link to `target` on loopback whose client-to-server direction can be slowed. */
async function startSlowLink(target: URL): Promise<SlowLink> {
  const sockets = new Set<net.Socket>();
  const state = { slow: false };
  const later = (fn: () => void) => (state.slow ? setTimeout(fn, 1000) : fn());
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    client.on('data', (d) => later(() => upstream.write(d)));
    client.on('end', () => later(() => upstream.end()));
    upstream.pipe(client);
    const drop = () => (client.destroy(), upstream.destroy());
    client.on('error', drop);
    upstream.on('error', drop);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get slow() {
      return state.slow;
    },
    set slow(v: boolean) {
      state.slow = v;
    },
    close() {
      server.close();
      for (const s of sockets) s.destroy();
    },
  };
}

describe('mxcast capture/listen in a Matrix room', () => {
  it('alice goes live with mxcast capture; bob lists it live, hears it, and it ends finished', async () => {
    // bob's listen device exists before the announcement (an empty room lists nothing).
    const first = await mx('listen', 'bob', ['--list']).done;
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toBe('');

    const alice = mx('capture', 'alice', [
      '--input',
      'sine:440',
      // Long enough that bob's `--list` (a CLI start, a login, a sync) still finds it live when
      // the machine is busy: with 6 s it once listed it stopped under CI load.
      '--duration',
      '15',
      '--realtime',
      '--preset',
      'voice',
      '--title',
      'Morning show',
      '--checkpoint-every',
      '1',
    ]);
    await alice.waitFor(/announced in .* as broadcast/, 60_000);

    const listed = await mx('listen', 'bob', ['--list']).done;
    expect(listed.code, listed.stderr).toBe(0);
    const lines = listed.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const [id, state, , , broadcaster, title] = lines[0]!.split('\t');
    expect(state).toMatch(/^(started|resumed)$/);
    expect(broadcaster).toBe(room.users.alice.userId);
    expect(title).toBe('Morning show');

    // From the start, so the whole 15 s are in the file; the listen follows the live upload.
    const wav = path.join(room.work, 'bob.wav');
    const bob = await mx('listen', 'bob', ['--from', '0', '--out', wav, '--quiet']).done;
    const captured = await alice.done;
    expect(captured.code, captured.stderr).toBe(0);
    expect(captured.stderr).toMatch(/completion sent \(\d+ blocks\)/);
    expect(bob.code, bob.stderr).toBe(0);
    expect(bob.stderr).toMatch(/broadcast: finished\n/);
    expect(bob.stderr).toMatch(
      /checked against the sender: \d+ blocks, [1-9]\d* checkpoints verified/,
    );
    const audio = readWav(new Uint8Array(readFileSync(wav)));
    const seconds = audio.samples.length / audio.channels / 48_000;
    expect(seconds).toBeGreaterThan(14.5);
    expect(seconds).toBeLessThan(15.5);
    expect(rms(audio.samples)).toBeGreaterThan(0.05);

    // Now stopped, with its duration, and still playable by id.
    const after = await mx('listen', 'bob', ['--list']).done;
    expect(after.stdout).toContain(`${id}\tstopped\t`);
  }, 120_000);

  it('a capture cancelled with a second Ctrl-C is reported as cancelled', async () => {
    const alice = mx('capture', 'alice', [
      '--input',
      'sine:330',
      '--duration',
      '30',
      '--realtime',
      '--preset',
      'voice',
      '--title',
      'Cut short',
      '--checkpoint-every',
      '1',
      // Uploads through a link that can be slowed (the Matrix side goes straight to nginx).
      '--relay',
      link.url,
    ]);
    await alice.waitFor(/announced in .* as broadcast/, 60_000);
    await new Promise((r) => setTimeout(r, 2000));
    // The second Ctrl-C must land while the first one's finish is under way. On loopback the
    // finish takes a few ms, so the link holds the upload's bytes for a second from now on;
    // 50 ms apart, so the kernel does not merge the two pending signals into one.
    link.slow = true;
    alice.child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 50));
    alice.child.kill('SIGINT');
    const captured = await alice.done;
    expect(captured.stderr).toMatch(/matrix: cancel sent/);
    expect(captured.code).not.toBe(0);

    const listed = await mx('listen', 'bob', ['--list']).done;
    const newest = listed.stdout.trim().split('\n')[0]!.split('\t');
    expect(newest[1]).toBe('stopped');
    expect(newest[5]).toBe('Cut short');
    // Default choice: no live broadcast, so the newest, the cancelled one.
    const bob = await mx('listen', 'bob', ['--out', path.join(room.work, 'cut.wav'), '--quiet'])
      .done;
    expect(bob.stderr).toMatch(/broadcast: cancelled\n/);
    expect(bob.code, bob.stderr).toBe(3);
  }, 120_000);
});
