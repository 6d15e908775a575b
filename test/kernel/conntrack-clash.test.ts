/**
 * The real kernel's UDP clash handling at confirm time, which src/netfilter/conntrack.ts models as
 * `raceFix: clash-insert` (the default): two threads send one datagram each at the same instant on
 * one connected UDP socket, in a namespace whose nat OUTPUT chain DNATs the flow at random to one
 * of two local ports (kube-proxy's `statistic --mode random` shape). On a kernel with
 * nf_ct_resolve_clash_harder (5.6+), racing pairs are resolved (`conntrack -S` clash_resolve) and
 * never dropped (insert_failed 0): every datagram reaches a receiver, split pairs both ports. The
 * simulator's counterpart is test/netfilter/conntrack-race.test.ts and
 * test/cluster/conntrack-race.test.ts. The race needs two CPUs; when none happened the test says so.
 * Skipped (with the reason) when not root or the tools (python3 for threads) are missing; only the
 * namespace it creates is touched.
 */
import { execFileSync } from "node:child_process"
import { afterAll, describe, expect, it } from "vitest"
import { kernelAvailability } from "./lab.ts"

function which(tool: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "pipe" })
    return true
  } catch {
    return false
  }
}

const lab = kernelAvailability()
const reason = !lab.ok ? lab.reason : !which("python3") ? "python3 not installed (the threaded sender)" : ""
if (reason !== "") console.warn(`[kernel conntrack clash] SKIPPED: ${reason}`)

const NS = `knclash-${process.pid}`
const PAIRS = 1500

// Receivers on 127.0.0.1:9000 and :9001 count datagrams; each pair: a fresh connected socket, two
// threads released by a barrier, one send() each.
const SCRIPT = `
import json, socket, threading, time
counts = {9000: 0, 9001: 0}
def serve(port):
    r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    r.bind(("127.0.0.1", port))
    r.settimeout(1.0)
    while True:
        try:
            r.recv(100)
            counts[port] += 1
        except socket.timeout:
            return
servers = [threading.Thread(target=serve, args=(p,)) for p in (9000, 9001)]
for t in servers: t.start()
time.sleep(0.2)
sent = 0
for i in range(${PAIRS}):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(("10.55.0.9", 53))
    barrier = threading.Barrier(2)
    def go():
        global sent
        barrier.wait()
        s.send(b"q" * 40)
        sent += 1
    ts = [threading.Thread(target=go) for _ in range(2)]
    for t in ts: t.start()
    for t in ts: t.join()
    s.close()
for t in servers: t.join()
print(json.dumps({"sent": sent, "received": counts[9000] + counts[9001]}))
`

function sh(...args: string[]): string {
  return execFileSync(args[0], args.slice(1), { stdio: "pipe", timeout: 120_000 }).toString()
}

function stat(text: string, key: string): number {
  let total = 0
  for (const m of text.matchAll(new RegExp(`${key}=(\\d+)`, "g"))) total += Number(m[1])
  return total
}

describe.skipIf(reason !== "")("kernel UDP clash at confirm (nf_ct_resolve_clash_harder)", () => {
  afterAll(() => {
    try {
      sh("ip", "netns", "del", NS)
    } catch {
      // not created
    }
  })

  it("racing datagrams of one socket DNATed at random are resolved, never dropped (insert_failed 0)", () => {
    sh("ip", "netns", "add", NS)
    sh("ip", "-n", NS, "link", "set", "lo", "up")
    sh("ip", "-n", NS, "addr", "add", "10.55.0.1/24", "dev", "lo")
    sh("ip", "-n", NS, "route", "add", "10.55.0.9/32", "dev", "lo")
    execFileSync("ip", ["netns", "exec", NS, "iptables-restore"], {
      input:
        "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n" +
        "-A OUTPUT -d 10.55.0.9/32 -p udp -m udp --dport 53 -m statistic --mode random --probability 0.5000000000 -j DNAT --to-destination 127.0.0.1:9000\n" +
        "-A OUTPUT -d 10.55.0.9/32 -p udp -m udp --dport 53 -j DNAT --to-destination 127.0.0.1:9001\nCOMMIT\n",
      stdio: "pipe",
      timeout: 10_000,
    })
    const out = JSON.parse(sh("ip", "netns", "exec", NS, "python3", "-c", SCRIPT)) as {
      sent: number
      received: number
    }
    const stats = sh("ip", "netns", "exec", NS, "conntrack", "-S")
    const clashResolve = stat(stats, "clash_resolve")
    const insertFailed = stat(stats, "insert_failed")
    console.log(
      `[kernel conntrack clash] ${PAIRS} pairs: sent ${out.sent}, received ${out.received}, clash_resolve ${clashResolve}, insert_failed ${insertFailed}`,
    )
    expect(out.sent).toBe(2 * PAIRS)
    expect(insertFailed).toBe(0)
    expect(out.received).toBe(2 * PAIRS)
    if (clashResolve === 0) console.warn("[kernel conntrack clash] no race happened (one CPU?): nothing to compare")
  }, 120_000)
})
