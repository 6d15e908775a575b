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
import { matchesServiceSelector } from "./labels.ts"

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

/** Uids of an object's controller owners (ownerReferences with controller: true). */
function controllerOwners(object: StoredObject | undefined): string[] {
  const uids: string[] = []
  for (const o of object?.metadata.ownerReferences ?? []) if (o.controller === true) uids.push(o.uid)
  return uids
}

function pairKey(namespace: string, key: string, value: string): string {
  return `${namespace}\u0000${key}=${value}`
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
  /** listAll's arrays per kind (null = stale: the kind changed since). */
  private readonly listAllCache: { [K in StoredKind]: readonly KindMap[K][] | null } = {
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
  /**
   * Pod keys by "namespace NUL key=value" of each of their labels, and Service keys by each entry
   * of their selector: the controllers find a Service's pods and a pod's Services without listing
   * the namespace (cost per change independent of cluster size).
   */
  private readonly podsByLabel = new Map<string, Set<string>>()
  private readonly servicesBySelector = new Map<string, Set<string>>()
  /** Pod and ReplicaSet keys by the uid of their controller owners (ownerReferences, controller: true). */
  private readonly byControllerUid: {
    readonly Pod: Map<string, Set<string>>
    readonly ReplicaSet: Map<string, Set<string>>
  } = { Pod: new Map(), ReplicaSet: new Map() }
  /** Objects a kind's `list` returned, over the store's life (a performance invariant: store scans). */
  readonly listedObjects: { [K in StoredKind]: number } = {
    Namespace: 0,
    Node: 0,
    Pod: 0,
    ReplicaSet: 0,
    Deployment: 0,
    Service: 0,
    Endpoints: 0,
    EndpointSlice: 0,
  }

  addListener(listener: ApiListener): void {
    this.listeners.push(listener)
  }

  get<K extends StoredKind>(kind: K, namespace: string, name: string): KindMap[K] | undefined {
    return this.objects[kind].get(objectKey(namespace, name)) as KindMap[K] | undefined
  }

  /** `get` by the object's key (`objectKey(namespace, name)`), for callers that keep the key. */
  getByKey<K extends StoredKind>(kind: K, key: string): KindMap[K] | undefined {
    return this.objects[kind].get(key) as KindMap[K] | undefined
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
    this.listedObjects[kind] += out.length
    return out
  }

  /**
   * `list(kind)` (every namespace) as one shared, read-only array, rebuilt only after the kind
   * changed: every node's kube-proxy reads all Services and EndpointSlices at each sync, and at
   * 1,000 nodes x 10,000 Services fresh copies per sync were a large share of the run.
   */
  listAll<K extends StoredKind>(kind: K): readonly KindMap[K][] {
    let cached = this.listAllCache[kind] as readonly KindMap[K][] | null
    if (cached === null) {
      cached = this.list(kind)
      ;(this.listAllCache as Record<StoredKind, readonly StoredObject[] | null>)[kind] = cached
    }
    return cached
  }

  /**
   * The Pods of a namespace a Service selector selects (matchesServiceSelector), in `list` order:
   * `list("Pod", namespace).filter(...)` through the label index.
   */
  podsSelectedBy(namespace: string, selector: Readonly<Record<string, string>> | undefined): Pod[] {
    if (selector === undefined) return []
    let smallest: Set<string> | undefined
    for (const key of Object.keys(selector)) {
      const set = this.podsByLabel.get(pairKey(namespace, key, selector[key]))
      if (set === undefined) return []
      if (smallest === undefined || set.size < smallest.size) smallest = set
    }
    if (smallest === undefined) return []
    const out: Pod[] = []
    for (const key of [...smallest].sort(compareKeys)) {
      const pod = this.objects.Pod.get(key)
      if (pod !== undefined && matchesServiceSelector(selector, pod.metadata.labels)) out.push(pod)
    }
    return out
  }

  /**
   * The Services of a namespace whose selector selects these labels, in `list` order:
   * `list("Service", namespace).filter(...)` through the selector index.
   */
  servicesSelecting(namespace: string, labels: Readonly<Record<string, string>> | undefined): Service[] {
    if (labels === undefined) return []
    const labelKeys = Object.keys(labels)
    // One label (the usual pod's `app`): its set as is, no union; sorted only when it has several.
    let keys: Iterable<string>
    if (labelKeys.length === 1) {
      const set = this.servicesBySelector.get(pairKey(namespace, labelKeys[0], labels[labelKeys[0]]))
      if (set === undefined) return []
      keys = set.size > 1 ? [...set].sort(compareKeys) : set
    } else {
      const union = new Set<string>()
      for (const key of labelKeys) {
        const set = this.servicesBySelector.get(pairKey(namespace, key, labels[key]))
        if (set !== undefined) for (const k of set) union.add(k)
      }
      keys = [...union].sort(compareKeys)
    }
    const out: Service[] = []
    for (const key of keys) {
      const service = this.objects.Service.get(key)
      if (service !== undefined && matchesServiceSelector(service.spec.selector, labels)) out.push(service)
    }
    return out
  }

  /**
   * The objects of a namespace a controller (by uid) owns, in `list` order:
   * `list(kind, namespace).filter(ownerReferences.some(controller && uid))` through the owner index.
   */
  ownedBy<K extends "Pod" | "ReplicaSet">(kind: K, namespace: string, uid: string | undefined): KindMap[K][] {
    const keys = uid === undefined ? undefined : this.byControllerUid[kind].get(uid)
    if (keys === undefined) return []
    const prefix = `${namespace}/`
    const map = this.objects[kind] as Map<string, KindMap[K]>
    const out: KindMap[K][] = []
    for (const key of [...keys].sort(compareKeys)) {
      if (!key.startsWith(prefix)) continue
      const object = map.get(key)
      if (object !== undefined) out.push(object)
    }
    return out
  }

  private indexOwners(
    index: Map<string, Set<string>>,
    key: string,
    before: StoredObject | undefined,
    after: StoredObject | undefined,
  ): void {
    // A write that keeps the owner references (a status update: metadata spread) changes nothing.
    if (
      before !== undefined &&
      after !== undefined &&
      before.metadata.ownerReferences === after.metadata.ownerReferences
    )
      return
    const was = controllerOwners(before)
    const now = controllerOwners(after)
    for (const uid of was) {
      if (now.includes(uid)) continue
      const set = index.get(uid)
      if (set === undefined) continue
      set.delete(key)
      if (set.size === 0) index.delete(uid)
    }
    for (const uid of now) {
      let set = index.get(uid)
      if (set === undefined) {
        set = new Set()
        index.set(uid, set)
      }
      set.add(key)
    }
  }

  private indexPairs(
    index: Map<string, Set<string>>,
    key: string,
    namespace: string,
    before: Readonly<Record<string, string>> | undefined,
    after: Readonly<Record<string, string>> | undefined,
  ): void {
    if (before === after) return
    if (before !== undefined) {
      for (const label of Object.keys(before)) {
        if (after !== undefined && after[label] === before[label]) continue
        const pair = pairKey(namespace, label, before[label])
        const set = index.get(pair)
        if (set === undefined) continue
        set.delete(key)
        if (set.size === 0) index.delete(pair)
      }
    }
    if (after !== undefined) {
      for (const label of Object.keys(after)) {
        if (before !== undefined && before[label] === after[label]) continue
        const pair = pairKey(namespace, label, after[label])
        let set = index.get(pair)
        if (set === undefined) {
          set = new Set()
          index.set(pair, set)
        }
        set.add(key)
      }
    }
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
    this.listAllCache[kind] = null
    if (previous === undefined) this.sortedKeyCache[kind] = null
    if (kind === "EndpointSlice") this.indexSlice(key, namespace, previous, stored)
    else if (kind === "Pod")
      this.indexPairs(this.podsByLabel, key, namespace, previous?.metadata.labels, stored.metadata.labels)
    if (kind === "Pod" || kind === "ReplicaSet")
      this.indexOwners(this.byControllerUid[kind as "Pod" | "ReplicaSet"], key, previous, stored)
    else if (kind === "Service")
      this.indexPairs(
        this.servicesBySelector,
        key,
        namespace,
        (previous as Service | undefined)?.spec.selector,
        (stored as Service).spec.selector,
      )
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
    this.listAllCache[kind] = null
    if (kind === "EndpointSlice") this.indexSlice(key, namespace, previous, undefined)
    else if (kind === "Pod") this.indexPairs(this.podsByLabel, key, namespace, previous.metadata.labels, undefined)
    if (kind === "Pod" || kind === "ReplicaSet")
      this.indexOwners(this.byControllerUid[kind as "Pod" | "ReplicaSet"], key, previous, undefined)
    else if (kind === "Service")
      this.indexPairs(this.servicesBySelector, key, namespace, (previous as Service).spec.selector, undefined)
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
