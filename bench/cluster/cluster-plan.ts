/**
 * What one run of `pnpm bench cluster` does and where each process runs. Options (all
 * `--name=value`, bench/run.ts): `--nats=3` nats-servers, `--delay-n=`
 * listeners of the like-for-like delay rows, `--n=a,b,…` the capacity steps, `--hold=SECONDS`.
 *
 * `--nats` is 3 to 9; the relay's block stream keeps min(3, servers) replicas either way
 * (docs/architecture.md "Storage contract and JetStream mapping").
 *
 * CPU placement: the single-process relay and the listeners' node B both get core 0 and the load
 * generator core 1, as in the fan-out bench, so the two delay rows are like for like. Node A (the
 * upload's node) and the nats-servers get cores of their own when the machine has them (node A
 * core 2, the servers cores 3…); on a smaller one they run unpinned and share every core with B
 * and the load generator — then the cluster rows measure contention as much as JetStream, and the
 * report says so. taskset (util-linux) is needed, as by the fan-out bench whose helpers run B,
 * the single relay and the load generator.
 */
export interface ClusterPlan {
  nats: number;
  replicas: number;
  delayListeners: number;
  /** Capacity steps, tried in order until one fails. */
  steps: number[];
  holdMs: number;
  graceMs: number;
  joinBudgetMs: number;
  /** Blocks appended and read back by the JetStream cost measurement. */
  costBlocks: number;
}

export interface CpuPlacement {
  /** The listeners' node B and the single-process relay. */
  listenerNode: number;
  loadGenerator: number;
  /** The upload's node A; null: unpinned. */
  uploadNode: number | null;
  /** A taskset core list for every nats-server (e.g. `3-5`); null: unpinned. */
  natsCores: string | null;
  /** Whether every process has a core of its own. */
  dedicated: boolean;
}

const FULL: ClusterPlan = {
  nats: 3,
  replicas: 3,
  delayListeners: 1000,
  steps: [1000, 2000, 4000, 8000, 16_000],
  holdMs: 30_000,
  graceMs: 3000,
  joinBudgetMs: 60_000,
  costBlocks: 2000,
};

const QUICK: ClusterPlan = {
  ...FULL,
  delayListeners: 20,
  steps: [20, 40],
  holdMs: 3000,
  graceMs: 1500,
  joinBudgetMs: 15_000,
  costBlocks: 100,
};

/** The plan for `--quick` or a full run, narrowed by the options in argv; throws on bad values. */
export function parsePlan(
  quick: boolean,
  argv: readonly string[],
): { plan: ClusterPlan; given: string[] } {
  const plan = { ...(quick ? QUICK : FULL) };
  const given: string[] = [];
  const count = (key: string, v: string, max: number, min = 1): number => {
    if (!/^\d{1,6}$/.test(v) || Number(v) < min || Number(v) > max)
      throw new Error(`--${key}: '${v}' is not a count from ${min} to ${max}`);
    return Number(v);
  };
  for (const arg of argv) {
    const m = /^--(nats|delay-n|n|hold)=(.+)$/.exec(arg);
    if (!m) continue;
    const [, key, value] = m as unknown as [string, string, string];
    given.push(arg);
    if (key === 'nats') {
      // At least 3: a JetStream cluster of fewer servers has no quorum to lose one from, and
      // tests/cluster/nats-cluster.ts's one-server "cluster" elects no meta leader.
      plan.nats = count(key, value, 9, 3);
      plan.replicas = Math.min(3, plan.nats);
    } else if (key === 'delay-n') plan.delayListeners = count(key, value, 200_000);
    else if (key === 'n')
      plan.steps = value
        .split(',')
        .filter(Boolean)
        .map((v) => count(key, v, 200_000));
    else plan.holdMs = count(key, value, 3600) * 1000;
  }
  return { plan, given };
}

/** Where each process runs on a machine of `cores` cores. */
export function placeProcesses(cores: number, nats: number, taskset: boolean): CpuPlacement {
  const dedicated = taskset && cores >= 3 + nats;
  return {
    listenerNode: 0,
    loadGenerator: 1,
    uploadNode: dedicated ? 2 : null,
    natsCores: dedicated ? (nats === 1 ? '3' : `3-${2 + nats}`) : null,
    dedicated,
  };
}
