/**
 * `pnpm bench [name …] [--quick]`: runs the named benchmarks (all when none is named), prints
 * their tables, writes bench/results/<name>.json and regenerates docs/benchmarks.md from every
 * JSON result present.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  codeDescription,
  machineDescription,
  renderTable,
  BenchRefused,
  type BenchOptions,
  type BenchResult,
  type RecordedResult,
} from './bench-kit.ts';
import { ensureCliBundle } from './cli-bundle.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const resultsDir = path.join(here, 'results');
const docPath = path.join(here, '..', 'docs', 'benchmarks.md');
const ORDER = ['format', 'capture', 'player', 'join', 'fanout', 'cluster', 'web'];

async function available(): Promise<string[]> {
  const files = await readdir(here);
  const names = files
    .filter((f) => f.endsWith('-bench.ts'))
    .map((f) => f.replace(/-bench\.ts$/, ''));
  return ORDER.filter((n) => names.includes(n)).concat(names.filter((n) => !ORDER.includes(n)));
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(
      `Usage: pnpm bench [${(await available()).join('|')} …] [--quick] [--<option>=<value> …]\n` +
        'Runs benchmarks, writes bench/results/<name>.json, regenerates docs/benchmarks.md.\n' +
        'A run narrowed by options (fanout: --preset= --series= --n= --hold=; cluster: --nats= --delay-n=\n' +
        '--n= --hold=) is printed, not recorded.\n',
    );
    return 0;
  }
  const options: BenchOptions = { quick: args.includes('--quick') };
  const known = await available();
  // Benchmark-specific options are `--name=value` (see each bench's header), never bare words.
  const wanted = args.filter((a) => !a.startsWith('--'));
  for (const name of wanted) {
    if (!known.includes(name)) {
      process.stderr.write(`bench: unknown benchmark '${name}' (have: ${known.join(', ')})\n`);
      return 2;
    }
  }
  // A quick run is a smoke run of every benchmark: its figures go to bench/results/quick/ and
  // leave docs/benchmarks.md (full runs only) as it is.
  const outDir = options.quick ? path.join(resultsDir, 'quick') : resultsDir;
  await mkdir(outDir, { recursive: true });
  // Every benchmark measures the built command of the code in the tree (cli-bundle.ts says why).
  try {
    await ensureCliBundle((line) => process.stderr.write(line + '\n'));
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    return 1;
  }
  const started = performance.now();
  let recordedAny = false;
  const refused: string[] = [];
  for (const name of wanted.length ? wanted : known) {
    process.stderr.write(`bench: running ${name}${options.quick ? ' (quick)' : ''}…\n`);
    const mod = (await import(`./${name}-bench.ts`)) as {
      run(o: BenchOptions): Promise<BenchResult>;
    };
    const t0 = performance.now();
    let result: BenchResult;
    try {
      result = await mod.run(options);
    } catch (err) {
      if (!(err instanceof BenchRefused)) throw err;
      // The other benchmarks still run and are recorded; the exit status says one refused.
      process.stderr.write(`bench: ${name}: ${err.message}\n`);
      refused.push(name);
      continue;
    }
    process.stderr.write(`bench: ${name} took ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
    const recorded: RecordedResult = {
      ...result,
      command: `pnpm bench ${[name, ...args.filter((a) => a.startsWith('--'))].join(' ')}`,
      date: new Date().toISOString(),
      machine: machineDescription(),
      code: codeDescription(),
    };
    process.stdout.write(render(recorded) + '\n');
    if (result.partial) {
      process.stderr.write(`bench: ${name} not recorded (${result.partial})\n`);
      continue;
    }
    await writeFile(path.join(outDir, `${name}.json`), JSON.stringify(recorded, null, 2) + '\n');
    recordedAny = true;
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  if (options.quick) {
    process.stderr.write(
      `bench: quick run done in ${seconds} s; results in bench/results/quick/\n`,
    );
  } else if (recordedAny) {
    await regenerateDoc();
    process.stderr.write(`bench: done in ${seconds} s; docs/benchmarks.md regenerated\n`);
  }
  if (refused.length > 0) {
    process.stderr.write(`bench: refused to run: ${refused.join(', ')} (see above)\n`);
    return 2;
  }
  return 0;
}

function render(r: RecordedResult): string {
  return [
    `## ${r.title}`,
    '',
    `\`${r.command}\` — ${r.date.slice(0, 10)} — ${r.code ? `commit ${r.code} — ` : ''}${r.machine}`,
    '',
    ...r.tables.map((t) => renderTable(t) + '\n'),
    ...r.notes.map((n) => `- ${n}`),
    '',
  ].join('\n');
}

async function regenerateDoc(): Promise<void> {
  const files = (await readdir(resultsDir)).filter((f) => f.endsWith('.json'));
  const results: RecordedResult[] = [];
  for (const f of files) results.push(JSON.parse(await readFile(path.join(resultsDir, f), 'utf8')));
  results.sort((a, b) => rank(a.name) - rank(b.name));
  const body = [
    '# Benchmarks',
    '',
    'Generated by `pnpm bench` from bench/results/*.json: do not edit by hand. Each section names',
    'the command, the date and the machine it ran on; peers are measured in the same run.',
    '',
    ...results.map(render),
  ].join('\n');
  await writeFile(docPath, body);
}

function rank(name: string): number {
  const i = ORDER.indexOf(name);
  return i === -1 ? ORDER.length : i;
}

process.exitCode = await main();
