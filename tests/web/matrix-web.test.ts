/**
 * The web app as a Matrix client (docs/web.md "Matrix") against the real stack (Synapse behind
 * nginx, the relay in homeserver mode serving apps/web/dist), two Chromiums whose fake
 * microphones play different tones (alice 660 Hz, bob 440 Hz), so that who is heard is measured,
 * not assumed.
 *
 * 1. bob logs in with a password, his device survives a reload, sees the room turn live when
 *    alice goes live with `mxcast capture --room`, hears her tone with his Matrix access token,
 *    her 2 s checkpoints verified, and logs out (token revoked, IndexedDB crypto store gone).
 * 2. One flow, all in the web app: alice logs in with an access token and goes live from the
 *    microphone; bob sees the room marked live, listens (the pitch he hears is alice's), switches
 *    to HLS and back, hears her pause as silence, seeks back (the position moves back, the tone
 *    goes on); alice stops; bob downloads her recording (a valid `.opus` as long as she was on
 *    air, its tone hers); then bob goes live in the same room and alice's page hears his tone.
 * Screenshots of each page at desktop and phone size go to test-artifacts/matrix-web/.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliRun } from '../capture/capture-harness.ts';
import { matrixCall } from '../matrix/matrix-users.ts';
import {
  expectHz,
  fillLogin,
  grantBroadcast,
  logInAs,
  shots,
  startMatrixWeb,
  type MatrixWeb,
} from './matrix-web-harness.ts';
import {
  expectTone,
  loudestOutput,
  playerView,
  TONE_HZ,
  waitForPlayer,
  type Page,
} from './web-harness.ts';

const TITLE = 'Morning show';
/** bob's microphone: apart from alice's TONE_HZ, so alice hearing him is told from an echo. */
const BOB_HZ = 440;

let mw: MatrixWeb;
let capture: CliRun | undefined;

beforeAll(async () => {
  mw = await startMatrixWeb({ tones: [BOB_HZ] });
  // bob broadcasts in alice's room too: its state events need power level 50 (docs/matrix.md).
  await grantBroadcast(mw, 'bob');
}, 900_000);

afterAll(async () => {
  capture?.child.kill('SIGKILL');
  await mw?.close();
});

/** The Ogg pages of a file: header flags only (EOS = 0x04). */
function oggPages(bytes: Buffer): { eos: boolean }[] {
  const pages: { eos: boolean }[] = [];
  let at = 0;
  while (at + 27 <= bytes.length && bytes.toString('latin1', at, at + 4) === 'OggS') {
    const segments = bytes[at + 26]!;
    let body = 0;
    for (let i = 0; i < segments; i++) body += bytes[at + 27 + i]!;
    pages.push({ eos: (bytes[at + 5]! & 0x04) !== 0 });
    at += 27 + segments + body;
  }
  expect(at).toBe(bytes.length);
  return pages;
}

/**
 * The frequency of a file's audio between `fromS` and `fromS + 1` s (ffmpeg decodes; upward zero
 * crossings of the mono signal, over one second) and its RMS level.
 */
function fileTone(file: string, fromS: number): { hz: number; rms: number } {
  const raw = execFileSync(
    'ffmpeg',
    ['-v', 'error', '-ss', String(fromS), '-t', '1', '-i', file].concat([
      '-ac',
      '1',
      '-ar',
      '48000',
      '-f',
      'f32le',
      '-',
    ]),
    { maxBuffer: 16 << 20 },
  );
  const pcm = new Float32Array(raw.buffer, raw.byteOffset, raw.length >> 2);
  let crossings = 0;
  let sum = 0;
  for (let i = 1; i < pcm.length; i++) {
    if (pcm[i - 1]! < 0 && pcm[i]! >= 0) crossings++;
    sum += pcm[i]! * pcm[i]!;
  }
  return { hz: (crossings * 48_000) / pcm.length, rms: Math.sqrt(sum / pcm.length) };
}

async function savedDevice(page: Page): Promise<string | null> {
  return page.evaluate(() => {
    const raw = localStorage.getItem('mxcast.matrix');
    return raw ? (JSON.parse(raw) as { deviceId: string }).deviceId : null;
  });
}

describe('web app as a Matrix client', () => {
  it('bob logs in, sees the room go live, listens to alice with his token, logs out', async () => {
    const { room, roomItem } = mw;
    const bob = await mw.rig.context.newPage();

    // Wrong password: a clear message, still on the login form.
    await fillLogin(bob, room.stack.url, { 'mx-user': 'bob', 'mx-password': 'not-his-password' });
    await bob.click('#mx-login button[type=submit]');
    await bob.waitForSelector('#mx-login-message:not([hidden])', { timeout: 30_000 });
    expect(await bob.textContent('#mx-login-message')).toMatch(/Login failed/);

    await fillLogin(bob, room.stack.url, { 'mx-user': 'bob', 'mx-password': 'bob-password-1' });
    await shots(bob, 'matrix-web/login');
    await bob.click('#mx-login button[type=submit]');
    await bob.waitForSelector(roomItem, { timeout: 60_000 });
    expect(await bob.getAttribute(roomItem, 'data-live')).toBe('false');
    const device = await savedDevice(bob);
    expect(device).toMatch(/^[A-Z]+$/);

    // A reload reopens the same device from localStorage + IndexedDB: no login form.
    await bob.reload();
    await bob.waitForSelector(roomItem, { timeout: 60_000 });
    expect(await bob.locator('#mx-login').count()).toBe(0);
    expect(await savedDevice(bob)).toBe(device);

    capture = room.mx('capture', 'alice', [
      ...['--input', `sine:${TONE_HZ}`, '--duration', '90', '--realtime'],
      ...['--preset', 'voice', '--title', TITLE, '--checkpoint-every', '2'],
    ]);
    // The open rooms page marks the room live when the state event arrives.
    await bob.waitForSelector(`${roomItem}[data-live="true"]`, { timeout: 60_000 });
    await shots(bob, 'matrix-web/rooms');

    await bob.click(roomItem);
    const row = '#broadcasts tr[data-live="true"]';
    await bob.waitForSelector(`${row} th:has-text("${TITLE}")`, { timeout: 30_000 });
    expect(await bob.textContent(`${row} td[data-label=Broadcaster]`)).toBe(
      room.users.alice.userId,
    );
    await shots(bob, 'matrix-web/room');
    // A live row's duration ticks while the page is open.
    const duration = async (): Promise<number> => {
      const [m, sec] = ((await bob.textContent(`${row} td[data-label=Duration]`)) ?? '')
        .split(':')
        .map(Number);
      return (m ?? 0) * 60 + (sec ?? 0);
    };
    // Polled: on a busy machine the page's tick can lag a fixed 2.5 s wait (CI: +1 s in it).
    const before = await duration();
    await expect
      .poll(duration, { timeout: 15_000, interval: 250 })
      .toBeGreaterThanOrEqual(before + 2);

    await bob.click(`${row} button[data-listen]`);
    const live = await waitForPlayer(bob, (v) => v.state === 'live', 'live', 60_000);
    expect(live.error).toBeNull();
    expect(await bob.textContent('#title')).toBe(TITLE);
    const heard = await expectTone(bob, 30_000);
    expect(Math.abs(heard.peakHz - TONE_HZ)).toBeLessThan(15);
    // alice's checkpoints (every 2 s) are checked against the blocks bob plays.
    await bob.waitForFunction(
      () => Number(document.querySelector<HTMLElement>('#claims')?.dataset.verified) >= 1,
      undefined,
      { timeout: 30_000 },
    );
    expect(await bob.textContent('#claims')).toMatch(/verified/);
    // The lock screen shows the broadcast's title, alice and the room (Media Session).
    const metadata = await bob.evaluate(() => {
      const m = navigator.mediaSession.metadata;
      return { title: m?.title, artist: m?.artist, album: m?.album };
    });
    expect(metadata.title).toBe(TITLE);
    expect(metadata.artist).toBe(room.users.alice.userId);
    expect(metadata.album).toBeTruthy();
    await shots(bob, 'matrix-web/listen');

    // The CLI's room capture rekeys from block 2 (a header epoch): HLS takes the room's epochs
    // too (matrix-web-hls-epochs.test.ts plays a rekeyed broadcast over it), so it is offered.
    expect(await bob.isDisabled('#engine-hls')).toBe(false);

    // Log out: token revoked on the homeserver, saved login and crypto store deleted.
    const token = await bob.evaluate(
      () =>
        (JSON.parse(localStorage.getItem('mxcast.matrix') ?? '{}') as { accessToken: string })
          .accessToken,
    );
    await bob.click('#back');
    await bob.waitForSelector('#room-page', { timeout: 30_000 });
    // Leaving the listen page stops its audio (no player left running behind the room page).
    expect(await loudestOutput(bob, 1500)).toBeLessThan(-60);
    await bob.click('#logout');
    await bob.waitForSelector('#mx-login', { timeout: 30_000 });
    expect(await savedDevice(bob)).toBeNull();
    const dbs = await bob.evaluate(async () =>
      (await indexedDB.databases()).map((d) => d.name ?? ''),
    );
    expect(dbs.filter((n) => n.startsWith('matrix-js-sdk'))).toEqual([]);
    await expect(
      matrixCall(room.stack.url, 'GET', '/_matrix/client/v3/account/whoami', { token }),
    ).rejects.toThrow(/M_UNKNOWN_TOKEN|401/);
    await bob.close();
    // alice's capture ends finished (Ctrl-C): the room has no live broadcast left.
    capture.child.kill('SIGINT');
    expect((await capture.done).code).toBe(0);
  });

  it('alice goes live from the microphone; bob listens, seeks back, downloads her recording, goes live himself; alice hears him', async () => {
    const { room, roomItem } = mw;
    const bobRig = mw.browserFor(BOB_HZ);
    const bob = await logInAs(mw, 'bob', { rig: bobRig });
    await bob.waitForSelector(`${roomItem}[data-live="false"]`, { timeout: 60_000 });

    // alice: an access token instead of a password, in the other browser (660 Hz microphone).
    const alice = await logInAs(mw, 'alice', { token: true });
    expect(await alice.textContent('#mx-whoami')).toBe(room.users.alice.userId);
    await alice.click(roomItem);
    await alice.click('#broadcast-here');
    await alice.waitForSelector('#setup', { timeout: 30_000 });
    await alice.fill('#broadcast-title', 'Web show');
    await shots(alice, 'matrix-web/broadcast-setup');
    await alice.click('#go-live');
    await alice.waitForSelector('#live', { timeout: 30_000 });
    const onAirFrom = Date.now();
    await shots(alice, 'matrix-web/broadcast-live');

    await bob.waitForSelector(`${roomItem}[data-live="true"]`, { timeout: 60_000 });
    await bob.click(roomItem);
    const row = '#broadcasts tr[data-live="true"]';
    await bob.waitForSelector(`${row} th:has-text("Web show")`, { timeout: 60_000 });
    const broadcastId = await bob.getAttribute(row, 'data-broadcast-id');
    await bob.click(`${row} button[data-listen]`);
    await waitForPlayer(bob, (v) => v.state === 'live', 'live', 60_000);
    // What bob hears is alice's microphone: her tone, not his own (440 Hz).
    const heard = await expectHz(bob, TONE_HZ);
    expect(Math.abs(heard - TONE_HZ)).toBeLessThan(5);
    // HLS in the room: hls.js sends bob's token on the playlist and every fragment.
    await bob.click('label:has(#engine-hls)');
    await bob.waitForSelector('.player[data-engine=hls]', { timeout: 10_000 });
    await waitForPlayer(bob, (v) => v.state === 'live', 'live over HLS', 60_000);
    await expectTone(bob, 30_000);
    await bob.click('label:has(#engine-direct)');
    await bob.waitForSelector('.player[data-engine=direct]', { timeout: 10_000 });
    await waitForPlayer(bob, (v) => v.state === 'live', 'live (direct again)', 60_000);

    // Pause: alice's microphone muted (bob hears silence) and the room's state `paused`;
    // Resume: `resumed` and the tone again.
    const roomState = async (): Promise<string> =>
      (
        await matrixCall<{ state: string }>(
          room.stack.url,
          'GET',
          `/_matrix/client/v3/rooms/${encodeURIComponent(room.roomId)}/state/org.mxcast.broadcast.state/${broadcastId}`,
          { token: room.users.bob.accessToken },
        )
      ).state;
    const waitState = async (want: string): Promise<void> => {
      const deadline = Date.now() + 20_000;
      while ((await roomState()) !== want) {
        if (Date.now() > deadline) throw new Error(`the room never said ${want}`);
        await bob.waitForTimeout(250);
      }
    };
    await alice.click('#pause');
    await waitState('paused');
    await bob.waitForTimeout(2500);
    expect(await loudestOutput(bob, 1000)).toBeLessThan(-60);
    await alice.click('#pause');
    await waitState('resumed');
    // On air, Back keeps alice on the broadcaster page.
    await alice.click('#back');
    expect(await alice.locator('#live').count()).toBe(1);
    expect(await alice.textContent('#notice')).toMatch(/on air/);
    await expectTone(bob, 30_000);
    // The relay counts bob on alice's page.
    await alice.waitForFunction(
      () => Number(document.querySelector('#listeners')?.textContent) >= 1,
      undefined,
      { timeout: 15_000 },
    );
    await shots(bob, 'matrix-web/listen-web');

    // Seek back 5 s (keyboard, the range focused): the position goes back and plays on from
    // there (it advances again) with alice's tone.
    const atLive = (await playerView(bob)).position;
    await bob.locator('#seek').focus();
    await bob.keyboard.press('ArrowLeft');
    const back = await waitForPlayer(
      bob,
      (v) => v.state === 'playing' && v.position < atLive - 3,
      'playing 5 s in the past',
      30_000,
    );
    await expectHz(bob, TONE_HZ);
    await waitForPlayer(
      bob,
      (v) => v.state === 'playing' && v.position >= back.position + 1.5,
      'playing on from the past',
      30_000,
    );
    await shots(bob, 'matrix-web/seek-back');

    // Stop: the last block with EOS, then the completion and `stopped` in the room.
    await alice.click('#stop');
    const onAirS = (Date.now() - onAirFrom) / 1000;
    await alice.waitForSelector('#ended', { timeout: 60_000 });
    await waitForPlayer(bob, (v) => v.state === 'finished', 'finished', 60_000);
    // The sender's completion against what bob played: he reached its last block and the
    // relay says complete. (Its one interval starts at block 0, before bob joined live, so it
    // counts as unverifiable, not verified: 2 s checkpoints are checked in the first test.)
    await bob.waitForSelector('#claims[data-outcome="finished"]', { timeout: 30_000 });
    expect(await bob.textContent('#claims')).toMatch(/^Finished: every block/);
    // The player's own pill says the sender's verdict.
    await bob.waitForSelector('.player[data-view="finished"]', { timeout: 10_000 });
    expect(await bob.textContent('#state')).toBe('Finished');

    // bob downloads the recording: streamed through the service worker with his token,
    // decrypted, one valid Ogg Opus file with one EOS, as long as alice was on air, her tone.
    await bob.waitForSelector('#download:not([disabled])', { timeout: 15_000 });
    const [download] = await Promise.all([
      bob.waitForEvent('download', { timeout: 30_000 }),
      bob.click('#download'),
    ]);
    expect(download.suggestedFilename()).toBe('Web-show.opus');
    const dir = mkdtempSync(join(tmpdir(), 'mxcast-web-room-download-'));
    try {
      const saved = join(dir, 'Web-show.opus');
      await download.saveAs(saved);
      expect(await download.failure()).toBeNull();
      const info = execFileSync('opusinfo', [saved], { encoding: 'utf8' });
      expect(info).toMatch(/Playback length/);
      expect(info).not.toMatch(/WARNING|ERROR/);
      const pages = oggPages(readFileSync(saved));
      expect(pages.filter((p) => p.eos)).toHaveLength(1);
      expect(pages[pages.length - 1]!.eos).toBe(true);
      const seconds = Number(
        execFileSync(
          'ffprobe',
          ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', saved],
          { encoding: 'utf8' },
        ),
      );
      // From the Go live click's answer to Stop, measured here: the page's start and its last
      // block fall within a couple of seconds of those (a loaded machine: 3 s either way).
      expect(Math.abs(seconds - onAirS)).toBeLessThan(3);
      // The second after go-live's first is alice's tone (the pause came later): audible
      // (above −60 dBFS RMS; the browser's voice processing lowers a steady tone to about
      // −40) and at her pitch.
      const tone = fileTone(saved, 1);
      expect(tone.rms, JSON.stringify(tone)).toBeGreaterThan(0.001);
      expect(Math.abs(tone.hz - TONE_HZ), JSON.stringify(tone)).toBeLessThan(5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    // bob goes live in the same room, from his page: alice's rooms page marks it live and she
    // hears his microphone's tone (440 Hz), not her own.
    await bob.click('#back');
    await bob.waitForSelector('#broadcasts tr[data-state="stopped"] th:has-text("Web show")', {
      timeout: 30_000,
    });
    await bob.click('#broadcast-here');
    await bob.waitForSelector('#setup', { timeout: 30_000 });
    await bob.fill('#broadcast-title', 'Bob answers');
    await bob.click('#go-live');
    await bob.waitForSelector('#live', { timeout: 30_000 });
    await shots(bob, 'matrix-web/bob-live');
    await alice.goto(`${room.stack.url}/rooms`);
    await alice.waitForSelector(`${roomItem}[data-live="true"]`, { timeout: 60_000 });
    await alice.click(roomItem);
    const bobRow = `${row}:has(th:has-text("Bob answers"))`;
    await alice.waitForSelector(bobRow, { timeout: 60_000 });
    expect(await alice.textContent(`${bobRow} td[data-label=Broadcaster]`)).toBe(
      room.users.bob.userId,
    );
    await alice.click(`${bobRow} button[data-listen]`);
    await waitForPlayer(alice, (v) => v.state === 'live', 'live (bob)', 60_000);
    const aliceHeard = await expectHz(alice, BOB_HZ);
    expect(Math.abs(aliceHeard - BOB_HZ)).toBeLessThan(5);
    await shots(alice, 'matrix-web/listen-bob');
    await bob.click('#stop');
    await bob.waitForSelector('#ended', { timeout: 60_000 });
    await waitForPlayer(alice, (v) => v.state === 'finished', 'finished (bob)', 60_000);
    await Promise.all([alice.close(), bob.close()]);
  });
});
