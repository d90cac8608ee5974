/**
 * `mxcast inspect`: the structure of an MXC v3 stream, no key needed: magic and byte order,
 * every block's offset, seq, length and CRC, and where the walk had to resync.
 */
import {
  DEFAULT_MAX_BLOCK_LENGTH,
  concatBytes,
  inspectStream,
  type StreamReport,
} from '@mxcast/format';
import { CliError, parseCommandArgs, type Command } from '../command-kit.ts';
import { maxBlockLengthOption, openInput } from './format-stdio.ts';

const help = `Usage: mxcast inspect [FILE] [--json] [--max-block-length BYTES]

Walks an MSC4016 v3 stream (FILE, or stdin when FILE is absent or -) without a key and
prints its magic and byte order (big-endian, or the legacy little-endian zero-CRC form),
then one line per block: offset, seq, length, CRC ok or BAD, seq ok or out of sequence.
Where bytes are not a valid block it resyncs on the next true block boundary
(registration code FF FF FF FF + plausible length + CRC) and says what it skipped.
It reads the whole input into memory.

  --json                      one JSON object instead of text (see StreamReport in @mxcast/format)
  --max-block-length BYTES    longest plausible block (default ${DEFAULT_MAX_BLOCK_LENGTH})

Exit status: 0 stream well formed, 1 problems found (bad magic, CRC, seq, resync, truncation),
2 bad arguments or unreadable input.`;

async function readAll(path: string | undefined): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    const reader = openInput(path).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      size += value.length;
    }
  } catch (err) {
    throw new CliError(`cannot read ${path ?? 'stdin'}: ${(err as Error).message}`);
  }
  return concatBytes(parts, size);
}

function renderText(r: StreamReport): string {
  const lines: string[] = [];
  const magic =
    r.magic === 'ok'
      ? 'ok (4d 58 43 03, MXC v3)'
      : r.magic === 'unsupported-version'
        ? `MXC version ${r.version}: unsupported`
        : r.magic === 'missing'
          ? 'missing (input shorter than 4 bytes)'
          : 'BAD (not 4d 58 43 03; reading on as a stream fragment)';
  const order =
    r.byteOrder === 'be'
      ? 'big-endian'
      : r.byteOrder === 'le'
        ? 'little-endian (legacy experimental writer, CRC 0)'
        : 'unknown (no valid block)';
  lines.push(`size:       ${r.size} bytes`, `magic:      ${magic}`, `byte order: ${order}`, '');
  // Blocks and resync points in offset order; a resync at a block's offset follows that block.
  const rows: { at: number; rank: number; text: string }[] = [];
  for (const b of r.blocks) {
    const crc = (b.crcOk ? 'ok' : 'BAD').padEnd(4);
    const seq = b.seqOk ? '' : '  seq out of sequence';
    rows.push({
      at: b.offset,
      rank: 0,
      text: `${String(b.offset).padStart(10)}  ${String(b.seq).padStart(10)}  ${String(b.length).padStart(8)}  ${crc}${seq}`,
    });
  }
  for (const s of r.resyncs) rows.push({ at: s.from, rank: 1, text: resyncLine(s) });
  rows.sort((a, b) => a.at - b.at || a.rank - b.rank);
  lines.push(`${'offset'.padStart(10)}  ${'seq'.padStart(10)}  ${'length'.padStart(8)}  crc`);
  lines.push(...rows.map((x) => x.text.trimEnd()));
  if (r.truncated) {
    lines.push(
      `truncated:  the stream ends inside a block at offset ${r.truncated.offset} (have ${r.truncated.have} of ${r.truncated.need} bytes)`,
    );
  }
  const bad = r.blocks.filter((b) => !b.crcOk).length;
  const gaps = r.blocks.filter((b) => !b.seqOk).length;
  lines.push(
    '',
    `${r.blocks.length} block(s), ${bad} bad CRC, ${gaps} out of sequence, ${r.resyncs.length} resync(s): ${r.ok ? 'well formed' : 'PROBLEMS FOUND'}`,
  );
  return lines.join('\n') + '\n';
}

function resyncLine(s: StreamReport['resyncs'][number]): string {
  const to = s.to === null ? 'no further block found' : `next block at ${s.to}`;
  return `${String(s.from).padStart(10)}  resync: ${s.reason}; skipped ${s.skipped} byte(s), ${to}`;
}

export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'Show the blocks of an MSC4016 v3 stream (no key): offsets, seqs, CRCs, resyncs',
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      argv,
      { json: { type: 'boolean' }, 'max-block-length': { type: 'string' } },
      true,
    );
    if (positionals.length > 1)
      throw new CliError(`expected at most one FILE, got ${positionals.length}`);
    const maxBlockLength = maxBlockLengthOption(values['max-block-length']);
    const report = inspectStream(await readAll(positionals[0]), { maxBlockLength });
    process.stdout.write(values.json ? JSON.stringify(report, null, 2) + '\n' : renderText(report));
    return report.ok ? 0 : 1;
  },
};
