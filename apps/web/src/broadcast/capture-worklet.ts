/**
 * AudioWorklet processor that turns the microphone's 128-sample render quanta into whole Opus
 * frames (`frameSamples` mono Float32 samples at the context's 48 kHz) and posts each frame,
 * transferred, to the port it was given: a MessageChannel whose other end is the encoder worker,
 * so PCM never passes through the page's main thread (a busy page cannot cause dropouts).
 */

// AudioWorkletGlobalScope is not in TypeScript's DOM lib; declare the two names used here.
declare const registerProcessor: (
  name: string,
  ctor: new (options: AudioWorkletNodeOptions) => unknown,
) => void;
declare class AudioWorkletProcessor {
  readonly port: MessagePort;
  constructor(options?: AudioWorkletNodeOptions);
}

interface CaptureOptions {
  frameSamples: number;
}

class CaptureProcessor extends AudioWorkletProcessor {
  #frameSamples: number;
  #frame: Float32Array;
  #filled = 0;
  #out: MessagePort | null = null;

  constructor(options: AudioWorkletNodeOptions) {
    super(options);
    const { frameSamples } = options.processorOptions as CaptureOptions;
    this.#frameSamples = frameSamples;
    this.#frame = new Float32Array(frameSamples);
    this.port.onmessage = (event: MessageEvent<{ port?: MessagePort; stop?: true }>) => {
      if (event.data.port) this.#out = event.data.port;
      if (event.data.stop) this.#out = null;
    };
  }

  process(inputs: Float32Array[][]): boolean {
    const channels = inputs[0];
    const first = channels?.[0];
    if (!first || !this.#out) return true;
    // Down-mix to mono by averaging channels (the presets are mono).
    for (let i = 0; i < first.length; i++) {
      let sum = 0;
      for (const channel of channels) sum += channel[i] ?? 0;
      this.#frame[this.#filled++] = sum / channels.length;
      if (this.#filled === this.#frameSamples) {
        this.#out.postMessage(this.#frame, [this.#frame.buffer]);
        this.#frame = new Float32Array(this.#frameSamples);
        this.#filled = 0;
      }
    }
    return true;
  }
}

registerProcessor('mxcast-capture', CaptureProcessor);
