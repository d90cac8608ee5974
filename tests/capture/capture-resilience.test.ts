/**
 * The capture survives a relay restart (reconnect with backoff, tus HEAD, resend from the
 * buffer: no block lost or duplicated), and a killed capture continues the same broadcast with
 * `--resume` at the next seq.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { MediaClient, parseListenLink } from '@mxcast/client';
import { OggFlag, parseOggPage } from '@mxcast/ogg';
import { createToken } from '@mxcast/relay';
import {
  downloadAndDecrypt,
  ffprobe,
  freePort,
  killAndWait,
  linkFrom,
  opusdec,
  opusinfo,
  runMxcast,
  spawnRelay,
  tempDir,
  writeTemp,
} from './capture-harness.ts';

const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) await killAndWait(c);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('capture resilience', () => {
  it('continues through a relay killed and restarted mid-broadcast; the file decodes to exactly the captured samples', async () => {
    const dataDir = tempDir('mxcast-relay-');
    const token = createToken(dataDir, '@broadcaster:localhost');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    let relay = await spawnRelay(port, dataDir);
    children.push(relay);

    const seconds = 5;
    const capture = runMxcast([
      'capture',
      '--relay',
      url,
      '--token',
      token,
      '--preset',
      'low-latency',
      '--input',
      'sine:700',
      '--duration',
      String(seconds),
      '--realtime',
    ]);
    children.push(capture.child);
    await capture.waitFor('/listen#');
    await sleep(1200);
    await killAndWait(relay, 'SIGKILL');
    await sleep(1000); // the capture keeps recording into its buffer meanwhile
    relay = await spawnRelay(port, dataDir);
    children.push(relay);

    const result = await capture.done;
    expect(result.stderr).toMatch(/reconnected after/);
    expect(result.stderr).toMatch(/finished: 00:05\.0 of audio .* [1-9]\d* reconnects/);
    expect(result.code).toBe(0);

    const { opus, pages } = await downloadAndDecrypt(linkFrom(result.stdout));
    // Consecutive seqs from 0 (the framer would refuse a gap or a duplicate), EOS at the end.
    expect(pages.map((p) => p.seq)).toEqual(pages.map((_, i) => i));
    expect(parseOggPage(pages.at(-1)!.plaintext).flags & OggFlag.EOS).toBe(OggFlag.EOS);
    const dir = tempDir();
    const file = writeTemp(dir, 'restart.opus', opus);
    expect(await opusinfo(file)).toMatch(/Playback length: 0m:05\.000s/);
    const decoded = await opusdec(file);
    expect(decoded.samples.length).toBe(seconds * 48000);
  });

  it('a killed capture continues the same broadcast with --resume at the next seq', async () => {
    const dataDir = tempDir('mxcast-relay-');
    const token = createToken(dataDir, '@broadcaster:localhost');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    children.push(await spawnRelay(port, dataDir));
    const dir = tempDir();
    const statePath = path.join(dir, 'state.json');
    const passFile = path.join(dir, 'pass');
    writeFileSync(passFile, 'a long passphrase\n');
    chmodSync(passFile, 0o600);

    const first = runMxcast([
      'capture',
      '--relay',
      url,
      '--token',
      token,
      '--input',
      'sine:440',
      '--realtime',
      '--title',
      'Resumed show',
      '--state',
      statePath,
      '--passphrase-file',
      passFile,
    ]);
    children.push(first.child);
    await first.waitFor('/listen#');
    await sleep(1500);
    await killAndWait(first.child, 'SIGKILL');
    expect(statSync(statePath).mode & 0o777).toBe(0o600);
    const link = linkFrom(first.stdout());
    const { mxc } = parseListenLink(link);
    const client = new MediaClient({ baseUrl: url });
    const before = await client.index(mxc);
    expect(before.state).toBe('live');
    expect(before.block_count).toBeGreaterThan(2);

    const second = await runMxcast([
      'capture',
      '--relay',
      url,
      '--token',
      token,
      '--input',
      'sine:440',
      '--fast',
      '--duration',
      '1',
      '--resume',
      statePath,
      '--passphrase-file',
      passFile,
    ]).done;
    expect(second.stderr).toContain(
      `resuming ${mxc} at block ${before.block_count} (byte ${before.byte_length})`,
    );
    expect(second.code).toBe(0);
    expect(linkFrom(second.stdout)).toBe(link);

    const after = await client.index(mxc);
    expect(after.state).toBe('complete');
    const { opus, pages } = await downloadAndDecrypt(link);
    expect(pages.map((p) => p.seq)).toEqual(pages.map((_, i) => i));
    // Pages keep one Ogg stream: same serial, page seq = block seq, granules increasing.
    const parsed = pages.map((p) => parseOggPage(p.plaintext));
    expect(new Set(parsed.map((p) => p.serial)).size).toBe(1);
    expect(parsed.map((p) => p.pageSeq)).toEqual(pages.map((_, i) => i));
    for (let i = 3; i < parsed.length; i++) {
      expect(parsed[i]!.granule).toBeGreaterThan(parsed[i - 1]!.granule);
    }
    expect(parsed.at(-1)!.flags & OggFlag.EOS).toBe(OggFlag.EOS);
    const file = writeTemp(dir, 'resumed.opus', opus);
    expect(await opusinfo(file)).not.toMatch(/WARNING|ERROR/);
    expect((await ffprobe(file)).tags.title).toBe('Resumed show');
    const decoded = await opusdec(file);
    // Every whole block the first run got stored (voice: 12 × 960 samples each), then exactly the
    // second run's one second: the resumed granules continue from the stored blocks.
    expect(decoded.samples.length).toBe((before.block_count - 2) * 12 * 960 + 48000);
  });
  it('gives up after --max-outage with exit 3, and --resume finishes the broadcast once the relay is back', async () => {
    const dataDir = tempDir('mxcast-relay-');
    const token = createToken(dataDir, '@broadcaster:localhost');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    let relay = await spawnRelay(port, dataDir);
    children.push(relay);
    const statePath = path.join(tempDir(), 'state.json');
    const first = runMxcast([
      'capture',
      '--relay',
      url,
      '--token',
      token,
      '--input',
      'timecode',
      '--realtime',
      '--state',
      statePath,
      '--max-outage',
      '2',
      '--quiet',
    ]);
    children.push(first.child);
    await first.waitFor('/listen#');
    await sleep(800);
    await killAndWait(relay, 'SIGKILL');
    const gaveUp = await first.done;
    expect(gaveUp.code).toBe(3);
    expect(gaveUp.stderr.trim().split('\n').at(-1)).toMatch(
      /relay unreachable for \d+ s, giving up .*resume with --resume/,
    );

    relay = await spawnRelay(port, dataDir);
    children.push(relay);
    const second = await runMxcast([
      'capture',
      '--relay',
      url,
      '--token',
      token,
      '--input',
      'timecode',
      '--duration',
      '1',
      '--resume',
      statePath,
      '--quiet',
    ]).done;
    expect(second.stderr).toMatch(/resuming mxc:\/\/localhost\/\S+ at block \d+/);
    expect(second.code).toBe(0);
    const { opus, pages } = await downloadAndDecrypt(linkFrom(second.stdout));
    expect(pages.map((p) => p.seq)).toEqual(pages.map((_, i) => i));
    expect(parseOggPage(pages.at(-1)!.plaintext).flags & OggFlag.EOS).toBe(OggFlag.EOS);
    expect(await opusinfo(writeTemp(tempDir(), 'outage.opus', opus))).not.toMatch(/WARNING|ERROR/);
  });
});
