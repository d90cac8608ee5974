/**
 * A node can die mid-broadcast and nothing is lost (docs/operations.md "Cluster"), on three relay
 * nodes and three NATS servers on loopback:
 * - `kill -9` of relay node A mid-upload: `mxcast capture --relay A,B,C` resumes on B (tus HEAD
 *   there gives the stored offset at a block boundary); listeners on C hear no gap and no
 *   duplicate; the finished file on every node (A restarted) decrypts to a valid .opus with one EOS;
 * - `kill -9` of the NATS server leading the block stream mid-broadcast: no block lost, every
 *   listener continues (its reconnects only) and finishes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { OggFlag, parseOggPage } from '@mxcast/ogg';
import {
  downloadAndDecrypt,
  killAndWait,
  linkFrom,
  opusinfo,
  runCapture,
  tempDir,
  writeTemp,
  type Downloaded,
} from '../capture/capture-harness.ts';
import { parseListenLink } from '@mxcast/client';
import { useLoopbackCluster, waitFor, type NatsServer } from './cluster-harness.ts';
import { getIndex } from './cluster-media.ts';
import { expectGapless, listenLive } from './cluster-listeners.ts';

const cluster = useLoopbackCluster();
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `mxcast capture --relay <urls> --token …` of a realtime sine, killed after the test. */
function capture(urls: string[], seconds: number) {
  const run = runCapture({ url: urls.join(','), token: cluster().token }, [
    '--preset',
    'low-latency',
    '--input',
    'sine:440',
    '--duration',
    String(seconds),
    '--realtime',
  ]);
  cleanups.push(() => killAndWait(run.child));
  return run;
}

/** The capture's end, or a failure naming what it printed when it runs `ms` past its duration. */
async function ended(run: ReturnType<typeof capture>, ms = 30_000) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`capture still running; stderr: ${run.stderr().slice(-3000)}`)),
      ms,
    );
  });
  try {
    return await Promise.race([run.done, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The finished broadcast as `node` serves it, once its index says complete (a live one would never end). */
async function finishedOn(node: string, link: string): Promise<Downloaded> {
  const [server, id] = parseListenLink(link).mxc.slice('mxc://'.length).split('/') as [
    string,
    string,
  ];
  const m = { mxc: `mxc://${server}/${id}`, server, id };
  let state = '';
  await waitFor(`the media complete on ${node}`, 10_000, async () => {
    state = (await getIndex(node, m)).state;
    return state === 'complete';
  }).catch((err: Error) => {
    throw new Error(`${err.message}: index says ${state}`);
  });
  const origin = new URL(link).origin;
  return downloadAndDecrypt(link.replace(origin, node));
}

/** Consecutive seqs from 0 and exactly one EOS, on the last page; opusinfo finds nothing wrong. */
async function expectWholeOpus(got: Downloaded, label: string): Promise<void> {
  expect(
    got.pages.map((p) => p.seq),
    label,
  ).toEqual(got.pages.map((_, i) => i));
  const eos = got.pages.filter((p) => parseOggPage(p.plaintext).flags & OggFlag.EOS);
  expect(
    eos.map((p) => p.seq),
    label,
  ).toEqual([got.pages.length - 1]);
  const info = await opusinfo(writeTemp(tempDir(), 'node.opus', got.opus));
  expect(info, label).not.toMatch(/WARNING|ERROR/i);
}

describe('kill -9 of a relay node mid-upload', () => {
  it('the capture resumes on B, listeners on C hear no gap and no duplicate, every node has the whole file', async () => {
    const { nodes } = cluster();
    const [a, b, c] = nodes as [(typeof nodes)[0], (typeof nodes)[0], (typeof nodes)[0]];
    const run = capture([a.url, b.url, c.url], 5);
    await run.waitFor('/listen#');
    const link = linkFrom(run.stdout());
    const listeners = (['http', 'ws'] as const).map((t) =>
      listenLive(link, [c.url, b.url], t, cluster().token),
    );
    cleanups.push(async () => listeners.forEach((l) => l.player.stop()));
    await sleep(1500);
    await a.kill('SIGKILL');
    // Back for the next test even if this one fails before its own restart.
    cleanups.push(async () => {
      if (a.child.exitCode === null && a.child.signalCode === null) return;
      await a.restart();
    });

    const result = await ended(run);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(new RegExp(`continuing via tus from byte \\d+ on ${b.url}`));
    await Promise.race([
      a.restart(),
      sleep(20_000).then(() => {
        throw new Error(`node A did not come back: ${a.stderr.slice(-2000)}`);
      }),
    ]);

    let blocks = 0;
    // B and C, the listeners, then A (restarted): each failure names its part.
    for (const node of [b, c]) {
      const got = await finishedOn(node.url, link).catch((err: Error) => {
        throw new Error(`node ${node.name}: ${err.message}`);
      });
      await expectWholeOpus(got, `node ${node.name}`);
      blocks = got.pages.length;
    }
    for (const l of listeners) {
      await expectGapless(l, blocks - 1);
      expect(l.seqs.length, l.transport).toBeGreaterThan(100); // 5 s of 20 ms blocks, joined live
    }
    const onA = await finishedOn(a.url, link).catch((err: Error) => {
      throw new Error(`node A after its restart: ${err.message}`);
    });
    await expectWholeOpus(onA, 'node A');
    expect(onA.pages.length).toBe(blocks);
  });
});

describe('kill -9 of one NATS server mid-broadcast', () => {
  it('loses no block and drops no listener for longer than its reconnect', async () => {
    const { nodes, nats } = cluster();
    const urls = nodes.map((n) => n.url);
    const run = capture(urls, 6);
    await run.waitFor('/listen#');
    const link = linkFrom(run.stdout());
    const listeners = [
      listenLive(link, [urls[1] as string, urls[2] as string], 'http', cluster().token),
      listenLive(link, [urls[2] as string, urls[1] as string], 'ws', cluster().token),
    ];
    cleanups.push(async () => listeners.forEach((l) => l.player.stop()));
    await sleep(1500);
    const victim = await streamLeader(nats.servers);
    await victim.kill('SIGKILL');
    cleanups.push(() => victim.restart());

    const result = await ended(run);
    expect(result.code, result.stderr).toBe(0);
    let blocks = 0;
    for (const node of urls) {
      const got = await finishedOn(node, link);
      await expectWholeOpus(got, node);
      blocks = got.pages.length;
    }
    for (const l of listeners) {
      await expectGapless(l, blocks - 1);
      // A reconnect or two while the stream's Raft group elects a new leader, not a stream of them.
      expect(l.reconnects.length, l.transport).toBeLessThan(10);
    }
  });
});

/**
 * The NATS server leading the JetStream stream of blocks (its Raft leader: the one whose death
 * costs an election), from the monitoring endpoint; the meta leader when no stream says.
 */
async function streamLeader(servers: NatsServer[]): Promise<NatsServer> {
  interface Jsz {
    meta_cluster?: { leader?: string };
    account_details?: { stream_detail?: { name: string; cluster?: { leader?: string } }[] }[];
  }
  const res = await fetch(`http://127.0.0.1:${servers[0]?.monitorPort}/jsz?streams=true`);
  const jsz = (await res.json()) as Jsz;
  const streams = (jsz.account_details ?? []).flatMap((a) => a.stream_detail ?? []);
  const name =
    streams.find((s) => /block/i.test(s.name))?.cluster?.leader ?? jsz.meta_cluster?.leader;
  return servers.find((s) => s.name === name) ?? (servers[0] as NatsServer);
}
