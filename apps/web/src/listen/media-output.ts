/**
 * The listener's audio output: whatever an engine plays goes through a volume GainNode into a
 * MediaStreamAudioDestinationNode, and that stream plays in an `<audio>` element
 * (docs/web.md "Background playback").
 *
 * Why an element and not the AudioContext's speakers: mobile browsers treat a page that plays
 * through a media element as a media player — Chrome on Android keeps it playing with the screen
 * off or the tab in the background and gives it the Media Session notification; bare Web Audio
 * gets neither and is stopped with the tab. Both engines (the direct engine's worklet and the
 * HLS engine's MSE element, tapped with createMediaElementSource) end in the same graph, so one
 * element serves both and the volume applies to both.
 */

export class MediaOutput {
  /** Where the page's graph ends (after the level meter's analyser). */
  readonly input: GainNode;
  /** The element the browser's media machinery (lock screen, background) sees; in the DOM. */
  readonly element: HTMLAudioElement;
  readonly #context: AudioContext;

  constructor(context: AudioContext) {
    this.#context = context;
    this.input = context.createGain();
    this.element = document.createElement('audio');
    this.element.id = 'output';
    // Hidden: the page's own controls drive it; a second set of controls would only confuse.
    this.element.hidden = true;
    if (typeof context.createMediaStreamDestination === 'function') {
      const stream = context.createMediaStreamDestination();
      this.input.connect(stream);
      this.element.srcObject = stream.stream;
      this.element.dataset.path = 'media-stream';
    } else {
      // No MediaStream destination (old browsers): the speakers, without background playback.
      this.input.connect(context.destination);
      this.element.dataset.path = 'speakers';
    }
  }

  get volume(): number {
    return this.input.gain.value;
  }

  set volume(value: number) {
    const v = Math.max(0, Math.min(1, value));
    // A short ramp: a step in gain is an audible click.
    this.input.gain.setTargetAtTime(v, this.#context.currentTime, 0.015);
    this.element.dataset.volume = v.toFixed(2);
  }

  /** Starts the element; the autoplay policy may refuse until the user presses something. */
  async play(): Promise<boolean> {
    if (this.element.dataset.path !== 'media-stream') return true;
    try {
      await this.element.play();
      return true;
    } catch {
      return false;
    }
  }

  /** Pauses the element, so the lock screen shows the broadcast paused. */
  pause(): void {
    this.element.pause();
  }

  close(): void {
    this.element.pause();
    this.element.srcObject = null;
    this.input.disconnect();
    this.element.remove();
  }
}
