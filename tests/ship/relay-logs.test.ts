/**
 * The relay's log as an operator reads it (docs/operations.md "Logging"), from real `mxcast relay`
 * processes after a full round trip: `mxcast capture` live with a title, a WebSocket listener
 * with its token in the query, `mxcast listen`, a refused oversized request, a graceful stop.
 * At the default level (info) the log has a line per request and per event and never a token,
 * the link's key, an address or the title; at debug the address appears (so it is the level
 * that keeps it out); json is one object per line; warn keeps only limits hit and errors.
 */
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { MediaClient, parseListenLink } from '@mxcast/client';
import { linkFrom, runCapture, runMxcast } from '../capture/capture-harness.ts';
import { startHostileRelay, type HostileRelay } from '../hostile/hostile-harness.ts';

const TITLE = 'Quarterly Secret Roadmap Talk';

/** A 1 MiB JSON body to create: 413 M_TOO_LARGE (limits.maxJsonBodyBytes), a limit hit. */
async function oversizedCreate(relay: HostileRelay): Promise<number> {
  const res = await fetch(`${relay.url}/_matrix/media/v1/create`, {
    method: 'POST',
    headers: { authorization: `Bearer ${relay.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ pad: 'x'.repeat(1024 * 1024) }),
  });
  await res.arrayBuffer().catch(() => undefined);
  return res.status;
}

/** Stops the relay the way systemd does (SIGTERM) and waits for its last log line. */
async function stop(relay: HostileRelay): Promise<string> {
  // 'close' comes after the pipes are drained ('exit' may come before the last line).
  const closed = new Promise((resolve) => relay.child.once('close', resolve));
  await relay.kill('SIGTERM');
  await closed;
  return relay.stderr;
}

describe('the relay log', () => {
  it('at info (text): a line per request and event, and no token, key, address or title', async () => {
    const relay = await startHostileRelay();
    const capture = runCapture(relay, [
      '--input',
      'sine:440',
      '--duration',
      '2',
      '--title',
      TITLE,
      '--quiet',
    ]);
    const captured = await capture.done;
    expect(captured.code, captured.stderr).toBe(0);
    const link = linkFrom(captured.stdout);
    const { mxc, file } = parseListenLink(link);

    // A listener whose token rides in the query, as a browser's must (docs/protocol.md).
    const client = new MediaClient({ baseUrl: relay.url, accessToken: relay.token });
    const socket = await client.listenSocket(mxc, { from: 0 });
    for await (const ev of socket) if (ev.type === 'end') break;
    socket.close();
    const listened = await runMxcast(['listen', link, '--out', '-'], undefined, process.env, true)
      .done;
    expect(listened.code, listened.stderr).toBe(0);
    expect(await oversizedCreate(relay)).toBe(413);

    const log = await stop(relay);
    const lines = log.trim().split('\n');
    // Every line is `time level event k=v…`.
    for (const line of lines)
      expect(line).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z (error|warn|info) \w+/);
    expect(lines[0]).toMatch(/ info start port=\d+ /);
    expect(lines.at(-1)).toMatch(/ info stop$/);
    expect(log).toMatch(
      / info request method=POST route=\/_matrix\/media\/v1\/create status=200 bytes_in=\d+ bytes_out=\d+ ms=\d+/,
    );
    expect(log).toMatch(
      / info websocket route=\/_matrix\/media\/unstable\/org\.matrix\.msc4016\/ws\/:server\/:id status=101 bytes_in=\d+ bytes_out=[1-9]\d*/,
    );
    expect(log).toMatch(
      / warn request method=POST route=\/_matrix\/media\/v1\/create status=413 errcode=M_TOO_LARGE /,
    );
    // The media id is not in request lines (route templates), nor anything the relay must not tell.
    const id = mxc.split('/').pop()!;
    // State changes are events of their own, naming the media (an operator acts on it).
    expect(log).toMatch(new RegExp(` info media id=${id} state=live bytes=\\d+`));
    expect(log).toMatch(new RegExp(` info media id=${id} state=complete bytes=[1-9]\\d*`));
    expect(lines.filter((l) => l.includes(' request ')).some((l) => l.includes(id))).toBe(false);
    for (const secret of [relay.token, file.key.k, file.iv, '127.0.0.1', TITLE, 'access_token'])
      expect(log).not.toContain(secret);
  });

  it('at debug (json): one JSON object per line; the listener address appears only here', async () => {
    const relay = await startHostileRelay({
      args: ['--log-level', 'debug', '--log-format', 'json'],
    });
    const res = await fetch(`${relay.url}/health`);
    expect(res.status).toBe(200);
    const log = await stop(relay);
    const records = log
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const r of records) {
      expect(Number.isNaN(Date.parse(String(r.time)))).toBe(false);
      expect(['error', 'warn', 'info', 'debug']).toContain(r.level);
    }
    expect(records.map((r) => r.event)).toEqual(
      expect.arrayContaining(['start', 'listening', 'request', 'stop']),
    );
    // Each accepted socket holds at most 128 KiB unsent in the kernel (koffi's setsockopt loaded).
    expect(records.find((r) => r.event === 'start')).toMatchObject({ socket_unsent_bytes: 131072 });
    const health = records.find((r) => r.event === 'request' && r.route === '/health');
    expect(health).toMatchObject({
      level: 'info',
      method: 'GET',
      status: 200,
      remote: '127.0.0.1',
    });
  });

  it('connections refused at accept are logged as a count, not a line each', async () => {
    const relay = await startHostileRelay({ config: { limits: { maxConnections: 2 } } });
    const open = await Promise.all(
      Array.from(
        { length: 12 },
        () =>
          new Promise<Socket>((resolve, reject) => {
            const s = connect(relay.port, '127.0.0.1', () => resolve(s));
            s.on('error', reject);
          }),
      ),
    );
    await new Promise((r) => setTimeout(r, 300));
    for (const s of open) s.destroy();
    const log = await stop(relay);
    const limitLines = log.split('\n').filter((l) => l.includes(' limit '));
    // The first refusal at once, the other nine summed (here at stop): two lines for ten.
    expect(limitLines).toHaveLength(2);
    const refused = limitLines.map((l) => Number(/ refused=(\d+) /.exec(l)?.[1]));
    expect(refused).toEqual([1, 9]);
    for (const l of limitLines) expect(l).toMatch(/ warn limit limit=maxConnections refused=\d+ /);
  });

  it('a WebSocket listener refused by a limit is a warn line with its status and errcode', async () => {
    const relay = await startHostileRelay({ config: { limits: { maxListeners: 1 } } });
    const client = new MediaClient({ baseUrl: relay.url, accessToken: relay.token });
    const { mxc } = await client.create();
    const first = await client.listenSocket(mxc, { from: 0 });
    const second = await client.listenSocket(mxc, { from: 0 }).then(
      () => 'accepted',
      (err: { code?: string }) => err.code,
    );
    expect(second).not.toBe('accepted');
    first.close();
    const log = await stop(relay);
    const ws = log.split('\n').filter((l) => l.includes(' websocket '));
    expect(ws).toHaveLength(2);
    expect(ws).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/ info websocket route=\S+\/ws\/:server\/:id status=101 /),
        expect.stringMatching(
          / warn websocket route=\S+\/ws\/:server\/:id status=429 errcode=M_LIMIT_EXCEEDED /,
        ),
      ]),
    );
  });

  it('at warn: requests that succeed are not logged, a limit hit is', async () => {
    const relay = await startHostileRelay({ config: { log: { level: 'warn' } } });
    expect((await fetch(`${relay.url}/health`)).status).toBe(200);
    expect(await oversizedCreate(relay)).toBe(413);
    const log = await stop(relay);
    expect(log).not.toContain('route=/health');
    expect(log).not.toContain(' start ');
    expect(log.trim().split('\n')).toEqual([
      expect.stringMatching(
        / warn request method=POST route=\/_matrix\/media\/v1\/create status=413 errcode=M_TOO_LARGE /,
      ),
    ]);
  });
});
