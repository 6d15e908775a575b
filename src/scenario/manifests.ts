/**
 * Kubernetes manifests as `kubectl apply` accepts them: v1 Namespace, Pod, Service, Endpoints;
 * apps/v1 Deployment, ReplicaSet; discovery.k8s.io/v1 EndpointSlice; `kind: List` with items.
 * Each object is decoded with effect Schema into the src/k8s/types.ts shapes.
 *
 * Details:
 * - Fields the simulator uses are type-checked (a string where a number belongs is an error, as the
 *   API server's decoder makes it); fields with no effect on the simulated network (resources,
 *   imagePullPolicy, status, ...) are accepted and dropped, like kubectl does.
 * - Fields that change behaviour the simulator does not model (preStop hooks, affinity,
 *   hostPort, ...) are accepted and each reported as a warning at its position saying what differs.
 * - Fields that no Kubernetes object has (typos such as `targetport`) are reported as warnings.
 * - Kinds the simulator does not model (ConfigMap, Ingress, ...) are reported as warnings and
 *   skipped, never silently dropped.
 * - API-server validations that change what the data plane sees are applied: names, selector vs
 *   template labels, port ranges, named multi-port Services, the namespace of `kubectl apply -n`.
 */
import { Schema } from "effect"
import type { Issue, ManifestObject } from "../cluster/spec.ts"
import { matchesSelector } from "../k8s/labels.ts"
import { LABEL_SERVICE_PROXY_NAME } from "../proxy/service-port.ts"
import type { KubeObject, PodSpec } from "../k8s/types.ts"
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
  matchExpressions: opt(
    Schema.Array(
      Schema.Struct({
        key: Str,
        operator: Schema.Literals(["In", "NotIn", "Exists", "DoesNotExist"]),
        values: opt(StringList),
      }),
    ),
  ),
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
  ports: opt(
    Schema.Array(Schema.Struct({ name: opt(Str), containerPort: Port, protocol: opt(Protocol), hostPort: opt(Port) })),
  ),
  command: opt(StringList),
  args: opt(StringList),
  readinessProbe: opt(Probe),
  livenessProbe: opt(Probe),
})

const PodSpec = Schema.Struct({
  containers: Schema.Array(Container).check(
    Schema.makeFilter((list: readonly unknown[]) =>
      list.length > 0 ? undefined : "at least one container is required",
    ),
  ),
  nodeName: opt(Str),
  nodeSelector: opt(StringMap),
  hostNetwork: opt(Bool),
  dnsPolicy: opt(Schema.Literals(["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"])),
  /** core/v1 PodDNSConfig: read by kubelet's resolv.conf in dns.mode packets (dns/resolv-conf.ts). */
  dnsConfig: opt(
    Schema.Struct({
      nameservers: opt(Schema.Array(Str)),
      searches: opt(Schema.Array(Str)),
      options: opt(Schema.Array(Schema.Struct({ name: Str, value: opt(Str) }))),
    }),
  ),
  terminationGracePeriodSeconds: opt(NonNegativeInt),
  hostname: opt(Str),
  subdomain: opt(Str),
})

const Pod = Schema.Struct({
  apiVersion: Schema.Literal("v1"),
  kind: Schema.Literal("Pod"),
  metadata: ObjectMeta,
  spec: PodSpec,
})

const WorkloadSpec = Schema.Struct({
  replicas: opt(NonNegativeInt),
  selector: LabelSelector,
  template: Schema.Struct({ metadata: opt(TemplateMeta), spec: PodSpec }),
})

/** apps/v1 IntOrString (maxSurge, maxUnavailable): its form is checked by validateStrategy. */
const CountOrPercent = Schema.Union([Schema.Number, Str])
const Deployment = Schema.Struct({
  apiVersion: Schema.Literal("apps/v1"),
  kind: Schema.Literal("Deployment"),
  metadata: ObjectMeta,
  spec: Schema.Struct({
    ...WorkloadSpec.fields,
    minReadySeconds: opt(NonNegativeInt),
    strategy: opt(
      Schema.Struct({
        type: opt(Schema.Literals(["RollingUpdate", "Recreate"])),
        rollingUpdate: opt(Schema.Struct({ maxSurge: opt(CountOrPercent), maxUnavailable: opt(CountOrPercent) })),
      }),
    ),
  }),
})
const ReplicaSet = Schema.Struct({
  apiVersion: Schema.Literal("apps/v1"),
  kind: Schema.Literal("ReplicaSet"),
  metadata: ObjectMeta,
  spec: Schema.Struct({ ...WorkloadSpec.fields, minReadySeconds: opt(NonNegativeInt) }),
})
const Namespace = Schema.Struct({
  apiVersion: Schema.Literal("v1"),
  kind: Schema.Literal("Namespace"),
  metadata: ObjectMeta,
})

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
  sessionAffinityConfig: opt(
    Schema.Struct({
      clientIP: opt(
        Schema.Struct({
          timeoutSeconds: opt(
            Schema.Number.check(
              Schema.isInt({ message: "expected an integer" }),
              Schema.isBetween({ minimum: 1, maximum: 86400 }, { message: "must be between 1 and 86400" }),
            ),
          ),
        }),
      ),
    }),
  ),
  externalTrafficPolicy: opt(Schema.Literals(["Cluster", "Local"])),
  internalTrafficPolicy: opt(Schema.Literals(["Cluster", "Local"])),
  healthCheckNodePort: opt(Port),
  loadBalancerIP: opt(optionalAddress("loadBalancerIP")),
  loadBalancerSourceRanges: opt(Schema.Array(SourceRange)),
  loadBalancerClass: opt(Str),
  publishNotReadyAddresses: opt(Bool),
  ipFamilies: opt(Schema.Array(Schema.Literals(["IPv4", "IPv6"]))),
  ipFamilyPolicy: opt(Schema.Literals(["SingleStack", "PreferDualStack", "RequireDualStack"])),
  allocateLoadBalancerNodePorts: opt(Bool),
  trafficDistribution: opt(Schema.Literals(["PreferClose", "PreferSameZone", "PreferSameNode"])),
})

/**
 * Service status: only loadBalancer.ingress is kept (what a load-balancer controller writes, e.g.
 * the LB addresses of an upstream test case); the API server keeps its own conditions.
 */
const ServiceStatus = Schema.Struct({
  loadBalancer: opt(
    Schema.Struct({
      ingress: opt(
        Schema.Array(
          Schema.Struct({
            ip: opt(Ipv4String),
            hostname: opt(Str),
            ipMode: opt(Schema.Literals(["VIP", "Proxy"])),
            ports: opt(Schema.Unknown),
          }),
        ),
      ),
    }),
  ),
  conditions: opt(Schema.Unknown),
})

const Service = Schema.Struct({
  apiVersion: Schema.Literal("v1"),
  kind: Schema.Literal("Service"),
  metadata: ObjectMeta,
  spec: ServiceSpec,
  status: opt(ServiceStatus),
})

const TargetRef = Schema.Struct({ kind: Str, name: Str, namespace: opt(Str), uid: opt(Str) })
const EndpointAddress = Schema.Struct({
  ip: Ipv4String,
  nodeName: opt(Str),
  hostname: opt(Str),
  targetRef: opt(TargetRef),
})

const Endpoints = Schema.Struct({
  apiVersion: Schema.Literal("v1"),
  kind: Schema.Literal("Endpoints"),
  metadata: ObjectMeta,
  subsets: opt(
    Schema.Array(
      Schema.Struct({
        addresses: opt(Schema.Array(EndpointAddress)),
        notReadyAddresses: opt(Schema.Array(EndpointAddress)),
        ports: opt(Schema.Array(Schema.Struct({ name: opt(Str), port: Port, protocol: opt(Protocol) }))),
      }),
    ),
  ),
})

const EndpointSlice = Schema.Struct({
  apiVersion: Schema.Literal("discovery.k8s.io/v1"),
  kind: Schema.Literal("EndpointSlice"),
  metadata: ObjectMeta,
  addressType: Schema.Literals(["IPv4", "IPv6", "FQDN"]),
  endpoints: Schema.Array(
    Schema.Struct({
      addresses: StringList,
      conditions: opt(Schema.Struct({ ready: opt(Bool), serving: opt(Bool), terminating: opt(Bool) })),
      nodeName: opt(Str),
      zone: opt(Str),
      hostname: opt(Str),
      targetRef: opt(TargetRef),
      hints: opt(
        Schema.Struct({
          forZones: opt(Schema.Array(Schema.Struct({ name: Str }))),
          forNodes: opt(Schema.Array(Schema.Struct({ name: Str }))),
        }),
      ),
    }),
  ),
  ports: opt(
    Schema.Array(Schema.Struct({ name: opt(Str), port: opt(Port), protocol: opt(Protocol), appProtocol: opt(Str) })),
  ),
}).check(
  // The API server validates each address against the slice's addressType (IPv4 here: IPv6 slices
  // are left to the IPv4 proxier, which skips them as upstream's does).
  Schema.makeFilter(
    (slice: {
      readonly addressType: string
      readonly endpoints: readonly { readonly addresses: readonly string[] }[]
    }) => {
      if (slice.addressType !== "IPv4") return undefined
      const issues: { path: PropertyKey[]; issue: string }[] = []
      slice.endpoints.forEach((endpoint, i) =>
        endpoint.addresses.forEach((address, j) => {
          const parsed = parseAddress(address, "endpoint address")
          if (!parsed.ok) issues.push({ path: ["endpoints", i, "addresses", j], issue: parsed.message })
        }),
      )
      return issues
    },
  ),
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
 * Field names that exist in the Kubernetes API and have no effect on what the simulated network
 * does: accepted without a warning and dropped. Any other field outside the schemas above is either
 * in NOT_MODELLED_FIELDS (a warning saying what differs) or reported as unknown.
 * - Server-set metadata and status: the API server ignores or overwrites them on create.
 * - Container runtime details (env, volumes, service accounts, securityContext without sysctls, ...).
 * - resources: nodes have no CPU/memory capacity in the model (scheduling capacity is kubelet
 *   maxPods) and simulated servers' service times come from the scenario, not from CPU limits.
 * - tolerations: scenario nodes have no taints, so a toleration changes nothing.
 * - Probe handler details (grpc, scheme, host, httpHeaders, probe-level
 *   terminationGracePeriodSeconds): probes are modelled by their timing, the probed server is
 *   assumed to answer (MODEL.md), so how the kubelet reaches it has no effect.
 * - hostIP of a container port: only meaningful with hostPort, which warns itself.
 * - revisionHistoryLimit, progressDeadlineSeconds: Deployment bookkeeping and conditions only.
 * - spec/metadata where no schema has them (e.g. a Namespace's spec.finalizers list of the API).
 */
const IGNORED_FIELDS = new Set([
  "status",
  "creationTimestamp",
  "resourceVersion",
  "generation",
  "managedFields",
  "selfLink",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "revisionHistoryLimit",
  "progressDeadlineSeconds",
  "resources",
  "imagePullPolicy",
  "env",
  "envFrom",
  "volumeMounts",
  "volumeDevices",
  "workingDir",
  "stdin",
  "stdinOnce",
  "tty",
  "terminationMessagePath",
  "terminationMessagePolicy",
  "volumes",
  "ephemeralContainers",
  "serviceAccountName",
  "serviceAccount",
  "automountServiceAccountToken",
  "imagePullSecrets",
  "tolerations",
  "enableServiceLinks",
  "hostPID",
  "hostIPC",
  "shareProcessNamespace",
  "runtimeClassName",
  "overhead",
  "setHostnameAsFQDN",
  "hostUsers",
  "hostIP",
  "grpc",
  "scheme",
  "httpHeaders",
  "host",
  "terminationGracePeriodSeconds",
  "spec",
  "metadata",
])

/** A field the simulator does not model: the warning, and the values that behave as modelled anyway. */
interface NotModelled {
  readonly message: string
  /** True when the value changes nothing (empty, or the behaviour the simulator has). */
  readonly noEffect?: (value: unknown) => boolean
}

const isEmpty = (value: unknown): boolean =>
  value === null ||
  value === undefined ||
  value === false ||
  value === 0 ||
  value === "" ||
  (Array.isArray(value) && value.length === 0) ||
  (typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 0)

/**
 * Fields that change what a real cluster does in a way the simulator does not model: accepted (the
 * API server would), dropped, and reported as a warning at the field with what differs.
 */
const NOT_MODELLED_FIELDS: ReadonlyMap<string, NotModelled> = new Map<string, NotModelled>([
  [
    "ownerReferences",
    {
      message:
        "ownerReferences from a manifest are not modelled (no garbage collection or controller adoption through them)",
      noEffect: isEmpty,
    },
  ],
  [
    "finalizers",
    { message: "finalizers are not modelled: the object is deleted without waiting for them", noEffect: isEmpty },
  ],
  ["paused", { message: "paused is not modelled: template changes roll out at once", noEffect: isEmpty }],
  [
    "startupProbe",
    { message: "startupProbe is not modelled: readiness and liveness probes start without waiting for it" },
  ],
  [
    "lifecycle",
    {
      message:
        "lifecycle hooks are not modelled: postStart does not delay readiness and preStop does not delay termination",
      noEffect: isEmpty,
    },
  ],
  [
    "restartPolicy",
    {
      message: "restartPolicy is not modelled: containers behave as with restartPolicy Always",
      noEffect: (v) => v === "Always",
    },
  ],
  [
    "initContainers",
    { message: "init containers are not run: the pod starts without waiting for them", noEffect: isEmpty },
  ],
  ["affinity", { message: "affinity is not modelled: the scheduler places the pod without it", noEffect: isEmpty }],
  [
    "topologySpreadConstraints",
    {
      message: "topologySpreadConstraints are not modelled: the scheduler places the pod without them",
      noEffect: isEmpty,
    },
  ],
  [
    "schedulerName",
    {
      message:
        "schedulerName is not modelled: the default scheduler places the pod (a cluster without that scheduler leaves it Pending)",
      noEffect: (v) => v === "default-scheduler",
    },
  ],
  ["priorityClassName", { message: "pod priority and preemption are not modelled", noEffect: isEmpty }],
  ["priority", { message: "pod priority and preemption are not modelled", noEffect: isEmpty }],
  ["preemptionPolicy", { message: "pod priority and preemption are not modelled", noEffect: isEmpty }],
  [
    "readinessGates",
    {
      message:
        "readinessGates are not modelled: the pod is Ready from its probes alone (a real one waits for the gate conditions)",
      noEffect: isEmpty,
    },
  ],
  [
    "schedulingGates",
    {
      message:
        "schedulingGates are not modelled: the pod is scheduled at once (a real one stays Pending until the gates are removed)",
      noEffect: isEmpty,
    },
  ],
  [
    "resourceClaims",
    { message: "resource claims (DRA) are not modelled: the scheduler places the pod without them", noEffect: isEmpty },
  ],
  [
    "activeDeadlineSeconds",
    { message: "activeDeadlineSeconds is not modelled: the pod is not failed at the deadline" },
  ],
  [
    "hostAliases",
    { message: "hostAliases are not modelled: /etc/hosts entries do not change name resolution", noEffect: isEmpty },
  ],
  [
    "os",
    {
      message: "spec.os other than linux is not modelled: every node is a Linux node",
      noEffect: (v) =>
        isEmpty(v) || (typeof v === "object" && v !== null && (v as Record<string, unknown>).name === "linux"),
    },
  ],
  [
    "securityContext",
    {
      message: "sysctls are not modelled: the pod's network namespace keeps the node defaults",
      noEffect: (v) => typeof v !== "object" || v === null || isEmpty((v as Record<string, unknown>).sysctls),
    },
  ],
])

const BUILTIN_NAMESPACES = new Set(["default", "kube-system", "kube-public", "kube-node-lease"])

/** API-server settings that manifest validation depends on. */
export interface ManifestOptions {
  /** kube-apiserver --service-node-port-range, inclusive (default 30000-32767); null = unknown, not checked. */
  readonly nodePortRange?: { readonly min: number; readonly max: number } | null
  /** dns.mode (default packets): the static table ignores dnsPolicy and dnsConfig, which is warned about. */
  readonly dnsMode?: "static" | "packets"
}

export interface ManifestDecodeResult {
  readonly objects: ManifestObject[]
  readonly issues: Issue[]
}

/**
 * Decodes one YAML document holding a Kubernetes object (or a `kind: List`) at `root` inside the
 * document. `namespace` is the namespace for objects that name none (`kubectl apply -n`).
 */
export function decodeManifest(
  doc: YamlDocument,
  root: Path,
  value: unknown,
  namespace: string | undefined,
  options: ManifestOptions = {},
): ManifestDecodeResult {
  const out: ManifestDecodeResult = { objects: [], issues: [] }
  if (value === null || value === undefined) return out
  if (Array.isArray(value)) {
    value.forEach((item, index) => decodeOne(doc, [...root, index], item, namespace, out, options))
    return out
  }
  decodeOne(doc, root, value, namespace, out, options)
  return out
}

function decodeOne(
  doc: YamlDocument,
  root: Path,
  value: unknown,
  namespace: string | undefined,
  out: ManifestDecodeResult,
  options: ManifestOptions,
): void {
  const error = (path: Path, message: string, atKey = false): void => {
    const full = [...root, ...path]
    out.issues.push({
      severity: "error",
      path: full,
      message,
      position: atKey ? doc.locateKey(full) : doc.locate(full),
    })
  }
  const warning = (path: Path, message: string, atKey = false): void => {
    const full = [...root, ...path]
    out.issues.push({
      severity: "warning",
      path: full,
      message,
      position: atKey ? doc.locateKey(full) : doc.locate(full),
    })
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
    error(
      ["apiVersion"],
      `no matches for kind "${kind}" in version "${apiVersion}" (the simulator serves ${kind} at ${expected.apiVersion})`,
    )
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
      const notModelled = typeof field === "string" ? NOT_MODELLED_FIELDS.get(field) : undefined
      if (notModelled !== undefined) {
        if (notModelled.noEffect?.(valueAt(value, issue.path)) !== true)
          warning(issue.path, `${notModelled.message} (field ignored)`, true)
        continue
      }
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
  validateObject(object, error, warning, options)
  warnNotModelled(object, warning, options)
  applyNamespace(object, namespace, error)
  if (out.issues.slice(before).some((issue) => issue.severity === "error")) return
  out.objects.push({ object, locate: (path) => doc.locate([...root, ...path]) })
}

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/

type Report = (path: Path, message: string) => void

const PERCENT = /^[0-9]+%$/

/**
 * apps/validation ValidateDeploymentStrategy and ValidateRollingUpdateDeployment: rollingUpdate
 * only with type RollingUpdate; maxSurge and maxUnavailable non-negative integers or percentages,
 * maxUnavailable at most 100%, and not both 0.
 */
function validateStrategy(strategy: import("../k8s/types.ts").DeploymentStrategy | undefined, error: Report): void {
  if (strategy === undefined) return
  const path = ["spec", "strategy"]
  const rolling = strategy.rollingUpdate
  if (rolling === undefined) return
  if (strategy.type === "Recreate") {
    error([...path, "rollingUpdate"], "Forbidden: may not be specified when strategy `type` is 'Recreate'")
    return
  }
  const valueOf = (field: "maxSurge" | "maxUnavailable"): number | null => {
    const v = rolling[field]
    if (v === undefined) return null
    const at = [...path, "rollingUpdate", field]
    if (typeof v === "number") {
      if (!Number.isInteger(v) || v < 0) {
        error(at, `Invalid value: ${v}: must be greater than or equal to 0`)
        return null
      }
      return v
    }
    if (!PERCENT.test(v)) {
      error(
        at,
        `Invalid value: "${v}": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')`,
      )
      return null
    }
    return Number(v.slice(0, -1))
  }
  const surge = valueOf("maxSurge")
  const unavailable = valueOf("maxUnavailable")
  const unavailableText = rolling.maxUnavailable
  if (typeof unavailableText === "string" && unavailable !== null && unavailable > 100)
    error(
      [...path, "rollingUpdate", "maxUnavailable"],
      `Invalid value: "${unavailableText}": must not be greater than 100%`,
    )
  if (surge === 0 && unavailable === 0)
    error([...path, "rollingUpdate", "maxUnavailable"], "Invalid value: 0: may not be 0 when `maxSurge` is 0")
}

/** The API server's validations that matter to the data plane (messages after its own). */
function validateObject(object: KubeObject, error: Report, warning: Report, options: ManifestOptions): void {
  const name = object.metadata.name
  if (object.kind === "Service") {
    if (!(DNS1035_LABEL.test(name) && name.length <= 63)) {
      error(
        ["metadata", "name"],
        `invalid value "${name}": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character`,
      )
    }
  } else if (object.kind === "Namespace") {
    if (!(DNS1123_LABEL.test(name) && name.length <= 63))
      error(
        ["metadata", "name"],
        `invalid value "${name}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character`,
      )
  } else if (!(DNS1123_SUBDOMAIN.test(name) && name.length <= 253)) {
    error(
      ["metadata", "name"],
      `invalid value "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
    )
  }
  for (const [key, value] of Object.entries(object.metadata.labels ?? {})) {
    if (!(LABEL_VALUE.test(value) && value.length <= 63))
      error(
        ["metadata", "labels", key],
        `invalid label value "${value}": must be 63 characters or less and consist of alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric`,
      )
  }

  if (object.kind === "Deployment" || object.kind === "ReplicaSet") {
    const selector = object.spec.selector
    const labels = object.spec.template.metadata?.labels ?? {}
    if (
      (selector.matchLabels === undefined || Object.keys(selector.matchLabels).length === 0) &&
      (selector.matchExpressions ?? []).length === 0
    ) {
      error(["spec", "selector"], "empty selector is invalid for deployment")
    } else if (!matchesSelector(selector, labels)) {
      error(["spec", "template", "metadata", "labels"], "`selector` does not match template `labels`")
    }
  }
  if (object.kind === "Deployment") validateStrategy(object.spec.strategy, error)
  if (object.kind === "Pod") validatePodDns(object.spec, ["spec"], error, warning)
  else if (object.kind === "Deployment" || object.kind === "ReplicaSet")
    validatePodDns(object.spec.template.spec, ["spec", "template", "spec"], error, warning)
  if (object.kind === "Service") {
    const spec = object.spec
    const ports = spec.ports ?? []
    const type = spec.type ?? "ClusterIP"
    if (type !== "ExternalName" && ports.length === 0) error(["spec", "ports"], "Required value")
    if (type === "ExternalName" && (spec.externalName ?? "") === "") error(["spec", "externalName"], "Required value")
    if (ports.length > 1) {
      const seen = new Set<string>()
      ports.forEach((port, index) => {
        if (port.name === undefined || port.name === "")
          error(["spec", "ports", index, "name"], "Required value (every port of a multi-port Service needs a name)")
        else if (seen.has(port.name)) error(["spec", "ports", index, "name"], `Duplicate value: "${port.name}"`)
        else seen.add(port.name)
      })
    }
    const nodePortMin = options.nodePortRange?.min ?? 30000
    const nodePortMax = options.nodePortRange?.max ?? 32767
    ports.forEach((port, index) => {
      if (port.nodePort !== undefined) {
        if (type === "ClusterIP")
          error(["spec", "ports", index, "nodePort"], "may not be used when `type` is 'ClusterIP'")
        else if (options.nodePortRange !== null && (port.nodePort < nodePortMin || port.nodePort > nodePortMax))
          error(
            ["spec", "ports", index, "nodePort"],
            `Invalid value: ${port.nodePort}: provided port is not in the valid range. The range of valid ports is ${nodePortMin}-${nodePortMax}`,
          )
      }
    })
    // Upstream ValidateService: a headless Service has no ClusterIP for NodePorts or a load balancer to forward to.
    if (spec.clusterIP === "None" && (type === "NodePort" || type === "LoadBalancer")) {
      error(["spec", "clusterIP"], `Invalid value: "None": may not be set to 'None' for ${type} services`)
    }
    if (spec.externalTrafficPolicy !== undefined && type !== "NodePort" && type !== "LoadBalancer") {
      error(
        ["spec", "externalTrafficPolicy"],
        "may only be set for externally-accessible services (type NodePort or LoadBalancer)",
      )
    }
    // Upstream ValidateService: allocateLoadBalancerNodePorts is a LoadBalancer-only field.
    if (spec.allocateLoadBalancerNodePorts !== undefined && type !== "LoadBalancer") {
      error(["spec", "allocateLoadBalancerNodePorts"], "Forbidden: may only be used when `type` is 'LoadBalancer'")
    }
    // pkg/registry/core/service/storage/alloc.go initIPFamilyFields on an IPv4 single-stack cluster
    // (the only kind simulated). A headless Service without selector keeps whatever families it
    // names (upstream's special case before these checks): it never gets a ClusterIP.
    if (!(spec.clusterIP === "None" && spec.selector === undefined) && type !== "ExternalName") {
      const notSimulated = " (the simulator models IPv4 single-stack clusters only)"
      if (spec.ipFamilyPolicy === "RequireDualStack")
        error(
          ["spec", "ipFamilyPolicy"],
          `Invalid value: "RequireDualStack": this cluster is not configured for dual-stack services${notSimulated}`,
        )
      ;(spec.ipFamilies ?? []).forEach((family, index) => {
        if (family !== "IPv4")
          error(
            ["spec", "ipFamilies", index],
            `Invalid value: "${family}": not configured on this cluster${notSimulated}`,
          )
      })
    }
  }
}

/**
 * The resolver options whose value is a number, with the range each stub resolver accepts before
 * clamping (dns/stub/conf.ts; ../shared/reference/dns.md §2.2-2.4): glibc res_init.c (RES_MAXNDOTS
 * 15, RES_MAXRETRANS 30, RES_MAXRETRY 5), musl resolvconf.c (15 / 60 / 10), Go dnsconfig_unix.go
 * (0..15, >= 1, >= 1).
 */
const NUMERIC_DNS_OPTIONS: Record<string, { min: number; glibcMax: number; muslMax: number }> = {
  ndots: { min: 0, glibcMax: 15, muslMax: 15 },
  timeout: { min: 1, glibcMax: 30, muslMax: 60 },
  attempts: { min: 1, glibcMax: 5, muslMax: 10 },
}

/** Options some simulated stub resolver reads (dns/stub/conf.ts); the others are ignored by all. */
const KNOWN_DNS_OPTIONS = new Set([
  "ndots",
  "timeout",
  "attempts",
  "rotate",
  "single-request",
  "single-request-reopen",
  "use-vc",
  "usevc",
  "tcp",
  "no-tld-query",
])

/** Options real resolvers read (man 5 resolv.conf, glibc res_init.c) whose effect is not modelled. */
const UNMODELLED_DNS_OPTIONS = new Set([
  "debug",
  "edns0",
  "trust-ad",
  "inet6",
  "ip6-bytestring",
  "ip6-dotint",
  "no-ip6-dotint",
  "no-check-names",
  "no-reload",
  "no-aaaa",
])

const DNS_POLICIES = new Set(["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"])

/** Search domains: RFC 1123 subdomains, `_` allowed (RelaxedDNSSearchValidation, on since 1.33). */
const DNS_SEARCH_DOMAIN = /^[a-z0-9_]([-a-z0-9_]*[a-z0-9_])?(\.[a-z0-9_]([-a-z0-9_]*[a-z0-9_])?)*$/

/**
 * `dnsPolicy` and `dnsConfig` as the API server validates them (pkg/apis/core/validation
 * validation.go `validateDNSPolicy`, `validatePodDNSConfig`: None needs >= 1 nameserver, <= 3 IP
 * nameservers, <= 32 search domains of <= 2048 characters in all, each an RFC 1123 subdomain (a
 * trailing dot allowed), option names not empty), plus the options the API server lets through but
 * a resolver cannot read: `ndots`, `timeout`, `attempts` need a whole-number value. Without one
 * kubelet writes `ndots` (or `ndots:abc`) on the options line, which glibc ignores (or reads as 0
 * with atoi), silently replacing kubelet's ndots:5: an error here, since the scenario surely meant
 * something else. Values above a resolver's cap are clamped by it: a warning naming the caps.
 */
function validatePodDns(spec: PodSpec, at: Path, error: Report, warning: Report): void {
  const policy = spec.dnsPolicy ?? "ClusterFirst"
  // The schema refuses other literals; kept for objects built by code.
  if (!DNS_POLICIES.has(policy))
    error([...at, "dnsPolicy"], `Unsupported value: "${policy}": supported values: ${[...DNS_POLICIES].join(", ")}`)
  const config = spec.dnsConfig
  if (policy === "None") {
    if (config === undefined) {
      error([...at, "dnsPolicy"], "Required value: must provide `dnsConfig` when `dnsPolicy` is None")
      return
    }
    if ((config.nameservers ?? []).length === 0)
      error(
        [...at, "dnsConfig", ...(config.nameservers === undefined ? [] : ["nameservers"])],
        "Required value: must provide at least one DNS nameserver when `dnsPolicy` is None",
      )
  }
  if (config === undefined) return
  const nameservers = config.nameservers ?? []
  if (nameservers.length > 3)
    error([...at, "dnsConfig", "nameservers"], `Invalid value: must not have more than 3 nameservers`)
  nameservers.forEach((ns, i) => {
    const parsed = parseAddress(ns, "nameserver")
    if (!parsed.ok) error([...at, "dnsConfig", "nameservers", i], `Invalid value: ${parsed.message}`)
  })
  const searches = config.searches ?? []
  if (searches.length > 32)
    error([...at, "dnsConfig", "searches"], "Invalid value: must not have more than 32 search paths")
  if (searches.join(" ").length > 2048)
    error(
      [...at, "dnsConfig", "searches"],
      "Invalid value: must not have more than 2048 characters (including spaces) in the search list",
    )
  searches.forEach((search, i) => {
    const name = search.endsWith(".") && search !== "." ? search.slice(0, -1) : search
    if (name !== "." && !(DNS_SEARCH_DOMAIN.test(name) && name.length <= 253))
      error(
        [...at, "dnsConfig", "searches", i],
        `Invalid value: "${search}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
      )
  })
  ;(config.options ?? []).forEach((option, i) => {
    const path = [...at, "dnsConfig", "options", i]
    if (option.name === "") {
      error(path, "Required value: must not be empty")
      return
    }
    const numeric = NUMERIC_DNS_OPTIONS[option.name]
    if (numeric === undefined) {
      if (UNMODELLED_DNS_OPTIONS.has(option.name))
        warning(
          [...path, "name"],
          `option "${option.name}" is a resolver option whose effect is not modelled: the simulated resolvers ignore it`,
        )
      else if (!KNOWN_DNS_OPTIONS.has(option.name))
        warning(
          [...path, "name"],
          `option "${option.name}" is read by none of the simulated resolvers (glibc, musl, Go): it is written to resolv.conf and ignored`,
        )
      else if (option.value !== undefined && option.value !== "")
        warning(
          [...path, "value"],
          `option "${option.name}" takes no value: kubelet writes "${option.name}:${option.value}", which no resolver reads`,
        )
      return
    }
    const value = option.value ?? ""
    if (!/^\d+$/.test(value)) {
      error(
        value === "" ? path : [...path, "value"],
        value === ""
          ? `option "${option.name}" needs a value (e.g. { name: ${option.name}, value: "${option.name === "ndots" ? 2 : option.name === "timeout" ? 2 : 3}" }): kubelet would write a bare "${option.name}" that glibc and musl ignore${option.name === "ndots" ? ", replacing ClusterFirst's ndots:5 with the resolvers' default ndots:1" : ""}`
          : `Invalid value: "${value}": option "${option.name}" takes a whole number of ${option.name === "timeout" ? "seconds" : option.name === "ndots" ? "dots" : "attempts"} (glibc's atoi would read ${/^\d/.test(value) ? "its leading digits" : "0"})`,
      )
      return
    }
    const n = Number(value)
    if (n < numeric.min || n > numeric.glibcMax || n > numeric.muslMax)
      warning(
        [...path, "value"],
        `${option.name}:${n} is outside what the resolvers accept (min ${numeric.min}; max glibc ${numeric.glibcMax}, musl ${numeric.muslMax}): each clamps it to its range`,
      )
  })
}

/**
 * Warnings for decoded fields (and annotations) whose behaviour the simulator does not model; the
 * schema keeps them so their values can be checked (see NOT_MODELLED_FIELDS for unschema'd ones).
 */
function warnNotModelled(object: KubeObject, warning: Report, options: ManifestOptions): void {
  const static_ = options.dnsMode === "static"
  if (object.kind === "Pod") warnPodSpec(object.spec, ["spec"], warning, static_)
  else if (object.kind === "Deployment" || object.kind === "ReplicaSet")
    warnPodSpec(object.spec.template.spec, ["spec", "template", "spec"], warning, static_)
  if (object.kind !== "Service") return
  const spec = object.spec
  if (spec.trafficDistribution === "PreferSameNode") {
    warning(
      ["spec", "trafficDistribution"],
      "PreferSameNode sets node and zone hints, but the simulated kube-proxy (v1.33, feature gate PreferSameTrafficDistribution off) uses the zone hints only: traffic prefers the zone, not the node",
    )
  }
  if (Object.hasOwn(object.metadata.labels ?? {}, LABEL_SERVICE_PROXY_NAME)) {
    warning(
      ["metadata", "labels", LABEL_SERVICE_PROXY_NAME],
      "kube-proxy ignores a Service with this label (as upstream), and the proxy it names is not simulated: the Service has no data plane",
    )
  }
  if (spec.loadBalancerClass !== undefined && spec.type === "LoadBalancer") {
    warning(
      ["spec", "loadBalancerClass"],
      "loadBalancerClass is not modelled: the scenario's load balancer serves this Service as if it had the default class",
    )
  }
}

function warnPodSpec(spec: PodSpec, at: Path, warning: Report, dnsStatic: boolean): void {
  // kubelet dns.go getPodDNSType: ClusterFirst on a hostNetwork pod falls back to the node's
  // resolv.conf (only ClusterFirstWithHostNet keeps cluster DNS); Default uses the node's resolv.conf
  // and None only dnsConfig. dns.mode static resolves every name as ClusterFirst does; dns.mode
  // packets models every policy (the node's resolver: apps/node-resolver.ts).
  const policy = spec.dnsPolicy ?? "ClusterFirst"
  if (spec.dnsConfig !== undefined && dnsStatic)
    warning(
      [...at, "dnsConfig"],
      "dnsConfig is read only with dns.mode packets: in dns.mode static names resolve with the cluster's default search list",
    )
  if (policy === "Default" && dnsStatic) {
    warning(
      [...at, "dnsPolicy"],
      `dnsPolicy Default uses the node's resolv.conf, which is not modelled: names resolve as with ClusterFirst (static table), where a real pod would not resolve cluster names`,
    )
  } else if (policy === "None" && dnsStatic) {
    warning(
      [...at, "dnsPolicy"],
      `dnsPolicy None is modelled only with dns.mode packets (resolv.conf from dnsConfig alone): in dns.mode static names resolve as with ClusterFirst`,
    )
  } else if (policy === "ClusterFirst" && spec.hostNetwork === true && dnsStatic) {
    warning(
      [...at, spec.dnsPolicy === undefined ? "hostNetwork" : "dnsPolicy"],
      "a hostNetwork pod with dnsPolicy ClusterFirst uses the node's resolv.conf (kubelet falls back to Default; ClusterFirstWithHostNet keeps cluster DNS): the node's resolver is not modelled, names resolve as with cluster DNS (static table)",
    )
  }
  spec.containers.forEach((container, c) => {
    ;(container.ports ?? []).forEach((port, p) => {
      if (port.hostPort !== undefined && spec.hostNetwork !== true) {
        warning(
          [...at, "containers", c, "ports", p, "hostPort"],
          "hostPort is not modelled (CNI portmap): the port is not opened on the node's address",
        )
      }
    })
  })
}

/** The value at `path` inside a decoded-from-YAML value (undefined when absent). */
function valueAt(root: unknown, path: Path): unknown {
  let current = root
  for (const key of path) {
    if (current === null || typeof current !== "object") return undefined
    current = (current as Record<string | number, unknown>)[key]
  }
  return current
}

function applyNamespace(object: KubeObject, namespace: string | undefined, error: Report): void {
  if (object.kind === "Namespace") {
    delete object.metadata.namespace
    return
  }
  const own = object.metadata.namespace
  if (own !== undefined && namespace !== undefined && own !== namespace) {
    error(
      ["metadata", "namespace"],
      `the namespace from the provided object "${own}" does not match the namespace "${namespace}" of the manifest entry`,
    )
    return
  }
  object.metadata.namespace = own ?? namespace ?? "default"
}

/** Namespaces that exist without a manifest. */
export function isBuiltinNamespace(name: string): boolean {
  return BUILTIN_NAMESPACES.has(name)
}

/** Compile-time check that the schemas decode into (read-only views of) the k8s/types.ts shapes. */
type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T
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
