/** Runs every example on the OS backend over loopback, as separate processes. */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, describe, it } from 'node:test';
import { osBackend } from '../../src/node/os-backend.ts';
import { AF_INET, SOCK_STREAM } from '../../src/socket/constants.ts';
import { Socket } from '../../src/socket/socket.ts';
import { killChildren, run } from './examples-run.ts';

after(killChildren);

describe('examples on the os backend', () => {
  it('echo-server + echo-client: the course session', async () => {
    const server = run('echo-server.ts', ['--host', '127.0.0.1', '--port', '0']);
    const [, port] = await server.waitFor(/listening on \[ '127\.0\.0\.1', (\d+) \]/);
    const client = run('echo-client.ts', ['--host', '127.0.0.1', '--port', port, 'Hello,', 'world']);
    assert.equal(await client.exited(), 0, client.out());
    assert.match(client.out(), /Received "Hello, world"/);
    assert.equal(await server.exited(), 0, server.out());
    assert.match(server.out(), /Connected by \[ '127\.0\.0\.1', \d+ \]/);
  });

  it('chat-server relays lines between clients', async () => {
    const server = run('chat-server.ts', ['--host', '127.0.0.1', '--port', '0']);
    const [, port] = await server.waitFor(/listening on \[ '127\.0\.0\.1', (\d+) \]/);
    const a = new Socket(osBackend(), AF_INET, SOCK_STREAM);
    const b = new Socket(osBackend(), AF_INET, SOCK_STREAM);
    a.settimeout(10);
    b.settimeout(10);
    try {
      await a.connect(['127.0.0.1', Number(port)]);
      await server.waitFor(/connected 127\.0\.0\.1:\d+/);
      await b.connect(['127.0.0.1', Number(port)]);
      let seen = '';
      for (let i = 0; i < 20 && !seen.includes('joined'); i++)
        seen += new TextDecoder().decode(await a.recv(1024));
      assert.match(seen, /\* 127\.0\.0\.1:\d+ joined/);
      await a.sendall('hi there\n');
      let got = '';
      for (let i = 0; i < 20 && !got.includes('hi there'); i++)
        got += new TextDecoder().decode(await b.recv(1024));
      assert.match(got, /\[127\.0\.0\.1:\d+\] hi there\n/);
    } finally {
      await a.close();
      await b.close();
      server.child.kill();
    }
  });

  it('udp broadcast announcer + listener over 127.255.255.255', async () => {
    const listener = run('udp-broadcast-listener.ts', ['--port', '0', '--count', '2', '--timeout', '10']);
    const [, port] = await listener.waitFor(/listening on \[ '0\.0\.0\.0', (\d+) \]/);
    const announcer = run('udp-broadcast-announcer.ts', [
      '--to',
      '127.255.255.255',
      '--port',
      port,
      '--count',
      '2',
      '--interval',
      '50',
    ]);
    assert.equal(await announcer.exited(), 0, announcer.out());
    assert.match(announcer.out(), /without SO_BROADCAST: sendto EACCES/);
    assert.equal(await listener.exited(), 0, listener.out());
    assert.match(listener.out(), /"announce 1 from .*"[\s\S]*"announce 2 from .*"/);
  });

  it('voice over multicast: two receivers joined on lo each get every RTP frame and report loss and jitter', async () => {
    const r1 = run('voice-receiver.ts', ['--port', '0', '--count', '30', '--timeout', '10']);
    const [, port] = await r1.waitFor(
      /listening on \[ '0\.0\.0\.0', (\d+) \] joined 239\.255\.0\.1 on 127\.0\.0\.1/,
    );
    const r2 = run('voice-receiver.ts', ['--port', port, '--count', '30', '--timeout', '10']);
    await r2.waitFor(/joined 239\.255\.0\.1/);
    const sender = run('voice-sender.ts', ['--port', port, '--count', '30', '--interval', '10']);
    assert.equal(await sender.exited(), 0, sender.out());
    const ssrc = sender
      .out()
      .match(/sent 30 frames of 10 ms \(80 samples, PCMU\) to 239\.255\.0\.1:\d+, ssrc (\d+)/)?.[1];
    assert.ok(ssrc, sender.out());
    for (const r of [r1, r2]) {
      assert.equal(await r.exited(), 0, r.out());
      const m = r
        .out()
        .match(
          /receiver: (\d+) of (\d+) frames from 127\.0\.0\.1:\d+ ssrc (\d+), lost (\d+) \([\d.]+%\), out of order \d+, jitter ([\d.]+) ms/,
        );
      assert.ok(m, r.out());
      // Loopback loses nothing: all 30, and the sequence numbers say 30 were sent.
      assert.deepEqual([m[1], m[2], m[3], m[4]], ['30', '30', ssrc, '0']);
    }
  });

  it('http-get fetches from a local HTTP server', async () => {
    const server = http.createServer((req, res) => {
      res.setHeader('content-type', 'text/plain');
      res.end(`you asked for ${req.url}`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const get = run('http-get.ts', [`http://127.0.0.1:${port}/hello?x=1`]);
      assert.equal(await get.exited(), 0, get.out());
      assert.match(get.out(), /^HTTP\/1\.1 200 OK/m);
      assert.match(get.out(), /you asked for \/hello\?x=1/);
    } finally {
      server.close();
    }
  });

  it('http-server answers http-get (both examples)', async () => {
    const server = run('http-server.ts', ['--host', '127.0.0.1', '--port', '0', '--count', '1']);
    const [, port] = await server.waitFor(/listening on \[ '127\.0\.0\.1', (\d+) \]/);
    const get = run('http-get.ts', [`http://127.0.0.1:${port}/hello?x=1`]);
    assert.equal(await get.exited(), 0, get.out());
    assert.match(get.out(), /^HTTP\/1\.0 200 OK/m);
    assert.match(get.out(), /you asked for \/hello\?x=1 on /);
    assert.equal(await server.exited(), 0, server.out());
    assert.match(server.out(), /GET \/hello\?x=1 from \[ '127\.0\.0\.1', \d+ \]/);
  });

  it('an unknown --backend is a clear error', async () => {
    const r = run('echo-client.ts', ['--backend', 'nope']);
    assert.equal(await r.exited(), 2);
    assert.match(r.out(), /unknown socket backend 'nope' \(registered backends: os, stack\)/);
  });
});
