// Cylink's reference backend: what the real backend image must do, in one file, so an environment can be
// deployed and load-tested before the real images exist.
//
//   GET /health                 200 {"status":"ok","process":...}   (the target group's health check, port 3001)
//   Socket.IO on /socket.io/    "join" {room} -> ack {process, members}; "chat" {...} -> broadcast to the room
//                               (every process, through Redis) and ack {process, members}
//   plain WebSocket on /ws      the same as JSON frames: {"type":"join","room"} -> {"type":"joined",...};
//                               {"type":"chat","data"} -> {"type":"sent",...}, others get {"type":"chat","data"}
//
// "process" names the task/process the connection landed on, so a load test can tell a message that crossed
// processes (only possible through Redis) from one that stayed on one. "members" is the room's size across
// all processes (a Redis counter): in the join's answer, the joiner's place in the room; in a message's answer
// and in the message as delivered, the size when it was sent -- so the sender knows how many deliveries to
// expect, and a receiver that joined later (place > members) knows it was not counted.
'use strict';

const http = require('node:http');
const os = require('node:os');
const { Server } = require('socket.io');
const { createAdapter } = require('@socket.io/redis-adapter');
const { createClient } = require('redis');
const { WebSocketServer } = require('ws');

const PORT = Number(process.env.PORT || 3001);
const HOST = process.env.HOST || '0.0.0.0';
// Longer than the load balancer's idle timeout (templates_src/loadbalancer.py), so the ALB, not the app, closes
// an idle keep-alive connection: otherwise the ALB can send a request on a socket the app is closing (a 502).
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html#connection-idle-timeout
const KEEP_ALIVE_SECONDS = Number(process.env.KEEP_ALIVE_TIMEOUT_SECONDS || 3605);
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const PROCESS_NAME = process.env.PROCESS_NAME || `${os.hostname()}:${process.pid}`;
const ORIGINS = (process.env.CORS_ORIGIN || '').split(',').filter(Boolean);
const ROOM_KEY_TTL_SECONDS = 86400; // room counters never outlive a day in a shared Redis
// "off" shows the classic mistake (Socket.IO's default in-memory adapter): a broadcast reaches only the
// connections on the same process, and a load test reports the rest as lost (tests/test_loadtest_local.py).
const REDIS_ADAPTER = process.env.SOCKETIO_REDIS_ADAPTER !== 'off';

function redisClient() {
  // ElastiCache: rediss:// (TLS) and the AUTH token from Secrets Manager in REDIS_AUTH_TOKEN.
  const client = createClient({ url: REDIS_URL, password: process.env.REDIS_AUTH_TOKEN || undefined });
  client.on('error', (err) => console.error(`redis: ${err.message}`));
  return client;
}

const roomKey = (room) => `cylink:members:${room}`;

async function joined(redis, room) {
  const members = await redis.incr(roomKey(room));
  await redis.expire(roomKey(room), ROOM_KEY_TTL_SECONDS);
  return members;
}

async function members(redis, room) {
  return Number((await redis.get(roomKey(room))) || 0);
}

function socketIo(server, pub, sub, redis) {
  const io = new Server(server, {
    adapter: REDIS_ADAPTER ? createAdapter(pub, sub) : undefined,
    cors: ORIGINS.length ? { origin: ORIGINS } : undefined,
    destroyUpgrade: false, // /ws upgrades belong to the plain WebSocket server
  });
  io.on('connection', (socket) => {
    socket.on('join', async (msg, ack) => {
      const room = String((msg && msg.room) || 'lobby');
      socket.join(room); // first locally, then counted: a counted member always receives
      socket.data.room = room;
      const n = await joined(redis, room);
      if (typeof ack === 'function') ack({ process: PROCESS_NAME, members: n });
    });
    socket.on('chat', async (msg, ack) => {
      const room = socket.data.room;
      if (!room) return typeof ack === 'function' && ack({ error: 'join a room first' });
      const n = await members(redis, room); // before the broadcast: a later joiner is not expected
      socket.to(room).emit('chat', { ...msg, members: n });
      if (typeof ack === 'function') ack({ process: PROCESS_NAME, members: n });
    });
    socket.on('disconnect', () => {
      if (socket.data.room) redis.decr(roomKey(socket.data.room)).catch(() => {});
    });
  });
  return io;
}

function plainWebSocket(server, pub, sub, redis) {
  const wss = new WebSocketServer({ noServer: true });
  const rooms = new Map(); // room -> Set of this process's clients
  let next = 0;
  server.on('upgrade', (req, socket, head) => {
    if (new URL(req.url, 'http://x').pathname !== '/ws') return;
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws));
  });
  sub.subscribe('cylink:ws', (text) => {
    const { room, from, data } = JSON.parse(text);
    for (const ws of rooms.get(room) || []) if (ws.id !== from) ws.send(JSON.stringify({ type: 'chat', data }));
  });
  wss.on('connection', (ws) => {
    ws.id = `${PROCESS_NAME}#${next++}`;
    ws.alive = true;
    ws.on('pong', () => (ws.alive = true));
    ws.on('message', async (text) => {
      let msg;
      try {
        msg = JSON.parse(text);
      } catch {
        return ws.send(JSON.stringify({ type: 'error', error: 'not JSON' }));
      }
      if (msg.type === 'join') {
        ws.room = String(msg.room || 'lobby');
        if (!rooms.has(ws.room)) rooms.set(ws.room, new Set());
        rooms.get(ws.room).add(ws);
        const n = await joined(redis, ws.room);
        ws.send(JSON.stringify({ type: 'joined', process: PROCESS_NAME, members: n }));
      } else if (msg.type === 'chat' && ws.room) {
        const n = await members(redis, ws.room);
        await pub.publish('cylink:ws', JSON.stringify({ room: ws.room, from: ws.id, data: { ...msg.data, members: n } }));
        ws.send(JSON.stringify({ type: 'sent', process: PROCESS_NAME, members: n }));
      }
    });
    ws.on('close', () => {
      if (!ws.room) return;
      rooms.get(ws.room).delete(ws);
      redis.decr(roomKey(ws.room)).catch(() => {});
    });
  });
  const ping = setInterval(() => {
    for (const ws of wss.clients) {
      if (!ws.alive) ws.terminate();
      ws.alive = false;
      ws.ping();
    }
  }, 30000);
  return { close: () => clearInterval(ping) };
}

async function main() {
  const pub = redisClient();
  const sub = pub.duplicate();
  const wsSub = pub.duplicate();
  const redis = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect(), wsSub.connect(), redis.connect()]);
  const server = http.createServer((req, res) => {
    if (req.url === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ status: 'ok', process: PROCESS_NAME }));
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  });
  server.keepAliveTimeout = KEEP_ALIVE_SECONDS * 1000;
  server.headersTimeout = KEEP_ALIVE_SECONDS * 1000 + 1000; // must exceed keepAliveTimeout
  const io = socketIo(server, pub, sub, redis);
  const ws = plainWebSocket(server, pub, wsSub, redis);
  server.listen(PORT, HOST, () => console.log(`backend ${PROCESS_NAME} listening on ${HOST}:${PORT}`));
  // ECS stops a task with SIGTERM, then SIGKILL after stopTimeout: close the listener and the sockets first.
  process.on('SIGTERM', () => {
    ws.close();
    io.close(() => Promise.allSettled([pub.quit(), sub.quit(), wsSub.quit(), redis.quit()]).then(() => process.exit(0)));
  });
}

main().catch((err) => {
  console.error(`backend failed to start: ${err.message}`);
  process.exit(1);
});
