/**
 * The web broadcaster survives a short network drop (docs/web.md "Resume after a network drop"):
 * its WebSocket upload is cut and refused for two seconds; it reconnects at the relay's stored
 * offset and resends the rest, a listener keeps hearing the tone, and the finished file has every
 * block, in order, with EOS.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseListenLink } from '@mxcast/client';
import { createBlockCipher, decryptAll, parseEncryptedFile } from '@mxcast/format';
import { parseOpusPage } from '@mxcast/ogg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDropProxy, type DropProxy } from './drop-proxy.ts';
import { expectTone, goLive, startWebRig, waitForPlayer, type WebRig } from './web-harness.ts';

let rig: WebRig;
let proxy: DropProxy;

beforeAll(async () => {
  rig = await startWebRig();
  proxy = await startDropProxy(rig.relay.port);
});
afterAll(async () => {
  await proxy?.close();
  await rig?.close();
});

it('resumes the upload after a short network drop, losing nothing', async () => {
  const broadcaster = await rig.context.newPage();
  // The broadcaster reaches the relay through the proxy; the listener goes direct.
  const link = await goLive(broadcaster, { ...rig, relay: { ...rig.relay, url: proxy.url } });
  const direct = link.replace(proxy.url, rig.relay.url);
  const listener = await rig.context.newPage();
  await listener.goto(direct);
  await waitForPlayer(listener, (v) => v.state === 'live', 'live');
  await broadcaster.waitForTimeout(2000);

  proxy.drop(2000);
  await broadcaster.waitForSelector('main[data-connection=reconnecting]', { timeout: 5000 });
  await broadcaster.waitForSelector('main[data-connection=open]', { timeout: 15_000 });
  await expectTone(listener, 10_000);
  await broadcaster.waitForTimeout(2000);

  await broadcaster.click('#stop');
  await broadcaster.waitForSelector('#ended', { timeout: 15_000 });
  await waitForPlayer(listener, (v) => v.state === 'finished', 'finished', 20_000);

  // Every block arrived once, in order, and decrypts: consecutive seqs, one EOS at the end.
  const parsed = parseListenLink(direct);
  const res = await fetch(
    `${rig.relay.url}/_matrix/client/v1/media/download/${parsed.mxc.slice('mxc://'.length)}`,
  );
  expect(res.status).toBe(200);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const cipher = await createBlockCipher(parseEncryptedFile(parsed.file));
  const blocks = await decryptAll(cipher, bytes);
  expect(blocks.map((b) => b.seq)).toEqual(blocks.map((_, i) => i));
  const pages = blocks.map((b) => parseOpusPage(b.plaintext));
  expect(pages.filter((p) => p.kind === 'audio' && p.eos)).toHaveLength(1);
  const last = pages[pages.length - 1]!;
  expect(last.kind === 'audio' && last.eos).toBe(true);
  // More than the ~6 s the test ran on air, so the audio from before, during and after the drop is there.
  const seconds = pages.length > 2 ? (pages.length - 2) * 0.24 : 0;
  expect(seconds).toBeGreaterThan(5);

  // The plaintexts form an Ogg Opus file that opusinfo accepts.
  const dir = mkdtempSync(join(tmpdir(), 'mxcast-web-resume-'));
  const opus = join(dir, 'out.opus');
  writeFileSync(opus, Buffer.concat(blocks.map((b) => b.plaintext)));
  const info = execFileSync('opusinfo', [opus], { encoding: 'utf8' });
  expect(info).toMatch(/Playback length/);
  expect(info).not.toMatch(/WARNING|ERROR/);
});
