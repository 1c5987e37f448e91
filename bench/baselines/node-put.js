// The Node floor of a large upload: one file streamed as one PUT with node:http (what `curl -T`
// does), no hashing, no parts. Usage: node node-put.js FILE URL
import { createReadStream, statSync } from 'node:fs';
import { request } from 'node:http';
import { pipeline } from 'node:stream/promises';

const [file, url] = process.argv.slice(2);
const req = request(url, { method: 'PUT', headers: { 'content-length': statSync(file).size } });
const answered = new Promise((resolve, reject) => {
  req.once('response', (res) => {
    res.resume();
    res.once('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
  });
  req.once('error', reject);
});
await pipeline(createReadStream(file, { highWaterMark: 1024 * 1024 }), req);
await answered;
