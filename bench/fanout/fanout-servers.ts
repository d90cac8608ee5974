/**
 * The series of the fan-out tables and how to start a fresh server for one row: the relay
 * with WebSocket listeners, the relay with HTTP listeners (open-ended Range from the live
 * edge), Icecast 2.4 with HTTP listeners — the peer —, and the write() floor (write-floor.ts,
 * its own writer and reader rather than a server under the load generator).
 */
import { relayHeaderEnd } from './bench-stream.ts';
import type { FanoutPreset } from './fanout-presets.ts';
import type { ServerUnderTest } from './fanout-scenario.ts';
import { ICECAST_MOUNT, startIcecast } from './icecast-server.ts';
import { startRelayProcess, type RelayDataTemplate } from './relay-server.ts';

export type SeriesName = 'relay-ws' | 'relay-http' | 'icecast-http' | 'floor';
/** The series that run a server under the load generator. */
export type ServerSeriesName = Exclude<SeriesName, 'floor'>;

export interface Series {
  name: SeriesName;
  server: 'mxcast relay' | 'Icecast' | 'write() floor (C)';
  transport: 'WebSocket' | 'HTTP' | 'TCP';
}

export const SERIES: Series[] = [
  { name: 'relay-ws', server: 'mxcast relay', transport: 'WebSocket' },
  { name: 'relay-http', server: 'mxcast relay', transport: 'HTTP' },
  { name: 'icecast-http', server: 'Icecast', transport: 'HTTP' },
  { name: 'floor', server: 'write() floor (C)', transport: 'TCP' },
];

export async function startServer(
  series: ServerSeriesName,
  preset: FanoutPreset,
  icecast: { binary: string; version: string } | null,
  relayData: RelayDataTemplate | null,
  maxListeners: number,
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
  const relay = await startRelayProcess(preset, relayData);
  return {
    pid: relay.process.pid,
    upload: {
      server: 'relay',
      port: relay.port,
      path: relay.uploadPath,
      authorization: relay.authorization,
    },
    listen: {
      kind: series,
      port: relay.port,
      path: series === 'relay-ws' ? relay.wsPath : relay.downloadPath,
      blockBytes: preset.blockBytes,
      headerEnd: relayHeaderEnd(),
    },
    close: relay.close,
  };
}
