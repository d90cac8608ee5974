/**
 * The listener of the go-live benchmark (bench/matrix-bench.ts): a Matrix client already syncing
 * the room, in its own process. Prints `ready` once synced; then, for the next broadcast that
 * goes live in the room, takes its key from the announcement, plays it live through the player
 * (HTTP, unpaced) and prints one JSON line, `{"firstAudioAt": <epoch ms>}`, when the first PCM
 * reaches its sink; then exits.
 *
 *   node --import tsx golive-listener.ts --homeserver URL --user U --password P --state-dir D
 *     --room ROOM_ID
 */
import { parseArgs } from 'node:util';
import { openMatrixSession, waitForBroadcastKey, watchBroadcasts } from '@mxcast/matrix';
import { CallbackSink, Player, declaredGeometryOf } from '@mxcast/player';

const { values } = parseArgs({
  options: {
    homeserver: { type: 'string' },
    user: { type: 'string' },
    password: { type: 'string' },
    'state-dir': { type: 'string' },
    room: { type: 'string' },
  },
});
const { homeserver, user, password, room } = values;
if (!homeserver || !user || !password || !room) throw new Error('missing arguments');
const session = await openMatrixSession({
  homeserver,
  auth: { user, password },
  ...(values['state-dir'] ? { stateDir: values['state-dir'] } : {}),
  deviceName: 'mxcast go-live bench listener',
});
const token = session.client.getAccessToken() ?? '';
let started = false;
const firstAudio = new Promise<number>((resolve, reject) => {
  watchBroadcasts(
    session,
    room,
    (b) => {
      if (started || b.state !== 'started') return;
      started = true;
      void (async () => {
        const ann = await waitForBroadcastKey(session, room, b.broadcastId, 30_000);
        const player = new Player({
          relayUrl: homeserver,
          mxc: ann.file.url as string,
          file: ann.file,
          geometry: declaredGeometryOf(ann.geometry),
          accessToken: token,
          sink: new CallbackSink(() => {
            resolve(Date.now());
            player.stop();
          }),
        });
        await player.play({ live: true });
      })().catch(reject);
    },
    reject,
  );
});
process.stdout.write('ready\n');
const at = await firstAudio;
process.stdout.write(JSON.stringify({ firstAudioAt: at }) + '\n');
await session.stop();
process.exit(0);
