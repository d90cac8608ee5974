/**
 * The web app in a real browser (docs/web.md): broadcast from the microphone page, listen from
 * another page through both engines, seek while live, stop / cancel, wrong key and unknown
 * media — against a real relay serving the built app. Screenshots go to test-artifacts/.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import {
  expectTone,
  goLive,
  loudestOutput,
  playerView,
  screenshot,
  startWebRig,
  waitForPlayer,
  type WebRig,
} from './web-harness.ts';

let rig: WebRig;
let broadcaster: Page;
let link: string;
let direct: Page;
let hls: Page;

beforeAll(async () => {
  rig = await startWebRig();
});
afterAll(async () => {
  await rig?.close();
});

async function seekTo(page: Page, seconds: number): Promise<void> {
  await page.evaluate((s) => {
    const bar = document.querySelector<HTMLInputElement>('#seek')!;
    bar.value = String(s);
    bar.dispatchEvent(new Event('input', { bubbles: true }));
    bar.dispatchEvent(new Event('change', { bubbles: true }));
  }, seconds);
}

async function elapsedOnAir(page: Page): Promise<number> {
  const text = (await page.textContent('#elapsed')) ?? '0:00';
  const [m, s] = text.split(':').map(Number);
  return (m ?? 0) * 60 + (s ?? 0);
}

describe('web app in Chromium', () => {
  it('goes live from the microphone; a listener hears the tone live (direct engine)', async () => {
    broadcaster = await rig.context.newPage();
    link = await goLive(broadcaster, rig);
    expect(new URL(link).hash).toMatch(/k=/);
    expect(new URL(link).search).toBe(''); // the key is only in the #fragment

    direct = await rig.context.newPage();
    await direct.goto(link);
    await waitForPlayer(direct, (v) => v.state === 'live', 'live');
    const tone = await expectTone(direct);
    expect(tone.prominenceDb).toBeGreaterThan(30);

    // The broadcaster sees its listener and its clock running.
    await broadcaster.waitForFunction(
      () => Number(document.querySelector('#listeners')?.textContent) >= 1,
      null,
      {
        timeout: 10_000,
      },
    );
    await broadcaster.waitForFunction(
      () => document.querySelector('#elapsed')?.textContent !== '0:00',
      null,
      {
        timeout: 10_000,
      },
    );
    expect(await elapsedOnAir(broadcaster)).toBeGreaterThanOrEqual(1);
    await screenshot(broadcaster, 'web-broadcaster-live');
    await screenshot(direct, 'web-listener-live');
  });

  it('seeks into the past while live, keeps playing, and "Go live" returns to the edge', async () => {
    await waitForPlayer(direct, (v) => v.position >= 7, 'position ≥ 7 s', 20_000);
    await seekTo(direct, 3);
    const landed = await waitForPlayer(
      direct,
      (v) => v.state === 'playing' && v.position < 6,
      'playing near 3 s',
    );
    expect(landed.position).toBeGreaterThanOrEqual(2.9);
    expect(landed.position).toBeLessThan(4.5);
    await direct.waitForTimeout(1500);
    const later = await playerView(direct);
    expect(later.state).toBe('playing');
    expect(later.position).toBeGreaterThan(landed.position + 0.8);
    await expectTone(direct);
    await screenshot(direct, 'web-listener-past');

    await direct.click('#go-live');
    const live = await waitForPlayer(direct, (v) => v.state === 'live', 'live again');
    expect(live.position).toBeGreaterThan(later.position + 2);
    await expectTone(direct);

    // Keyboard: the left arrow steps 5 s back, End returns to the edge.
    await direct.keyboard.press('ArrowLeft');
    const back = await waitForPlayer(
      direct,
      (v) => v.state === 'playing',
      'playing after ArrowLeft',
    );
    expect(back.position).toBeLessThan(live.position - 3);
    await direct.keyboard.press('End');
    await waitForPlayer(direct, (v) => v.state === 'live', 'live after End');

    // Space pauses (silence) and resumes where it paused.
    await direct.keyboard.press('Space');
    const paused = await waitForPlayer(direct, (v) => v.state === 'stopped', 'paused');
    expect(await loudestOutput(direct, 800)).toBeLessThan(-100);
    await direct.keyboard.press('Space');
    const resumed = await waitForPlayer(
      direct,
      (v) => v.state === 'playing',
      'playing after resume',
    );
    expect(resumed.position).toBeGreaterThanOrEqual(paused.position - 0.3);
    await expectTone(direct);
    await direct.keyboard.press('End');
    await waitForPlayer(direct, (v) => v.state === 'live', 'live again after End');
  });

  it('plays the same broadcast through hls.js, seeks back, and goes live', async () => {
    hls = await rig.context.newPage();
    await hls.goto(link.replace('/listen#', '/listen?engine=hls#'));
    expect(await hls.getAttribute('.player', 'data-engine')).toBe('hls');
    await waitForPlayer(hls, (v) => v.state === 'live', 'live over HLS', 20_000);
    await expectTone(hls);

    await seekTo(hls, 2);
    const landed = await waitForPlayer(
      hls,
      (v) => v.state === 'playing' && v.position < 5,
      'HLS playing near 2 s',
    );
    expect(landed.position).toBeGreaterThanOrEqual(1.9);
    expect(landed.position).toBeLessThan(3.5);
    await hls.waitForTimeout(1200);
    expect((await playerView(hls)).position).toBeGreaterThan(landed.position + 0.5);
    await expectTone(hls);

    await hls.click('#go-live');
    await waitForPlayer(hls, (v) => v.state === 'live', 'HLS live again');
    await screenshot(hls, 'web-listener-hls');
  });

  it('shows a wrong key as an error and plays nothing', async () => {
    const bad = new URL(link);
    const params = new URLSearchParams(bad.hash.slice(1));
    params.set('k', randomBytes(32).toString('base64url'));
    bad.hash = params.toString();
    const page = await rig.context.newPage();
    await page.goto(bad.toString());
    const view = await waitForPlayer(page, (v) => v.state === 'error', 'error');
    expect(view.error).toBe('WRONG_KEY');
    expect(await page.textContent('#state')).toBe('Wrong key');
    expect(await loudestOutput(page, 1500)).toBeLessThan(-100);
    await screenshot(page, 'web-listener-wrong-key');
    await page.close();
  });

  it('shows an unknown broadcast as not found', async () => {
    const missing = new URL(link);
    const params = new URLSearchParams(missing.hash.slice(1));
    params.set('mxc', `mxc://localhost/${randomBytes(18).toString('base64url')}`);
    missing.hash = params.toString();
    const page = await rig.context.newPage();
    await page.goto(missing.toString());
    const view = await waitForPlayer(page, (v) => v.state === 'error', 'error');
    expect(view.error).toBe('NOT_FOUND');
    await page.close();
  });

  it('Stop finishes the broadcast: both listeners show finished', async () => {
    await broadcaster.click('#stop');
    await broadcaster.waitForSelector('#ended', { timeout: 15_000 });
    expect(await broadcaster.getAttribute('main', 'data-view')).toBe('finished');
    await waitForPlayer(direct, (v) => v.state === 'finished', 'finished (direct)', 15_000);
    await waitForPlayer(hls, (v) => v.state === 'finished', 'finished (hls)', 30_000);
    await screenshot(direct, 'web-listener-finished');
    await screenshot(broadcaster, 'web-broadcaster-finished');
    await hls.close();
  });

  it('Cancel ends the broadcast without finishing', async () => {
    await broadcaster.click('#new-broadcast');
    const link2 = await goLive(broadcaster, rig, 'low-latency');
    const listener = await rig.context.newPage();
    await listener.goto(link2);
    const viaHls = await rig.context.newPage();
    await viaHls.goto(link2.replace('/listen#', '/listen?engine=hls#'));
    await waitForPlayer(listener, (v) => v.state === 'live', 'live');
    await expectTone(listener);
    await waitForPlayer(viaHls, (v) => v.state === 'live', 'live over HLS', 20_000);
    broadcaster.once('dialog', (dialog) => void dialog.accept());
    await broadcaster.click('#cancel');
    await broadcaster.waitForSelector('#ended', { timeout: 15_000 });
    expect(await broadcaster.getAttribute('main', 'data-view')).toBe('cancelled');
    const view = await waitForPlayer(
      listener,
      (v) => v.state === 'ended-without-finishing',
      'ended without finishing',
    );
    expect(view.state).not.toBe('finished');
    // The relay marks the upload cancelled: the listener is told the broadcaster cancelled it
    // (at its next index poll, 1.5 s).
    await listener.waitForSelector('.player[data-view="cancelled"]', { timeout: 10_000 });
    expect(await listener.textContent('#state')).toBe('Cancelled');
    await waitForPlayer(
      viaHls,
      (v) => v.state === 'ended-without-finishing',
      'HLS ended without finishing',
      30_000,
    );
    await viaHls.close();
    await screenshot(listener, 'web-listener-cancelled');
  }, 240_000);

  it('sends a broadcaster with an unknown token back to sign-in', async () => {
    const page = await rig.context.newPage();
    await page.goto(`${rig.relay.url}/`);
    await page.evaluate(() => localStorage.setItem('mxcast.token', 'not-a-token'));
    await page.reload();
    await page.click('#go-live');
    await page.waitForSelector('#signin', { timeout: 10_000 });
    expect(await page.textContent('#signin .notice')).toMatch(/does not know that token/);
    await screenshot(page, 'web-broadcaster-bad-token');
    await page.close();
  });

  it('reads well at phone width', async () => {
    await direct.setViewportSize({ width: 390, height: 760 });
    await screenshot(direct, 'web-listener-phone');
    await broadcaster.setViewportSize({ width: 390, height: 760 });
    await broadcaster.click('#new-broadcast');
    await screenshot(broadcaster, 'web-broadcaster-phone');
    const overflow = await direct.evaluate(
      () => document.documentElement.scrollWidth > window.innerWidth,
    );
    expect(overflow).toBe(false);
  });
});
