/**
 * A long finished recording on a relay, made fast: what the web app's download must stream
 * (docs/web.md "Download the recording"). One second of a tone is encoded once with the Voice
 * preset's hard-CBR Opus (docs/audio.md), and its packets are laid out again and again as the
 * audio pages of one Ogg Opus stream (RFC 7845: OpusHead, OpusTags, pages of 12 whole packets, the
 * last with EOS), each page encrypted into one block by @mxcast/format as a broadcaster would and
 * streamed to the relay in one PUT (docs/protocol.md "Upload"). A 4-hour recording is ~57 MB of
 * ciphertext and takes a few seconds; nothing of it is held in memory at once.
 */
import { OpusCbrEncoder, PRESETS, createSignal } from '@mxcast/audio';
import { MediaClient, buildListenLink } from '@mxcast/client';
import { BlockWriter, createBlockCipher, generateEncryptedFile } from '@mxcast/format';
import { OggOpusPager } from '@mxcast/ogg';

const PRESET = PRESETS.voice;

export interface LongRecording {
  /** The web app's `/listen#…` link to it (key in the fragment). */
  link: string;
  mxc: string;
  /** Ciphertext bytes on the relay. */
  bytes: number;
  /** The decrypted recording's bytes: its Ogg pages, what a download saves. */
  oggBytes: number;
  /** Audio seconds. */
  seconds: number;
}

/** The recording's blocks: magic, head, tags, audio pages (encrypted), as they are made. */
async function* blocks(
  writer: BlockWriter,
  seconds: number,
  hz: number,
  title: string,
  pages: { bytes: number },
): AsyncGenerator<Uint8Array> {
  const encoder = OpusCbrEncoder.forPreset(PRESET, { channels: 1 });
  try {
    const frame = (48_000 * PRESET.frameMs) / 1000;
    const signal = createSignal(`sine:${hz}`, { amplitude: 0.3 });
    // One second of packets, reused: the Opus stream stays valid (each CBR packet decodes on
    // its own), and the tone continues across the seam at a whole number of periods.
    const packets: Uint8Array[] = [];
    for (let i = 0; i < 1000 / PRESET.frameMs; i++)
      packets.push(encoder.encode(signal.read(frame)));
    const pager = new OggOpusPager({
      serial: 0x6d78,
      channels: 1,
      preSkip: encoder.preSkip,
      title,
    });
    const seal = (page: Uint8Array): Uint8Array => {
      pages.bytes += page.length;
      return writer.writeSync(page);
    };
    yield writer.magic();
    yield seal(pager.headPage());
    yield seal(pager.tagsPage());
    const count = audioPages(seconds);
    let next = 0;
    for (let p = 0; p < count; p++) {
      const page: Uint8Array[] = [];
      for (let i = 0; i < PRESET.framesPerBlock; i++) {
        page.push(packets[next]!);
        next = (next + 1) % packets.length;
      }
      yield seal(pager.audioPage(page, { eos: p === count - 1 }));
    }
  } finally {
    encoder.destroy();
  }
}

/** Audio pages (blocks) of `seconds`: 240 ms each, the last one whole. */
function audioPages(seconds: number): number {
  return Math.ceil((seconds * 1000) / (PRESET.frameMs * PRESET.framesPerBlock));
}

/** Creates and uploads a finished recording of `seconds` of a `hz` tone; returns its link. */
export async function uploadLongRecording(
  relayUrl: string,
  token: string,
  seconds: number,
  { hz = 440, title = 'Long show' } = {},
): Promise<LongRecording> {
  const file = generateEncryptedFile();
  const writer = new BlockWriter(await createBlockCipher(file, { backend: 'node' }));
  const client = new MediaClient({ baseUrl: relayUrl, accessToken: token, timeoutMs: 120_000 });
  // The geometry (docs/protocol.md "Create"): every audio block has the same size (hard CBR).
  const pages = { bytes: 0 };
  const source = blocks(writer, seconds, hz, title, pages);
  const head: Uint8Array[] = [];
  for (let i = 0; i < 4; i++) head.push((await source.next()).value as Uint8Array);
  const geometry = {
    frame_ms: PRESET.frameMs,
    frames_per_block: PRESET.framesPerBlock,
    bitrate: PRESET.bitrate,
    block_size: head[3]!.length,
    sample_rate: 48_000,
    channels: 1,
  };
  const { mxc } = await client.create(geometry);
  let bytes = 0;
  async function* counted(): AsyncGenerator<Uint8Array> {
    for (const chunk of head) {
      bytes += chunk.length;
      yield chunk;
    }
    // Batches of blocks per write: fewer, larger chunks for the PUT (a block is ~1 KB).
    let batch: Uint8Array[] = [];
    let size = 0;
    for await (const block of source) {
      batch.push(block);
      size += block.length;
      if (size >= 256 * 1024) {
        bytes += size;
        yield Buffer.concat(batch);
        batch = [];
        size = 0;
      }
    }
    bytes += size;
    if (batch.length) yield Buffer.concat(batch);
  }
  await client.uploadStream(mxc, counted());
  return {
    link: buildListenLink(relayUrl, { mxc, file, geometry }),
    mxc,
    bytes,
    oggBytes: pages.bytes,
    seconds: (audioPages(seconds) * PRESET.frameMs * PRESET.framesPerBlock) / 1000,
  };
}
