/**
 * The AudioWorkletProcessor that plays the player's PCM, as source text (loaded through a Blob
 * URL so bundlers need no special worklet handling). It keeps a FIFO of Float32 frames, starts
 * output once `targetFrames` are queued (the jitter-buffer target the main thread sends), plays
 * silence and reports an underrun when it runs dry, and reports the frames played so the page
 * can show the position and delay behind live.
 */
export const WORKLET_PROCESSOR_NAME = 'mxcast-pcm-player';

export const WORKLET_PROCESSOR_SOURCE = `
class MxcastPcmPlayer extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.channels = (options.processorOptions && options.processorOptions.channels) || 1;
    this.queue = [];
    this.readAt = 0;
    this.queued = 0;
    this.targetFrames = 960;
    this.playing = false;
    this.played = 0;
    this.lastReport = 0;
    this.port.onmessage = (e) => {
      const m = e.data;
      if (m.type === 'pcm') { this.queue.push(m.data); this.queued += m.data.length / this.channels; }
      else if (m.type === 'target') this.targetFrames = m.frames;
      else if (m.type === 'flush') { this.queue = []; this.readAt = 0; this.queued = 0; this.playing = false; }
    };
  }
  process(_inputs, outputs) {
    const out = outputs[0];
    const frames = out[0].length;
    if (!this.playing && this.queued >= this.targetFrames) this.playing = true;
    let written = 0;
    if (this.playing) {
      while (written < frames && this.queue.length > 0) {
        const buf = this.queue[0];
        const avail = buf.length / this.channels - this.readAt;
        const take = Math.min(avail, frames - written);
        for (let c = 0; c < out.length; c++) {
          const src = Math.min(c, this.channels - 1);
          const dst = out[c];
          for (let i = 0; i < take; i++) dst[written + i] = buf[(this.readAt + i) * this.channels + src];
        }
        written += take; this.readAt += take; this.queued -= take;
        if (this.readAt * this.channels >= buf.length) { this.queue.shift(); this.readAt = 0; }
      }
      if (written < frames) { this.playing = false; this.port.postMessage({ type: 'underrun', played: this.played + written }); }
    }
    for (let c = 0; c < out.length; c++) out[c].fill(0, written);
    this.played += written;
    if (this.played - this.lastReport >= 4800) { this.lastReport = this.played; this.port.postMessage({ type: 'played', played: this.played, queued: this.queued }); }
    return true;
  }
}
registerProcessor('${WORKLET_PROCESSOR_NAME}', MxcastPcmPlayer);
`;
