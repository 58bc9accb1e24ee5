/**
 * Node's database and SSH clients over sockstack, against real servers: each
 * test starts a Debian-packaged server inside the namespace of a tapStack (the
 * kernel on one side of a TAP, our stack on the other), on the namespace's
 * address, with its data in a temporary directory, and runs a client library
 * whose socket is a sockstack socket (`stackNet(...)`): ioredis against Redis,
 * pg against PostgreSQL, mysql2 against MariaDB, ssh2 against OpenSSH (a
 * throwaway host key and client key). Each makes a real round trip and closes;
 * every server is stopped and its directory removed when the test ends, passed
 * or failed. The README's "Use it with your client" shows the same wiring.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AbstractConnector, Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { Client as SshClient } from 'ssh2';
import { onceWithin } from '../helpers/netns.ts';
import { postgresBin, run, skipWithout, stackHost, startPostgres, startServer, tempDir } from './servers.ts';

describe('Node clients over sockstack against real servers in a namespace', () => {
  it('ioredis → redis-server: SET, GET, INCR, QUIT', async (t) => {
    if (skipWithout(t, 'redis-server', 'redis-server (Debian redis-server)')) return;
    const { h, net } = await stackHost(t);
    const dir = tempDir(t, 'redis');
    const port = 6379;
    await startServer(
      t,
      h,
      'redis-server',
      [
        'redis-server',
        '--port',
        String(port),
        '--bind',
        h.kernelIp,
        '--protected-mode',
        'no',
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'no',
        '--dir',
        dir,
      ],
      /Ready to accept connections/,
    );
    // ioredis takes a Connector class: ours hands it a sockstack socket.
    // (Typed for net.Socket; a StackSocket has the surface ioredis uses.)
    class StackConnector extends AbstractConnector {
      constructor(_options: unknown) {
        super(1000);
      }
      connect(): Promise<Socket> {
        this.connecting = true;
        this.stream = net.connect(port, h.kernelIp) as unknown as Socket;
        return Promise.resolve(this.stream);
      }
    }
    const redis = new Redis({
      Connector: StackConnector,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    t.after(() => redis.disconnect());
    await redis.connect();
    assert.equal(await redis.set('greeting', 'hello over sockstack'), 'OK');
    assert.equal(await redis.get('greeting'), 'hello over sockstack');
    assert.equal(await redis.incr('counter'), 1);
    assert.equal(await redis.incr('counter'), 2);
    const info = await redis.client('INFO');
    // The server saw the stack's address as the client's.
    assert.match(String(info), new RegExp(`addr=${h.stackIp.replaceAll('.', '\\.')}:\\d+`));
    assert.equal(await redis.quit(), 'OK');
  });
  it('pg → PostgreSQL: a parameterised query, a table round trip, end()', async (t) => {
    const bin = postgresBin();
    if (skipWithout(t, bin && join(bin, 'postgres'), 'PostgreSQL (Debian postgresql)')) return;
    const { h, net } = await stackHost(t);
    const port = await startPostgres(t, h, bin as string);
    // pg's `stream` takes a factory; pg calls connect(port, host) on what it returns.
    const client = new pg.Client({
      host: h.kernelIp,
      port,
      user: 'postgres',
      database: 'postgres',
      stream: () => net.socket() as unknown as Socket,
      connectionTimeoutMillis: 10_000,
    });
    let ended = false;
    t.after(async () => {
      if (!ended) await client.end().catch(() => undefined);
    });
    await client.connect();
    const r = await client.query<{ sum: number; greeting: string; addr: string }>(
      "SELECT $1::int + $2::int AS sum, 'hello ' || $3 AS greeting, host(inet_client_addr()) AS addr",
      [40, 2, 'sockstack'],
    );
    assert.deepEqual(r.rows, [{ sum: 42, greeting: 'hello sockstack', addr: h.stackIp }]);
    await client.query('CREATE TABLE t (id int PRIMARY KEY, body text)');
    const body = 'x'.repeat(100_000);
    await client.query('INSERT INTO t SELECT g, $1 FROM generate_series(1, 20) g', [body]);
    const all = await client.query<{ id: number; body: string }>('SELECT id, body FROM t ORDER BY id');
    assert.equal(all.rows.length, 20);
    assert.ok(all.rows.every((row, i) => row.id === i + 1 && row.body === body));
    ended = true;
    await client.end();
  });
  it('mysql2 → MariaDB: a prepared statement, a table round trip, end()', async (t) => {
    if (skipWithout(t, 'mariadbd', 'MariaDB (Debian mariadb-server)')) return;
    if (skipWithout(t, 'mariadb-install-db', 'mariadb-install-db (Debian mariadb-server)')) return;
    const { h, net } = await stackHost(t);
    const dir = tempDir(t, 'mariadb');
    const data = join(dir, 'data');
    await run(h, [
      'mariadb-install-db',
      '--no-defaults',
      `--datadir=${data}`,
      '--user=root',
      '--skip-test-db',
      '--auth-root-authentication-method=normal',
    ]);
    const port = 3306;
    await startServer(
      t,
      h,
      'mariadbd',
      [
        'mariadbd',
        '--no-defaults',
        `--datadir=${data}`,
        '--user=root',
        `--bind-address=${h.kernelIp}`,
        `--port=${port}`,
        `--socket=${join(dir, 'mysqld.sock')}`,
        `--pid-file=${join(dir, 'mysqld.pid')}`,
        '--skip-grant-tables',
        '--skip-name-resolve',
        '--skip-log-bin',
        '--innodb-buffer-pool-size=16M',
      ],
      /ready for connections/,
      { ms: 60_000 },
    );
    // mysql2's `stream` takes a connected socket (or a factory returning one).
    const conn = await mysql.createConnection({
      user: 'root',
      stream: () => net.connect(port, h.kernelIp) as unknown as Socket,
      connectTimeout: 10_000,
    });
    let ended = false;
    t.after(async () => {
      if (!ended) conn.destroy();
    });
    const [rows] = await conn.execute('SELECT ? + ? AS sum, CONCAT(?, ?) AS greeting', [
      40,
      2,
      'hello ',
      'sockstack',
    ]);
    assert.deepEqual(rows, [{ sum: 42, greeting: 'hello sockstack' }]);
    await conn.query('CREATE DATABASE d');
    await conn.query('CREATE TABLE d.t (id INT PRIMARY KEY, body MEDIUMTEXT)');
    const body = 'y'.repeat(100_000);
    for (let i = 1; i <= 20; i++) await conn.execute('INSERT INTO d.t VALUES (?, ?)', [i, body]);
    const [all] = await conn.query('SELECT id, body FROM d.t ORDER BY id');
    const list = all as Array<{ id: number; body: string }>;
    assert.equal(list.length, 20);
    assert.ok(list.every((row, i) => row.id === i + 1 && row.body === body));
    ended = true;
    await conn.end();
  });
  it("ssh2 → OpenSSH sshd: exec('echo hello') with a throwaway key", async (t) => {
    if (skipWithout(t, '/usr/sbin/sshd', 'sshd (Debian openssh-server)')) return;
    if (skipWithout(t, 'ssh-keygen', 'ssh-keygen (Debian openssh-client)')) return;
    const { h, net } = await stackHost(t);
    const dir = tempDir(t, 'sshd');
    const keygen = (file: string): void => {
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'sockstack-test', '-f', file]);
    };
    keygen(join(dir, 'host_key'));
    keygen(join(dir, 'client_key'));
    writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client_key.pub')));
    chmodSync(join(dir, 'authorized_keys'), 0o600);
    const port = 22;
    const config = join(dir, 'sshd_config');
    writeFileSync(
      config,
      [
        `Port ${port}`,
        `ListenAddress ${h.kernelIp}`,
        `HostKey ${join(dir, 'host_key')}`,
        `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
        `PidFile ${join(dir, 'sshd.pid')}`,
        'UsePAM no',
        'StrictModes no',
        'PermitRootLogin prohibit-password',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UseDNS no',
        '',
      ].join('\n'),
    );
    // sshd's privilege-separation directory (made by the Debian service, which we do not run).
    if (!existsSync('/run/sshd')) {
      mkdirSync('/run/sshd', { mode: 0o755 });
      t.after(() => rmSync('/run/sshd', { recursive: true, force: true }));
    }
    await startServer(t, h, 'sshd', ['/usr/sbin/sshd', '-D', '-e', '-f', config], /Server listening on/);
    const client = new SshClient();
    t.after(() => client.end());
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('ssh2: not ready within 15 s')), 15_000);
      client.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
      client.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    // ssh2's `sock` takes a duplex; it waits for 'connect' while the socket is connecting.
    client.connect({
      sock: net.connect(port, h.kernelIp) as unknown as Socket,
      username: 'root',
      privateKey: readFileSync(join(dir, 'client_key')),
      readyTimeout: 15_000,
    });
    await ready;
    const out = await new Promise<{ stdout: string; code: number }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('ssh2 exec: no exit within 15 s')), 15_000);
      client.exec('echo hello; echo "$SSH_CONNECTION"', (err, stream) => {
        if (err) {
          clearTimeout(timer);
          reject(err);
          return;
        }
        let stdout = '';
        let code = -1;
        stream.on('data', (b: Buffer) => {
          stdout += b.toString('utf8');
        });
        stream.stderr.resume();
        stream.on('exit', (c: number) => {
          code = c;
        });
        stream.on('close', () => {
          clearTimeout(timer);
          resolve({ stdout, code });
        });
      });
    });
    assert.equal(out.code, 0);
    const [hello, conn] = out.stdout.split('\n');
    assert.equal(hello, 'hello');
    // sshd saw the stack's address as the client's: "<client ip> <port> <server ip> 22".
    assert.match(
      conn,
      new RegExp(`^${h.stackIp.replaceAll('.', '\\.')} \\d+ ${h.kernelIp.replaceAll('.', '\\.')} ${port}$`),
    );
    const closed = onceWithin(client, 'close', 10_000);
    client.end();
    await closed;
  });
});
