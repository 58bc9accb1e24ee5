/**
 * The Wisp client in Node: `WispClient.connect` with the `ws` package's WebSocket (Node
 * 20 has no global one), which can also pause, so a slow reader holds the relay back.
 *
 *   const client = await connectWisp('ws://127.0.0.1:8080/');
 *   const sock = new Socket(wispBackend(client), AF_INET, SOCK_STREAM);
 */
import { WebSocket } from 'ws';
import { type ConnectWispOptions, WispClient } from '../wisp/client.ts';

export function connectWisp(url: string, options: ConnectWispOptions = {}): Promise<WispClient> {
  return WispClient.connect(url, { WebSocket, ...options });
}
