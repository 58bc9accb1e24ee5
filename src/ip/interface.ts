/**
 * A network interface of a stack: a device (or none, for loopback), a MAC, IPv4
 * addresses with prefixes, an MTU, an up/down flag, its neighbour cache and its
 * receive queue.
 */
import type { Device } from '../link/device.ts';
import { type Ipv4Address, type MacAddress, prefixMask } from '../wire/address.ts';
import type { NeighborCache } from './neighbor.ts';
import { RxQueue } from './rx-queue.ts';

export interface InterfaceAddress {
  readonly address: Ipv4Address;
  readonly prefix: number;
  /** The directed broadcast address of the subnet (undefined for /31 and /32, RFC 3021). */
  readonly broadcast: Ipv4Address | undefined;
}

/** A packet awaiting ARP resolution. */
export interface PendingPacket {
  /** The IP datagram. */
  readonly bytes: Uint8Array;
  /**
   * When set, `bytes` is `frame.subarray(14)` and the 14 bytes in front are ours to
   * fill with the Ethernet header (the frame goes out without a copy).
   */
  readonly frame?: Uint8Array;
}

export class NetInterface {
  readonly name: string;
  readonly index: number;
  /** null for the loopback interface. */
  readonly device: Device | null;
  readonly mac: MacAddress;
  mtu: number;
  up = true;
  addresses: InterfaceAddress[] = [];
  /** The ARP neighbour cache; undefined on loopback and IP-only (TUN) links, which need no resolution. */
  arp: NeighborCache<Ipv4Address, PendingPacket> | undefined;
  /** Frames received and not yet processed (the stack takes them in `poll`). */
  readonly rx: RxQueue;
  /**
   * Datagrams arriving here for any unicast destination are delivered locally, as if the
   * address were ours (Linux: a TPROXY rule with `ip route add local 0.0.0.0/0`). A user-mode
   * gateway terminates the guest's connections to every address this way (src/gateway/).
   */
  transparent = false;
  /**
   * Receive coalescing (src/ip/gro.ts) of this interface's TCP segments, on by default as on
   * Linux (`ethtool -K dev gro off` turns it off there).
   */
  gro = true;

  constructor(
    name: string,
    index: number,
    device: Device | null,
    mac: MacAddress,
    mtu: number,
    rxCapacity: number,
  ) {
    this.name = name;
    this.index = index;
    this.device = device;
    this.mac = mac;
    this.mtu = mtu;
    this.arp = undefined;
    this.rx = new RxQueue(rxCapacity);
  }

  /** The interface index as Linux numbers them (lo is 1): an IPv6 scope id (RFC 4007 §6). */
  get ifindex(): number {
    return this.index + 1;
  }

  get isLoopback(): boolean {
    return this.device === null;
  }

  /** The interface's first address (what it answers ICMP errors from). */
  get primaryAddress(): Ipv4Address | undefined {
    return this.addresses[0]?.address;
  }

  hasAddress(a: Ipv4Address): boolean {
    const list = this.addresses;
    for (let i = 0; i < list.length; i++) if (list[i].address === a) return true;
    return false;
  }

  /** Is `a` the directed broadcast address of one of this interface's subnets? */
  isDirectedBroadcast(a: Ipv4Address): boolean {
    const list = this.addresses;
    for (let i = 0; i < list.length; i++) if (list[i].broadcast === a) return true;
    return false;
  }

  /** The address of ours on the same subnet as `peer`, if any (source selection). */
  addressFor(peer: Ipv4Address): Ipv4Address | undefined {
    for (const x of this.addresses) {
      const m = prefixMask(x.prefix);
      if ((x.address & m) >>> 0 === (peer & m) >>> 0) return x.address;
    }
    return undefined;
  }
}

export function makeInterfaceAddress(address: Ipv4Address, prefix: number): InterfaceAddress {
  const m = prefixMask(prefix);
  return {
    address,
    prefix,
    broadcast: prefix >= 31 ? undefined : ((address & m) | (~m >>> 0)) >>> 0,
  };
}
