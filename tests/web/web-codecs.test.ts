/**
 * The web broadcaster's two Opus encoders (docs/web.md "Opus encoding"): headless Chromium's
 * WebCodecs AudioEncoder, used by default, and opusscript, the fallback where WebCodecs has no
 * Opus (forced here by hiding AudioEncoder from the encoder worker). Either way a broadcast from
 * the fake microphone, decrypted from the relay, must be the stream the CLI writes
 * (docs/audio.md "Constant bitrate, constant blocks"): every audio block the same size, every
 * packet exactly 80 bytes of 20 ms, opusinfo calls it hard-CBR, ffprobe reads it, and it
 * decodes back to the microphone's tone.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { measureTone } from '@mxcast/audio';
import { parseListenLink } from '@mxcast/client';
import { createBlockCipher, decryptAll, parseEncryptedFile } from '@mxcast/format';
import { opusPacketSamples, parseOpusPage } from '@mxcast/ogg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  goLive,
  playerView,
  startWebRig,
  TONE_HZ,
  type Page,
  type PlayerView,
  type WebRig,
} from './web-harness.ts';

let rig: WebRig;
let work: string;

beforeAll(async () => {
  rig = await startWebRig();
  work = mkdtempSync(join(tmpdir(), 'mxcast-web-codecs-'));
});
afterAll(async () => {
  await rig?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Goes live (Voice) for `seconds`, stops, and returns the decrypted plaintext blocks. */
async function broadcast(page: Page, seconds: number): Promise<Uint8Array[]> {
  const link = await goLive(page, rig, 'voice');
  await page.waitForTimeout(seconds * 1000);
  await page.click('#stop');
  await page.waitForSelector('#ended', { timeout: 20_000 });
  const parsed = parseListenLink(link);
  const res = await fetch(
    `${rig.relay.url}/_matrix/client/v1/media/download/${parsed.mxc.slice('mxc://'.length)}`,
  );
  expect(res.status).toBe(200);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const blocks = await decryptAll(await createBlockCipher(parseEncryptedFile(parsed.file)), bytes);
  expect(blocks.map((b) => b.seq)).toEqual(blocks.map((_, i) => i));
  return blocks.map((b) => b.plaintext);
}

/** What every web broadcast must be, whichever encoder made it; returns the OpusTags vendor. */
function checkStream(name: string, plaintexts: Uint8Array[]): string {
  const pages = plaintexts.map((p) => parseOpusPage(p));
  expect(pages[0]!.kind).toBe('head');
  const tags = pages[1]!;
  if (tags.kind !== 'tags') throw new Error(`block 1 is ${tags.kind}, not OpusTags`);
  const audio = pages.slice(2);
  expect(audio.length).toBeGreaterThan(10); // ≥ 2.4 s of 240 ms blocks
  // Constant blocks: every audio page (so every encrypted audio block) has the Voice size,
  // 27 + 12 + 12 × 80 = 999 bytes, the last (EOS) one included.
  expect(new Set(plaintexts.slice(2).map((p) => p.length))).toEqual(new Set([999]));
  for (const page of audio) {
    if (page.kind !== 'audio') throw new Error('a header page among the audio pages');
    expect(page.packets).toHaveLength(12);
    for (const packet of page.packets) {
      expect(packet.length).toBe(80);
      expect(opusPacketSamples(packet)).toBe(960);
    }
  }
  expect(audio.map((p) => p.kind === 'audio' && p.eos)).toEqual(
    audio.map((_, i) => i === audio.length - 1),
  );

  const file = join(work, `${name}.opus`);
  writeFileSync(file, Buffer.concat(plaintexts));
  const info = execFileSync('opusinfo', [file], { encoding: 'utf8' });
  expect(info).toMatch(/\(hard-CBR\)/);
  expect(info).toMatch(/Packet duration:\s+20\.0ms \(max\),\s+20\.0ms \(avg\),\s+20\.0ms \(min\)/);
  expect(info).not.toMatch(/WARNING|ERROR/);
  const probe = JSON.parse(
    execFileSync('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', file], {
      encoding: 'utf8',
    }),
  ) as { streams: { codec_name: string; sample_rate: string; channels: number }[] };
  expect(probe.streams.map((s) => [s.codec_name, s.sample_rate, s.channels])).toEqual([
    ['opus', '48000', 1],
  ]);
  // The tone the fake microphone sends, decoded by ffmpeg's own Opus decoder (1 s from 1 s in).
  const wav = join(work, `${name}.raw`);
  execFileSync('ffmpeg', [
    '-v',
    'error',
    '-y',
    '-i',
    file,
    '-ss',
    '1',
    '-t',
    '1',
    '-f',
    's16le',
    '-ac',
    '1',
    wav,
  ]);
  const pcm = new Int16Array(new Uint8Array(readFileSync(wav)).buffer);
  // Period by period (measureTone): Chromium's fake microphone, starved of CPU on a loaded CI
  // machine, can miss a few milliseconds, whose crossings moved a mean-of-periods estimate 30 Hz
  // off (CI, 2026-12-03); what the encoder owes is the tone in nearly every period.
  const tone = measureTone(pcm, 48000);
  expect(Math.abs(tone.hz - TONE_HZ), `${name}: ${JSON.stringify(tone)}`).toBeLessThan(2);
  expect(tone.steady, `${name}: ${JSON.stringify(tone)}`).toBeGreaterThan(0.8);
  return tags.tags.vendor;
}

describe('web broadcast encoders', () => {
  it('headless Chromium has WebCodecs Opus at the Voice settings (hard CBR, 20 ms)', async () => {
    const page = await rig.context.newPage();
    await page.goto(`${rig.relay.url}/listen`);
    const answer = await page.evaluate(async () => {
      const r = await AudioEncoder.isConfigSupported({
        codec: 'opus',
        sampleRate: 48000,
        numberOfChannels: 1,
        bitrate: 32000,
        bitrateMode: 'constant',
        opus: { frameDuration: 20000, usedtx: false },
      });
      return r.supported;
    });
    expect(answer).toBe(true);
    await page.close();
  });

  it('encodes through WebCodecs: constant 999-byte pages, hard CBR, the tone', async () => {
    const page = await rig.context.newPage();
    const vendor = checkStream('webcodecs', await broadcast(page, 4));
    expect(vendor).toBe('mxcast (WebCodecs Opus)');
    await page.close();
  });

  it('falls back to opusscript where the worker has no AudioEncoder: the same stream', async () => {
    const context = await rig.browser.newContext();
    // The encoder worker is a script of its own: serve it with WebCodecs' encoder removed.
    await context.route(/\/assets\/encode-worker-[^/]*\.js$/, async (route) => {
      const res = await route.fetch();
      const body = `self.AudioEncoder = undefined;\n${await res.text()}`;
      await route.fulfill({ response: res, body });
    });
    const page = await context.newPage();
    const vendor = checkStream('opusscript', await broadcast(page, 4));
    expect(vendor).toBe('mxcast (opusscript libopus)');
    await context.close();
  });
});

describe('listener joining a live broadcast', () => {
  it('never says live before it knows where it is: state and position change together', async () => {
    const broadcaster = await rig.context.newPage();
    const link = await goLive(broadcaster, rig, 'voice');
    await broadcaster.waitForTimeout(6000);
    const listener = await rig.context.newPage();
    await listener.goto(link);
    // Sampled every 20 ms from the first render until live has lasted a second.
    const seen: PlayerView[] = [];
    const deadline = Date.now() + 20_000;
    let liveSince = 0;
    while (Date.now() < deadline) {
      const view = await playerView(listener);
      seen.push(view);
      if (view.state === 'live') liveSince ||= Date.now();
      if (liveSince && Date.now() - liveSince > 1000) break;
      await listener.waitForTimeout(20);
    }
    const live = seen.filter((v) => v.state === 'live');
    expect(live.length).toBeGreaterThan(5);
    // Joined 6 s in: every live sample is at least 4 s into the broadcast, the first included.
    expect(live.map((v) => v.position).filter((p) => p < 4)).toEqual([]);
    await listener.close();
    await broadcaster.click('#stop');
    await broadcaster.waitForSelector('#ended', { timeout: 20_000 });
    await broadcaster.close();
  });
});
