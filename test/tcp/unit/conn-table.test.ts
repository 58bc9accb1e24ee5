import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConnTable } from '../../../src/tcp/conn-table.ts';
import type { IpAddress } from '../../../src/wire/address.ts';

const v4 = (n: number): IpAddress => ({ family: 4, v4: n });
const conn = (l: number, lp: number, r: number, rp: number) => ({
  local: { address: v4(l), port: lp },
  remote: { address: v4(r), port: rp },
});

test('ConnTable: finds by the whole 4-tuple, also when port pairs collide across addresses', () => {
  const t = new ConnTable<ReturnType<typeof conn>>();
  const a = conn(1, 65535, 2, 65535); // the highest ports: the packed key's sign bit is set
  const b = conn(1, 65535, 3, 65535); // same ports, another remote address
  const c = conn(4, 65535, 2, 65535); // same ports, another local address
  const d = conn(1, 80, 2, 40000);
  for (const x of [a, b, c, d]) t.add(x);
  assert.equal(t.size, 4);
  assert.equal(t.find(v4(1), 65535, v4(2), 65535), a);
  assert.equal(t.find(v4(1), 65535, v4(3), 65535), b);
  assert.equal(t.find(v4(4), 65535, v4(2), 65535), c);
  assert.equal(t.find(v4(1), 80, v4(2), 40000), d);
  assert.equal(t.find(v4(1), 40000, v4(2), 80), undefined, 'ports are not symmetric');
  assert.equal(t.find(v4(9), 65535, v4(2), 65535), undefined);
  assert.deepEqual(new Set(t.all()), new Set([a, b, c, d]));
  t.remove(b);
  assert.equal(t.find(v4(1), 65535, v4(3), 65535), undefined);
  assert.equal(t.find(v4(1), 65535, v4(2), 65535), a);
  t.remove(b); // twice: no change
  assert.equal(t.size, 3);
  t.remove(a);
  t.remove(c);
  assert.equal(t.find(v4(4), 65535, v4(2), 65535), undefined);
  t.remove(conn(1, 80, 2, 40000)); // an equal tuple but not the stored connection
  assert.equal(t.size, 1);
  t.remove(d);
  assert.equal(t.size, 0);
  assert.deepEqual([...t.all()], []);
});
