/**
 * `--room ROOM_ID_OR_ALIAS`: a room id (`!…`) as it is, an alias (`#name:server`) resolved by
 * the homeserver's directory (client-server API `GET /directory/room/{alias}`).
 */
import type { MatrixSession } from './matrix-session.ts';

export async function resolveRoomId(session: MatrixSession, idOrAlias: string): Promise<string> {
  if (idOrAlias.startsWith('!')) return idOrAlias;
  if (!idOrAlias.startsWith('#') || !idOrAlias.includes(':')) {
    throw new Error(`not a room id (!…) or alias (#name:server): ${JSON.stringify(idOrAlias)}`);
  }
  const { room_id: roomId } = await session.client.getRoomIdForAlias(idOrAlias);
  return roomId;
}
