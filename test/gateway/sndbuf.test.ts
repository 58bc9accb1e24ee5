/**
 * SO_SNDBUF on a node socket through setSendBuffer (src/node/sndbuf.ts), which the gateway
 * uses on QEMU's socket: the kernel reports twice what was asked (its bookkeeping), clamped
 * to twice net.core.wmem_max; the socket still carries data both ways afterwards. Skips without
 * python3. A Unix socket in a temporary directory only.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { setSendBuffer } from '../../src/node/sndbuf.ts';
import { hasCommand } from '../kernel/helpers.ts';

it('setSendBuffer raises a connected socket’s SO_SNDBUF, clamped by net.core.wmem_max', async (t) => {
  if (!hasCommand('python3')) return t.skip('python3 is not installed');
  const dir = mkdtempSync(join(tmpdir(), 'gw6-sndbuf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 's.sock');
  const accepted = new Promise<net.Socket>((resolve) => {
    const srv = net.createServer((c) => {
      srv.close();
      resolve(c);
    });
    srv.listen(path);
  });
  const client = net.connect(path);
  t.after(() => client.destroy());
  const server = await accepted;
  t.after(() => server.destroy());
  let heard = '';
  server.on('data', (d) => {
    heard += String(d);
  });
  const wmemMax = existsSync('/proc/sys/net/core/wmem_max')
    ? Number(readFileSync('/proc/sys/net/core/wmem_max', 'utf8'))
    : Number.POSITIVE_INFINITY;
  const want = 1 << 20;
  const got = await setSendBuffer(server, want);
  assert.equal(got, 2 * Math.min(want, wmemMax));
  const small = await setSendBuffer(server, 64 * 1024);
  assert.equal(small, 2 * Math.min(64 * 1024, wmemMax), 'the option is the socket’s: set again, read again');
  // The descriptor the helper used was a copy: ours still works, both ways (spawn stops
  // reading a socket it passes as stdio; setSendBuffer resumes it).
  const data = new Promise<string>((resolve) => client.once('data', (d) => resolve(String(d))));
  server.write('after');
  assert.equal(await data, 'after');
  client.write('back');
  for (let i = 0; i < 200 && heard !== 'back'; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(heard, 'back');
  // Not a socket (or no python): undefined, nothing thrown.
  assert.equal(await setSendBuffer(server, want, 'python3-that-does-not-exist'), undefined);
});
