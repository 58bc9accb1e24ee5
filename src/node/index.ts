// sockstack/node: Node-only adapters — the OS socket backend, TAP/TUN, QEMU/UDP links, pcap files.
export * from './links.ts';
export * from './pcap-file.ts';
export * from './socket.ts';
