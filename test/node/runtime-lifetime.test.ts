/**
 * Sockets on virtualNetwork() stacks keep Node alive while a call blocks (issue #18,
 * item 2): a recv() or accept() under settimeout raises TimeoutError, as on the OS
 * backend, instead of the process exiting with code 13 and no message. A child
 * process runs the program, so the test sees its output and exit code.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const root = new URL('../..', import.meta.url).pathname;

test('a pending recv/accept with settimeout on a virtualNetwork stack raises TimeoutError, and the process then exits 0', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sockstack-lifetime-'));
  try {
    const file = join(dir, 'main.mts');
    writeFileSync(
      file,
      `import { AF_INET, SOCK_STREAM, virtualNetwork } from '${root}src/node/index.ts';
const vn = virtualNetwork({ hosts: { a: '10.0.0.1/24', b: '10.0.0.2/24' } });
const srv = vn.stacks.a.socket(AF_INET, SOCK_STREAM);
await srv.bind(['', 7]);
await srv.listen(1);
const cli = vn.stacks.b.socket(AF_INET, SOCK_STREAM);
const accepting = srv.accept();
await cli.connect(['a', 7]);
const [conn] = await accepting;
conn.settimeout(0.3);
try {
  await conn.recv(1024);
  console.log('recv returned');
} catch (e) {
  console.log('recv:', e.name, e.message);
}
srv.settimeout(0.2);
try {
  await srv.accept();
} catch (e) {
  console.log('accept:', e.name, e.message);
}
// A blocking recv with no timeout waits for data that a timer sends later.
setTimeout(() => void cli.sendall('late'), 100).unref();
console.log('late:', new TextDecoder().decode(await conn.recv(10)));
await cli.close();
await conn.close();
await srv.close();
await vn.close();
console.log('done');
`,
    );
    const r = spawnSync(process.execPath, ['--import', 'tsx', file], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(
      r.stdout,
      'recv: TimeoutError timed out\naccept: TimeoutError timed out\nlate: late\ndone\n',
      r.stderr,
    );
    assert.equal(r.status, 0, r.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
