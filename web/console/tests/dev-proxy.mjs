// Development stand-in for sms-server's own /console/ serving: serves
// web/console at /console/ and forwards every other request to the API.
// Usage: node dev-proxy.mjs API_URL [PORT]   (prints "listening PORT")
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const api = new URL(process.argv[2] || 'http://127.0.0.1:8080');
const port = Number(process.argv[3] || 0);
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/console') {
    res.writeHead(301, { Location: '/console/' });
    res.end();
    return;
  }
  if (url.pathname.startsWith('/console/')) {
    let rel = decodeURIComponent(url.pathname.slice('/console/'.length)) || 'index.html';
    const file = path.resolve(root, rel);
    if (!file.startsWith(root + path.sep) || rel.includes('node_modules') || rel.startsWith('tests')) {
      res.writeHead(404);
      res.end();
      return;
    }
    fs.readFile(file, (err, data) => {
      if (err) {
        res.writeHead(404);
        res.end();
        return;
      }
      res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream', 'Cache-Control': 'no-cache' });
      res.end(data);
    });
    return;
  }
  const fwd = http.request({
    host: api.hostname, port: api.port, method: req.method, path: req.url, headers: req.headers,
  }, (up) => {
    res.writeHead(up.statusCode, up.headers);
    up.pipe(res);
  });
  fwd.on('error', () => {
    res.writeHead(502);
    res.end();
  });
  req.pipe(fwd);
});
server.listen(port, '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
