/**
 * Each bad input to `mxcast capture` ends with one clear line on stderr and its own non-zero
 * exit code (docs/capture.md "Exit codes"); a full relay stops the capture without losing what
 * it had stored.
 */
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { main } from '@mxcast/cli';
import { MediaClient } from '@mxcast/client';
import { freePort, runCapture, runMxcast, useInProcessRelay, tempDir } from './capture-harness.ts';

const relay = useInProcessRelay();
const full = useInProcessRelay({ limits: { maxMediaBytes: 6000 } as never });

async function fails(args: string[], env?: NodeJS.ProcessEnv) {
  const result = await runMxcast(['capture', ...args], undefined, env).done;
  const lines = result.stderr.trim().split('\n');
  return { code: result.code, lines, last: lines.at(-1) ?? '' };
}

async function failsInProcess(args: string[]) {
  let stderr = '';
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += chunk.toString();
    return true;
  }) as typeof process.stderr.write;
  let code: number;
  try {
    code = await main(['capture', ...args]);
  } finally {
    process.stderr.write = write;
  }
  const lines = stderr.trim().split('\n');
  return { code, lines, last: lines.at(-1) ?? '' };
}

describe('mxcast capture refuses bad input with one line', () => {
  it('bad arguments: exit 2, naming the problem', async () => {
    const dir = tempDir();
    const notWav = path.join(dir, 'notes.wav');
    writeFileSync(notWav, 'this is not a RIFF file');
    const base = ['--relay', relay().url, '--token', relay().token];
    const cases: [string[], RegExp][] = [
      [['--token', 't', '--input', 'sine'], /--relay URL is required/],
      [['--relay', 'ftp://x', '--token', 't'], /--relay must be an http\(s\) URL/],
      [['--relay', relay().url, '--input', 'sine'], /--token TOKEN is required/],
      [
        [...base, '--preset', 'podcast'],
        /unknown preset 'podcast' \(have: low-latency, voice, music\)/,
      ],
      [
        [...base, '--input', 'sine', '--duration', 'soon'],
        /--duration must be a positive number, got 'soon'/,
      ],
      [[...base, '--input', 'sine', '--channels', '6'], /--channels must be 1 or 2, got '6'/],
      [[...base, '--input', 'sine:30000'], /30000 Hz is not below 24000 Hz/],
      [[...base, '--input', 'radio'], /unknown input 'radio'/],
      [
        [...base, '--input', path.join(dir, 'missing.wav')],
        /cannot read input file .*missing\.wav: ENOENT/,
      ],
      [[...base, '--input', notWav], /notes\.wav: /],
      [[...base, '--frobnicate'], /Unknown option '--frobnicate'/],
      [
        [...base, '--input', 'sine', '--resume', path.join(dir, 'nostate.json')],
        /cannot read state file .*nostate\.json: ENOENT/,
      ],
    ];
    // In this process through the bin's own entry point (spawning a dozen bins would take most
    // of a minute on two cores); the tests below run the real bin.
    for (const [args, message] of cases) {
      const r = await failsInProcess(args);
      expect(r.lines, args.join(' ')).toHaveLength(1);
      expect(r.last).toMatch(/^mxcast capture: /);
      expect(r.last).toMatch(message);
      expect(r.code, args.join(' ')).toBe(/state file/.test(message.source) ? 7 : 2);
    }
  });

  it('mic without arecord or sox: exit 2 naming both', async () => {
    const empty = tempDir();
    const r = await fails(['--relay', relay().url, '--token', relay().token, '--input', 'mic'], {
      ...process.env,
      PATH: empty,
    });
    expect(r.lines).toHaveLength(1);
    expect(r.last).toMatch(/input 'mic' needs arecord \(alsa-utils\) or sox on PATH/);
    expect(r.code).toBe(2);
  });

  it('an unreachable relay: exit 3', async () => {
    const port = await freePort();
    const r = await fails([
      '--relay',
      `http://127.0.0.1:${port}`,
      '--token',
      't',
      '--input',
      'sine',
    ]);
    expect(r.lines).toHaveLength(1);
    expect(r.last).toMatch(
      new RegExp(`cannot reach the relay at http://127.0.0.1:${port} .*ECONNREFUSED`),
    );
    expect(r.code).toBe(3);
  });

  it('a refused token: exit 4', async () => {
    const r = await fails(['--relay', relay().url, '--token', 'not-a-token', '--input', 'sine']);
    expect(r.lines).toHaveLength(1);
    expect(r.last).toMatch(/refused the access token .*M_UNKNOWN_TOKEN/);
    expect(r.code).toBe(4);
  });

  it('a full relay: exit 5, and the blocks stored before stay stored', async () => {
    const result = await runCapture(full(), ['--input', 'sine', '--duration', '10', '--quiet'])
      .done;
    const lines = result.stderr.trim().split('\n');
    expect(lines.at(-1)).toMatch(/is full or a limit was reached .*M_TOO_LARGE/);
    expect(result.code).toBe(5);
    // The listen link was printed once the first block was accepted; the relay kept those blocks.
    const link = result.stdout.trim();
    expect(link).toMatch(/\/listen#mxc=/);
    const mxc = new URLSearchParams(new URL(link).hash.slice(1)).get('mxc')!;
    const index = await new MediaClient({ baseUrl: full().url }).index(mxc);
    expect(index.block_count).toBeGreaterThan(2);
    expect(index.byte_length).toBeLessThanOrEqual(6000);
  });
});
