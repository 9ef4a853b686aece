/**
 * `npm run bench:upload` (and the `upload` row of `npm run bench`): a 10 MB transcription upload
 * (a WAV the bench makes) through tollgate against the same upload straight to the upstream:
 * added time per upload, and the gateway process's peak RSS growth per upload in flight, which
 * docs/api.md#images-and-audio bounds by the upload's own size (held in memory until its bound is
 * reserved, never copied whole, let go as it is forwarded). The upstream, in a process of its own,
 * reads and drops the body; the client sends one buffer made before the baseline is taken, so the
 * growth measured is the gateway's.
 *
 *   npm run bench:upload [-- --mb 10] [--rounds 5] [--parallel 4] [--json]
 */
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { parseArgs } from 'node:util';
import { wavFile } from '../test/helpers/audio-files.js';
import { mediaYaml } from '../test/helpers/fake-media.js';
import { startGateway } from '../test/helpers/gateway-harness.js';
import { median } from './lib/stats.js';

const { values } = parseArgs({
  options: {
    mb: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '5' },
    parallel: { type: 'string', default: '4' },
    json: { type: 'boolean', default: false },
  },
});
const mb = Math.max(1, Number(values.mb));
const rounds = Math.max(1, Number(values.rounds));
const parallel = Math.max(1, Number(values.parallel));

/**
 * An upstream that reads and drops the upload, then answers as whisper-1 does. It runs in a
 * process of its own: in this one, the uploads it receives (garbage until a collection) would be
 * counted as the gateway's growth.
 */
const UPSTREAM = `
const server = require('node:http').createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ text: 'ok', usage: { type: 'duration', seconds: 1 } }));
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
`;

async function startDiscardingUpstream(): Promise<{ baseUrl: string; close(): Promise<void> }> {
  const child = spawn(process.execPath, ['-e', UPSTREAM], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()));
    child.once('exit', (code) => reject(new Error(`the bench upstream exited (${code})`)));
  });
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    close: async () => {
      child.kill();
    },
  };
}

function form(file: Buffer): { body: Buffer; contentType: string } {
  const boundary = 'tollgate-bench-upload';
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\nContent-Type: audio/wav\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return {
    body: Buffer.concat([head, file, tail]),
    contentType: `multipart/form-data; boundary=${boundary}`,
  };
}

function upload(url: string, key: string, f: { body: Buffer; contentType: string }): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': f.contentType,
        'content-length': f.body.length,
      },
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () =>
        res.statusCode === 200
          ? resolve(performance.now() - started)
          : reject(new Error(`status ${res.statusCode}`)),
      );
    });
    req.on('error', reject);
    req.end(f.body);
  });
}

const upstream = await startDiscardingUpstream();
const gw = await startGateway({
  yaml: mediaYaml(upstream.baseUrl).replace('daily_usd: 50, rpm: 1000', 'daily_usd: 100000'),
  logLevel: 'warn',
});
const file = form(wavFile((mb * 1024 * 1024) / 32_000));
const key = gw.keys.studio as string;
const direct = `${upstream.baseUrl}/audio/transcriptions`;
const through = `${gw.baseURL}/audio/transcriptions`;

// Peak RSS over the whole run against the RSS before the first upload (the client's buffer is
// already made): RSS rarely shrinks, so a baseline taken after warm-up uploads would hide them.
global.gc?.();
const baseline = process.memoryUsage().rss;
let peak = baseline;
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss);
}, 5);

const directMs: number[] = [];
const gatewayMs: number[] = [];
for (let r = 0; r < rounds; r++) {
  directMs.push(await upload(direct, key, file));
  gatewayMs.push(await upload(through, key, file));
}
// Then `parallel` uploads in flight at once.
await Promise.all(Array.from({ length: parallel }, () => upload(through, key, file)));
clearInterval(sampler);
peak = Math.max(peak, process.memoryUsage().rss);

const result = {
  uploadMb: Number((file.body.length / 1024 / 1024).toFixed(1)),
  rounds,
  directMsMedian: Math.round(median(directMs)),
  gatewayMsMedian: Math.round(median(gatewayMs)),
  addedMsMedian: Math.round(median(gatewayMs.map((g, i) => g - (directMs[i] ?? 0)))),
  parallel,
  rssGrowthMbPerUpload: Number(((peak - baseline) / 1024 / 1024 / parallel).toFixed(1)),
};
await gw.close();
await upstream.close();
if (values.json) console.log(JSON.stringify(result));
else
  console.log(
    `upload ${result.uploadMb} MB: direct ${result.directMsMedian} ms, through tollgate ${result.gatewayMsMedian} ms (added ${result.addedMsMedian} ms, median of ${rounds}); peak RSS growth ${result.rssGrowthMbPerUpload} MB per upload with ${parallel} in flight`,
  );
process.exit(0);
