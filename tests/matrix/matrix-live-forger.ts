/**
 * A relay that forges one block of a broadcast while it is still live: a node:http proxy in
 * front of the real relay whose downloads (Range honoured) pass through byte for byte, except
 * one block (`pickSeq`, below), re-sealed with the right key around a plaintext with one bit
 * flipped. That is a relay colluding with a member (who has the key): AES-GCM passes, only the
 * sender's checkpoint can tell (docs/matrix.md "Checkpoints and completion"). The forged block
 * has the original's length, so every offset stays true. A learner reads the whole live
 * download once to find where the forged block lies; a listener's chunk waits until the learner
 * knows whether it overlaps that block. Which block: `pickSeq()`, called at the first download,
 * so it is picked relative to when the listener joined (its start-up, a login and a sync, takes
 * seconds on a busy machine: a block fixed in advance may already be behind the edge).
 */
import { createServer, request, type IncomingMessage } from 'node:http';
import {
  BlockFramer,
  createBlockCipher,
  encodeBlock,
  MAGIC_SIZE,
  type EncryptedFile,
} from '@mxcast/format';
import { oggCrc } from '@mxcast/ogg';
import { closeServer, listenLoopback } from '../player/proxy-kit.ts';

/**
 * A block's plaintext (one Ogg page) with the last byte of its audio flipped and the page's CRC
 * made right again: a page the player decodes without complaint, that is not the sender's.
 */
export function forgePage(plain: Uint8Array): Uint8Array {
  const page = plain.slice();
  page[page.length - 1]! ^= 1;
  const view = new DataView(page.buffer, page.byteOffset, page.byteLength);
  // RFC 3533: the CRC (bytes 22-25, little-endian) is computed with its own field zeroed.
  view.setUint32(22, 0, true);
  view.setUint32(22, oggCrc(page), true);
  return page;
}

export interface LiveForger {
  url: string;
  /** Bytes of the forged block sent to listeners so far (0: the forgery never went out). */
  forgedBytesSent(): number;
  /** The block forged (undefined until the first download picked it). */
  forgedSeq(): number | undefined;
  close(): Promise<void>;
}

interface Learner {
  /** Offset up to which the stream is framed (or Infinity once it ended). */
  framedTo: number;
  forged: { start: number; bytes: Uint8Array } | undefined;
  waiters: (() => void)[];
}

export async function startLiveForger(
  upstream: string,
  file: EncryptedFile,
  pickSeq: () => number,
): Promise<LiveForger> {
  const cipher = await createBlockCipher(file);
  const learners = new Map<string, Learner>();
  let sent = 0;
  let forgeSeq: number | undefined;
  const learn = (path: string, auth: string | undefined): Learner => {
    let l = learners.get(path);
    if (l) return l;
    forgeSeq ??= pickSeq();
    const learner: Learner = { framedTo: MAGIC_SIZE, forged: undefined, waiters: [] };
    l = learner;
    learners.set(path, learner);
    const wake = () => learner.waiters.splice(0).forEach((w) => w());
    void (async () => {
      try {
        const res = await fetch(upstream + path, auth ? { headers: { authorization: auth } } : {});
        const framer = new BlockFramer();
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          for (const b of framer.push(chunk)) {
            if (b.seq === forgeSeq) {
              const plain = forgePage(await cipher.decrypt(b.seq, b.ciphertext, b.byteOrder));
              const bytes = encodeBlock(b.seq, await cipher.encrypt(b.seq, plain));
              if (bytes.length !== b.bytes.length) throw new Error('forged block changed length');
              learner.forged = { start: b.offset, bytes };
            }
            learner.framedTo = b.offset + b.bytes.length;
          }
          wake();
        }
      } finally {
        learner.framedTo = Infinity;
        wake();
      }
    })().catch(() => {});
    return learner;
  };
  /** Resolves once the learner knows whether [from, to) overlaps the forged block. */
  const known = (l: Learner, to: number) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (l.forged || l.framedTo >= to) resolve();
        else l.waiters.push(check);
      };
      check();
    });
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    const isDownload = req.method === 'GET' && /\/download\//.test(path);
    const up = request(
      upstream + path,
      { method: req.method, headers: { ...req.headers, host: new URL(upstream).host } },
      (upRes: IncomingMessage) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        if (!isDownload || (upRes.statusCode !== 200 && upRes.statusCode !== 206)) {
          upRes.pipe(res);
          return;
        }
        const learner = learn(path, req.headers.authorization);
        const range = /^bytes (\d+)-/.exec(upRes.headers['content-range'] ?? '');
        let pos = range ? Number(range[1]) : 0;
        // One chunk at a time, in order: each may wait for the learner.
        let chain = Promise.resolve();
        upRes.on('data', (chunk: Buffer) => {
          const from = pos;
          pos += chunk.length;
          chain = chain.then(async () => {
            await known(learner, from + chunk.length);
            const f = learner.forged;
            const out = Buffer.from(chunk);
            if (f) {
              for (let i = 0; i < out.length; i++) {
                const at = from + i - f.start;
                if (at >= 0 && at < f.bytes.length) {
                  out[i] = f.bytes[at]!;
                  sent++;
                }
              }
            }
            res.write(out);
          });
        });
        upRes.on('end', () => void chain.then(() => res.end()));
        upRes.on('error', () => res.destroy());
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
    res.on('close', () => up.destroy());
  });
  const url = await listenLoopback(server);
  return {
    url,
    forgedBytesSent: () => sent,
    forgedSeq: () => forgeSeq,
    close: () => closeServer(server),
  };
}
