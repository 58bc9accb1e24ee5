/**
 * V86Link against an object shaped like v86's emulator: a bus whose `net0-receive` handler
 * fills the guest's posted receive buffers as v86's virtio card does (and drops a frame
 * when none is posted), and manual timers. The real emulator runs in
 * test/gateway/v86.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { V86Link } from '../../src/link/v86.ts';
import type { HostTimers } from '../../src/time/system.ts';

/** A bus pair's far side, as v86's BusConnector: named listeners, called synchronously. */
class FakeV86 {
  readonly listeners = new Map<string, Set<(v: unknown) => void>>();
  /** Frames the guest got, and the ones its card dropped for want of a buffer. */
  readonly guestGot: Uint8Array[] = [];
  cardDropped = 0;
  /** Receive buffers the guest has posted; undefined: a card that does not say (ne2k). */
  posted: number | undefined;
  readonly bus = {
    send: (name: string, value?: unknown) => {
      if (name !== 'net0-receive') return;
      if (this.posted === undefined || this.posted > 0) {
        if (this.posted !== undefined) this.posted--;
        this.guestGot.push(value as Uint8Array);
      } else this.cardDropped++;
    },
    register: (name: string, fn: (v: unknown) => void) => {
      let s = this.listeners.get(name);
      if (!s) this.listeners.set(name, (s = new Set()));
      s.add(fn);
    },
    unregister: (name: string, fn: (v: unknown) => void) => {
      this.listeners.get(name)?.delete(fn);
    },
  };
  readonly v86;
  constructor(posted?: number) {
    this.posted = posted;
    const queue = { count_requests: () => this.posted ?? 0 };
    this.v86 =
      posted === undefined
        ? undefined
        : { cpu: { devices: { virtio_net: { virtio: { queues: [queue] } } } } };
  }
  /** The guest transmits a frame (v86's `net0-send`). */
  guestSends(frame: unknown): void {
    for (const fn of this.listeners.get('net0-send') ?? []) fn(frame);
  }
}

class ManualTimers implements HostTimers {
  readonly pending = new Map<number, () => void>();
  #next = 1;
  set(fn: () => void): unknown {
    const h = this.#next++;
    this.pending.set(h, fn);
    return h;
  }
  clear(h: unknown): void {
    this.pending.delete(h as number);
  }
  /** Runs what is due now (every pending timer), once. */
  fire(): void {
    const due = [...this.pending];
    this.pending.clear();
    for (const [, fn] of due) fn();
  }
}

const frame = (n: number, len = 60): Uint8Array => {
  const f = new Uint8Array(len);
  f[0] = n & 0xff;
  f[1] = n >> 8;
  return f;
};

describe('V86Link', () => {
  it("hands the guest's frames to onReceive and wakes the driver; implausible ones are counted", () => {
    const emu = new FakeV86(8);
    let wakes = 0;
    const link = new V86Link(emu, { wake: () => wakes++, mtu: 1500 });
    const got: Uint8Array[] = [];
    emu.guestSends(frame(1));
    assert.equal(link.stats.rxNoHandler, 1);
    link.onReceive = (f) => got.push(f);
    emu.guestSends(frame(2));
    emu.guestSends(new Uint8Array(10)); // shorter than an Ethernet header
    emu.guestSends(new Uint8Array(1515)); // over MTU 1500 + 14
    emu.guestSends('not a frame');
    assert.deepEqual(
      got.map((f) => f[0]),
      [2],
    );
    assert.equal(wakes, 1);
    assert.equal(link.stats.rxErrors, 3);
    assert.equal(link.stats.rxFrames, 2);
  });

  it('sends at once while the guest has receive buffers posted', () => {
    const emu = new FakeV86(4);
    const timers = new ManualTimers();
    const link = new V86Link(emu, { timers });
    for (let i = 0; i < 4; i++) link.transmit(frame(i));
    assert.equal(emu.guestGot.length, 4);
    assert.equal(link.queued, 0);
    assert.equal(timers.pending.size, 0);
    assert.equal(link.stats.txFrames, 4);
  });

  it('holds frames while the ring is empty and delivers them in order as the guest posts buffers', () => {
    const emu = new FakeV86(2);
    const timers = new ManualTimers();
    const link = new V86Link(emu, { timers });
    for (let i = 0; i < 10; i++) link.transmit(frame(i));
    assert.equal(emu.guestGot.length, 2);
    assert.equal(link.queued, 8);
    assert.equal(emu.cardDropped, 0, 'nothing reached the card without a buffer');
    // The guest reads, posts 3 buffers, and sends an ACK: three more go in, in order.
    emu.posted = 3;
    link.onReceive = () => {};
    emu.guestSends(frame(100));
    assert.equal(emu.guestGot.length, 5);
    assert.equal(link.queued, 5);
    // No transmission from the guest: the retry timer moves the rest as buffers appear.
    emu.posted = 0;
    timers.fire();
    assert.equal(link.queued, 5, 'still no buffers');
    assert.equal(timers.pending.size, 1, 'the retry is armed again');
    emu.posted = 100;
    timers.fire();
    assert.equal(link.queued, 0);
    assert.equal(timers.pending.size, 0, 'no timer once the queue is empty');
    // A frame sent now, with buffers free, goes straight in behind the others.
    link.transmit(frame(10));
    assert.deepEqual(
      emu.guestGot.map((f) => f[0]),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    assert.equal(emu.cardDropped, 0);
    assert.equal(link.stats.txQueued, 8);
  });

  it('drops frames beyond maxQueue and frames over the MTU, counting them', () => {
    const emu = new FakeV86(0);
    const timers = new ManualTimers();
    const link = new V86Link(emu, { timers, maxQueue: 3, mtu: 1000 });
    for (let i = 0; i < 5; i++) link.transmit(frame(i));
    link.transmit(new Uint8Array(1015));
    assert.equal(link.queued, 3);
    assert.equal(link.stats.txDropped, 3);
    emu.posted = 10;
    timers.fire();
    assert.deepEqual(
      emu.guestGot.map((f) => f[0]),
      [0, 1, 2],
    );
  });

  it('without a view of the ring (ne2k, another v86) sends every frame at once', () => {
    const emu = new FakeV86(undefined);
    const timers = new ManualTimers();
    const link = new V86Link(emu, { timers });
    for (let i = 0; i < 50; i++) link.transmit(frame(i));
    assert.equal(emu.guestGot.length, 50);
    assert.equal(link.queued, 0);
    assert.equal(timers.pending.size, 0);
  });

  it('close detaches from the bus, drops what waits and refuses new frames', () => {
    const emu = new FakeV86(0);
    const timers = new ManualTimers();
    const link = new V86Link(emu, { timers });
    link.transmit(frame(1));
    link.transmit(frame(2));
    const got: Uint8Array[] = [];
    link.onReceive = (f) => got.push(f);
    link.close();
    assert.equal(emu.listeners.get('net0-send')?.size, 0);
    assert.equal(timers.pending.size, 0);
    emu.posted = 10;
    link.transmit(frame(3));
    emu.guestSends(frame(4));
    assert.equal(got.length, 0);
    assert.equal(emu.guestGot.length, 0);
    assert.equal(link.stats.txDropped, 3);
    link.close(); // twice is harmless
  });

  it('card 1 uses the net1 events; a bad card number or an object without a bus is EINVAL', () => {
    const emu = new FakeV86(1);
    const link = new V86Link(emu, { card: 1 });
    assert.equal(emu.listeners.get('net1-send')?.size, 1);
    assert.equal(emu.listeners.get('net0-send'), undefined);
    link.transmit(frame(1)); // net1-receive: this fake card is net0, so the frame goes nowhere
    assert.equal(emu.guestGot.length, 0);
    assert.throws(() => new V86Link(emu, { card: -1 }), { code: 'EINVAL' });
    assert.throws(() => new V86Link({} as never), { code: 'EINVAL' });
  });
});
