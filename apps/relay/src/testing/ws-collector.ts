/** A WebSocket listener for tests: collects binary blocks and JSON messages until the socket closes. */
import WebSocket from 'ws';

export interface Collected {
  ws: WebSocket;
  blocks: Buffer[];
  messages: Array<Record<string, unknown>>;
  opened: Promise<void>;
  closed: Promise<{ code: number }>;
}

export function collect(url: string): Collected {
  const ws = new WebSocket(url);
  const blocks: Buffer[] = [];
  const messages: Array<Record<string, unknown>> = [];
  ws.on('message', (data, isBinary) => {
    if (isBinary) blocks.push(data as Buffer);
    else messages.push(JSON.parse(String(data)) as Record<string, unknown>);
  });
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`refused: ${res.statusCode}`)));
  });
  const closed = new Promise<{ code: number }>((resolve) =>
    ws.once('close', (code) => resolve({ code })),
  );
  return { ws, blocks, messages, opened, closed };
}
