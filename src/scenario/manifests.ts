/**
 * Kubernetes manifests as `kubectl apply` accepts them: v1 Namespace, Pod, Service, Endpoints;
 * apps/v1 Deployment, ReplicaSet; discovery.k8s.io/v1 EndpointSlice; `kind: List` with items.
 * Each object is decoded with effect Schema into the src/k8s/types.ts shapes.
 *
 * Details:
 * - Fields the simulator uses are type-checked (a string where a number belongs is an error, as the
 *   API server's decoder makes it); fields it ignores (resources, imagePullPolicy, strategy,
 *   status, ...) are accepted and dropped, like kubectl does.
 * - Fields that no Kubernetes object has (typos such as `targetport`) are reported as warnings.
 * - Kinds the simulator does not model (ConfigMap, Ingress, ...) are reported as warnings and
 *   skipped, never silently dropped.
 * - API-server validations that change what the data plane sees are applied: names, selector vs
 *   template labels, port ranges, named multi-port Services, the namespace of `kubectl apply -n`.
 */
import { Schema } from "effect"
import type { Issue, ManifestObject } from "../cluster/spec.ts"
import type { KubeObject } from "../k8s/types.ts"
import { parseAddress, parsePrefix } from "./address.ts"
import { decodeAll, Ipv4String, NonNegativeInt, Port } from "./schema-util.ts"
import type { Path, YamlDocument } from "./source.ts"

const opt = Schema.optionalKey
const Str = Schema.String
const StringMap = Schema.Record(Schema.String, Schema.String)
const StringList = Schema.Array(Schema.String)
const Protocol = Schema.Literals(["TCP", "UDP", "SCTP"])
const Bool = Schema.Boolean
const Int = Schema.Number.check(Schema.isInt({ message: "expected an integer" }))
const IntOrString = Schema.Union([Port, Schema.String])

const ObjectMeta = Schema.Struct({
  name: Str,
  namespace: opt(Str),
  labels: opt(StringMap),
  annotations: opt(StringMap),
  generateName: opt(Str),
  uid: opt(Str),
})

const TemplateMeta = Schema.Struct({
  name: opt(Str),
  namespace: opt(Str),
  labels: opt(StringMap),
  annotations: opt(StringMap),
  generateName: opt(Str),
})

const LabelSelector = Schema.Struct({
  matchLabels: opt(StringMap),
  matchExpressions: opt(Schema.Array(Schema.Struct({
    key: Str,
    operator: Schema.Literals(["In", "NotIn", "Exists", "DoesNotExist"]),
    values: opt(StringList),
  }))),
})

const Probe = Schema.Struct({
  initialDelaySeconds: opt(NonNegativeInt),
  periodSeconds: opt(NonNegativeInt),
  timeoutSeconds: opt(NonNegativeInt),
  successThreshold: opt(NonNegativeInt),
  failureThreshold: opt(NonNegativeInt),
  httpGet: opt(Schema.Struct({ path: opt(Str), port: IntOrString })),
  tcpSocket: opt(Schema.Struct({ port: IntOrString })),
  exec: opt(Schema.Struct({ command: StringList })),
})

const Container = Schema.Struct({
  name: Str,
  image: Str,
  ports: opt(Schema.Array(Schema.Struct({ name: opt(Str), containerPort: Port, protocol: opt(Protocol), hostPort: opt(Port) }))),
  command: opt(StringList),
  args: opt(StringList),
  readinessProbe: opt(Probe),
  livenessProbe: opt(Probe),
})

const PodSpec = Schema.Struct({
  containers: Schema.Array(Container).check(Schema.makeFilter((list: readonly unknown[]) => (list.length > 0 ? undefined : "at least one container is required"))),
  nodeName: opt(Str),
  nodeSelector: opt(StringMap),
  hostNetwork: opt(Bool),
  dnsPolicy: opt(Schema.Literals(["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"])),
  terminationGracePeriodSeconds: opt(NonNegativeInt),
  hostname: opt(Str),
  subdomain: opt(Str),
})

const Pod = Schema.Struct({ apiVersion: Schema.Literal("v1"), kind: Schema.Literal("Pod"), metadata: ObjectMeta, spec: PodSpec })

const WorkloadSpec = Schema.Struct({
  replicas: opt(NonNegativeInt),
  selector: LabelSelector,
  template: Schema.Struct({ metadata: opt(TemplateMeta), spec: PodSpec }),
})

const Deployment = Schema.Struct({ apiVersion: Schema.Literal("apps/v1"), kind: Schema.Literal("Deployment"), metadata: ObjectMeta, spec: WorkloadSpec })
const ReplicaSet = Schema.Struct({ apiVersion: Schema.Literal("apps/v1"), kind: Schema.Literal("ReplicaSet"), metadata: ObjectMeta, spec: WorkloadSpec })
const Namespace = Schema.Struct({ apiVersion: Schema.Literal("v1"), kind: Schema.Literal("Namespace"), metadata: ObjectMeta })

/** An IPv4 address, or "" (unset) where the API allows it. */
function optionalAddress(what: string, alsoAllowed: readonly string[] = [""]) {
  return Schema.String.check(
    Schema.makeFilter((text: string) => {
      if (alsoAllowed.includes(text)) return undefined
      const parsed = parseAddress(text, what)
      return parsed.ok ? undefined : parsed.message
    }),
  )
}

const ClusterIP = optionalAddress("clusterIP", ["None", ""])

/**
 * loadBalancerSourceRanges: CIDRs as the API server validates them (IsValidCIDR: space padding and
 * host bits allowed, a historical accident of the annotation they replaced).
 */
const SourceRange = Schema.String.check(
  Schema.makeFilter((text: string) => {
    const parsed = parsePrefix(text.trim(), "source range", false)
    return parsed.ok ? undefined : parsed.message
  }),
)

const ServicePort = Schema.Struct({
  name: opt(Str),
  protocol: opt(Protocol),
  port: Port,
  targetPort: opt(IntOrString),
  nodePort: opt(Port),
  appProtocol: opt(Str),
})

const ServiceSpec = Schema.Struct({
  type: opt(Schema.Literals(["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"])),
  selector: opt(StringMap),
  ports: opt(Schema.Array(ServicePort)),
  clusterIP: opt(ClusterIP),
  clusterIPs: opt(Schema.Array(ClusterIP)),
  externalIPs: opt(Schema.Array(Ipv4String)),
  externalName: opt(Str),
  sessionAffinity: opt(Schema.Literals(["None", "ClientIP"])),
  sessionAffinityConfig: opt(Schema.Struct({ clientIP: opt(Schema.Struct({ timeoutSeconds: opt(Schema.Number.check(Schema.isInt({ message: "expected an integer" }), Schema.isBetween({ minimum: 1, maximum: 86400 }, { message: "must be between 1 and 86400" }))) })) })),
  externalTrafficPolicy: opt(Schema.Literals(["Cluster", "Local"])),
  internalTrafficPolicy: opt(Schema.Literals(["Cluster", "Local"])),
  healthCheckNodePort: opt(Port),
  loadBalancerIP: opt(optionalAddress("loadBalancerIP")),
  loadBalancerSourceRanges: opt(Schema.Array(SourceRange)),
  loadBalancerClass: opt(Str),
  publishNotReadyAddresses: opt(Bool),
  ipFamilies: opt(Schema.Array(Schema.Literals(["IPv4", "IPv6"]))),
})

/**
 * Service status: only loadBalancer.ingress is kept (what a load-balancer controller writes, e.g.
 * the LB addresses of an upstream test case); the API server keeps its own conditions.
 */
const ServiceStatus = Schema.Struct({
  loadBalancer: opt(Schema.Struct({
    ingress: opt(Schema.Array(Schema.Struct({ ip: opt(Ipv4String), hostname: opt(Str), ipMode: opt(Schema.Literals(["VIP", "Proxy"])), ports: opt(Schema.Unknown) }))),
  })),
  conditions: opt(Schema.Unknown),
})

const Service = Schema.Struct({ apiVersion: Schema.Literal("v1"), kind: Schema.Literal("Service"), metadata: ObjectMeta, spec: ServiceSpec, status: opt(ServiceStatus) })

const TargetRef = Schema.Struct({ kind: Str, name: Str, namespace: opt(Str), uid: opt(Str) })
const EndpointAddress = Schema.Struct({ ip: Ipv4String, nodeName: opt(Str), hostname: opt(Str), targetRef: opt(TargetRef) })

const Endpoints = Schema.Struct({
  apiVersion: Schema.Literal("v1"),
  kind: Schema.Literal("Endpoints"),
  metadata: ObjectMeta,
  subsets: opt(Schema.Array(Schema.Struct({
    addresses: opt(Schema.Array(EndpointAddress)),
    notReadyAddresses: opt(Schema.Array(EndpointAddress)),
    ports: opt(Schema.Array(Schema.Struct({ name: opt(Str), port: Port, protocol: opt(Protocol) }))),
  }))),
})

const EndpointSlice = Schema.Struct({
  apiVersion: Schema.Literal("discovery.k8s.io/v1"),
  kind: Schema.Literal("EndpointSlice"),
  metadata: ObjectMeta,
  addressType: Schema.Literals(["IPv4", "IPv6", "FQDN"]),
  endpoints: Schema.Array(Schema.Struct({
    addresses: StringList,
    conditions: opt(Schema.Struct({ ready: opt(Bool), serving: opt(Bool), terminating: opt(Bool) })),
    nodeName: opt(Str),
    zone: opt(Str),
    hostname: opt(Str),
    targetRef: opt(TargetRef),
    hints: opt(Schema.Struct({ forZones: opt(Schema.Array(Schema.Struct({ name: Str }))), forNodes: opt(Schema.Array(Schema.Struct({ name: Str }))) })),
  })),
  ports: opt(Schema.Array(Schema.Struct({ name: opt(Str), port: opt(Port), protocol: opt(Protocol), appProtocol: opt(Str) }))),
}).check(
  // The API server validates each address against the slice's addressType (IPv4 here: IPv6 slices
  // are left to the IPv4 proxier, which skips them as upstream's does).
  Schema.makeFilter((slice: { readonly addressType: string; readonly endpoints: readonly { readonly addresses: readonly string[] }[] }) => {
    if (slice.addressType !== "IPv4") return undefined
    const issues: { path: PropertyKey[]; issue: string }[] = []
    slice.endpoints.forEach((endpoint, i) => endpoint.addresses.forEach((address, j) => {
      const parsed = parseAddress(address, "endpoint address")
      if (!parsed.ok) issues.push({ path: ["endpoints", i, "addresses", j], issue: parsed.message })
    }))
    return issues
  }),
)

/** The kinds the simulator models, with the one apiVersion each is served at. */
const KINDS = {
  Namespace: { apiVersion: "v1", schema: Namespace },
  Pod: { apiVersion: "v1", schema: Pod },
  Service: { apiVersion: "v1", schema: Service },
  Endpoints: { apiVersion: "v1", schema: Endpoints },
  Deployment: { apiVersion: "apps/v1", schema: Deployment },
  ReplicaSet: { apiVersion: "apps/v1", schema: ReplicaSet },
  EndpointSlice: { apiVersion: "discovery.k8s.io/v1", schema: EndpointSlice },
} as const

type KindName = keyof typeof KINDS

function isKindName(kind: string): kind is KindName {
  return Object.hasOwn(KINDS, kind)
}

/**
 * Field names that exist in the Kubernetes API but that the simulator ignores: accepted without a
 * warning and dropped. Any other field outside the schemas above is reported as unknown.
 */
const IGNORED_FIELDS = new Set([
  "status", "creationTimestamp", "resourceVersion", "generation", "managedFields", "selfLink", "ownerReferences", "finalizers",
  "deletionTimestamp", "deletionGracePeriodSeconds",
  "strategy", "minReadySeconds", "revisionHistoryLimit", "progressDeadlineSeconds", "paused",
  "resources", "imagePullPolicy", "env", "envFrom", "volumeMounts", "volumeDevices", "workingDir", "securityContext",
  "stdin", "stdinOnce", "tty", "terminationMessagePath", "terminationMessagePolicy", "startupProbe", "lifecycle",
  "restartPolicy", "volumes", "initContainers", "ephemeralContainers", "serviceAccountName", "serviceAccount",
  "automountServiceAccountToken", "imagePullSecrets", "affinity", "tolerations", "schedulerName", "priorityClassName",
  "priority", "enableServiceLinks", "preemptionPolicy", "topologySpreadConstraints", "dnsConfig", "hostPID", "hostIPC",
  "shareProcessNamespace", "readinessGates", "runtimeClassName", "overhead", "hostAliases", "setHostnameAsFQDN", "os",
  "hostUsers", "schedulingGates", "resourceClaims", "activeDeadlineSeconds", "nodeName_",
  "ipFamilyPolicy", "allocateLoadBalancerNodePorts", "trafficDistribution", "hostIP", "grpc", "scheme", "httpHeaders", "host",
  "terminationGracePeriodSeconds", "spec", "metadata",
])

const BUILTIN_NAMESPACES = new Set(["default", "kube-system", "kube-public", "kube-node-lease"])

/** API-server settings that manifest validation depends on. */
export interface ManifestOptions {
  /** kube-apiserver --service-node-port-range, inclusive (default 30000-32767); null = unknown, not checked. */
  readonly nodePortRange?: { readonly min: number; readonly max: number } | null
}

export interface ManifestDecodeResult {
  readonly objects: ManifestObject[]
  readonly issues: Issue[]
}

/**
 * Decodes one YAML document holding a Kubernetes object (or a `kind: List`) at `root` inside the
 * document. `namespace` is the namespace for objects that name none (`kubectl apply -n`).
 */
export function decodeManifest(doc: YamlDocument, root: Path, value: unknown, namespace: string | undefined, options: ManifestOptions = {}): ManifestDecodeResult {
  const out: ManifestDecodeResult = { objects: [], issues: [] }
  if (value === null || value === undefined) return out
  if (Array.isArray(value)) {
    value.forEach((item, index) => decodeOne(doc, [...root, index], item, namespace, out, options))
    return out
  }
  decodeOne(doc, root, value, namespace, out, options)
  return out
}

function decodeOne(doc: YamlDocument, root: Path, value: unknown, namespace: string | undefined, out: ManifestDecodeResult, options: ManifestOptions): void {
  const error = (path: Path, message: string, atKey = false): void => {
    const full = [...root, ...path]
    out.issues.push({ severity: "error", path: full, message, position: atKey ? doc.locateKey(full) : doc.locate(full) })
  }
  const warning = (path: Path, message: string, atKey = false): void => {
    const full = [...root, ...path]
    out.issues.push({ severity: "warning", path: full, message, position: atKey ? doc.locateKey(full) : doc.locate(full) })
  }
  if (value === null || value === undefined) return
  if (typeof value !== "object" || Array.isArray(value)) {
    error([], "expected a Kubernetes object (a mapping with apiVersion, kind and metadata)")
    return
  }
  const record = value as Record<string, unknown>
  const apiVersion = record.apiVersion
  const kind = record.kind
  if (typeof apiVersion !== "string" || apiVersion === "") error(["apiVersion"], "apiVersion not set")
  if (typeof kind !== "string" || kind === "") error(["kind"], "kind not set")
  if (typeof apiVersion !== "string" || typeof kind !== "string" || apiVersion === "" || kind === "") return

  if (kind === "List") {
    if (apiVersion !== "v1") error(["apiVersion"], `no matches for kind "List" in version "${apiVersion}"`)
    const items = record.items
    if (!Array.isArray(items)) {
      error(["items"], "expected a list of objects")
      return
    }
    items.forEach((item, index) => decodeOne(doc, [...root, "items", index], item, namespace, out, options))
    return
  }
  if (!isKindName(kind)) {
    warning(["kind"], `kind ${kind} (${apiVersion}) is not simulated; object skipped`)
    return
  }
  const expected = KINDS[kind]
  if (apiVersion !== expected.apiVersion) {
    error(["apiVersion"], `no matches for kind "${kind}" in version "${apiVersion}" (the simulator serves ${kind} at ${expected.apiVersion})`)
    return
  }

  const strict = decodeAll(expected.schema, value, true)
  let decoded: unknown
  if (strict.ok) {
    decoded = strict.value
  } else {
    const others = strict.issues.filter((issue) => !issue.atKey)
    for (const issue of strict.issues) {
      if (!issue.atKey) continue
      const field = issue.path[issue.path.length - 1]
      if (typeof field === "string" && IGNORED_FIELDS.has(field)) continue
      warning(issue.path, `unknown field "${String(field)}" (ignored)`, true)
    }
    for (const issue of others) error(issue.path, issue.message)
    if (others.length > 0) return
    const lenient = decodeAll(expected.schema, value, false)
    if (!lenient.ok) {
      for (const issue of lenient.issues) error(issue.path, issue.message)
      return
    }
    decoded = lenient.value
  }

  const object = structuredClone(decoded) as KubeObject
  const before = out.issues.length
  validateObject(object, error, options)
  applyNamespace(object, namespace, error)
  if (out.issues.slice(before).some((issue) => issue.severity === "error")) return
  out.objects.push({ object, locate: (path) => doc.locate([...root, ...path]) })
}

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/

type Report = (path: Path, message: string) => void

/** The API server's validations that matter to the data plane (messages after its own). */
function validateObject(object: KubeObject, error: Report, options: ManifestOptions): void {
  const name = object.metadata.name
  if (object.kind === "Service") {
    if (!(DNS1035_LABEL.test(name) && name.length <= 63)) {
      error(["metadata", "name"], `invalid value "${name}": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character`)
    }
  } else if (object.kind === "Namespace") {
    if (!(DNS1123_LABEL.test(name) && name.length <= 63)) error(["metadata", "name"], `invalid value "${name}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character`)
  } else if (!(DNS1123_SUBDOMAIN.test(name) && name.length <= 253)) {
    error(["metadata", "name"], `invalid value "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`)
  }
  for (const [key, value] of Object.entries(object.metadata.labels ?? {})) {
    if (!(LABEL_VALUE.test(value) && value.length <= 63)) error(["metadata", "labels", key], `invalid label value "${value}": must be 63 characters or less and consist of alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric`)
  }

  if (object.kind === "Deployment" || object.kind === "ReplicaSet") {
    const selector = object.spec.selector
    const labels = object.spec.template.metadata?.labels ?? {}
    if ((selector.matchLabels === undefined || Object.keys(selector.matchLabels).length === 0) && (selector.matchExpressions ?? []).length === 0) {
      error(["spec", "selector"], "empty selector is invalid for deployment")
    } else if (!selectorMatches(selector, labels)) {
      error(["spec", "template", "metadata", "labels"], "`selector` does not match template `labels`")
    }
  }
  if (object.kind === "Service") {
    const spec = object.spec
    const ports = spec.ports ?? []
    const type = spec.type ?? "ClusterIP"
    if (type !== "ExternalName" && ports.length === 0) error(["spec", "ports"], "Required value")
    if (type === "ExternalName" && (spec.externalName ?? "") === "") error(["spec", "externalName"], "Required value")
    if (ports.length > 1) {
      const seen = new Set<string>()
      ports.forEach((port, index) => {
        if (port.name === undefined || port.name === "") error(["spec", "ports", index, "name"], "Required value (every port of a multi-port Service needs a name)")
        else if (seen.has(port.name)) error(["spec", "ports", index, "name"], `Duplicate value: "${port.name}"`)
        else seen.add(port.name)
      })
    }
    const nodePortMin = options.nodePortRange?.min ?? 30000
    const nodePortMax = options.nodePortRange?.max ?? 32767
    ports.forEach((port, index) => {
      if (port.nodePort !== undefined) {
        if (type === "ClusterIP") error(["spec", "ports", index, "nodePort"], "may not be used when `type` is 'ClusterIP'")
        else if (options.nodePortRange !== null && (port.nodePort < nodePortMin || port.nodePort > nodePortMax)) error(["spec", "ports", index, "nodePort"], `Invalid value: ${port.nodePort}: provided port is not in the valid range. The range of valid ports is ${nodePortMin}-${nodePortMax}`)
      }
    })
    // Upstream ValidateService: a headless Service has no ClusterIP for NodePorts or a load balancer to forward to.
    if (spec.clusterIP === "None" && (type === "NodePort" || type === "LoadBalancer")) {
      error(["spec", "clusterIP"], `Invalid value: "None": may not be set to 'None' for ${type} services`)
    }
    if (spec.externalTrafficPolicy !== undefined && type !== "NodePort" && type !== "LoadBalancer") {
      error(["spec", "externalTrafficPolicy"], "may only be set for externally-accessible services (type NodePort or LoadBalancer)")
    }
  }
}

function applyNamespace(object: KubeObject, namespace: string | undefined, error: Report): void {
  if (object.kind === "Namespace") {
    delete object.metadata.namespace
    return
  }
  const own = object.metadata.namespace
  if (own !== undefined && namespace !== undefined && own !== namespace) {
    error(["metadata", "namespace"], `the namespace from the provided object "${own}" does not match the namespace "${namespace}" of the manifest entry`)
    return
  }
  object.metadata.namespace = own ?? namespace ?? "default"
}

/** Whether a LabelSelector selects an object with `labels`. */
export function selectorMatches(selector: { readonly matchLabels?: Readonly<Record<string, string>>; readonly matchExpressions?: readonly { readonly key: string; readonly operator: string; readonly values?: readonly string[] }[] }, labels: Readonly<Record<string, string>>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false
  }
  for (const requirement of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, requirement.key)
    const values = requirement.values ?? []
    switch (requirement.operator) {
      case "In":
        if (!has || !values.includes(labels[requirement.key])) return false
        break
      case "NotIn":
        if (has && values.includes(labels[requirement.key])) return false
        break
      case "Exists":
        if (!has) return false
        break
      case "DoesNotExist":
        if (has) return false
        break
    }
  }
  return true
}

/** Namespaces that exist without a manifest. */
export function isBuiltinNamespace(name: string): boolean {
  return BUILTIN_NAMESPACES.has(name)
}

/** Compile-time check that the schemas decode into (read-only views of) the k8s/types.ts shapes. */
type DeepReadonly<T> = T extends (infer U)[] ? readonly DeepReadonly<U>[] : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T
type Assignable<A, B> = [A] extends [B] ? true : false
const schemaShapesMatch: [
  Assignable<typeof Pod.Type, DeepReadonly<import("../k8s/types.ts").Pod>>,
  Assignable<typeof Deployment.Type, DeepReadonly<import("../k8s/types.ts").Deployment>>,
  Assignable<typeof ReplicaSet.Type, DeepReadonly<import("../k8s/types.ts").ReplicaSet>>,
  Assignable<typeof Service.Type, DeepReadonly<import("../k8s/types.ts").Service>>,
  Assignable<typeof Endpoints.Type, DeepReadonly<import("../k8s/types.ts").Endpoints>>,
  Assignable<typeof EndpointSlice.Type, DeepReadonly<import("../k8s/types.ts").EndpointSlice>>,
  Assignable<typeof Namespace.Type, DeepReadonly<import("../k8s/types.ts").Namespace>>,
] = [true, true, true, true, true, true, true]
void schemaShapesMatch
