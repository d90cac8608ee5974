/**
 * `mxcast` as a user runs it, for the CLI tests: the real bin in a child process, its exit code,
 * stdout (bytes: PCM and WAV are binary) and stderr once it has exited.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

export const MXCAST_BIN = resolve(import.meta.dirname, '../../apps/cli/bin/mxcast.js');

export interface MxcastRun {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Runs `mxcast ARGS` to the end; `env` replaces the environment (a PATH of stand-ins, say). */
export function mxcast(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<MxcastRun> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [MXCAST_BIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) =>
      done({ code: code ?? -1, stdout: Buffer.concat(out), stderr: err }),
    );
  });
}

/**
 * `mxcast listen MXC --info FILE --relay URL ...rest`: the listen by mxc URI and EncryptedFile
 * file, not by listen link (docs/player.md).
 */
export function listenByInfo(
  mxc: string,
  info: string,
  relayUrl: string,
  rest: string[],
): Promise<MxcastRun> {
  return mxcast(['listen', mxc, '--info', info, '--relay', relayUrl, ...rest]);
}
