/**
 * Web Audio output for the browser: decoded PCM goes to an AudioWorklet (worklet-processor-
 * source.ts) that buffers up to the jitter-buffer target and plays at the audio clock. Opus is
 * 48 kHz, so the AudioContext is created at 48 kHz (no resampling). Browser-only, but it imports
 * nothing from Node; the web app imports it from `@mxcast/player`.
 */
import type { PcmChunk } from '../opus-page-decoder.ts';
import { OPUS_RATE } from '../stream-geometry.ts';
import type { PcmSink } from './pcm-sink.ts';
import { WORKLET_PROCESSOR_NAME, WORKLET_PROCESSOR_SOURCE } from './worklet-processor-source.ts';

export interface WorkletSinkOptions {
  channels: number;
  /** An existing context (must run at 48 kHz); one is created otherwise. */
  context?: AudioContext;
  /** Where to connect; the context's destination by default. */
  destination?: AudioNode;
  onUnderrun?: () => void;
}

export class WorkletSink implements PcmSink {
  readonly ownsClock = true;
  readonly context: AudioContext;
  readonly node: AudioWorkletNode;
  readonly channels: number;
  /** Frames the worklet has played (reported every ~100 ms). */
  playedFrames = 0;
  /** Frames queued in the worklet at the last report. */
  queuedFrames = 0;

  private constructor(context: AudioContext, node: AudioWorkletNode, channels: number) {
    this.context = context;
    this.node = node;
    this.channels = channels;
  }

  static async create(options: WorkletSinkOptions): Promise<WorkletSink> {
    const context =
      options.context ?? new AudioContext({ sampleRate: OPUS_RATE, latencyHint: 'interactive' });
    const url = URL.createObjectURL(
      new Blob([WORKLET_PROCESSOR_SOURCE], { type: 'text/javascript' }),
    );
    try {
      await context.audioWorklet.addModule(url);
    } finally {
      URL.revokeObjectURL(url);
    }
    const node = new AudioWorkletNode(context, WORKLET_PROCESSOR_NAME, {
      numberOfInputs: 0,
      outputChannelCount: [options.channels],
      processorOptions: { channels: options.channels },
    });
    node.connect(options.destination ?? context.destination);
    const sink = new WorkletSink(context, node, options.channels);
    node.port.onmessage = (e: MessageEvent<{ type: string; played: number; queued?: number }>) => {
      sink.playedFrames = e.data.played;
      if (e.data.queued !== undefined) sink.queuedFrames = e.data.queued;
      if (e.data.type === 'underrun') options.onUnderrun?.();
    };
    return sink;
  }

  write(chunk: PcmChunk): void {
    const data = new Float32Array(chunk.pcm.length);
    for (let i = 0; i < data.length; i++) data[i] = (chunk.pcm[i] as number) / 32768;
    this.node.port.postMessage({ type: 'pcm', data }, [data.buffer]);
  }

  setTargetMs(ms: number): void {
    this.node.port.postMessage({ type: 'target', frames: Math.round((ms / 1000) * OPUS_RATE) });
  }

  /** Drops queued audio (a seek). */
  flush(): void {
    this.node.port.postMessage({ type: 'flush' });
  }

  async close(): Promise<void> {
    this.node.disconnect();
    await this.context.close();
  }
}
