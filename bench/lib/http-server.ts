/**
 * bench/tap-http.ts's server on the kernel: node:http with the transfer routes of
 * `sockstack tap --service http` (src/cli/http-service.ts), so both servers run the same
 * handler. `node --import tsx bench/lib/http-server.ts HOST PORT`; prints "ready".
 */
import http from 'node:http';
import { transferRoute } from '../../src/cli/http-service.ts';

const [host, port] = [process.argv[2] ?? '127.0.0.1', Number(process.argv[3] ?? 8080)];
const server = http.createServer((req, res) => {
  if (!transferRoute(req, res)) res.writeHead(404).end();
});
server.listen(port, host, () => console.log('ready'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
