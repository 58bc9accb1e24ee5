import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { wsCreateConnection } from '../../src/node/agents.ts';
import { waitEvent, within, withTwoHosts } from './helpers.ts';

test('ws over the stack: 1000 messages echoed in order (text and binary)', async () => {
  await withTwoHosts(async (vn) => {
    const srv = http.createServer((_req, res) => res.end('not a websocket'));
    const wss = new WebSocketServer({ server: srv });
    const remotes: string[] = [];
    wss.on('connection', (ws, req) => {
      remotes.push(String(req.socket.remoteAddress));
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
    await vn.net('server').attach(srv, 80);

    const ws = new WebSocket('ws://server/echo', { createConnection: wsCreateConnection(vn.net('client')) });
    await waitEvent(ws, 'open');
    const N = 1000;
    const got: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        got.push(isBinary ? `bin:${data.readUInt32LE(0)}:${data.length}` : data.toString());
        if (got.length === N) resolve();
      });
      ws.on('error', reject);
    });
    for (let i = 0; i < N; i++) {
      if (i % 10 === 0) {
        const b = Buffer.alloc(100 + i * 7, i & 0xff);
        b.writeUInt32LE(i, 0);
        ws.send(b);
      } else ws.send(`message ${i}`);
    }
    await within(done, 20_000, 'echoes');
    for (let i = 0; i < N; i++) {
      assert.equal(got[i], i % 10 === 0 ? `bin:${i}:${100 + i * 7}` : `message ${i}`);
    }
    assert.deepEqual(remotes, ['10.0.0.2']);
    const closed = waitEvent<[number, Buffer]>(ws, 'close');
    ws.close(1000, 'bye');
    const [code] = await closed;
    assert.equal(code, 1000);
    wss.close();
    srv.close();
  });
});
