import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import tls from 'node:tls';
import { StackHttpsAgent, stackFetch } from '../../src/node/agents.ts';
import { parseIpv4 } from '../../src/wire/address.ts';
import { SERVER, waitEvent, within, withTwoHosts } from './helpers.ts';

/** A throw-away EC certificate for server.test, or a reason why none could be made. */
function makeCert(): { key: Buffer; cert: Buffer } | string {
  const dir = mkdtempSync(join(tmpdir(), 'sockstack-tls-'));
  try {
    const r = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=server.test',
        '-addext',
        'subjectAltName=DNS:server.test',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { encoding: 'utf8' },
    );
    if (r.error) return `openssl not available: ${r.error.message}`;
    if (r.status !== 0) return `openssl failed: ${r.stderr}`;
    return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const creds = makeCert();
const skip = typeof creds === 'string' ? creds : false;
if (skip) console.log(`# skipping TLS tests: ${skip}`);

test('TLS 1.3 over StackSockets: verified handshake (ca + servername) and a byte-exact echo', {
  skip,
}, async () => {
  const { key, cert } = creds as { key: Buffer; cert: Buffer };
  await withTwoHosts(async (vn) => {
    const server = vn.net('server').createServer((sock) => {
      const t = new tls.TLSSocket(sock, { isServer: true, key, cert, minVersion: 'TLSv1.3' });
      t.on('data', (d: Buffer) => t.write(d));
      t.on('end', () => t.end());
      t.on('error', () => {});
    });
    await waitEvent(server.listen(443), 'listening');
    const socket = vn.net('client').connect(443, SERVER);
    const t = tls.connect({ socket, ca: cert, servername: 'server.test', minVersion: 'TLSv1.3' });
    await waitEvent(t, 'secureConnect');
    assert.equal(t.authorized, true);
    assert.equal(t.getProtocol(), 'TLSv1.3');
    assert.equal(t.getPeerCertificate().subject.CN, 'server.test');

    const data = Buffer.alloc(1 << 20);
    for (let i = 0; i < data.length; i++) data[i] = (i * 131) & 0xff;
    const h = createHash('sha256');
    let n = 0;
    t.on('data', (d: Buffer) => {
      h.update(d);
      n += d.length;
    });
    const ended = waitEvent(t, 'end', 20_000);
    t.write(data);
    await within(
      new Promise<void>((r) => {
        const check = (): void => {
          if (n >= data.length) r();
          else t.once('data', check);
        };
        check();
      }),
      20_000,
      'echo',
    );
    t.end();
    await ended;
    assert.equal(n, data.length);
    assert.equal(h.digest('hex'), createHash('sha256').update(data).digest('hex'));
    server.close();
  });
});

test('TLS: a wrong servername fails verification', { skip }, async () => {
  const { key, cert } = creds as { key: Buffer; cert: Buffer };
  await withTwoHosts(async (vn) => {
    const server = vn.net('server').createServer((sock) => {
      const t = new tls.TLSSocket(sock, { isServer: true, key, cert });
      t.on('error', () => {});
    });
    await waitEvent(server.listen(443), 'listening');
    const t = tls.connect({
      socket: vn.net('client').connect(443, SERVER),
      ca: cert,
      servername: 'other.test',
    });
    const [err] = await waitEvent<[Error & { code?: string }]>(t, 'error');
    assert.equal(err.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
    server.closeAllConnections();
    server.close();
  });
});

test('https.createServer attached to the stack, reached by an https Agent and by fetch', {
  skip,
}, async () => {
  const { key, cert } = creds as { key: Buffer; cert: Buffer };
  await withTwoHosts(async (vn) => {
    const v4 = parseIpv4(SERVER) as number;
    vn.stacks.client.hosts.set('server.test', v4);
    const srv = https.createServer({ key, cert }, (req, res) => {
      const s = req.socket as tls.TLSSocket;
      res.end(`secure ${s.encrypted === true} ${s.getProtocol()} ${req.url}`);
    });
    await vn.net('server').attach(srv, 443);

    const agent = new StackHttpsAgent(vn.net('client'), { ca: cert, keepAlive: true });
    const body = await new Promise<string>((resolve, reject) => {
      https
        .get({ host: 'server.test', port: 443, path: '/agent', agent }, (res) => {
          let b = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            b += d;
          });
          res.on('end', () => resolve(b));
        })
        .on('error', reject);
    });
    assert.equal(body, 'secure true TLSv1.3 /agent');
    agent.destroy();

    const f = await stackFetch(vn.net('client'), { connect: { ca: cert } });
    try {
      const res = await within(f.fetch('https://server.test/fetch'), 10_000, 'https fetch');
      assert.equal(await res.text(), 'secure true TLSv1.3 /fetch');
    } finally {
      await f.close();
    }
    srv.closeAllConnections();
    srv.close();
  });
});
