/**
 * One small row end to end with the real parts: the relay (`mxcast relay`) or Icecast as a
 * pinned process, the load generator as a pinned process with its uploader thread, real sockets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FANOUT_PRESETS } from './fanout-presets.ts';
import { runScenario, spawnLoadGenerator } from './fanout-scenario.ts';
import { startServer, type ServerSeriesName } from './fanout-servers.ts';
import { findIcecast } from './icecast-server.ts';
import { createRelayDataTemplate, type RelayDataTemplate } from './relay-server.ts';

let relayData: RelayDataTemplate;
beforeAll(async () => {
  relayData = await createRelayDataTemplate();
}, 30_000);
afterAll(() => relayData.dispose());

const icecast = findIcecast();
const series: ServerSeriesName[] = ['relay-ws', 'relay-http'];
if ('binary' in icecast) series.push('icecast-http');

describe('runScenario', () => {
  it.each(series)(
    '%s: 5 listeners get every low-latency block of the hold, with delays and server stats',
    async (name) => {
      const preset = FANOUT_PRESETS['low-latency'];
      const gen = spawnLoadGenerator();
      try {
        const server = await startServer(
          name,
          preset,
          'binary' in icecast ? icecast : null,
          relayData,
          5,
        );
        try {
          const r = await runScenario(server, gen, {
            preset: 'low-latency',
            listeners: 5,
            holdMs: 1500,
            graceMs: 2000,
            joinBudgetMs: 10_000,
          });
          expect(r).toMatchObject({
            joined: 5,
            heldAtStart: 5,
            held: 5,
            dropped: 0,
            lostBlocks: 0,
          });
          // 1.5 s of 20 ms blocks, give or take the timer's edges
          expect(r.windowBlocks).toBeGreaterThanOrEqual(70);
          expect(r.samples).toBe(5 * r.windowBlocks);
          expect(r.p50).toBeGreaterThan(0);
          expect(r.max).toBeGreaterThanOrEqual(r.p99);
          // Measured, not necessarily above zero: /proc counts CPU in 10 ms ticks, and Icecast
          // serving 5 listeners for a few seconds can use less than one (on a loaded machine it
          // read 0 in 3 of 4 runs). process-stats.test.ts proves the sampler counts real work.
          expect(Number.isFinite(r.serverCpuPct)).toBe(true);
          expect(r.serverCpuPct).toBeGreaterThanOrEqual(0);
          expect(r.serverPeakRssMb).toBeGreaterThan(5);
        } finally {
          await server.close();
        }
      } finally {
        await gen.stop();
      }
    },
    60_000,
  );

  it('relay-ws-hostile: the crowd runs in its own process beside the honest listeners, and the relay cuts it', async () => {
    const preset = FANOUT_PRESETS['low-latency'];
    const gen = spawnLoadGenerator();
    try {
      const server = await startServer('relay-ws-hostile', preset, null, relayData, 20);
      try {
        const r = await runScenario(server, gen, {
          preset: 'low-latency',
          listeners: 20,
          holdMs: 2000,
          graceMs: 2000,
          joinBudgetMs: 10_000,
        });
        // 18 honest listeners measured, 2 hostile (one stalled reader, one flooder) beside them.
        expect(r).toMatchObject({ listeners: 18, joined: 18, held: 18, lostBlocks: 0 });
        expect(r.hostile).toMatchObject({ stalledReaders: 1, flooders: 1, stalledOpened: 1 });
        expect(r.hostile?.framesSent).toBeGreaterThan(0);
        // The relay closed the flooder for what it sent, at least once in the hold.
        expect(r.hostile?.relayFloodersCut).toBeGreaterThanOrEqual(1);
        // The crowd's CPU is its own process's, measured apart from the generator's.
        expect(r.hostile?.crowdCpuPct).toBeGreaterThan(0);
        expect(r.hostile).toMatchObject({ crowdPlacement: 'process', crowdIdlePolicy: true });
      } finally {
        await server.close();
      }
    } finally {
      await gen.stop();
    }
  }, 90_000);
});
