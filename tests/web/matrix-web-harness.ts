/**
 * The web app as a Matrix client on the real stack, set up once per test file: Synapse behind
 * nginx with the relay in homeserver mode serving apps/web/dist (tests/matrix/matrix-cli-kit.ts:
 * alice and bob with passwords, an encrypted room alice made and bob joined), and headless
 * Chromium with a fake microphone (web-harness.ts). A browser per microphone tone: Chromium
 * takes its fake capture file per process, so a user who must be heard apart from another gets
 * a browser of their own. Login, screenshots at desktop and phone size, and a pitch probe for
 * any tone.
 */
import { startCliRoom, type CliRoom } from '../matrix/matrix-cli-kit.ts';
import { matrixCall } from '../matrix/matrix-users.ts';
import type { MatrixStackOptions } from '../matrix/matrix-stack.ts';
import { pageTone, waitForTone, type Tone } from '../audio/tone-measure.ts';
import type { BrowserContext } from 'playwright-core';
import { screenshot, startWebRig, TONE_HZ, type Page, type WebRig } from './web-harness.ts';

export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 900, height: 760 };

export interface MatrixWeb {
  room: CliRoom;
  /** The browser whose fake microphone plays TONE_HZ (its context has the output probes). */
  rig: WebRig;
  /** The room in the rooms list (`data-live` says whether it has a live broadcast). */
  roomItem: string;
  /** The browser whose fake microphone plays `hz` (one of `tones`, or TONE_HZ). */
  browserFor(hz: number): WebRig;
  close(): Promise<void>;
}

export interface MatrixWebOptions {
  stack?: MatrixStackOptions;
  /** Microphone tones besides TONE_HZ, each its own Chromium. */
  tones?: number[];
}

/** The stack and the browsers, started side by side (the stack takes the longest). */
export async function startMatrixWeb(options: MatrixWebOptions = {}): Promise<MatrixWeb> {
  const tones = [TONE_HZ, ...(options.tones ?? []).filter((hz) => hz !== TONE_HZ)];
  const started = await Promise.allSettled([
    startCliRoom({ relayHomeserver: true, ...options.stack }),
    ...tones.map((hz) =>
      startWebRig(
        hz === TONE_HZ ? {} : { micSource: `sine=frequency=${hz}:duration=120:sample_rate=48000` },
      ),
    ),
  ]);
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    // Nothing left running behind a half-started set-up.
    for (const s of started) {
      if (s.status !== 'fulfilled') continue;
      await ('stop' in s.value ? s.value.stop() : s.value.close()).catch(() => undefined);
    }
    throw (failed as PromiseRejectedResult).reason;
  }
  const [room, ...rigs] = started.map((s) => (s as PromiseFulfilledResult<unknown>).value) as [
    CliRoom,
    ...WebRig[],
  ];
  const byTone = new Map(tones.map((hz, i) => [hz, rigs[i]!]));
  return {
    room,
    rig: rigs[0]!,
    roomItem: `#rooms a[data-room-id="${room.roomId}"]`,
    browserFor(hz) {
      const rig = byTone.get(hz);
      if (!rig) throw new Error(`no browser with a ${hz} Hz microphone (tones: ${tones})`);
      return rig;
    },
    async close() {
      for (const rig of rigs) await rig.close();
      await room.stop();
    },
  };
}

/** The login form of the app through nginx (one address serves the app and Synapse), filled. */
export async function fillLogin(
  page: Page,
  origin: string,
  fields: Record<string, string>,
): Promise<void> {
  await page.goto(`${origin}/rooms`);
  await page.waitForSelector('#mx-login', { timeout: 30_000 });
  await page.fill('#mx-homeserver', origin);
  for (const [id, value] of Object.entries(fields)) await page.fill(`#${id}`, value);
}

/**
 * A new page logged in as alice or bob (password, or access token with `token`), on the rooms
 * page with the test room listed: in `rig`'s probed context (default the TONE_HZ browser's), or
 * in `context` (a second user in the same browser needs a context of their own: the login is
 * kept in the origin's localStorage).
 */
export async function logInAs(
  mw: MatrixWeb,
  name: 'alice' | 'bob',
  options: { rig?: WebRig; context?: BrowserContext; token?: boolean } = {},
): Promise<Page> {
  const page = await (options.context ?? (options.rig ?? mw.rig).context).newPage();
  await fillLogin(
    page,
    mw.room.stack.url,
    options.token
      ? { 'mx-token': mw.room.users[name].accessToken }
      : { 'mx-user': name, 'mx-password': `${name}-password-1` },
  );
  await page.click('#mx-login button[type=submit]');
  await page.waitForSelector(mw.roomItem, { timeout: 60_000 });
  return page;
}

/** Raises `name` to power level 50 in the room: room state events need it (docs/matrix.md). */
export async function grantBroadcast(mw: MatrixWeb, name: 'alice' | 'bob'): Promise<void> {
  const { stack, roomId, users } = mw.room;
  const path = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.power_levels/`;
  const levels = await matrixCall<{ users?: Record<string, number> }>(stack.url, 'GET', path, {
    token: users.alice.accessToken,
  });
  await matrixCall(stack.url, 'PUT', path, {
    token: users.alice.accessToken,
    body: { ...levels, users: { ...levels.users, [users[name].userId]: 50 } },
  });
}

/** Desktop and phone screenshots of what the page shows now, in test-artifacts/<name>-*.png. */
export async function shots(page: Page, name: string): Promise<void> {
  await page.setViewportSize(DESKTOP);
  await screenshot(page, `${name}-desktop`);
  await page.setViewportSize(PHONE);
  await screenshot(page, `${name}-phone`);
  await page.setViewportSize(DESKTOP);
}

/** The strongest frequency the page plays, refined between FFT bins (tests/audio/tone-measure.ts). */
export async function measuredTone(page: Page): Promise<Tone> {
  return pageTone(page);
}

/**
 * Polls until the page plays `hz` (within `toleranceHz`, audible above −75 dBFS, 30 dB above
 * the median bin: a tone, not noise); returns the frequency it measured.
 */
export async function expectHz(
  page: Page,
  hz: number,
  { timeoutMs = 30_000, toleranceHz = 5 } = {},
): Promise<number> {
  return (await waitForTone(page, hz, { timeoutMs, toleranceHz })).hz;
}
