/**
 * HTTP/1.1 over the simulated TCP: request/response messages with the sizes of real exchanges.
 *
 * Server: nginx answers with its welcome page (index.html is 615 bytes; with the status line and
 * headers of nginx 1.2x the response is about 853 bytes); the generic server (http-go and any image
 * with containerPorts) answers with its pod name and IP, about 150 bytes with headers. A workload's
 * responseBytes, when set, overrides the server's size. The server closes its side when the client
 * closes (HTTP/1.1 persistent connections; the client decides).
 *
 * Client: "new" mode opens a connection per request and closes it after the response (curl, wget);
 * "keepAlive" keeps idle connections and reuses them, one request at a time per connection (HTTP/1.1
 * without pipelining), opening another when all are busy.
 */
import type { NetError } from "../net/errors.ts"
import { NetError as E } from "../net/errors.ts"
import type { NetNs } from "../net/netns.ts"
import type { TcpConnection, TcpConnectionListener, TcpListenSocket, TcpServerListener } from "../net/tcp.ts"
import type { Rng } from "../sim/rng.ts"
import type { ClientHost, ServerHost } from "./host.ts"
import { Client, netErrorReason, type ClientConfig, type Request } from "./client.ts"
import { FailureReason, type ServerIdentity } from "./observer.ts"
import { Server, type ServiceTime } from "./server.ts"

export const NGINX_RESPONSE_BYTES = 853
export const GENERIC_RESPONSE_BYTES = 150

/** What a request message carries: constant per client, so no allocation per request. */
export interface HttpRequestInfo {
  readonly workload: number
  /** Response size the client asks for (0 = the server's own). */
  readonly responseBytes: number
  /** The request message's size (pcap writes its text when one segment carries it). */
  readonly requestBytes: number
  /** An http:// workload's Host and path (pcap's request line); null for tcp://. */
  readonly http: HttpTarget | null
}

/** What an http:// workload's requests ask for. */
export interface HttpTarget {
  readonly host: string
  readonly path: string
}

export function isHttpRequestInfo(data: object | null): data is HttpRequestInfo {
  return data !== null && "responseBytes" in data && "requestBytes" in data && "http" in data
}

export class HttpServer extends Server implements TcpServerListener, TcpConnectionListener {
  private readonly listeners: TcpListenSocket[] = []
  private readonly jobConn: (TcpConnection | null)[] = []
  private readonly jobTag: number[] = []
  private readonly jobBytes: number[] = []
  /** Free slots, jobFree[0 .. jobFreeLength) (a count rather than push/pop: see UdpEchoServer). */
  private readonly jobFree: number[] = []
  private jobFreeLength = 0

  constructor(
    apps: ServerHost,
    ns: NetNs,
    identity: ServerIdentity,
    serviceTime: ServiceTime,
    rng: Rng,
    ports: readonly number[],
    private readonly responseBytes: number,
  ) {
    super(apps, ns, identity, serviceTime, rng)
    for (const port of ports) this.listeners.push(apps.network.tcp.listen(ns, 0, port, this))
  }

  onAccept(_server: TcpListenSocket, _conn: TcpConnection): TcpConnectionListener {
    return this
  }

  onConnected(_conn: TcpConnection): void {}

  onMessage(conn: TcpConnection, _bytes: number, appTag: number, appData: object | null): void {
    if (!this.running) return
    const info = appData as HttpRequestInfo | null
    const bytes = info !== null && info.responseBytes > 0 ? info.responseBytes : this.responseBytes
    if (info !== null) this.apps.observer.onServerRequest(info.workload, this.identity, conn.remoteAddr)
    const delayNs = this.serviceTimeNs()
    if (delayNs === 0) {
      conn.send(bytes, appTag, this.identity)
      return
    }
    const slot = this.jobFreeLength > 0 ? this.jobFree[--this.jobFreeLength] : this.jobConn.length
    this.jobConn[slot] = conn
    this.jobTag[slot] = appTag
    this.jobBytes[slot] = bytes
    this.startJob(slot, delayNs)
  }

  onServe(slot: number, _nowNs: number): void {
    const conn = this.jobConn[slot]
    this.jobConn[slot] = null
    this.jobFree[this.jobFreeLength++] = slot
    this.jobDone()
    if (conn === null || !this.running) return
    conn.send(this.jobBytes[slot], this.jobTag[slot], this.identity)
  }

  onPeerClosed(conn: TcpConnection): void {
    conn.close()
  }

  onClosed(_conn: TcpConnection, _error: NetError): void {}

  stop(): void {
    this.running = false
    for (const listener of this.listeners) listener.close()
  }
}

export class HttpClient extends Client implements TcpConnectionListener {
  private readonly info: HttpRequestInfo
  /** Request each busy connection carries. */
  private readonly busy = new Map<TcpConnection, Request>()
  /** keepAlive: established connections with no request outstanding. */
  private readonly idle: TcpConnection[] = []

  constructor(apps: ClientHost, ns: NetNs, config: ClientConfig, rng: Rng) {
    super(apps, ns, config, rng)
    this.info = {
      workload: config.workload,
      responseBytes: config.responseBytes,
      requestBytes: config.requestBytes,
      http: config.http ?? null,
    }
  }

  protected send(request: Request, _nowNs: number): void {
    const conn = this.config.reuse ? this.idle.pop() : undefined
    if (conn !== undefined) {
      this.busy.set(conn, request)
      request.socket = conn
      conn.send(this.config.requestBytes, request.id, this.info)
      return
    }
    const fresh = this.network.tcp.connect(this.ns, request.dstAddr, this.config.dstPort, this, this.config.workload)
    this.busy.set(fresh, request)
    request.socket = fresh
  }

  protected override needsLookup(): boolean {
    return !this.config.reuse || this.idle.length === 0
  }

  protected release(request: Request): void {
    const conn = request.socket as TcpConnection | null
    request.socket = null
    if (conn === null || this.busy.get(conn) !== request) return
    this.busy.delete(conn)
    if (this.config.reuse && conn.error === E.NONE && conn.stateName === "ESTABLISHED" && request.completed) {
      this.idle.push(conn)
      return
    }
    conn.close()
  }

  onConnected(conn: TcpConnection): void {
    const request = this.busy.get(conn)
    if (request === undefined) return
    conn.send(this.config.requestBytes, request.id, this.info)
  }

  onMessage(conn: TcpConnection, _bytes: number, appTag: number, appData: object | null): void {
    const request = this.busy.get(conn)
    if (request === undefined || request.id !== appTag) return
    this.complete(request, appData as ServerIdentity | null, this.apps.nowNs)
  }

  onPeerClosed(conn: TcpConnection): void {
    const request = this.busy.get(conn)
    const i = this.idle.indexOf(conn)
    if (i >= 0) this.idle.splice(i, 1)
    conn.close()
    // The server closed before answering: curl reports "Empty reply from server".
    if (request !== undefined) this.fail(request, FailureReason.RESET, this.apps.nowNs)
  }

  onClosed(conn: TcpConnection, error: NetError): void {
    const i = this.idle.indexOf(conn)
    if (i >= 0) this.idle.splice(i, 1)
    const request = this.busy.get(conn)
    if (request === undefined) return
    this.fail(request, error === E.NONE ? FailureReason.RESET : netErrorReason(error), this.apps.nowNs)
  }
}
