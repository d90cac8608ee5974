/**
 * Node only: a WAVE file written as samples arrive, its header patched with the real sizes on
 * close (positioned write at offset 0). Kept out of the browser-safe core (src/index.ts).
 */

import { type FileHandle, open } from 'node:fs/promises';
import { WavStreamWriter } from '../wav-writer.ts';

export class WavFileWriter {
  private constructor(
    private readonly file: FileHandle,
    private readonly wav: WavStreamWriter,
  ) {}

  static async create(
    path: string,
    format: { sampleRate: number; channels: number },
  ): Promise<WavFileWriter> {
    const wav = new WavStreamWriter(format);
    const file = await open(path, 'w');
    try {
      await file.write(wav.header());
    } catch (err) {
      await file.close();
      throw err;
    }
    return new WavFileWriter(file, wav);
  }

  async write(samples: Int16Array): Promise<void> {
    await this.file.write(this.wav.write(samples));
  }

  get dataBytes(): number {
    return this.wav.dataBytes;
  }

  /** Patches the header with the real sizes and closes the file. */
  async close(): Promise<void> {
    try {
      await this.file.write(this.wav.finalHeader(), 0, 44, 0);
    } finally {
      await this.file.close();
    }
  }
}
