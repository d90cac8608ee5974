/**
 * The npm tarball's `mxcast` in a Matrix room: `npm pack` of apps/cli installed into an empty
 * prefix (tests/ship/ship-harness.ts), with no checkout behind it, logs in, goes live and listens
 * — matrix-js-sdk, the Rust crypto's WebAssembly and fake-indexeddb come from the tarball's npm
 * dependencies (apps/cli/scripts/bundle-cli.mjs keeps them out of the bundle), the Matrix code
 * from the bundle's chunk.
 */
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import {
  cleanEnv,
  currentNode,
  installTarball,
  packCli,
  run,
  type Installed,
} from '../ship/ship-harness.ts';
import { startCliRoom, type CliRoom } from './matrix-cli-kit.ts';

let room: CliRoom;
let app: Installed;
let tarball: string;

beforeAll(async () => {
  const node = currentNode();
  tarball = await packCli(node.node);
  app = await installTarball(tarball, node);
  room = await startCliRoom({ relayHomeserver: true });
}, 900_000);

afterAll(async () => {
  await room?.stop();
  if (app) rmSync(app.prefix, { recursive: true, force: true });
  if (tarball) rmSync(path.dirname(tarball), { recursive: true, force: true });
});

it('the installed mxcast goes live in the room and its listener hears it finished', async () => {
  const env = cleanEnv(app.runtime.node);
  const mxcast = (command: 'capture' | 'listen', name: 'alice' | 'bob', args: string[]) =>
    run(app.bin, room.args(command, name, args), { env, cwd: room.work, timeoutMs: 120_000 });
  // bob's device first, so the announcement's key share reaches it.
  const list = await mxcast('listen', 'bob', ['--list']);
  expect(list.code, list.stderr).toBe(0);
  const cap = await mxcast('capture', 'alice', [
    '--input',
    'sine:440',
    '--duration',
    '3',
    '--title',
    'Packed',
  ]);
  expect(cap.code, cap.stderr).toBe(0);
  expect(cap.stderr).toMatch(/completion sent/);
  const listed = await mxcast('listen', 'bob', ['--list']);
  expect(listed.stdout).toMatch(/\tstopped\t.*\t@alice:[^\t]+\tPacked\n$/);
  const heard = await mxcast('listen', 'bob', ['--out', path.join(room.work, 'p.wav'), '--quiet']);
  expect(heard.code, heard.stderr).toBe(0);
  expect(heard.stderr).toMatch(/broadcast: finished\n/);
}, 300_000);
