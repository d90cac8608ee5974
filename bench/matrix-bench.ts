/**
 * `pnpm bench matrix` (docs/matrix.md "Homeserver mode"), on one real stack (Synapse + nginx +
 * the relay in homeserver mode, tests/matrix/matrix-cli-kit.ts):
 *
 * - the relay's download throughput in homeserver mode against standalone mode in the same run,
 *   the homeserver-mode relay checking real Matrix tokens against that Synapse, cached
 *   (bench/matrix/download-throughput.ts). Target: homeserver ≥ 0.95× standalone;
 * - go-live time: capture spawn → first PCM at a listener already syncing the room, p50/p99
 *   (bench/matrix/golive-rounds.ts). A round with no audio within 30 s fails, with its processes'
 *   last stderr lines, and the bench goes on.
 *
 * Each part's figures are printed (stderr) as soon as they are measured.
 */
import { startCliRoom } from '../tests/matrix/matrix-cli-kit.ts';
import {
  percentile,
  renderTable,
  round,
  type BenchOptions,
  type BenchResult,
  type BenchTable,
} from './bench-kit.ts';
import { downloadThroughput } from './matrix/download-throughput.ts';
import { goLiveRounds } from './matrix/golive-rounds.ts';

function goLiveTable(ms: number[], rounds: number): BenchTable {
  const failed = rounds - ms.length;
  const stat = (v: number) => (ms.length ? round(v, 0) : 'n/a');
  return {
    title: `Go-live: capture spawn → first audio at a listener already synced (${rounds} rounds, real Synapse + nginx + relay on loopback)`,
    columns: ['p50 ms', 'p99 ms', 'min ms', 'max ms', 'failed rounds'],
    rows: [
      [
        stat(percentile(ms, 50)),
        stat(percentile(ms, 99)),
        stat(Math.min(...ms)),
        stat(Math.max(...ms)),
        failed,
      ],
    ],
  };
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const log = (line: string) => process.stderr.write(line + '\n');
  const room = await startCliRoom({ relayHomeserver: true });
  try {
    const throughput = await downloadThroughput({
      quick: options.quick,
      homeserverUrl: room.stack.synapseUrl,
      uploaderToken: room.users.alice.accessToken,
      listenerToken: room.users.bob.accessToken,
      log,
    });
    log(renderTable(throughput.table));
    const rounds = options.quick ? 2 : 7;
    const results = await goLiveRounds(room, { rounds, log });
    const ms = results.flatMap((r) => (r.ms === null ? [] : [r.ms]));
    const failures = results.flatMap((r) => (r.failure ? [r.failure.split('\n')[0]] : []));
    const worst = Math.min(...throughput.ratios);
    const worstCpu = Math.max(...throughput.cpuRatios);
    return {
      name: 'matrix',
      title:
        'Matrix: relay downloads in homeserver mode (whoami, cached) against standalone; go-live time',
      tables: [throughput.table, goLiveTable(ms, rounds)],
      notes: [
        `homeserver / standalone throughput: worst ${round(worst, 3)} (target ≥ 0.95): ${worst >= 0.95 ? 'met' : 'NOT met'}; relay CPU per request, homeserver / standalone: worst ${round(worstCpu, 3)}`,
        'one whoami per listener token per TTL (the cache), counted at the relay (mxcast_whoami_total); the homeserver-mode relay asks the stack’s real Synapse',
        ...failures.map((f) => `go-live ${f}`),
      ],
      raw: {
        ratios: throughput.ratios,
        cpuRatios: throughput.cpuRatios,
        goLiveMs: results.map((r) => r.ms),
      },
      ...(ms.length === 0 ? { partial: 'every go-live round failed' } : {}),
    };
  } finally {
    await room.stop();
  }
}
