/**
 * The listener as a media player (docs/web.md "Background playback", "Speed", "Volume"): audio
 * leaves through an <audio> element fed by a MediaStream, Media Session carries the title and
 * the lock screen's buttons work, playback goes on while the tab is hidden, the volume is
 * keyboard-driven and heard, and the past plays at 1.5× with the tone's pitch kept.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseListenLink } from '@mxcast/client';
import { createBlockCipher, decryptAll, parseEncryptedFile } from '@mxcast/format';
import { parseOpusPage } from '@mxcast/ogg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loudestTone, pageTone, waitForTone, type Tone } from '../audio/tone-measure.ts';
import { startTamperDownloadProxy } from './tamper-download-proxy.ts';
import {
  goLive,
  screenshot,
  startWebRig,
  waitForPlayer,
  type Page,
  type WebRig,
} from './web-harness.ts';

/** The broadcast's tone here: the 1.5× pitch check (docs/web.md) is on 440 Hz. */
const TONE = 440;

let rig: WebRig;
let broadcaster: Page;
let listener: Page;
let link: string;

beforeAll(async () => {
  rig = await startWebRig({ micSource: `sine=frequency=${TONE}:duration=120:sample_rate=48000` });
  broadcaster = await rig.context.newPage();
  link = await goLive(broadcaster, rig);
  listener = await rig.context.newPage();
  await listener.goto(link);
}, 60_000);
afterAll(async () => {
  await rig?.close();
});

/** Polls until the page plays `hz` (±8 Hz, audible, a tone not noise). */
function expectPitch(page: Page, hz: number, timeoutMs = 15_000): Promise<Tone> {
  return waitForTone(page, hz, { toleranceHz: 8, timeoutMs });
}

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

describe('web listener as a media player', () => {
  it('plays through an <audio> element with Media Session metadata and lock-screen buttons', async () => {
    // Some seconds of broadcast first, so that there is a past to seek back into.
    await waitForPlayer(listener, (v) => v.state === 'live' && v.position > 8, 'live, 0:08 in');
    await expectPitch(listener, TONE);
    const output = await listener.evaluate(() => {
      const el = document.querySelector<HTMLAudioElement>('audio#output')!;
      return {
        path: el.dataset.path,
        stream: el.srcObject instanceof MediaStream,
        tracks: (el.srcObject as MediaStream | null)?.getAudioTracks().length ?? 0,
        paused: el.paused,
      };
    });
    expect(output).toEqual({ path: 'media-stream', stream: true, tracks: 1, paused: false });

    const session = await listener.evaluate(() => ({
      title: navigator.mediaSession.metadata?.title,
      album: navigator.mediaSession.metadata?.album,
      state: navigator.mediaSession.playbackState,
      actions: Object.keys(
        (window as unknown as { __mxSession: Record<string, unknown> }).__mxSession,
      ).sort(),
    }));
    expect(session.title).toBe('Live broadcast');
    expect(session.album).toBe('mxcast');
    expect(session.state).toBe('playing');
    for (const action of ['play', 'pause', 'seekbackward', 'seekforward', 'seekto', 'nexttrack'])
      expect(session.actions).toContain(action);
    // No faster than live: the speed is disabled at the live edge.
    expect(await listener.isDisabled('#speed')).toBe(true);

    // Pause from the lock screen: the player stops, the element pauses, the OS is told.
    await press(listener, 'pause');
    await waitForPlayer(listener, (v) => v.state === 'stopped', 'paused by Media Session');
    expect(await listener.getAttribute('.player', 'data-view')).toBe('paused');
    expect(await listener.evaluate(() => navigator.mediaSession.playbackState)).toBe('paused');
    expect(
      await listener.evaluate(() => document.querySelector<HTMLAudioElement>('#output')!.paused),
    ).toBe(true);
    await listener.waitForTimeout(2000);

    // Play resumes where it paused (now in the past), seekbackward goes further back.
    await press(listener, 'play');
    await waitForPlayer(listener, (v) => v.state === 'playing', 'replaying');
    await expectPitch(listener, TONE);
    const resumed = Number(await listener.getAttribute('.player', 'data-position'));
    expect(resumed).toBeGreaterThan(6);
    await press(listener, 'seekbackward', { seekOffset: 4 });
    const back = await waitForPlayer(
      listener,
      (v) => v.state === 'playing' && v.position < resumed - 2,
      'four seconds back',
    );
    expect(back.position).toBeGreaterThan(0);
    await press(listener, 'seekto', { seekTime: 1 });
    await waitForPlayer(listener, (v) => v.state === 'playing' && v.position < 3, 'at 0:01');
    // "Next track" is the lock screen's way to the live edge.
    await press(listener, 'nexttrack');
    await waitForPlayer(listener, (v) => v.state === 'live', 'live again');
    await expectPitch(listener, TONE);
  }, 120_000);

  it('keeps playing with the tab hidden', async () => {
    // Headless Chromium never hides a page (another tab in front, a minimized window through
    // CDP Browser.setWindowBounds: both stay 'visible'), so the page is told it is hidden the
    // way a phone's screen-off tells it: visibilityState 'hidden' and a visibilitychange event.
    // What this proves: nothing in the page stops on hiding, and the element keeps playing.
    const hidden = await listener.evaluate(() => {
      Object.defineProperty(document, 'visibilityState', { get: () => 'hidden' });
      Object.defineProperty(document, 'hidden', { get: () => true });
      document.dispatchEvent(new Event('visibilitychange'));
      return document.visibilityState;
    });
    const before = Number(await listener.getAttribute('.player', 'data-position'));
    await listener.waitForTimeout(3000);
    const after = Number(await listener.getAttribute('.player', 'data-position'));
    const audible = await expectPitch(listener, TONE, 5000);
    const element = await listener.evaluate(() => {
      const el = document.querySelector<HTMLAudioElement>('#output')!;
      return { paused: el.paused, time: el.currentTime };
    });
    expect(hidden).toBe('hidden');
    expect(after - before).toBeGreaterThan(2);
    expect(audible.db).toBeGreaterThan(-75);
    expect(element.paused).toBe(false);
    expect(element.time).toBeGreaterThan(0);
  }, 60_000);

  it('volume follows the keyboard and is heard', async () => {
    const full = await loudestTone(listener, 1500, 150);
    await listener.focus('#volume');
    // Native range keys: Home is 0, End is 1; the global ↑/↓ step by 0.1.
    await listener.keyboard.press('Home');
    expect(await listener.inputValue('#volume')).toBe('0');
    await listener.waitForTimeout(300);
    const silent = await loudestTone(listener, 1500, 150);
    await listener.keyboard.press('End');
    await listener.focus('#play');
    await listener.keyboard.press('ArrowDown');
    await listener.keyboard.press('ArrowDown');
    await listener.keyboard.press('ArrowDown');
    await listener.keyboard.press('ArrowDown');
    await listener.keyboard.press('ArrowDown');
    expect(Number(await listener.inputValue('#volume'))).toBeCloseTo(0.5, 2);
    await listener.waitForTimeout(300);
    const half = await loudestTone(listener, 1500, 150);
    expect(full).toBeGreaterThan(-75);
    // −6 dB at half volume (with slack for a level meter over a live tone); far below at 0.
    expect(full - half).toBeGreaterThan(3);
    expect(full - half).toBeLessThan(9);
    expect(silent).toBeLessThan(full - 40);
    await listener.focus('#volume');
    await listener.keyboard.press('End');
  }, 60_000);

  it('plays the recording at 1.5× with the pitch kept (via the HLS engine)', async () => {
    await broadcaster.waitForTimeout(4000);
    await broadcaster.click('#stop');
    await broadcaster.waitForSelector('#ended', { timeout: 15_000 });
    await waitForPlayer(listener, (v) => v.state === 'finished', 'finished', 30_000);
    await screenshot(listener, 'web-listener-speed-before');
    await press(listener, 'seekto', { seekTime: 1 });
    await waitForPlayer(listener, (v) => v.state === 'playing', 'replaying the recording');
    expect(await listener.isDisabled('#speed')).toBe(false);
    await listener.selectOption('#speed', '1.5');
    await listener.waitForSelector('.player[data-engine=hls][data-rate="1.5"]', {
      timeout: 15_000,
    });
    await waitForPlayer(listener, (v) => v.state === 'playing', 'playing over HLS', 30_000);
    const spectrum = await expectPitch(listener, TONE);
    // The element's own clock: media seconds per wall second (CPU load cannot stretch it).
    // The HLS engine's position is its media element's currentTime: media seconds per wall
    // second, read in the page (no test-runner round trips in the interval).
    const rate = await listener.evaluate(async () => {
      const player = document.querySelector<HTMLElement>('.player')!;
      const t0 = Number(player.dataset.position);
      const w0 = performance.now();
      await new Promise((r) => setTimeout(r, 3000));
      return (Number(player.dataset.position) - t0) / ((performance.now() - w0) / 1000);
    });
    await expectPitch(listener, TONE, 3000);
    // Refined between FFT bins: the probe's bins are 5.9 Hz apart, wider than the ±5 Hz asked.
    const during = (await pageTone(listener)).hz;
    await screenshot(listener, 'web-listener-speed');
    // Without the pitch kept a 1.5× tone would be at 660 Hz.
    expect(Math.abs(spectrum.hz - TONE)).toBeLessThan(8);
    console.info(`1.5x: ${during.toFixed(1)} Hz, ${rate.toFixed(2)} media s per wall s`);
    expect(Math.abs(during - TONE)).toBeLessThan(5);
    // data-position is rendered every 200 ms: ±0.2 s over 3 s, plus slack for a loaded machine.
    expect(rate).toBeGreaterThan(1.3);
    expect(rate).toBeLessThan(1.7);
    // Back to 1×: back to the engine the listener chose.
    await listener.selectOption('#speed', '1');
    await listener.waitForSelector('.player[data-engine=direct][data-rate="1"]', {
      timeout: 15_000,
    });
  }, 150_000);
});

describe('downloading the recording', () => {
  it('streams the decrypted .opus through the service worker: opusinfo accepts it, one EOS, equal to the relay bytes decrypted here', async () => {
    // The broadcast was stopped by the speed test: the upload is complete.
    await listener.waitForSelector('#download:not([disabled])', { timeout: 15_000 });
    const [download] = await Promise.all([
      listener.waitForEvent('download', { timeout: 30_000 }),
      listener.click('#download'),
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'mxcast-web-download-'));
    const saved = join(dir, download.suggestedFilename());
    await download.saveAs(saved);
    expect(await download.failure()).toBeNull();
    expect(download.suggestedFilename()).toMatch(/\.opus$/);
    const bytes = readFileSync(saved);

    const parsed = parseListenLink(link);
    const res = await fetch(
      `${rig.relay.url}/_matrix/client/v1/media/download/${parsed.mxc.slice('mxc://'.length)}`,
    );
    const cipher = await createBlockCipher(parseEncryptedFile(parsed.file));
    const blocks = await decryptAll(cipher, new Uint8Array(await res.arrayBuffer()));
    const expected = Buffer.concat(blocks.map((b) => b.plaintext));
    expect(bytes.length).toBe(expected.length);
    expect(bytes.equals(expected)).toBe(true);
    const info = execFileSync('opusinfo', [saved], { encoding: 'utf8' });
    expect(info).toMatch(/Playback length/);
    expect(info).not.toMatch(/WARNING|ERROR/);
    const eos = blocks
      .map((b) => parseOpusPage(b.plaintext))
      .filter((p) => p.kind === 'audio' && p.eos);
    expect(eos).toHaveLength(1);
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('a tampered block aborts the download: the browser reports a failure, never a short file', async () => {
    const proxy = await startTamperDownloadProxy(rig.relay.port);
    try {
      const page = await rig.context.newPage();
      await page.goto(link.replace(rig.relay.url, proxy.url));
      await page.waitForSelector('#download:not([disabled])', { timeout: 15_000 });
      const [download] = await Promise.all([
        page.waitForEvent('download', { timeout: 30_000 }),
        page.click('#download'),
      ]);
      const failure = await download.failure();
      expect(proxy.tampered).toBeGreaterThanOrEqual(1);
      expect(failure).not.toBeNull();
      await page.close();
    } finally {
      await proxy.close();
    }
  }, 60_000);
});

describe('every state', () => {
  it('a broadcaster that vanishes mid-broadcast reads as interrupted (the relay flag)', async () => {
    const caster = await rig.context.newPage();
    const link2 = await goLive(caster, rig);
    const page = await rig.context.newPage();
    await page.goto(link2);
    await waitForPlayer(page, (v) => v.state === 'live', 'live');
    await expectPitch(page, TONE);
    // The tab is gone without Stop or Cancel (a crash, a dead battery): no more blocks.
    await caster.close({ runBeforeUnload: false });
    // The relay marks it after limits.interruptedAfterMs (10 s) without a block.
    await page.waitForSelector('.player[data-view="interrupted"]', { timeout: 30_000 });
    expect(await page.textContent('#state')).toBe('Interrupted');
    expect(await page.textContent('#message')).toMatch(/connection dropped/);
    expect(await page.textContent('#announce')).toMatch(/^Interrupted\./);
    await screenshot(page, 'web-listener-interrupted');
    await page.close();
  }, 90_000);
});
