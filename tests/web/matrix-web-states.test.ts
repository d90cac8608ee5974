/**
 * A room listen's end states on the real stack (docs/web.md "Every state"): alice goes live from
 * the web broadcaster into the encrypted room, bob listens in the web app and hears her; alice
 * presses Cancel. bob's player must say Cancelled (the relay's `cancelled` and alice's cancel
 * event), never Finished, and the claims line says who cancelled. Then a CLI broadcast heard over
 * HLS through a proxy that cuts the finished playlist short: Cut by the relay; and one through a
 * proxy that flips a byte in every media range: Tampered. One stack.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliRoom } from '../matrix/matrix-cli-kit.ts';
import { startHlsHostileProxy, type HlsHostileProxy } from './hls-hostile-proxy.ts';
import { expectTone, screenshot, waitForPlayer, type Page, type WebRig } from './web-harness.ts';
import { fillLogin, startMatrixWeb, type MatrixWeb } from './matrix-web-harness.ts';

const TITLE = 'Cancelled show';
const CUT_TITLE = 'Cut show';
const TAMPER_TITLE = 'Tampered show';

let mw: MatrixWeb;
let room: CliRoom;
let rig: WebRig;
/** The proxy bob's HLS listens go through (cut, then tampered). */
let hostile: HlsHostileProxy | undefined;

beforeAll(async () => {
  mw = await startMatrixWeb();
  ({ room, rig } = mw);
}, 900_000);

afterAll(async () => {
  await hostile?.close();
  await mw?.close();
});

async function logIn(
  page: Page,
  fields: Record<string, string>,
  origin = room.stack.url,
): Promise<void> {
  await fillLogin(page, origin, fields);
  await page.click('#mx-login button[type=submit]');
}

describe('room listen states on the stack', () => {
  it('alice cancels her web broadcast: bob’s player says Cancelled', async () => {
    const roomItem = `#rooms a[data-room-id="${room.roomId}"]`;
    const context = await rig.browser.newContext();
    try {
      const bob = await rig.context.newPage();
      await logIn(bob, { 'mx-user': 'bob', 'mx-password': 'bob-password-1' });
      await bob.waitForSelector(roomItem, { timeout: 60_000 });

      const alice = await context.newPage();
      await logIn(alice, { 'mx-token': room.users.alice.accessToken });
      await alice.waitForSelector(roomItem, { timeout: 60_000 });
      await alice.click(roomItem);
      await alice.click('#broadcast-here');
      await alice.waitForSelector('#setup', { timeout: 30_000 });
      await alice.fill('#broadcast-title', TITLE);
      await alice.click('#go-live');
      await alice.waitForSelector('#live', { timeout: 30_000 });

      await bob.waitForSelector(`${roomItem}[data-live="true"]`, { timeout: 60_000 });
      await bob.click(roomItem);
      const row = `#broadcasts tr[data-live="true"]:has(th:has-text("${TITLE}"))`;
      await bob.waitForSelector(row, { timeout: 60_000 });
      await bob.click(`${row} button[data-listen]`);
      await waitForPlayer(bob, (v) => v.state === 'live', 'live', 60_000);
      await expectTone(bob, 30_000);
      alice.once('dialog', (dialog) => void dialog.accept());
      await alice.click('#cancel');
      await alice.waitForSelector('#ended', { timeout: 30_000 });

      await bob.waitForSelector('.player[data-view="cancelled"]', { timeout: 30_000 });
      expect(await bob.textContent('#state')).toBe('Cancelled');
      const view = await waitForPlayer(
        bob,
        (v) => v.state === 'ended-without-finishing',
        'ended without finishing',
        30_000,
      );
      expect(view.state).not.toBe('finished');
      // The sender's word (her cancel event) reached the direct engine's claims check.
      await bob.waitForSelector('#claims[data-outcome="cancelled"]', { timeout: 30_000 });
      expect(await bob.textContent('#claims')).toContain(`Cancelled by ${room.users.alice.userId}`);
      await screenshot(bob, 'matrix-web/state-cancelled');
      await bob.close();
    } finally {
      await context.close();
    }
  }, 240_000);

  it('a relay that cuts the finished recording short for HLS: bob’s player says Cut', async () => {
    // bob opens the app through a proxy in front of the stack that drops the playlist's last
    // two segments but says ENDLIST: every block he gets is genuine, only alice's completion
    // event (the block count she vouched for) shows the stream was cut.
    const proxy = await startHlsHostileProxy(room.stack.url, { dropSegments: 2 });
    hostile = proxy;
    const roomItem = `#rooms a[data-room-id="${room.roomId}"]`;
    const bob = await rig.context.newPage();
    await logIn(bob, { 'mx-user': 'bob', 'mx-password': 'bob-password-1' }, proxy.url);
    await bob.waitForSelector(roomItem, { timeout: 60_000 });
    await bob.evaluate(() => localStorage.setItem('mxcast.engine', 'hls'));
    // bob's device (this origin's) exists before alice announces: it gets her key.
    const capture = room.mx('capture', 'alice', [
      ...['--input', 'sine:660', '--duration', '12', '--realtime'],
      ...['--preset', 'voice', '--title', CUT_TITLE, '--checkpoint-every', '2'],
    ]);
    const done = await capture.done;
    expect(done.code, done.stderr).toBe(0);

    await bob.click(roomItem);
    const row = `#broadcasts tr:has(th:has-text("${CUT_TITLE}"))`;
    await bob.waitForSelector(row, { timeout: 60_000 });
    await bob.click(`${row} button[data-listen]`);
    await bob.waitForSelector('.player[data-engine=hls]', { timeout: 60_000 });
    await bob.waitForSelector('.player[data-view="cut"]', { timeout: 90_000 });
    expect(proxy.cuts()).toBeGreaterThan(0);
    expect(await bob.getAttribute('#claims', 'data-outcome')).toBe('cut');
    expect(await bob.textContent('#claims')).toMatch(/^Cut by the relay/);
    const view = await waitForPlayer(bob, () => true, 'any');
    expect(view.state).toBe('ended-without-finishing');
    await screenshot(bob, 'matrix-web/state-cut');
    await bob.close();
  }, 240_000);

  it('a relay that flips a byte in every HLS media range: bob’s player says Tampered', async () => {
    // The header range passes intact (blocks 0-1 authenticate), so the first audio block that
    // fails is tampering, not a wrong key.
    // The same proxy (origin) as the cut case: bob's device there, which alice's capture
    // already knows, stays logged in (a device new to her may miss the key, docs/web.md).
    const proxy = hostile!;
    proxy.set({ flipMediaRanges: true });
    const roomItem = `#rooms a[data-room-id="${room.roomId}"]`;
    const bob = await rig.context.newPage();
    await bob.goto(`${proxy.url}/rooms`);
    await bob.waitForSelector(roomItem, { timeout: 60_000 });
    const capture = room.mx('capture', 'alice', [
      ...['--input', 'sine:660', '--duration', '6', '--realtime'],
      ...['--preset', 'voice', '--title', TAMPER_TITLE, '--checkpoint-every', '2'],
    ]);
    const done = await capture.done;
    expect(done.code, done.stderr).toBe(0);

    await bob.click(roomItem);
    const row = `#broadcasts tr:has(th:has-text("${TAMPER_TITLE}"))`;
    await bob.waitForSelector(row, { timeout: 60_000 });
    await bob.click(`${row} button[data-listen]`);
    await bob.waitForSelector('.player[data-engine=hls]', { timeout: 60_000 });
    await bob.waitForSelector('.player[data-view="tampered"]', { timeout: 60_000 });
    expect(proxy.flips()).toBeGreaterThan(0);
    expect(await bob.textContent('#state')).toBe('Tampered');
    const view = await waitForPlayer(bob, () => true, 'any');
    expect(view.error).toBe('TAMPERED');
    await screenshot(bob, 'matrix-web/state-tampered');
    await bob.close();
  }, 240_000);
});
