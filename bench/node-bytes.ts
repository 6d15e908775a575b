/**
 * Bytes a node adds (issue 10): builds the cluster-scale scenario (bench/cluster-scale.ts) at each
 * node count given, runs it until the first request completed (every node synced), forces a GC and
 * prints the V8 heap plus array buffers. The difference between two node counts over the nodes
 * added is the per-node cost; the Services and pods are the same at every count.
 * Usage: node --expose-gc --import tsx bench/node-bytes.ts --mode ipvs --nodes 20,40 [--services 1000 --pods 3000]
 */
import { benchArg, requireGc, runScaleWorldToFirstRequest } from "./scale-world.ts"

const argv = process.argv.slice(2)
const arg = benchArg
const gc = requireGc()
const mode = arg("mode", "ipvs")
const services = Number(arg("services", "1000"))
const pods = Number(arg("pods", "3000"))

function measure(nodes: number): { bytes: number; fingerprint: string } {
  const world = runScaleWorldToFirstRequest({ nodes, services, pods, mode })
  const scheduler = world.scheduler
  gc?.()
  gc?.()
  const m = process.memoryUsage()
  const bytes = m.heapUsed + m.arrayBuffers
  const fingerprint = scheduler.fingerprint()
  if (argv.includes("--probe")) {
    // Which per-node structures the bytes are in: drop one kind at a time, GC, measure again.
    const probe = (label: string, drop: () => void): void => {
      const before = process.memoryUsage()
      drop()
      gc?.()
      gc?.()
      const after = process.memoryUsage()
      const freed = before.heapUsed + before.arrayBuffers - after.heapUsed - after.arrayBuffers
      console.error(`${nodes} nodes: ${label}: ${(freed / 2 ** 20 / nodes).toFixed(3)} MB per node`)
    }
    type Loose = Record<string, unknown>
    const backends = [...world.nodes.values()].map((n) => n.proxy.backend as unknown as Loose)
    probe("kernel IPVS services", () => {
      for (const b of backends) {
        const ipvs = b.ipvs as Loose
        ;(ipvs.services as unknown[]).length = 0
        ;(ipvs.byKey as Map<number, number>).clear()
      }
    })
    probe("kernel IPVS dest columns", () => {
      for (const b of backends) (b.ipvs as Loose).dests = null
    })
    probe("kernel IPVS conn table", () => {
      for (const b of backends) {
        const ipvs = b.ipvs as Loose
        for (const k of Object.keys(ipvs))
          if (
            ipvs[k] instanceof Int32Array ||
            ipvs[k] instanceof Float64Array ||
            ipvs[k] instanceof Uint8Array ||
            ipvs[k] instanceof Uint32Array ||
            ipvs[k] instanceof Uint16Array
          )
            ipvs[k] = null
      }
    })
    probe("serviceIds", () => {
      for (const b of backends) (b.serviceIds as Map<string, number>).clear()
    })
    probe("ipsets", () => {
      for (const n of world.nodes.values())
        (n.proxy.backend as unknown as { stack: { ipsets: { sets: Map<string, unknown> } } }).stack.ipsets.sets.clear()
    })
    probe("kube-ipvs0 addresses", () => {
      for (const b of backends) {
        const dummy = b.dummy as { assignedAddresses: Iterable<number> }
        const network = b.network as { removeAddress(i: unknown, a: number): void }
        for (const a of [...dummy.assignedAddresses]) network.removeAddress(dummy, a)
      }
    })
    probe("iptables tables", () => {
      for (const n of world.nodes.values()) {
        const st = (n.proxy.backend as unknown as { stack: Loose }).stack
        ;(st.tables as unknown[]).length = 0
      }
    })
  }
  void world
  return { bytes, fingerprint }
}

const counts = arg("nodes", "20,40").split(",").map(Number)
const rows: { nodes: number; mb: number; fingerprint: string }[] = []
for (const nodes of counts) {
  const r = measure(nodes)
  gc()
  rows.push({ nodes, mb: Number((r.bytes / 2 ** 20).toFixed(1)), fingerprint: r.fingerprint })
}
const perNode =
  rows.length >= 2
    ? ((rows[rows.length - 1].mb - rows[0].mb) / (rows[rows.length - 1].nodes - rows[0].nodes)).toFixed(3)
    : "n/a"
console.log(JSON.stringify({ benchmark: "node-bytes", mode, services, pods, rows, mbPerNode: Number(perNode) }))
