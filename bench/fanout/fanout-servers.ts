/**
 * The series of the fan-out tables and how to start a fresh server for one row: the relay
 * with WebSocket listeners, the same with a hostile tenth (hostile-crowd.ts: stalled history
 * readers of a finished media and listener-WebSocket frame flooders, the other 90 % honest
 * WebSocket listeners at the live edge), the relay with HTTP listeners (open-ended Range from
 * the live edge), Icecast 2.4 with HTTP listeners — the peer —, and the write() floor
 * (write-floor.ts, its own writer and reader rather than a server under the load generator).
 */
import { relayHeaderEnd } from './bench-stream.ts';
import type { FanoutPreset } from './fanout-presets.ts';
import type { ServerUnderTest } from './fanout-scenario.ts';
import type { HostileTarget } from './hostile-crowd.ts';
import { ICECAST_MOUNT, startIcecast } from './icecast-server.ts';
import { startRelayProcess, type RelayDataTemplate } from './relay-server.ts';

export type SeriesName = 'relay-ws' | 'relay-ws-hostile' | 'relay-http' | 'icecast-http' | 'floor';
/** The series that run a server under the load generator. */
export type ServerSeriesName = Exclude<SeriesName, 'floor'>;

export interface Series {
  name: SeriesName;
  server: 'mxcast relay' | 'Icecast' | 'write() floor (C)';
  transport: 'WebSocket' | 'WebSocket, 10 % hostile' | 'HTTP' | 'TCP';
}

/** The share of a hostile row's listeners that are hostile. */
export const HOSTILE_SHARE = 0.1;
/**
 * How many of a hostile row's `listeners` are hostile. The rest are honest, and so are all the
 * listeners of the pair's clean run (hostile-pairs.ts): both runs time the same honest crowd.
 */
export function hostileCount(listeners: number): number {
  return Math.round(listeners * HOSTILE_SHARE);
}
/** The finished media the stalled history readers ask for from byte 0. */
export const HISTORY_MEDIA_BYTES = 16 * 1024 * 1024;
/**
 * A stalled reader is replaced after this long: past the relay's default listenerStallMs (30 s,
 * docs/operations.md), so the relay has cut it by then and the crowd stays whole.
 */
export const STALLED_LIFETIME_MS = 32_000;

export const SERIES: Series[] = [
  { name: 'relay-ws', server: 'mxcast relay', transport: 'WebSocket' },
  { name: 'relay-ws-hostile', server: 'mxcast relay', transport: 'WebSocket, 10 % hostile' },
  { name: 'relay-http', server: 'mxcast relay', transport: 'HTTP' },
  { name: 'icecast-http', server: 'Icecast', transport: 'HTTP' },
  { name: 'floor', server: 'write() floor (C)', transport: 'TCP' },
];

export interface StartOptions {
  /**
   * A relay series also gets the hostile rows' finished history media, uploaded before the run
   * (a hostile row's clean run: its relay then differs from the hostile run's by the hostile crowd
   * alone, not also by a 16 MiB upload just before the hold, with its allocations and the
   * kernel's writeback of the file during it).
   */
  historyMedia?: boolean;
}

export async function startServer(
  series: ServerSeriesName,
  preset: FanoutPreset,
  icecast: { binary: string; version: string } | null,
  relayData: RelayDataTemplate | null,
  maxListeners: number,
  options: StartOptions = {},
): Promise<ServerUnderTest> {
  if (series === 'icecast-http') {
    if (!icecast) throw new Error('Icecast is not installed');
    const ice = await startIcecast(icecast.binary, icecast.version, maxListeners + 16);
    return {
      pid: ice.process.pid,
      upload: {
        server: 'icecast',
        port: ice.port,
        path: ICECAST_MOUNT,
        authorization: ice.sourceAuthorization,
      },
      listen: { kind: 'icecast-http', port: ice.port, path: ICECAST_MOUNT },
      close: ice.close,
    };
  }
  if (!relayData) throw new Error('no relay data template');
  const hostile = series === 'relay-ws-hostile';
  const withHistory = hostile || options.historyMedia === true;
  const relay = await startRelayProcess(preset, relayData, withHistory ? HISTORY_MEDIA_BYTES : 0);
  const hostileTarget: HostileTarget | undefined =
    hostile && relay.history
      ? {
          port: relay.port,
          historyWsPath: relay.history.wsPath,
          historyDownloadPath: relay.history.downloadPath,
          liveWsPath: relay.wsPath,
          stalledLifetimeMs: STALLED_LIFETIME_MS,
        }
      : undefined;
  return {
    pid: relay.process.pid,
    upload: {
      server: 'relay',
      port: relay.port,
      path: relay.uploadPath,
      authorization: relay.authorization,
    },
    ...(hostileTarget ? { hostile: hostileTarget } : {}),
    listen: {
      kind: series === 'relay-http' ? 'relay-http' : 'relay-ws',
      port: relay.port,
      path: series === 'relay-http' ? relay.downloadPath : relay.wsPath,
      blockBytes: preset.blockBytes,
      headerEnd: relayHeaderEnd(),
    },
    close: relay.close,
  };
}
