/**
 * A room listen's end states on the real stack (docs/web.md "Every state"): alice goes live from
 * the web broadcaster into the encrypted room, bob listens in the web app and hears her; alice
 * presses Cancel. bob's player must say Cancelled (the relay's `cancelled` and alice's cancel
 * event), never Finished, and the claims line says who cancelled. One stack, one broadcast.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCliRoom, type CliRoom } from '../matrix/matrix-cli-kit.ts';
import {
  expectTone,
  screenshot,
  startWebRig,
  waitForPlayer,
  type Page,
  type WebRig,
} from './web-harness.ts';

const TITLE = 'Cancelled show';

let room: CliRoom;
let rig: WebRig;

beforeAll(async () => {
  [room, rig] = await Promise.all([startCliRoom({ relayHomeserver: true }), startWebRig()]);
}, 900_000);

afterAll(async () => {
  await rig?.close();
  await room?.stop();
});

async function logIn(page: Page, fields: Record<string, string>): Promise<void> {
  await page.goto(`${room.stack.url}/rooms`);
  await page.waitForSelector('#mx-login', { timeout: 30_000 });
  await page.fill('#mx-homeserver', room.stack.url);
  for (const [id, value] of Object.entries(fields)) await page.fill(`#${id}`, value);
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
});
