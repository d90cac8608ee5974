/**
 * Test-only: runs the real `mxcast` bin (node apps/cli/bin/mxcast.js) with bytes on stdin and
 * collects stdout as bytes, stderr as text and the exit code.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/mxcast.js');

export interface MxcastRun {
  code: number | null;
  stdout: Uint8Array;
  stderr: string;
}

export function mxcast(args: string[], stdin: Uint8Array = new Uint8Array(0)): Promise<MxcastRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    // The child may exit before reading all of stdin (bad arguments): ignore EPIPE.
    child.stdin.on('error', () => {});
    child.stdin.end(stdin);
    child.on('close', (code) =>
      resolve({
        code,
        stdout: new Uint8Array(Buffer.concat(out)),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
  });
}
