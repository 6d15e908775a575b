// Probe client for the kernel differential test. Runs inside a network namespace
// (`ip netns exec NS node client.mjs`), reads {"waves":[[probe...]...],"concurrency":N} on stdin.
// probe: {"proto":"tcp"|"udp","src":"ip"|null,"sport":N,"dst":"ip","dport":N,"timeoutMs":N}.
// Waves run one after another; probes inside a wave run concurrently (at most `concurrency`).
// Prints one JSON array of results (waves flattened, input order):
// {"outcome":"reply"|"refused"|"timeout"|"unreachable"|"eperm"|"error","code"?,"ep"?,"peer"?}.
import net from "node:net"
import dgram from "node:dgram"

function classify(err) {
  const code = err && err.code
  if (code === "ECONNREFUSED" || code === "ECONNRESET") return { outcome: "refused", code }
  if (code === "EHOSTUNREACH" || code === "ENETUNREACH") return { outcome: "unreachable", code }
  if (code === "EPERM") return { outcome: "eperm", code }
  return { outcome: "error", code: String(code ?? err) }
}

function parseReply(text) {
  try {
    const line = JSON.parse(text.trim())
    return { outcome: "reply", ep: line.ep, peer: line.peer, hops: line.hops }
  } catch {
    return { outcome: "error", code: `bad reply ${JSON.stringify(text)}` }
  }
}

function tcpProbe(p) {
  return new Promise((resolve) => {
    let settled = false
    let data = ""
    const options = { host: p.dst, port: p.dport, localPort: p.sport }
    if (p.src) options.localAddress = p.src
    const socket = net.connect(options)
    const finish = (result) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      resolve(result)
    }
    const timer = setTimeout(() => finish({ outcome: data === "" ? "timeout" : "error", code: "partial" }), p.timeoutMs)
    socket.setEncoding("utf8")
    socket.on("data", (chunk) => {
      data += chunk
      if (data.includes("\n")) finish(parseReply(data))
    })
    socket.on("end", () => finish(data === "" ? { outcome: "refused", code: "EOF" } : parseReply(data)))
    socket.on("error", (err) => finish(classify(err)))
  })
}

function udpProbe(p) {
  return new Promise((resolve) => {
    let settled = false
    const socket = dgram.createSocket({ type: "udp4" })
    const finish = (result) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      try {
        socket.close()
      } catch {}
      resolve(result)
    }
    const timer = setTimeout(() => finish({ outcome: "timeout" }), p.timeoutMs)
    socket.on("error", (err) => finish(classify(err)))
    socket.on("message", (msg) => finish(parseReply(msg.toString("utf8"))))
    const bindOptions = { port: p.sport }
    if (p.src) bindOptions.address = p.src
    socket.bind(bindOptions, () => {
      socket.connect(p.dport, p.dst, (err) => {
        if (err) return finish(classify(err))
        socket.send("probe", (err2) => {
          if (err2) finish(classify(err2))
        })
      })
    })
  })
}

async function runWave(probes, concurrency) {
  const results = new Array(probes.length)
  let next = 0
  async function worker() {
    while (next < probes.length) {
      const i = next++
      const p = probes[i]
      results[i] = p.proto === "udp" ? await udpProbe(p) : await tcpProbe(p)
    }
  }
  const workers = []
  for (let w = 0; w < Math.max(1, Math.min(concurrency, probes.length)); w++) workers.push(worker())
  await Promise.all(workers)
  return results
}

// One request on stdin (EOF ends it), or with --serve one request per line, answered by one line
// each, until stdin closes (a persistent agent saves a process start per wave).
if (process.argv.includes("--serve")) {
  let buffer = ""
  let queue = Promise.resolve()
  process.stdin.setEncoding("utf8")
  process.stdin.on("data", (c) => {
    buffer += c
    let nl
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl)
      buffer = buffer.slice(nl + 1)
      if (line.trim() === "") continue
      queue = queue.then(async () => {
        const { waves, concurrency } = JSON.parse(line)
        const out = []
        for (const wave of waves) out.push(...(await runWave(wave, concurrency ?? 64)))
        process.stdout.write(JSON.stringify(out) + "\n")
      })
    }
  })
  process.stdin.on("end", () => queue.then(() => process.exit(0)))
} else {
  let input = ""
  process.stdin.setEncoding("utf8")
  process.stdin.on("data", (c) => {
    input += c
  })
  process.stdin.on("end", async () => {
    const { waves, concurrency } = JSON.parse(input)
    const out = []
    for (const wave of waves) out.push(...(await runWave(wave, concurrency ?? 64)))
    process.stdout.write(JSON.stringify(out) + "\n")
  })
}
