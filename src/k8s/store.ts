/**
 * The API object store: objects by kind, namespace and name, a global resourceVersion counter,
 * and watch notifications to listeners.
 *
 * Determinism: `list` returns objects sorted by (namespace, name) (code-unit order). The real API
 * server lists etcd keys in byte order of "/registry/<resource>/<namespace>/<name>", which is the
 * same order for ASCII names. Listeners are called synchronously, in registration order, after the
 * write.
 *
 * Objects are treated as immutable values: every write stores a new object, so a listener may keep
 * the previous one to diff against.
 */
import type { Deployment, EndpointSlice, Endpoints, Namespace, Node, Pod, ReplicaSet, Service } from "./types.ts"
import { LABEL_SERVICE_NAME } from "./types.ts"

export interface KindMap {
  Namespace: Namespace
  Node: Node
  Pod: Pod
  ReplicaSet: ReplicaSet
  Deployment: Deployment
  Service: Service
  Endpoints: Endpoints
  EndpointSlice: EndpointSlice
}

export type StoredKind = keyof KindMap
export type StoredObject = KindMap[StoredKind]

/**
 * Watch notifications. Methods, not per-event closures; every method is optional. Service keys are
 * passed as (namespace, name).
 */
export interface ApiListener {
  onNodeAdded?(node: Node): void
  onPodAdded?(pod: Pod): void
  /** Any change of a pod (status, IP, conditions, deletionTimestamp). */
  onPodUpdated?(pod: Pod, previous: Pod): void
  onPodDeleted?(pod: Pod): void
  /** Created, updated (service is the new object) or deleted (service undefined). */
  onServiceChanged?(namespace: string, name: string, service: Service | undefined): void
  /** Any EndpointSlice labelled kubernetes.io/service-name=name was created, updated or deleted. */
  onEndpointSliceChanged?(namespace: string, serviceName: string): void
  onEndpointsChanged?(namespace: string, name: string, endpoints: Endpoints | undefined): void
  onDeploymentChanged?(namespace: string, name: string, deployment: Deployment | undefined): void
}

/** Cluster-scoped kinds use namespace "". */
export function namespaceOf(object: { metadata: { namespace?: string } }, kind: StoredKind): string {
  if (kind === "Node" || kind === "Namespace") return ""
  return object.metadata.namespace ?? "default"
}

export function objectKey(namespace: string, name: string): string {
  return `${namespace}/${name}`
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

export class ApiStore {
  /** Incremented on every write (create, update, delete), like etcd's revision. */
  resourceVersion = 0
  private readonly objects: { [K in StoredKind]: Map<string, KindMap[K]> } = {
    Namespace: new Map(),
    Node: new Map(),
    Pod: new Map(),
    ReplicaSet: new Map(),
    Deployment: new Map(),
    Service: new Map(),
    Endpoints: new Map(),
    EndpointSlice: new Map(),
  }
  private readonly listeners: ApiListener[] = []
  /** Sorted keys per kind (null = stale); `list` costs O(objects), not O(objects log objects). */
  private readonly sortedKeyCache: { [K in StoredKind]: readonly string[] | null } = {
    Namespace: null,
    Node: null,
    Pod: null,
    ReplicaSet: null,
    Deployment: null,
    Service: null,
    Endpoints: null,
    EndpointSlice: null,
  }
  /** EndpointSlice keys by "namespace/service-name" (their kubernetes.io/service-name label). */
  private readonly slicesByService = new Map<string, Set<string>>()
  /** How many times a kind's keys were sorted (a performance invariant tests pin). */
  sortCount = 0

  addListener(listener: ApiListener): void {
    this.listeners.push(listener)
  }

  get<K extends StoredKind>(kind: K, namespace: string, name: string): KindMap[K] | undefined {
    return this.objects[kind].get(objectKey(namespace, name)) as KindMap[K] | undefined
  }

  /** Objects of a kind (in one namespace, or all), sorted by namespace then name. */
  list<K extends StoredKind>(kind: K, namespace?: string): KindMap[K][] {
    const map = this.objects[kind] as Map<string, KindMap[K]>
    const keys = this.sortedKeys(kind)
    const out: KindMap[K][] = []
    const prefix = namespace === undefined ? undefined : `${namespace}/`
    for (const key of keys) {
      if (prefix !== undefined && !key.startsWith(prefix)) continue
      const object = map.get(key)
      if (object !== undefined) out.push(object)
    }
    return out
  }

  count(kind: StoredKind): number {
    return this.objects[kind].size
  }

  /** EndpointSlices of a Service (label kubernetes.io/service-name), sorted by name. */
  endpointSlicesFor(namespace: string, serviceName: string): EndpointSlice[] {
    const keys = this.slicesByService.get(objectKey(namespace, serviceName))
    if (keys === undefined) return []
    const sorted = [...keys].sort(compareKeys)
    const map = this.objects.EndpointSlice
    const out: EndpointSlice[] = []
    for (const key of sorted) {
      const slice = map.get(key)
      if (slice !== undefined) out.push(slice)
    }
    return out
  }

  /** The keys of a kind in (namespace, name) order; cached until a key is added or removed. */
  private sortedKeys(kind: StoredKind): readonly string[] {
    let keys = this.sortedKeyCache[kind]
    if (keys === null) {
      keys = [...this.objects[kind].keys()].sort(compareKeys)
      this.sortedKeyCache[kind] = keys
      this.sortCount++
    }
    return keys
  }

  /** Index of EndpointSlice keys by "namespace/service-name" label (kept by put and delete). */
  private indexSlice(
    key: string,
    namespace: string,
    previous: StoredObject | undefined,
    current: StoredObject | undefined,
  ): void {
    const before = previous?.metadata.labels?.[LABEL_SERVICE_NAME]
    const after = current?.metadata.labels?.[LABEL_SERVICE_NAME]
    if (before === after && previous !== undefined && current !== undefined) return
    if (before !== undefined && previous !== undefined) {
      const service = objectKey(namespace, before)
      const set = this.slicesByService.get(service)
      if (set !== undefined) {
        set.delete(key)
        if (set.size === 0) this.slicesByService.delete(service)
      }
    }
    if (after !== undefined && current !== undefined) {
      const service = objectKey(namespace, after)
      let set = this.slicesByService.get(service)
      if (set === undefined) {
        set = new Set()
        this.slicesByService.set(service, set)
      }
      set.add(key)
    }
  }

  /** Creates or replaces the object; returns the stored object (with resourceVersion set). */
  put<K extends StoredKind>(kind: K, object: KindMap[K]): KindMap[K] {
    const namespace = namespaceOf(object, kind)
    const key = objectKey(namespace, object.metadata.name)
    const map = this.objects[kind] as Map<string, KindMap[K]>
    const previous = map.get(key)
    this.resourceVersion++
    const stored = { ...object, metadata: { ...object.metadata, resourceVersion: String(this.resourceVersion) } }
    map.set(key, stored)
    if (previous === undefined) this.sortedKeyCache[kind] = null
    if (kind === "EndpointSlice") this.indexSlice(key, namespace, previous, stored)
    this.notify(kind, namespace, stored, previous)
    return stored
  }

  delete(kind: StoredKind, namespace: string, name: string): boolean {
    const key = objectKey(namespace, name)
    const map = this.objects[kind] as Map<string, StoredObject>
    const previous = map.get(key)
    if (previous === undefined) return false
    map.delete(key)
    this.sortedKeyCache[kind] = null
    if (kind === "EndpointSlice") this.indexSlice(key, namespace, previous, undefined)
    this.resourceVersion++
    this.notify(kind, namespace, undefined, previous)
    return true
  }

  private notify(
    kind: StoredKind,
    namespace: string,
    current: StoredObject | undefined,
    previous: StoredObject | undefined,
  ): void {
    for (const listener of this.listeners) {
      switch (kind) {
        case "Node":
          if (previous === undefined && current !== undefined) listener.onNodeAdded?.(current as Node)
          break
        case "Pod":
          if (current === undefined) listener.onPodDeleted?.(previous as Pod)
          else if (previous === undefined) listener.onPodAdded?.(current as Pod)
          else listener.onPodUpdated?.(current as Pod, previous as Pod)
          break
        case "Service": {
          const name = (current ?? previous)?.metadata.name ?? ""
          listener.onServiceChanged?.(namespace, name, current as Service | undefined)
          break
        }
        case "EndpointSlice": {
          const serviceName = (current ?? previous)?.metadata.labels?.[LABEL_SERVICE_NAME]
          if (serviceName !== undefined) listener.onEndpointSliceChanged?.(namespace, serviceName)
          break
        }
        case "Endpoints": {
          const name = (current ?? previous)?.metadata.name ?? ""
          listener.onEndpointsChanged?.(namespace, name, current as Endpoints | undefined)
          break
        }
        case "Deployment": {
          const name = (current ?? previous)?.metadata.name ?? ""
          listener.onDeploymentChanged?.(namespace, name, current as Deployment | undefined)
          break
        }
        case "Namespace":
        case "ReplicaSet":
          break
      }
    }
  }
}
