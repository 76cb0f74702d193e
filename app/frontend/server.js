// Cylink's reference frontend: answers / on 3000 (the target group's health check) with a page that names the
// API it talks to. A stand-in until the real Next.js image exists; no dependencies.
'use strict';

const http = require('node:http');

const PORT = Number(process.env.PORT || 3000);
const HOST = process.env.HOST || '0.0.0.0';
// Longer than the load balancer's idle timeout (templates_src/loadbalancer.py); see ../backend/server.js.
const KEEP_ALIVE_SECONDS = Number(process.env.KEEP_ALIVE_TIMEOUT_SECONDS || 3605);
const API_URL = process.env.NEXT_PUBLIC_API_URL || '';
const escape = (s) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Cylink</title></head>
<body><h1>Cylink</h1><p>Reference frontend. API: <code>${escape(API_URL || '(not set)')}</code></p></body></html>
`;

const server = http.createServer((req, res) => {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' });
    return res.end();
  }
  if (new URL(req.url, 'http://x').pathname !== '/') {
    res.writeHead(404, { 'content-type': 'text/plain' });
    return res.end('not found\n');
  }
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(req.method === 'HEAD' ? undefined : page);
});
server.keepAliveTimeout = KEEP_ALIVE_SECONDS * 1000;
server.headersTimeout = KEEP_ALIVE_SECONDS * 1000 + 1000;
server.listen(PORT, HOST, () => console.log(`frontend listening on ${HOST}:${PORT}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
