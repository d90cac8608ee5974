import { describe, expect, it } from 'vitest';
import { generateEncryptedFile } from '@mxcast/format';
import {
  announcementContent,
  BroadcastEventError,
  parseAnnouncement,
  parseBroadcastState,
  reannouncementContent,
  type BroadcastAnnouncement,
} from './broadcast-events.ts';
import { newBroadcastId } from './broadcast-sender.ts';

const announcement: BroadcastAnnouncement = {
  broadcastId: 'b1b1b1b1b1b1b1b1',
  title: 'Night show',
  file: generateEncryptedFile('mxc://example.org/abcdefghijklmnopqrstuvwx'),
  geometry: { frame_ms: 20, frames_per_block: 12, block_size: 1031, bitrate: 32000 },
  startedTs: 1_700_000_000_000,
};

describe('broadcast events', () => {
  it('announcement: an m.audio voice message that parses back to the same fields', () => {
    const c = announcementContent(announcement);
    expect(c).toMatchObject({
      msgtype: 'm.audio',
      body: 'Live audio broadcast: Night show',
      'org.matrix.msc3245.voice': {},
    });
    expect(parseAnnouncement(c)).toEqual(announcement);
    expect(parseAnnouncement(JSON.parse(JSON.stringify(c)))).toEqual(announcement);
  });

  it('re-announcement: same fields, no message body, a reference to the announcement', () => {
    const c = reannouncementContent(announcement, '$ann');
    expect(c.msgtype).toBeUndefined();
    expect(c.body).toBeUndefined();
    expect(c['m.relates_to']).toEqual({ rel_type: 'm.reference', event_id: '$ann' });
    expect(parseAnnouncement(c)).toEqual(announcement);
  });

  it('refuses a file without url, and names the bad field without echoing the key', () => {
    const { url: _u, ...noUrl } = announcement.file;
    expect(() => announcementContent({ ...announcement, file: noUrl })).toThrow(/mxc url/);
    const c = announcementContent(announcement);
    const bad = { ...c, 'org.mxcast.broadcast': { id: 'x', title: 3, started_ts: 1 } };
    expect(() => parseAnnouncement(bad)).toThrow(BroadcastEventError);
    expect(() => parseAnnouncement(bad)).toThrow(/title/);
    const badGeometry = { ...c, 'org.matrix.msc4016.geometry': { frame_ms: 7 } };
    expect(() => parseAnnouncement(badGeometry)).toThrow(/frame_ms/);
    const badFile = { ...c, file: { ...announcement.file, iv: '!!' } };
    let message = '';
    try {
      parseAnnouncement(badFile);
    } catch (err) {
      message = String(err);
    }
    expect(message).toMatch(/iv/);
    expect(message).not.toContain(announcement.file.key.k);
    // Not ours at all: null, not an error (other m.audio messages in the room).
    expect(parseAnnouncement({ msgtype: 'm.audio', body: 'hi' })).toBeNull();
  });

  it('state: accepts the documented shape only', () => {
    const good = {
      state: 'paused',
      announcement_event_id: '$a',
      device_id: 'DEV',
      started_ts: 1,
      state_ts: 2,
    };
    expect(parseBroadcastState(good)).toEqual(good);
    expect(parseBroadcastState({ ...good, stopped_ts: 3 })).toEqual({ ...good, stopped_ts: 3 });
    for (const bad of [
      { ...good, state: 'live' },
      { ...good, announcement_event_id: 'a' },
      { ...good, started_ts: 1.5 },
      { ...good, stopped_ts: '3' },
      { ...good, device_id: undefined },
      null,
      [],
    ]) {
      expect(parseBroadcastState(bad)).toBeNull();
    }
  });
});

describe('newBroadcastId', () => {
  it('never starts with a dash (it is typed after --broadcast)', () => {
    for (let i = 0; i < 5000; i++) {
      const id = newBroadcastId();
      expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{15}$/);
    }
  });
});
