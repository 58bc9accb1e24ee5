/**
 * Linux TAP (Ethernet frames) and TUN (bare IP packets) devices.
 *
 * `openTap()` opens /dev/net/tun, attaches an interface with TUNSETIFF through a
 * koffi ioctl (no C addon), and makes the fd non-blocking. Reads happen in a
 * worker thread (see tap-worker.ts) that batches frames per wake-up, a large frame
 * (a GSO super-segment) in a buffer of its own that is transferred, not copied.
 * Writes go through a shared ring to a second worker thread (`txRingBytes`), which
 * is woken only when it sleeps; a small frame (an ACK) found the writer idle is
 * written at once on the calling thread instead. A TAP write never blocks for long:
 * the kernel takes the frame into its receive path or drops it. A transmitted
 * frame's buffer goes back to frame-alloc.ts once written or copied.
 *
 * The interface is created in the caller's network namespace. Moving it into
 * another one (`ip link set dev NAME netns NS`) keeps the fd working, so tests
 * create a TAP, move it into a namespace they own, and configure the kernel side
 * there: see netns.ts.
 *
 * Kernel doc: Documentation/networking/tuntap.rst; flags from linux/if_tun.h.
 */

import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { Device, LinkType } from '../link/device.ts';
import { allocFrame, releaseFrame } from '../link/frame-alloc.ts';
import { lendFrame } from '../link/rx-loan.ts';
import { isWireError } from '../wire/error.ts';
import { fillPayload, ipOffset, markSuperSegment, segmentTcp, takePayload } from '../wire/gso.ts';
import {
  emitVirtioNetHdr,
  parseVirtioNetHdr,
  setPartialChecksum,
  setTcpGso,
  transportChecksumValid,
  VIRTIO_NET_HDR_F_DATA_VALID,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_MRG_LEN,
  type VirtioNetHdr,
} from '../wire/virtio-net.ts';
import {
  RING_FORGET,
  RING_GATHER,
  RING_MSG,
  RING_SHARE,
  RING_WRAP,
  TAP_OWN_BUFFER,
  type TapReaderData,
  type TapReaderMessage,
  type TapWriterData,
  type TapWriterFrame,
  type TapWriterShared,
  tapReaderSource,
  tapWriterSource,
  WCTL_ERRORS,
  WCTL_RETRIES,
  WCTL_SLEEPING,
  WCTL_STOP,
  WCTL_TID,
  WCTL_USED,
} from './tap-worker.ts';

const IFF_TUN = 0x0001;
const IFF_TAP = 0x0002;
const IFF_NO_PI = 0x1000;
const IFF_VNET_HDR = 0x4000;
/** _IOR('T', 207, unsigned int): the IFF_* flags this kernel's tun supports. */
const TUNGETFEATURES = 0x800454cf;
/** _IOW('T', 208, unsigned int): TUN_F_* offloads the reader of this fd can take (the value is the argument). */
const TUNSETOFFLOAD = 0x400454d0;
/** _IOW('T', 216, int): size of the virtio_net_hdr in front of every frame (pointer to int). */
const TUNSETVNETHDRSZ = 0x400454d8;
/** _IOW('T', 220, int): the header's fields are little-endian (pointer to int). */
const TUNSETVNETLE = 0x400454dc;
const TUN_F_CSUM = 0x01;
const TUN_F_TSO4 = 0x02;
const TUN_F_TSO6 = 0x04;
/** Frames (with their header) up to this size are written on the stack's thread when the writer is idle. */
const DIRECT_WRITE_MAX = 512;
/** Frames from this size on that are all of their buffer go to the writer thread by transfer, not copy. */
const TRANSFER_MIN = 16 * 1024;
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** _IOW('T', 202, int) */
const TUNSETIFF = 0x400454ca;
const SIOCSIFMTU = 0x8922;
const IFNAMSIZ = 16;
/** struct ifreq: 16-byte name + a 24-byte union (flags is a short at offset 16). */
const IFREQ_SIZE = 40;
const EFD_NONBLOCK = 0o4000;
const EFD_CLOEXEC = 0o2000000;
const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;

/** Errors from opening or configuring a link, shaped like Node's system errors. */
export class LinkError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;
  constructor(code: string, errno: number, syscall: string, message: string) {
    super(`${code}: ${message}`);
    this.name = 'LinkError';
    this.code = code;
    this.errno = errno;
    this.syscall = syscall;
  }
}

export interface TapOptions {
  /** Interface name (at most 15 bytes). Empty or omitted: the kernel picks tapN/tunN. */
  name?: string;
  /** 'tap': Ethernet frames (linkType 'ethernet'); 'tun': IP packets (linkType 'ip'). Default 'tap'. */
  mode?: 'tap' | 'tun';
  /** Sets the interface MTU (before it is moved anywhere). Default: leave the kernel's (1500). */
  mtu?: number;
  /** Frames queued for retry when a write returns EAGAIN; beyond this they are dropped. Default 256. */
  txQueueLimit?: number;
  /** Batches posted by the reader and not yet delivered before it pauses. Default 64. */
  maxInFlight?: number;
  /**
   * Offloads through virtio_net_hdr (IFF_VNET_HDR, TUNSETOFFLOAD): the kernel hands us
   * frames with partial or already-verified checksums and TCP super-segments (GSO) of up to
   * 64 KiB, and fills in the checksums of the frames we send. The device then says
   * `txChecksumOffload` and `rxChecksumValid`. Default true where the kernel supports it;
   * false: plain frames, every checksum computed and checked by the stack.
   */
  offload?: boolean;
  /**
   * With `offload`: the stack's TCP sends super-segments up to 64 KiB (Device.gsoMaxSize) with
   * GSO_TCPV4/V6 headers, which the kernel takes whole (TSO towards the kernel). Default true.
   */
  tso?: boolean;
  /**
   * Write frames from a second worker thread fed through a shared ring (bytes given here;
   * 0: write on the calling thread). Default 8 MiB. The stack's thread then only copies each
   * frame into the ring; the write syscalls, and the kernel's receive work inside them,
   * overlap with it. A full ring queues frames for retry (`txQueueLimit`), then drops.
   */
  txRingBytes?: number;
  /**
   * Lend received super-segments' buffers to the stack and reuse them once TCP has read their
   * data (rx-loan.ts), instead of a fresh 64 KiB buffer per frame. Default false: only for a
   * device whose frames go straight to a Stack (tapStack turns it on), since a consumer that
   * keeps a frame beyond `onReceive` must copy it then.
   */
  lendRx?: boolean;
  /**
   * With `tso`: a super-segment's payload is written from the sender's send ring by reference
   * (Device.txGather) instead of copied into its frame. Default true; false for A/B runs.
   */
  txGather?: boolean;
}

/** Buffers given back by the stack are sent to the reader thread this many at a time. */
const LEND_BATCH = 8;

/** Counters, readable at any time. */
export interface TapStats {
  rxFrames: number;
  rxBytes: number;
  /** Messages from the reader thread (each carries one or more frames). */
  rxBatches: number;
  /** Frames read while `onReceive` was null. */
  rxNoHandler: number;
  txFrames: number;
  txBytes: number;
  /** Writes that returned EAGAIN (or found the writer's ring full) and were queued for retry. */
  txQueued: number;
  /** Writer thread: writes retried after EAGAIN. */
  txRetries: number;
  /** Frames dropped because the retry queue was full, or the device closed. */
  txDropped: number;
  /** Writes that failed with another error (EIO when the link is gone, EINVAL for bad frames). */
  txErrors: number;
  /** Offload: frames sent with NEEDS_CSUM (the kernel fills the checksum in). */
  txCsumOffloaded: number;
  /** Offload: received super-segments (GSO TCP), each delivered whole. */
  rxGso: number;
  /** Offload: TCP super-segments sent whole (GSO_TCPV4/V6: the kernel cuts them, or takes them as GRO would). */
  txGso: number;
  /** txGather: super-segments whose payload was written from the sender's shared send ring, never copied. */
  txGathered: number;
  /** txGather: shared send-ring buffers handed to the writer thread (RING_SHARE). */
  txSharedBuffers: number;
  /** txGather: of those, how many the stack has let go of (collected), and how many the writer was told to drop (RING_FORGET). */
  txSharedFreed: number;
  txSharedForgotten: number;
  /** Offload: received frames whose checksum the kernel left partial (NEEDS_CSUM) or had checked (DATA_VALID). */
  rxCsumTrusted: number;
  /** Offload: received frames with neither flag, whose transport checksum we verified here. */
  rxCsumChecked: number;
  /** Offload: received frames dropped because that verification failed. */
  rxCsumErrors: number;
  /** Offload: received frames dropped because their virtio_net_hdr was malformed or truncated. */
  rxBadHeader: number;
  /** lendRx: receive buffers the stack gave back, for the reader thread to read into again. */
  rxReturned: number;
  /** lendRx: frames the reader thread read into such a buffer instead of a new one. */
  rxReused: number;
}

export interface TapDevice extends Device {
  readonly mode: 'tap' | 'tun';
  /** The interface name the kernel gave (the interface keeps it when moved to another namespace). */
  readonly ifname: string;
  readonly fd: number;
  readonly stats: TapStats;
  /** Whether frames carry a virtio_net_hdr (the `offload` option, where the kernel supports it). */
  readonly offload: boolean;
  /** The TUN_F_* offloads the kernel accepted (TUNSETOFFLOAD); 0 without offload. */
  readonly offloadFlags: number;
  readonly txChecksumOffload: boolean;
  readonly rxChecksumValid: boolean;
  /** 65535 with offload and `tso` (super-segments sent with a GSO virtio_net_hdr), else 0. */
  readonly gsoMaxSize: number;
  /**
   * Linux thread ids of the reader and writer threads (0 until the thread started, or when
   * there is none), for per-thread CPU accounting in /proc/self/task/TID/stat.
   */
  readonly threadIds: { readonly reader: number; readonly writer: number };
  /** Set when the reader stopped because of an error (the interface disappeared). */
  onError: ((err: LinkError) => void) | null;
  readonly closed: boolean;
  /** Stops the reader thread and closes the fd; the kernel deletes a non-persistent interface. */
  close(): Promise<void>;
  /** Lets the process exit while the device is open (like `socket.unref()`). */
  unref(): void;
  ref(): void;
}

interface Libc {
  ioctl: (fd: number, req: number, arg: Buffer) => number;
  /** ioctl whose argument is a value, not a pointer (TUNSETOFFLOAD). */
  ioctlValue: (fd: number, req: number, arg: number) => number;
  eventfd: (init: number, flags: number) => number;
  socket: (domain: number, type: number, proto: number) => number;
  close: (fd: number) => number;
  errno: () => number;
  koffiPath: string;
}

let libcCache: Libc | undefined;

function libc(): Libc {
  if (libcCache) return libcCache;
  const require = createRequire(import.meta.url);
  const koffiPath = require.resolve('koffi');
  const koffi = require(koffiPath) as {
    load(name: string): {
      func(decl: string): (...args: unknown[]) => number;
      func(name: string, ret: string, args: string[]): (...args: unknown[]) => number;
    };
    errno(): number;
  };
  const lib = koffi.load('libc.so.6');
  libcCache = {
    ioctl: lib.func('int ioctl(int fd, unsigned long req, _Inout_ uint8_t *arg)'),
    ioctlValue: lib.func('ioctl', 'int', ['int', 'unsigned long', 'unsigned long']),
    eventfd: lib.func('int eventfd(unsigned int initval, int flags)'),
    socket: lib.func('int socket(int domain, int type, int protocol)'),
    close: lib.func('int close(int fd)'),
    errno: () => koffi.errno(),
    koffiPath,
  };
  return libcCache;
}

const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM',
  2: 'ENOENT',
  13: 'EACCES',
  16: 'EBUSY',
  19: 'ENODEV',
  22: 'EINVAL',
  24: 'EMFILE',
  77: 'EBADFD',
};

function errnoName(n: number): string {
  return ERRNO_NAMES[n] ?? `E${n}`;
}

function ifreq(name: string): Buffer {
  const req = Buffer.alloc(IFREQ_SIZE);
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length >= IFNAMSIZ)
    throw new LinkError(
      'EINVAL',
      22,
      'ioctl',
      `interface name "${name}" is longer than ${IFNAMSIZ - 1} bytes`,
    );
  bytes.copy(req, 0);
  return req;
}

function openTunFd(): number {
  try {
    return fs.openSync('/dev/net/tun', fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const code = err.code ?? 'EIO';
    const errno = Math.abs(err.errno ?? 5);
    if (code === 'ENOENT')
      throw new LinkError(
        code,
        errno,
        'open',
        '/dev/net/tun does not exist (no tun module, or a container without it)',
      );
    if (code === 'EACCES' || code === 'EPERM')
      throw new LinkError(
        code,
        errno,
        'open',
        'no permission to open /dev/net/tun: run as root (or with CAP_NET_ADMIN), or use a persistent TAP created with `ip tuntap add ... user $USER`',
      );
    throw new LinkError(code, errno, 'open', `cannot open /dev/net/tun: ${err.message}`);
  }
}

/** Sets an interface's MTU (in the caller's namespace) with SIOCSIFMTU. */
function setMtu(name: string, mtu: number): void {
  const c = libc();
  const s = c.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) {
    const n = c.errno();
    throw new LinkError(errnoName(n), n, 'socket', 'cannot open a socket to set the MTU');
  }
  try {
    const req = ifreq(name);
    req.writeInt32LE(mtu, 16);
    if (c.ioctl(s, SIOCSIFMTU, req) < 0) {
      const n = c.errno();
      throw new LinkError(errnoName(n), n, 'ioctl', `cannot set MTU ${mtu} on ${name}`);
    }
  } finally {
    c.close(s);
  }
}

/** Whether this kernel's tun driver knows IFF_VNET_HDR (TUNGETFEATURES). */
function tunSupportsVnetHdr(fd: number): boolean {
  const out = Buffer.alloc(4);
  if (libc().ioctl(fd, TUNGETFEATURES, out) < 0) return false;
  return (out.readUInt32LE(0) & IFF_VNET_HDR) !== 0;
}

/**
 * Sets the header size (12: the num_buffers form, as QEMU uses), little-endian fields, and
 * the offloads: checksum plus TCP segmentation where the kernel takes it, else checksum
 * only. Returns the TUN_F_* flags accepted (0: none, frames still carry the header).
 */
function configureVnet(fd: number, ifname: string): number {
  const c = libc();
  const size = Buffer.alloc(4);
  size.writeInt32LE(VIRTIO_NET_HDR_MRG_LEN, 0);
  if (c.ioctl(fd, TUNSETVNETHDRSZ, size) < 0) {
    const n = c.errno();
    throw new LinkError(errnoName(n), n, 'ioctl', `TUNSETVNETHDRSZ failed on ${ifname}`);
  }
  const one = Buffer.alloc(4);
  one.writeInt32LE(1, 0);
  // Older kernels lack TUNSETVNETLE; on a little-endian host the fields are LE anyway.
  c.ioctl(fd, TUNSETVNETLE, one);
  for (const flags of [TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6, TUN_F_CSUM]) {
    if (c.ioctlValue(fd, TUNSETOFFLOAD, flags) >= 0) return flags;
  }
  return 0;
}

/** Opens a TAP or TUN interface. Needs root or CAP_NET_ADMIN (or a persistent device owned by the user). */
export async function openTap(options: TapOptions = {}): Promise<TapDevice> {
  const mode = options.mode ?? 'tap';
  if (mode !== 'tap' && mode !== 'tun')
    throw new LinkError('EINVAL', 22, 'open', `unknown mode ${String(mode)}`);
  const c = libc();
  const req = ifreq(options.name ?? '');
  const fd = openTunFd();
  let wakeFd = -1;
  try {
    // Deviation: offload only where the host is little-endian (every Linux host Node runs
    // on in practice): the header's fields are then native and TUNSETVNETLE is a no-op.
    const vnet = options.offload !== false && HOST_LITTLE_ENDIAN && tunSupportsVnetHdr(fd);
    req.writeUInt16LE((mode === 'tap' ? IFF_TAP : IFF_TUN) | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0), 16);
    if (c.ioctl(fd, TUNSETIFF, req) < 0) {
      const n = c.errno();
      const code = errnoName(n);
      const why =
        code === 'EPERM'
          ? 'not permitted: creating a TAP/TUN interface needs root or CAP_NET_ADMIN'
          : code === 'EBUSY'
            ? `interface ${options.name} is in use by another process`
            : code === 'EINVAL'
              ? `interface ${options.name} exists and is not a ${mode} device`
              : `TUNSETIFF failed`;
      throw new LinkError(code, n, 'ioctl', why);
    }
    const end = req.indexOf(0);
    const ifname = req.toString('utf8', 0, end < 0 || end > IFNAMSIZ ? IFNAMSIZ : end);
    if (options.mtu !== undefined) setMtu(ifname, options.mtu);
    const offloadFlags = vnet ? configureVnet(fd, ifname) : 0;
    wakeFd = c.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wakeFd < 0) {
      const n = c.errno();
      throw new LinkError(errnoName(n), n, 'eventfd', 'cannot create the wake-up eventfd');
    }
    return new TapDeviceImpl(fd, wakeFd, ifname, mode, options, vnet, offloadFlags);
  } catch (e) {
    if (wakeFd >= 0) fs.closeSync(wakeFd);
    fs.closeSync(fd);
    throw e;
  }
}

class TapDeviceImpl implements TapDevice {
  readonly name: string;
  readonly ifname: string;
  readonly linkType: LinkType;
  readonly mode: 'tap' | 'tun';
  readonly mtu: number;
  readonly fd: number;
  readonly #stats: TapStats = {
    rxFrames: 0,
    rxBytes: 0,
    rxBatches: 0,
    rxNoHandler: 0,
    txFrames: 0,
    txBytes: 0,
    txQueued: 0,
    txRetries: 0,
    txDropped: 0,
    txErrors: 0,
    txCsumOffloaded: 0,
    rxGso: 0,
    txGso: 0,
    txGathered: 0,
    txSharedBuffers: 0,
    txSharedFreed: 0,
    txSharedForgotten: 0,
    rxCsumTrusted: 0,
    rxCsumChecked: 0,
    rxCsumErrors: 0,
    rxBadHeader: 0,
    rxReturned: 0,
    rxReused: 0,
  };
  readonly offload: boolean;
  readonly offloadFlags: number;
  readonly txChecksumOffload: boolean;
  readonly rxChecksumValid: boolean;
  readonly gsoMaxSize: number;
  readonly txGather: boolean;
  onReceive: ((frame: Uint8Array) => void) | null = null;
  onError: ((err: LinkError) => void) | null = null;
  #wakeFd: number;
  #worker: Worker;
  #ctl: Int32Array;
  #closed = false;
  #closing: Promise<void> | null = null;
  /** Frames (with their virtio_net_hdr in front when offloading) waiting for a retry. */
  #txQueue: Uint8Array[][] = [];
  /** The header written in front of each frame (writes are synchronous, so one suffices). */
  #txHdrBytes = new Uint8Array(VIRTIO_NET_HDR_MRG_LEN);
  #txHdr: VirtioNetHdr = {
    flags: 0,
    gsoType: VIRTIO_NET_HDR_GSO_NONE,
    hdrLen: 0,
    gsoSize: 0,
    csumStart: 0,
    csumOffset: 0,
    numBuffers: 0,
  };
  #txQueueLimit: number;
  #maxInFlight: number;
  #retry: NodeJS.Immediate | null = null;
  #exited: Promise<void>;
  /** The writer thread and its ring (null: writes on this thread). */
  #writer: Worker | null = null;
  #writerExited: Promise<void> = Promise.resolve();
  #ring: Uint8Array | null = null;
  #ringView: DataView | null = null;
  #wctl: Int32Array | null = null;
  #wpos = 0;
  /** Scratch for a small frame written on this thread, header and frame together. */
  readonly #small = Buffer.alloc(DIRECT_WRITE_MAX);
  /** Where large frames go to the writer thread (their buffers transferred). */
  #port: MessagePort | null = null;
  /** A wake-up of the writer is scheduled (a microtask). */
  #wakePending = false;
  readonly #wakeWriter = (): void => {
    this.#wakePending = false;
    const w = this.#wctl!;
    if (Atomics.load(w, WCTL_SLEEPING) !== 0) Atomics.notify(w, WCTL_USED);
  };
  /** txGather: the ids the writer knows shared send-ring buffers by (RING_SHARE records). */
  readonly #sharedIds = new WeakMap<SharedArrayBuffer, number>();
  #nextSharedId = 1;
  /** Ids of shared buffers this thread has let go of, for RING_FORGET records. */
  #forgotten: number[] = [];
  readonly #sharedGone = new FinalizationRegistry<number>((id) => {
    if (this.#closed) return;
    this.#stats.txSharedFreed++;
    this.#forgotten.push(id);
  });
  /** Bytes a reserved record left unused at the ring's end (#reserve, #publish). */
  #waste = 0;
  /** Write errors seen on this thread (the writer thread counts its own in its ctl). */
  #txErrorsHere = 0;
  /** The reader found the interface gone: writes go on this thread, so errors count at once. */
  #gone = false;
  /** lendRx: the port receive buffers go back to the reader on, and those not yet sent. */
  #lendPort: MessagePort | null = null;
  #returned: ArrayBuffer[] = [];
  readonly #giveBack = (buf: ArrayBuffer): void => {
    if (this.#closed) return;
    this.#stats.rxReturned++;
    const r = this.#returned;
    r.push(buf);
    if (r.length >= LEND_BATCH) {
      this.#lendPort!.postMessage(r, r);
      this.#returned = [];
    }
  };

  constructor(
    fd: number,
    wakeFd: number,
    ifname: string,
    mode: 'tap' | 'tun',
    options: TapOptions,
    vnet: boolean,
    offloadFlags: number,
  ) {
    this.fd = fd;
    this.offload = vnet;
    this.offloadFlags = offloadFlags;
    // Received frames are trusted once checked here (flags 0) or by the kernel; what we send
    // goes out partial only when the kernel took TUN_F_CSUM.
    this.rxChecksumValid = vnet;
    this.txChecksumOffload = (offloadFlags & TUN_F_CSUM) !== 0;
    this.gsoMaxSize = this.txChecksumOffload && options.tso !== false ? 65535 : 0;
    // Super-segments' payloads by reference need the writer thread (which reads them from the
    // sender's shared ring) or writes on this thread (writev from it); either way this device
    // hands frames to no one else.
    this.txGather = this.gsoMaxSize > 0 && options.txGather !== false;
    this.#wakeFd = wakeFd;
    this.ifname = ifname;
    this.name = ifname;
    this.mode = mode;
    this.linkType = mode === 'tap' ? 'ethernet' : 'ip';
    this.mtu = options.mtu ?? 1500;
    this.#txQueueLimit = options.txQueueLimit ?? 256;
    this.#maxInFlight = options.maxInFlight ?? 64;
    const ctl = new SharedArrayBuffer(16);
    this.#ctl = new Int32Array(ctl);
    // Room for the largest frame the kernel can hand us (an MTU raised later with
    // `ip link set mtu` must not truncate reads, nor a 64 KiB GSO super-segment), plus an
    // Ethernet+VLAN header and the virtio_net_hdr.
    const maxFrame = 65535 + 18 + (vnet ? VIRTIO_NET_HDR_MRG_LEN : 0);
    const data: TapReaderData = {
      fd,
      wakeFd,
      koffiPath: libc().koffiPath,
      maxFrame,
      batchBytes: 1 << 20,
      maxInFlight: this.#maxInFlight,
      ctl,
      pollTimeoutMs: 250,
    };
    let transferList: MessagePort[] = [];
    if (options.lendRx) {
      const { port1, port2 } = new MessageChannel();
      port1.unref();
      this.#lendPort = port1;
      data.lent = port2;
      transferList = [port2];
    }
    this.#worker = new Worker(tapReaderSource(), { eval: true, workerData: data, transferList });
    this.#worker.on('message', (m: TapReaderMessage) => this.#onMessage(m));
    this.#exited = new Promise((resolve) => {
      this.#worker.once('exit', () => resolve());
    });
    this.#worker.on('error', (e: Error) => {
      this.#reportError(new LinkError('EIO', 5, 'read', `TAP reader thread failed: ${e.message}`));
    });
    const ringBytes = options.txRingBytes ?? 8 << 20;
    if (ringBytes > 0) {
      const ring = new SharedArrayBuffer(Math.max(ringBytes, 2 * (maxFrame + 8)) & ~3);
      const wctl = new SharedArrayBuffer(24);
      this.#ring = new Uint8Array(ring);
      this.#ringView = new DataView(ring);
      this.#wctl = new Int32Array(wctl);
      // Large frames travel to the writer by message, their buffers transferred; written,
      // they come back in batches for the stack's next frames (frame-alloc.ts).
      const { port1, port2 } = new MessageChannel();
      port1.on('message', (bufs: ArrayBuffer[]) => this.#reclaim(bufs));
      port1.unref();
      this.#port = port1;
      const wdata: TapWriterData = {
        port: port2,
        fd,
        koffiPath: libc().koffiPath,
        ring,
        ctl: wctl,
        idleTimeoutMs: 250,
        shortWaits: 20,
        shortWaitMs: 0.05,
      };
      const writer = new Worker(tapWriterSource(), { eval: true, workerData: wdata, transferList: [port2] });
      this.#writer = writer;
      this.#writerExited = new Promise((resolve) => {
        writer.once('exit', () => resolve());
      });
      writer.on('error', (e: Error) => {
        this.#reportError(new LinkError('EIO', 5, 'write', `TAP writer thread failed: ${e.message}`));
      });
    }
  }

  get stats(): TapStats {
    const st = this.#stats;
    st.rxReused = Atomics.load(this.#ctl, 3);
    const w = this.#wctl;
    if (w !== null) {
      st.txErrors = this.#txErrorsHere + Atomics.load(w, WCTL_ERRORS);
      st.txRetries = Atomics.load(w, WCTL_RETRIES);
    }
    return st;
  }

  /** Buffers of frames the writer thread has written, back for reuse. */
  #reclaim(bufs: ArrayBuffer[]): void {
    for (const b of bufs) releaseFrame(new Uint8Array(b));
  }

  get threadIds(): { reader: number; writer: number } {
    const w = this.#wctl;
    return { reader: Atomics.load(this.#ctl, 2), writer: w === null ? 0 : Atomics.load(w, WCTL_TID) };
  }

  get closed(): boolean {
    return this.#closed;
  }

  #onMessage(m: TapReaderMessage): void {
    if (m.type === 'error') {
      this.#gone = true;
      const code = ERRNO_NAMES[m.errno] ?? m.code;
      const why =
        code === 'EBADFD'
          ? `interface ${this.ifname} is gone (deleted, or its network namespace was deleted)`
          : `reading ${this.ifname} failed: ${m.message}`;
      this.#reportError(new LinkError(code, m.errno, 'read', why));
      return;
    }
    const ctl = this.#ctl;
    // The reader waits only when it has as many batches in flight as it may.
    if (Atomics.sub(ctl, 1, 1) >= this.#maxInFlight) Atomics.notify(ctl, 1);
    if (this.#closed) return;
    const st = this.#stats;
    st.rxBatches++;
    const lens = m.lens;
    const buf = m.data;
    const own = m.own;
    let off = 0;
    let j = 0;
    const vnet = this.offload;
    for (let i = 0; i < lens.length; i++) {
      const len = lens[i];
      let frame: Uint8Array;
      if (len < TAP_OWN_BUFFER) {
        frame = new Uint8Array(buf, off, len);
        off += len;
      } else {
        frame = new Uint8Array(own[j++], 0, len - TAP_OWN_BUFFER);
        // Its buffer is all of this frame and the reader keeps none of it: lent (rx-loan.ts).
        if (this.#lendPort !== null) lendFrame(frame, this.#giveBack);
      }
      if (vnet) {
        const f = this.#fromVnet(frame, len >= TAP_OWN_BUFFER);
        if (f === undefined) continue;
        frame = f;
      }
      st.rxFrames++;
      st.rxBytes += frame.length;
      const rx = this.onReceive;
      if (rx === null || this.#closed) st.rxNoHandler++;
      else rx(frame);
    }
  }

  /**
   * Takes the virtio_net_hdr off a received frame. NEEDS_CSUM (the kernel's CHECKSUM_PARTIAL:
   * the sender left the checksum for a device to fill in, and the bytes never crossed a wire)
   * and DATA_VALID (CHECKSUM_UNNECESSARY) frames are trusted as the kernel trusts them; a frame
   * with neither is checked here, so the stack may trust every frame this device delivers. A
   * GSO super-segment is delivered whole: its IP header already describes the whole of it.
   */
  #fromVnet(msg: Uint8Array, ownBuffer: boolean): Uint8Array | undefined {
    const st = this.#stats;
    const h = parseVirtioNetHdr(msg, VIRTIO_NET_HDR_MRG_LEN);
    if (isWireError(h)) {
      st.rxBadHeader++;
      return undefined;
    }
    const frame = msg.subarray(VIRTIO_NET_HDR_MRG_LEN);
    if (h.gsoType !== VIRTIO_NET_HDR_GSO_NONE) {
      st.rxGso++;
      // Its gso size travels with its buffer (when the frame has one of its own), as the
      // kernel's skb_shinfo: TCP counts the segments it stands for, and a router forwarding
      // it to a smaller MTU cuts it into them instead of fragmenting it.
      if (ownBuffer && h.gsoSize > 0) markSuperSegment(frame, h.gsoSize);
    }
    if ((h.flags & (VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID)) !== 0) st.rxCsumTrusted++;
    else {
      st.rxCsumChecked++;
      if (!transportChecksumValid(frame, this.linkType)) {
        st.rxCsumErrors++;
        return undefined;
      }
    }
    return frame;
  }

  #reportError(err: LinkError): void {
    if (this.#closed) return;
    const h = this.onError;
    if (h) h(err);
  }

  transmit(frame: Uint8Array, gsoSize?: number): void {
    const st = this.#stats;
    if (this.#closed) {
      st.txDropped++;
      return;
    }
    let parts: Uint8Array[];
    if (this.offload) {
      const hdr = this.#txHdr;
      // With txChecksumOffload the stack left every whole TCP/UDP datagram's checksum out (0);
      // the kernel fills it in from NEEDS_CSUM. Without it, or for a datagram forwarded with
      // the checksum it came with, the frame goes as it is (setPartialChecksum).
      if (this.txChecksumOffload && setPartialChecksum(frame, this.linkType, hdr, gsoSize !== undefined)) {
        st.txCsumOffloaded++;
        // A TCP super-segment (TSO): the kernel takes it whole with its gso_size (tun's
        // virtio_net_hdr_to_skb), and segments it only where a device needs segments.
        if (gsoSize !== undefined && setTcpGso(frame, this.linkType, hdr, gsoSize)) st.txGso++;
      } else {
        hdr.flags = 0;
        if (gsoSize !== undefined) {
          // Not a super-segment the kernel could take: its segments, checksums filled in.
          const at = ipOffset(frame, this.linkType);
          const segs = at < 0 ? null : segmentTcp(frame, at, gsoSize, true, allocFrame);
          if (segs === null) st.txDropped++;
          else for (const s of segs) this.transmit(s);
          releaseFrame(frame);
          return;
        }
      }
      const hb = this.#txQueue.length > 0 ? new Uint8Array(VIRTIO_NET_HDR_MRG_LEN) : this.#txHdrBytes;
      emitVirtioNetHdr(hdr, hb, 0, VIRTIO_NET_HDR_MRG_LEN);
      // A super-segment whose payload stayed in the sender's shared send ring (txGather):
      // written after the headers by reference. Any other frame is complete before it is
      // read (a super-segment that fits the MTU comes without its gso size: filled in here).
      const tail =
        gsoSize !== undefined && this.txGather && this.#txQueue.length === 0 ? takePayload(frame) : null;
      if (tail !== null) {
        st.txGathered++;
        parts = [hb, frame.subarray(0, frame.length - tail.length), tail];
      } else {
        fillPayload(frame);
        parts = [hb, frame];
      }
    } else parts = [frame];
    if (this.#txQueue.length > 0) {
      this.#enqueue(parts);
      return;
    }
    // Written (or copied into the writer's ring): the frame's buffer may serve the next one.
    if (this.#write(parts, false)) releaseFrame(frame);
  }

  /**
   * Copies a frame (its parts back to back) into the writer's ring and wakes the writer.
   * False when the ring has no room for it now. Three parts (vnet header, headers, payload):
   * a gathered super-segment, whose payload the writer reads from the sender's shared ring.
   */
  #ringPut(parts: Uint8Array[]): boolean {
    if (this.#forgotten.length > 0) this.#putForgotten();
    if (parts.length === 3) return this.#ringPutGather(parts[0], parts[1], parts[2]);
    const ring = this.#ring!;
    const view = this.#ringView!;
    const frame = parts[parts.length - 1];
    const buf = frame.buffer;
    // A large frame that is all of its buffer (a super-segment from frame-alloc.ts) is
    // transferred, not copied: the device owns it, so nothing else refers to it.
    const transfer =
      frame.length >= TRANSFER_MIN &&
      frame.byteOffset === 0 &&
      buf instanceof ArrayBuffer &&
      frame.byteLength === buf.byteLength;
    let len = 0;
    if (!transfer) for (const p of parts) len += p.length;
    const need = transfer ? 4 : 4 + ((len + 3) & ~3);
    const at = this.#reserve(need);
    if (at < 0) return false;
    if (transfer) {
      const port = this.#port!;
      const m: TapWriterFrame = { buf: buf as ArrayBuffer, head: parts.length > 1 ? parts[0] : null };
      port.postMessage(m, [buf as ArrayBuffer]);
      view.setUint32(at, RING_MSG, true);
      // Buffers the writer has given back are taken here at once, not when this thread next
      // gets to its messages: the stack's next frames come from them, not from new buffers.
      for (let i = 0; i < 64; i++) {
        const back = receiveMessageOnPort(port);
        if (back === undefined) break;
        this.#reclaim(back.message as ArrayBuffer[]);
      }
    } else {
      view.setUint32(at, len, true);
      let o = at + 4;
      for (const p of parts) {
        ring.set(p, o);
        o += p.length;
      }
    }
    this.#publish(at, need);
    return true;
  }

  /**
   * A gathered super-segment's record: [RING_GATHER][head length][buffer id][offset][length],
   * then the vnet header and the frame's headers; the writer writes those and the payload,
   * which it reads from the shared buffer it was given under that id (RING_SHARE, once per
   * buffer). The payload is not copied on this thread at all.
   */
  #ringPutGather(hb: Uint8Array, head: Uint8Array, payload: Uint8Array): boolean {
    const sab = payload.buffer as SharedArrayBuffer;
    let id = this.#sharedIds.get(sab);
    if (id === undefined) {
      const at = this.#reserve(4);
      if (at < 0) return false;
      id = this.#nextSharedId++;
      const m: TapWriterShared = { sab, id };
      this.#port!.postMessage(m);
      this.#ringView!.setUint32(at, RING_SHARE, true);
      this.#publish(at, 4);
      this.#stats.txSharedBuffers++;
      this.#sharedIds.set(sab, id);
      // Once this thread lets go of the buffer (the ring grew, or the connection ended), no
      // record refers to it any more: the writer drops it too (RING_FORGET).
      this.#sharedGone.register(sab, id);
    }
    const hl = hb.length + head.length;
    const need = 20 + ((hl + 3) & ~3);
    const at = this.#reserve(need);
    if (at < 0) return false;
    const view = this.#ringView!;
    view.setUint32(at, RING_GATHER, true);
    view.setUint32(at + 4, hl, true);
    view.setUint32(at + 8, id, true);
    view.setUint32(at + 12, payload.byteOffset, true);
    view.setUint32(at + 16, payload.length, true);
    const ring = this.#ring!;
    ring.set(hb, at + 20);
    ring.set(head, at + 20 + hb.length);
    this.#publish(at, need);
    return true;
  }

  /** RING_FORGET records for shared buffers this thread has let go of (as many as fit now). */
  #putForgotten(): void {
    const f = this.#forgotten;
    while (f.length > 0) {
      const at = this.#reserve(8);
      if (at < 0) return;
      this.#ringView!.setUint32(at, RING_FORGET, true);
      this.#ringView!.setUint32(at + 4, f.pop()!, true);
      this.#publish(at, 8);
      this.#stats.txSharedForgotten++;
    }
  }

  /**
   * The ring offset for a record of `need` bytes (a multiple of 4), or -1 when the ring has
   * no room for it now; `#publish` then makes it the writer's.
   */
  #reserve(need: number): number {
    const size = this.#ring!.length;
    let at = this.#wpos;
    const waste = size - at < need ? size - at : 0;
    if (Atomics.load(this.#wctl!, WCTL_USED) + waste + need > size) return -1;
    if (waste > 0) {
      // The writer wraps on this marker (or by itself when fewer than 4 bytes are left).
      if (waste >= 4) this.#ringView!.setUint32(at, RING_WRAP, true);
      at = 0;
    }
    this.#waste = waste;
    return at;
  }

  #publish(at: number, need: number): void {
    this.#wpos = at + need >= this.#ring!.length ? 0 : at + need;
    // Publishing the record (Atomics orders the bytes above before it). A writer that may be
    // asleep (the ring was empty) is woken once, after the current task: every frame the stack
    // sends in this poll then costs one wake-up between them, not one each.
    if (Atomics.add(this.#wctl!, WCTL_USED, this.#waste + need) === 0 && !this.#wakePending) {
      this.#wakePending = true;
      queueMicrotask(this.#wakeWriter);
    }
  }

  /** Returns false when the write would block (the frame was queued or dropped). */
  #write(parts: Uint8Array[], fromQueue: boolean): boolean {
    const st = this.#stats;
    if (this.#ring !== null && !this.#gone) {
      // A small frame (an ACK) while the writer has nothing left to write goes out from here:
      // one short write costs less than waking the writer thread for it (the wake-up measured
      // 15-20 µs on the stack's thread alone), and with the ring empty every frame before it
      // has been written, so the order holds.
      if (
        !fromQueue &&
        parts.length <= 2 &&
        (parts.length === 1 ? parts[0].length : parts[0].length + parts[1].length) <= DIRECT_WRITE_MAX &&
        Atomics.load(this.#wctl!, WCTL_USED) === 0
      )
        return this.#writeHere(parts, fromQueue);
      const bytes = parts.length === 3 ? parts[1].length + parts[2].length : parts[parts.length - 1].length;
      if (this.#ringPut(parts)) {
        st.txFrames++;
        st.txBytes += bytes;
        return true;
      }
      if (!fromQueue) {
        if (parts.length > 1) parts[0] = parts[0].slice();
        this.#enqueue(parts);
      }
      return false;
    }
    return this.#writeHere(parts, fromQueue);
  }

  /** Writes one frame on this thread; false when the write would block (the frame was queued). */
  #writeHere(parts: Uint8Array[], fromQueue: boolean): boolean {
    const st = this.#stats;
    try {
      // One write per frame (a TAP write is one frame); header and frame gathered by writev,
      // or copied together first when small (one plain write is cheaper than a writev).
      let n: number;
      if (parts.length === 1) n = fs.writeSync(this.fd, parts[0]);
      else if (parts.length === 2 && parts[0].length + parts[1].length <= DIRECT_WRITE_MAX) {
        const b = this.#small;
        b.set(parts[0], 0);
        b.set(parts[1], parts[0].length);
        n = fs.writeSync(this.fd, b, 0, parts[0].length + parts[1].length);
      } else n = fs.writevSync(this.fd, parts);
      st.txFrames++;
      st.txBytes += parts.length === 1 ? n : n - VIRTIO_NET_HDR_MRG_LEN;
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN' || code === 'EWOULDBLOCK') {
        if (!fromQueue) {
          // The shared header buffer is reused by the next write: queue a copy.
          if (parts.length > 1) parts[0] = parts[0].slice();
          this.#enqueue(parts);
        }
        return false;
      }
      this.#txErrorsHere++;
      st.txErrors++;
      return true;
    }
  }

  #enqueue(frame: Uint8Array[]): void {
    if (this.#txQueue.length >= this.#txQueueLimit) {
      this.#stats.txDropped++;
      return;
    }
    this.#stats.txQueued++;
    this.#txQueue.push(frame);
    if (this.#retry === null) this.#retry = setImmediate(() => this.#drain());
  }

  #drain(): void {
    this.#retry = null;
    const q = this.#txQueue;
    let i = 0;
    while (i < q.length && !this.#closed) {
      if (!this.#write(q[i], true)) break;
      releaseFrame(q[i][q[i].length - 1]);
      i++;
    }
    q.splice(0, i);
    if (q.length > 0 && !this.#closed) this.#retry = setImmediate(() => this.#drain());
  }

  unref(): void {
    this.#worker.unref();
    this.#writer?.unref();
  }

  ref(): void {
    this.#worker.ref();
    this.#writer?.ref();
  }

  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    this.onReceive = null;
    if (this.#retry) clearImmediate(this.#retry);
    this.#retry = null;
    this.#stats.txDropped += this.#txQueue.length;
    this.#txQueue = [];
    const ctl = this.#ctl;
    Atomics.store(ctl, 0, 1);
    Atomics.notify(ctl, 1);
    // Wake the reader out of poll(2) now instead of at its timeout.
    const one = Buffer.alloc(8);
    one.writeBigUInt64LE(1n);
    try {
      fs.writeSync(this.#wakeFd, one);
    } catch {
      // The eventfd counter cannot overflow from one write; ignore.
    }
    const wctl = this.#wctl;
    if (wctl !== null) {
      // The writer sends what is already in its ring, then stops.
      Atomics.store(wctl, WCTL_STOP, 1);
      Atomics.notify(wctl, WCTL_USED);
    }
    this.#closing = Promise.all([this.#exited, this.#writerExited]).then(() => {
      // Close only after the reader is gone, so it never reads a reused fd number.
      this.#port?.close();
      this.#lendPort?.close();
      fs.closeSync(this.fd);
      fs.closeSync(this.#wakeFd);
    });
    return this.#closing;
  }
}
