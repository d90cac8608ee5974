/**
 * `mxcast listen` as a user runs it (a real process, a real relay): a WAV from --from/--duration
 * that ffprobe accepts and that matches the source at T, raw PCM on stdout, --info with an event
 * content, and the documented exit statuses.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildListenLink } from '@mxcast/client';
import { generateEncryptedFile } from '@mxcast/format';
import {
  alignment,
  encodeBroadcast,
  finishedBroadcast,
  useTestRelay,
  listenLinkOf,
  uploadFinished,
  type EncodedBroadcast,
  type Upload,
} from './broadcast-fixture.ts';
import { listenByInfo, mxcast } from '../cli/mxcast-process.ts';

const relay = useTestRelay();
let dir: string;
let b: EncodedBroadcast;
let up: Upload;
let link: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mxcast-listen-'));
  ({ b, up } = await finishedBroadcast(relay, 'voice', 4));
  link = listenLinkOf(up);
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
});

describe('mxcast listen', () => {
  it('writes a proper WAV from --from h:mm:ss for --duration, matching the source at T', async () => {
    const wav = join(dir, 'out.wav');
    const r = await mxcast([
      'listen',
      link,
      '--from',
      '0:00:01.5',
      '--duration',
      '1',
      '--out',
      wav,
    ]);
    expect(r.stderr).toMatch(/position=/);
    expect(r.code, r.stderr).toBe(0);
    const probe = JSON.parse(
      execFileSync('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', wav]).toString(),
    ) as {
      streams: { sample_rate: string; channels: number; duration_ts: number; codec_name: string }[];
    };
    expect(probe.streams[0]).toMatchObject({
      sample_rate: '48000',
      channels: 1,
      codec_name: 'pcm_s16le',
      duration_ts: 48_000,
    });
    const bytes = readFileSync(wav);
    const pcm = new Int16Array(
      bytes.buffer.slice(bytes.byteOffset + 44, bytes.byteOffset + bytes.length),
    );
    const { lag } = alignment(pcm, b.pcm, 72_000);
    expect(Math.abs(lag)).toBeLessThanOrEqual(960);
  });

  it('writes raw PCM to stdout with --out -, and reads an mxc with --info (event content)', async () => {
    const info = join(dir, 'event.json');
    writeFileSync(
      info,
      JSON.stringify({
        msgtype: 'm.audio',
        body: 'test',
        file: up.file,
        'org.matrix.msc4016.stream': {
          frame_ms: 20,
          frames_per_block: 12,
          block_size: b.geometry.blockSize,
        },
      }),
    );
    const r = await listenByInfo(up.mxc, info, relay.url, ['--from', '2', '--out', '-', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    // from 2 s to the end of the finished broadcast
    expect(r.stdout.length).toBe(((b.blocks.length - 2) * b.blockSamples - b.preSkip - 96_000) * 2);
  });

  it('exits 4 on a wrong key, 5 for unknown media, 2 on bad arguments, 3 when the stream never finished', async () => {
    const wrong = buildListenLink(relay.url, { mxc: up.mxc, file: generateEncryptedFile(up.mxc) });
    const r4 = await mxcast(['listen', wrong, '--out', '-']);
    expect(r4.code).toBe(4);
    expect(r4.stderr).toMatch(/WRONG_KEY/);
    expect(r4.stdout.length).toBe(0);

    const missing = buildListenLink(relay.url, {
      mxc: 'mxc://localhost/AAAAAAAAAAAAAAAAAAAAAAAAAA',
      file: up.file,
    });
    expect((await mxcast(['listen', missing, '--out', '-'])).code).toBe(5);

    const bad = await mxcast(['listen', link, '--from', 'soon']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect((await mxcast(['listen', link, '--from', '1', '--live'])).code).toBe(2);

    const unfinished = await encodeBroadcast('voice', 1, { eos: false });
    const u = await uploadFinished(relay, unfinished);
    const r3 = await mxcast([
      'listen',
      buildListenLink(relay.url, { mxc: u.mxc, file: u.file }),
      '--out',
      '-',
    ]);
    expect(r3.code, r3.stderr).toBe(3);
    expect(r3.stderr).toMatch(/without finishing/);
  });

  it('documents the exit statuses in --help', async () => {
    const r = await mxcast(['listen', '--help']);
    expect(r.code).toBe(0);
    for (const line of [
      '0  finished',
      '2  bad arguments',
      '3  ended without finishing',
      '4  authentication',
      '5  not found',
    ]) {
      expect(r.stdout.toString()).toContain(line);
    }
  });
});
