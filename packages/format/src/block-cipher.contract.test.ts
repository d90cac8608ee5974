/**
 * The one cipher contract (testing/block-cipher-contract.ts) over every BlockCipher backend.
 * A new backend is one more row here.
 */
import { createBlockCipher } from './block-cipher.ts';
import { blockCipherContract, type CipherImplementation } from './testing/block-cipher-contract.ts';
import { encryptedFileFor } from './testing/stream-fixtures.ts';

const implementations: CipherImplementation[] = [
  {
    backend: 'node',
    sync: true,
    make: (key, iv) => createBlockCipher(encryptedFileFor(key, iv), { backend: 'node' }),
  },
  {
    backend: 'webcrypto',
    sync: false,
    make: (key, iv) => createBlockCipher(encryptedFileFor(key, iv), { backend: 'webcrypto' }),
  },
];

for (const impl of implementations) {
  blockCipherContract(
    impl,
    implementations.filter((i) => i !== impl),
  );
}
