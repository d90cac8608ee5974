/**
 * The capture's side of key requests against the real Synapse (docs/matrix.md "Key re-share"):
 * alice's session in this process runs `watchKeyRequests` for an announced broadcast (the answer
 * counted, not sent); carol's requests go to the room through the client API. A burst from one
 * user is answered once at once and once more at the window's end (coalesced, none lost, no
 * more); a request for another broadcast is ignored; a requester who left before the window's
 * end is not answered. carol's requests are sent in clear here (the listener's own are
 * encrypted): the capture does not require it, an answer gives nothing a member may not have.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEncryptedFile } from '@mxcast/format';
import {
  announceBroadcast,
  BROADCAST_KEY_REQUEST_TYPE,
  openMatrixSession,
  watchKeyRequests,
  type Broadcast,
  type KeyRequestWatch,
  type MatrixSession,
} from '@mxcast/matrix';
import { startMatrixStack, type MatrixStack } from './matrix-stack.ts';
import { matrixCall, registerUser, type MatrixUser } from './matrix-users.ts';
import { until } from './poll-until.ts';

const geometry = { frame_ms: 20, frames_per_block: 12, block_size: 1031, bitrate: 32000 };
const WINDOW_MS = 5000;

let stack: MatrixStack;
let work: string;
let alice: MatrixSession;
let carol: MatrixUser;
let roomId: string;
let b: Broadcast;
let watch: KeyRequestWatch;
const answeredTo: string[] = [];

let txn = 0;
/** carol's request for `broadcastId`, through the client API (a room event like any other). */
async function request(broadcastId: string): Promise<void> {
  await matrixCall(
    stack.url,
    'PUT',
    `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/${BROADCAST_KEY_REQUEST_TYPE}/kr${++txn}`,
    { token: carol.accessToken, body: { broadcast_id: broadcastId } },
  );
}

beforeAll(async () => {
  stack = await startMatrixStack();
  const aliceUser = await registerUser(stack, 'alice', 'alice-password-1');
  carol = await registerUser(stack, 'carol', 'carol-password-1');
  work = mkdtempSync(path.join(tmpdir(), 'mxcast-key-request-'));
  alice = await openMatrixSession({
    homeserver: stack.url,
    auth: { user: 'alice', password: aliceUser.password },
    stateDir: path.join(work, 'alice'),
  });
  const r = await alice.client.createRoom({
    preset: 'private_chat' as never,
    invite: [carol.userId],
    initial_state: [
      { type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } },
    ],
  });
  roomId = r.room_id;
  await matrixCall(stack.url, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {
    token: carol.accessToken,
    body: {},
  });
  await until(
    'alice to see carol joined',
    () => alice.client.getRoom(roomId)?.getMember(carol.userId)?.membership === 'join',
  );
  const file = generateEncryptedFile('mxc://mxcast.test/KeyRequestKeyRequestKeyReq');
  b = await announceBroadcast(alice, { roomId, title: 'asked', file, geometry });
  watch = watchKeyRequests(alice, b, {
    answer: async (userId) => {
      answeredTo.push(userId);
    },
    minIntervalMs: WINDOW_MS,
  });
}, 900_000);

afterAll(async () => {
  watch?.stop();
  await alice?.stop();
  await stack?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('key requests: who is answered, how often', () => {
  it('a burst is answered once, then once more at the window end; another broadcast id is ignored', async () => {
    await request('not-this-broadcast');
    for (let i = 0; i < 4; i++) await request(b.broadcastId);
    await until('the first answer', () => answeredTo.length >= 1);
    const first = Date.now();
    await until('the coalesced answer', () => answeredTo.length >= 2, WINDOW_MS + 20_000);
    // The second waited for the window (less the time the first one's sync took to arrive).
    expect(Date.now() - first).toBeGreaterThan(WINDOW_MS / 2);
    // Nothing more: four requests and one for another broadcast made two answers.
    await new Promise((r) => setTimeout(r, WINDOW_MS + 1000));
    expect(answeredTo).toEqual([carol.userId, carol.userId]);
    expect(watch.answered).toBe(2);
  }, 120_000);

  it('a requester who leaves before the window ends is not answered', async () => {
    const before = watch.answered;
    // The window from the last answer has passed: the first is answered at once, the second
    // waits for the window's end.
    await request(b.broadcastId);
    await request(b.broadcastId);
    await until('the immediate answer', () => watch.answered >= before + 1, 20_000);
    await matrixCall(
      stack.url,
      'POST',
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/leave`,
      { token: carol.accessToken, body: {} },
    );
    await until(
      'alice to see carol leave',
      () => alice.client.getRoom(roomId)?.getMember(carol.userId)?.membership === 'leave',
    );
    await new Promise((r) => setTimeout(r, WINDOW_MS + 1500));
    // The coalesced one was dropped at its time: she was no longer a member.
    expect(watch.answered).toBe(before + 1);
    // And a request she can no longer send does not reach the room at all.
    await expect(request(b.broadcastId)).rejects.toThrow(/403|M_FORBIDDEN/);
  }, 120_000);
});
