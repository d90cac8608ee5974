/**
 * The web app as a Matrix client (docs/web.md "Matrix") against the real stack (Synapse behind
 * nginx, the relay in homeserver mode serving apps/web/dist): bob logs in with a password in
 * Chromium, his device survives a reload, sees the room turn live when alice goes live with
 * `mxcast capture --room`, opens the broadcast, hears alice's tone through the relay with his
 * Matrix access token, seeks back, and logs out (token revoked, IndexedDB crypto store gone).
 * alice logs in with an access token in a second browser context and sees the same live room.
 * Screenshots of each page at desktop and phone size go to test-artifacts/matrix-web/.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliRun } from '../capture/capture-harness.ts';
import { startCliRoom, type CliRoom } from '../matrix/matrix-cli-kit.ts';
import { matrixCall } from '../matrix/matrix-users.ts';
import {
  expectTone,
  loudestOutput,
  screenshot,
  startWebRig,
  TONE_HZ,
  waitForPlayer,
  type Page,
  type WebRig,
} from './web-harness.ts';

const TITLE = 'Morning show';
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 900, height: 760 };

let room: CliRoom;
let rig: WebRig;
let capture: CliRun | undefined;

beforeAll(async () => {
  // The rig's browser (fake microphone, output probes); its own relay is not used here.
  [room, rig] = await Promise.all([startCliRoom({ relayHomeserver: true }), startWebRig()]);
}, 900_000);

afterAll(async () => {
  capture?.child.kill('SIGKILL');
  await rig?.close();
  await room?.stop();
});

/** Desktop and phone screenshots of what the page shows now. */
async function shots(page: Page, name: string): Promise<void> {
  await screenshot(page, `matrix-web/${name}-desktop`);
  await page.setViewportSize(PHONE);
  await screenshot(page, `matrix-web/${name}-phone`);
  await page.setViewportSize(DESKTOP);
}

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

async function savedDevice(page: Page): Promise<string | null> {
  return page.evaluate(() => {
    const raw = localStorage.getItem('mxcast.matrix');
    return raw ? (JSON.parse(raw) as { deviceId: string }).deviceId : null;
  });
}

/** The app through nginx, beside Synapse: one address serves both (deploy/matrix). */
async function logIn(page: Page, fields: Record<string, string>): Promise<void> {
  await page.goto(`${room.stack.url}/rooms`);
  await page.waitForSelector('#mx-login', { timeout: 30_000 });
  await page.fill('#mx-homeserver', room.stack.url);
  for (const [id, value] of Object.entries(fields)) await page.fill(`#${id}`, value);
}

describe('web app as a Matrix client', () => {
  it('bob logs in, sees the room go live, listens to alice with his token, seeks back, logs out', async () => {
    const bob = await rig.context.newPage();
    const roomItem = `#rooms a[data-room-id="${room.roomId}"]`;

    // Wrong password: a clear message, still on the login form.
    await logIn(bob, { 'mx-user': 'bob', 'mx-password': 'not-his-password' });
    await bob.click('#mx-login button[type=submit]');
    await bob.waitForSelector('#mx-login-message:not([hidden])', { timeout: 30_000 });
    expect(await bob.textContent('#mx-login-message')).toMatch(/Login failed/);

    await logIn(bob, { 'mx-user': 'bob', 'mx-password': 'bob-password-1' });
    await shots(bob, 'login');
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
    await shots(bob, 'rooms');

    await bob.click(roomItem);
    const row = '#broadcasts tr[data-live="true"]';
    await bob.waitForSelector(`${row} th:has-text("${TITLE}")`, { timeout: 30_000 });
    expect(await bob.textContent(`${row} td[data-label=Broadcaster]`)).toBe(
      room.users.alice.userId,
    );
    await shots(bob, 'room');
    // A live row's duration ticks while the page is open.
    const duration = async (): Promise<number> => {
      const [m, sec] = ((await bob.textContent(`${row} td[data-label=Duration]`)) ?? '')
        .split(':')
        .map(Number);
      return (m ?? 0) * 60 + (sec ?? 0);
    };
    const before = await duration();
    await bob.waitForTimeout(2500);
    expect(await duration()).toBeGreaterThanOrEqual(before + 2);

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
    await shots(bob, 'listen');

    // Seek back 5 s (keyboard): playing from the past, still the tone.
    await bob.waitForTimeout(3000);
    await bob.locator('#seek').focus();
    await bob.keyboard.press('ArrowLeft');
    await waitForPlayer(bob, (v) => v.state === 'playing', 'playing in the past', 30_000);
    await expectTone(bob, 30_000);
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

  it('alice logs in with an access token, goes live in the room from the microphone; bob hears her tone; stop ends it finished', async () => {
    const context = await rig.browser.newContext({ viewport: DESKTOP });
    try {
      const roomItem = `#rooms a[data-room-id="${room.roomId}"]`;
      const bob = await rig.context.newPage();
      await logIn(bob, { 'mx-user': 'bob', 'mx-password': 'bob-password-1' });
      await bob.click('#mx-login button[type=submit]');
      await bob.waitForSelector(`${roomItem}[data-live="false"]`, { timeout: 60_000 });

      const alice = await context.newPage();
      await logIn(alice, { 'mx-token': room.users.alice.accessToken });
      await alice.click('#mx-login button[type=submit]');
      await alice.waitForSelector(roomItem, { timeout: 60_000 });
      expect(await alice.textContent('#mx-whoami')).toBe(room.users.alice.userId);
      await alice.click(roomItem);
      await alice.click('#broadcast-here');
      await alice.waitForSelector('#setup', { timeout: 30_000 });
      await alice.fill('#broadcast-title', 'Web show');
      await shots(alice, 'broadcast-setup');
      await alice.click('#go-live');
      await alice.waitForSelector('#live', { timeout: 30_000 });
      await shots(alice, 'broadcast-live');

      await bob.waitForSelector(`${roomItem}[data-live="true"]`, { timeout: 60_000 });
      await bob.click(roomItem);
      const row = '#broadcasts tr[data-live="true"]';
      await bob.waitForSelector(`${row} th:has-text("Web show")`, { timeout: 60_000 });
      const broadcastId = await bob.getAttribute(row, 'data-broadcast-id');
      await bob.click(`${row} button[data-listen]`);
      await waitForPlayer(bob, (v) => v.state === 'live', 'live', 60_000);
      await expectTone(bob, 30_000);
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

      // Stop: the last block with EOS, then the completion and `stopped` in the room.
      await alice.click('#stop');
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
      // decrypted, one valid Ogg Opus file with one EOS.
      await bob.waitForSelector('#download:not([disabled])', { timeout: 15_000 });
      const [download] = await Promise.all([
        bob.waitForEvent('download', { timeout: 30_000 }),
        bob.click('#download'),
      ]);
      expect(download.suggestedFilename()).toBe('Web-show.opus');
      const dir = mkdtempSync(join(tmpdir(), 'mxcast-web-room-download-'));
      const saved = join(dir, 'Web-show.opus');
      await download.saveAs(saved);
      expect(await download.failure()).toBeNull();
      const info = execFileSync('opusinfo', [saved], { encoding: 'utf8' });
      expect(info).toMatch(/Playback length/);
      expect(info).not.toMatch(/WARNING|ERROR/);
      const pages = oggPages(readFileSync(saved));
      expect(pages.filter((p) => p.eos)).toHaveLength(1);
      expect(pages[pages.length - 1]!.eos).toBe(true);
      rmSync(dir, { recursive: true, force: true });
      await bob.click('#back');
      await bob.waitForSelector('#broadcasts tr[data-state="stopped"] th:has-text("Web show")', {
        timeout: 30_000,
      });
      await bob.close();
    } finally {
      await context.close();
    }
  });
});
