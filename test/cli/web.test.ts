// `sockstack web` as a user runs it: --help, usage errors, and a live server that
// serves the page (and nothing else), stopped with SIGTERM.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const args = (a: string[]) => ['--import', 'tsx', 'src/cli/main.ts', 'web', ...a];

test('web --help says what the page does; bad options are usage errors', () => {
  const h = spawnSync(process.execPath, args(['--help']), { cwd: root, encoding: 'utf8' });
  assert.equal(h.status, 0, h.stderr);
  assert.match(h.stdout, /echo session[\s\S]*pcapng[\s\S]*--port PORT/);
  for (const bad of [['--port', '70000'], ['--port', 'x'], ['extra']]) {
    const r = spawnSync(process.execPath, args(bad), { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 2, `${bad.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^sockstack web: .*\nTry 'sockstack web --help'/);
  }
});

test('a running server serves the page, its script and style, 404 for anything else; SIGTERM stops it', {
  timeout: 60_000,
}, async () => {
  const child = spawn(process.execPath, args(['--port', '0']), {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 50_000);
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  const exited = once(child, 'exit');
  try {
    for (let i = 0; i < 600 && !/http:\/\/127\.0\.0\.1:\d+\//.test(out) && child.exitCode === null; i++)
      await new Promise((r) => setTimeout(r, 50));
    const url = /http:\/\/127\.0\.0\.1:\d+\//.exec(out)?.[0];
    assert.ok(url, `no URL printed: ${out}`);
    const page = await fetch(url);
    assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
    const html = await page.text();
    assert.match(html, /<script type="module" src="\.\/page\.js"><\/script>/);
    const js = await fetch(new URL('page.js', url));
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
    const css = await fetch(new URL('style.css', url));
    assert.equal(css.status, 200);
    assert.match(await css.text(), /\.r-title/);
    for (const p of ['nothing.js', '..%2Fpackage.json', 'web/index.html'])
      assert.equal((await fetch(new URL(p, url))).status, 404, p);
    assert.equal((await fetch(url, { method: 'POST' })).status, 405);
  } finally {
    child.kill('SIGTERM');
    const [code] = await exited;
    clearTimeout(killer);
    assert.equal(code, 0);
  }
});
