/**
 * Both families behind one NetworkLayer: what TCP and UDP see on a dual-stack host.
 * Each call goes to the layer of its address's family; protocols register with both;
 * the route generation changes when either family's routes could.
 */
import type { IpAddress } from '../wire/address.ts';
import type {
  IpPacketInfo,
  NetRoute,
  NetworkLayer,
  RouteError,
  SendError,
  SendOptions,
  TransportProtocol,
} from './network.ts';

export class DualNetwork implements NetworkLayer {
  readonly v4: NetworkLayer;
  readonly v6: NetworkLayer;

  constructor(v4: NetworkLayer, v6: NetworkLayer) {
    this.v4 = v4;
    this.v6 = v6;
  }

  #of(a: IpAddress): NetworkLayer {
    return a.family === 6 ? this.v6 : this.v4;
  }

  get defaultTtl(): number {
    return this.v4.defaultTtl;
  }

  get routeGeneration(): number {
    return this.v4.routeGeneration + this.v6.routeGeneration;
  }

  registerProtocol(protocol: number, handler: TransportProtocol): void {
    this.v4.registerProtocol(protocol, handler);
    this.v6.registerProtocol(protocol, handler);
  }

  route(dst: IpAddress, src?: IpAddress, ifname?: string): NetRoute | RouteError {
    return this.#of(dst).route(dst, src, ifname);
  }

  pathMtu(dst: IpAddress): number {
    return this.#of(dst).pathMtu(dst);
  }

  learnPathMtu(dst: IpAddress, mtu: number): number {
    return this.#of(dst).learnPathMtu(dst, mtu);
  }

  maxTransportSize(dst: IpAddress): number {
    return this.#of(dst).maxTransportSize(dst);
  }

  isLocalAddress(a: IpAddress): boolean {
    return this.#of(a).isLocalAddress(a);
  }

  isBroadcastAddress(a: IpAddress): boolean {
    return this.#of(a).isBroadcastAddress(a);
  }

  sendInPlace(
    route: NetRoute,
    opts: SendOptions,
    frame: Uint8Array,
    gsoSize?: number,
  ): SendError | undefined {
    return route.family === 6
      ? this.v6.sendInPlace(route, opts, frame, gsoSize)
      : this.v4.sendInPlace(route, opts, frame, gsoSize);
  }

  portUnreachable(info: IpPacketInfo): void {
    this.#of(info.src).portUnreachable(info);
  }
}
