/**
 * Which servers a pod runs, chosen by its containers' images, as the real programs in those images
 * listen:
 *   - nginx (and images built on it: nginx-*, praqma/network-multitool): its welcome page on TCP 80,
 *     plus the generic servers below on any other containerPorts;
 *   - coredns (registry.k8s.io/coredns/coredns, coredns/coredns): DNS on UDP and TCP 53 (the
 *     Corefile's `.:53`, whatever containerPorts say); its other TCP containerPorts (9153 metrics,
 *     8080 health, 8181 ready) answer HTTP; it echoes nothing over UDP;
 *   - any other image: HTTP on each TCP containerPort (replying with its pod name and IP) and UDP
 *     echo on each UDP containerPort; without ports it listens on nothing.
 * A port another process of the namespace already holds (two hostNetwork pods on one node) fails to
 * bind (EADDRINUSE): that server never listens there.
 */
import type { NetNs } from "../net/netns.ts"
import { Distribution, type DistributionSpec } from "../sim/distribution.ts"
import type { Rng } from "../sim/rng.ts"
import { CoreDnsServer, DNS_PORT, type CoreDnsEnvironment, type CoreDnsParams } from "./coredns.ts"
import type { ServerHost } from "./host.ts"
import { GENERIC_RESPONSE_BYTES, HttpServer, NGINX_RESPONSE_BYTES } from "./http.ts"
import type { ServerIdentity } from "./observer.ts"
import { UdpEchoServer, type Server, type ServiceTime } from "./server.ts"

/** The program an image runs, as far as the servers it starts are concerned. */
export const ImageProgram = { GENERIC: 0, NGINX: 1, COREDNS: 2 } as const
export type ImageProgram = (typeof ImageProgram)[keyof typeof ImageProgram]

interface ImageEntry {
  readonly program: ImageProgram
  /** Matches the image's repository name: its last path component, without tag or digest. */
  readonly matches: (repositoryName: string) => boolean
}

/** The registry, first match wins; images not listed run the generic servers. */
export const IMAGE_REGISTRY: readonly ImageEntry[] = [
  {
    program: ImageProgram.NGINX,
    matches: (n) => n === "nginx" || n === "network-multitool" || n.startsWith("nginx-"),
  },
  { program: ImageProgram.COREDNS, matches: (n) => n === "coredns" },
]

/** "registry.k8s.io/coredns/coredns:v1.11.1" -> "coredns"; "nginx@sha256:..." -> "nginx". */
export function repositoryName(image: string): string {
  const name = image.split("@")[0]
  const last = name.split("/").pop() ?? ""
  const colon = last.indexOf(":")
  return colon < 0 ? last : last.slice(0, colon)
}

/**
 * Default service time per request of each program's HTTP server, with its source (MODEL.md
 * "Service times"). Used unless the scenario pins server.serviceTime or sets server.images.
 */
export const SERVICE_TIME_DEFAULTS: Readonly<
  Record<"nginx" | "generic", { readonly spec: DistributionSpec; readonly source: string }>
> = {
  // 1 / 74,091 requests/s = 13.5 us of one CPU per 1 KB keep-alive request (NGINX, "Testing the
  // Performance of NGINX and NGINX Plus Web Servers", 2017, HTTP RPS table, 1 CPU, 1 KB); the
  // welcome page is 615 bytes. Exponential: the shape is an assumption (M/M/c), the mean is the figure.
  nginx: {
    spec: { kind: "exponential", meanNs: 13_500 },
    source:
      "https://www.nginx.com/blog/testing-the-performance-of-nginx-and-nginx-plus-web-servers/ (1 CPU, 1 KB: 74,091 RPS)",
  },
  // No published figure fits an arbitrary application: kube-netsim's former default, 100 us fixed.
  generic: { spec: { kind: "fixed", valueNs: 100_000 }, source: "kube-netsim's former server.serviceTime default" },
}

const compiled = new WeakMap<DistributionSpec, Distribution>()
function compile(spec: DistributionSpec): Distribution {
  let d = compiled.get(spec)
  if (d === undefined) {
    d = new Distribution(spec)
    compiled.set(spec, d)
  }
  return d
}

/** How the scenario sets service times (cluster/spec.ts ServerSpec). */
export interface ServiceTimeSettings {
  /** server.serviceTime was written: every image uses the context's serviceTime. */
  readonly pinned: boolean
  /** server.images: by repository name (http-go) or program name (nginx, generic). */
  readonly byImage?: Readonly<Record<string, DistributionSpec>>
  /** CPUs the servers serve on (0 = unlimited). */
  readonly cpus: number
}

/** The service time of a pod whose HTTP/UDP servers run `image` (program `program`). */
export function serviceTimeOf(image: string, base: ServiceTime, settings: ServiceTimeSettings): ServiceTime {
  const program = imageProgram(image) === ImageProgram.NGINX ? "nginx" : "generic"
  const own = settings.byImage?.[repositoryName(image)] ?? settings.byImage?.[program]
  const cpus = settings.cpus
  if (own !== undefined) return { ...base, draw: compile(own), cpus }
  if (settings.pinned) return { ...base, cpus }
  return { ...base, draw: compile(SERVICE_TIME_DEFAULTS[program].spec), cpus }
}

export function imageProgram(image: string): ImageProgram {
  const name = repositoryName(image)
  for (const entry of IMAGE_REGISTRY) if (entry.matches(name)) return entry.program
  return ImageProgram.GENERIC
}

export interface ContainerPorts {
  readonly image: string
  readonly ports?: readonly { readonly containerPort: number; readonly protocol?: string }[]
}

/** Everything a pod's servers need; `dnsRng` and `coreDns` only used when an image is CoreDNS. */
export interface PodServerContext {
  readonly host: ServerHost & { addServer(server: Server, index?: number): void }
  readonly ns: NetNs
  readonly identity: ServerIdentity
  readonly serviceTime: ServiceTime
  /** Per-image service times and CPUs; absent: `serviceTime` for every image, unlimited CPUs. */
  readonly serviceTimes?: ServiceTimeSettings
  /** The pod's server stream (HTTP and UDP echo share it, in that order). */
  readonly rng: Rng
  /** The CoreDNS server's own stream (cache eviction). */
  readonly dnsRng: () => Rng
  readonly coreDns: () => { readonly params: CoreDnsParams; readonly env: CoreDnsEnvironment }
}

/**
 * How many servers startPodServers starts in a fresh namespace (nothing bound yet), and whether one
 * is CoreDNS: a pod whose network is built on first use reserves their indices (cluster/world.ts).
 */
export function podServerPlan(containers: readonly ContainerPorts[]): { count: number; coreDns: boolean } {
  const { tcpPorts, udpPorts, coreDns } = podServerPorts(containers)
  const dns = coreDns && !tcpPorts.has(DNS_PORT) && !udpPorts.has(DNS_PORT)
  return { count: (tcpPorts.size > 0 ? 1 : 0) + (udpPorts.size > 0 ? 1 : 0) + (dns ? 1 : 0), coreDns }
}

function podServerPorts(containers: readonly ContainerPorts[]): {
  tcpPorts: Set<number>
  udpPorts: Set<number>
  nginx: boolean
  coreDns: boolean
} {
  const tcpPorts = new Set<number>()
  const udpPorts = new Set<number>()
  let nginx = false
  let coreDns = false
  for (const container of containers) {
    const program = imageProgram(container.image)
    if (program === ImageProgram.NGINX) {
      nginx = true
      tcpPorts.add(80)
    } else if (program === ImageProgram.COREDNS) coreDns = true
    for (const port of container.ports ?? []) {
      const protocol = port.protocol ?? "TCP"
      if (protocol === "UDP") {
        if (program !== ImageProgram.COREDNS) udpPorts.add(port.containerPort)
      } else if (protocol !== "SCTP" && !(program === ImageProgram.COREDNS && port.containerPort === DNS_PORT))
        tcpPorts.add(port.containerPort)
    }
  }
  return { tcpPorts, udpPorts, nginx, coreDns }
}

/**
 * Starts the pod's servers (registered with the host) and returns them. `serverIndexFirst`: the
 * host reserved their indices (Apps.reserveServers); they take those, in order.
 */
export function startPodServers(
  ctx: PodServerContext,
  containers: readonly ContainerPorts[],
  serverIndexFirst?: number,
): Server[] {
  const ports = podServerPorts(containers)
  const { tcpPorts, udpPorts, nginx } = ports
  let coreDns = ports.coreDns
  const ns = ctx.ns
  // A deferred userspace proxier of a hostNetwork pod's node binds its ports before they are read.
  ns.portsPending?.settle()
  for (const port of tcpPorts) if (ns.tcpListeners.has(port)) tcpPorts.delete(port)
  for (const port of udpPorts) if (ns.udpSockets.has(port)) udpPorts.delete(port)
  // CoreDNS needs both 53s; another DNS server in the namespace (a second hostNetwork CoreDNS) keeps them.
  if (coreDns && (tcpPorts.has(DNS_PORT) || udpPorts.has(DNS_PORT))) coreDns = false
  if (coreDns && (ns.tcpListeners.has(DNS_PORT) || ns.udpSockets.has(DNS_PORT))) coreDns = false
  // The image whose servers answer: nginx when the pod runs it, else the first with ports.
  const serving =
    containers.find((c) => imageProgram(c.image) === ImageProgram.NGINX) ??
    containers.find((c) => imageProgram(c.image) === ImageProgram.GENERIC && (c.ports?.length ?? 0) > 0)
  const serviceTime =
    ctx.serviceTimes === undefined || serving === undefined
      ? ctx.serviceTime
      : serviceTimeOf(serving.image, ctx.serviceTime, ctx.serviceTimes)
  const servers: Server[] = []
  if (tcpPorts.size > 0) {
    servers.push(
      new HttpServer(
        ctx.host,
        ns,
        ctx.identity,
        serviceTime,
        ctx.rng,
        [...tcpPorts].sort((a, b) => a - b),
        nginx ? NGINX_RESPONSE_BYTES : GENERIC_RESPONSE_BYTES,
      ),
    )
  }
  if (udpPorts.size > 0) {
    servers.push(
      new UdpEchoServer(
        ctx.host,
        ns,
        ctx.identity,
        serviceTime,
        ctx.rng,
        [...udpPorts].sort((a, b) => a - b),
      ),
    )
  }
  if (coreDns) {
    const { params, env } = ctx.coreDns()
    servers.push(new CoreDnsServer(ctx.host, ns, ctx.identity, ctx.dnsRng(), params, env))
  }
  servers.forEach((server, i) =>
    ctx.host.addServer(server, serverIndexFirst === undefined ? undefined : serverIndexFirst + i),
  )
  return servers
}
