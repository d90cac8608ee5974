/**
 * The listener's two Opus decoders (docs/web.md "Opus decoding"): headless Chromium's WebCodecs
 * AudioDecoder, used where the browser has Opus, and opusscript, the fallback (forced here by
 * hiding AudioDecoder from the page). Two listeners of the same broadcast, one per decoder, both
 * seek twice (to 0, then to 1.23 s, off any packet or block boundary) and play to the end; the
 * PCM each hands to its AudioWorklet after the last seek is captured. Both must be the whole
 * broadcast from the exact target sample (pre-skip dropped, seek pre-roll discarded, the EOS
 * granule honoured: RFC 7845 §4), the same length, the microphone's tone at the same level, and
 * the same waveform (both are libopus underneath).
 */
import { measureTone } from '@mxcast/audio';
import { parseListenLink } from '@mxcast/client';
import { createBlockCipher, decryptAll, parseEncryptedFile } from '@mxcast/format';
import { parseOpusPage } from '@mxcast/ogg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  goLive,
  startWebRig,
  TONE_HZ,
  waitForPlayer,
  type Page,
  type WebRig,
} from './web-harness.ts';

let rig: WebRig;

beforeAll(async () => {
  rig = await startWebRig();
});
afterAll(async () => {
  await rig?.close();
});

/**
 * Records every PCM chunk a page posts to its AudioWorklet (WorkletSink's `pcm` messages) and
 * every `flush` (a seek), before the transfer empties the buffer.
 */
const PCM_TAP = `(() => {
  const post = MessagePort.prototype.postMessage;
  const log = [];
  window.__mxPcm = log;
  MessagePort.prototype.postMessage = function (message, ...rest) {
    if (message && message.type === 'pcm') log.push(Float32Array.from(message.data));
    else if (message && message.type === 'flush') log.push('flush');
    return post.call(this, message, ...rest);
  };
})();`;

const SEEK_TO = 1.23;

async function seekTo(page: Page, seconds: number): Promise<void> {
  await page.evaluate((s) => {
    const bar = document.querySelector<HTMLInputElement>('#seek')!;
    bar.value = String(s);
    bar.dispatchEvent(new Event('input', { bubbles: true }));
    bar.dispatchEvent(new Event('change', { bubbles: true }));
  }, seconds);
}

/** The PCM posted since the last seek, as Int16 (the decoders' own output scale). */
async function pcmSinceLastSeek(page: Page): Promise<{ pcm: Int16Array; seeks: number }> {
  const { samples, seeks } = await page.evaluate(() => {
    const log = (window as unknown as { __mxPcm: (Float32Array | 'flush')[] }).__mxPcm;
    const last = log.lastIndexOf('flush');
    const chunks = log.slice(last + 1) as Float32Array[];
    const out: number[] = [];
    for (const c of chunks) for (const v of c) out.push(Math.round(v * 32768));
    return { samples: out, seeks: log.filter((e) => e === 'flush').length };
  });
  return { pcm: Int16Array.from(samples), seeks };
}

function rmsDb(pcm: Int16Array): number {
  let sum = 0;
  for (const v of pcm) sum += v * v;
  return 20 * Math.log10(Math.sqrt(sum / pcm.length) / 32768);
}

/** Output samples of the whole broadcast: the EOS page's granule minus the pre-skip. */
async function broadcastSamples(link: string): Promise<number> {
  const parsed = parseListenLink(link);
  const res = await fetch(
    `${rig.relay.url}/_matrix/client/v1/media/download/${parsed.mxc.slice('mxc://'.length)}`,
  );
  const bytes = new Uint8Array(await res.arrayBuffer());
  const blocks = await decryptAll(await createBlockCipher(parseEncryptedFile(parsed.file)), bytes);
  const head = parseOpusPage(blocks[0]!.plaintext);
  const last = parseOpusPage(blocks[blocks.length - 1]!.plaintext);
  if (head.kind !== 'head' || last.kind !== 'audio' || !last.eos)
    throw new Error('not a whole stream');
  return Number(last.granule) - head.head.preSkip;
}

describe('web listener decoders', () => {
  it('WebCodecs and opusscript decode the same broadcast to the same PCM, seeks exact', async () => {
    const broadcaster = await rig.context.newPage();
    const link = await goLive(broadcaster, rig, 'voice');
    await broadcaster.waitForTimeout(2500);

    const native = await rig.browser.newContext();
    await native.addInitScript(PCM_TAP);
    const fallback = await rig.browser.newContext();
    await fallback.addInitScript('window.AudioDecoder = undefined;');
    await fallback.addInitScript(PCM_TAP);
    const listeners = [await native.newPage(), await fallback.newPage()];
    for (const page of listeners) await page.goto(link);
    for (const page of listeners) {
      await waitForPlayer(page, (v) => v.state === 'live' && v.position > 0, 'live');
      await seekTo(page, 0);
    }
    await broadcaster.waitForTimeout(1500);
    for (const page of listeners) {
      await waitForPlayer(page, (v) => v.state === 'playing' && v.position > 0.3, 'playing');
      await seekTo(page, SEEK_TO);
    }
    await broadcaster.waitForTimeout(1500);
    await broadcaster.click('#stop');
    await broadcaster.waitForSelector('#ended', { timeout: 20_000 });
    const total = await broadcastSamples(link);
    for (const page of listeners)
      await waitForPlayer(page, (v) => v.state === 'finished', 'finished');

    const kinds = await Promise.all(
      listeners.map((p) => p.evaluate(() => document.documentElement.dataset.decoder)),
    );
    expect(kinds).toEqual(['webcodecs', 'opusscript']);
    const [a, b] = await Promise.all(listeners.map(pcmSinceLastSeek));
    // Both seeked twice (the page's own flushes: nothing else seeks).
    expect([a!.seeks, b!.seeks]).toEqual([2, 2]);
    // From the exact target sample to the EOS granule, on both paths.
    const expected = total - Math.round(SEEK_TO * 48000);
    expect(a!.pcm.length).toBe(expected);
    expect(b!.pcm.length).toBe(expected);
    for (const { pcm } of [a!, b!]) {
      // Period by period: a capture glitch of the loaded fake microphone moves a mean, not this.
      const tone = measureTone(pcm.subarray(0, 48000), 48000);
      expect(Math.abs(tone.hz - TONE_HZ), JSON.stringify(tone)).toBeLessThan(2);
      expect(tone.steady, JSON.stringify(tone)).toBeGreaterThan(0.8);
    }
    // The same level, and the same waveform: both are libopus, so the difference is rounding,
    // 60 dB under the signal. (A decoder that lost its state at each page — Chromium's flush()
    // does that — leaves a transient every block, only ~11 dB under it.)
    expect(Math.abs(rmsDb(a!.pcm) - rmsDb(b!.pcm))).toBeLessThan(0.5);
    const diff = a!.pcm.map((v, i) => v - b!.pcm[i]!);
    expect(rmsDb(a!.pcm) - rmsDb(diff)).toBeGreaterThan(60);

    await native.close();
    await fallback.close();
    await broadcaster.close();
  });
});
