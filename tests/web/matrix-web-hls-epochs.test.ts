/**
 * HLS and playback speed on a rekeyed room broadcast (docs/web.md "Speed", docs/matrix.md "Key
 * epochs"): alice's `mxcast capture --room --rekey-every 3s` makes a broadcast with several key
 * epochs; bob listens live in the web app (the epoch events reach his page), and once it has
 * finished plays it again at 1.5× (which hands playback to the HLS engine) and hears the tone at
 * its own pitch while the position crosses epoch boundaries: the HLS remuxer decrypts each
 * block under its epoch through the same BlockAuthenticator as the direct player. Reloaded with
 * HLS as the chosen engine, alice's checkpoints are verified against the blocks HLS plays. One
 * stack, one broadcast.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliRoom } from '../matrix/matrix-cli-kit.ts';
import {
  expectHz,
  logInAs,
  measuredTone,
  startMatrixWeb,
  type MatrixWeb,
} from './matrix-web-harness.ts';
import { screenshot, waitForPlayer, type Page } from './web-harness.ts';

const TITLE = 'Rekeyed show';
/** The 1.5× pitch check (docs/web.md) is on 440 Hz. */
const TONE = 440;
/** alice rekeys every this many seconds of audio: the recording has several boundaries. */
const REKEY_S = 3;

let mw: MatrixWeb;
let room: CliRoom;

beforeAll(async () => {
  mw = await startMatrixWeb();
  room = mw.room;
}, 900_000);

afterAll(async () => {
  await mw?.close();
});

/** A lock-screen button (Media Session handler) pressed from the test. */
function press(page: Page, action: string, details: Record<string, unknown> = {}): Promise<void> {
  return page.evaluate(
    ([a, d]) => {
      const handlers = (window as unknown as { __mxSession: Record<string, (d: unknown) => void> })
        .__mxSession;
      const handler = handlers[a as string];
      if (!handler) throw new Error(`no Media Session handler for ${a as string}`);
      handler({ action: a, ...(d as object) });
    },
    [action, details] as const,
  );
}

describe('HLS on a rekeyed room broadcast', () => {
  it('bob plays alice’s rekeyed recording at 1.5× over HLS: pitch kept across epoch boundaries', async () => {
    const { roomItem } = mw;
    const bob = await logInAs(mw, 'bob');
    // Epochs announced after bob's listen page opened reach it as console notices.
    const notices: string[] = [];
    bob.on('console', (m) => {
      if (/mxcast: key epoch from block \d+/.test(m.text())) notices.push(m.text());
    });

    // 24 s of 440 Hz with an epoch every 3 s: boundaries every 3 s of the recording.
    const capture = room.mx('capture', 'alice', [
      ...['--input', `sine:${TONE}`, '--duration', '24', '--realtime'],
      ...['--preset', 'voice', '--title', TITLE, '--rekey-every', `${REKEY_S}s`],
      ...['--checkpoint-every', '2'],
    ]);
    await bob.waitForSelector(`${roomItem}[data-live="true"]`, { timeout: 60_000 });
    await bob.click(roomItem);
    const row = `#broadcasts tr:has(th:has-text("${TITLE}"))`;
    await bob.waitForSelector(row, { timeout: 30_000 });
    await bob.click(`${row} button[data-listen]`);
    await waitForPlayer(bob, (v) => v.state === 'live', 'live', 60_000);
    // HLS is offered although the broadcast has several epochs.
    expect(await bob.isDisabled('#engine-hls')).toBe(false);

    const done = await capture.done;
    expect(done.code, done.stderr).toBe(0);
    await waitForPlayer(bob, (v) => v.state === 'finished', 'finished', 60_000);
    // The room carried epochs while bob listened (each an epoch event his device decrypted).
    expect(notices.length, notices.join('\n')).toBeGreaterThanOrEqual(2);

    await press(bob, 'seekto', { seekTime: 1 });
    await waitForPlayer(bob, (v) => v.state === 'playing', 'replaying the recording', 30_000);
    await bob.waitForFunction(
      () => !(document.querySelector<HTMLSelectElement>('#speed')?.disabled ?? true),
      undefined,
      { timeout: 15_000 },
    );
    await bob.selectOption('#speed', '1.5');
    await bob.waitForSelector('.player[data-engine=hls][data-rate="1.5"]', { timeout: 15_000 });
    const start = await waitForPlayer(bob, (v) => v.state === 'playing', 'over HLS', 30_000);
    await expectHz(bob, TONE, { toleranceHz: 8, timeoutMs: 15_000 });
    // Media seconds per wall second, read in the page (no round trips in the interval).
    const rate = await bob.evaluate(async () => {
      const player = document.querySelector<HTMLElement>('.player')!;
      const t0 = Number(player.dataset.position);
      const w0 = performance.now();
      await new Promise((r) => setTimeout(r, 3000));
      return (Number(player.dataset.position) - t0) / ((performance.now() - w0) / 1000);
    });
    const pitch = (await measuredTone(bob)).hz;
    // Past at least two more boundaries, still the tone, no error.
    const later = await waitForPlayer(
      bob,
      (v) => v.position >= start.position + 2 * REKEY_S + 0.5 || v.error !== null,
      'two more epochs',
      30_000,
    );
    expect(later.error, later.message).toBeNull();
    await expectHz(bob, TONE, { toleranceHz: 8, timeoutMs: 5000 });
    await screenshot(bob, 'matrix-web/hls-epochs-speed');
    console.info(
      `HLS 1.5x, ${notices.length} epochs announced while listening: ${pitch.toFixed(1)} Hz, ${rate.toFixed(2)} media s per wall s, ` +
        `position ${start.position.toFixed(1)} -> ${later.position.toFixed(1)} s`,
    );
    // Without the pitch kept a 1.5× tone would be at 660 Hz.
    expect(Math.abs(pitch - TONE)).toBeLessThan(5);
    expect(rate).toBeGreaterThan(1.3);
    expect(rate).toBeLessThan(1.7);
    expect(await bob.getAttribute('.player', 'data-engine')).toBe('hls');
    // Played back to the end after the seek: finished again. The last block is trimmed (the
    // media ends ~0.2 s before the playlist's last part does), so hls.js alone never ended it:
    // the engine ends the media at the authenticated EOS (docs/web.md "What the HLS view checks").
    await waitForPlayer(bob, (v) => v.state === 'finished', 'finished again', 30_000);

    // HLS as the chosen engine from the start (no direct engine ever runs on this page): alice's
    // checkpoints are verified against the blocks the HLS remuxer authenticates, to the end.
    // Polled rather than waitForFunction, so a failure says what the page showed and why the
    // engine stopped (its reason goes to the console): a reload here once met a fragment body
    // cut short by the browser's HTTP cache, which the engine must not call tampering.
    const pageLog: string[] = [];
    bob.on('console', (m) => pageLog.push(`${m.type()}: ${m.text()}`));
    await bob.evaluate(() => localStorage.setItem('mxcast.engine', 'hls'));
    await bob.reload();
    await bob.waitForSelector('.player[data-engine=hls]', { timeout: 60_000 });
    const deadline = Date.now() + 60_000;
    let snap: Record<string, unknown> = {};
    for (;;) {
      snap = await bob.evaluate(() => {
        const c = document.querySelector<HTMLElement>('#claims');
        const p = document.querySelector<HTMLElement>('.player');
        const message = document.querySelector('#message')?.textContent;
        return { claims: c?.textContent, ...c?.dataset, player: { ...p?.dataset }, message };
      });
      if (Number(snap.verified) >= 2 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(
      Number(snap.verified),
      `${JSON.stringify(snap)}\n${pageLog.filter((l) => !l.startsWith('debug')).join('\n')}`,
    ).toBeGreaterThanOrEqual(2);
    const completed = pageLog.filter((l) => /completed from the network/.test(l));
    console.info(
      `after the reload: ${completed.length} short fragment bodies completed`,
      completed,
    );
    const claims = (await bob.textContent('#claims')) ?? '';
    expect(claims).toMatch(/verified/);
    expect(claims).not.toMatch(/Does not match/);
    await bob.close();
  }, 240_000);
});
