/**
 * What each kind of hostile client costs the relay, alone: `npx tsx bench/fanout/hostile-cost.ts
 * [stalled|flood|idle] [COUNT] [SECONDS]`. Starts a relay as the bench does (relay-server.ts, a
 * 16 MiB finished media), opens COUNT hostile connections of one kind (hostile-crowd.ts) and prints
 * the relay's CPU ms per second over the window and the bytes it queued to listeners (/metrics
 * mxcast_bytes_out_total). A diagnosis tool for the relay-ws-hostile row (docs/benchmarks.md):
 * CPU time, not wall-clock latency, so a shared machine's load does not blur it. With
 * MXCAST_BENCH_RELAY_NODE_ARGS="--import ./bench/fanout/loop-delay-probe.mjs" and
 * MXCAST_LOOP_DELAY_FILE=FILE it also prints the relay's event-loop delay over the window;
 * MXCAST_BENCH_LIMITS='{"historyBytesPerSecond":0}' runs it with other limits.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureCliBundle } from '../cli-bundle.ts';
import { FANOUT_PRESETS } from './fanout-presets.ts';
import { HISTORY_MEDIA_BYTES } from './fanout-servers.ts';
import { HostileCrowd } from './hostile-crowd.ts';
import { cpuTimes, rssBytes } from './process-stats.ts';
import { metricSum } from './prometheus-text.ts';
import { createRelayDataTemplate, startRelayProcess } from './relay-server.ts';

const [kind = 'stalled', countArg = '150', secondsArg = '10'] = process.argv.slice(2);
const count = Number(countArg);
const seconds = Number(secondsArg);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// MXCAST_BENCH_LIMITS: relay limits as JSON (e.g. '{"historyBytesPerSecond":0}'), to compare.
const limits = process.env.MXCAST_BENCH_LIMITS;
const configFile = path.join(os.tmpdir(), `mxcast-hostile-cost-${process.pid}.json`);
if (limits) writeFileSync(configFile, JSON.stringify({ limits: JSON.parse(limits) }));
// The relay as built from the code in the tree, as `pnpm bench` measures it (bench/cli-bundle.ts).
await ensureCliBundle((line) => console.error(line));
const template = await createRelayDataTemplate();
const relay = await startRelayProcess(
  FANOUT_PRESETS.voice,
  template,
  HISTORY_MEDIA_BYTES,
  limits ? ['--config', configFile] : [],
);
const metrics = async () => (await fetch(`http://127.0.0.1:${relay.port}/metrics`)).text();
try {
  const history = relay.history;
  if (!history) throw new Error('no history media');
  const crowd = new HostileCrowd({
    port: relay.port,
    historyWsPath: history.wsPath,
    historyDownloadPath: history.downloadPath,
    liveWsPath: relay.wsPath,
    stalledLifetimeMs: 10 * 60_000,
  });
  await sleep(1000);
  const pid = relay.process.pid;
  // The loop-delay probe, if preloaded, starts its window here.
  if (process.env.MXCAST_LOOP_DELAY_FILE) process.kill(pid, 'SIGUSR2');
  const cpu0 = cpuTimes(pid);
  const out0 = metricSum(await metrics(), 'mxcast_bytes_out_total') ?? 0;
  const t0 = performance.now();
  if (kind === 'stalled') await crowd.startStalled(count);
  else if (kind === 'flood') await crowd.startFlooders(count);
  let peakRss = 0;
  while (performance.now() - t0 < seconds * 1000) {
    peakRss = Math.max(peakRss, rssBytes(pid));
    await sleep(200);
  }
  const wall = (performance.now() - t0) / 1000;
  const cpu1 = cpuTimes(pid);
  const user = cpu1.user - cpu0.user;
  const system = cpu1.system - cpu0.system;
  const text = await metrics();
  const out = (metricSum(text, 'mxcast_bytes_out_total') ?? 0) - out0;
  console.log(
    JSON.stringify({
      kind,
      count,
      seconds: +wall.toFixed(1),
      relayCpuMsPerS: +(((user + system) * 1000) / wall).toFixed(1),
      // Kernel time apart: accepts, socket buffers and closes are charged there, not to JS.
      relaySystemMsPerS: +((system * 1000) / wall).toFixed(1),
      bytesOutMb: +(out / 1e6).toFixed(1),
      peakRssMb: +(peakRss / 2 ** 20).toFixed(0),
      stats: crowd.stats(),
      stalledCut: metricSum(text, 'mxcast_slow_listeners_total', '{action="stalled"}'),
      floodersCut: metricSum(text, 'mxcast_listener_messages_refused_total'),
      load: os.loadavg().map((l) => +l.toFixed(2)),
    }),
  );
  crowd.close();
} finally {
  await relay.close();
  await template.dispose();
}
const delayFile = process.env.MXCAST_LOOP_DELAY_FILE;
if (delayFile && existsSync(delayFile))
  console.log(`relay event-loop delay, ms: ${readFileSync(delayFile, 'utf8')}`);
