/**
 * The set-up both `mxcast … --homeserver --room` tests share (matrix-cli.test.ts,
 * matrix-cli-relay-token.test.ts): the real stack, alice and bob with passwords in files, an
 * encrypted room alice made and bob joined, and `mx()` running one user's `mxcast` process.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runMxcast, type CliRun } from '../capture/capture-harness.ts';
import { startMatrixStack, type MatrixStack, type MatrixStackOptions } from './matrix-stack.ts';
import { matrixCall, registerUser, type MatrixUser } from './matrix-users.ts';

export interface CliRoom {
  stack: MatrixStack;
  work: string;
  roomId: string;
  users: Record<'alice' | 'bob', MatrixUser>;
  /** The arguments of `mxcast <command> --homeserver … --room … --user … --password-file … --state-dir …`. */
  args(command: 'capture' | 'listen', name: 'alice' | 'bob', rest: string[]): string[];
  /** Runs them with the checkout's `mxcast`. */
  mx(
    command: 'capture' | 'listen',
    name: 'alice' | 'bob',
    args: string[],
    env?: NodeJS.ProcessEnv,
  ): CliRun;
  stop(): Promise<void>;
}

export async function startCliRoom(options: MatrixStackOptions = {}): Promise<CliRoom> {
  const stack = await startMatrixStack(options);
  const work = mkdtempSync(path.join(tmpdir(), 'mxcast-matrix-cli-'));
  const users = {} as Record<'alice' | 'bob', MatrixUser>;
  for (const name of ['alice', 'bob'] as const) {
    users[name] = await registerUser(stack, name, `${name}-password-1`);
    // The password reaches mxcast through a file, never its command line.
    writeFileSync(path.join(work, `${name}.password`), `${name}-password-1\n`, { mode: 0o600 });
  }
  const room = await matrixCall<{ room_id: string }>(
    stack.url,
    'POST',
    '/_matrix/client/v3/createRoom',
    {
      token: users.alice.accessToken,
      body: {
        preset: 'private_chat',
        invite: [users.bob.userId],
        initial_state: [
          {
            type: 'm.room.encryption',
            state_key: '',
            content: { algorithm: 'm.megolm.v1.aes-sha2' },
          },
        ],
      },
    },
  );
  const roomId = room.room_id;
  await matrixCall(stack.url, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {
    token: users.bob.accessToken,
    body: {},
  });
  const cliRoom: CliRoom = {
    stack,
    work,
    roomId,
    users,
    args(command, name, rest) {
      return [
        command,
        '--homeserver',
        stack.url,
        '--room',
        roomId,
        '--user',
        users[name].userId,
        '--password-file',
        path.join(work, `${name}.password`),
        '--state-dir',
        path.join(work, `${name}-${command}`),
        ...rest,
      ];
    },
    mx(command, name, args, env = process.env) {
      return runMxcast(cliRoom.args(command, name, args), undefined, env);
    },
    async stop() {
      await stack.stop();
      rmSync(work, { recursive: true, force: true });
    },
  };
  return cliRoom;
}

/** Root mean square of the samples: well above 0 for a tone, ~0 for silence. */
export function rms(samples: Float32Array): number {
  let sum = 0;
  for (const s of samples) sum += s * s;
  return Math.sqrt(sum / Math.max(1, samples.length));
}
