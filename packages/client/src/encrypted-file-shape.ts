/**
 * The EncryptedFile v3 object as it travels in events and links (MSC4016, docs/listen-link.md).
 * Structurally the same as @mxcast/format's EncryptedFile; the client only moves it around.
 */
export interface EncryptedFileV3 {
  v: string;
  key: { kty: string; alg: string; k: string; ext: boolean; key_ops: string[] };
  iv: string;
  url?: string;
}
