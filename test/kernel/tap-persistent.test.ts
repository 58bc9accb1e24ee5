/**
 * The way out that openTap's EACCES message offers ("or use a persistent TAP
 * created with `ip tuntap add ... user $USER`") must work: root creates a
 * persistent TAP owned by uid 65534 in a namespace; a process running as
 * nobody opens it by name, receives the kernel's frames, and close() leaves the
 * interface in place (it is not ours to delete).
 *
 * /dev/net/tun is 0600 on some machines (this one), so the child gets its own
 * 0666 node for the same device (char 10,200) on a tmpfs over /dev/net in a
 * private mount namespace; nothing outside the child changes.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createNetns, deleteNetns, ip, nsSpawn, uniqueName } from '../../src/node/netns.ts';
import { bundleForNobody } from '../helpers/nobody.ts';
import { exited, lines, skipUnless } from './helpers.ts';

describe('persistent TAP opened by an unprivileged user', () => {
  it('nobody opens a TAP made with `ip tuntap add ... user 65534`, reads frames; close keeps the interface', async (t) => {
    if (skipUnless(t, ['unshare', 'setpriv', 'ping'])) return;
    // Node must be reachable for uid 65534; this checkout need not be (what the child
    // imports is copied to a directory of its own below).
    const probe = spawnSync(
      'setpriv',
      ['--reuid', '65534', '--regid', '65534', '--clear-groups', process.execPath, '-e', 'process.exit(0)'],
      { cwd: tmpdir(), encoding: 'utf8' },
    );
    if (probe.status !== 0) {
      t.skip(
        `cannot run node as nobody here: ${(probe.stderr || probe.error?.message || '').split('\n')[0]}`,
      );
      return;
    }
    const ns = uniqueName('sspers');
    const ifname = uniqueName('sspt');
    createNetns(ns);
    t.after(() => deleteNetns(ns));
    ip(['tuntap', 'add', 'dev', ifname, 'mode', 'tap', 'user', '65534'], ns);
    ip(['addr', 'add', '10.93.0.1/24', 'dev', ifname], ns);
    ip(['link', 'set', ifname, 'up'], ns);

    const dir = mkdtempSync(join(tmpdir(), 'ss-pers-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    chmodSync(dir, 0o777);
    const script = join(dir, 'probe.mjs');
    await bundleForNobody(new URL('../../src/node/tap.ts', import.meta.url).pathname, dir, 'tap.mjs');
    writeFileSync(
      script,
      `import { openTap } from './tap.mjs';
try {
  const t = await openTap({ name: ${JSON.stringify(ifname)} });
  console.log('OPENED', process.getuid());
  const n = await new Promise((resolve) => {
    let n = 0;
    const timer = setTimeout(() => resolve(n), 10000);
    t.onReceive = () => { if (++n === 2) { clearTimeout(timer); resolve(n); } };
  });
  await t.close();
  console.log('FRAMES', n);
} catch (e) { console.log('ERR', e.code, e.message); }
`,
    );
    chmodSync(script, 0o644);
    // The kernel sends ARP requests for 10.93.0.2 out of the TAP while we listen.
    const ping = nsSpawn(ns, 'ping', ['-c', '40', '-i', '0.25', '10.93.0.2']);
    t.after(() => {
      if (ping.exitCode === null) ping.kill('SIGKILL');
    });
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        ns,
        'unshare',
        '--mount',
        '--propagation',
        'private',
        'sh',
        '-c',
        'mount -t tmpfs none /dev/net && mknod -m 666 /dev/net/tun c 10 200 && exec setpriv --reuid 65534 --regid 65534 --clear-groups "$@"',
        'sh',
        'env',
        `HOME=${dir}`,
        `TMPDIR=${dir}`,
        process.execPath,
        script,
      ],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const out = lines(child, 'probe');
    const m = await out.waitFor(/FRAMES (\d+)|ERR .*/, 30_000);
    assert.equal(await exited(child, 10_000), 0, out.err);
    assert.match(out.out, /OPENED 65534/, out.out + out.err);
    assert.equal(m[1], '2', `frames seen as nobody: ${m[0]}`);
    // Persistent: still there after close(), owned by 65534.
    const link = ip(['-d', 'link', 'show', 'dev', ifname], ns);
    assert.match(link, /tun type tap .*persist on user (65534|nobody)/);
  });
});
