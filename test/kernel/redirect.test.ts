/**
 * The real kernel's `-j REDIRECT` (nf_nat_redirect_ipv4), which test/netfilter/xt-redirect.test.ts
 * assumes for the simulator's ext/xt_REDIRECT.ts: in PREROUTING the new destination is the primary
 * address of the interface the packet came in on; in OUTPUT it is 127.0.0.1; a packet that came in
 * on an interface without an IPv4 address is dropped. Real namespaces joined by veth pairs, a TCP
 * server on 0.0.0.0 that answers with the local address it was reached at (getsockname).
 * Skipped (with the reason) when not root or the tools are missing; only namespaces it creates.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { kernelAvailability } from "./lab.ts"

const availability = kernelAvailability()
const available = availability.ok
if (!available) console.warn(`[kernel REDIRECT] SKIPPED: ${availability.ok ? "" : availability.reason}`)

const NODE = `knr-node-${process.pid}`
const POD = `knr-pod-${process.pid}`
const POD2 = `knr-pod2-${process.pid}`

const SERVER = `const s=require("net").createServer(c=>{c.end(c.localAddress)});s.listen(15001,"0.0.0.0",()=>console.log("up"))`
const CLIENT = (ip: string): string =>
  `const c=require("net").connect({host:"${ip}",port:80});let d="";c.setTimeout(500,()=>{console.log("timeout");process.exit(0)});` +
  `c.on("data",x=>d+=x);c.on("end",()=>{console.log(d);process.exit(0)});c.on("error",e=>{console.log(e.code);process.exit(0)})`

function sh(...args: string[]): string {
  return execFileSync(args[0], args.slice(1), { stdio: "pipe", timeout: 10_000 }).toString()
}

function inNs(ns: string, ...args: string[]): string {
  return sh("ip", "netns", "exec", ns, ...args)
}

let server: ChildProcess | null = null

function teardown(): void {
  server?.kill("SIGKILL")
  for (const ns of [NODE, POD, POD2]) {
    try {
      sh("ip", "netns", "del", ns)
    } catch {
      // not created
    }
  }
}

describe.skipIf(!available)("kernel -j REDIRECT (nf_nat_redirect_ipv4)", () => {
  beforeAll(async () => {
    process.on("exit", teardown)
    for (const ns of [NODE, POD, POD2]) {
      sh("ip", "netns", "add", ns)
      inNs(ns, "ip", "link", "set", "lo", "up")
    }
    sh("ip", "-n", NODE, "link", "add", "vn1", "type", "veth", "peer", "name", "vp1", "netns", POD)
    sh("ip", "-n", NODE, "link", "add", "vn2", "type", "veth", "peer", "name", "vp2", "netns", POD2)
    sh("ip", "-n", NODE, "addr", "add", "10.99.0.1/24", "dev", "vn1")
    sh("ip", "-n", POD, "addr", "add", "10.99.0.2/24", "dev", "vp1")
    // vn2 has no IPv4 address at all (as an aws-vpc host-side veth); pod2 reaches it by a static neighbour.
    sh("ip", "-n", POD2, "addr", "add", "10.99.1.2/24", "dev", "vp2")
    for (const [ns, dev] of [
      [NODE, "vn1"],
      [NODE, "vn2"],
      [POD, "vp1"],
      [POD2, "vp2"],
    ] as const)
      sh("ip", "-n", ns, "link", "set", dev, "up")
    sh("ip", "-n", POD, "route", "add", "default", "via", "10.99.0.1")
    // The node needs a route to the service range (routing precedes OUTPUT).
    sh("ip", "-n", NODE, "route", "add", "10.96.0.0/12", "via", "10.99.0.2")
    sh("ip", "-n", POD2, "route", "add", "10.96.0.0/12", "dev", "vp2")
    const mac = JSON.parse(sh("ip", "-n", NODE, "-j", "link", "show", "vn2"))[0].address as string
    sh("ip", "-n", POD2, "neigh", "add", "10.96.0.10", "lladdr", mac, "dev", "vp2")
    execFileSync("ip", ["netns", "exec", NODE, "iptables-restore"], {
      input:
        "*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n" +
        "-A PREROUTING -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 15001\n" +
        "-A OUTPUT -d 10.96.0.11/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 15001\nCOMMIT\n",
      stdio: "pipe",
      timeout: 10_000,
    })
    server = spawn("ip", ["netns", "exec", NODE, process.execPath, "-e", SERVER], { stdio: ["ignore", "pipe", "pipe"] })
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("server did not start")), 10_000)
      server?.stdout?.once("data", () => {
        clearTimeout(timer)
        resolve()
      })
    })
  }, 30_000)

  afterAll(() => teardown())

  it("PREROUTING: the incoming interface's primary address", () => {
    expect(inNs(POD, process.execPath, "-e", CLIENT("10.96.0.10")).trim()).toBe("10.99.0.1")
  })

  it("OUTPUT (locally generated): 127.0.0.1", () => {
    expect(inNs(NODE, process.execPath, "-e", CLIENT("10.96.0.11")).trim()).toBe("127.0.0.1")
  })

  it("an incoming interface without an IPv4 address: dropped (the client times out)", () => {
    expect(inNs(POD2, process.execPath, "-e", CLIENT("10.96.0.10")).trim()).toBe("timeout")
  })
})
