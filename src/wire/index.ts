// Pure header codecs: zero-copy views, plain reprs, parse/emit. No state, no I/O.
export * from './address.ts';
export * from './arp.ts';
export * from './checksum.ts';
export * from './error.ts';
export * from './ethernet.ts';
export * from './icmpv4.ts';
export * from './ipv4.ts';
export * from './tcp.ts';
export * from './udp.ts';
