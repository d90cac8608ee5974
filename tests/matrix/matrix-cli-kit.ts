/**
 * The set-up both `mxcast … --homeserver --room` tests share (matrix-cli.test.ts,
 * matrix-cli-relay-token.test.ts): the real stack, alice and bob with passwords in files, an
 * encrypted room alice made and bob joined, and `mx()` running one user's `mxcast` process.
 * Tests that need more people add them with `addUser()` (same password-file convention).
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
  /** Registers one more user `name` (password `<name>-password-1`, in WORK/<name>.password). */
  addUser(name: string): Promise<MatrixUser>;
  /** alice, bob or a user `addUser` made. */
  user(name: string): MatrixUser;
  /**
   * The arguments of `mxcast <command> --homeserver … --room … --user … --password-file …
   * --state-dir WORK/<name>-<device>` (the room and the device default to the kit's room and
   * the command: one kept device per user and command).
   */
  args(command: string, name: string, rest: string[], where?: CliWhere): string[];
  /** Runs them with the checkout's `mxcast`. */
  mx(
    command: string,
    name: string,
    args: string[],
    env?: NodeJS.ProcessEnv,
    where?: CliWhere,
  ): CliRun;
  stop(): Promise<void>;
}

/** Another room than the kit's, or another kept device than the command's. */
export interface CliWhere {
  roomId?: string;
  device?: string;
}

export async function startCliRoom(options: MatrixStackOptions = {}): Promise<CliRoom> {
  const stack = await startMatrixStack(options);
  const work = mkdtempSync(path.join(tmpdir(), 'mxcast-matrix-cli-'));
  const everyone = new Map<string, MatrixUser>();
  const addUser = async (name: string): Promise<MatrixUser> => {
    const user = await registerUser(stack, name, `${name}-password-1`);
    // The password reaches mxcast through a file, never its command line.
    writeFileSync(path.join(work, `${name}.password`), `${name}-password-1\n`, { mode: 0o600 });
    everyone.set(name, user);
    return user;
  };
  const users = { alice: await addUser('alice'), bob: await addUser('bob') };
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
    addUser,
    user(name) {
      const user = everyone.get(name);
      if (!user) throw new Error(`no user ${name} in this CLI room: addUser() first`);
      return user;
    },
    args(command, name, rest, where = {}) {
      return [
        command,
        '--homeserver',
        stack.url,
        '--room',
        where.roomId ?? roomId,
        '--user',
        cliRoom.user(name).userId,
        '--password-file',
        path.join(work, `${name}.password`),
        '--state-dir',
        path.join(work, `${name}-${where.device ?? command}`),
        ...rest,
      ];
    },
    mx(command, name, args, env = process.env, where = {}) {
      return runMxcast(cliRoom.args(command, name, args, where), undefined, env);
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

/**
 * Windows of 20 ms whose level is below a tone's (RMS under 0.05), after the encoder's first
 * 100 ms (it ramps up): a lost or unopened block (240 ms) would leave twelve in a row.
 */
export function silentWindows(samples: Float32Array, channels: number): number {
  const win = 960 * channels;
  let silent = 0;
  for (let i = 4800 * channels; i + win <= samples.length; i += win) {
    if (rms(samples.subarray(i, i + win)) < 0.05) silent++;
  }
  return silent;
}
