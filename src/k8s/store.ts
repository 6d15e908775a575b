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

  addListener(listener: ApiListener): void {
    this.listeners.push(listener)
  }

  get<K extends StoredKind>(kind: K, namespace: string, name: string): KindMap[K] | undefined {
    return this.objects[kind].get(objectKey(namespace, name)) as KindMap[K] | undefined
  }

  /** Objects of a kind (in one namespace, or all), sorted by namespace then name. */
  list<K extends StoredKind>(kind: K, namespace?: string): KindMap[K][] {
    const map = this.objects[kind] as Map<string, KindMap[K]>
    const keys = [...map.keys()].sort(compareKeys)
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
    return this.list("EndpointSlice", namespace).filter((slice) => slice.metadata.labels?.[LABEL_SERVICE_NAME] === serviceName)
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
    this.notify(kind, namespace, stored, previous)
    return stored
  }

  delete(kind: StoredKind, namespace: string, name: string): boolean {
    const key = objectKey(namespace, name)
    const map = this.objects[kind] as Map<string, StoredObject>
    const previous = map.get(key)
    if (previous === undefined) return false
    map.delete(key)
    this.resourceVersion++
    this.notify(kind, namespace, undefined, previous)
    return true
  }

  private notify(kind: StoredKind, namespace: string, current: StoredObject | undefined, previous: StoredObject | undefined): void {
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
