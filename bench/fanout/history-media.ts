/**
 * The finished media the stalled history readers of a `relay-ws-hostile` row ask for from byte 0:
 * `bytes` of random plaintext in 16 KiB blocks, encrypted and framed by @mxcast/format as a
 * broadcaster would (the relay validates the framing, never the content), created and uploaded by
 * one streaming PUT before the row starts (docs/protocol.md "Upload").
 */
import { randomBytes } from 'node:crypto';
import { BlockWriter, concatBytes, createBlockCipher, generateEncryptedFile } from '@mxcast/format';

const BLOCK_PLAINTEXT = 16 * 1024;
const P = '/_matrix/media/unstable/org.matrix.msc4016';

export interface HistoryMedia {
  /** WebSocket path from block 0. */
  wsPath: string;
  /** Download path of the whole file. */
  downloadPath: string;
  bytes: number;
}

/** The file: magic, then blocks of random plaintext until it holds at least `bytes`. */
export async function historyFile(bytes: number): Promise<Uint8Array<ArrayBuffer>> {
  const writer = new BlockWriter(
    await createBlockCipher(generateEncryptedFile(), { backend: 'node' }),
  );
  const parts: Buffer[] = [Buffer.from(writer.magic())];
  let size = parts[0]?.length ?? 0;
  while (size < bytes) {
    const block = Buffer.from(writer.writeSync(randomBytes(BLOCK_PLAINTEXT)));
    parts.push(block);
    size += block.length;
  }
  return concatBytes(parts, size);
}

export async function uploadHistoryMedia(
  url: string,
  authorization: string,
  bytes: number,
): Promise<HistoryMedia> {
  const created = await fetch(`${url}/_matrix/media/v1/create`, {
    method: 'POST',
    headers: { authorization },
  });
  const body = (await created.json()) as { content_uri?: string };
  const m = /^mxc:\/\/([^/]+)\/(.+)$/.exec(body.content_uri ?? '');
  if (!created.ok || !m)
    throw new Error(`create (history media) answered ${created.status} ${JSON.stringify(body)}`);
  const [, server, id] = m;
  const file = await historyFile(bytes);
  const put = await fetch(`${url}/_matrix/media/v3/upload/${server}/${id}`, {
    method: 'PUT',
    headers: { authorization, 'content-type': 'application/octet-stream' },
    body: file,
  });
  if (!put.ok) throw new Error(`upload (history media) answered ${put.status} ${await put.text()}`);
  return {
    wsPath: `${P}/ws/${server}/${id}?from=0`,
    downloadPath: `/_matrix/client/v1/media/download/${server}/${id}`,
    bytes: file.length,
  };
}
