/**
 * The interface table of a stack: the loopback interface and one per device, their
 * addresses (which addresses are ours, which are broadcast), and their receive
 * queues. A device's `onReceive` only queues the frame here and wakes the driver;
 * the stack takes frames out in `poll` (`pollReceive`), a bounded batch per interface.
 */
import type { Device } from '../link/device.ts';
import { type Ipv4Address, isIpv4Loopback, MAC_ZERO, type MacAddress } from '../wire/address.ts';
import { makeInterfaceAddress, NetInterface } from './interface.ts';
import { RX_QUEUE_DEFAULT } from './rx-queue.ts';
import type { StackStats } from './stats.ts';

export const LOOPBACK_MTU = 65536;
/** Loopback's receive queue bound: nothing paces a local sender, so it is generous. */
export const LOOPBACK_RX_QUEUE = 65536;

export class InterfaceTable {
  /** Every interface, loopback first. */
  readonly list: NetInterface[] = [];
  readonly loopback: NetInterface;
  /** Frames queued on all interfaces. */
  #pending = 0;
  readonly #stats: StackStats;
  readonly #rxCapacity: number;
  /** Called when a frame is queued while none was waiting: the driver should poll soon. */
  onWake: (() => void) | undefined = undefined;

  constructor(stats: StackStats, rxCapacity = RX_QUEUE_DEFAULT) {
    this.#stats = stats;
    this.#rxCapacity = rxCapacity;
    // The loopback interface (RFC 1122 §3.2.1.3: 127/8 "MUST NOT appear outside a host"),
    // up from the start so a stack with no other interface can talk to itself.
    const lo = new NetInterface('lo', 0, null, MAC_ZERO, LOOPBACK_MTU, LOOPBACK_RX_QUEUE);
    lo.addresses.push(makeInterfaceAddress(0x7f000001, 8));
    this.loopback = lo;
    this.list.push(lo);
  }

  /** A new interface on `device`; its `onReceive` queues frames for `pollReceive`. */
  add(name: string, device: Device, mac: MacAddress, mtu: number): NetInterface {
    if (this.get(name)) throw new Error(`interface ${name} already exists`);
    const iface = new NetInterface(name, this.list.length, device, mac.slice(0, 6), mtu, this.#rxCapacity);
    device.onReceive = (frame) => this.enqueue(iface, frame);
    this.list.push(iface);
    return iface;
  }

  get(name: string): NetInterface | undefined {
    return this.list.find((i) => i.name === name);
  }

  /** Frames waiting in receive queues. */
  get pending(): number {
    return this.#pending;
  }

  /** Queues a received frame (or, on loopback, a packet sent to ourselves) on `iface`. */
  enqueue(iface: NetInterface, frame: Uint8Array): void {
    if (!iface.rx.push(frame)) {
      this.#stats.link.rxQueueDrops++;
      return;
    }
    if (this.#pending++ === 0) this.onWake?.();
  }

  /**
   * Takes up to `batch` frames, and up to about `byteBudget` bytes, from each interface's
   * receive queue, oldest first, and hands each to `deliver`. Frames queued meanwhile
   * (loopback replies) wait for the next call. Returns the number of frames taken.
   */
  pollReceive(
    batch: number,
    byteBudget: number,
    deliver: (iface: NetInterface, frame: Uint8Array) => void,
  ): number {
    if (this.#pending === 0) return 0;
    let taken = 0;
    const list = this.list;
    for (let i = 0; i < list.length; i++) {
      const iface = list[i];
      const q = iface.rx;
      let bytes = 0;
      for (let n = Math.min(q.length, batch); n > 0 && bytes < byteBudget; n--) {
        const f = q.shift()!;
        this.#pending--;
        taken++;
        bytes += f.length;
        deliver(iface, f);
      }
    }
    return taken;
  }

  /** Is `a` one of this host's addresses (any interface, loopback range included)? Weak host model (RFC 1122 §3.3.4.2). */
  isLocalAddress(a: Ipv4Address): boolean {
    if (isIpv4Loopback(a)) return this.loopback.up;
    const list = this.list;
    for (let i = 0; i < list.length; i++) if (list[i].up && list[i].hasAddress(a)) return true;
    return false;
  }

  /** Is `a` the limited broadcast or the directed broadcast of one of our subnets? */
  isBroadcastAddress(a: Ipv4Address): boolean {
    if (a === 0xffffffff) return true;
    const list = this.list;
    for (let i = 0; i < list.length; i++) if (list[i].isDirectedBroadcast(a)) return true;
    return false;
  }
}
