// Endpoint server for the kernel differential test. Runs inside an endpoint pod's network namespace
// (`ip netns exec NS node server.mjs CONFIG_JSON`).
// CONFIG_JSON: {"ip":"...","ports":[port...],"hopPortBase":N,"hopClasses":K}.
// Listens on ip:port (TCP and UDP) for every port, and on the shadow ports hopPortBase*h + i
// (h = 1..K, i = index of the port) where the namespace's iptables REDIRECTs a packet that arrived
// after h routers (TTL 64 - h; the last class is "h or more").
// TCP: each connection gets one JSON line {ep, peer, hops} and is closed; UDP: one datagram with the
// same JSON back to the sender, from the socket that received it (so conntrack undoes the REDIRECT).
// Prints "READY" on stdout once every socket is bound; exits when stdin closes.
import net from "node:net"
import dgram from "node:dgram"

const config = JSON.parse(process.argv[2] ?? "{}")
const ip = config.ip
const listeners = []
for (const [i, port] of (config.ports ?? []).entries()) {
  listeners.push({ port, reported: port, hops: 0 })
  for (let h = 1; h <= (config.hopClasses ?? 0); h++)
    listeners.push({ port: config.hopPortBase * h + i, reported: port, hops: h })
}
let pending = 0
const done = () => {
  if (--pending === 0) process.stdout.write("READY\n")
}

for (const { port, reported, hops } of listeners) {
  pending += 2
  const server = net.createServer((socket) => {
    socket.on("error", () => {})
    const line = JSON.stringify({ ep: `${ip}:${reported}`, peer: `${socket.remoteAddress}:${socket.remotePort}`, hops })
    socket.end(line + "\n")
  })
  server.on("error", (err) => {
    process.stderr.write(`tcp ${port}: ${err.message}\n`)
    process.exit(2)
  })
  server.listen({ port, host: ip, backlog: 1024 }, done)
  const socket = dgram.createSocket({ type: "udp4" })
  socket.on("error", (err) => {
    process.stderr.write(`udp ${ip}:${port}: ${err.message}\n`)
  })
  socket.on("message", (_msg, rinfo) => {
    const line = JSON.stringify({ ep: `${ip}:${reported}`, peer: `${rinfo.address}:${rinfo.port}`, hops })
    socket.send(line, rinfo.port, rinfo.address)
  })
  socket.bind({ address: ip, port }, done)
}
if (pending === 0) process.stdout.write("READY\n")
process.stdin.on("end", () => process.exit(0))
process.stdin.on("close", () => process.exit(0))
process.stdin.resume()
