// PeerJS server (npm `peer`) as the benchmarks run it: 127.0.0.1 only, the connection cap raised.
//   node bench/peerjs_server.js PORT
// The WebSocket is ws://127.0.0.1:PORT/peerjs?key=peerjs&id=ID&token=TOKEN. Clients send HEARTBEAT
// well inside alive_timeout (90 s), as the PeerJS browser client does every 5 s.
"use strict";
const { PeerServer } = require("peer");

const port = Number(process.argv[2]);
PeerServer(
  { host: "127.0.0.1", port, path: "/", key: "peerjs", concurrent_limit: 50000, alive_timeout: 90000 },
  () => console.log(`peerjs listening on 127.0.0.1:${port}`),
);
