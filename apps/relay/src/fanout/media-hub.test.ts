/**
 * The hub on its own: sliced fan-out keeps every listener's blocks in order and complete, a
 * listener joining or leaving mid-fan-out is handled, `end` finishes a fan-out under way first;
 * and a shared block's framings (WebSocket frame, HTTP chunk) are the block's bytes, framed.
 */
import { describe, expect, it } from 'vitest';
import { MediaHub, type EndState, type HubListener } from './media-hub.ts';
import {
  joinBlocks,
  makeSharedBlock,
  wsTextFrame,
  type CarriedStatus,
  type SharedBlock,
} from './shared-block.ts';

class Recorder implements HubListener {
  seqs: (number | string)[] = [];
  ended: EndState | null = null;
  constructor(private readonly from = 0) {}
  runs: number[] = [];
  /** Statuses that came in a block's call (CarriedStatus), and whether afterBlock held both. */
  carried: { text: string; oneBuffer: boolean }[] = [];
  onBlock(block: SharedBlock, status?: CarriedStatus): void {
    this.runs.push(block.count);
    const parts = block.count > 1 ? block.parts : [block];
    for (const b of parts) if (b.seq >= this.from) this.seqs.push(b.seq);
    if (!status) return;
    const text = status.frame.subarray(2).toString();
    this.seqs.push(text);
    const oneBuffer = status.afterBlock.equals(Buffer.concat([block.frame, status.frame]));
    this.carried.push({ text, oneBuffer });
  }
  onEnd(state: EndState): void {
    this.ended = state;
  }
  onStatus(frame: Buffer): void {
    this.seqs.push(frame.subarray(2).toString());
  }
}

const block = (seq: number) => makeSharedBlock(seq, seq * 10, new Uint8Array(10).fill(seq));
const turn = () => new Promise((r) => setImmediate(r));

describe('MediaHub', () => {
  it('fans out within one call while the listeners fit in a slice', () => {
    const hub = new MediaHub(4);
    const ls = Array.from({ length: 4 }, () => new Recorder());
    for (const l of ls) hub.add(l);
    hub.publish(block(0));
    expect(ls.map((l) => l.seqs)).toEqual([[0], [0], [0], [0]]);
  });

  it('slices a large fan-out across event-loop turns, in order for every listener', async () => {
    const hub = new MediaHub(3);
    const ls = Array.from({ length: 10 }, () => new Recorder());
    for (const l of ls) hub.add(l);
    hub.publish(block(0));
    hub.publish(block(1));
    expect(ls.filter((l) => l.seqs.length > 0)).toHaveLength(3);
    let turns = 0;
    while (ls.some((l) => l.seqs.length < 2)) {
      await turn();
      turns++;
    }
    expect(turns).toBe(6); // 20 deliveries, 3 per turn: 7 calls in all
    for (const l of ls) expect(l.seqs).toEqual([0, 1]);
  });

  it('visits listeners that join mid-fan-out and skips those that left', async () => {
    const hub = new MediaHub(2);
    const ls = Array.from({ length: 6 }, () => new Recorder());
    for (const l of ls) hub.add(l);
    hub.publish(block(0));
    const gone = ls[5] as Recorder;
    hub.remove(gone);
    // Joined after block 0 was stored: it skips it, like a real listener, by seq.
    const late = new Recorder(1);
    hub.add(late);
    hub.publish(block(1));
    while (ls.slice(0, 5).some((l) => l.seqs.length < 2)) await turn();
    await turn();
    expect(gone.seqs).toEqual([]);
    expect(late.seqs).toEqual([1]);
    for (const l of ls.slice(0, 5)) expect(l.seqs).toEqual([0, 1]);
  });

  it('sends status frames in order with the blocks around them, one frame for all', async () => {
    const hub = new MediaHub(2);
    const ls = Array.from({ length: 5 }, () => new Recorder());
    for (const l of ls) hub.add(l);
    hub.publish(block(0));
    hub.status(Buffer.from('{"type":"status"}'));
    hub.publish(block(1));
    while (ls.some((l) => l.seqs.length < 3)) await turn();
    for (const l of ls) expect(l.seqs).toEqual([0, '{"type":"status"}', 1]);
  });

  it('carries the periodic status with the next block, built then, in one buffer', async () => {
    const hub = new MediaHub(2);
    const ls = Array.from({ length: 5 }, () => new Recorder());
    for (const l of ls) hub.add(l);
    let built = 0;
    hub.refreshStatus(() => Buffer.from(`{"n":${++built}}`));
    hub.publish(block(0));
    hub.publish(block(1));
    while (ls.some((l) => l.seqs.length < 3)) await turn();
    // Built once, when block 0's fan-out began; not a fan-out of its own; only block 0 carries it.
    expect(built).toBe(1);
    for (const l of ls) {
      expect(l.seqs).toEqual([0, '{"n":1}', 1]);
      expect(l.carried).toEqual([{ text: '{"n":1}', oneBuffer: true }]);
    }
  });

  it('sends the periodic status alone when no block carried the one before', async () => {
    const hub = new MediaHub(2);
    const ls = Array.from({ length: 3 }, () => new Recorder());
    for (const l of ls) hub.add(l);
    let built = 0;
    const build = () => Buffer.from(`{"n":${++built}}`);
    hub.refreshStatus(build);
    expect(ls.map((l) => l.seqs)).toEqual([[], [], []]); // waits for a block
    hub.refreshStatus(build); // a quiet media: none came
    while (ls.some((l) => l.seqs.length < 1)) await turn();
    for (const l of ls) expect(l.seqs).toEqual(['{"n":1}']);
    // The one due still rides on the next block.
    hub.publish(block(0));
    while (ls.some((l) => l.seqs.length < 3)) await turn();
    for (const l of ls) expect(l.seqs).toEqual(['{"n":1}', 0, '{"n":2}']);
  });

  it('carries blocks that queued up behind a fan-out as one run', async () => {
    const hub = new MediaHub(2);
    const ls = Array.from({ length: 4 }, () => new Recorder());
    for (const l of ls) hub.add(l);
    hub.publish(block(0));
    for (let seq = 1; seq < 4; seq++) hub.publish(block(seq));
    while (ls.some((l) => l.seqs.length < 4)) await turn();
    for (const l of ls) {
      expect(l.seqs).toEqual([0, 1, 2, 3]);
      expect(l.runs).toEqual([1, 3]); // block 0, then 1–3 in one write
    }
  });

  it('finishes a fan-out under way before ending', () => {
    const hub = new MediaHub(2);
    const ls = Array.from({ length: 5 }, () => new Recorder());
    for (const l of ls) hub.add(l);
    hub.publish(block(0));
    hub.publish(block(1));
    hub.end('complete');
    for (const l of ls) {
      expect(l.seqs).toEqual([0, 1]);
      expect(l.ended).toBe('complete');
    }
    expect(hub.size).toBe(0);
  });
});

describe('SharedBlock', () => {
  it('joins consecutive blocks into a run: frames back to back, bytes and one chunk', () => {
    const parts = [block(4), block(5), block(6)];
    const run = joinBlocks(parts);
    expect([run.seq, run.offset, run.count]).toEqual([4, 40, 3]);
    expect(run.parts).toEqual(parts);
    expect(run.frame.equals(Buffer.concat(parts.map((p) => p.frame)))).toBe(true);
    expect(run.bytes.equals(Buffer.concat(parts.map((p) => p.bytes)))).toBe(true);
    expect(run.chunk.toString('latin1')).toBe(`1e\r\n${run.bytes.toString('latin1')}\r\n`);
    expect(joinBlocks([parts[0] as SharedBlock])).toBe(parts[0]);
  });

  it('frames a status as one unmasked text frame', () => {
    const json = Buffer.from('{"type":"status","state":"live"}');
    const frame = wsTextFrame(json);
    expect([frame[0], frame[1]]).toEqual([0x81, json.length]);
    expect(frame.subarray(2).equals(json)).toBe(true);
  });

  it.each([10, 125, 126, 1031, 65535, 65536])(
    'frames a %i-byte block once for WebSocket and once for HTTP',
    (len) => {
      const bytes = Uint8Array.from({ length: len }, (_, i) => (i * 7) & 0xff);
      const b = makeSharedBlock(3, 100, bytes);
      expect(Buffer.compare(b.bytes, bytes)).toBe(0);
      // RFC 6455 §5.2: FIN + binary, then the 7-bit, 16-bit or 64-bit length.
      expect(b.frame[0]).toBe(0x82);
      const head = b.frame.length - len;
      const length =
        head === 2 ? b.frame[1] : head === 4 ? b.frame.readUInt16BE(2) : b.frame.readUInt32BE(6);
      expect(length).toBe(len);
      expect(b.bytes.buffer).toBe(b.frame.buffer);
      // RFC 9112 §7.1: hex size, CRLF, data, CRLF; built once, then the same buffer.
      const chunk = b.chunk;
      const line = `${len.toString(16)}\r\n`;
      expect(chunk.subarray(0, line.length).toString('latin1')).toBe(line);
      expect(Buffer.compare(chunk.subarray(line.length, line.length + len), bytes)).toBe(0);
      expect(chunk.subarray(line.length + len).toString('latin1')).toBe('\r\n');
      expect(b.chunk).toBe(chunk);
    },
  );
});
