/**
 * Per-request records (`run --requests`: requests.jsonl in --out, docs/outputs.md): one JSON
 * object per line per finished request, in the order requests finish (simulated time, then the
 * simulator's event order). Lines are buffered in chunks and handed to a sink (a file descriptor
 * in the CLI), so a run with millions of requests does not hold them in memory.
 */
import { formatIpv4, type Ipv4 } from "../wire/ipv4.ts"

export interface RequestRecord {
  workload: string
  /** The client: pod name, node name or external host name. */
  client: string
  /** The client's node ("" for an external host). */
  clientNode: string
  startNs: number
  endNs: number
  latencyNs: number
  /** The address the request was sent to: the resolved Service (ClusterIP, node IP...) or pod address. */
  resolvedAddress: string
  /** The pod (or host) that answered; null when the request failed or the reply carried no identity. */
  endpoint: string | null
  endpointNode: string | null
  /**
   * Nodes the request crossed, in order: the client's node, the node that owns the resolved
   * address when it is a node address (NodePort) and differs, the endpoint's node. Consecutive
   * duplicates are dropped; an external client is "external".
   */
  nodePath: string[]
  outcome: "completed" | "failed"
  /** The failure reason (as in failedByReason); null when completed. */
  reason: string | null
}

export interface TextSink {
  write(text: string): void
}

/** Names the log looks up per record (cluster/ provides them). */
export interface RequestNames {
  readonly workload: (index: number) => string
  readonly client: (index: number) => { readonly name: string; readonly node: string }
  readonly nodeOfAddress: (address: Ipv4) => string | null
  readonly failureReason: (code: number) => string
}

/** Flush threshold of the line buffer (characters). */
const CHUNK_CHARS = 1 << 16

export class RequestLog {
  private buffer = ""
  written = 0

  constructor(
    private readonly sink: TextSink,
    private readonly names: RequestNames,
  ) {}

  record(
    workload: number,
    client: number,
    startNs: number,
    dstAddr: Ipv4,
    endpoint: { readonly name: string; readonly node: string } | null,
    reason: number,
    nowNs: number,
  ): void {
    const who = this.names.client(client)
    const clientNode = who.node === "" ? "external" : who.node
    const path = [clientNode]
    const entry = this.names.nodeOfAddress(dstAddr)
    if (entry !== null && entry !== clientNode) path.push(entry)
    const endpointNode = endpoint === null || endpoint.node === "" ? null : endpoint.node
    if (endpointNode !== null && endpointNode !== path[path.length - 1]) path.push(endpointNode)
    const record: RequestRecord = {
      workload: this.names.workload(workload),
      client: who.name,
      clientNode: who.node,
      startNs,
      endNs: nowNs,
      latencyNs: nowNs - startNs,
      resolvedAddress: formatIpv4(dstAddr),
      endpoint: endpoint?.name ?? null,
      endpointNode,
      nodePath: path,
      outcome: reason < 0 ? "completed" : "failed",
      reason: reason < 0 ? null : this.names.failureReason(reason),
    }
    this.buffer += `${JSON.stringify(record)}\n`
    this.written++
    if (this.buffer.length >= CHUNK_CHARS) this.flush()
  }

  flush(): void {
    if (this.buffer === "") return
    this.sink.write(this.buffer)
    this.buffer = ""
  }
}
