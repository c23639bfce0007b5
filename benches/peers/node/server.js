// Node.js peer: the built-in `http` module, one process. Node adds `Date` itself.
// Usage: node server.js --port P   (or PORT=P)
'use strict';
const http = require('http');

const i = process.argv.indexOf('--port');
const port = Number(i >= 0 ? process.argv[i + 1] : process.env.PORT || 8080);

const server = http.createServer((req, res) => {
  const q = req.url.indexOf('?');
  const path = q >= 0 ? req.url.slice(0, q) : req.url;
  if (path === '/plaintext') {
    res.writeHead(200, { 'Server': 'node', 'Content-Type': 'text/plain', 'Content-Length': 13 });
    res.end('Hello, World!');
  } else if (path === '/json') {
    const body = JSON.stringify({ message: 'Hello, World!' });
    res.writeHead(200, { 'Server': 'node', 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  } else if (path === '/sleep') {
    const ms = Number(new URLSearchParams(req.url.slice(q + 1)).get('ms')) || 0;
    setTimeout(() => {
      const body = JSON.stringify({ slept_ms: ms });
      res.writeHead(200, { 'Server': 'node', 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    }, ms);
  } else {
    res.writeHead(404, { 'Server': 'node', 'Content-Type': 'text/plain', 'Content-Length': 9 });
    res.end('Not Found');
  }
});
server.listen(port, '127.0.0.1', () => {
  console.log(`node: listening on http://127.0.0.1:${server.address().port}`);
});
