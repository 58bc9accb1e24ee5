/**
 * A blocking write(2) and poll(2)'s POLLOUT on a stack socket whose send buffer fills, with
 * the peer's ACKs hand-made at virtual times (packetdrill scripts run by the conformance
 * runner against the stack target). The TCP side of the rule is in test/tcp/send-wake.test.ts.
 *
 * Linux profile (sk_stream_is_writeable): the writer wakes once the free room is half of
 * what is queued; FreeBSD (sowriteable): once 2048 bytes (so_snd.sb_lowat) are free.
 * Deviation (both): the buffer holds SO_SNDBUF bytes of payload; the kernels book skb truesize
 * (Linux, against twice SO_SNDBUF) or mbuf storage, so their wake points fall elsewhere.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runScriptText } from '../../src/conformance/runner.ts';
import { stackTargetFactory } from '../../src/conformance/stack-target.ts';

const OPEN = `
--tolerance_usecs=10000
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
   +0 bind(3, ..., ...) = 0
   +0 listen(3, 1) = 0
  +.1 < S 0:0(0) win 50000 <mss 1000,nop,wscale 0>
   +0 > S. 0:0(0) ack 1 <...>
  +.1 < . 1:1(0) ack 1 win 50000
   +0 accept(3, ..., ...) = 4
   +0 setsockopt(4, SOL_SOCKET, SO_SNDBUF, [21000], 4) = 0
`;

async function run(script: string, dialect: 'linux' | 'freebsd'): Promise<void> {
  const r = await runScriptText(script, stackTargetFactory, { dialect });
  if (r.status !== 'passed') {
    const where = 'line' in r ? ` at line ${r.line}` : '';
    assert.fail(`${r.status}${where}: ${r.status === 'failed' ? r.message : r.reason}`);
  }
}

describe('a full send buffer: blocking write and POLLOUT at the wake point', () => {
  it('Linux: 21000 of a 28000-byte write fit; the ACK leaving 14000 queued (7000 free) lets the rest in, not those before', async () => {
    await run(
      `${OPEN}
// Ten segments leave (IW10); 21000 bytes are queued and the write blocks for 7000 more.
   +0...0.300 write(4, ..., 28000) = 28000
// Queued 18000, 3000 free: FreeBSD's writer would wake, Linux's waits (3000 < 9000).
  +.1 < . 1:1(0) ack 3001 win 50000
// Queued 15000, 6000 free < 7500: still blocked (a quarter free is not enough).
  +.1 < . 1:1(0) ack 6001 win 50000
// Queued 14000, 7000 free = 14000 / 2: sk_stream_is_writeable; the 7000 left fit.
  +.1 < . 1:1(0) ack 7001 win 50000
// Full again; POLLOUT comes back with the ACK that leaves 14000 queued.
   +0 poll([{fd=4, events=POLLOUT, revents=0}], 1, 0) = 0
  +.1 < . 1:1(0) ack 13001 win 50000
   +0 poll([{fd=4, events=POLLOUT, revents=0}], 1, 0) = 0
   +0 < . 1:1(0) ack 14001 win 50000
   +0 poll([{fd=4, events=POLLOUT, revents=POLLOUT}], 1, 0) = 1
`,
      'linux',
    );
  });

  it('FreeBSD: the first ACK that frees 2048 bytes wakes the writer; POLLOUT from 2048 bytes free', async () => {
    await run(
      `${OPEN}
// 21000 of 24000 fit; the write blocks for 3000.
   +0...0.200 write(4, ..., 24000) = 24000
// 2000 free < 2048: still blocked.
  +.1 < . 1:1(0) ack 2001 win 50000
// 3000 free: sbspace >= sb_lowat; the 3000 left fit.
  +.1 < . 1:1(0) ack 3001 win 50000
   +0 poll([{fd=4, events=POLLOUT, revents=0}], 1, 0) = 0
  +.1 < . 1:1(0) ack 5001 win 50000
   +0 poll([{fd=4, events=POLLOUT, revents=0}], 1, 0) = 0
   +0 < . 1:1(0) ack 5049 win 50000
   +0 poll([{fd=4, events=POLLOUT, revents=POLLOUT}], 1, 0) = 1
`,
      'freebsd',
    );
  });
});
