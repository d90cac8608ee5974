/**
 * The live fan-out of one media: the set of listeners at the live edge. `publish` hands the
 * same SharedBlock to each in turn; a listener only queues it on its own socket (never awaits),
 * so no listener waits on another, and one past its backlog bound handles that itself
 * (skips to the live edge or disconnects) — see ws-listener.ts and download-stream.ts.
 */
import type { SharedBlock } from './shared-block.ts';

export type EndState = 'complete' | 'cancelled';

export interface HubListener {
  onBlock(block: SharedBlock): void;
  onEnd(state: EndState): void;
  /** A status worth telling listeners (state, listener count): the JSON text, shared by all. */
  onStatus?(status: Buffer): void;
}

export class MediaHub {
  private readonly listeners = new Set<HubListener>();

  get size(): number {
    return this.listeners.size;
  }

  add(listener: HubListener): void {
    this.listeners.add(listener);
  }

  remove(listener: HubListener): boolean {
    return this.listeners.delete(listener);
  }

  publish(block: SharedBlock): void {
    for (const l of this.listeners) l.onBlock(block);
  }

  status(message: Buffer): void {
    for (const l of this.listeners) l.onStatus?.(message);
  }

  end(state: EndState): void {
    const all = [...this.listeners];
    this.listeners.clear();
    for (const l of all) l.onEnd(state);
  }
}
