/**
 * The link layer of a stack's interfaces: Ethernet framing on output, and on input
 * the demultiplexing of a received frame by EtherType (with one 802.1Q VLAN tag read
 * and untagged traffic only accepted) to the protocol registered for it: ARP, IPv4,
 * and IPv6 later. Raw-IP links (TUN, LINKTYPE_RAW) carry bare packets; the version
 * nibble picks the protocol.
 *
 * Knows nothing of IP addresses: above it are handlers, below it `Device.transmit`.
 */

import { isMacBroadcast, type MacAddress, macEquals } from '../wire/address.ts';
import {
  ETHERNET_HEADER_LEN,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  ETHERTYPE_VLAN,
  VLAN_TAG_LEN,
  writeEthernetHeader,
} from '../wire/ethernet.ts';
import { markSuperSegment } from '../wire/gso.ts';
import type { NetInterface } from './interface.ts';
import type { StackStats } from './stats.ts';

/** A protocol above the link: gets the frame's payload and whether it was a link broadcast. */
export type LinkHandler = (iface: NetInterface, payload: Uint8Array, linkBroadcast: boolean) => void;

export class LinkLayer {
  readonly #stats: StackStats;
  readonly #handlers = new Map<number, LinkHandler>();
  /**
   * The receive filter for Ethernet multicast: each family says whether `iface` listens to
   * the group address `mac` (a group it joined: IPv4's 01:00:5e groups, RFC 1112 §6.4;
   * IPv6's 33:33 ones, RFC 2464 §7). Frames to other multicast addresses are not ours.
   */
  readonly #multicastFilters: ((iface: NetInterface, mac: Uint8Array) => boolean)[] = [];

  constructor(stats: StackStats) {
    this.#stats = stats;
  }

  /** Adds a family's multicast receive filter (see #multicastFilters). */
  addMulticastFilter(accept: (iface: NetInterface, mac: Uint8Array) => boolean): void {
    this.#multicastFilters.push(accept);
  }

  #acceptMulticast(iface: NetInterface, mac: Uint8Array): boolean {
    const f = this.#multicastFilters;
    for (let i = 0; i < f.length; i++) if (f[i](iface, mac)) return true;
    return false;
  }

  /** Frames of `ethertype` (raw-IP links: packets of that IP version) go to `handler`. */
  register(ethertype: number, handler: LinkHandler): void {
    this.#handlers.set(ethertype, handler);
  }

  /**
   * Bytes a packet built in place for `iface` keeps free in front of its network header
   * (the link header: 14 on Ethernet, 0 on loopback and raw-IP links).
   */
  headroom(iface: NetInterface): number {
    return iface.arp !== undefined ? ETHERNET_HEADER_LEN : 0;
  }

  /**
   * A bare IP packet (a raw-IP link, or the loopback queue): the version nibble says which
   * IP; anything else goes to IPv4, which counts it malformed.
   */
  inputIp(iface: NetInterface, packet: Uint8Array): void {
    const h = packet.length > 0 && packet[0] >> 4 === 6 ? this.#handlers.get(ETHERTYPE_IPV6) : undefined;
    (h ?? this.#handlers.get(ETHERTYPE_IPV4))?.(iface, packet, false);
  }

  /** A frame received on `iface` (from its receive queue). */
  input(iface: NetInterface, frame: Uint8Array): void {
    const link = this.#stats.link;
    link.received++;
    if (!iface.up) {
      this.#stats.ip.interfaceDown++;
      return;
    }
    if (iface.device?.linkType === 'ip') {
      this.inputIp(iface, frame);
      return;
    }
    // The Ethernet header is read in place (the checks of parseEthernet, without making
    // its repr and MAC copies for every frame).
    const n = frame.length;
    if (n < ETHERNET_HEADER_LEN) {
      link.malformed++;
      return;
    }
    let ethertype = (frame[12] << 8) | frame[13];
    let hl = ETHERNET_HEADER_LEN;
    let vid = 0;
    if (ethertype === ETHERTYPE_VLAN) {
      if (n < ETHERNET_HEADER_LEN + VLAN_TAG_LEN) {
        link.malformed++;
        return;
      }
      vid = ((frame[14] << 8) | frame[15]) & 0x0fff;
      ethertype = (frame[16] << 8) | frame[17];
      hl += VLAN_TAG_LEN;
    }
    if (ethertype < 0x0600) {
      // IEEE 802.3 length field (LLC/SNAP), not an EtherType.
      link.malformed++;
      return;
    }
    let linkBroadcast = false;
    if (!macEquals(frame, iface.mac)) {
      if (isMacBroadcast(frame)) linkBroadcast = true;
      else if ((frame[0] & 1) === 1 && this.#acceptMulticast(iface, frame)) linkBroadcast = true;
      else {
        // A multicast group not joined; other hosts' unicast (a flooding switch) is not ours.
        link.notForUs++;
        return;
      }
    }
    if (vid !== 0) {
      link.notForUs++;
      return;
    }
    const h = this.#handlers.get(ethertype);
    if (h) h(iface, frame.subarray(hl), linkBroadcast);
    else link.unknownEthertype++;
  }

  /**
   * Puts `payload` in an Ethernet frame to `dst` and transmits it. `frame`, when given,
   * is the buffer `payload` sits in at offset 14: the header is written in front, no copy.
   */
  transmit(
    iface: NetInterface,
    dst: MacAddress,
    ethertype: number,
    payload: Uint8Array | undefined,
    frame?: Uint8Array,
    gsoSize?: number,
  ): void {
    const dev = iface.device;
    if (!dev || !iface.up) {
      this.#stats.ip.interfaceDown++;
      return;
    }
    // (`payload` may be left out when `frame` holds it: no view of it is then made.)
    const len = frame !== undefined ? frame.length - ETHERNET_HEADER_LEN : payload!.length;
    // A TCP super-segment (IP output checked it against the device's gsoMaxSize) is over the MTU.
    if (len > iface.mtu && gsoSize === undefined) {
      this.#stats.link.tooBig++;
      return;
    }
    let out = frame;
    if (out === undefined) {
      payload = payload!;
      out = new Uint8Array(ETHERNET_HEADER_LEN + payload.length);
      out.set(payload, ETHERNET_HEADER_LEN);
      if (gsoSize !== undefined) markSuperSegment(out, gsoSize);
    }
    writeEthernetHeader(out, 0, dst, iface.mac, ethertype);
    this.#stats.link.sent++;
    if (gsoSize === undefined) dev.transmit(out);
    else dev.transmit(out, gsoSize);
  }

  /** Hands a bare IP packet to a raw-IP (TUN) device (`gsoSize`: a super-segment, see Device.transmit). */
  transmitRaw(iface: NetInterface, packet: Uint8Array, gsoSize?: number): void {
    this.#stats.link.sent++;
    if (gsoSize === undefined) iface.device!.transmit(packet);
    else iface.device!.transmit(packet, gsoSize);
  }
}
