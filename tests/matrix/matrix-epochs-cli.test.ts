/**
 * Key epochs through the real `mxcast` processes on the real stack (docs/matrix.md "Key
 * epochs"): alice's `mxcast capture --homeserver --room` with a scheduled rekey, bob and carol's
 * `mxcast listen`, each a process of its own with a device in its state dir, the relay in
 * homeserver mode. The first case rekeys every 3 s with a kick and a request in between; the
 * last runs "rekey every 10 s over 60 s" at full scale and measures the gap at each
 * boundary from the decoded tone's phase. dave joining later (joined and shared history) is
 * here through the CLI and in matrix-epochs.test.ts in-process.
 *
 * Checked on decoded audio: carol's WAV is the whole broadcast (within one block of what alice
 * sent), a tone with no silent 20 ms window at any boundary, every block checked against the
 * sender's checkpoints; bob, kicked mid-broadcast, is told he no longer has access (exit 8) and
 * his WAV stops short; `mxcast rekey` from another device of alice's starts an epoch.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWav } from '@mxcast/audio';
import { inspectStream } from '@mxcast/format';
import { rms, silentWindows, startCliRoom, type CliRoom } from './matrix-cli-kit.ts';
import { matrixCall, type MatrixUser } from './matrix-users.ts';

let room: CliRoom;

type Name = 'alice' | 'bob' | 'carol' | 'dave';

function user(name: Name): MatrixUser {
  return room.user(name);
}

/** `mxcast COMMAND --homeserver … --room ROOM --user … --password-file …` as `name`. */
function mx(command: string, name: Name, args: string[], roomId = room.roomId, device = command) {
  return room.mx(command, name, args, undefined, { roomId, device });
}

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * What `name`'s listen device holds for the room's newest broadcast (matrix-epochs-cli.ts, its
 * own process on the kept state dir) and which of the probe's blocks each of its keys opens.
 */
async function runProbe(name: Name, roomId: string, probeFile: string) {
  const args = ['--import', 'tsx', path.join(here, 'matrix-epochs-cli.ts')];
  args.push('--homeserver', room.stack.url, '--user', user(name).userId);
  args.push(
    '--password',
    `${name}-password-1`,
    '--state-dir',
    path.join(room.work, `${name}-listen`),
  );
  args.push('--room', roomId, '--probe', probeFile);
  const { stdout } = await promisify(execFile)(process.execPath, args, {
    cwd: here,
    timeout: 120_000,
  });
  return JSON.parse(stdout) as {
    epochs: { index: number; startSeq: number; endSeq?: number }[];
    blocks: { seq: number; openedBy: number[]; keysTried: number }[];
  };
}

async function joinRoom(name: Name, roomId: string): Promise<void> {
  const r = encodeURIComponent(roomId);
  await matrixCall(room.stack.url, 'POST', `/_matrix/client/v3/rooms/${r}/invite`, {
    token: room.users.alice.accessToken,
    body: { user_id: user(name).userId },
  });
  await matrixCall(room.stack.url, 'POST', `/_matrix/client/v3/join/${r}`, {
    token: user(name).accessToken,
    body: {},
  });
}

beforeAll(async () => {
  room = await startCliRoom({ relayHomeserver: true });
  for (const name of ['carol', 'dave'] as const) await room.addUser(name);
  await joinRoom('carol', room.roomId);
  // Every listener's device exists before the announcement (its keys are uploaded at login).
  const made = await Promise.all([
    ...(['bob', 'carol'] as const).map((n) => mx('listen', n, ['--list']).done),
    // alice's second device, for `mxcast rekey` (kept: no login while the broadcast runs).
    mx('listen', 'alice', ['--list'], room.roomId, 'rekey').done,
  ]);
  for (const m of made) expect(m.code, m.stderr).toBe(0);
}, 900_000);

afterAll(async () => {
  await room?.stop();
});

describe('key epochs with mxcast capture/listen in a room', () => {
  it('rekey every 3 s, bob kicked mid-broadcast, mxcast rekey: carol hears every boundary, bob loses access', async () => {
    // Runs until stopped with Ctrl-C below, so the listeners' and the rekey device's start-up
    // on a loaded machine (each `mxcast` a process with its own Matrix sync) never outlasts it.
    const maxSeconds = 120;
    const alice = mx('capture', 'alice', [
      '--input',
      'sine:440',
      '--duration',
      String(maxSeconds),
      '--realtime',
      '--preset',
      'voice',
      '--title',
      'Epochs',
      '--checkpoint-every',
      '2',
      '--rekey-every',
      '3s',
    ]);
    await alice.waitFor(/announced in .* as broadcast/, 60_000);
    const carolWav = path.join(room.work, 'carol.wav');
    const bobWav = path.join(room.work, 'bob.wav');
    const carol = mx('listen', 'carol', ['--from', '0', '--out', carolWav]);
    const bob = mx('listen', 'bob', ['--from', '0', '--out', bobWav]);
    // Both are playing (the broadcast chosen, its keys read) before bob is kicked, 3 s on.
    await Promise.all([carol, bob].map((p) => p.waitFor(/listen: \S+ "Epochs" by /, 60_000)));
    await new Promise((r) => setTimeout(r, 3000));
    await matrixCall(
      room.stack.url,
      'POST',
      `/_matrix/client/v3/rooms/${encodeURIComponent(room.roomId)}/kick`,
      { token: room.users.alice.accessToken, body: { user_id: room.users.bob.userId } },
    );
    // A rekey request from another device of alice's (its own state dir): answered.
    const rekeying = mx('rekey', 'alice', [], room.roomId, 'rekey').done;
    await alice.waitFor(/new key epoch: .* left/, 20_000);
    const rekey = await rekeying;
    expect(rekey.code, rekey.stderr).toBe(0);
    expect(rekey.stdout).toMatch(/rekey requested for /);
    await alice.waitFor(/new key epoch: rekey requested/, 20_000);
    // One more scheduled boundary at least, then Ctrl-C: the capture finishes the broadcast.
    await new Promise((r) => setTimeout(r, 4000));
    alice.child.kill('SIGINT');

    const [a, c, b] = await Promise.all([alice.done, carol.done, bob.done]);
    expect(a.code, a.stderr).toBe(0);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stderr).toMatch(/broadcast: finished\n/);
    expect(c.stderr).toMatch(
      /checked against the sender: \d+ blocks, [1-9]\d* checkpoints verified/,
    );
    // What alice sent: "finished: MM:SS.s of audio in N blocks".
    const sent = /finished: (\d+):(\d+\.\d) of audio/.exec(a.stderr);
    expect(sent, a.stderr).not.toBeNull();
    const seconds = Number(sent![1]) * 60 + Number(sent![2]);
    expect(seconds).toBeGreaterThan(8);
    const audio = readWav(new Uint8Array(readFileSync(carolWav)));
    const heard = audio.samples.length / audio.channels / 48_000;
    // The whole broadcast: one block (240 ms) of slack either way, no gap at any boundary.
    expect(heard).toBeGreaterThan(seconds - 0.3);
    expect(heard).toBeLessThan(seconds + 0.3);
    expect(silentWindows(audio.samples, audio.channels)).toBe(0);
    // Every boundary was crossed: the epochs carol held at the start and those that came after
    // (one every 3 s of audio, the kick's, the request's; the first ones may precede her start;
    // the last scheduled one may fall after the end).
    const held = Number(/listen: (\d+) key epoch\(s\) held/.exec(c.stderr)?.[1] ?? NaN);
    const came = c.stderr.match(/listen: key epoch from block \d+/g)?.length ?? 0;
    expect(held + came - 1).toBeGreaterThanOrEqual(Math.floor(seconds / 3) + 2 - 1);

    // bob: told plainly, exit 8, and he heard the start but not the end.
    expect(b.code, b.stderr).toBe(8);
    expect(b.stderr).toMatch(/you no longer have access to this broadcast/);
    expect(b.stderr).toMatch(/no access: you left or were removed from the room/);
    const bobAudio = readWav(new Uint8Array(readFileSync(bobWav)));
    const bobHeard = bobAudio.samples.length / bobAudio.channels / 48_000;
    expect(bobHeard).toBeGreaterThan(1);
    expect(bobHeard).toBeLessThan(seconds - 2);
    expect(rms(bobAudio.samples)).toBeGreaterThan(0.05);
  }, 180_000);

  /** alice live in `roomId` until dave has joined and his join was seen; the finished capture. */
  async function broadcastWithJoin(
    roomId: string,
    history: 'shared' | 'joined',
    /** Runs once the join's epoch was asked for, while alice is still live. */
    whileLive?: () => Promise<void>,
  ) {
    const eventOut = path.join(room.work, `event-${history}.json`);
    const alice = mx(
      'capture',
      'alice',
      [
        '--input',
        'sine:440',
        '--duration',
        '120',
        '--realtime',
        '--preset',
        'voice',
        '--title',
        `History ${history}`,
        '--checkpoint-every',
        '2',
        '--history',
        history,
        '--event-out',
        eventOut,
      ],
      roomId,
    );
    await alice.waitFor(/announced in .* as broadcast/, 60_000);
    await alice.waitFor(new RegExp(`history policy: ${history}`), 10_000);
    // Some seconds of audio before dave joins: the past he may or may not read.
    await new Promise((r) => setTimeout(r, 4000));
    await joinRoom('dave', roomId);
    if (history === 'joined') await alice.waitFor(/new key epoch: .*dave.* joined/, 20_000);
    // The join's epoch starts 1.5 s ahead; some seconds of it, then the finish.
    await new Promise((r) => setTimeout(r, 4000));
    await whileLive?.();
    alice.child.kill('SIGINT');
    const a = await alice.done;
    expect(a.code, a.stderr).toBe(0);
    const sent = /finished: (\d+):(\d+\.\d) of audio/.exec(a.stderr);
    const event = JSON.parse(readFileSync(eventOut, 'utf8')) as {
      url?: string;
      file?: { url: string };
    };
    return {
      seconds: Number(sent![1]) * 60 + Number(sent![2]),
      mxc: event.file?.url ?? event.url ?? '',
      stderr: a.stderr,
    };
  }

  function wavSeconds(file: string): { seconds: number; level: number } {
    const audio = readWav(new Uint8Array(readFileSync(file)));
    return {
      seconds: audio.samples.length / audio.channels / 48_000,
      level: rms(audio.samples),
    };
  }

  it('joined history: dave, joining mid-broadcast, cannot decrypt what came before; shared: he seeks back to the start', async () => {
    // dave's device exists before he joins (its keys are uploaded at login; not yet a member).
    const made = await mx('listen', 'dave', ['--list']).done;
    expect(made.code).toBe(5);
    expect(made.stderr).toMatch(/not a member/);

    const r = await matrixCall<{ room_id: string }>(
      room.stack.url,
      'POST',
      '/_matrix/client/v3/createRoom',
      {
        token: room.users.alice.accessToken,
        body: {
          preset: 'private_chat',
          initial_state: [
            {
              type: 'm.room.encryption',
              state_key: '',
              content: { algorithm: 'm.megolm.v1.aes-sha2' },
            },
            {
              type: 'm.room.history_visibility',
              state_key: '',
              content: { history_visibility: 'joined' },
            },
          ],
        },
      },
    );
    // dave listens live from his join while alice is still live: the re-share gives him the
    // header epoch (OpusHead, OpusTags) and the join's epoch, so he hears from there on.
    const liveWav = path.join(room.work, 'dave-joined-live.wav');
    let live: ReturnType<typeof mx> | undefined;
    const joined = await broadcastWithJoin(r.room_id, 'joined', async () => {
      live = mx('listen', 'dave', ['--out', liveWav], r.room_id);
      await live.waitFor(/listen: \d+ key epoch\(s\) held/, 60_000);
      await new Promise((res) => setTimeout(res, 5000));
    });
    const d = await live!.done;
    expect(d.code, d.stderr).toBe(0);
    expect(d.stderr).toMatch(/broadcast: finished\n/);
    expect(d.stderr).toMatch(
      /checked against the sender: \d+ blocks, [1-9]\d* checkpoints verified/,
    );
    const heardLive = readWav(new Uint8Array(readFileSync(liveWav)));
    const liveSeconds = heardLive.samples.length / heardLive.channels / 48_000;
    // He joined ~4 s in; he hears at least the 5 s after his player started, the tone unbroken.
    expect(liveSeconds).toBeGreaterThan(4);
    expect(liveSeconds).toBeLessThan(joined.seconds - 3);
    expect(rms(heardLive.samples)).toBeGreaterThan(0.05);
    expect(silentWindows(heardLive.samples, heardLive.channels)).toBe(0);

    // From the start: the headers open (header epoch), the first audio block is under an epoch
    // he was never given: NO_ACCESS (exit 8), not TAMPERED, and nothing of the past decoded.
    const fromStart = path.join(room.work, 'dave-joined-0.wav');
    const past = await mx('listen', 'dave', ['--from', '0', '--out', fromStart], r.room_id).done;
    expect(past.code, past.stderr).toBe(8);
    expect(past.stderr).toMatch(
      /you have no access to this part of the broadcast \(it was sent before you joined/,
    );
    expect(past.stderr).not.toMatch(/TAMPERED/);
    expect(existsSync(fromStart) ? wavSeconds(fromStart).seconds : 0).toBeLessThan(0.5);

    // Even with the ciphertext in hand: the first audio block (seq 2, epoch 1) opens under none
    // of the keys dave's device holds; a block of his join's epoch (the last audio block) does.
    const [server, mediaId] = joined.mxc.replace('mxc://', '').split('/');
    const res = await fetch(
      `${room.stack.relayUrl}/_matrix/client/v1/media/download/${server}/${mediaId}`,
      {
        headers: { authorization: `Bearer ${user('dave').accessToken}` },
      },
    );
    expect(res.status).toBe(200);
    const stream = new Uint8Array(await res.arrayBuffer());
    const blocks = inspectStream(stream).blocks;
    const cipherOf = (seq: number) => {
      const b = blocks.find((x) => x.seq === seq)!;
      return Buffer.from(stream.subarray(b.offset + 16, b.offset + 16 + b.length)).toString(
        'base64',
      );
    };
    const lastAudio = blocks[blocks.length - 2]!.seq;
    const probeFile = path.join(room.work, 'dave-probe.json');
    writeFileSync(
      probeFile,
      JSON.stringify({
        events: [],
        blocks: [2, lastAudio].map((seq) => ({ seq, ciphertext: cipherOf(seq) })),
      }),
    );
    const probe = await runProbe('dave', r.room_id, probeFile);
    // His epochs: the header epoch (0, ending at block 2) and his join's.
    expect(probe.epochs[0]).toEqual({ index: 0, startSeq: 0, endSeq: 2 });
    expect(probe.epochs.length).toBe(2);
    expect(probe.epochs[1]!.index).toBeGreaterThanOrEqual(2);
    expect(probe.blocks[0]).toMatchObject({ seq: 2, openedBy: [], keysTried: 2 });
    expect(probe.blocks[1]!.openedBy).toEqual([probe.epochs[1]!.index]);
    expect(joined.seconds).toBeGreaterThan(5);

    // shared (the first room: private_chat's default history visibility): dave joins mid-way
    // and, from the start, hears all of it.
    const sharedSeconds = (await broadcastWithJoin(room.roomId, 'shared')).seconds;
    const all = path.join(room.work, 'dave-shared.wav');
    const heard = await mx('listen', 'dave', ['--from', '0', '--out', all]).done;
    expect(heard.code, heard.stderr).toBe(0);
    const whole = wavSeconds(all);
    expect(whole.seconds).toBeGreaterThan(sharedSeconds - 0.3);
    expect(whole.seconds).toBeLessThan(sharedSeconds + 0.3);
    expect(whole.level).toBeGreaterThan(0.05);
  }, 240_000);

  it('full scale: rekey every 10 s over 60 s, every boundary seamless, every block authenticated', async () => {
    const alice = mx('capture', 'alice', [
      '--input',
      'sine:440',
      '--duration',
      '60',
      '--realtime',
      '--preset',
      'voice',
      '--title',
      'Sixty',
      '--checkpoint-every',
      '5',
      '--rekey-every',
      '10s',
    ]);
    await alice.waitFor(/announced in .* as broadcast/, 60_000);
    const id = /announced in \S+ as broadcast (\S+)/.exec(alice.stderr())?.[1];
    // carol on her own device, from the start: every epoch, every boundary.
    const wav = path.join(room.work, 'carol-sixty.wav');
    const carol = mx('listen', 'carol', ['--broadcast', id!, '--from', '0', '--out', wav]);
    const a = await alice.done;
    expect(a.code, a.stderr).toBe(0);
    // carol ends with the broadcast; one that does not within 30 s is stopped and shown.
    const stuck = setTimeout(() => carol.child.kill('SIGKILL'), 30_000);
    const c = await carol.done;
    clearTimeout(stuck);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stderr).toMatch(/broadcast: finished\n/);
    expect(c.stderr).not.toMatch(/TAMPERED|NO_ACCESS|WRONG_KEY/);
    // Every block authenticated and hashed against the sender's checkpoints, none left out.
    const checked =
      /checked against the sender: (\d+) blocks, (\d+) checkpoints verified, (\d+) unverifiable/.exec(
        c.stderr,
      );
    expect(checked, c.stderr).not.toBeNull();
    const blocks = Number(/finished: .* of audio in (\d+) blocks/.exec(a.stderr)?.[1] ?? NaN);
    expect(Number(checked![1])).toBe(blocks);
    expect(Number(checked![2])).toBeGreaterThanOrEqual(10);
    expect(Number(checked![3])).toBe(0);

    // The boundaries: the header epoch's end (block 2) and one each 10 s of audio, 5 in all
    // (none at 60 s: no block would use it). Each announcement's time and lead left, from the
    // capture's notices: the announce-ahead margin against Synapse under this machine's load.
    const announced = [
      ...a.stderr.matchAll(
        /key epoch at block (\d+) announced in (\d+) ms, (-?\d+) block\(s\) of lead left/g,
      ),
    ].map((m) => ({ startSeq: Number(m[1]), ms: Number(m[2]), marginBlocks: Number(m[3]) }));
    expect(announced.map((x) => x.startSeq)[0]).toBe(2);
    const scheduled = announced.slice(1);
    expect(scheduled.length).toBe(5);
    for (const x of scheduled) expect(x.marginBlocks, JSON.stringify(announced)).toBeGreaterThan(0);
    // Every epoch reached carol: those she held when she started and each that came after.
    const held = Number(/listen: (\d+) key epoch\(s\) held/.exec(c.stderr)?.[1] ?? NaN);
    const came = c.stderr.match(/listen: key epoch from block \d+/g)?.length ?? 0;
    expect(held + came).toBe(1 + announced.length);

    // The decoded audio: exactly the samples alice sent (60 s at 48 kHz), and the 440 Hz tone's
    // phase, measured in windows of exactly 11 periods, never moves: a gap or a repeat of n
    // samples at a boundary would shift every later window by n samples.
    const audio = readWav(new Uint8Array(readFileSync(wav)));
    const frames = audio.samples.length / audio.channels;
    expect(frames).toBe(60 * 48_000);
    const w = 2 * Math.PI * (440 / 48_000);
    const N = 1200;
    const phases: { at: number; phase: number; amp: number }[] = [];
    for (let n0 = 4800; n0 + N <= frames; n0 += N) {
      let re = 0;
      let im = 0;
      for (let n = n0; n < n0 + N; n++) {
        const x = audio.samples[n * audio.channels]!;
        re += x * Math.cos(w * n);
        im -= x * Math.sin(w * n);
      }
      phases.push({ at: n0, phase: Math.atan2(im, re), amp: Math.hypot(re, im) });
    }
    const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)]!;
    const ref = median(phases.map((p) => p.phase));
    const refAmp = median(phases.map((p) => p.amp));
    const offsetSamples = (p: { phase: number }) => {
      let d = p.phase - ref;
      d = Math.atan2(Math.sin(d), Math.cos(d));
      return Math.abs(d / w);
    };
    const blockSamples = 12 * 960;
    const gaps = scheduled.map((x) => {
      const b = (x.startSeq - 2) * blockSamples;
      const near = phases.filter((p) => Math.abs(p.at - b) <= blockSamples);
      return {
        block: x.startSeq,
        second: b / 48_000,
        maxShiftSamples: Math.max(...near.map(offsetSamples)),
        minLevel: Math.min(...near.map((p) => p.amp / refAmp)),
      };
    });
    // What docs/matrix.md "Key epochs" promises: the gap at each boundary.
    console.log(
      `60 s, rekey every 10 s (loadavg ${readFileSync('/proc/loadavg', 'utf8').trim()}): ${frames} samples decoded of ${60 * 48_000} sent; boundaries ${JSON.stringify(gaps)}; announcements ${JSON.stringify(announced)}`,
    );
    for (const g of gaps) {
      // Opus is lossy: the phase wobbles by a fraction of a sample; a lost block would be 11520.
      expect(g.maxShiftSamples).toBeLessThan(2);
      expect(g.minLevel).toBeGreaterThan(0.8);
    }
    // Everywhere else too (the encoder's last frames aside): a lost or repeated block would
    // shift the phase by 0.6 of a period, ~65 samples.
    expect(Math.max(...phases.slice(0, -2).map(offsetSamples))).toBeLessThan(5);
  }, 180_000);
});
