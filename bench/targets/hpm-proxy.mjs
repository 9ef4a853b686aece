/**
 * Reference row: http-proxy-middleware 3 called straight from node:http (no Express), with a
 * keep-alive agent. It documents what the popular proxy library costs over the plain node:http
 * floor, and so why tollgate forwards with node:http itself (src/proxy/forward.ts) instead.
 * Prints `listening <port>` on stdout. Plain JavaScript, run by node itself, like plain-proxy.mjs
 * (under tsx its loader thread and esbuild child counted in the target's RSS).
 *
 *   node bench/targets/hpm-proxy.mjs <upstream-port> [port=0]
 */
import http from 'node:http';
import { createProxyMiddleware } from 'http-proxy-middleware';

const upstreamPort = Number(process.argv[2]);
const proxy = createProxyMiddleware({
  target: `http://127.0.0.1:${upstreamPort}`,
  agent: new http.Agent({ keepAlive: true, maxSockets: 256 }),
  changeOrigin: false,
});
/** @param {unknown} [err] */
const next = (err) => {
  if (err) console.error(err);
};

const server = http.createServer((req, res) => {
  void proxy(req, res, next);
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.argv[3] ?? 0), '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
process.on('SIGTERM', () => process.exit(0));
