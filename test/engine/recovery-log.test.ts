import { describe, expect, it } from 'vitest';
import { EventLog, type Entry } from '../../src/engine/recovery';

/** Logs events numbered from 0, `bytes` each, at time `at`, as a broadcast does: append, count, prune. */
function logEvents(log: EventLog, from: number, count: number, bytes: number, at = 0): void {
  for (let n = from; n < from + count; n++) {
    expect(log.next).toBe(n);
    const entry: Entry = { nsp: '/layout', rooms: [], except: undefined, parts: [String(n)], bytes, at };
    log.append(entry);
    log.bytes += bytes;
    log.prune(at);
  }
}

describe('recovery event log', () => {
  it('keeps every live sequence number on its own event across many compactions, at the byte cap', () => {
    const evictions: number[] = [];
    const log = new EventLog({ windowMs: 60_000, totalBytes: 1000 }, (base) => evictions.push(base));
    logEvents(log, 0, 20_000, 10);
    // 100 events fit: the 19,900 others were dropped oldest first, one per new event.
    expect(log.base).toBe(19_900);
    expect(log.bytes).toBe(1000);
    expect(evictions.at(-1)).toBe(19_900);
    for (let seq = 0; seq < 20_000; seq++) expect(log.at(seq)?.parts, `seq ${seq}`).toEqual(seq < 19_900 ? undefined : [String(seq)]);
    expect(log.at(20_000)).toBeUndefined();
  });

  it('drops what is older than the window, without counting it as evicted by the cap', () => {
    const evictions: number[] = [];
    const log = new EventLog({ windowMs: 1000, totalBytes: 1_000_000 }, (base) => evictions.push(base));
    logEvents(log, 0, 5000, 10, 0);
    logEvents(log, 5000, 5000, 10, 1001);
    expect(log.base).toBe(5000);
    expect(log.bytes).toBe(50_000);
    expect(log.at(4999)).toBeUndefined();
    expect(log.at(5000)?.parts).toEqual(['5000']);
    expect(log.at(9999)?.parts).toEqual(['9999']);
    expect(evictions).toEqual([]);
  });

  it('takes back the last event, and only that one', () => {
    const log = new EventLog({ windowMs: 60_000, totalBytes: 1000 }, () => {});
    logEvents(log, 0, 3, 10);
    const unneeded: Entry = { nsp: '/layout', rooms: [], except: undefined, parts: undefined, bytes: 0, at: 0 };
    log.append(unneeded);
    expect(log.next).toBe(4);
    log.retract(log.at(2)!);
    expect(log.next).toBe(4);
    log.retract(unneeded);
    expect(log.next).toBe(3);
  });
});
