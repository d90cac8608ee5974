/**
 * KeySchedule: the key epochs of one MSC4016 v3 file (docs/format.md "Key epochs"). Epoch k is
 * {startSeq, key, iv}; block seq s is sealed with the epoch of greatest startSeq ≤ s. The
 * container does not change — the per-block nonce stays seq ‖ iv and the AAD seq
 * (block-nonce.ts) — so a plain v3 reader given epoch k as an EncryptedFile opens epoch k's
 * blocks. Only the schedule's holder knows where the boundaries are; the relay never does.
 */
import { decodeBase64, decodeBase64Url } from './base64-codec.ts';
import {
  ENCRYPTED_FILE_VERSION,
  generateEncryptedFile,
  parseEncryptedFile,
  type EncryptedFile,
  type JsonWebKeyAesGcm,
} from './encrypted-file.ts';
import { MAX_SEQ } from './format-constants.ts';
import { FormatError } from './format-error.ts';

/** One key epoch: the key and IV that seal blocks from `startSeq` until the next epoch's start. */
export interface Epoch {
  /** The first block sealed with this key; 0 for the broadcast's first epoch. */
  startSeq: number;
  /** AES-256-GCM key, the same JWK as an EncryptedFile's. */
  key: JsonWebKeyAesGcm;
  /** Fresh 96-bit IV for this epoch, standard base64 without padding. */
  iv: string;
}

function bad(message: string, cause?: unknown): FormatError {
  return new FormatError('BAD_KEY_SCHEDULE', message, cause === undefined ? {} : { cause });
}

function checkStart(startSeq: unknown, where: string): number {
  if (typeof startSeq !== 'number' || !Number.isInteger(startSeq) || startSeq < 0) {
    throw bad(`${where}: startSeq must be an integer ≥ 0, got ${String(startSeq)}`);
  }
  if (startSeq > MAX_SEQ) throw bad(`${where}: startSeq ${startSeq} is past MAX_SEQ`);
  return startSeq;
}

/**
 * Validates one epoch (the key and IV exactly as parseEncryptedFile checks them) and returns it
 * in canonical form. Never echoes key material in an error.
 */
export function parseEpoch(input: unknown, where = 'epoch'): Epoch {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw bad(`${where}: expected an object`);
  }
  const value = input as Record<string, unknown>;
  const startSeq = checkStart(value.startSeq, where);
  let file: EncryptedFile;
  try {
    file = parseEncryptedFile({ v: ENCRYPTED_FILE_VERSION, key: value.key, iv: value.iv });
  } catch (err) {
    throw bad(`${where}: ${(err as Error).message}`, err);
  }
  return { startSeq, key: file.key, iv: file.iv };
}

/** A fresh key and IV from the platform's CSPRNG, starting at `startSeq`. */
export function generateEpoch(startSeq: number): Epoch {
  const file = generateEncryptedFile();
  return { startSeq: checkStart(startSeq, 'epoch'), key: file.key, iv: file.iv };
}

/** The epoch an EncryptedFile's key and IV make (the first epoch of a broadcast by default). */
export function epochFromFile(file: EncryptedFile, startSeq = 0): Epoch {
  return parseEpoch({ startSeq, key: file.key, iv: file.iv });
}

/** The plain v3 EncryptedFile of one epoch: what a reader without the schedule needs. */
export function epochFile(epoch: Epoch, url?: string): EncryptedFile {
  const file = parseEncryptedFile({ v: ENCRYPTED_FILE_VERSION, key: epoch.key, iv: epoch.iv });
  if (url !== undefined) file.url = url;
  return file;
}

/** True when two epochs carry the same key and IV (an epoch must never reuse either). */
function sameSecret(a: Epoch, b: Epoch): boolean {
  const ak = decodeBase64Url(a.key.k) as Uint8Array;
  const bk = decodeBase64Url(b.key.k) as Uint8Array;
  const ai = decodeBase64(a.iv) as Uint8Array;
  const bi = decodeBase64(b.iv) as Uint8Array;
  const eq = (x: Uint8Array, y: Uint8Array) =>
    x.length === y.length && x.every((v, i) => v === y[i]);
  return eq(ak, bk) || eq(ai, bi);
}

/**
 * Epochs ordered by strictly increasing startSeq, the first at 0. It only grows (`add`): an epoch
 * once announced is never moved, since a block already sealed under it must stay readable.
 */
export class KeySchedule {
  readonly #epochs: Epoch[] = [];

  constructor(epochs: readonly unknown[]) {
    if (!Array.isArray(epochs) || epochs.length === 0) {
      throw bad('a key schedule needs at least one epoch (startSeq 0)');
    }
    epochs.forEach((e, i) => this.add(parseEpoch(e, `epoch ${i}`)));
  }

  /** The schedule of one EncryptedFile: the single-key broadcast. */
  static fromFile(file: EncryptedFile): KeySchedule {
    return new KeySchedule([epochFromFile(file)]);
  }

  /** Parses JSON text or a parsed array of epochs. */
  static parse(input: unknown): KeySchedule {
    let value = input;
    if (typeof input === 'string') {
      try {
        value = JSON.parse(input);
      } catch (err) {
        throw bad(`key schedule is not JSON: ${(err as Error).message}`);
      }
    }
    if (!Array.isArray(value)) throw bad('a key schedule is an array of epochs');
    return new KeySchedule(value);
  }

  get epochs(): readonly Epoch[] {
    return this.#epochs;
  }

  get last(): Epoch {
    return this.#epochs[this.#epochs.length - 1] as Epoch;
  }

  /**
   * Throws BAD_KEY_SCHEDULE unless `epoch` may follow the current last one: startSeq 0 first,
   * then strictly greater, and a key and IV not used by any earlier epoch.
   */
  check(epoch: Epoch): Epoch {
    const e = parseEpoch(epoch, `epoch ${this.#epochs.length}`);
    const prev = this.#epochs[this.#epochs.length - 1];
    if (prev === undefined && e.startSeq !== 0) {
      throw bad(`the first epoch must start at seq 0, not ${e.startSeq}`);
    }
    if (prev !== undefined && e.startSeq <= prev.startSeq) {
      throw bad(
        `epoch ${this.#epochs.length} starts at seq ${e.startSeq}, not after the previous epoch's ${prev.startSeq}`,
      );
    }
    if (this.#epochs.some((old) => sameSecret(old, e))) {
      throw bad(`epoch ${this.#epochs.length} reuses an earlier epoch's key or IV`);
    }
    return e;
  }

  /** Appends an epoch (validated by `check`). */
  add(epoch: Epoch): void {
    this.#epochs.push(this.check(epoch));
  }

  /** Index of the epoch that seals block `seq`. */
  indexFor(seq: number): number {
    if (!Number.isInteger(seq) || seq < 0 || seq > MAX_SEQ) {
      throw new FormatError('BAD_ARGUMENT', `seq ${seq} outside 0..${MAX_SEQ}`);
    }
    // Binary search: the greatest startSeq ≤ seq (epochs[0].startSeq is 0, so one always is).
    let lo = 0;
    let hi = this.#epochs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.#epochs[mid] as Epoch).startSeq <= seq) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** The epoch that seals block `seq`: the one with the greatest startSeq ≤ seq. */
  epochFor(seq: number): Epoch {
    return this.#epochs[this.indexFor(seq)] as Epoch;
  }

  toJSON(): Epoch[] {
    return this.#epochs.map((e) => ({
      startSeq: e.startSeq,
      key: { ...e.key, key_ops: [...e.key.key_ops] },
      iv: e.iv,
    }));
  }
}
