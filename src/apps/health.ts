/**
 * kube-proxy's service health check server (pkg/proxy/healthcheck/service_health.go) and the HTTP
 * prober a cloud load balancer points at it.
 *
 * Server: one per (node, Service with a healthCheckNodePort), listening on every node address at
 * that port (upstream listens on 0.0.0.0 unless --nodeport-addresses is set). Every request is
 * answered by hcHandler.ServeHTTP: status 200 when the node has >= 1 local ready endpoint for the
 * Service and the proxier is healthy, 503 otherwise; headers Content-Type: application/json and
 * X-Content-Type-Options: nosniff; the body is
 *
 *   {
 *   	"service": {
 *   		"namespace": "<ns>",
 *   		"name": "<name>"
 *   	},
 *   	"localEndpoints": <n>,
 *   	"serviceProxyHealthy": true
 *   }
 *
 * (tab-indented by dedent, no trailing newline). The count is what kube-proxy's last sync reported
 * (SyncEndpoints(LocalReadyEndpoints()): distinct IPs of local, ready endpoints, so a pod serving
 * two ports counts once); the runtime sets it after each sync. The reply carries a HealthReply so
 * the prober reads the status without parsing.
 */
import type { NetError } from "../net/errors.ts"
import type { NetNs } from "../net/netns.ts"
import type { Network } from "../net/network.ts"
import type { TcpConnection, TcpConnectionListener, TcpListenSocket, TcpServerListener } from "../net/tcp.ts"
import type { ServerIdentity } from "./observer.ts"

/**
 * What a health check reply carries: the server's identity (so an ordinary HTTP workload aimed at a
 * healthCheckNodePort counts it like any server, as `curl` prints the JSON whatever the status),
 * the status line's code and the JSON's localEndpoints.
 */
export interface HealthReply extends ServerIdentity {
  readonly status: 200 | 503
  readonly localEndpoints: number
  readonly body: string
}

export interface HealthResponse {
  readonly status: 200 | 503
  readonly localEndpoints: number
  readonly body: string
  /** Status line + headers + body. */
  readonly bytes: number
}

/** Go's net/http status line and headers for the reply, with the Date header's fixed 29-char value. */
function headerBytes(status: 200 | 503, bodyBytes: number): number {
  const statusLine = status === 200 ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.1 503 Service Unavailable\r\n"
  // net/http writes headers sorted by key; Content-Length is added for a small complete body.
  const headers =
    `Content-Length: ${bodyBytes}\r\n` +
    "Content-Type: application/json\r\n" +
    "Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n" +
    "X-Content-Type-Options: nosniff\r\n" +
    "\r\n"
  return statusLine.length + headers.length
}

/** The JSON body hcHandler.ServeHTTP writes (after dedent and Trim "\n"). */
export function healthCheckBody(
  namespace: string,
  name: string,
  localEndpoints: number,
  proxyHealthy: boolean,
): string {
  return `{\n\t"service": {\n\t\t"namespace": ${JSON.stringify(namespace)},\n\t\t"name": ${JSON.stringify(name)}\n\t},\n\t"localEndpoints": ${localEndpoints},\n\t"serviceProxyHealthy": ${proxyHealthy}\n}`
}

/** Status, body and total response size (status line + headers + body) for a count. */
export function healthCheckResponse(
  namespace: string,
  name: string,
  localEndpoints: number,
  proxyHealthy = true,
): HealthResponse {
  const status: 200 | 503 = localEndpoints !== 0 && proxyHealthy ? 200 : 503
  const body = healthCheckBody(namespace, name, localEndpoints, proxyHealthy)
  const bodyBytes = body.length // Kubernetes names are ASCII
  return { status, localEndpoints, body, bytes: headerBytes(status, bodyBytes) + bodyBytes }
}

export class HealthCheckServer implements TcpServerListener, TcpConnectionListener {
  private listener: TcpListenSocket | null
  private reply: HealthReply
  private bytes: number
  /** Requests answered, by status. */
  served200 = 0
  served503 = 0

  constructor(
    network: Network,
    readonly ns: NetNs,
    readonly namespace: string,
    readonly name: string,
    readonly port: number,
    localEndpoints: number,
    readonly identity: ServerIdentity,
  ) {
    const response = healthCheckResponse(namespace, name, localEndpoints)
    this.reply = { ...identity, status: response.status, localEndpoints, body: response.body }
    this.bytes = response.bytes
    this.listener = network.tcp.listen(ns, 0, port, this)
  }

  get localEndpoints(): number {
    return this.reply.localEndpoints
  }

  /** SyncEndpoints: the count kube-proxy's last sync saw. */
  setLocalEndpoints(count: number): void {
    if (count === this.reply.localEndpoints) return
    const response = healthCheckResponse(this.namespace, this.name, count)
    this.reply = { ...this.identity, status: response.status, localEndpoints: count, body: response.body }
    this.bytes = response.bytes
  }

  onAccept(_server: TcpListenSocket, _conn: TcpConnection): TcpConnectionListener {
    return this
  }

  onConnected(_conn: TcpConnection): void {}

  onMessage(conn: TcpConnection, _bytes: number, appTag: number, _appData: object | null): void {
    const reply = this.reply
    if (reply.status === 200) this.served200++
    else this.served503++
    conn.send(this.bytes, appTag, reply)
  }

  onPeerClosed(conn: TcpConnection): void {
    conn.close()
  }

  onClosed(_conn: TcpConnection, _error: NetError): void {}

  /** SyncServices removed the Service (or changed its port): stop listening. */
  close(): void {
    this.listener?.close()
    this.listener = null
  }
}

/** `GET /healthz` as a cloud prober sends it (GCE HTTP health check: request path /healthz). */
export function healthCheckRequestBytes(host: string, port: number): number {
  return `GET /healthz HTTP/1.1\r\nHost: ${host}:${port}\r\nUser-Agent: GoogleHC/1.0\r\nConnection: close\r\n\r\n`
    .length
}
