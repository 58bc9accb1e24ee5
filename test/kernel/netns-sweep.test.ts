/**
 * Namespaces left by a killed test run are swept: uniqueName() puts the pid in
 * the name, and sweepStaleNetns() deletes `ss<letters><pid>x<n>` namespaces whose
 * process is gone, that hold no process and are old enough; a live owner's
 * namespace, one with a process inside, a fresh one, and names of another shape
 * are kept.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { deleteNetns, ip, nsSpawn, sweepStaleNetns } from '../../src/node/netns.ts';
import { exited, skipUnless } from './helpers.ts';

function names(): string[] {
  return ip(['netns', 'list'])
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter(Boolean);
}

describe('stale namespace sweep', () => {
  it('deletes namespaces of dead processes only', async (t) => {
    if (skipUnless(t)) return;
    // A pid that certainly ran and is certainly gone.
    const dead = spawnSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' });
    const deadPid = Number(dead.stdout.trim());
    // A live process other than us.
    const live = spawn('sleep', ['60'], { stdio: 'ignore' });
    t.after(() => {
      live.kill('SIGKILL');
    });
    const stale = `sssweep${deadPid}x1`;
    const busy = `sssweep${deadPid}x2`;
    const owned = `sssweep${live.pid}x1`;
    const other = `sweeptest${deadPid}`;
    for (const n of [stale, busy, owned, other]) ip(['netns', 'add', n]);
    t.after(() => {
      for (const n of [stale, busy, owned, other]) deleteNetns(n);
    });
    // A process inside `busy` keeps it.
    const inside = nsSpawn(busy, 'sleep', ['60'], { stdio: 'ignore' });
    t.after(async () => {
      inside.kill('SIGKILL');
      await exited(inside, 5000).catch(() => null);
    });
    for (let i = 0; i < 100 && ip(['netns', 'pids', busy]).trim() === ''; i++)
      await new Promise((r) => setTimeout(r, 20));

    // Young namespaces are left alone by default (their owner may be invisible to us).
    assert.ok(!sweepStaleNetns().includes(stale), 'a fresh namespace is not swept by default');
    assert.ok(names().includes(stale));
    const removed = sweepStaleNetns({ minAgeMs: 0 });
    assert.ok(removed.includes(stale), `removed ${removed.join(',')}`);
    const left = names();
    assert.ok(!left.includes(stale), 'the dead process’s empty namespace is gone');
    assert.ok(left.includes(busy), 'a namespace with a process inside stays');
    assert.ok(left.includes(owned), 'a live process’s namespace stays');
    assert.ok(left.includes(other), 'other names are not touched');
  });
});
