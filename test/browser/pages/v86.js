// A v86 guest in the page, networked by the page: the emulator's virtio card on a V86Link,
// a Gateway (DHCP, DNS forwarder, NAT) on it in the page, and the gateway's way out a
// WispDialer through a Wisp server in Node. Resolves with the guest's console once it
// printed its last line (or after `ms`).
import { CryptoRng, Gateway, RealtimeDriver, V86Link, WispClient, WispDialer } from '/sockstack.js';
import { V86 } from '/v86/libv86.mjs';

const get = async (url) => {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return { buffer: await r.arrayBuffer() };
};

export async function run({ wispUrl, dnsPort, cmdline, ms, done }) {
  const client = await WispClient.connect(wispUrl, { timeoutMs: 5000 });
  const emulator = new V86({
    wasm_path: '/v86/v86.wasm',
    bios: await get('/seabios/bios.bin'),
    vga_bios: await get('/seabios/vgabios-stdvga.bin'),
    bzimage: await get('/guest/vmlinuz'),
    initrd: await get('/guest/initrd.gz'),
    cmdline,
    memory_size: 128 * 1024 * 1024,
    net_device: { type: 'virtio' },
    autostart: true,
    disable_speaker: true,
  });
  const driver = new RealtimeDriver();
  const link = new V86Link(emulator);
  const gw = new Gateway({
    clock: driver.clock,
    rng: new CryptoRng(),
    device: link,
    dialer: new WispDialer(client),
    dnsUpstream: { host: '127.0.0.1', port: dnsPort },
  });
  gw.stack.onWake = () => driver.kick();
  gw.stack.timers.onEarliestChanged = () => driver.kick();
  driver.add(gw.stack);
  let out = '';
  try {
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      emulator.add_listener('serial0-output-byte', (b) => {
        out += String.fromCharCode(b);
        if (b === 10 && new RegExp(done).test(out)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    return { out, link: { ...link.stats }, status: gw.statusLine(), stats: { ...gw.stats } };
  } finally {
    link.close();
    gw.close();
    driver.stop();
    await emulator.destroy();
    client.close();
  }
}
