/**
 * The Node floor: a plain node:http pass-through proxy with a keep-alive agent, nothing else.
 * What any Node gateway costs at least; tollgate is measured against it. Plain JavaScript, run by
 * node itself: under tsx the process had tsx's loader thread and its esbuild child besides (the
 * bench counts a target's children), ~40 MB of RSS that were not the proxy's (87 against 44 MB
 * idle, 104 against 67 MB under wrk).
 *
 *   node bench/targets/plain-proxy.mjs <upstream-port> [port=0]
 */
import { Agent, createServer, request } from 'node:http';

const upstreamPort = Number(process.argv[2]);
const agent = new Agent({ keepAlive: true, maxSockets: 256 });

const server = createServer((req, res) => {
  const headers = { ...req.headers };
  delete headers.connection;
  const up = request(
    { host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers, agent },
    (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    },
  );
  up.on('error', () => res.destroy());
  req.pipe(up);
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.argv[3] ?? 0), '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
process.on('SIGTERM', () => process.exit(0));
