/**
 * The capture survives a relay restart (reconnect with backoff, tus HEAD, resend from the
 * buffer: no block lost or duplicated), and a killed capture continues the same broadcast with
 * `--resume` at the next seq.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MediaClient, parseListenLink } from '@mxcast/client';
import { OggFlag, parseOggPage } from '@mxcast/ogg';
import {
  downloadAndDecrypt,
  ffprobe,
  killAndWait,
  linkFrom,
  opusdec,
  opusinfo,
  runCapture,
  startRelayProcess,
  tempDir,
  writeTemp,
  type CliRun,
  type Downloaded,
  type RelayProcess,
} from './capture-harness.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A relay process, killed after the test. */
async function relayProcess(): Promise<RelayProcess> {
  const relay = await startRelayProcess();
  cleanups.push(() => relay.kill());
  return relay;
}

/** `mxcast capture` against `relay`, killed after the test if still running. */
function capture(relay: RelayProcess, args: string[]): CliRun {
  const run = runCapture(relay, args);
  cleanups.push(() => killAndWait(run.child));
  return run;
}

/** Consecutive seqs from 0 (the framer would refuse a gap or a duplicate), EOS on the last page. */
function expectWholeStream(pages: Downloaded['pages']): void {
  expect(pages.map((p) => p.seq)).toEqual(pages.map((_, i) => i));
  expect(parseOggPage(pages.at(-1)!.plaintext).flags & OggFlag.EOS).toBe(OggFlag.EOS);
}

describe('capture resilience', () => {
  it('continues through a relay killed and restarted mid-broadcast; the file decodes to exactly the captured samples', async () => {
    const relay = await relayProcess();
    const seconds = 5;
    const run = capture(relay, [
      '--preset',
      'low-latency',
      '--input',
      'sine:700',
      '--duration',
      String(seconds),
      '--realtime',
    ]);
    await run.waitFor('/listen#');
    await sleep(1200);
    await relay.kill();
    await sleep(1000); // the capture keeps recording into its buffer meanwhile
    await relay.restart();

    const result = await run.done;
    expect(result.stderr).toMatch(/reconnected after/);
    expect(result.stderr).toMatch(/finished: 00:05\.0 of audio .* [1-9]\d* reconnects/);
    expect(result.code).toBe(0);

    const { opus, pages } = await downloadAndDecrypt(linkFrom(result.stdout));
    expectWholeStream(pages);
    const dir = tempDir();
    const file = writeTemp(dir, 'restart.opus', opus);
    expect(await opusinfo(file)).toMatch(/Playback length: 0m:05\.000s/);
    const decoded = await opusdec(file);
    expect(decoded.samples.length).toBe(seconds * 48000);
  });

  it('a killed capture continues the same broadcast with --resume at the next seq', async () => {
    const relay = await relayProcess();
    const dir = tempDir();
    const statePath = path.join(dir, 'state.json');
    const passFile = path.join(dir, 'pass');
    writeFileSync(passFile, 'a long passphrase\n');
    chmodSync(passFile, 0o600);

    const first = capture(relay, [
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
    await first.waitFor('/listen#');
    await sleep(1500);
    await killAndWait(first.child, 'SIGKILL');
    expect(statSync(statePath).mode & 0o777).toBe(0o600);
    const link = linkFrom(first.stdout());
    const { mxc } = parseListenLink(link);
    const client = new MediaClient({ baseUrl: relay.url });
    const before = await client.index(mxc);
    expect(before.state).toBe('live');
    expect(before.block_count).toBeGreaterThan(2);

    const second = await capture(relay, [
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
    expectWholeStream(pages);
    // Pages keep one Ogg stream: same serial, page seq = block seq, granules increasing.
    const parsed = pages.map((p) => parseOggPage(p.plaintext));
    expect(new Set(parsed.map((p) => p.serial)).size).toBe(1);
    expect(parsed.map((p) => p.pageSeq)).toEqual(pages.map((_, i) => i));
    for (let i = 3; i < parsed.length; i++) {
      expect(parsed[i]!.granule).toBeGreaterThan(parsed[i - 1]!.granule);
    }
    const file = writeTemp(dir, 'resumed.opus', opus);
    expect(await opusinfo(file)).not.toMatch(/WARNING|ERROR/);
    expect((await ffprobe(file)).tags.title).toBe('Resumed show');
    const decoded = await opusdec(file);
    // Every whole block the first run got stored (voice: 12 × 960 samples each), then exactly the
    // second run's one second: the resumed granules continue from the stored blocks.
    expect(decoded.samples.length).toBe((before.block_count - 2) * 12 * 960 + 48000);
  });
  it('gives up after --max-outage with exit 3, and --resume finishes the broadcast once the relay is back', async () => {
    const relay = await relayProcess();
    const statePath = path.join(tempDir(), 'state.json');
    const first = capture(relay, [
      '--input',
      'timecode',
      '--realtime',
      '--state',
      statePath,
      '--max-outage',
      '2',
      '--quiet',
    ]);
    await first.waitFor('/listen#');
    await sleep(800);
    await relay.kill();
    const gaveUp = await first.done;
    expect(gaveUp.code).toBe(3);
    expect(gaveUp.stderr.trim().split('\n').at(-1)).toMatch(
      /relay unreachable for \d+ s, giving up .*resume with --resume/,
    );

    await relay.restart();
    const second = await capture(relay, [
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
    expectWholeStream(pages);
    expect(await opusinfo(writeTemp(tempDir(), 'outage.opus', opus))).not.toMatch(/WARNING|ERROR/);
  });
});
