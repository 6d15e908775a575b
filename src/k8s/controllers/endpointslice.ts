/**
 * The Endpoints, EndpointSlice and EndpointSlice-mirroring controllers (pkg/controller/endpoint,
 * pkg/controller/endpointslice, pkg/controller/endpointslicemirroring): one sync per Service key,
 * coalesced while pending (a workqueue deduplicates keys), endpointsSyncNs after the change.
 */
import { assert } from "../../sim/assert.ts"
import type { EventHandler } from "../../sim/scheduler.ts"
import {
  applyTopologyModeHints,
  topologyAnnotationHintsEnabled,
  endpointsSubsets,
  podSlicePorts,
  podToEndpoint,
  portsKey,
  sameData,
  shouldPodBeInEndpoints,
  type SlicePort,
} from "../endpoints.ts"
import { matchesServiceSelector } from "../labels.ts"
import { generateName } from "../names.ts"
import { objectKey } from "../store.ts"
import {
  LABEL_MANAGED_BY,
  LABEL_SERVICE_NAME,
  type Endpoint,
  type EndpointSlice,
  type Pod,
  type Service,
} from "../types.ts"
import { KeyIds, splitKey, type ControllerContext } from "./context.ts"

export const MANAGED_BY_ENDPOINTSLICE = "endpointslice-controller.k8s.io"
export const MANAGED_BY_MIRRORING = "endpointslicemirroring-controller.k8s.io"
export const LABEL_SKIP_MIRROR = "endpointslice.kubernetes.io/skip-mirror"
export const LABEL_HEADLESS = "service.kubernetes.io/headless"
/** --max-endpoints-per-slice default (kube-controller-manager). */
export const MAX_ENDPOINTS_PER_SLICE = 100
/** --mirroring-max-endpoints-per-subset default. */
export const MIRRORING_MAX_ENDPOINTS_PER_SUBSET = 1000

export class EndpointSliceController implements EventHandler {
  private readonly kindEndpointsSync: number
  private readonly serviceIds = new KeyIds()
  private readonly pendingEndpoints = new Set<number>()

  constructor(private readonly ctx: ControllerContext) {
    this.kindEndpointsSync = ctx.scheduler.registerKind("k8s/endpoints-sync", this)
  }

  handleEvent(kind: number, a: number): void {
    assert(kind === this.kindEndpointsSync, `k8s/endpoints: unknown event kind ${kind}`)
    this.pendingEndpoints.delete(a)
    this.syncEndpoints(this.serviceIds.keys[a])
  }

  enqueueEndpoints(key: string): void {
    const id = this.serviceIds.id(key)
    if (this.pendingEndpoints.has(id)) return
    this.pendingEndpoints.add(id)
    this.ctx.scheduler.scheduleIn(this.ctx.timing.endpointsSyncNs, this.kindEndpointsSync, id, 0)
  }

  /** Services whose selector matches the pod: their endpoints must be recomputed. */
  enqueueServicesFor(pod: Pod): void {
    const namespace = pod.metadata.namespace ?? "default"
    // The selector index, not a scan of the namespace's Services (same Services, same order).
    for (const service of this.ctx.store.servicesSelecting(namespace, pod.metadata.labels))
      this.enqueueEndpoints(objectKey(namespace, service.metadata.name))
  }

  private syncEndpoints(key: string): void {
    const [namespace, name] = splitKey(key)
    const service = this.ctx.store.get("Service", namespace, name)
    if (namespace === "default" && name === "kubernetes") return // written by the apiserver itself
    const selector = service?.spec.selector
    const hasSelector = selector !== undefined && Object.keys(selector).length > 0
    if (service === undefined || service.spec.type === "ExternalName" || !hasSelector) {
      this.reconcileSlices(
        namespace,
        name,
        MANAGED_BY_ENDPOINTSLICE,
        new Map(),
        MAX_ENDPOINTS_PER_SLICE,
        undefined,
        false,
      )
      this.syncMirroring(namespace, name, service)
      if (service === undefined && hasSelector === false) {
        const endpoints = this.ctx.store.get("Endpoints", namespace, name)
        if (endpoints !== undefined && endpoints.metadata.ownerReferences?.some((o) => o.kind === "Service"))
          this.ctx.store.delete("Endpoints", namespace, name)
      }
      return
    }
    this.reconcileSlices(
      namespace,
      name,
      MANAGED_BY_MIRRORING,
      new Map(),
      MIRRORING_MAX_ENDPOINTS_PER_SUBSET,
      undefined,
      false,
    )
    // The label index, not a scan of the namespace's Pods (same pods, same order).
    const pods = this.ctx.store.podsSelectedBy(namespace, selector)
    // EndpointSlice controller.
    const groups = new Map<string, SliceGroup>()
    for (const pod of pods) {
      if (!shouldPodBeInEndpoints(pod, true)) continue
      const ports = podSlicePorts(service, pod)
      const groupKey = portsKey(ports)
      let group = groups.get(groupKey)
      if (group === undefined) {
        group = { ports, endpoints: [] }
        groups.set(groupKey, group)
      }
      const zone = pod.spec.nodeName === undefined ? undefined : this.ctx.node(pod.spec.nodeName)?.zone
      group.endpoints.push(podToEndpoint(pod, service, zone))
    }
    if (topologyAnnotationHintsEnabled(service.metadata.annotations))
      applyTopologyModeHints(
        service,
        [...groups.values()].flatMap((g) => g.endpoints),
        this.ctx.nodeInfos.map((n) => n.zone),
      )
    this.reconcileSlices(namespace, name, MANAGED_BY_ENDPOINTSLICE, groups, MAX_ENDPOINTS_PER_SLICE, service, true)
    // Endpoints controller.
    const subsets = endpointsSubsets(service, pods)
    const existing = this.ctx.store.get("Endpoints", namespace, name)
    const labels: Record<string, string> = { ...service.metadata.labels }
    if (service.spec.clusterIP === "None") labels[LABEL_HEADLESS] = ""
    if (
      existing === undefined ||
      !sameData(existing.subsets ?? [], subsets) ||
      !sameData(existing.metadata.labels ?? {}, labels)
    ) {
      this.ctx.store.put("Endpoints", {
        apiVersion: "v1",
        kind: "Endpoints",
        metadata: {
          name,
          namespace,
          labels,
          uid: existing?.metadata.uid ?? this.ctx.newUid(),
          creationTimestampNs: existing?.metadata.creationTimestampNs ?? this.ctx.nowNs,
          ownerReferences: [
            { apiVersion: "v1", kind: "Service", name, uid: service.metadata.uid ?? "", controller: true },
          ],
        },
        subsets,
      })
    }
  }

  /**
   * EndpointSlice mirroring (pkg/controller/endpointslicemirroring): a Service without selector
   * and a hand-written Endpoints (without the skip-mirror label) get slices managed by
   * endpointslicemirroring-controller.k8s.io, one group per subset; addresses -> ready=true,
   * notReadyAddresses -> ready=false (serving/terminating left unset, as upstream).
   */
  private syncMirroring(namespace: string, name: string, service: Service | undefined): void {
    const endpoints = this.ctx.store.get("Endpoints", namespace, name)
    const groups = new Map<string, SliceGroup>()
    const mirror =
      service !== undefined &&
      service.spec.type !== "ExternalName" &&
      endpoints !== undefined &&
      endpoints.metadata.labels?.[LABEL_SKIP_MIRROR] !== "true" &&
      !endpoints.metadata.ownerReferences?.some((o) => o.kind === "Service")
    if (mirror) {
      for (const subset of endpoints.subsets ?? []) {
        const ports: SlicePort[] = (subset.ports ?? []).map((p) => ({
          name: p.name ?? "",
          port: p.port,
          protocol: p.protocol ?? "TCP",
        }))
        const groupKey = portsKey(ports)
        let group = groups.get(groupKey)
        if (group === undefined) {
          group = { ports, endpoints: [] }
          groups.set(groupKey, group)
        }
        for (const [list, ready] of [
          [subset.addresses ?? [], true],
          [subset.notReadyAddresses ?? [], false],
        ] as const) {
          for (const address of list) {
            const endpoint: Endpoint = { addresses: [address.ip], conditions: { ready } }
            if (address.hostname !== undefined) endpoint.hostname = address.hostname
            if (address.nodeName !== undefined) endpoint.nodeName = address.nodeName
            if (address.targetRef !== undefined) endpoint.targetRef = address.targetRef
            group.endpoints.push(endpoint)
          }
        }
      }
    }
    this.reconcileSlices(
      namespace,
      name,
      MANAGED_BY_MIRRORING,
      groups,
      MIRRORING_MAX_ENDPOINTS_PER_SUBSET,
      mirror ? service : undefined,
      false,
    )
  }

  /**
   * The slice reconciler (staging/src/k8s.io/endpointslice reconciler.go, simplified):
   * - endpoints are grouped by port set; each group fills slices of at most `maxPerSlice`;
   * - existing slices keep their endpoints that are still desired (updated in place), new
   *   endpoints fill existing slices with room first (slice name order), then new slices
   *   `<service>-<5 chars>`; slices left empty are deleted;
   * - a selector service with no endpoints keeps one placeholder slice (no ports, no endpoints);
   * - unchanged slices are not written.
   * New endpoints are appended in pod (namespace, name) order.
   */
  private reconcileSlices(
    namespace: string,
    serviceName: string,
    managedBy: string,
    groups: Map<string, SliceGroup>,
    maxPerSlice: number,
    service: Service | undefined,
    placeholder: boolean,
  ): void {
    const existing = this.ctx.store
      .endpointSlicesFor(namespace, serviceName)
      .filter((s) => s.metadata.labels?.[LABEL_MANAGED_BY] === managedBy)
    if (service === undefined) {
      for (const slice of existing) this.ctx.store.delete("EndpointSlice", namespace, slice.metadata.name)
      return
    }
    const labels: Record<string, string> = {}
    const source =
      managedBy === MANAGED_BY_MIRRORING
        ? this.ctx.store.get("Endpoints", namespace, serviceName)?.metadata.labels
        : service.metadata.labels
    for (const [key, value] of Object.entries(source ?? {}))
      if (key !== LABEL_SERVICE_NAME && key !== LABEL_MANAGED_BY) labels[key] = value
    if (service.spec.clusterIP === "None") labels[LABEL_HEADLESS] = ""
    labels[LABEL_SERVICE_NAME] = serviceName
    labels[LABEL_MANAGED_BY] = managedBy
    if (placeholder && groups.size === 0) groups.set("", { ports: [], endpoints: [] })

    const desiredByKey = new Map<string, { endpoint: Endpoint; groupKey: string }>()
    for (const [groupKey, group] of groups)
      for (const endpoint of group.endpoints) desiredByKey.set(endpointIdentity(endpoint), { endpoint, groupKey })
    const placed = new Set<string>()
    const plans: { slice: EndpointSlice | undefined; groupKey: string; endpoints: Endpoint[] }[] = []
    for (const slice of existing) {
      const groupKey = portsKey(slice.ports ?? [])
      if (!groups.has(groupKey)) {
        plans.push({ slice, groupKey, endpoints: [] })
        continue
      }
      const kept: Endpoint[] = []
      for (const endpoint of slice.endpoints) {
        const identity = endpointIdentity(endpoint)
        const desired = desiredByKey.get(identity)
        if (desired !== undefined && desired.groupKey === groupKey && !placed.has(identity)) {
          kept.push(desired.endpoint)
          placed.add(identity)
        }
      }
      plans.push({ slice, groupKey, endpoints: kept })
    }
    for (const [groupKey, group] of groups) {
      const fresh = group.endpoints.filter((e) => !placed.has(endpointIdentity(e)))
      let cursor = 0
      for (const plan of plans) {
        if (plan.groupKey !== groupKey) continue
        while (cursor < fresh.length && plan.endpoints.length < maxPerSlice) plan.endpoints.push(fresh[cursor++])
      }
      while (cursor < fresh.length) {
        const chunk = fresh.slice(cursor, cursor + maxPerSlice)
        cursor += chunk.length
        plans.push({ slice: undefined, groupKey, endpoints: chunk })
      }
      if (group.endpoints.length === 0 && !plans.some((p) => p.groupKey === groupKey))
        plans.push({ slice: undefined, groupKey, endpoints: [] })
    }
    const rngName = managedBy === MANAGED_BY_MIRRORING ? "endpointslicemirroring" : "endpointslice"
    for (const plan of plans) {
      const group = groups.get(plan.groupKey)
      const keepEmpty = placeholder && plan.groupKey === "" && group !== undefined && group.endpoints.length === 0
      if (plan.endpoints.length === 0 && !keepEmpty) {
        if (plan.slice !== undefined) this.ctx.store.delete("EndpointSlice", namespace, plan.slice.metadata.name)
        continue
      }
      const ports = (group?.ports ?? []).map((p) => ({ ...p }))
      if (plan.slice !== undefined) {
        if (
          sameData(plan.slice.endpoints, plan.endpoints) &&
          sameData(plan.slice.ports ?? [], ports) &&
          sameData(plan.slice.metadata.labels ?? {}, labels)
        )
          continue
        this.ctx.store.put("EndpointSlice", {
          ...plan.slice,
          metadata: { ...plan.slice.metadata, labels },
          endpoints: plan.endpoints,
          ports,
        })
        continue
      }
      const rng = this.ctx.rng(`k8s/${rngName}/${namespace}/${serviceName}/names`)
      let sliceName = generateName(`${serviceName}-`, rng)
      while (this.ctx.store.get("EndpointSlice", namespace, sliceName) !== undefined)
        sliceName = generateName(`${serviceName}-`, rng)
      this.ctx.store.put("EndpointSlice", {
        apiVersion: "discovery.k8s.io/v1",
        kind: "EndpointSlice",
        metadata: {
          name: sliceName,
          namespace,
          generateName: `${serviceName}-`,
          labels,
          uid: this.ctx.newUid(),
          creationTimestampNs: this.ctx.nowNs,
          ownerReferences: [
            {
              apiVersion: "v1",
              kind: managedBy === MANAGED_BY_MIRRORING ? "Endpoints" : "Service",
              name: serviceName,
              uid: service.metadata.uid ?? "",
              controller: true,
            },
          ],
        },
        addressType: "IPv4",
        endpoints: plan.endpoints,
        ports,
      })
    }
  }
}

interface SliceGroup {
  ports: SlicePort[]
  endpoints: Endpoint[]
}

function endpointIdentity(endpoint: Endpoint): string {
  const ref = endpoint.targetRef
  return ref !== undefined ? `${ref.kind}/${ref.namespace ?? ""}/${ref.name}` : `ip/${endpoint.addresses[0] ?? ""}`
}
