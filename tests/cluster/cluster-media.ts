/**
 * The relay's media API as the cluster tests speak it to any node (docs/protocol.md): create,
 * index, downloads with Range, the WebSocket listen URL. Thin over fetch so a test reads as the
 * requests it makes.
 */
import { expect } from 'vitest';
import type { MediaIndex } from '@mxcast/protocol';

export const P = '/_matrix/media/unstable/org.matrix.msc4016';

export interface Media {
  mxc: string;
  server: string;
  id: string;
}

export interface MatrixError {
  errcode: string;
  error: string;
  'org.matrix.msc4016.reason'?: string;
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/** POST /create on `node` (200 expected). */
export async function createMedia(node: string, token: string): Promise<Media> {
  const res = await fetch(`${node}/_matrix/media/v1/create`, {
    method: 'POST',
    headers: bearer(token),
  });
  expect(res.status, await res.clone().text()).toBe(200);
  const { content_uri } = (await res.json()) as { content_uri: string };
  const [server, id] = content_uri.slice('mxc://'.length).split('/') as [string, string];
  return { mxc: content_uri, server, id };
}

export const uploadUrl = (node: string, m: Media) =>
  `${node}/_matrix/media/v3/upload/${m.server}/${m.id}`;
export const downloadUrl = (node: string, m: Media) =>
  `${node}/_matrix/client/v1/media/download/${m.server}/${m.id}`;
export const listenUrl = (node: string, m: Media, query = '') =>
  `${node.replace(/^http/, 'ws')}${P}/ws/${m.server}/${m.id}${query}`;

export async function getIndex(node: string, m: Media): Promise<MediaIndex> {
  const res = await fetch(`${node}${P}/index/${m.server}/${m.id}`);
  expect(res.status, `index on ${node}: ${await res.clone().text()}`).toBe(200);
  return (await res.json()) as MediaIndex;
}

/** The bytes of a download (optionally a Range), with its status. */
export async function download(
  node: string,
  m: Media,
  range?: string,
): Promise<{ status: number; bytes: Buffer; headers: Headers }> {
  const res = await fetch(downloadUrl(node, m), range ? { headers: { range } } : {});
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}
