/**
 * `run --pcap` (docs/outputs.md): the pcapng files decode in tshark with no malformed packet, no
 * error-level expert info and no bad checksum; per interface and direction, tshark counts exactly
 * what the simulator's interface counters say it received and transmitted; the client pod's eth0
 * carries the ClusterIP (before DNAT), the server pods' eth0 the pod address (after DNAT); DNS
 * queries decode as DNS. Skips with the reason when tshark is not installed (.ci/run installs it).
 * The quick tier checks the client's node (one file, one tshark run); the extensive tier every file.
 */
import { spawnSync } from "node:child_process"
import { closeSync, mkdtempSync, openSync, readdirSync, rmSync, writeSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { runScenario } from "../../src/cluster/index.ts"
import type { World } from "../../src/cluster/world.ts"
import { InterfaceKind } from "../../src/net/netns.ts"
import { parsePcapFilter, PcapCapture } from "../../src/output/pcap.ts"
import { formatIpv4 } from "../../src/wire/ipv4.ts"
import { specFromText } from "../cluster/helpers.ts"
import { extensive } from "../tier.ts"
import { smallScenario } from "./small-scenario.ts"

const TSHARK = "tshark"
const tsharkMissing = spawnSync(TSHARK, ["--version"], { encoding: "utf8" }).status !== 0
if (tsharkMissing) console.warn("pcap tests skipped: tshark not installed (apt-get install tshark)")

function tshark(args: readonly string[]): string {
  const run = spawnSync(TSHARK, args, { encoding: "utf8", maxBuffer: 1 << 28 })
  if (run.status !== 0) throw new Error(`tshark ${args.join(" ")}: ${run.stderr}`)
  return run.stdout
}

interface Capture {
  readonly dir: string
  readonly world: World
  readonly files: ReturnType<PcapCapture["finish"]>
}

function capture(filter?: string): Capture {
  const dir = mkdtempSync(join(tmpdir(), "kube-netsim-pcap-"))
  let world: World | undefined
  let files: ReturnType<PcapCapture["finish"]> = []
  const parsed = filter === undefined ? undefined : parsePcapFilter(filter)
  if (typeof parsed === "string") throw new Error(parsed)
  runScenario(specFromText(smallScenario({ dns: "packets", count: 10 })), {
    seed: 5,
    attach: (w) => {
      world = w
      const c = new PcapCapture(
        w,
        (file) => {
          const fd = openSync(join(dir, file), "w")
          return { write: (data) => void writeSync(fd, data), close: () => closeSync(fd) }
        },
        parsed,
      )
      return { finish: () => void (files = c.finish()) }
    },
  })
  if (world === undefined) throw new Error("not attached")
  return { dir, world, files }
}

const FIELDS = [
  "frame.interface_name",
  "frame.packet_flags_direction",
  "ip.src",
  "ip.dst",
  "tcp.flags.syn",
  "tcp.flags.ack",
  "tcp.dstport",
  "dns.flags.response",
  "dns.qry.name",
  "ip.checksum.status",
  "tcp.checksum.status",
  "udp.checksum.status",
  "icmp.checksum.status",
  "_ws.malformed",
  "_ws.expert.severity",
  "http.request.method",
  "http.host",
  "http.response.code",
  "http.content_length",
  "tcp.payload",
] as const

type Row = Record<(typeof FIELDS)[number], string>

/** One tshark run over a file: the fields of every frame, checksums verified. */
function dump(path: string): Row[] {
  const out = tshark([
    "-r",
    path,
    "-o",
    "ip.check_checksum:TRUE",
    "-o",
    "tcp.check_checksum:TRUE",
    "-o",
    "udp.check_checksum:TRUE",
    "-T",
    "fields",
    "-E",
    "occurrence=f",
    ...FIELDS.flatMap((f) => ["-e", f]),
  ])
  return out
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => {
      const values = line.split("\t")
      const row = Object.fromEntries(FIELDS.map((f, i) => [f, values[i] ?? ""])) as Row
      // tshark prints the flags word in hex (0x00000001): keep the direction as "1" / "2".
      row["frame.packet_flags_direction"] = String(Number(row["frame.packet_flags_direction"]))
      return row
    })
}

/** Expert severity "error" is 0x00800000 (epan/proto.h PI_ERROR); tshark prints the number. */
const PI_ERROR = 0x00800000

function checkFile(path: string, interfaces: readonly { name: string; inbound: number; outbound: number }[]): Row[] {
  const rows = dump(path)
  const counts = new Map<string, { inbound: number; outbound: number }>()
  for (const row of rows) {
    expect(row["_ws.malformed"], `${path}: malformed`).toBe("")
    if (row["_ws.expert.severity"] !== "") expect(Number(row["_ws.expert.severity"])).toBeLessThan(PI_ERROR)
    for (const f of [
      "ip.checksum.status",
      "tcp.checksum.status",
      "udp.checksum.status",
      "icmp.checksum.status",
    ] as const)
      if (row[f] !== "") expect(row[f], `${path}: ${f}`).toBe("1")
    const c = counts.get(row["frame.interface_name"]) ?? { inbound: 0, outbound: 0 }
    const direction = Number(row["frame.packet_flags_direction"])
    if (direction === 1) c.inbound++
    else if (direction === 2) c.outbound++
    else throw new Error(`no direction: ${JSON.stringify(row)}`)
    counts.set(row["frame.interface_name"], c)
  }
  for (const i of interfaces)
    expect(counts.get(i.name) ?? { inbound: 0, outbound: 0 }, `${path} ${i.name}`).toEqual({
      inbound: i.inbound,
      outbound: i.outbound,
    })
  return rows
}

function isSyn(row: Row): boolean {
  return row["tcp.flags.syn"] === "1" && row["tcp.flags.ack"] === "0"
}

function podsNamed(world: World, prefix: string) {
  return [...world.pods.values()].filter((p) => p.key.startsWith(prefix))
}

describe.skipIf(tsharkMissing)("pcap (tshark)", () => {
  const dirs: string[] = []
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  })

  it("the client's node: decodes cleanly, counts match, the client sends to the ClusterIP, DNS decodes", () => {
    const { dir, world, files } = capture("node=node-1")
    dirs.push(dir)
    const client = podsNamed(world, "default/client")[0]
    expect(client.node).toBe("node-1")
    expect(files.map((f) => f.file)).toEqual(["node-1.pcapng"])
    const rows = checkFile(join(dir, "node-1.pcapng"), files[0].interfaces)
    // The interface counters of node-1's veths and NIC: tshark saw exactly what they received and sent.
    for (const iface of world.network.interfaces) {
      if (iface.kind !== InterfaceKind.VETH && iface.kind !== InterfaceKind.FABRIC) continue
      const pod = [...world.pods.values()].find((p) => p.ns === iface.ns && p.net !== null)
      const onNode1 = pod !== undefined ? pod.node === "node-1" : world.nodes.get("node-1")?.net.ns === iface.ns
      if (!onNode1) continue
      const name = pod !== undefined ? `${pod.key.split("/")[1]}/${iface.name}` : iface.name
      const seen = rows.filter((r) => r["frame.interface_name"] === name)
      expect(seen.filter((r) => r["frame.packet_flags_direction"] === "1").length, name).toBe(iface.rxPackets)
      expect(seen.filter((r) => r["frame.packet_flags_direction"] === "2").length, name).toBe(iface.txPackets)
    }
    const clientOut = rows.filter((r) => r["frame.interface_name"] === "client/eth0")
    const syns = clientOut.filter((r) => r["frame.packet_flags_direction"] === "2" && isSyn(r))
    expect(syns.length).toBe(10)
    const clusterIp = syns[0]["ip.dst"]
    const podIps = new Set(podsNamed(world, "default/web-").map((p) => formatIpv4(p.ip)))
    for (const syn of syns) expect([syn["ip.dst"], syn["tcp.dstport"]]).toEqual([clusterIp, "80"])
    expect(podIps.has(clusterIp)).toBe(false)
    // Replies come back from the ClusterIP (un-NAT), never from a pod address.
    const tcpIn = clientOut.filter((r) => r["frame.packet_flags_direction"] === "1" && r["tcp.dstport"] !== "")
    expect(new Set(tcpIn.map((r) => r["ip.src"]))).toEqual(new Set([clusterIp]))
    const queries = clientOut.filter((r) => r["dns.flags.response"] === "0").map((r) => r["dns.qry.name"])
    expect(queries).toContain("web.default.svc.cluster.local")
    // HTTP text (output/http-payload.ts): every request and response dissects as HTTP, the lengths
    // the model's (a 100-byte request, http-go's 150-byte response: 79 bytes of headers + 71). A
    // packet seen on two interfaces of the file is a TCP retransmission to Wireshark the second
    // time (dissected as HTTP once), so the dissection is counted over the file and the bytes on
    // the client's eth0.
    // Each request and response dissects once per TCP stream the file holds it in (the client's,
    // and the pod-addressed one on eth0 or the server's veth): at least once each.
    const requests = rows.filter((r) => r["http.request.method"] !== "")
    expect(requests.length).toBeGreaterThanOrEqual(10)
    for (const r of requests) expect([r["http.request.method"], r["http.host"]]).toEqual(["GET", "web"])
    const responses = rows.filter((r) => r["http.response.code"] !== "")
    expect(responses.length).toBeGreaterThanOrEqual(10)
    for (const r of responses) expect([r["http.response.code"], r["http.content_length"]]).toEqual(["200", "71"])
    const hex = (text: string) => Buffer.from(text).toString("hex")
    const payloads = clientOut.map((r) => r["tcp.payload"].replaceAll(":", ""))
    expect(payloads.filter((p) => p.startsWith(hex("GET / HTTP/1.1\r\nHost: web\r\n")))).toHaveLength(10)
    expect(payloads.filter((p) => p.startsWith(hex("HTTP/1.1 200 OK\r\n")))).toHaveLength(10)
  })

  it.skipIf(!extensive)(
    "every file: decodes, counts match every veth and NIC, server pods receive the pod address",
    () => {
      const { dir, world, files } = capture()
      dirs.push(dir)
      expect(readdirSync(dir).sort()).toEqual(files.map((f) => f.file))
      const rowsByFile = new Map<string, Row[]>()
      for (const file of files) rowsByFile.set(file.file, checkFile(join(dir, file.file), file.interfaces))
      let compared = 0
      for (const iface of world.network.interfaces) {
        if (iface.kind !== InterfaceKind.VETH && iface.kind !== InterfaceKind.FABRIC) continue
        const pod = [...world.pods.values()].find((p) => p.ns === iface.ns && p.net !== null)
        const node = [...world.nodes.values()].find((n) => n.net.ns === iface.ns)
        const file = pod !== undefined ? `${pod.node}.pcapng` : node !== undefined ? `${node.name}.pcapng` : undefined
        if (file === undefined) continue
        const name = pod !== undefined ? `${pod.key.split("/")[1]}/${iface.name}` : iface.name
        const seen = (rowsByFile.get(file) ?? []).filter((r) => r["frame.interface_name"] === name)
        expect(seen.filter((r) => r["frame.packet_flags_direction"] === "1").length, name).toBe(iface.rxPackets)
        expect(seen.filter((r) => r["frame.packet_flags_direction"] === "2").length, name).toBe(iface.txPackets)
        if (iface.rxPackets + iface.txPackets > 0) compared++
      }
      expect(compared).toBeGreaterThan(6)
      // DNAT: each web pod receives the SYNs on its own address and port 8080.
      let served = 0
      for (const web of podsNamed(world, "default/web-")) {
        const name = `${web.key.split("/")[1]}/eth0`
        for (const syn of (rowsByFile.get(`${web.node}.pcapng`) ?? []).filter(
          (r) => r["frame.interface_name"] === name && r["frame.packet_flags_direction"] === "1" && isSyn(r),
        )) {
          expect([syn["ip.dst"], syn["tcp.dstport"]]).toEqual([formatIpv4(web.ip), "8080"])
          served++
        }
      }
      expect(served).toBe(10)
    },
  )

  it("--pcap-filter syntax", () => {
    const f = parsePcapFilter("node=node-*,iface=eth0,iface=cni0")
    if (typeof f === "string") throw new Error(f)
    expect([f.node.length, f.pod.length, f.iface.length]).toEqual([1, 0, 2])
    expect(parsePcapFilter("host=a")).toContain("unknown key")
    expect(parsePcapFilter("node")).toContain("KEY=VALUE")
  })
})
