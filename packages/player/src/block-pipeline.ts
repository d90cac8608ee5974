/**
 * What happens to each block a leg yields: authenticate (the only way to plaintext), demux the
 * Ogg page, set up decoder and playout on OpusHead, learn the geometry from the first audio
 * block (DESIGN.md §4), decode, trim to `duration`, and hand PCM to the playout.
 */
import { opusPacketSamples } from '@mxcast/ogg';
import type { BlockAuthenticator } from './block-authenticator.ts';
import type { SourceBlock } from './block-source.ts';
import { checkHeaderLeg } from './leg-planner.ts';
import { Stop } from './leg-runner.ts';
import { OpusPageDecoder, type PcmChunk } from './opus-page-decoder.ts';
import { PlayerError } from './player-error.ts';
import type { Header, PlayerSession } from './player-session.ts';
import { PlayoutOutput } from './playout-output.ts';
import { FIRST_AUDIO_SEQ, OPUS_RATE, geometryFromBlocks } from './stream-geometry.ts';

export async function handleBlock(s: PlayerSession, block: SourceBlock): Promise<void> {
  const generation = s.seekGeneration;
  const plaintext = await (s.auth as BlockAuthenticator).open(block);
  const next = block.offset !== null ? block.offset + block.size : null;
  s.last = { seq: block.seq, next };
  s.sawLiveEdge(block.seq + 1, false);
  const page = s.demux.demux(block.seq, plaintext);
  if (page.kind === 'head') {
    s.header = { head: page.head, headerEnd: null };
    s.decoder ??= new OpusPageDecoder({
      channels: page.head.channels,
      preSkip: page.head.preSkip,
      ...(s.options.createDecoder ? { createDecoder: s.options.createDecoder } : {}),
    });
    s.decoder.restart(s.discardBefore);
    s.output ??= new PlayoutOutput({
      sink: s.options.sink,
      pace: s.options.pace ?? false,
      channels: page.head.channels,
      now: s.now,
      onPlayoutState: (state) =>
        s.setState(state === 'buffering' ? 'buffering' : s.live ? 'live' : 'playing'),
      onPlayed: (endSample) => (s.positionSample = endSample),
    });
    return;
  }
  if (page.kind === 'tags') {
    if (s.header) s.header.headerEnd = next;
    if (s.live && s.source.transport === 'ws') s.auth?.allowJump('any');
    if (s.options.geometry && !s.geometry) {
      learnGeometry(s, block, 0n, 0);
      checkHeaderLeg(s, block.seq);
    }
    return;
  }
  if (!s.header || !s.decoder || !s.output) {
    throw new PlayerError(
      'BAD_STREAM',
      `audio block ${block.seq} before the OpusHead block`,
      true,
      {
        seq: block.seq,
      },
    );
  }
  const samples = page.packets.reduce((n, p) => n + opusPacketSamples(p), 0);
  s.byteOrder = block.byteOrder;
  if (block.seq === FIRST_AUDIO_SEQ && block.offset !== null) {
    s.firstAudio = {
      seq: block.seq,
      offset: block.offset,
      size: block.size,
      granule: page.granule,
    };
  }
  if (!s.geometry) {
    learnGeometry(s, block, page.granule, samples);
    checkHeaderLeg(s, block.seq);
  }
  s.emit('block', { seq: block.seq, granule: page.granule, eos: page.eos });
  const chunk = s.decoder.decodePage(block.seq, page.packets, page.granule, page.eos);
  if (s.state === 'connecting' || s.state === 'seeking' || s.state === 'buffering') {
    if (!s.options.pace) s.setState(s.live ? 'live' : 'playing');
  }
  // A seek() that came while this block was in flight: its audio is from the old position.
  if (generation !== s.seekGeneration) return;
  if (chunk) await deliver(s, chunk);
  if (page.eos) {
    await s.output.drain();
    throw new Stop({ state: 'finished' });
  }
}

/** Hands a chunk to the playout, cut at `duration` (then playback stops). */
async function deliver(s: PlayerSession, chunk: PcmChunk): Promise<void> {
  let out = chunk;
  if (s.options.duration !== undefined) {
    s.endSample ??= out.startSample + Math.round(s.options.duration * OPUS_RATE);
    const room = s.endSample - out.startSample;
    if (room <= 0) throw new Stop({ state: 'stopped' });
    if (room < out.pcm.length / out.channels)
      out = { ...out, pcm: out.pcm.subarray(0, room * out.channels) };
  }
  await (s.output as PlayoutOutput).write(out);
  s.emit('status', s.status());
  if (s.endSample !== undefined && out.startSample + out.pcm.length / out.channels >= s.endSample) {
    await s.output?.drain();
    throw new Stop({ state: 'stopped' });
  }
}

function learnGeometry(s: PlayerSession, block: SourceBlock, granule: bigint, samples: number) {
  const header = s.header as Header;
  s.geometry = geometryFromBlocks({
    head: header.head,
    headerEnd: header.headerEnd ?? block.offset ?? 0,
    ...(s.options.geometry ? { declared: s.options.geometry } : {}),
    firstAudio: { seq: block.seq, size: block.size, granule, samples },
  });
}
