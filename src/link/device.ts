import type { Pollable } from '../time/clock.ts';

/**
 * What a link layer carries: Ethernet frames (no FCS), or bare IP packets
 * (a TUN device, LINKTYPE_RAW) where the first nibble gives the IP version.
 */
export type LinkType = 'ethernet' | 'ip';

/**
 * A network device: the stack's view of one port on a link.
 *
 * Rules every implementation keeps:
 * - `transmit(frame)` takes ownership of `frame`; the caller must not touch it after.
 * - A device never calls `onReceive` synchronously from inside `transmit` (that would
 *   re-enter the sender). Simulated links deliver in `poll`; real links from their
 *   own I/O callbacks.
 * - `onReceive` hands over a frame the receiver may keep.
 */
export interface Device {
  readonly name: string;
  readonly linkType: LinkType;
  /** Largest payload a frame carries (the IP MTU): 1500 for standard Ethernet. */
  readonly mtu: number;
  /**
   * Sends one frame (Ethernet header included when linkType is 'ethernet'). `gsoSize`, only
   * on a device with `gsoMaxSize`: the frame is a TCP super-segment (checksum left out) to be
   * cut into segments of `gsoSize` data bytes wherever real segments are needed (the
   * kernel's skb_shinfo gso_size); a link that carries it whole may deliver it whole.
   */
  transmit(frame: Uint8Array, gsoSize?: number): void;
  /**
   * Set by whoever owns the device (a stack's interface); frames arrive here. A stack's
   * only queues the frame and wakes its driver: the stack processes it in its next `poll`.
   */
  onReceive: ((frame: Uint8Array) => void) | null;
  /**
   * Checksum offload on transmit (the kernel's NETIF_F_HW_CSUM, virtio's VIRTIO_NET_F_CSUM):
   * transport checksums of frames sent here need not be filled in, because the link cannot
   * corrupt them and the far end does not check them (it says `rxChecksumValid`). Absent:
   * false. The stack still fills them in for a datagram it fragments.
   */
  readonly txChecksumOffload?: boolean;
  /**
   * Frames received here arrive intact (the kernel's CHECKSUM_UNNECESSARY, virtio's
   * VIRTIO_NET_HDR_F_DATA_VALID): transport checksums need not be verified, and may be
   * missing. Absent: false.
   */
  readonly rxChecksumValid?: boolean;
  /**
   * Segmentation offload (the kernel's NETIF_F_TSO with gso_max_size, virtio's
   * VIRTIO_NET_F_HOST_TSO4): the largest IP datagram, in bytes, a TCP super-segment sent here
   * may be, above the MTU. Only with `txChecksumOffload`. Absent or 0: frames fit the MTU.
   */
  readonly gsoMaxSize?: number;
  /**
   * Gather on transmit (a NIC's scatter-gather DMA, NETIF_F_SG): a TCP super-segment's payload
   * that lies in a SharedArrayBuffer is not copied into its frame; `transmit` takes it with
   * `takePayload(frame)` (src/wire/gso.ts) and sends it by reference, after the frame's
   * headers; a frame it does not take so it completes with `fillPayload(frame)` before reading
   * it. Only a device that hands the frame to no one else may say so. Absent: false.
   */
  readonly txGather?: boolean;
}

/** A device on a simulated link that also has timed work (delivery, queues). */
export interface SimDevice extends Device, Pollable {}
