// Endpoint server for the kernel differential test. Runs inside a network namespace
// (`ip netns exec NS node server.mjs CONFIG_JSON`). CONFIG_JSON: {"tcp":[port...],"udp":[{"ip":"...","port":N}...]}.
// TCP: listens on 0.0.0.0:port; each connection gets one JSON line {ep, peer} and is closed.
// UDP: one socket per ip:port (so the reply names the address the datagram was sent to).
// Prints "READY" on stdout once every socket is bound; exits when stdin closes.
import net from "node:net"
import dgram from "node:dgram"

const config = JSON.parse(process.argv[2] ?? "{}")
const servers = []
let pending = 0
const done = () => { if (--pending === 0) process.stdout.write("READY\n") }

for (const port of config.tcp ?? []) {
  pending++
  const server = net.createServer((socket) => {
    socket.on("error", () => {})
    const line = JSON.stringify({ ep: `${socket.localAddress}:${socket.localPort}`, peer: `${socket.remoteAddress}:${socket.remotePort}` })
    socket.end(line + "\n")
  })
  server.on("error", (err) => { process.stderr.write(`tcp ${port}: ${err.message}\n`); process.exit(2) })
  server.listen({ port, host: "0.0.0.0", backlog: 1024 }, done)
  servers.push(server)
}
for (const { ip, port } of config.udp ?? []) {
  pending++
  const socket = dgram.createSocket({ type: "udp4" })
  socket.on("error", (err) => { process.stderr.write(`udp ${ip}:${port}: ${err.message}\n`) })
  socket.on("message", (_msg, rinfo) => {
    const line = JSON.stringify({ ep: `${ip}:${port}`, peer: `${rinfo.address}:${rinfo.port}` })
    socket.send(line, rinfo.port, rinfo.address)
  })
  socket.bind({ address: ip, port }, done)
  servers.push(socket)
}
if (pending === 0) process.stdout.write("READY\n")
process.stdin.on("end", () => process.exit(0))
process.stdin.on("close", () => process.exit(0))
process.stdin.resume()
