/**
 * The state file a crashed capture resumes from (`--state FILE`, `--resume FILE`): the key and
 * IV, the media, the Opus geometry and how far the upload got. It holds a key, so it is written
 * 0600, atomically (write + rename), and with a passphrase it is encrypted the way MSC3270 and the
 * Matrix spec's `m.secret_storage.v1.aes-hmac-sha2` protect keys: a key from PBKDF2 over the
 * passphrase, HKDF-SHA-256 (zero salt) splitting it into an AES-256-CTR key and an HMAC-SHA-256
 * key, ciphertext then MAC over the ciphertext. The Matrix copy of this state (docs/matrix.md
 * "Resume from any device") uses matrix-js-sdk's secret storage instead; this file's own
 * construction stays here because it must work without Matrix (no matrix-js-sdk in this package).
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  hkdfSync,
  pbkdf2Sync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { isFormatError, KeySchedule, type Epoch } from '@mxcast/format';
import { RESUME_RECORD_VERSION, resumeRecordProblem, type ResumeRecord } from '@mxcast/protocol';
import { CaptureError } from './capture-error.ts';

export const STATE_VERSION = RESUME_RECORD_VERSION;
const ENCRYPTED_ALGORITHM = 'org.mxcast.capture_state.v1.aes-hmac-sha2';
/** HKDF info: binds the derived keys to this use (MSC3270 uses the session id the same way). */
const HKDF_INFO = 'org.mxcast.capture_state';
/** PBKDF2-SHA-512 iterations (Matrix spec `m.pbkdf2`; slow on purpose, ~0.2 s here). */
export const DEFAULT_PBKDF2_ITERATIONS = 200_000;

/** The record itself is @mxcast/protocol's, shared with the Matrix copy and the web page. */
export type ResumeState = ResumeRecord;

interface EncryptedState {
  algorithm: typeof ENCRYPTED_ALGORITHM;
  passphrase: { algorithm: 'm.pbkdf2'; hash: 'SHA-512'; salt: string; iterations: number };
  iv: string;
  ciphertext: string;
  mac: string;
}

function deriveKeys(passphrase: string, salt: string, iterations: number) {
  const master = pbkdf2Sync(passphrase, salt, iterations, 32, 'sha512');
  const both = Buffer.from(hkdfSync('sha256', master, Buffer.alloc(32), HKDF_INFO, 64));
  return { aesKey: both.subarray(0, 32), macKey: both.subarray(32, 64) };
}

export function encryptState(
  json: string,
  passphrase: string,
  iterations = DEFAULT_PBKDF2_ITERATIONS,
): EncryptedState {
  const salt = randomBytes(24).toString('base64');
  const { aesKey, macKey } = deriveKeys(passphrase, salt, iterations);
  const iv = randomBytes(16);
  // Matrix secret storage clears bit 63 of the CTR IV so the counter cannot wrap into it.
  iv[8] = (iv[8] as number) & 0x7f;
  const cipher = createCipheriv('aes-256-ctr', aesKey, iv);
  const ciphertext = Buffer.concat([cipher.update(json, 'utf8'), cipher.final()]);
  const mac = createHmac('sha256', macKey).update(ciphertext).digest();
  return {
    algorithm: ENCRYPTED_ALGORITHM,
    passphrase: { algorithm: 'm.pbkdf2', hash: 'SHA-512', salt, iterations },
    iv: iv.toString('base64'),
    ciphertext: ciphertext.toString('base64'),
    mac: mac.toString('base64'),
  };
}

export function decryptState(enc: EncryptedState, passphrase: string, path: string): string {
  const { salt, iterations } = enc.passphrase ?? {};
  if (typeof salt !== 'string' || !Number.isInteger(iterations) || iterations <= 0) {
    throw new CaptureError('BAD_STATE', `state file ${path}: bad passphrase parameters`);
  }
  const { aesKey, macKey } = deriveKeys(passphrase, salt, iterations);
  const ciphertext = Buffer.from(enc.ciphertext, 'base64');
  const mac = createHmac('sha256', macKey).update(ciphertext).digest();
  const given = Buffer.from(enc.mac, 'base64');
  // Check the MAC before decrypting anything (encrypt-then-MAC).
  if (given.length !== mac.length || !timingSafeEqual(given, mac)) {
    throw new CaptureError(
      'BAD_STATE',
      `state file ${path}: wrong passphrase or the file was altered (MAC mismatch)`,
    );
  }
  const decipher = createDecipheriv('aes-256-ctr', aesKey, Buffer.from(enc.iv, 'base64'));
  return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
}

/** Writes the state 0600 via a temporary file and rename, so a crash never leaves half a file. */
export async function writeResumeState(
  path: string,
  state: ResumeState,
  passphrase?: string,
): Promise<void> {
  const json = JSON.stringify(state, null, 2);
  const text = passphrase ? JSON.stringify(encryptState(json, passphrase), null, 2) : json;
  const tmp = `${path}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(text + '\n');
    await fh.chmod(0o600);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

export async function readResumeState(path: string, passphrase?: string): Promise<ResumeState> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new CaptureError(
      'BAD_STATE',
      `cannot read state file ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CaptureError('BAD_STATE', `state file ${path} is not JSON`);
  }
  if ((json as EncryptedState).algorithm === ENCRYPTED_ALGORITHM) {
    if (!passphrase) {
      throw new CaptureError(
        'BAD_STATE',
        `state file ${path} is encrypted: give --passphrase-file`,
      );
    }
    try {
      json = JSON.parse(decryptState(json as EncryptedState, passphrase, path));
    } catch (err) {
      if (err instanceof CaptureError) throw err;
      throw new CaptureError('BAD_STATE', `state file ${path}: decrypted text is not JSON`);
    }
  }
  return checkState(json, path);
}

function checkState(json: unknown, path: string): ResumeState {
  const problem = resumeRecordProblem(json);
  if (problem) throw new CaptureError('BAD_STATE', `state file ${path}: ${problem}`);
  const s = json as ResumeState;
  const bad = (field: string) =>
    new CaptureError('BAD_STATE', `state file ${path}: missing or bad '${field}'`);
  if (s.epochs !== undefined) {
    try {
      const schedule = KeySchedule.parse(s.epochs);
      const first = schedule.epochs[0] as Epoch;
      if (first.key.k !== s.file.key.k || first.iv !== s.file.iv) throw bad('epochs');
      s.epochs = schedule.toJSON();
    } catch (err) {
      if (isFormatError(err)) {
        throw new CaptureError('BAD_STATE', `state file ${path}: bad 'epochs' (${err.message})`);
      }
      throw err;
    }
  }
  return s;
}
