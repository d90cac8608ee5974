/**
 * One rule for the key and IV in a listen link, wherever the link is read (docs/listen-link.md):
 * the shared table of links (@mxcast/client/testing) through `mxcast listen` as a user runs it,
 * against a real relay holding a real broadcast. A link the table says is good plays (exit 0,
 * PCM out); a link it says is bad is one line "bad listen link: …" and exit 2 before anything is
 * fetched — never a BAD_STREAM or WRONG_KEY from the player after a key that half-parsed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { LISTEN_LINK_CASES, tableSecrets } from '@mxcast/client/testing';
import { encodeBase64, encodeBase64Url, generateEncryptedFile } from '@mxcast/format';
import {
  encodeBroadcast,
  useTestRelay,
  uploadFinished,
  type Upload,
} from '../player/broadcast-fixture.ts';
import { listenByInfo, mxcast } from './mxcast-process.ts';

const relay = useTestRelay();
let up: Upload;
// A key and IV whose encodings hold '-', '_', '+' and '/' (tableSecrets), broadcast for real.
const { key, iv } = tableSecrets();
beforeAll(async () => {
  const fresh = generateEncryptedFile();
  const file = { ...fresh, key: { ...fresh.key, k: encodeBase64Url(key) }, iv: encodeBase64(iv) };
  up = await uploadFinished(relay, await encodeBroadcast('voice', 1, { file }));
});

describe('mxcast listen: the listen-link table', () => {
  it('plays every good spelling of the key and refuses every bad one as a bad link', async () => {
    // Three CLI processes at a time: each is a Node start-up, and the machine has two cores.
    const results: { name: string; refused?: RegExp; run: Awaited<ReturnType<typeof mxcast>> }[] =
      [];
    const queue = [...LISTEN_LINK_CASES];
    await Promise.all(
      [0, 1, 2].map(async () => {
        for (let c = queue.shift(); c; c = queue.shift()) {
          const link = c.link(`${relay.url}/listen`, up.mxc, key, iv);
          const args = [
            'listen',
            link,
            '--from',
            '0',
            '--duration',
            '0.2',
            '--out',
            '-',
            '--quiet',
          ];
          results.push({
            name: c.name,
            ...(c.refused ? { refused: c.refused } : {}),
            run: await mxcast(args),
          });
        }
      }),
    );
    expect(results).toHaveLength(LISTEN_LINK_CASES.length);
    expect(results.filter((r) => !r.refused).length).toBeGreaterThanOrEqual(3);
    for (const { name, refused, run } of results) {
      if (refused) {
        expect(run.code, `${name}: ${run.stderr}`).toBe(2);
        const lines = run.stderr.trim().split('\n');
        expect(lines, name).toHaveLength(1);
        expect(lines[0], name).toMatch(/^mxcast listen: bad listen link: /);
        expect(lines[0], name).toMatch(refused);
        expect(run.stdout.length, name).toBe(0);
      } else {
        expect(run.code, `${name}: ${run.stderr}`).toBe(0);
        // 0.2 s of 48 kHz mono s16le: the key decrypted real audio.
        expect(run.stdout.length, name).toBe(0.2 * 48_000 * 2);
      }
    }
  });

  it('holds --info to the same rules: a "/" in key.k or a bad stream geometry is one line, exit 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mxcast-info-'));
    try {
      const stream = { frame_ms: 20, frames_per_block: 12, block_size: 1031 };
      const slash = { ...up.file, key: { ...up.file.key, k: '/' + up.file.key.k.slice(1) } };
      const cases: [string, object, RegExp][] = [
        [
          'slash.json',
          { file: slash, 'org.matrix.msc4016.stream': stream },
          /field key\.k: not url-safe base64 \(character "\/" at 0/,
        ],
        [
          'frame.json',
          { file: up.file, 'org.matrix.msc4016.stream': { ...stream, frame_ms: 21 } },
          /org\.matrix\.msc4016\.stream: geometry\.frame_ms must be an Opus frame duration/,
        ],
        [
          'blocks.json',
          { file: up.file, 'org.matrix.msc4016.stream': { frame_ms: 20, block_size: 1031 } },
          /geometry\.frames_per_block must be a positive integer, got nothing/,
        ],
      ];
      for (const [name, content, message] of cases) {
        const info = join(dir, name);
        writeFileSync(info, JSON.stringify(content));
        const r = await listenByInfo(up.mxc, info, relay.url, ['--out', '-']);
        expect(r.code, `${name}: ${r.stderr}`).toBe(2);
        const lines = r.stderr.trim().split('\n');
        expect(lines, name).toHaveLength(1);
        expect(lines[0], name).toMatch(message);
        expect(r.stdout.length, name).toBe(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
