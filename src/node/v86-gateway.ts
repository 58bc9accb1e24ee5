/**
 * A gateway for a v86 guest in Node: the emulator's network card on a V86Link
 * (src/link/v86.ts), a Gateway (src/gateway/gateway.ts) over the OS dialer on it, driven
 * in real time. In a page, build the same from the core: `new V86Link(emulator)`, a
 * `Gateway` with a browser dialer, and a `RealtimeDriver`.
 *
 *   const emulator = new V86({ ..., net_device: { type: 'virtio', mtu: 1500 } });
 *   const gw = startV86Gateway(emulator, { dnsUpstream: { host: '127.0.0.53', port: 53 } });
 *   // the guest: udhcpc, then the world through the host's sockets
 */
import type { Dialer } from '../gateway/dialer.ts';
import { Gateway, type GatewayOptions } from '../gateway/gateway.ts';
import type { Device } from '../link/device.ts';
import { captureDevice } from '../link/pcap.ts';
import { type V86Emulator, V86Link, type V86LinkOptions } from '../link/v86.ts';
import { CryptoRng } from '../rand/rng.ts';
import { OsDialer } from './gateway-dialer.ts';
import { openPcapngFile } from './pcap-file.ts';
import { StackRuntime } from './stack-runtime.ts';

export interface V86GatewayOptions extends Omit<GatewayOptions, 'clock' | 'rng' | 'device' | 'dialer'> {
  /** The link's options (card number, queue); its MTU is the gateway's `mtu` (default 1500). */
  link?: Omit<V86LinkOptions, 'mtu' | 'wake'>;
  /** Write the guest link's frames to a pcapng file. */
  pcap?: string;
  /** Default: the OS (host sockets). */
  dialer?: Dialer;
}

export interface V86Gateway {
  readonly gateway: Gateway;
  readonly link: V86Link;
  statusLine(): string;
  /** Detaches from the emulator (which keeps running) and closes the gateway's flows. */
  close(): void;
}

/**
 * Gives a v86 emulator's guest a network. The MTU (DHCP option 26) defaults to 1500, v86's
 * own: pass the same as the card's `net_device.mtu` when raising it.
 */
export function startV86Gateway(emulator: V86Emulator, o: V86GatewayOptions = {}): V86Gateway {
  const { link: linkOptions, pcap: pcapPath, dialer, ...gwOpts } = o;
  const mtu = o.mtu ?? 1500;
  const runtime = new StackRuntime();
  const link = new V86Link(emulator, { ...linkOptions, mtu });
  const pcap = pcapPath ? openPcapngFile(pcapPath) : undefined;
  const device: Device = pcap ? captureDevice(link, pcap.writer, runtime.clock) : link;
  const ownDialer = dialer === undefined ? new OsDialer() : undefined;
  const gateway = new Gateway({
    ...gwOpts,
    mtu,
    clock: runtime.clock,
    rng: new CryptoRng(),
    device,
    dialer: dialer ?? ownDialer!,
  });
  runtime.addStack(gateway.stack);
  runtime.ref();
  let closed = false;
  return {
    gateway,
    link,
    statusLine: () => gateway.statusLine(),
    close() {
      if (closed) return;
      closed = true;
      link.close();
      gateway.close();
      runtime.unref();
      runtime.stop();
      ownDialer?.pinger?.close();
      pcap?.file.close();
    },
  };
}
