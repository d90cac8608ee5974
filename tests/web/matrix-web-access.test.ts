/**
 * No access after a kick, in the browser, on the real stack (docs/web.md "every state",
 * docs/matrix.md "Key epochs"): bob logs in to the web app in Chromium (a new device, made while
 * alice's capture device is offline, so its next start does not share the keys with it: the
 * page asks for them, docs/matrix.md "Key re-share") and listens to alice's
 * `mxcast capture --room` broadcast; alice kicks bob through the client API;
 * the capture starts a key epoch in a Megolm session bob's device never receives, and bob's
 * player stops at that epoch's first block with the "no access" view — never "tampered" (the
 * blocks are genuine; bob just has no key for them).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliRun } from '../capture/capture-harness.ts';
import type { CliRoom } from '../matrix/matrix-cli-kit.ts';
import { matrixCall } from '../matrix/matrix-users.ts';
import { logInAs, startMatrixWeb, type MatrixWeb } from './matrix-web-harness.ts';
import { expectTone, screenshot, TONE_HZ, waitForPlayer } from './web-harness.ts';

const TITLE = 'Members only';

let mw: MatrixWeb;
let room: CliRoom;
let capture: CliRun | undefined;

beforeAll(async () => {
  mw = await startMatrixWeb();
  room = mw.room;
  // alice's capture device exists before bob's browser device and is offline when bob logs in:
  // its next start does not learn of bob's new device, so his page must ask for the key
  // (docs/matrix.md "Key re-share", key requests).
  const first = await room.mx('capture', 'alice', [
    ...['--input', `sine:${TONE_HZ}`, '--duration', '1', '--preset', 'voice', '--title', 'Before'],
  ]).done;
  expect(first.code, first.stderr).toBe(0);
}, 900_000);

afterAll(async () => {
  capture?.child.kill('SIGKILL');
  await mw?.close();
});

describe('web room listen after a kick', () => {
  it('bob is kicked while listening: his page shows no access, not tampered', async () => {
    const { roomItem } = mw;
    const bob = await logInAs(mw, 'bob');

    capture = room.mx('capture', 'alice', [
      ...['--input', `sine:${TONE_HZ}`, '--duration', '90', '--realtime'],
      ...['--preset', 'voice', '--title', TITLE, '--checkpoint-every', '2'],
    ]);
    await bob.waitForSelector(`${roomItem}[data-live="true"]`, { timeout: 60_000 });
    await bob.click(roomItem);
    const row = '#broadcasts tr[data-live="true"]';
    // No key on this device yet: the row says so, and Listen asks the capture for it.
    await bob.waitForSelector(`${row} th:has-text("no key for this device yet")`, {
      timeout: 30_000,
    });
    await bob.click(`${row} button[data-listen]`);
    // The key came from the capture's answer to the page's request.
    await capture.waitFor(/key request from @bob:\S+: re-announced/, 60_000);
    await waitForPlayer(bob, (v) => v.state === 'live', 'live', 60_000);
    expect(await bob.textContent('#title')).toBe(TITLE);
    await expectTone(bob, 30_000);

    await matrixCall(
      room.stack.url,
      'POST',
      `/_matrix/client/v3/rooms/${encodeURIComponent(room.roomId)}/kick`,
      { token: room.users.alice.accessToken, body: { user_id: room.users.bob.userId } },
    );
    // The capture's epoch for the kick; bob's player reaches its first block without a key.
    await capture.waitFor(/new key epoch: .* left/, 30_000);
    await bob.waitForSelector('.player[data-view="no-access"]', { timeout: 60_000 });
    expect(await bob.getAttribute('.player', 'data-view')).toBe('no-access');
    expect(await bob.textContent('body')).toMatch(/no longer have access/i);
    expect(await bob.textContent('body')).not.toMatch(/tampered/i);
    await screenshot(bob, 'matrix-web/no-access');
    // Still so a little later: nothing turns it into another verdict.
    await bob.waitForTimeout(3000);
    expect(await bob.getAttribute('.player', 'data-view')).toBe('no-access');
  }, 300_000);
});
