/**
 * Per-request records (`run --requests`: requests.jsonl in --out, docs/outputs.md): one JSON
 * object per line per request the document counts in `requests.sent`: those that ended, in the
 * order they ended (simulated time, then the simulator's event order), including those that failed
 * before a client existed (`unresolved`), then those still in flight when the run ended. Lines are buffered in chunks and handed to a sink (a file descriptor
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
  /** null for a request still in flight when the run ended (`unfinished`). */
  endNs: number | null
  latencyNs: number | null
  /**
   * The address the request was sent to: the resolved Service (ClusterIP, node IP...) or pod
   * address; null when the name never resolved (reason `unresolved` or a DNS failure).
   */
  resolvedAddress: string | null
  /**
   * The pod (or host) that answered. For a failed or unfinished request: the endpoint its flow was
   * DNATed to, when the client's node (or the NodePort's entry node) still holds the flow's
   * conntrack entry with a translated reply source (a connection refused by a pod, a timeout to
   * an endpoint that does not answer); otherwise null.
   */
  endpoint: string | null
  endpointNode: string | null
  /**
   * Nodes the request crossed, in order: the client's node, the node that owns the resolved
   * address when it is a node address (NodePort) and differs, the endpoint's node. Consecutive
   * duplicates are dropped; an external client is "external".
   */
  nodePath: string[]
  outcome: "completed" | "failed" | "unfinished"
  /** The failure reason (as in failedByReason); null when completed or unfinished. */
  reason: string | null
}

export interface TextSink {
  write(text: string): void
}

export interface NamedHost {
  readonly name: string
  readonly node: string
}

/** Names the log looks up per record (cluster/ provides them). */
export interface RequestNames {
  readonly workload: (index: number) => string
  readonly client: (index: number) => NamedHost
  /** A workload source without a client (its requests failed `unresolved`), by its namespace. */
  readonly source: (ns: object) => NamedHost
  readonly nodeOfAddress: (address: Ipv4) => string | null
  readonly failureReason: (code: number) => string
  /**
   * The endpoint a request's flow (localAddr:localPort -> dstAddr:the workload's port) was sent
   * to, from the conntrack entry of the client's node or the entry node; null when not known.
   * `localAddr` 0: an unbound socket, whose datagrams leave from the client's address.
   */
  readonly endpointOfFlow: (
    workload: number,
    client: number,
    clientNode: string,
    dstAddr: Ipv4,
    localAddr: Ipv4,
    localPort: number,
    nowNs: number,
  ) => NamedHost | null
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

  /**
   * A request of client `client` that ended: completed (`reason` -1, `endpoint` the server that
   * answered) or failed (`localPort` >= 0: its socket's local end, to find its endpoint).
   */
  record(
    workload: number,
    client: number,
    startNs: number,
    dstAddr: Ipv4,
    endpoint: NamedHost | null,
    reason: number,
    nowNs: number,
    localAddr = 0,
    localPort = -1,
  ): void {
    const who = this.names.client(client)
    const sentTo =
      endpoint === null && reason >= 0 && localPort >= 0 && dstAddr !== 0
        ? this.names.endpointOfFlow(workload, client, who.node, dstAddr, localAddr, localPort, nowNs)
        : endpoint
    this.write(workload, who, startNs, dstAddr, sentTo, reason < 0 ? "completed" : "failed", reason, nowNs)
  }

  /** A request that failed before a client existed (the runtime's `unresolved`), at `nowNs`. */
  recordUnresolved(workload: number, source: object | null, fallbackName: string, reason: number, nowNs: number): void {
    const who = source === null ? { name: fallbackName, node: "" } : this.names.source(source)
    this.write(workload, who, nowNs, 0, null, "failed", reason, nowNs)
  }

  /** A request still in flight when the run ended (endNs and latency null). */
  recordUnfinished(
    workload: number,
    client: number,
    startNs: number,
    dstAddr: Ipv4,
    localAddr: Ipv4,
    localPort: number,
    nowNs: number,
  ): void {
    const who = this.names.client(client)
    const sentTo =
      localPort >= 0 && dstAddr !== 0
        ? this.names.endpointOfFlow(workload, client, who.node, dstAddr, localAddr, localPort, nowNs)
        : null
    this.write(workload, who, startNs, dstAddr, sentTo, "unfinished", -1, -1)
  }

  private write(
    workload: number,
    who: NamedHost,
    startNs: number,
    dstAddr: Ipv4,
    endpoint: NamedHost | null,
    outcome: RequestRecord["outcome"],
    reason: number,
    endNs: number,
  ): void {
    const clientNode = who.node === "" ? "external" : who.node
    const path = [clientNode]
    const entry = dstAddr === 0 ? null : this.names.nodeOfAddress(dstAddr)
    if (entry !== null && entry !== clientNode) path.push(entry)
    const endpointNode = endpoint === null || endpoint.node === "" ? null : endpoint.node
    if (endpointNode !== null && endpointNode !== path[path.length - 1]) path.push(endpointNode)
    const record: RequestRecord = {
      workload: this.names.workload(workload),
      client: who.name,
      clientNode: who.node,
      startNs,
      endNs: endNs < 0 ? null : endNs,
      latencyNs: endNs < 0 ? null : endNs - startNs,
      resolvedAddress: dstAddr === 0 ? null : formatIpv4(dstAddr),
      endpoint: endpoint?.name ?? null,
      endpointNode,
      nodePath: path,
      outcome,
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
