// bench/star.ts
import { readFileSync as readFileSync2 } from "node:fs";
import { fileURLToPath } from "node:url";

// src/stats/document.ts
var SIGNIFICANT_DIGITS = 6;
function roundSignificant(value, digits = SIGNIFICANT_DIGITS) {
  if (!Number.isFinite(value) || value === 0) return value;
  return Number(value.toPrecision(digits));
}
function sortedRecord(record) {
  const out = {};
  for (const key of Object.keys(record).sort()) out[key] = record[key];
  return out;
}

// src/sim/assert.ts
var AssertionError = class extends Error {
  name = "AssertionError";
};
function assert(condition, message) {
  if (!condition) throw new AssertionError(message ?? "assertion failed");
}

// src/stats/histogram.ts
var SUB_BUCKET_BITS = 7;
var SUB_BUCKET_COUNT = 1 << SUB_BUCKET_BITS;
var EXACT_LIMIT = SUB_BUCKET_COUNT * 2;
var TWO_POW_32 = 4294967296;
var RELATIVE_ERROR_MAX = 1 / SUB_BUCKET_COUNT;
function log2Floor(value) {
  if (value < TWO_POW_32) return 31 - Math.clz32(value);
  return 63 - Math.clz32(Math.floor(value / TWO_POW_32));
}
function bucketIndex(value) {
  if (value < EXACT_LIMIT) return value;
  const shift = log2Floor(value) - SUB_BUCKET_BITS;
  return shift * SUB_BUCKET_COUNT + Math.floor(value / 2 ** shift);
}
function bucketHighest(index) {
  if (index < EXACT_LIMIT) return index;
  const shift = Math.floor(index / SUB_BUCKET_COUNT) - 1;
  const mantissa = index - shift * SUB_BUCKET_COUNT;
  return (mantissa + 1) * 2 ** shift - 1;
}
var Histogram = class {
  counts = new Float64Array(EXACT_LIMIT);
  /** Number of values recorded. */
  count = 0;
  /** Smallest value recorded (0 when empty). */
  min = 0;
  /** Largest value recorded (0 when empty). */
  max = 0;
  // Exact sum = sumHigh * 2^32 + sumLow, with 0 <= sumLow < 2^32.
  sumLow = 0;
  sumHigh = 0;
  /** Records `valueNs` (a non-negative safe integer) `times` times. */
  record(valueNs, times = 1) {
    if (!(Number.isSafeInteger(valueNs) && valueNs >= 0)) badValue(valueNs);
    if (!(Number.isSafeInteger(times) && times >= 0)) badValue(times);
    if (times === 0) return;
    const index = bucketIndex(valueNs);
    if (index >= this.counts.length) this.grow(index);
    this.counts[index] += times;
    if (this.count === 0 || valueNs < this.min) this.min = valueNs;
    if (valueNs > this.max) this.max = valueNs;
    this.count += times;
    const low = valueNs % TWO_POW_32;
    const high = (valueNs - low) / TWO_POW_32;
    this.addToSum(low, high, times);
  }
  /** Adds every value of `other` to this histogram. */
  merge(other) {
    if (other.count === 0) return;
    if (other.counts.length > this.counts.length) this.grow(other.counts.length - 1);
    const counts = this.counts;
    const otherCounts = other.counts;
    for (let i = 0; i < otherCounts.length; i++) counts[i] += otherCounts[i];
    if (this.count === 0 || other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
    this.count += other.count;
    const total = this.sum() + other.sum();
    this.sumLow = Number(total % 4294967296n);
    this.sumHigh = Number(total / 4294967296n);
  }
  /** Exact sum of the recorded values. */
  sum() {
    return BigInt(this.sumHigh) * 4294967296n + BigInt(this.sumLow);
  }
  /** Exact mean rounded half up to an integer (0 when empty). */
  mean() {
    if (this.count === 0) return 0;
    const count = BigInt(this.count);
    return Number((2n * this.sum() + count) / (2n * count));
  }
  /**
   * Value at quantile `q` in [0, 1]: the highest equivalent value of the bucket holding the
   * sample of rank max(1, ceil(q * count)), clamped to the maximum. 0 when empty. `q` is taken to
   * 1e-9 resolution so that the rank is computed in exact integer arithmetic (0.999 * 1000 is
   * 999, not 999.0000000000001 rounded up to 1000).
   */
  valueAtQuantile(q) {
    assert(q >= 0 && q <= 1, `quantile ${q} outside [0, 1]`);
    if (this.count === 0) return 0;
    const partsPerBillion = BigInt(Math.round(q * 1e9));
    const rankBig = (BigInt(this.count) * partsPerBillion + 999999999n) / 1000000000n;
    const rank = Math.max(1, Number(rankBig));
    const counts = this.counts;
    let seen = 0;
    for (let i = 0; i < counts.length; i++) {
      seen += counts[i];
      if (seen >= rank) return Math.min(bucketHighest(i), this.max);
    }
    return this.max;
  }
  /** The results-document summary (all zeros when empty). */
  summary() {
    return {
      count: this.count,
      min: this.min,
      mean: this.mean(),
      p50: this.valueAtQuantile(0.5),
      p90: this.valueAtQuantile(0.9),
      p99: this.valueAtQuantile(0.99),
      p999: this.valueAtQuantile(0.999),
      max: this.max
    };
  }
  addToSum(low, high, times) {
    if (times === 1) {
      let sumLow = this.sumLow + low;
      let sumHigh = this.sumHigh + high;
      if (sumLow >= TWO_POW_32) {
        sumLow -= TWO_POW_32;
        sumHigh += 1;
      }
      this.sumLow = sumLow;
      this.sumHigh = sumHigh;
      return;
    }
    const total = this.sum() + (BigInt(high) * 4294967296n + BigInt(low)) * BigInt(times);
    this.sumLow = Number(total % 4294967296n);
    this.sumHigh = Number(total / 4294967296n);
  }
  grow(index) {
    let length = this.counts.length;
    while (length <= index) length *= 2;
    const counts = new Float64Array(length);
    counts.set(this.counts);
    this.counts = counts;
  }
};
function badValue(value) {
  throw new AssertionError(`histogram values must be non-negative safe integers, got ${value}`);
}

// src/stats/syncs.ts
var SyncAccumulator = class {
  duration = new Histogram();
  lag = new Histogram();
  full = 0;
  partial = 0;
  failed = 0;
  tableRulesMax = 0;
  add(sync) {
    this.duration.record(sync.durationNs);
    for (const lagNs of sync.lagsNs) this.lag.record(lagNs);
    if (sync.fullSync) this.full++;
    else this.partial++;
    if (sync.tableRules > this.tableRulesMax) this.tableRulesMax = sync.tableRules;
  }
  merge(other) {
    this.duration.merge(other.duration);
    this.lag.merge(other.lag);
    this.full += other.full;
    this.partial += other.partial;
    this.failed += other.failed;
    this.tableRulesMax = Math.max(this.tableRulesMax, other.tableRulesMax);
  }
  stats() {
    return {
      count: this.duration.count,
      full: this.full,
      partial: this.partial,
      failed: this.failed,
      durationNs: this.duration.summary(),
      lagNs: this.lag.summary(),
      maxLagNs: this.lag.max,
      tableRulesMax: this.tableRulesMax
    };
  }
};
function tableRulesBin(rules) {
  if (rules < 1) return 0;
  let bin = 1;
  while (bin * 2 <= rules) bin *= 2;
  return bin;
}
function kubeProxySyncResults(nodes) {
  const total = new SyncAccumulator();
  const byNode = {};
  const bins = /* @__PURE__ */ new Map();
  for (const node of nodes) {
    const acc = new SyncAccumulator();
    acc.failed = node.failed;
    for (const sync of node.syncs) {
      acc.add(sync);
      const key = tableRulesBin(sync.tableRules);
      const bin = bins.get(key) ?? { syncs: 0, sum: 0, max: 0 };
      bin.syncs++;
      bin.sum += sync.durationNs;
      if (sync.durationNs > bin.max) bin.max = sync.durationNs;
      bins.set(key, bin);
    }
    byNode[node.node] = acc.stats();
    total.merge(acc);
  }
  const byTableRules = {};
  for (const key of [...bins.keys()].sort((a, b) => a - b)) {
    const bin = bins.get(key);
    byTableRules[String(key)] = {
      syncs: bin.syncs,
      meanDurationNs: Math.round(bin.sum / bin.syncs),
      maxDurationNs: bin.max
    };
  }
  return { ...total.stats(), byNode: sortedRecord(byNode), byTableRules: sortedRecord(byTableRules) };
}

// src/stats/results.ts
var SCHEMA_VERSION = 1;

// src/sim/time.ts
var NS_PER_US = 1e3;
var NS_PER_MS = 1e6;
var NS_PER_S = 1e9;
var TIME_NS_MAX = Number.MAX_SAFE_INTEGER;
function formatDurationNs(ns) {
  if (ns >= NS_PER_S) return `${trim(ns / NS_PER_S)}s`;
  if (ns >= NS_PER_MS) return `${trim(ns / NS_PER_MS)}ms`;
  if (ns >= NS_PER_US) return `${trim(ns / NS_PER_US)}us`;
  return `${ns}ns`;
}
function trim(value) {
  return Number.isInteger(value) ? String(value) : value.toFixed(3).replace(/0+$/, "").replace(/\.$/, "");
}

// src/wire/drop-reason.ts
var DropReason = {
  NO_ROUTE: 0,
  TTL_EXPIRED: 1,
  QUEUE_FULL: 2,
  LINK_LOSS: 3,
  MTU_EXCEEDED: 4,
  NETFILTER_DROP: 5,
  NETFILTER_REJECT: 6,
  CONNTRACK_FULL: 7,
  CONNTRACK_INVALID: 8,
  NO_SOCKET: 9,
  CONNTRACK_INSERT_FAILED: 10,
  INTERFACE_DOWN: 11,
  NO_NEIGHBOUR: 12,
  RP_FILTER: 13,
  MARTIAN: 14
};
var DROP_REASON_NAMES = [
  "no-route",
  "ttl-expired",
  "queue-full",
  "link-loss",
  "mtu-exceeded",
  "netfilter-drop",
  "netfilter-reject",
  "conntrack-full",
  "conntrack-invalid",
  "no-socket",
  "conntrack-insert-failed",
  "interface-down",
  "no-neighbour",
  "rp-filter",
  "martian"
];
function dropReasonName(reason2) {
  return DROP_REASON_NAMES[reason2] ?? `reason-${reason2}`;
}

// src/cluster/spec.ts
var ScenarioIssues = class extends Error {
  constructor(issues) {
    super(issues.map((i) => i.message).join("; "));
    this.issues = issues;
  }
  issues;
  name = "ScenarioIssues";
};

// src/apps/apps.ts
var Apps = class {
  constructor(scheduler, network, observer) {
    this.scheduler = scheduler;
    this.network = network;
    this.observer = observer;
    this.kindArrival = scheduler.registerKind("apps/arrival", this);
    this.kindTimeout = scheduler.registerKind("apps/timeout", this);
    this.kindServe = scheduler.registerKind("apps/serve", this);
  }
  scheduler;
  network;
  observer;
  listener = null;
  clients = [];
  servers = [];
  identities = /* @__PURE__ */ new Map();
  kindArrival;
  kindTimeout;
  kindServe;
  get nowNs() {
    return this.scheduler.nowNs;
  }
  addClient(client) {
    client.index = this.clients.length;
    this.clients.push(client);
  }
  addServer(server) {
    server.index = this.servers.length;
    this.servers.push(server);
    this.identities.set(server.identity.address, server.identity);
  }
  /** The server identity owning an address (for replies that carry none, like ICMP echo). */
  identityOf(address) {
    return this.identities.get(address) ?? null;
  }
  clientFinished(clientIndex) {
    this.listener?.onClientFinished(this.clients[clientIndex]);
  }
  scheduleArrival(clientIndex, atNs) {
    this.scheduler.schedule(atNs, this.kindArrival, clientIndex, 0);
  }
  scheduleTimeout(clientIndex, requestId, atNs) {
    return this.scheduler.schedule(atNs, this.kindTimeout, clientIndex, requestId);
  }
  scheduleServe(serverIndex, slot, atNs) {
    this.scheduler.schedule(atNs, this.kindServe, serverIndex, slot);
  }
  cancel(handle) {
    this.scheduler.cancel(handle);
  }
  handleEvent(kind, a, b, nowNs) {
    if (kind === this.kindArrival) this.clients[a].onArrival(nowNs);
    else if (kind === this.kindTimeout) this.clients[a].onTimeout(b, nowNs);
    else if (kind === this.kindServe) this.servers[a].onServe(b, nowNs);
  }
};

// src/net/errors.ts
var NetError = {
  NONE: 0,
  /** ECONNREFUSED: RST in SYN_SENT, or ICMP port unreachable. */
  REFUSED: 1,
  /** ECONNRESET: RST on a synchronized connection. */
  RESET: 2,
  /** ETIMEDOUT: SYN or data retransmissions exhausted. */
  TIMEOUT: 3,
  /** EHOSTUNREACH. */
  HOST_UNREACHABLE: 4,
  /** ENETUNREACH: no route (local) or ICMP net unreachable. */
  NET_UNREACHABLE: 5,
  /** ENOPROTOOPT: ICMP protocol unreachable. */
  PROTOCOL_UNREACHABLE: 6,
  /** ICMP time exceeded (ping reports it; TCP treats it as a soft error). */
  TTL_EXCEEDED: 7,
  /** EADDRNOTAVAIL: no free ephemeral port for the destination. */
  PORT_EXHAUSTED: 8
};

// src/sim/int-map.ts
var EMPTY = 0;
var FULL = 1;
var DELETED = 2;
var IntMap = class {
  keys;
  states;
  values;
  mask;
  used = 0;
  tombstones = 0;
  constructor(capacity = 8) {
    let size = 8;
    while (size < capacity * 2) size *= 2;
    this.keys = new Int32Array(size);
    this.states = new Uint8Array(size);
    this.values = new Array(size).fill(void 0);
    this.mask = size - 1;
  }
  get size() {
    return this.used;
  }
  slotOf(key) {
    const k = key | 0;
    let i = Math.imul(k ^ k >>> 16, 73244475) >>> 0 & this.mask;
    const keys = this.keys;
    const states = this.states;
    for (; ; ) {
      const s = states[i];
      if (s === EMPTY) return -1;
      if (s === FULL && keys[i] === k) return i;
      i = i + 1 & this.mask;
    }
  }
  get(key) {
    const i = this.slotOf(key);
    return i < 0 ? void 0 : this.values[i];
  }
  has(key) {
    return this.slotOf(key) >= 0;
  }
  set(key, value) {
    const existing = this.slotOf(key);
    if (existing >= 0) {
      this.values[existing] = value;
      return this;
    }
    if ((this.used + this.tombstones + 1) * 2 > this.keys.length) this.rebuild(this.used + 1);
    const k = key | 0;
    let i = Math.imul(k ^ k >>> 16, 73244475) >>> 0 & this.mask;
    while (this.states[i] === FULL) i = i + 1 & this.mask;
    if (this.states[i] === DELETED) this.tombstones--;
    this.keys[i] = k;
    this.states[i] = FULL;
    this.values[i] = value;
    this.used++;
    return this;
  }
  delete(key) {
    const i = this.slotOf(key);
    if (i < 0) return false;
    this.values[i] = void 0;
    this.used--;
    const states = this.states;
    const mask = this.mask;
    if (states[i + 1 & mask] === EMPTY) {
      states[i] = EMPTY;
      let j = i - 1 & mask;
      while (states[j] === DELETED) {
        states[j] = EMPTY;
        this.tombstones--;
        j = j - 1 & mask;
      }
      return true;
    }
    states[i] = DELETED;
    this.tombstones++;
    if (this.tombstones * 4 > this.keys.length) this.rebuild(this.used);
    return true;
  }
  /**
   * The smallest key whose entry passes `test`, or undefined: a search whose answer does not
   * depend on the table's layout (keys compared as int32, as stored).
   */
  minKeyWhere(test) {
    let best;
    const keys = this.keys;
    const states = this.states;
    for (let j = 0; j < keys.length; j++)
      if (states[j] === FULL && (best === void 0 || keys[j] < best) && test(this.values[j], keys[j]))
        best = keys[j];
    return best;
  }
  rebuild(count) {
    const oldKeys = this.keys;
    const oldStates = this.states;
    const oldValues = this.values;
    let size = 8;
    while (size < count * 2 + 2) size *= 2;
    this.keys = new Int32Array(size);
    this.states = new Uint8Array(size);
    this.values = new Array(size).fill(void 0);
    this.mask = size - 1;
    this.used = 0;
    this.tombstones = 0;
    for (let j = 0; j < oldKeys.length; j++) if (oldStates[j] === FULL) this.set(oldKeys[j], oldValues[j]);
  }
};

// src/apps/observer.ts
var FailureReason = {
  REFUSED: 0,
  RESET: 1,
  TIMEOUT: 2,
  NO_ROUTE: 3,
  HOST_UNREACHABLE: 4,
  PROTOCOL_UNREACHABLE: 5,
  TTL_EXCEEDED: 6,
  /** The name in the workload's target could not be resolved. */
  UNRESOLVED: 7,
  /** dns.mode packets: the stub resolver gave up (no reply within its timeouts: EAI_AGAIN). */
  DNS_TIMEOUT: 8,
  /** Every name tried answered NXDOMAIN (EAI_NONAME). */
  NXDOMAIN: 9,
  /** The name exists without an address (EAI_NODATA). */
  DNS_NODATA: 10,
  /** SERVFAIL ended the lookup (EAI_AGAIN). */
  DNS_SERVFAIL: 11,
  /** REFUSED ended the lookup. */
  DNS_REFUSED: 12,
  /** Any other resolver failure (EAI_FAIL). */
  DNS_FAIL: 13
};
var FAILURE_REASON_NAMES = [
  "refused",
  "reset",
  "timeout",
  "no-route",
  "host-unreachable",
  "protocol-unreachable",
  "ttl-exceeded",
  "unresolved",
  "dns-timeout",
  "nxdomain",
  "dns-nodata",
  "dns-servfail",
  "dns-refused",
  "dns-fail"
];

// src/apps/client.ts
function dnsFailureReason(failure) {
  switch (failure) {
    case "dns-timeout":
      return FailureReason.DNS_TIMEOUT;
    case "nxdomain":
      return FailureReason.NXDOMAIN;
    case "dns-nodata":
      return FailureReason.DNS_NODATA;
    case "dns-servfail":
      return FailureReason.DNS_SERVFAIL;
    case "dns-refused":
      return FailureReason.DNS_REFUSED;
    case "dns-fail":
      return FailureReason.DNS_FAIL;
  }
}
function netErrorReason(error) {
  switch (error) {
    case NetError.REFUSED:
      return FailureReason.REFUSED;
    case NetError.RESET:
      return FailureReason.RESET;
    case NetError.TIMEOUT:
      return FailureReason.TIMEOUT;
    case NetError.HOST_UNREACHABLE:
      return FailureReason.HOST_UNREACHABLE;
    case NetError.NET_UNREACHABLE:
      return FailureReason.NO_ROUTE;
    case NetError.PROTOCOL_UNREACHABLE:
      return FailureReason.PROTOCOL_UNREACHABLE;
    case NetError.TTL_EXCEEDED:
      return FailureReason.TTL_EXCEEDED;
    default:
      return FailureReason.RESET;
  }
}
var Request = class {
  constructor(id, startNs, dstAddr) {
    this.id = id;
    this.startNs = startNs;
    this.dstAddr = dstAddr;
  }
  id;
  startNs;
  timeoutHandle = -1;
  /** Set when the request completed (a reply arrived), before its resources are released. */
  completed = false;
  /** Protocol-specific handle: a UDP socket, a TCP connection... */
  socket = null;
  /** Where this request goes: the resolved address (the workload's fixed one without a resolver). */
  dstAddr;
};
var Client = class {
  constructor(apps, ns, config, rng) {
    this.apps = apps;
    this.ns = ns;
    this.config = config;
    this.rng = rng;
  }
  apps;
  ns;
  config;
  rng;
  index = -1;
  issued = 0;
  /** No further request will start (count reached, or the stop time passed). */
  arrivalsDone = false;
  /**
   * Requests in flight by id. An IntMap rather than a Map: a Map holding one request shrinks its
   * table on every delete (an allocation per echo). Ids grow by one per request, so "first issued"
   * is "smallest id" (findBySeq relies on that, not on an iteration order).
   */
  inFlight = new IntMap();
  requestIdNext = 1;
  get network() {
    return this.apps.network;
  }
  get observer() {
    return this.apps.observer;
  }
  /** Arms the first arrival. */
  start() {
    const c = this.config;
    if (c.arrival.kind === "closedLoop") {
      for (let i = 0; i < c.arrival.concurrency; i++) this.apps.scheduleArrival(this.index, c.startNs);
    } else {
      this.apps.scheduleArrival(this.index, c.startNs);
    }
  }
  /** An arrival event: issue a request and, for open-loop arrivals, arm the next one. */
  onArrival(nowNs) {
    if (!this.mayIssue(nowNs)) {
      this.noMoreArrivals();
      return;
    }
    this.issue(nowNs);
    const a = this.config.arrival;
    if (a.kind === "closedLoop") return;
    const gapNs = a.kind === "every" ? a.intervalNs : Math.max(1, this.rng.exponentialNs(a.meanIntervalNs));
    if (this.mayIssue(nowNs + gapNs)) this.apps.scheduleArrival(this.index, nowNs + gapNs);
    else this.noMoreArrivals();
  }
  /** True once no request will start and none is in flight. */
  get finished() {
    return this.arrivalsDone && this.inFlight.size === 0;
  }
  noMoreArrivals() {
    if (this.arrivalsDone) return;
    this.arrivalsDone = true;
    if (this.finished) this.apps.clientFinished(this.index);
  }
  onTimeout(requestId, nowNs) {
    const request = this.inFlight.get(requestId);
    if (request === void 0) return;
    request.timeoutHandle = -1;
    this.fail(request, FailureReason.TIMEOUT, nowNs);
  }
  mayIssue(nowNs) {
    const c = this.config;
    return nowNs < c.stopNs && (c.count === null || this.issued < c.count);
  }
  issue(nowNs) {
    const request = new Request(this.requestIdNext++, nowNs, this.config.dstAddr);
    this.issued++;
    this.inFlight.set(request.id, request);
    request.timeoutHandle = this.apps.scheduleTimeout(this.index, request.id, nowNs + this.config.timeoutNs);
    this.observer.onRequestSent(this.config.workload, nowNs);
    const resolver = this.config.resolver;
    if (resolver !== void 0 && this.needsLookup()) {
      const address = resolver.lookup(this, request.id, nowNs);
      if (address < 0) return;
      request.dstAddr = address;
    }
    this.send(request, nowNs);
  }
  onResolved(token, address, failure, nowNs) {
    const request = this.inFlight.get(token);
    if (request === void 0) return;
    if (failure !== null) {
      this.fail(request, dnsFailureReason(failure), nowNs);
      return;
    }
    request.dstAddr = address;
    this.send(request, nowNs);
  }
  /** A new request opens a new connection (so resolves first); false when it reuses one. */
  needsLookup() {
    return true;
  }
  complete(request, server, nowNs) {
    if (!this.inFlight.has(request.id)) return;
    request.completed = true;
    if (!this.finish(request)) return;
    this.observer.onRequestCompleted(this.config.workload, nowNs - request.startNs, server, nowNs);
    this.next(nowNs);
  }
  fail(request, reason2, nowNs) {
    if (!this.finish(request)) return;
    this.observer.onRequestFailed(this.config.workload, reason2, nowNs);
    this.next(nowNs);
  }
  finish(request) {
    if (!this.inFlight.delete(request.id)) return false;
    if (request.timeoutHandle >= 0) this.apps.cancel(request.timeoutHandle);
    request.timeoutHandle = -1;
    this.release(request);
    return true;
  }
  /** Closed loop: the next request starts as soon as one ends. Reports when the client is done. */
  next(nowNs) {
    if (this.config.arrival.kind === "closedLoop") {
      if (this.mayIssue(nowNs)) this.apps.scheduleArrival(this.index, nowNs);
      else this.arrivalsDone = true;
    }
    if (this.finished) this.apps.clientFinished(this.index);
  }
};
var UdpEchoClient = class extends Client {
  shared = null;
  send(request, nowNs) {
    let socket = this.shared;
    if (socket === null) {
      socket = this.network.udpBind(this.ns, 0, 0, this);
      if (socket === null) {
        this.fail(request, FailureReason.NO_ROUTE, nowNs);
        return;
      }
      if (this.config.reuse) this.shared = socket;
    }
    request.socket = socket;
    socket.sendTo(
      request.dstAddr,
      this.config.dstPort,
      this.config.requestBytes,
      request.id,
      null,
      this.config.workload
    );
  }
  needsLookup() {
    return this.shared === null;
  }
  release(request) {
    const socket = request.socket;
    if (socket !== null && socket !== this.shared) socket.close();
    request.socket = null;
  }
  onUdpMessage(_socket, packet) {
    const request = this.inFlight.get(packet.appTag);
    if (request === void 0) return;
    this.complete(request, packet.appData, this.apps.nowNs);
  }
  onUdpError(_socket, error, _remoteAddr, _remotePort, appTag) {
    const request = this.inFlight.get(appTag);
    if (request === void 0) return;
    this.fail(request, netErrorReason(error), this.apps.nowNs);
  }
};
var PingClient = class extends Client {
  pinger = null;
  send(request, _nowNs) {
    if (this.pinger === null) this.pinger = this.network.createPinger(this.ns, this);
    this.pinger.send(request.dstAddr, request.id & 65535, this.config.requestBytes, void 0, request.id);
  }
  release(_request) {
  }
  onEchoReply(_pinger, seq, _rttNs, packet) {
    const request = this.findBySeq(seq);
    if (request === void 0) return;
    this.complete(request, this.apps.identityOf(packet.srcAddr), this.apps.nowNs);
  }
  onPingError(_pinger, seq, error, _remoteAddr) {
    const request = this.findBySeq(seq);
    if (request === void 0) return;
    this.fail(request, netErrorReason(error), this.apps.nowNs);
  }
  findBySeq(seq) {
    const id = this.inFlight.minKeyWhere((request) => (request.id & 65535) === seq);
    return id === void 0 ? void 0 : this.inFlight.get(id);
  }
};

// src/apps/server.ts
var Server = class {
  constructor(apps, ns, identity, serviceTime, rng) {
    this.apps = apps;
    this.ns = ns;
    this.identity = identity;
    this.serviceTime = serviceTime;
    this.rng = rng;
  }
  apps;
  ns;
  identity;
  serviceTime;
  rng;
  index = -1;
  /** False once the container has exited (graceful termination done): requests go unanswered. */
  running = true;
  serviceTimeNs() {
    const s = this.serviceTime;
    if (s.meanNs <= 0) return 0;
    return s.distribution === "fixed" ? s.meanNs : this.rng.exponentialNs(s.meanNs);
  }
};
var UdpEchoServer = class extends Server {
  sockets = [];
  // Jobs waiting for their service time: parallel arrays indexed by slot, reused via a free list.
  jobSocket = [];
  jobAddr = [];
  jobPort = [];
  jobBytes = [];
  jobTag = [];
  jobFlow = [];
  jobFree = [];
  constructor(apps, ns, identity, serviceTime, rng, ports) {
    super(apps, ns, identity, serviceTime, rng);
    for (const port of ports) {
      const socket = apps.network.udpBind(ns, 0, port, this);
      if (socket !== null) this.sockets.push(socket);
    }
  }
  onUdpMessage(socket, packet) {
    if (!this.running) return;
    this.apps.observer.onServerRequest(packet.flowId, this.identity, packet.srcAddr);
    const delayNs = this.serviceTimeNs();
    if (delayNs === 0) {
      socket.sendTo(packet.srcAddr, packet.srcPort, packet.payloadBytes, packet.appTag, this.identity, packet.flowId);
      return;
    }
    const slot = this.jobFree.length > 0 ? this.jobFree.pop() : this.jobSocket.length;
    this.jobSocket[slot] = socket;
    this.jobAddr[slot] = packet.srcAddr;
    this.jobPort[slot] = packet.srcPort;
    this.jobBytes[slot] = packet.payloadBytes;
    this.jobTag[slot] = packet.appTag;
    this.jobFlow[slot] = packet.flowId;
    this.apps.scheduleServe(this.index, slot, this.apps.nowNs + delayNs);
  }
  onUdpError(_socket, _error, _remoteAddr, _remotePort, _appTag) {
  }
  onServe(slot, _nowNs) {
    const socket = this.jobSocket[slot];
    this.jobSocket[slot] = null;
    this.jobFree.push(slot);
    if (socket === null || !this.running || socket.closed) return;
    socket.sendTo(
      this.jobAddr[slot],
      this.jobPort[slot],
      this.jobBytes[slot],
      this.jobTag[slot],
      this.identity,
      this.jobFlow[slot]
    );
  }
  stop() {
    this.running = false;
    for (const socket of this.sockets) socket.close();
  }
};

// src/apps/http.ts
var NGINX_RESPONSE_BYTES = 853;
var GENERIC_RESPONSE_BYTES = 150;
var HttpServer = class extends Server {
  constructor(apps, ns, identity, serviceTime, rng, ports, responseBytes) {
    super(apps, ns, identity, serviceTime, rng);
    this.responseBytes = responseBytes;
    for (const port of ports) this.listeners.push(apps.network.tcp.listen(ns, 0, port, this));
  }
  responseBytes;
  listeners = [];
  jobConn = [];
  jobTag = [];
  jobBytes = [];
  jobFree = [];
  onAccept(_server, _conn) {
    return this;
  }
  onConnected(_conn) {
  }
  onMessage(conn, _bytes, appTag, appData) {
    if (!this.running) return;
    const info = appData;
    const bytes = info !== null && info.responseBytes > 0 ? info.responseBytes : this.responseBytes;
    if (info !== null) this.apps.observer.onServerRequest(info.workload, this.identity, conn.remoteAddr);
    const delayNs = this.serviceTimeNs();
    if (delayNs === 0) {
      conn.send(bytes, appTag, this.identity);
      return;
    }
    const slot = this.jobFree.length > 0 ? this.jobFree.pop() : this.jobConn.length;
    this.jobConn[slot] = conn;
    this.jobTag[slot] = appTag;
    this.jobBytes[slot] = bytes;
    this.apps.scheduleServe(this.index, slot, this.apps.nowNs + delayNs);
  }
  onServe(slot, _nowNs) {
    const conn = this.jobConn[slot];
    this.jobConn[slot] = null;
    this.jobFree.push(slot);
    if (conn === null || !this.running) return;
    conn.send(this.jobBytes[slot], this.jobTag[slot], this.identity);
  }
  onPeerClosed(conn) {
    conn.close();
  }
  onClosed(_conn, _error) {
  }
  stop() {
    this.running = false;
    for (const listener of this.listeners) listener.close();
  }
};
var HttpClient = class extends Client {
  info;
  /** Request each busy connection carries. */
  busy = /* @__PURE__ */ new Map();
  /** keepAlive: established connections with no request outstanding. */
  idle = [];
  constructor(apps, ns, config, rng) {
    super(apps, ns, config, rng);
    this.info = { workload: config.workload, responseBytes: config.responseBytes };
  }
  send(request, _nowNs) {
    const conn = this.config.reuse ? this.idle.pop() : void 0;
    if (conn !== void 0) {
      this.busy.set(conn, request);
      request.socket = conn;
      conn.send(this.config.requestBytes, request.id, this.info);
      return;
    }
    const fresh = this.network.tcp.connect(this.ns, request.dstAddr, this.config.dstPort, this, this.config.workload);
    this.busy.set(fresh, request);
    request.socket = fresh;
  }
  needsLookup() {
    return !this.config.reuse || this.idle.length === 0;
  }
  release(request) {
    const conn = request.socket;
    request.socket = null;
    if (conn === null || this.busy.get(conn) !== request) return;
    this.busy.delete(conn);
    if (this.config.reuse && conn.error === NetError.NONE && conn.stateName === "ESTABLISHED" && request.completed) {
      this.idle.push(conn);
      return;
    }
    conn.close();
  }
  onConnected(conn) {
    const request = this.busy.get(conn);
    if (request === void 0) return;
    conn.send(this.config.requestBytes, request.id, this.info);
  }
  onMessage(conn, _bytes, appTag, appData) {
    const request = this.busy.get(conn);
    if (request === void 0 || request.id !== appTag) return;
    this.complete(request, appData, this.apps.nowNs);
  }
  onPeerClosed(conn) {
    const request = this.busy.get(conn);
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
    conn.close();
    if (request !== void 0) this.fail(request, FailureReason.RESET, this.apps.nowNs);
  }
  onClosed(conn, error) {
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
    const request = this.busy.get(conn);
    if (request === void 0) return;
    this.fail(request, error === NetError.NONE ? FailureReason.RESET : netErrorReason(error), this.apps.nowNs);
  }
};

// src/wire/dns.ts
import dnsPacket from "dns-packet";
var DnsType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  HTTPS: 65,
  IXFR: 251,
  AXFR: 252,
  ANY: 255
};
var Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5
};
var DnsFlag = {
  QR: 32768,
  AA: 1024,
  TC: 512,
  RD: 256,
  RA: 128,
  AD: 32,
  CD: 16
};
var DNS_HEADER_BYTES = 12;
var DNS_OPT_RECORD_BYTES = 11;
var QUESTION_FIXED_BYTES = 4;
var RECORD_FIXED_BYTES = 10;
var MAX_COMPRESSION_OFFSET = 1 << 14;
var DNS_UDP_MIN_MSG_BYTES = 512;
var DNS_TCP_MAX_MSG_BYTES = 65535;
function nameLengthBytes(name) {
  return name.length === 0 ? 1 : name.length + 2;
}
function rdataLengthBytes(record) {
  switch (record.type) {
    case DnsType.A:
      return 4;
    case DnsType.AAAA:
      return 16;
    case DnsType.CNAME:
    case DnsType.PTR:
      return nameLengthBytes(record.target);
    case DnsType.SRV:
      return 6 + nameLengthBytes(record.target);
    case DnsType.SOA:
      return nameLengthBytes(record.mname) + nameLengthBytes(record.rname) + 20;
    case DnsType.TXT: {
      let bytes = 0;
      for (const s of record.text) bytes += 1 + s.length;
      return bytes;
    }
  }
}
function sectionLengthBytes(records) {
  let bytes = 0;
  for (const r of records) bytes += nameLengthBytes(r.name) + RECORD_FIXED_BYTES + rdataLengthBytes(r);
  return bytes;
}
function encodedLengthBytes(msg) {
  let bytes = DNS_HEADER_BYTES;
  for (const q of msg.questions) bytes += nameLengthBytes(q.name) + QUESTION_FIXED_BYTES;
  if (msg.ednsUdpPayloadBytes !== void 0) bytes += DNS_OPT_RECORD_BYTES;
  return bytes + sectionLengthBytes(msg.answers) + sectionLengthBytes(msg.authorities) + sectionLengthBytes(msg.additionals);
}
function compressedLengthBytes(msg) {
  const seen = /* @__PURE__ */ new Set();
  let offset = DNS_HEADER_BYTES;
  for (const q of msg.questions) offset = packName(q.name, offset, seen, true) + QUESTION_FIXED_BYTES;
  for (const section of [msg.answers, msg.authorities, msg.additionals])
    for (const r of section) {
      offset = packName(r.name, offset, seen, true) + RECORD_FIXED_BYTES;
      switch (r.type) {
        case DnsType.A:
          offset += 4;
          break;
        case DnsType.AAAA:
          offset += 16;
          break;
        case DnsType.CNAME:
        case DnsType.PTR:
          offset = packName(r.target, offset, seen, true);
          break;
        case DnsType.SRV:
          offset = packName(r.target, offset + 6, seen, false);
          break;
        case DnsType.SOA:
          offset = packName(r.rname, packName(r.mname, offset, seen, true), seen, true) + 20;
          break;
        case DnsType.TXT:
          for (const s of r.text) offset += 1 + s.length;
          break;
      }
    }
  return msg.ednsUdpPayloadBytes !== void 0 ? offset + DNS_OPT_RECORD_BYTES : offset;
}
function packName(name, offset, seen, compress) {
  if (name.length === 0) return offset + 1;
  let begin = 0;
  let at = offset;
  while (begin < name.length) {
    const suffix = begin === 0 ? name : name.slice(begin);
    if (seen.has(suffix)) {
      if (compress) return at + 2;
    } else if (at < MAX_COMPRESSION_OFFSET) seen.add(suffix);
    const dot = name.indexOf(".", begin);
    const labelEnd = dot < 0 ? name.length : dot;
    at += 1 + (labelEnd - begin);
    begin = labelEnd + 1;
  }
  return at + 1;
}
function clientBufferBytes(query, transport) {
  if (transport === "tcp") return DNS_TCP_MAX_MSG_BYTES;
  return Math.max(query.ednsUdpPayloadBytes ?? 0, DNS_UDP_MIN_MSG_BYTES);
}
function dnsQuery(id, name, type, ednsUdpPayloadBytes) {
  const query = {
    id,
    flags: DnsFlag.RD,
    rcode: Rcode.NOERROR,
    questions: [{ name, type }],
    answers: [],
    authorities: [],
    additionals: []
  };
  return ednsUdpPayloadBytes === void 0 ? query : { ...query, ednsUdpPayloadBytes };
}
function dnsReply(query, rcode, flags, answers, authorities = [], additionals = []) {
  const reply = {
    id: query.id,
    flags: DnsFlag.QR | query.flags & (DnsFlag.RD | DnsFlag.CD) | flags,
    rcode,
    questions: query.questions,
    answers,
    authorities,
    additionals
  };
  return query.ednsUdpPayloadBytes === void 0 ? reply : { ...reply, ednsUdpPayloadBytes: query.ednsUdpPayloadBytes };
}
var TYPE_NAMES = {
  [DnsType.A]: "A",
  [DnsType.NS]: "NS",
  [DnsType.CNAME]: "CNAME",
  [DnsType.SOA]: "SOA",
  [DnsType.PTR]: "PTR",
  [DnsType.MX]: "MX",
  [DnsType.TXT]: "TXT",
  [DnsType.AAAA]: "AAAA",
  [DnsType.SRV]: "SRV",
  [DnsType.IXFR]: "IXFR",
  [DnsType.AXFR]: "AXFR",
  [DnsType.ANY]: "ANY"
};
var TYPE_NUMBERS = new Map(Object.entries(TYPE_NAMES).map(([n, s]) => [s, Number(n)]));
function rcodeName(rcode) {
  for (const [name, value] of Object.entries(Rcode)) if (value === rcode) return name;
  return `RCODE${rcode}`;
}
function typeMnemonic(type) {
  return type === DnsType.HTTPS ? "HTTPS" : TYPE_NAMES[type] ?? `TYPE${type}`;
}

// src/dns/coredns/cache.ts
var SHARDS = 256;
var CACHE_MAX_TTL_S = 3600;
var CACHE_MIN_TTL_S = 5;
var CACHE_DEFAULT_CAPACITY = 1e4;
var COREDNS_CACHE_DEFAULTS = {
  zones: [""],
  successCapacity: CACHE_DEFAULT_CAPACITY,
  successMaxTtlS: CACHE_MAX_TTL_S,
  successMinTtlS: CACHE_MIN_TTL_S,
  denialCapacity: CACHE_DEFAULT_CAPACITY,
  denialMaxTtlS: CACHE_MAX_TTL_S / 2,
  denialMinTtlS: CACHE_MIN_TTL_S,
  servfailTtlS: CACHE_MIN_TTL_S,
  disableSuccessZones: [],
  disableDenialZones: []
};
function cacheWithTtl(ttlS2, base = COREDNS_CACHE_DEFAULTS) {
  return { ...base, successMaxTtlS: ttlS2, denialMaxTtlS: ttlS2 };
}
function kubeadmCache(clusterDomain = "cluster.local") {
  return { ...cacheWithTtl(30), disableSuccessZones: [clusterDomain], disableDenialZones: [clusterDomain] };
}
function nodeLocalClusterCache(clusterDomain = "cluster.local") {
  return {
    ...COREDNS_CACHE_DEFAULTS,
    zones: [clusterDomain],
    successCapacity: 9984,
    successMaxTtlS: 30,
    denialCapacity: 9984,
    denialMaxTtlS: 5
  };
}
function inZones(name, zones) {
  const n = name.toLowerCase();
  for (const z of zones) {
    const zl = z.toLowerCase();
    if (zl === "" || zl === "." || n === zl || n.endsWith(`.${zl}`)) return true;
  }
  return false;
}
function cacheShard(qname, qtype, qclass = 1, doBit = false, cdBit = false) {
  let h = 37;
  const step = (byte) => {
    h = Math.imul(h, 179) & 255;
    h ^= byte;
  };
  step(doBit ? 49 : 48);
  step(cdBit ? 49 : 48);
  step(qtype >> 8);
  step(qtype & 255);
  step(qclass >> 8);
  step(qclass & 255);
  const fqdn = `${qname.toLowerCase()}.`;
  for (let i = 0; i < fqdn.length; i++) step(fqdn.charCodeAt(i) & 255);
  return h;
}
var NO_ERROR = 0;
var NAME_ERROR = 1;
var NO_DATA = 2;
var SERVER_ERROR = 3;
var OTHER_ERROR = 4;
var META = 5;
function hasSoa(m) {
  for (const r of m.authorities) if (r.type === DnsType.SOA) return true;
  return false;
}
function answersQuestion(m) {
  const q = m.questions[0];
  if (m.rcode !== Rcode.NOERROR || q === void 0 || m.answers.length === 0) return false;
  let name = q.name.toLowerCase();
  if (q.type === DnsType.CNAME) return m.answers.some((r) => r.type === DnsType.CNAME && r.name.toLowerCase() === name);
  const visited = /* @__PURE__ */ new Set();
  for (; ; ) {
    if (visited.has(name)) return false;
    visited.add(name);
    let target = "";
    for (const r of m.answers)
      if (r.type === DnsType.CNAME && r.name.toLowerCase() === name) {
        if (target !== "" && target !== r.target.toLowerCase()) return false;
        target = r.target.toLowerCase();
      }
    if (target === "") break;
    name = target;
  }
  return m.answers.some((r) => r.type === q.type && r.name.toLowerCase() === name);
}
function isNodata(m) {
  return m.answers.length > 0 && !answersQuestion(m);
}
function responseType(m) {
  const q = m.questions[0];
  if (q !== void 0 && (q.type === DnsType.AXFR || q.type === DnsType.IXFR)) return META;
  if (m.answers.length > 0 && m.rcode === Rcode.NOERROR) return hasSoa(m) && isNodata(m) ? NO_DATA : NO_ERROR;
  if (m.answers.length > 0 && m.rcode === Rcode.NXDOMAIN) return OTHER_ERROR;
  const soa = hasSoa(m);
  if (soa && m.rcode === Rcode.NOERROR) return NO_DATA;
  if (m.rcode === Rcode.NXDOMAIN) return NAME_ERROR;
  if (m.rcode === Rcode.SERVFAIL || m.rcode === Rcode.NOTIMP) return SERVER_ERROR;
  if (m.rcode === Rcode.NOERROR) return NO_ERROR;
  return OTHER_ERROR;
}
function minimalTtlS(m, type, maximumS) {
  if (type !== NO_ERROR && type !== NAME_ERROR && type !== NO_DATA) return CACHE_MIN_TTL_S;
  if (m.answers.length + m.authorities.length === 0 && m.additionals.length === 0) return CACHE_MIN_TTL_S;
  let ttl = maximumS;
  for (const section of [m.answers, m.authorities, m.additionals]) for (const r of section) if (r.ttl < ttl) ttl = r.ttl;
  return ttl;
}
function withTtl(records, ttl) {
  return records.map((r) => ({ ...r, ttl }));
}
var ShardedCache = class {
  constructor(capacity, random) {
    this.random = random;
    this.perShard = Math.max(Math.floor(capacity / SHARDS), 4);
    for (let i = 0; i < SHARDS; i++) this.shardKeys.push([]);
  }
  random;
  shardKeys = [];
  items = /* @__PURE__ */ new Map();
  perShard;
  evictions = 0;
  get size() {
    return this.items.size;
  }
  get(key) {
    return this.items.get(key);
  }
  /** shard.Add: a new key into a full shard evicts one existing key first. */
  add(shard, item) {
    const keys = this.shardKeys[shard];
    if (!this.items.has(item.key)) {
      if (keys.length >= this.perShard) {
        const victim = this.random.intBelow(keys.length);
        this.items.delete(keys[victim]);
        keys[victim] = keys[keys.length - 1];
        keys.pop();
        this.evictions++;
      }
      keys.push(item.key);
    }
    this.items.set(item.key, item);
  }
};
var DnsCache = class {
  constructor(config, random) {
    this.config = config;
    this.success = new ShardedCache(config.successCapacity, random);
    this.denial = new ShardedCache(config.denialCapacity, random);
  }
  config;
  success;
  denial;
  hits = 0;
  misses = 0;
  get successSize() {
    return this.success.size;
  }
  get denialSize() {
    return this.denial.size;
  }
  get evictions() {
    return this.success.evictions + this.denial.evictions;
  }
  /** True when the query's name is in the cache's zones (else the plugin passes it on untouched). */
  covers(query) {
    return inZones(query.questions[0].name, this.config.zones);
  }
  /**
   * getIfNotStale + toMsg: the cached reply for `query` with every TTL set to the remaining
   * lifetime, or null on a miss (then the caller asks the next plugin and calls `put`).
   */
  get(nowNs, query) {
    if (!this.covers(query)) return null;
    const q = query.questions[0];
    const key = cacheKey(q.name, q.type, query.flags);
    let found = null;
    const n = this.denial.get(key);
    if (n !== void 0 && ttlS(n, nowNs) > 0) {
      found = n;
      if (n.rcode === Rcode.SERVFAIL) {
        const p = this.success.get(key);
        if (p !== void 0 && ttlS(p, nowNs) > 0) found = p;
      }
    } else {
      const p = this.success.get(key);
      if (p !== void 0 && ttlS(p, nowNs) > 0) found = p;
    }
    if (found === null) {
      this.misses++;
      return null;
    }
    this.hits++;
    const ttl = ttlS(found, nowNs);
    return {
      id: query.id,
      // SetReply + "Authoritative = true" + the stored RA bit.
      flags: DnsFlag.QR | DnsFlag.AA | query.flags & (DnsFlag.RD | DnsFlag.CD) | (found.recursionAvailable ? DnsFlag.RA : 0),
      rcode: found.rcode,
      questions: query.questions,
      answers: withTtl(found.reply.answers, ttl),
      authorities: withTtl(found.reply.authorities, ttl),
      additionals: withTtl(found.reply.additionals, ttl)
    };
  }
  /**
   * ResponseWriter.WriteMsg: the reply as the client receives it (TTLs capped to the cache
   * duration), stored when cacheable. Replies outside the cache's zones pass through unchanged.
   */
  put(nowNs, query, reply) {
    if (!this.covers(query)) return reply;
    const type = responseType(reply);
    const c = this.config;
    let durationS;
    if (type === NAME_ERROR || type === NO_DATA)
      durationS = computeTtl(minimalTtlS(reply, type, c.denialMaxTtlS), c.denialMinTtlS, c.denialMaxTtlS);
    else if (type === SERVER_ERROR) durationS = c.servfailTtlS;
    else durationS = computeTtl(minimalTtlS(reply, type, c.successMaxTtlS), c.successMinTtlS, c.successMaxTtlS);
    const written = {
      ...reply,
      answers: withTtl(reply.answers, durationS),
      authorities: withTtl(reply.authorities, durationS),
      additionals: withTtl(reply.additionals, durationS)
    };
    const q = query.questions[0];
    const rq = reply.questions[0];
    const cacheable = (reply.flags & DnsFlag.TC) === 0 && type !== OTHER_ERROR && type !== META && !(type === NAME_ERROR && !hasSoa(reply)) && !(type === NO_ERROR && !hasSoa(reply) && isNodata(reply));
    const matches = rq !== void 0 && rq.type === q.type && rq.name.toLowerCase() === q.name.toLowerCase();
    if (!cacheable || durationS <= 0 || !matches) return written;
    const key = cacheKey(q.name, q.type, query.flags);
    const item = {
      key,
      name: q.name,
      qtype: q.type,
      rcode: reply.rcode,
      recursionAvailable: (reply.flags & DnsFlag.RA) !== 0,
      reply: written,
      storedNs: nowNs,
      origTtlS: durationS
    };
    const shard = cacheShard(q.name, q.type, 1, false, (query.flags & DnsFlag.CD) !== 0);
    if (type === NO_ERROR) {
      if (!inZones(q.name, c.disableSuccessZones)) this.success.add(shard, item);
    } else if (!inZones(q.name, c.disableDenialZones)) this.denial.add(shard, item);
    return written;
  }
};
function cacheKey(name, qtype, flags) {
  return `${(flags & DnsFlag.CD) !== 0 ? 1 : 0}|${qtype}|${name.toLowerCase()}`;
}
function ttlS(item, nowNs) {
  return item.origTtlS - Math.trunc((nowNs - item.storedNs) / NS_PER_S);
}
function computeTtl(msgTtlS, minTtlS, maxTtlS) {
  return Math.min(Math.max(msgTtlS, minTtlS), maxTtlS);
}

// src/dns/coredns/kubernetes.ts
function kubeadmKubernetesPlugin(clusterDomain = "cluster.local") {
  return {
    zones: [clusterDomain, "in-addr.arpa", "ip6.arpa"],
    ttlS: 30,
    pods: "insecure",
    fallthroughZones: ["in-addr.arpa", "ip6.arpa"],
    endpointPodNames: false,
    ignoreEmptyService: false
  };
}
var DNS_SCHEMA_VERSION = "1.1.0";
var DNS_VERSION_TTL_S = 28800;
var ERR_NONE = 0;
var ERR_NO_ITEMS = 1;
var ERR_INVALID = 2;
function isIpv4(s) {
  const parts = s.split(".");
  if (parts.length !== 4) return false;
  for (const p of parts) if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return false;
  return true;
}
function isIpv6(s) {
  if (!s.includes(":") || !/^[0-9a-fA-F:.]+$/.test(s)) return false;
  const double = s.split("::").length - 1;
  if (double > 1) return false;
  const groups = s.split(":").filter((g) => g !== "");
  if (groups.length > 8 || double === 0 && groups.length !== 8) return false;
  return groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g));
}
function hostType(host) {
  return isIpv4(host) ? DnsType.A : isIpv6(host) ? DnsType.AAAA : DnsType.CNAME;
}
function match(a, b) {
  return a === b || a.toLowerCase() === b.toLowerCase();
}
function matchPortAndProtocol(aPort, bPort, aProtocol, bProtocol) {
  return (aPort === "" || match(aPort, bPort)) && (aProtocol === "" || match(aProtocol, bProtocol));
}
function stripUnderscore(s) {
  return s.startsWith("_") ? s.slice(1) : s;
}
function isSubdomain(name, zone) {
  const n = name.toLowerCase();
  const z = zone.toLowerCase();
  return z === "" || n === z || n.endsWith(`.${z}`);
}
function addressFromReverse(name) {
  const lower = name.toLowerCase();
  if (lower.endsWith(".in-addr.arpa")) {
    const labels = lower.slice(0, -".in-addr.arpa".length).split(".");
    if (labels.length !== 4) return "";
    const ip = labels.reverse().join(".");
    return isIpv4(ip) ? ip : "";
  }
  if (lower.endsWith(".ip6.arpa")) {
    const nibbles = lower.slice(0, -".ip6.arpa".length).split(".");
    if (nibbles.length !== 32 || !nibbles.every((n) => /^[0-9a-f]$/.test(n))) return "";
    const hex = nibbles.reverse().join("");
    const groups = [];
    for (let i = 0; i < 32; i += 4) groups.push(hex.slice(i, i + 4).replace(/^0+(?=.)/, ""));
    return canonicalIpv6(groups.join(":"));
  }
  return "";
}
function canonicalIpv6(full) {
  const groups = full.split(":");
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLength && j - i >= 2) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return groups.join(":");
  return `${groups.slice(0, bestStart).join(":")}::${groups.slice(bestStart + bestLength).join(":")}`;
}
var KubernetesPlugin = class {
  constructor(store, config) {
    this.store = store;
    this.config = config;
  }
  store;
  config;
  /** False until the informers synced: name errors become SERVFAIL (handler.go). */
  synced = true;
  /** SOA serial: Unix seconds of the last Service/EndpointSlice change (dnsControl.Modified). */
  serial = 0;
  /** Reverse and pod-IP indexes (the informers' SvcIndexReverse/EpIndexReverse/PodIndex), rebuilt lazily when the store changed. */
  indexVersion = -1;
  reverse = /* @__PURE__ */ new Map();
  podIps = /* @__PURE__ */ new Map();
  /** The primary zone: the first non-reverse zone. */
  primaryZone() {
    for (const z of this.config.zones) if (!z.endsWith("arpa")) return z;
    return this.config.zones[0];
  }
  /** plugin.Zones.Matches: the longest zone `name` is in, or "". */
  matchZone(name) {
    let best = "";
    let found = false;
    for (const z of this.config.zones)
      if (isSubdomain(name, z) && (!found || z.length > best.length)) {
        best = z;
        found = true;
      }
    return found ? best : "\0";
  }
  serve(query) {
    const question = query.questions[0];
    const qname = question.name;
    const matched = this.matchZone(qname);
    if (matched === "\0") return { kind: "next" };
    const zone = matched === "" ? "" : qname.slice(qname.length - matched.length);
    const qtype = question.type;
    let records = [];
    const extra = [];
    let err = ERR_NONE;
    switch (qtype) {
      case DnsType.A:
      case DnsType.AAAA: {
        const found = this.checkForApex(qname, zone, qtype);
        err = found.err;
        if (err === ERR_NONE) {
          const a = this.addressRecords(qname, zone, qtype, found.entries);
          if (a.kind === "upstream") return a;
          records = a.records;
        }
        break;
      }
      case DnsType.TXT: {
        const found = this.txt(qname, zone);
        err = found.err;
        records = found.records;
        break;
      }
      case DnsType.CNAME: {
        const found = this.services(qname, zone, qtype);
        err = found.err;
        if (err === ERR_NONE) {
          for (const e of found.entries)
            if (hostType(e.host) === DnsType.CNAME)
              records.push({ name: qname, ttl: this.config.ttlS, type: DnsType.CNAME, target: e.host });
        }
        break;
      }
      case DnsType.PTR: {
        const found = this.ptr(qname, zone);
        err = found.err;
        records = found.records;
        break;
      }
      case DnsType.SRV: {
        const found = this.services(qname, zone, qtype);
        err = found.err;
        if (err === ERR_NONE) this.srv(qname, found.entries, records, extra);
        break;
      }
      case DnsType.SOA:
        if (qname.toLowerCase() === zone.toLowerCase()) records = [this.soa(zone)];
        break;
      case DnsType.AXFR:
      case DnsType.IXFR:
        return { kind: "reply", reply: dnsReply(query, Rcode.REFUSED, 0, []) };
      default:
        err = this.checkForApex(qname, zone, DnsType.A).err;
    }
    if (err !== ERR_NONE) {
      if (this.fallsThrough(qname)) return { kind: "next" };
      return { kind: "reply", reply: this.backendError(query, zone, this.synced ? Rcode.NXDOMAIN : Rcode.SERVFAIL) };
    }
    if (records.length === 0) return { kind: "reply", reply: this.backendError(query, zone, Rcode.NOERROR) };
    return { kind: "reply", reply: dnsReply(query, Rcode.NOERROR, DnsFlag.AA, records, [], extra) };
  }
  /**
   * The reply after the ExternalName target was resolved upstream: the CNAME then the target's
   * answers, or NODATA with the SOA when the lookup failed (A() `continue`s on e1 != nil).
   */
  completeExternalName(query, cname, upstreamAnswers) {
    const zone = this.zoneOf(query.questions[0].name);
    if (upstreamAnswers === null) return this.backendError(query, zone, Rcode.NOERROR);
    return dnsReply(query, Rcode.NOERROR, DnsFlag.AA, [cname, ...upstreamAnswers]);
  }
  zoneOf(qname) {
    const matched = this.matchZone(qname);
    return matched === "\0" || matched === "" ? "" : qname.slice(qname.length - matched.length);
  }
  fallsThrough(qname) {
    const zones = this.config.fallthroughZones;
    if (zones === null) return false;
    if (zones.length === 0) return true;
    for (const z of zones) if (isSubdomain(qname, z)) return true;
    return false;
  }
  /** BackendError: rcode, aa=1, the zone's SOA in the authority section. */
  backendError(query, zone, rcode) {
    return dnsReply(query, rcode, DnsFlag.AA, [], [this.soa(zone)]);
  }
  /** backend_lookup.go SOA(): TTL min(ttl, 300), MINIMUM = ttl. */
  soa(zone) {
    const ttl = this.config.ttlS;
    return {
      name: zone,
      ttl: Math.min(ttl, 300),
      type: DnsType.SOA,
      mname: zone === "" ? "ns.dns" : `ns.dns.${zone}`,
      rname: zone === "" ? "hostmaster" : `hostmaster.${zone}`,
      serial: this.serial >>> 0,
      refresh: 7200,
      retry: 1800,
      expire: 86400,
      minimum: ttl
    };
  }
  /** checkForApex: the zone apex is looked up as apex.dns.<zone> first (a name error), then as itself. */
  checkForApex(qname, zone, qtype) {
    return this.services(qname, zone, qtype);
  }
  /** A() / AAAA(): addresses deduplicated; CNAME entries followed (in-zone) or sent upstream. */
  addressRecords(qname, zone, qtype, entries) {
    const records = [];
    const seen = /* @__PURE__ */ new Set();
    for (const e of entries) {
      const what = hostType(e.host);
      if (what === DnsType.CNAME) {
        if (match(e.host, qname)) continue;
        const cname = { name: qname, ttl: this.config.ttlS, type: DnsType.CNAME, target: e.host };
        if (isSubdomain(e.host, zone)) {
          const inner = this.services(e.host, zone, qtype);
          if (inner.err !== ERR_NONE) continue;
          const next = this.addressRecords(e.host, zone, qtype, inner.entries);
          if (next.kind === "records" && next.records.length > 0) records.push(cname, ...next.records);
          continue;
        }
        return { kind: "upstream", cname, qtype };
      }
      if (what !== qtype || seen.has(e.host)) continue;
      seen.add(e.host);
      records.push(
        what === DnsType.A ? { name: qname, ttl: this.config.ttlS, type: DnsType.A, address: e.host } : { name: qname, ttl: this.config.ttlS, type: DnsType.AAAA, address: e.host }
      );
    }
    return { kind: "records", records };
  }
  /** plugin.SRV: weight floor(100 / entries) (min 1), priority 0, records dedup by (target, port). */
  srv(qname, entries, records, extra) {
    const weight = Math.max(1, Math.floor(100 / Math.max(1, entries.length)));
    const seen = /* @__PURE__ */ new Set();
    for (const e of entries) {
      if (e.port === -1) continue;
      const what = hostType(e.host);
      if (what === DnsType.CNAME) continue;
      const target = e.domain;
      const key = `${target.toLowerCase()}|${e.port}`;
      if (!seen.has(key)) {
        seen.add(key);
        records.push({
          name: qname,
          ttl: this.config.ttlS,
          type: DnsType.SRV,
          priority: 0,
          weight,
          port: e.port,
          target
        });
      }
      const addrKey = `${target.toLowerCase()}|${e.host}`;
      if (!seen.has(addrKey)) {
        seen.add(addrKey);
        extra.push(
          what === DnsType.A ? { name: target, ttl: this.config.ttlS, type: DnsType.A, address: e.host } : { name: target, ttl: this.config.ttlS, type: DnsType.AAAA, address: e.host }
        );
      }
    }
  }
  /** Services() for TXT: dns-version, else NODATA when the name exists, NXDOMAIN otherwise. */
  txt(qname, zone) {
    const base = this.trimZone(qname, zone);
    if (base.toLowerCase() === "dns-version")
      return {
        records: [{ name: qname, ttl: DNS_VERSION_TTL_S, type: DnsType.TXT, text: [DNS_SCHEMA_VERSION] }],
        err: ERR_NONE
      };
    const found = this.records(qname, zone);
    if (found.entries.length > 0) return { records: [], err: ERR_NONE };
    return { records: [], err: ERR_NO_ITEMS };
  }
  trimZone(qname, zone) {
    if (qname.length === zone.length) return "";
    return zone === "" ? qname : qname.slice(0, qname.length - zone.length - 1);
  }
  /** Services(): Records(), SRV keeping internal entries only. */
  services(qname, zone, qtype) {
    const found = this.records(qname, zone);
    if (qtype !== DnsType.SRV) return found;
    return { entries: found.entries.filter((e) => hostType(e.host) !== DnsType.CNAME), err: found.err };
  }
  /** parseRequest. */
  parse(qname, zone) {
    const r = { port: "", protocol: "", endpoint: "", service: "", namespace: "", podOrSvc: "" };
    const base = this.trimZone(qname, zone).toLowerCase();
    if (base === "" || base === "svc" || base === "pod") return r;
    const segs = base.split(".");
    let last = segs.length - 1;
    r.podOrSvc = segs[last];
    if (r.podOrSvc !== "pod" && r.podOrSvc !== "svc") return ERR_INVALID;
    if (--last < 0) return r;
    r.namespace = segs[last];
    if (--last < 0) return r;
    r.service = segs[last];
    if (--last < 0) return r;
    if (last === 0) r.endpoint = segs[0];
    else if (last === 1) {
      r.protocol = stripUnderscore(segs[1]);
      r.port = stripUnderscore(segs[0]);
    } else return ERR_INVALID;
    return r;
  }
  /** Records(). */
  records(qname, zone) {
    const r = this.parse(qname, zone);
    if (typeof r === "number") return { entries: [], err: r };
    if (r.podOrSvc === "") return { entries: [], err: ERR_NONE };
    if (zone.toLowerCase().endsWith("arpa")) return { entries: [], err: ERR_NO_ITEMS };
    if (!this.namespaceExposed(r.namespace)) return { entries: [], err: ERR_NO_ITEMS };
    if (r.podOrSvc === "pod") return this.findPods(r, zone);
    return this.findServices(r, zone);
  }
  namespaceExposed(namespace) {
    return this.store.get("Namespace", "", namespace) !== void 0;
  }
  /** findPods: `pods insecure` answers any parseable IP in an existing namespace. */
  findPods(r, zone) {
    if (this.config.pods === "disabled") return { entries: [], err: ERR_NO_ITEMS };
    const podname = r.service;
    if (podname === "") return { entries: [], err: ERR_NONE };
    const dashes = podname.split("-").length - 1;
    const ip = dashes === 3 && !podname.includes("--") ? podname.replaceAll("-", ".") : podname.replaceAll("-", ":");
    const domain = `${podname}.${r.namespace}.pod.${zone}`;
    if (this.config.pods === "insecure") {
      if (!isIpv4(ip) && !isIpv6(ip)) return { entries: [], err: ERR_NO_ITEMS };
      return { entries: [{ host: ip, port: 0, domain }], err: ERR_NONE };
    }
    const entries = [];
    for (const namespace of this.podIndex().get(ip) ?? [])
      if (match(r.namespace, namespace)) entries.push({ host: ip, port: 0, domain });
    return { entries, err: entries.length > 0 ? ERR_NONE : ERR_NO_ITEMS };
  }
  /** findServices. */
  findServices(r, zone) {
    if (r.service === "") return { entries: [], err: ERR_NONE };
    const entries = [];
    let err = ERR_NO_ITEMS;
    const svc = this.findService(r.namespace, r.service);
    if (svc === void 0) return { entries, err };
    const clusterIPs = svc.spec.clusterIPs ?? [svc.spec.clusterIP ?? ""];
    const headless = clusterIPs[0] === "None";
    const svcDomain = `${svc.metadata.name}.${svc.metadata.namespace ?? "default"}.svc.${zone}`;
    const slices = this.store.endpointSlicesFor(svc.metadata.namespace ?? "default", svc.metadata.name);
    if (this.config.ignoreEmptyService && svc.spec.type !== "ExternalName" && !headless) {
      let ready = 0;
      for (const slice of slices) for (const ep of slice.endpoints) if (ep.conditions?.ready ?? true) ready++;
      if (ready === 0) return { entries, err };
    }
    if (svc.spec.type === "ExternalName") {
      if (r.endpoint !== "" || r.port !== "" || r.protocol !== "") return { entries, err };
      const host = svc.spec.externalName ?? "";
      if (hostType(host) === DnsType.CNAME) {
        entries.push({ host, port: 0, domain: svcDomain });
        err = ERR_NONE;
      }
      return { entries, err };
    }
    if (headless || r.endpoint !== "") {
      for (const slice of slices) {
        const ports2 = slicePorts(slice);
        for (const ep of slice.endpoints) {
          if (!(ep.conditions?.ready ?? true)) continue;
          for (const address of ep.addresses) {
            const hostname = this.endpointHostname(address, ep.hostname, ep.targetRef?.name);
            if (r.endpoint !== "" && !match(r.endpoint, hostname)) continue;
            for (const p of ports2) {
              if (!matchPortAndProtocol(r.port, p.name, r.protocol, p.protocol)) continue;
              entries.push({ host: address, port: p.port, domain: `${hostname}.${svcDomain}` });
              err = ERR_NONE;
            }
          }
        }
      }
      return { entries, err };
    }
    const ports = svc.spec.ports === void 0 || svc.spec.ports.length === 0 ? [{ name: "", protocol: "", port: -1 }] : svc.spec.ports.map((p) => ({ name: p.name ?? "", protocol: p.protocol ?? "TCP", port: p.port }));
    for (const p of ports) {
      if (!matchPortAndProtocol(r.port, p.name, r.protocol, p.protocol)) continue;
      err = ERR_NONE;
      for (const ip of clusterIPs) entries.push({ host: ip, port: p.port, domain: svcDomain });
    }
    return { entries, err };
  }
  /**
   * SvcIndex(name.namespace). API object names are lowercase DNS-1123 labels and parse() lowercases
   * the query, so the exact key is the case-insensitive match.
   */
  findService(namespace, name) {
    return this.store.get("Service", namespace, name);
  }
  /** endpointHostname: hostname, else pod name with endpoint_pod_names, else the dashed IP. */
  endpointHostname(ip, hostname, podName) {
    if (hostname !== void 0 && hostname !== "") return hostname;
    if (this.config.endpointPodNames && podName !== void 0 && podName !== "" && podName.length < 64) return podName;
    if (ip.includes(".")) return ip.replaceAll(".", "-");
    if (ip.includes(":")) {
      const dashed = ip.replaceAll(":", "-");
      return dashed.endsWith("-") ? `${dashed}0` : dashed;
    }
    return "";
  }
  refreshIndexes() {
    if (this.indexVersion === this.store.resourceVersion) return;
    this.indexVersion = this.store.resourceVersion;
    const primary = this.primaryZone();
    const reverse = /* @__PURE__ */ new Map();
    for (const s of this.store.list("Service")) {
      const ips = s.spec.clusterIPs ?? (s.spec.clusterIP !== void 0 ? [s.spec.clusterIP] : []);
      for (const ip of ips)
        if (ip !== "None" && ip !== "" && !reverse.has(ip))
          reverse.set(ip, [`${s.metadata.name}.${s.metadata.namespace ?? "default"}.svc.${primary}`]);
    }
    const endpoints = /* @__PURE__ */ new Map();
    for (const slice of this.store.list("EndpointSlice")) {
      const service = slice.metadata.labels?.["kubernetes.io/service-name"];
      if (service === void 0) continue;
      for (const ep of slice.endpoints) {
        if (!(ep.conditions?.ready ?? true)) continue;
        for (const address of ep.addresses) {
          const hostname = this.endpointHostname(address, ep.hostname, ep.targetRef?.name);
          const target = `${hostname}.${service}.${slice.metadata.namespace ?? "default"}.svc.${primary}`;
          let list = endpoints.get(address);
          if (list === void 0) endpoints.set(address, list = []);
          if (!list.includes(target)) list.push(target);
        }
      }
    }
    for (const [ip, targets] of endpoints) if (!reverse.has(ip)) reverse.set(ip, targets);
    this.reverse = reverse;
    const podIps = /* @__PURE__ */ new Map();
    for (const p of this.store.list("Pod")) {
      const ip = p.status?.podIP;
      if (ip === void 0) continue;
      let list = podIps.get(ip);
      if (list === void 0) podIps.set(ip, list = []);
      list.push(p.metadata.namespace ?? "default");
    }
    this.podIps = podIps;
  }
  reverseIndex() {
    this.refreshIndexes();
    return this.reverse;
  }
  podIndex() {
    this.refreshIndexes();
    return this.podIps;
  }
  /** plugin.PTR over Reverse(): the first ClusterIP service with that IP, else every ready endpoint. */
  ptr(qname, zone) {
    const ip = addressFromReverse(qname);
    if (ip === "") {
      const found = this.records(qname, zone);
      return { records: [], err: found.err };
    }
    const targets = this.reverseIndex().get(ip) ?? [];
    if (targets.length === 0) return { records: [], err: ERR_NO_ITEMS };
    return {
      records: targets.map((target) => ({ name: qname, ttl: this.config.ttlS, type: DnsType.PTR, target })),
      err: ERR_NONE
    };
  }
};
function slicePorts(slice) {
  if (slice.ports === void 0 || slice.ports.length === 0) return [{ name: "", protocol: "", port: -1 }];
  return slice.ports.map((p) => ({ name: p.name ?? "", protocol: p.protocol ?? "TCP", port: p.port ?? -1 }));
}

// src/wire/ipv4.ts
var IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
function parseIpv4(text) {
  const m = IPV4_RE.exec(text);
  if (m === null) return void 0;
  let value = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i];
    if (part.length > 1 && part[0] === "0") return void 0;
    const octet = Number(part);
    if (octet > 255) return void 0;
    value = value * 256 + octet;
  }
  return value >>> 0;
}
function ipv4(text) {
  const value = parseIpv4(text);
  if (value === void 0) throw new Error(`not an IPv4 address: ${text}`);
  return value;
}
function formatIpv4(address) {
  return `${address >>> 24}.${address >>> 16 & 255}.${address >>> 8 & 255}.${address & 255}`;
}
function maskOf(prefixLength) {
  return prefixLength === 0 ? 0 : 4294967295 << 32 - prefixLength >>> 0;
}
function parseCidr(text, strict = true) {
  const slash = text.indexOf("/");
  const address = parseIpv4(slash < 0 ? text : text.slice(0, slash));
  if (address === void 0) return void 0;
  let prefixLength = 32;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,2}$/.test(p)) return void 0;
    prefixLength = Number(p);
    if (prefixLength > 32) return void 0;
  }
  const mask = maskOf(prefixLength);
  if (strict && (address & ~mask) >>> 0 !== 0) return void 0;
  return { address: (address & mask) >>> 0, prefixLength, mask };
}
function cidr(text, strict = true) {
  const value = parseCidr(text, strict);
  if (value === void 0) throw new Error(`not an IPv4 CIDR: ${text}`);
  return value;
}
function cidrContains(prefix2, address) {
  return (address & prefix2.mask) >>> 0 === prefix2.address;
}
function formatCidr(prefix2) {
  return `${formatIpv4(prefix2.address)}/${prefix2.prefixLength}`;
}
function cidrSize(prefix2) {
  return 2 ** (32 - prefix2.prefixLength);
}
function cidrAddress(prefix2, index) {
  return prefix2.address + index >>> 0;
}

// src/apps/coredns.ts
var DNS_PORT = 53;
var DNS_TCP_LENGTH_PREFIX_BYTES = 2;
var COREDNS_QUERIES_PER_SECOND_PER_CPU = 16834;
var UPSTREAM_TTL_S_DEFAULT = 300;
var FORWARD_MAX_CONCURRENT_KUBEADM = 1e3;
function coreDnsParams(clusterDomain, cpus, upstreamRttNs, overrides = {}) {
  return {
    queriesPerSecondPerCpu: COREDNS_QUERIES_PER_SECOND_PER_CPU,
    cpus,
    kubernetes: kubeadmKubernetesPlugin(clusterDomain),
    cache: kubeadmCache(clusterDomain),
    maxConcurrent: FORWARD_MAX_CONCURRENT_KUBEADM,
    upstreamRttNs,
    upstreamTtlS: UPSTREAM_TTL_S_DEFAULT,
    ...overrides
  };
}
var ROOT_SOA = {
  name: "",
  ttl: 86400,
  type: DnsType.SOA,
  mname: "a.root-servers.net",
  rname: "nstld.verisign-grs.com",
  serial: 2026120300,
  refresh: 1800,
  retry: 900,
  expire: 604800,
  minimum: 86400
};
var PHASE_FREE = 0;
var PHASE_QUEUED = 1;
var PHASE_CPU = 2;
var PHASE_UPSTREAM = 3;
function isDnsMessage(data) {
  return data !== null && Array.isArray(data.questions);
}
function scrubReply(reply, bufferBytes, transport) {
  const size = Math.max(bufferBytes, DNS_UDP_MIN_MSG_BYTES);
  const plain = encodedLengthBytes(reply);
  if (plain <= size) {
    if (transport === "udp" && plain > 1480) return { reply, lengthBytes: compressedLengthBytes(reply) };
    return { reply, lengthBytes: plain };
  }
  const compressed = compressedLengthBytes(reply);
  if (compressed <= size) return { reply, lengthBytes: compressed };
  const budget = size - (reply.ednsUdpPayloadBytes !== void 0 ? DNS_OPT_RECORD_BYTES : 0);
  const all = [...reply.answers, ...reply.authorities, ...reply.additionals];
  const { ednsUdpPayloadBytes: _opt, ...header } = reply;
  const bare = { ...header, answers: [], authorities: [], additionals: [] };
  let kept = 0;
  while (kept < all.length && compressedLengthBytes(prefix(bare, reply, kept + 1)) <= budget) kept++;
  const cut = prefix(bare, reply, kept);
  const truncated = {
    ...cut,
    flags: reply.flags | (kept < all.length ? DnsFlag.TC : 0),
    ...reply.ednsUdpPayloadBytes !== void 0 ? { ednsUdpPayloadBytes: reply.ednsUdpPayloadBytes } : {}
  };
  return { reply: truncated, lengthBytes: compressedLengthBytes(truncated) };
}
function sendDnsReply(query, reply, socket, conn, addr, port, tag, flow) {
  if (socket !== null) {
    const scrubbed2 = scrubReply(reply, clientBufferBytes(query, "udp"), "udp");
    if (socket.closed) return 0;
    socket.sendTo(addr, port, scrubbed2.lengthBytes, tag, scrubbed2.reply, flow);
    return (scrubbed2.reply.flags & DnsFlag.TC) !== 0 && (reply.flags & DnsFlag.TC) === 0 ? 2 : 1;
  }
  if (conn === null) return 0;
  const scrubbed = scrubReply(reply, clientBufferBytes(query, "tcp"), "tcp");
  conn.send(scrubbed.lengthBytes + DNS_TCP_LENGTH_PREFIX_BYTES, tag, scrubbed.reply);
  return 1;
}
var DnsRequests = class {
  query = [];
  /** The UDP socket, or null when the query came over TCP (conn). */
  socket = [];
  conn = [];
  addr = [];
  port = [];
  tag = [];
  flow = [];
  free = [];
  take(query, socket, conn, addr, port, tag, flow) {
    const slot = this.free.length > 0 ? this.free.pop() : this.query.length;
    this.query[slot] = query;
    this.socket[slot] = socket;
    this.conn[slot] = conn;
    this.addr[slot] = addr;
    this.port[slot] = port;
    this.tag[slot] = tag;
    this.flow[slot] = flow;
    return slot;
  }
  tagOf(slot) {
    return this.tag[slot];
  }
  /** sendDnsReply to the slot's client (0 nothing sent, 1 sent, 2 sent truncated). */
  send(slot, reply) {
    return sendDnsReply(
      this.query[slot],
      reply,
      this.socket[slot],
      this.conn[slot],
      this.addr[slot],
      this.port[slot],
      this.tag[slot],
      this.flow[slot]
    );
  }
  release(slot) {
    this.query[slot] = null;
    this.socket[slot] = null;
    this.conn[slot] = null;
    this.free.push(slot);
  }
};
function prefix(bare, reply, count) {
  const a = Math.min(count, reply.answers.length);
  const n = Math.min(count - a, reply.authorities.length);
  const x = count - a - n;
  return {
    ...bare,
    answers: reply.answers.slice(0, a),
    authorities: reply.authorities.slice(0, n),
    additionals: reply.additionals.slice(0, x)
  };
}
function upstreamResolverAnswers(names, ttlS2, name, qtype) {
  const address = names.get(name.toLowerCase());
  if (address === void 0) return { rcode: Rcode.NXDOMAIN, records: [] };
  if (qtype !== DnsType.A) return { rcode: Rcode.NOERROR, records: [] };
  return { rcode: Rcode.NOERROR, records: [{ name, ttl: ttlS2, type: DnsType.A, address: formatIpv4(address) }] };
}
var CoreDnsServer = class extends Server {
  constructor(apps, ns, identity, rng, params, env) {
    super(apps, ns, identity, { meanNs: 0, distribution: "fixed" }, rng);
    this.params = params;
    this.env = env;
    if (!(params.cpus > 0) || !(params.queriesPerSecondPerCpu > 0))
      throw new Error(`CoreDNS: cpus (${params.cpus}) and queriesPerSecondPerCpu must be > 0`);
    this.workers = Math.max(1, Math.floor(params.cpus));
    this.queryCpuNs = Math.round(NS_PER_S * this.workers / (params.cpus * params.queriesPerSecondPerCpu));
    this.kubernetes = new KubernetesPlugin(env.store, params.kubernetes);
    this.cache = new DnsCache(params.cache, rng);
    this.udpSocket = apps.network.udpBind(ns, 0, DNS_PORT, this);
    this.tcpListener = apps.network.tcp.listen(ns, 0, DNS_PORT, this);
  }
  params;
  env;
  counters = {
    received: 0,
    answered: 0,
    cacheHits: 0,
    cacheMisses: 0,
    forwarded: 0,
    refused: 0,
    dropped: 0,
    truncated: 0,
    queuePeak: 0
  };
  kubernetes;
  cache;
  udpSocket;
  tcpListener;
  workers;
  queryCpuNs;
  busyWorkers = 0;
  upstreamInFlight = 0;
  /** The queries held, by slot (the server's own per-slot state is in the job* arrays). */
  requests = new DnsRequests();
  jobPhase = [];
  /** ExternalName: the CNAME to put in front of the upstream's answers (null otherwise). */
  jobCname = [];
  // FIFO of slots waiting for a worker (ring over a growable array).
  queue = [];
  queueHead = 0;
  /** CPU time of one query on one worker. */
  get queryTimeNs() {
    return this.queryCpuNs;
  }
  /** Queries waiting for a worker now. */
  get queueLength() {
    return this.queue.length - this.queueHead;
  }
  // --- transports
  onUdpMessage(socket, packet) {
    if (!this.running) return;
    const data = packet.appData;
    if (!isDnsMessage(data) || data.questions.length === 0) {
      this.counters.dropped++;
      return;
    }
    this.accept(data, socket, null, packet.srcAddr, packet.srcPort, packet.appTag, packet.flowId);
  }
  onUdpError(_socket, _error, _remoteAddr, _remotePort, _appTag) {
  }
  onAccept(_server, _conn) {
    return this;
  }
  onConnected(_conn) {
  }
  onMessage(conn, _bytes, appTag, appData) {
    if (!this.running) return;
    if (!isDnsMessage(appData) || appData.questions.length === 0) {
      this.counters.dropped++;
      return;
    }
    this.accept(appData, null, conn, conn.remoteAddr, conn.remotePort, appTag, 0);
  }
  onPeerClosed(conn) {
    conn.close();
  }
  onClosed(_conn, _error) {
  }
  // --- the query's life: wait for a worker, run the chain, maybe wait for the upstream
  accept(query, socket, conn, addr, port, tag, flow) {
    this.counters.received++;
    const slot = this.requests.take(query, socket, conn, addr, port, tag, flow);
    this.jobCname[slot] = null;
    if (this.busyWorkers < this.workers) this.startCpu(slot);
    else {
      this.jobPhase[slot] = PHASE_QUEUED;
      this.queue.push(slot);
      const waiting = this.queue.length - this.queueHead;
      if (waiting > this.counters.queuePeak) this.counters.queuePeak = waiting;
    }
  }
  startCpu(slot) {
    this.busyWorkers++;
    this.jobPhase[slot] = PHASE_CPU;
    this.apps.scheduleServe(this.index, slot, this.apps.nowNs + this.queryCpuNs);
  }
  onServe(slot, nowNs) {
    const phase = this.jobPhase[slot];
    if (phase === PHASE_CPU) {
      this.busyWorkers--;
      this.runChain(slot, nowNs);
      this.startNextQueued();
    } else if (phase === PHASE_UPSTREAM) {
      this.upstreamInFlight--;
      this.upstreamAnswered(slot, nowNs);
    }
  }
  startNextQueued() {
    if (this.queueHead >= this.queue.length || this.busyWorkers >= this.workers) return;
    const slot = this.queue[this.queueHead++];
    if (this.queueHead === this.queue.length) {
      this.queue = [];
      this.queueHead = 0;
    }
    this.startCpu(slot);
  }
  /** cache -> kubernetes -> forward, as plugin.cfg orders them. */
  runChain(slot, nowNs) {
    const query = this.requests.query[slot];
    if (!this.running) return this.finish(slot);
    const cached = this.cache.get(nowNs, query);
    if (cached !== null) {
      this.counters.cacheHits++;
      return this.reply(slot, cached);
    }
    if (this.cache.covers(query)) this.counters.cacheMisses++;
    const result = this.kubernetes.serve(query);
    if (result.kind === "reply") return this.reply(slot, this.cache.put(nowNs, query, result.reply));
    if (result.kind === "upstream") this.jobCname[slot] = result.cname;
    if (this.upstreamInFlight >= this.params.maxConcurrent) {
      this.counters.refused++;
      return this.reply(slot, dnsReply(query, Rcode.REFUSED, 0, []));
    }
    this.counters.forwarded++;
    this.upstreamInFlight++;
    this.jobPhase[slot] = PHASE_UPSTREAM;
    this.apps.scheduleServe(this.index, slot, nowNs + this.params.upstreamRttNs);
  }
  upstreamAnswered(slot, nowNs) {
    const query = this.requests.query[slot];
    if (!this.running) return this.finish(slot);
    const cname = this.jobCname[slot];
    const question = query.questions[0];
    const target = cname !== null && cname.type === DnsType.CNAME ? cname.target : question.name;
    const answers = this.upstreamAnswers(target, question.type);
    let reply;
    if (cname !== null && cname.type === DnsType.CNAME)
      reply = this.kubernetes.completeExternalName(
        query,
        cname,
        answers.rcode === Rcode.NOERROR ? answers.records : null
      );
    else
      reply = dnsReply(
        query,
        answers.rcode,
        DnsFlag.RA,
        answers.records,
        answers.rcode === Rcode.NXDOMAIN || answers.records.length === 0 ? [ROOT_SOA] : []
      );
    this.reply(slot, this.cache.put(nowNs, query, reply));
  }
  upstreamAnswers(name, qtype) {
    return upstreamResolverAnswers(this.env.upstreamNames, this.params.upstreamTtlS, name, qtype);
  }
  reply(slot, reply) {
    const sent = this.requests.send(slot, reply);
    if (sent !== 0) this.counters.answered++;
    if (sent === 2) this.counters.truncated++;
    this.finish(slot);
  }
  finish(slot) {
    this.jobCname[slot] = null;
    this.jobPhase[slot] = PHASE_FREE;
    this.requests.release(slot);
  }
  stop() {
    this.running = false;
    this.udpSocket?.close();
    this.tcpListener?.close();
  }
};

// src/apps/images.ts
var ImageProgram = { GENERIC: 0, NGINX: 1, COREDNS: 2 };
var IMAGE_REGISTRY = [
  {
    program: ImageProgram.NGINX,
    matches: (n) => n === "nginx" || n === "network-multitool" || n.startsWith("nginx-")
  },
  { program: ImageProgram.COREDNS, matches: (n) => n === "coredns" }
];
function repositoryName(image) {
  const name = image.split("@")[0];
  const last = name.split("/").pop() ?? "";
  const colon = last.indexOf(":");
  return colon < 0 ? last : last.slice(0, colon);
}
function imageProgram(image) {
  const name = repositoryName(image);
  for (const entry of IMAGE_REGISTRY) if (entry.matches(name)) return entry.program;
  return ImageProgram.GENERIC;
}
function startPodServers(ctx, containers) {
  const tcpPorts = /* @__PURE__ */ new Set();
  const udpPorts = /* @__PURE__ */ new Set();
  let nginx = false;
  let coreDns = false;
  for (const container of containers) {
    const program = imageProgram(container.image);
    if (program === ImageProgram.NGINX) {
      nginx = true;
      tcpPorts.add(80);
    } else if (program === ImageProgram.COREDNS) coreDns = true;
    for (const port of container.ports ?? []) {
      const protocol = port.protocol ?? "TCP";
      if (protocol === "UDP") {
        if (program !== ImageProgram.COREDNS) udpPorts.add(port.containerPort);
      } else if (protocol !== "SCTP" && !(program === ImageProgram.COREDNS && port.containerPort === DNS_PORT))
        tcpPorts.add(port.containerPort);
    }
  }
  const ns = ctx.ns;
  for (const port of tcpPorts) if (ns.tcpListeners.has(port)) tcpPorts.delete(port);
  for (const port of udpPorts) if (ns.udpSockets.has(port)) udpPorts.delete(port);
  if (coreDns && (tcpPorts.has(DNS_PORT) || udpPorts.has(DNS_PORT))) coreDns = false;
  if (coreDns && (ns.tcpListeners.has(DNS_PORT) || ns.udpSockets.has(DNS_PORT))) coreDns = false;
  const servers = [];
  if (tcpPorts.size > 0) {
    servers.push(
      new HttpServer(
        ctx.host,
        ns,
        ctx.identity,
        ctx.serviceTime,
        ctx.rng,
        [...tcpPorts].sort((a, b) => a - b),
        nginx ? NGINX_RESPONSE_BYTES : GENERIC_RESPONSE_BYTES
      )
    );
  }
  if (udpPorts.size > 0) {
    servers.push(
      new UdpEchoServer(
        ctx.host,
        ns,
        ctx.identity,
        ctx.serviceTime,
        ctx.rng,
        [...udpPorts].sort((a, b) => a - b)
      )
    );
  }
  if (coreDns) {
    const { params, env } = ctx.coreDns();
    servers.push(new CoreDnsServer(ctx.host, ns, ctx.identity, ctx.dnsRng(), params, env));
  }
  for (const server of servers) ctx.host.addServer(server);
  return servers;
}

// src/k8s/capacity.ts
var MAX_PODS_DEFAULT = 110;
var INSTANCE_TYPES = {
  "t3.micro": { enis: 2, ipv4PerEni: 2 },
  "t3.small": { enis: 3, ipv4PerEni: 4 },
  "t3.medium": { enis: 3, ipv4PerEni: 6 },
  "t3.large": { enis: 3, ipv4PerEni: 12 },
  "t3.xlarge": { enis: 4, ipv4PerEni: 15 },
  "t3.2xlarge": { enis: 4, ipv4PerEni: 15 },
  "m5.large": { enis: 3, ipv4PerEni: 10 },
  "m5.xlarge": { enis: 4, ipv4PerEni: 15 },
  "m5.2xlarge": { enis: 4, ipv4PerEni: 15 },
  "m5.4xlarge": { enis: 8, ipv4PerEni: 30 },
  "m5.8xlarge": { enis: 8, ipv4PerEni: 30 },
  "m5.12xlarge": { enis: 8, ipv4PerEni: 30 },
  "m5.16xlarge": { enis: 15, ipv4PerEni: 50 },
  "m5.24xlarge": { enis: 15, ipv4PerEni: 50 },
  "c5.large": { enis: 3, ipv4PerEni: 10 },
  "c5.xlarge": { enis: 4, ipv4PerEni: 15 },
  "c5.2xlarge": { enis: 4, ipv4PerEni: 15 },
  "c5.4xlarge": { enis: 8, ipv4PerEni: 30 },
  "r5.large": { enis: 3, ipv4PerEni: 10 },
  "r5.xlarge": { enis: 4, ipv4PerEni: 15 },
  "r5.2xlarge": { enis: 4, ipv4PerEni: 15 }
};
function eniMaxPods(limits) {
  return limits.enis * (limits.ipv4PerEni - 1) + 2;
}
function resolveMaxPods(cni, node, clusterMaxPods) {
  if (node.maxPods !== void 0) return node.maxPods;
  if (clusterMaxPods !== void 0) return clusterMaxPods;
  const limits = node.instanceType === void 0 ? void 0 : INSTANCE_TYPES[node.instanceType];
  if (cni === "aws-vpc" && limits !== void 0) return eniMaxPods(limits);
  return MAX_PODS_DEFAULT;
}
var CONTROLLER_CLIENT_QPS_DEFAULT = 20;
var CONTROLLER_CLIENT_BURST_DEFAULT = 30;
var TokenBucket = class {
  periodNs;
  capacityNs;
  levelNs;
  lastNs = 0;
  constructor(qps, burst) {
    this.periodNs = Math.round(NS_PER_S / qps);
    this.capacityNs = burst * this.periodNs;
    this.levelNs = this.capacityNs;
  }
  /** Reserves one token at nowNs; returns how long the request waits for it (0 = at once). */
  reserve(nowNs) {
    this.levelNs = Math.min(this.capacityNs, this.levelNs + (nowNs - this.lastNs));
    this.lastNs = nowNs;
    this.levelNs -= this.periodNs;
    return this.levelNs >= 0 ? 0 : -this.levelNs;
  }
};

// src/k8s/ipam.ts
var NODE_CIDR_MASK_SIZE_DEFAULT = 24;
var NodeCidrAllocator = class {
  constructor(clusterCidr, maskSize = NODE_CIDR_MASK_SIZE_DEFAULT) {
    this.clusterCidr = clusterCidr;
    this.maskSize = maskSize;
    assert(
      maskSize >= clusterCidr.prefixLength && maskSize <= 32,
      `node CIDR mask /${maskSize} does not fit in /${clusterCidr.prefixLength}`
    );
    this.blockCount = 2 ** (maskSize - clusterCidr.prefixLength);
    this.used = new Uint8Array(Math.min(this.blockCount, 1 << 20));
  }
  clusterCidr;
  maskSize;
  used;
  nextCandidate = 0;
  blockCount;
  blockAt(index) {
    const mask = this.maskOf();
    return {
      address: this.clusterCidr.address + index * 2 ** (32 - this.maskSize) >>> 0,
      prefixLength: this.maskSize,
      mask
    };
  }
  maskOf() {
    return this.maskSize === 0 ? 0 : 4294967295 << 32 - this.maskSize >>> 0;
  }
  allocateNext() {
    const count = this.used.length;
    for (let i = 0; i < count; i++) {
      const index = (this.nextCandidate + i) % count;
      if (this.used[index] === 0) {
        this.used[index] = 1;
        this.nextCandidate = (index + 1) % count;
        return this.blockAt(index);
      }
    }
    return void 0;
  }
  release(block) {
    const index = (block.address - this.clusterCidr.address) / 2 ** (32 - this.maskSize);
    if (index >= 0 && index < this.used.length) this.used[index] = 0;
  }
};
var RangeAllocator = class _RangeAllocator {
  constructor(options) {
    this.options = options;
    assert(options.rangeStart <= options.rangeEnd, "empty range");
  }
  options;
  reserved = /* @__PURE__ */ new Set();
  lastReserved;
  /** host-local defaults for a subnet: .1 gateway, range .1 .. broadcast-1 (gateway skipped). */
  static hostLocal(subnet) {
    const broadcast = subnet.address + cidrSize(subnet) - 1 >>> 0;
    return new _RangeAllocator({ rangeStart: subnet.address + 1, rangeEnd: broadcast - 1, gateway: subnet.address + 1 });
  }
  contains(ip) {
    return ip >= this.options.rangeStart && ip <= this.options.rangeEnd && ip !== this.options.gateway;
  }
  isReserved(ip) {
    return this.reserved.has(ip);
  }
  get reservedCount() {
    return this.reserved.size;
  }
  /** Reserves a specific address; false when taken or outside the range. */
  reserve(ip) {
    if (!this.contains(ip) || this.reserved.has(ip)) return false;
    this.reserved.add(ip);
    this.lastReserved = ip;
    return true;
  }
  /** Next free address after the last reserved one, wrapping; undefined when the range is full. */
  allocate() {
    const { rangeStart, rangeEnd } = this.options;
    const size = rangeEnd - rangeStart + 1;
    const start = this.lastReserved === void 0 ? rangeStart : this.lastReserved === rangeEnd ? rangeStart : this.lastReserved + 1;
    for (let i = 0; i < size; i++) {
      const ip = rangeStart + (start - rangeStart + i) % size >>> 0;
      if (ip === this.options.gateway || this.reserved.has(ip)) continue;
      this.reserved.add(ip);
      this.lastReserved = ip;
      return ip;
    }
    return void 0;
  }
  release(ip) {
    this.reserved.delete(ip);
  }
};
function rangeOffset(size, minimum, maximum, step) {
  if (size <= minimum) return 0;
  const offset = Math.floor(size / step);
  if (offset < minimum) return minimum;
  if (offset > maximum) return maximum;
  return offset;
}
var BitmapAllocator = class {
  constructor(max, offset, rng) {
    this.max = max;
    this.offset = offset;
    this.rng = rng;
    assert(max > 0 && offset >= 0 && offset < max, `bitmap max ${max} offset ${offset}`);
    this.bits = new Uint8Array(max);
  }
  max;
  offset;
  rng;
  bits;
  countUsed = 0;
  get used() {
    return this.countUsed;
  }
  has(index) {
    return index >= 0 && index < this.max && this.bits[index] === 1;
  }
  /** Allocates a specific index; false when taken. */
  allocate(index) {
    assert(index >= 0 && index < this.max, `bitmap index ${index}`);
    if (this.bits[index] === 1) return false;
    this.bits[index] = 1;
    this.countUsed++;
    return true;
  }
  /** Random free index, upper band first; -1 when full. */
  allocateNext() {
    if (this.countUsed >= this.max) return -1;
    const upper = this.max - this.offset;
    let start = this.rng.intBelow(upper);
    for (let i = 0; i < upper; i++) {
      const at = this.offset + (start + i) % upper;
      if (this.bits[at] === 0) return this.take(at);
    }
    if (this.offset === 0) return -1;
    start = this.rng.intBelow(this.offset);
    for (let i = 0; i < this.offset; i++) {
      const at = (start + i) % this.offset;
      if (this.bits[at] === 0) return this.take(at);
    }
    return -1;
  }
  release(index) {
    if (index >= 0 && index < this.max && this.bits[index] === 1) {
      this.bits[index] = 0;
      this.countUsed--;
    }
  }
  take(at) {
    this.bits[at] = 1;
    this.countUsed++;
    return at;
  }
};
var ServiceIpAllocator = class {
  constructor(cidr2, rng) {
    this.cidr = cidr2;
    const size = cidrSize(cidr2);
    assert(size >= 4, "service CIDR too small");
    this.base = cidr2.address + 1 >>> 0;
    const max = size - 2;
    this.bitmap = new BitmapAllocator(max, rangeOffset(size, 16, 256, 16), rng);
  }
  cidr;
  bitmap;
  base;
  /** The i-th usable address (0 -> network+1: the `kubernetes` Service). */
  nth(index) {
    return this.base + index >>> 0;
  }
  get offset() {
    return this.bitmap.offset;
  }
  allocate(ip) {
    const index = ip - this.base;
    if (!cidrContains(this.cidr, ip) || index < 0 || index >= this.bitmap.max) return "out-of-range";
    return this.bitmap.allocate(index) ? "ok" : "allocated";
  }
  allocateNext() {
    const index = this.bitmap.allocateNext();
    return index < 0 ? void 0 : this.nth(index);
  }
  release(ip) {
    this.bitmap.release(ip - this.base);
  }
};
var NODE_PORT_BASE_DEFAULT = 3e4;
var NODE_PORT_SIZE_DEFAULT = 2768;
function parsePortRange(text) {
  const m = /^\s*(\d{1,5})(?:([-+])(\d{1,5}))?\s*$/.exec(text);
  if (m === null) return void 0;
  const base = Number(m[1]);
  const last = m[2] === void 0 ? base : m[2] === "-" ? Number(m[3]) : base + Number(m[3]);
  if (base < 1 || last > 65535 || last < base) return void 0;
  return { base, size: last - base + 1 };
}
var NodePortAllocator = class {
  constructor(rng, base = NODE_PORT_BASE_DEFAULT, size = NODE_PORT_SIZE_DEFAULT) {
    this.base = base;
    this.size = size;
    this.bitmap = new BitmapAllocator(size, rangeOffset(size, 16, 128, 32), rng);
  }
  base;
  size;
  bitmap;
  get offset() {
    return this.bitmap.offset;
  }
  get rangeText() {
    return `${this.base}-${this.base + this.size - 1}`;
  }
  allocate(port) {
    const index = port - this.base;
    if (!Number.isInteger(port) || index < 0 || index >= this.size) return "out-of-range";
    return this.bitmap.allocate(index) ? "ok" : "allocated";
  }
  allocateNext() {
    const index = this.bitmap.allocateNext();
    return index < 0 ? void 0 : this.base + index;
  }
  release(port) {
    this.bitmap.release(port - this.base);
  }
};
function parsePoolRange(text) {
  const dash = text.indexOf("-");
  if (dash >= 0) {
    const first = parseIpv4(text.slice(0, dash).trim());
    const last = parseIpv4(text.slice(dash + 1).trim());
    if (first === void 0 || last === void 0 || first > last) return void 0;
    return { first, last };
  }
  const prefix2 = parseCidr(text.trim());
  if (prefix2 === void 0) return void 0;
  return { first: prefix2.address, last: prefix2.address + cidrSize(prefix2) - 1 >>> 0 };
}
var LoadBalancerPool = class {
  ranges = [];
  used = /* @__PURE__ */ new Set();
  constructor(pool) {
    for (const text of pool) {
      const range = parsePoolRange(text);
      assert(range !== void 0, `bad load-balancer pool range ${text}`);
      this.ranges.push(range);
    }
  }
  get enabled() {
    return this.ranges.length > 0;
  }
  contains(ip) {
    return this.ranges.some((r) => ip >= r.first && ip <= r.last);
  }
  allocate(ip) {
    if (!this.contains(ip)) return "out-of-range";
    if (this.used.has(ip)) return "allocated";
    this.used.add(ip);
    return "ok";
  }
  allocateNext() {
    for (const range of this.ranges) {
      for (let ip = range.first; ip <= range.last; ip++) {
        if (!this.used.has(ip)) {
          this.used.add(ip);
          return ip;
        }
      }
    }
    return void 0;
  }
  release(ip) {
    this.used.delete(ip);
  }
};

// src/k8s/issues.ts
function issueAt(severity, path, message, locate) {
  if (locate === void 0) return { severity, path, message };
  return { severity, path, message, position: locate(path) };
}

// src/k8s/types.ts
var LABEL_SERVICE_NAME = "kubernetes.io/service-name";
var LABEL_MANAGED_BY = "endpointslice.kubernetes.io/managed-by";
var LABEL_HOSTNAME = "kubernetes.io/hostname";
var LABEL_TOPOLOGY_ZONE = "topology.kubernetes.io/zone";
var LABEL_POD_TEMPLATE_HASH = "pod-template-hash";

// src/k8s/store.ts
function namespaceOf(object, kind) {
  if (kind === "Node" || kind === "Namespace") return "";
  return object.metadata.namespace ?? "default";
}
function objectKey(namespace, name) {
  return `${namespace}/${name}`;
}
function compareKeys(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}
var ApiStore = class {
  /** Incremented on every write (create, update, delete), like etcd's revision. */
  resourceVersion = 0;
  objects = {
    Namespace: /* @__PURE__ */ new Map(),
    Node: /* @__PURE__ */ new Map(),
    Pod: /* @__PURE__ */ new Map(),
    ReplicaSet: /* @__PURE__ */ new Map(),
    Deployment: /* @__PURE__ */ new Map(),
    Service: /* @__PURE__ */ new Map(),
    Endpoints: /* @__PURE__ */ new Map(),
    EndpointSlice: /* @__PURE__ */ new Map()
  };
  listeners = [];
  /** Sorted keys per kind (null = stale); `list` costs O(objects), not O(objects log objects). */
  sortedKeyCache = {
    Namespace: null,
    Node: null,
    Pod: null,
    ReplicaSet: null,
    Deployment: null,
    Service: null,
    Endpoints: null,
    EndpointSlice: null
  };
  /** EndpointSlice keys by "namespace/service-name" (their kubernetes.io/service-name label). */
  slicesByService = /* @__PURE__ */ new Map();
  /** How many times a kind's keys were sorted (a performance invariant tests pin). */
  sortCount = 0;
  addListener(listener) {
    this.listeners.push(listener);
  }
  get(kind, namespace, name) {
    return this.objects[kind].get(objectKey(namespace, name));
  }
  /** Objects of a kind (in one namespace, or all), sorted by namespace then name. */
  list(kind, namespace) {
    const map = this.objects[kind];
    const keys = this.sortedKeys(kind);
    const out = [];
    const prefix2 = namespace === void 0 ? void 0 : `${namespace}/`;
    for (const key of keys) {
      if (prefix2 !== void 0 && !key.startsWith(prefix2)) continue;
      const object = map.get(key);
      if (object !== void 0) out.push(object);
    }
    return out;
  }
  count(kind) {
    return this.objects[kind].size;
  }
  /** EndpointSlices of a Service (label kubernetes.io/service-name), sorted by name. */
  endpointSlicesFor(namespace, serviceName) {
    const keys = this.slicesByService.get(objectKey(namespace, serviceName));
    if (keys === void 0) return [];
    const sorted = [...keys].sort(compareKeys);
    const map = this.objects.EndpointSlice;
    const out = [];
    for (const key of sorted) {
      const slice = map.get(key);
      if (slice !== void 0) out.push(slice);
    }
    return out;
  }
  /** The keys of a kind in (namespace, name) order; cached until a key is added or removed. */
  sortedKeys(kind) {
    let keys = this.sortedKeyCache[kind];
    if (keys === null) {
      keys = [...this.objects[kind].keys()].sort(compareKeys);
      this.sortedKeyCache[kind] = keys;
      this.sortCount++;
    }
    return keys;
  }
  /** Index of EndpointSlice keys by "namespace/service-name" label (kept by put and delete). */
  indexSlice(key, namespace, previous, current) {
    const before = previous?.metadata.labels?.[LABEL_SERVICE_NAME];
    const after = current?.metadata.labels?.[LABEL_SERVICE_NAME];
    if (before === after && previous !== void 0 && current !== void 0) return;
    if (before !== void 0 && previous !== void 0) {
      const service = objectKey(namespace, before);
      const set = this.slicesByService.get(service);
      if (set !== void 0) {
        set.delete(key);
        if (set.size === 0) this.slicesByService.delete(service);
      }
    }
    if (after !== void 0 && current !== void 0) {
      const service = objectKey(namespace, after);
      let set = this.slicesByService.get(service);
      if (set === void 0) {
        set = /* @__PURE__ */ new Set();
        this.slicesByService.set(service, set);
      }
      set.add(key);
    }
  }
  /** Creates or replaces the object; returns the stored object (with resourceVersion set). */
  put(kind, object) {
    const namespace = namespaceOf(object, kind);
    const key = objectKey(namespace, object.metadata.name);
    const map = this.objects[kind];
    const previous = map.get(key);
    this.resourceVersion++;
    const stored = { ...object, metadata: { ...object.metadata, resourceVersion: String(this.resourceVersion) } };
    map.set(key, stored);
    if (previous === void 0) this.sortedKeyCache[kind] = null;
    if (kind === "EndpointSlice") this.indexSlice(key, namespace, previous, stored);
    this.notify(kind, namespace, stored, previous);
    return stored;
  }
  delete(kind, namespace, name) {
    const key = objectKey(namespace, name);
    const map = this.objects[kind];
    const previous = map.get(key);
    if (previous === void 0) return false;
    map.delete(key);
    this.sortedKeyCache[kind] = null;
    if (kind === "EndpointSlice") this.indexSlice(key, namespace, previous, void 0);
    this.resourceVersion++;
    this.notify(kind, namespace, void 0, previous);
    return true;
  }
  notify(kind, namespace, current, previous) {
    for (const listener of this.listeners) {
      switch (kind) {
        case "Node":
          if (previous === void 0 && current !== void 0) listener.onNodeAdded?.(current);
          break;
        case "Pod":
          if (current === void 0) listener.onPodDeleted?.(previous);
          else if (previous === void 0) listener.onPodAdded?.(current);
          else listener.onPodUpdated?.(current, previous);
          break;
        case "Service": {
          const name = (current ?? previous)?.metadata.name ?? "";
          listener.onServiceChanged?.(namespace, name, current);
          break;
        }
        case "EndpointSlice": {
          const serviceName = (current ?? previous)?.metadata.labels?.[LABEL_SERVICE_NAME];
          if (serviceName !== void 0) listener.onEndpointSliceChanged?.(namespace, serviceName);
          break;
        }
        case "Endpoints": {
          const name = (current ?? previous)?.metadata.name ?? "";
          listener.onEndpointsChanged?.(namespace, name, current);
          break;
        }
        case "Deployment": {
          const name = (current ?? previous)?.metadata.name ?? "";
          listener.onDeploymentChanged?.(namespace, name, current);
          break;
        }
        case "Namespace":
        case "ReplicaSet":
          break;
      }
    }
  }
};

// src/k8s/endpoints.ts
function isPodReady(pod) {
  return pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}
function isPodTerminating(pod) {
  return pod.metadata.deletionTimestampNs !== void 0;
}
function shouldPodBeInEndpoints(pod, includeTerminating) {
  const phase = pod.status?.phase;
  if (phase === "Succeeded" || phase === "Failed") return false;
  if (pod.status?.podIP === void 0 || pod.status.podIP === "") return false;
  if (!includeTerminating && isPodTerminating(pod)) return false;
  return true;
}
function findPort(pod, servicePort) {
  const target = servicePort.targetPort ?? servicePort.port;
  if (typeof target === "number") return target;
  const protocol = servicePort.protocol ?? "TCP";
  for (const container of pod.spec.containers) {
    for (const port of container.ports ?? []) {
      if (port.name === target && (port.protocol ?? "TCP") === protocol) return port.containerPort;
    }
  }
  return void 0;
}
function podSlicePorts(service, pod) {
  const out = [];
  for (const servicePort of service.spec.ports ?? []) {
    const port = findPort(pod, servicePort);
    if (port === void 0) continue;
    const slicePort = { name: servicePort.name ?? "", port, protocol: servicePort.protocol ?? "TCP" };
    if (servicePort.appProtocol !== void 0) slicePort.appProtocol = servicePort.appProtocol;
    out.push(slicePort);
  }
  return out;
}
function portsKey(ports) {
  return ports.map((p) => `${p.name ?? ""}/${p.port ?? ""}/${p.protocol ?? ""}/${p.appProtocol ?? ""}`).join(",");
}
function podToEndpoint(pod, service, zone) {
  const serving = isPodReady(pod);
  const terminating = isPodTerminating(pod);
  const ready = service.spec.publishNotReadyAddresses === true || serving && !terminating;
  const endpoint = {
    addresses: [pod.status?.podIP ?? ""],
    conditions: { ready, serving, terminating },
    targetRef: targetRefOf(pod)
  };
  if (pod.spec.nodeName !== void 0) endpoint.nodeName = pod.spec.nodeName;
  if (zone !== void 0 && zone !== "") endpoint.zone = zone;
  const hints = trafficDistributionHints(service, ready, endpoint.zone, endpoint.nodeName);
  if (hints !== void 0) endpoint.hints = hints;
  if (pod.spec.hostname !== void 0 && pod.spec.subdomain === service.metadata.name && pod.metadata.namespace === service.metadata.namespace) {
    endpoint.hostname = pod.spec.hostname;
  }
  return endpoint;
}
var ANNOTATION_TOPOLOGY_MODE = "service.kubernetes.io/topology-mode";
var ANNOTATION_TOPOLOGY_AWARE_HINTS = "service.kubernetes.io/topology-aware-hints";
function topologyAnnotationHintsEnabled(annotations) {
  const value = annotations?.[ANNOTATION_TOPOLOGY_AWARE_HINTS] ?? annotations?.[ANNOTATION_TOPOLOGY_MODE];
  return value === "Auto" || value === "auto";
}
function trafficDistributionHints(service, ready, zone, nodeName) {
  const distribution = service.spec.trafficDistribution;
  if (distribution === void 0 || !ready || topologyAnnotationHintsEnabled(service.metadata.annotations))
    return void 0;
  const hints = {};
  if (zone !== void 0 && zone !== "") hints.forZones = [{ name: zone }];
  if (distribution === "PreferSameNode" && nodeName !== void 0 && nodeName !== "")
    hints.forNodes = [{ name: nodeName }];
  return hints.forZones === void 0 && hints.forNodes === void 0 ? void 0 : hints;
}
var TOPOLOGY_OVERLOAD_THRESHOLD = 0.2;
function topologyAllocations(nodeZones, numEndpoints) {
  const nodesByZone = /* @__PURE__ */ new Map();
  for (const zone of nodeZones) {
    if (zone === "") return null;
    nodesByZone.set(zone, (nodesByZone.get(zone) ?? 0) + 1);
  }
  if (nodesByZone.size < 2 || nodesByZone.size > numEndpoints) return null;
  let remainingMinEndpoints = numEndpoints;
  let minTotal = 0;
  const partial = [];
  for (const zone of [...nodesByZone.keys()].sort()) {
    const ratio = (nodesByZone.get(zone) ?? 0) / nodeZones.length;
    const desired = ratio * numEndpoints;
    const minimum = Math.ceil(desired * (1 / (1 + TOPOLOGY_OVERLOAD_THRESHOLD)));
    partial.push([zone, minimum, Math.max(desired, minimum)]);
    minTotal += minimum;
    remainingMinEndpoints -= minimum;
    if (remainingMinEndpoints < 0) return null;
  }
  return new Map(
    partial.map(([zone, minimum, desired]) => [zone, { minimum, maximum: minimum + numEndpoints - minTotal, desired }])
  );
}
function applyTopologyModeHints(service, endpoints, nodeZones) {
  if (!topologyAnnotationHintsEnabled(service.metadata.annotations)) return;
  const removeAll = () => {
    for (const endpoint of endpoints) delete endpoint.hints;
  };
  const isReady = (endpoint) => endpoint.conditions?.ready === true;
  const allocations = topologyAllocations(nodeZones, endpoints.filter(isReady).length);
  if (allocations === null) return removeAll();
  const allocated = /* @__PURE__ */ new Map();
  for (const endpoint of endpoints) {
    if (!isReady(endpoint)) {
      delete endpoint.hints;
      continue;
    }
    if (endpoint.zone === void 0 || endpoint.zone === "") return removeAll();
    allocated.set(endpoint.zone, (allocated.get(endpoint.zone) ?? 0) + 1);
    endpoint.hints = { forZones: [{ name: endpoint.zone }] };
  }
  const givingDesired = /* @__PURE__ */ new Map();
  const receivingDesired = /* @__PURE__ */ new Map();
  for (const [zone, allocation] of allocations) {
    const hints = allocated.get(zone) ?? 0;
    if (hints > allocation.desired) givingDesired.set(zone, hints - allocation.desired);
    else if (hints < allocation.desired) receivingDesired.set(zone, allocation.desired - hints);
  }
  const giving = /* @__PURE__ */ new Map();
  const receiving = /* @__PURE__ */ new Map();
  for (; ; ) {
    const [givingZone, toGive] = most(givingDesired);
    const [receivingZone, toReceive] = most(receivingDesired);
    if (givingZone === "" || receivingZone === "" || toGive < 1 && toReceive < 1 || toGive < 0.5 || toReceive < 0.5)
      break;
    giving.set(givingZone, (giving.get(givingZone) ?? 0) + 1);
    givingDesired.set(givingZone, toGive - 1);
    receiving.set(receivingZone, (receiving.get(receivingZone) ?? 0) + 1);
    receivingDesired.set(receivingZone, toReceive - 1);
  }
  for (const endpoint of endpoints) {
    if (!isReady(endpoint)) continue;
    if (giving.size === 0 || receiving.size === 0) break;
    const zone = endpoint.zone ?? "";
    if ((giving.get(zone) ?? 0) <= 0) continue;
    for (const receivingZone of [...receiving.keys()].sort()) {
      const toReceive = receiving.get(receivingZone) ?? 0;
      if (toReceive <= 0) continue;
      endpoint.hints = { forZones: [{ name: receivingZone }] };
      const left = (giving.get(zone) ?? 0) - 1;
      if (left === 0) giving.delete(zone);
      else giving.set(zone, left);
      if (toReceive === 1) receiving.delete(receivingZone);
      else receiving.set(receivingZone, toReceive - 1);
      break;
    }
  }
}
function most(values) {
  let zone = "";
  let best = 0;
  for (const key of [...values.keys()].sort()) {
    const value = values.get(key) ?? 0;
    if (value > best) {
      zone = key;
      best = value;
    }
  }
  return [zone, best];
}
function targetRefOf(pod) {
  const ref = { kind: "Pod", name: pod.metadata.name };
  ref.namespace = pod.metadata.namespace ?? "default";
  if (pod.metadata.uid !== void 0) ref.uid = pod.metadata.uid;
  return ref;
}
function endpointAddressOf(pod) {
  const address = { ip: pod.status?.podIP ?? "", targetRef: targetRefOf(pod) };
  if (pod.spec.nodeName !== void 0) address.nodeName = pod.spec.nodeName;
  return address;
}
function endpointsSubsets(service, pods) {
  const publishNotReady = service.spec.publishNotReadyAddresses === true;
  const groups = /* @__PURE__ */ new Map();
  for (const pod of pods) {
    if (!shouldPodBeInEndpoints(pod, publishNotReady)) continue;
    const ports = podSlicePorts(service, pod);
    if (ports.length === 0 && (service.spec.ports ?? []).length > 0) continue;
    const key = portsKey(ports);
    let group = groups.get(key);
    if (group === void 0) {
      group = {
        ports: ports.map((p) => {
          const port = { port: p.port ?? 0, protocol: p.protocol ?? "TCP" };
          if (p.name !== void 0 && p.name !== "") port.name = p.name;
          return port;
        }),
        ready: [],
        notReady: []
      };
      groups.set(key, group);
    }
    if (publishNotReady || isPodReady(pod)) group.ready.push(endpointAddressOf(pod));
    else group.notReady.push(endpointAddressOf(pod));
  }
  const byIp = (a, b) => a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0;
  const out = [];
  for (const key of [...groups.keys()].sort()) {
    const group = groups.get(key);
    if (group === void 0) continue;
    const subset = {};
    if (group.ready.length > 0) subset.addresses = group.ready.sort(byIp);
    if (group.notReady.length > 0) subset.notReadyAddresses = group.notReady.sort(byIp);
    if (group.ports.length > 0) subset.ports = group.ports;
    out.push(subset);
  }
  return out;
}
function sameData(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

// src/k8s/labels.ts
function matchesMap(selector, labels) {
  for (const key of Object.keys(selector)) {
    if (labels === void 0 || !Object.hasOwn(labels, key) || labels[key] !== selector[key]) return false;
  }
  return true;
}
function matchesRequirement(requirement, labels) {
  const has = labels !== void 0 && Object.hasOwn(labels, requirement.key);
  const values = requirement.values ?? [];
  switch (requirement.operator) {
    case "In":
      return has && values.includes(labels[requirement.key]);
    case "NotIn":
      return !has || !values.includes(labels[requirement.key]);
    case "Exists":
      return has;
    case "DoesNotExist":
      return !has;
  }
}
function matchesSelector(selector, labels) {
  if (selector === void 0) return false;
  if (selector.matchLabels !== void 0 && !matchesMap(selector.matchLabels, labels)) return false;
  for (const requirement of selector.matchExpressions ?? []) {
    if (!matchesRequirement(requirement, labels)) return false;
  }
  return true;
}
function matchesServiceSelector(selector, labels) {
  if (selector === void 0 || Object.keys(selector).length === 0) return false;
  return matchesMap(selector, labels);
}
function formatLabels(labels) {
  if (labels === void 0) return "";
  return Object.keys(labels).sort().map((key) => `${key}=${labels[key]}`).join(",");
}

// src/k8s/names.ts
var SAFE_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789";
var GENERATED_SUFFIX_LENGTH = 5;
var GENERATED_NAME_BASE_LENGTH_MAX = 63 - GENERATED_SUFFIX_LENGTH;
function safeEncodeString(text) {
  let out = "";
  for (const char of text) out += SAFE_ALPHANUMS[(char.codePointAt(0) ?? 0) % SAFE_ALPHANUMS.length];
  return out;
}
var FNV32_OFFSET = 2166136261;
var FNV32_PRIME = 16777619;
function fnv32a(bytes, hash = FNV32_OFFSET) {
  let h = hash >>> 0;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i];
    h = Math.imul(h, FNV32_PRIME) >>> 0;
  }
  return h >>> 0;
}
function canonicalJson(value) {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(",")}]`;
  const record = value;
  const keys = Object.keys(record).filter((key) => record[key] !== void 0).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`).join(",")}}`;
}
var encoder = new TextEncoder();
function computeHash(template, collisionCount) {
  let hash = fnv32a(encoder.encode(canonicalJson(template)));
  if (collisionCount !== void 0) {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setUint32(0, collisionCount >>> 0, true);
    hash = fnv32a(bytes, hash);
  }
  return safeEncodeString(String(hash));
}
function randomString(rng, length) {
  let out = "";
  for (let i = 0; i < length; i++) out += SAFE_ALPHANUMS[rng.intBelow(SAFE_ALPHANUMS.length)];
  return out;
}
function generateName(base, rng) {
  const trimmed = base.length > GENERATED_NAME_BASE_LENGTH_MAX ? base.slice(0, GENERATED_NAME_BASE_LENGTH_MAX) : base;
  return trimmed + randomString(rng, GENERATED_SUFFIX_LENGTH);
}

// src/sim/rng.ts
var Rng = class _Rng {
  s0;
  s1;
  s2;
  s3;
  constructor(seed0, seed1, seed2, seed3) {
    this.s0 = seed0 | 0;
    this.s1 = seed1 | 0;
    this.s2 = seed2 | 0;
    this.s3 = seed3 | 0;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }
  /**
   * Derives the stream named `name` from the scenario seed. Every state word is a full-avalanche
   * hash (murmur3's fmix32) of (seed, name, word index), so streams of neighbouring seeds or names
   * share no arithmetic structure (replications with seeds s, s+1, ... must be independent).
   */
  static stream(seed, name) {
    assert(Number.isSafeInteger(seed) && seed >= 0, `seed must be a non-negative integer, got ${seed}`);
    const seedLow = seed % 4294967296;
    const seedHigh = (seed - seedLow) / 4294967296;
    const key = fmix32(fmix32(seedLow ^ 1540483477) ^ fmix32(seedHigh + 668265263 | 0) ^ hashName(name, 2166136261));
    const nameMix = hashName(name, 16777619);
    return new _Rng(
      fmix32(key ^ 2246822507),
      fmix32(key + 2654435769 ^ nameMix),
      fmix32(key ^ 3266489909 ^ fmix32(nameMix)),
      fmix32(key + 1013904242 ^ 668265263)
    );
  }
  /** Next 32 random bits as an unsigned integer in [0, 2^32). */
  uint32() {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9);
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result >>> 0;
  }
  /** Uniform integer in [0, n), without modulo bias (Lemire's method with rejection). */
  intBelow(n) {
    assert(Number.isInteger(n) && n > 0 && n <= 4294967296, `intBelow(${n})`);
    if (n === 4294967296) return this.uint32();
    const threshold = (4294967296 - n) % n;
    for (; ; ) {
      const x = this.uint32();
      if (x >= threshold) return x % n;
    }
  }
  /** True with probability numerator/denominator (integers), no floating point. */
  chance(numerator, denominator) {
    return this.intBelow(denominator) < numerator;
  }
  /** Uniform double in [0, 1) with 53 random bits. For samplers outside the packet path. */
  unit() {
    const high = this.uint32() >>> 5;
    const low = this.uint32() >>> 6;
    return (high * 67108864 + low) / 9007199254740992;
  }
  /**
   * Exponential variate with the given mean, rounded to integer nanoseconds.
   * Uses Math.log, which V8 implements with a port of fdlibm's ieee754 log (identical results on
   * every platform a given V8 runs on); MODEL.md records this determinism caveat.
   */
  exponentialNs(meanNs) {
    const u = this.unit();
    return Math.round(-meanNs * Math.log(1 - u));
  }
  /** Copies the state, for tests. */
  snapshot() {
    return [this.s0, this.s1, this.s2, this.s3];
  }
};
function fmix32(h) {
  h ^= h >>> 16;
  h = Math.imul(h, 2246822507);
  h ^= h >>> 13;
  h = Math.imul(h, 3266489909);
  h ^= h >>> 16;
  return h | 0;
}
function rotl(x, k) {
  return x << k | x >>> 32 - k;
}
function hashName(name, basis) {
  let h = basis | 0;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h;
}

// src/k8s/controllers/context.ts
var TIMING_DEFAULTS = {
  controllerSyncNs: 100 * NS_PER_MS,
  schedulerBindNs: 10 * NS_PER_MS,
  podStartupNs: 1 * NS_PER_S,
  endpointsSyncNs: 100 * NS_PER_MS,
  exitAfterSigtermNs: 0,
  podRemovalAfterExitNs: 1 * NS_PER_S
};
var PodLimitExceeded = class extends Error {
  constructor(podsMax, atNs) {
    super(`the cluster would exceed limits.pods (${podsMax} pod objects)`);
    this.podsMax = podsMax;
    this.atNs = atNs;
  }
  podsMax;
  atNs;
  name = "PodLimitExceeded";
};
var KeyIds = class {
  ids = /* @__PURE__ */ new Map();
  keys = [];
  id(key) {
    let id = this.ids.get(key);
    if (id === void 0) {
      id = this.keys.length;
      this.ids.set(key, id);
      this.keys.push(key);
    }
    return id;
  }
};
function splitKey(key) {
  const slash = key.indexOf("/");
  return [key.slice(0, slash), key.slice(slash + 1)];
}
var ControllerContext = class {
  constructor(scheduler, config, watch) {
    this.scheduler = scheduler;
    this.config = config;
    this.watch = watch;
    this.timing = { ...TIMING_DEFAULTS, ...config.timing };
  }
  scheduler;
  config;
  watch;
  store = new ApiStore();
  timing;
  nodeInfos = [];
  /** Pod address pools: host-local per node (bridge CNI), or the VPC subnet shared with nodes. */
  podAllocators = /* @__PURE__ */ new Map();
  vpcAllocator;
  pods = [];
  podIdByKey = /* @__PURE__ */ new Map();
  rngs = /* @__PURE__ */ new Map();
  get nowNs() {
    return this.scheduler.nowNs;
  }
  node(name) {
    return this.nodeInfos.find((n) => n.name === name);
  }
  rng(name) {
    let rng = this.rngs.get(name);
    if (rng === void 0) {
      rng = Rng.stream(this.config.seed, name);
      this.rngs.set(name, rng);
    }
    return rng;
  }
  /** A UUID-looking uid from the "k8s/uids" stream (the API server uses random v4 UUIDs). */
  newUid() {
    const rng = this.rng("k8s/uids");
    const hex = (n, digits) => n.toString(16).padStart(8, "0").slice(8 - digits);
    const a = rng.uint32();
    const b = rng.uint32();
    const c = rng.uint32();
    const d = rng.uint32();
    return `${hex(a, 8)}-${hex(b >>> 16, 4)}-4${hex(b & 4095, 3)}-${hex(32768 | c >>> 18, 4)}-${hex(c & 65535, 4)}${hex(d, 8)}`;
  }
  podOf(record) {
    return record.removed ? void 0 : this.store.get("Pod", record.namespace, record.name);
  }
  updatePod(record, change) {
    const pod = this.podOf(record);
    if (pod === void 0) return void 0;
    const next = this.store.put("Pod", change(pod));
    this.watch.podUpdated(next);
    return next;
  }
  /** The API server's pod create: uid, creation time, phase Pending. */
  createPod(pod) {
    const podsMax = this.config.podsMax;
    if (podsMax !== void 0 && this.store.count("Pod") >= podsMax) throw new PodLimitExceeded(podsMax, this.nowNs);
    const namespace = pod.metadata.namespace ?? "default";
    const record = {
      id: this.pods.length,
      namespace,
      name: pod.metadata.name,
      running: false,
      ready: false,
      readyAtNs: 0,
      ip: void 0,
      ipNode: void 0,
      removed: false
    };
    this.pods.push(record);
    this.podIdByKey.set(objectKey(namespace, pod.metadata.name), record.id);
    const stored = this.store.put("Pod", {
      ...pod,
      metadata: { ...pod.metadata, namespace, uid: this.newUid(), creationTimestampNs: this.nowNs },
      status: { phase: "Pending" }
    });
    this.watch.podCreated(record, stored);
  }
  /** kube-scheduler wrote spec.nodeName: announced so that the node's kubelet takes the pod. */
  podBound(record) {
    this.watch.podBound(record);
  }
  /** The kubelet wrote phase Failed: announced so that kube-scheduler frees the pod's slot. */
  podFailed(record, nodeName) {
    this.watch.podFailed(record, nodeName);
  }
  /** The pod object leaves the API (its record stays, marked removed, so stale events are inert). */
  deletePod(record, pod) {
    this.podIdByKey.delete(objectKey(record.namespace, record.name));
    this.store.delete("Pod", record.namespace, record.name);
    this.watch.podDeleted(record, pod);
  }
};

// src/k8s/controllers/endpointslice.ts
var MANAGED_BY_ENDPOINTSLICE = "endpointslice-controller.k8s.io";
var MANAGED_BY_MIRRORING = "endpointslicemirroring-controller.k8s.io";
var LABEL_SKIP_MIRROR = "endpointslice.kubernetes.io/skip-mirror";
var LABEL_HEADLESS = "service.kubernetes.io/headless";
var MAX_ENDPOINTS_PER_SLICE = 100;
var MIRRORING_MAX_ENDPOINTS_PER_SUBSET = 1e3;
var EndpointSliceController = class {
  constructor(ctx) {
    this.ctx = ctx;
    this.kindEndpointsSync = ctx.scheduler.registerKind("k8s/endpoints-sync", this);
  }
  ctx;
  kindEndpointsSync;
  serviceIds = new KeyIds();
  pendingEndpoints = /* @__PURE__ */ new Set();
  handleEvent(kind, a) {
    assert(kind === this.kindEndpointsSync, `k8s/endpoints: unknown event kind ${kind}`);
    this.pendingEndpoints.delete(a);
    this.syncEndpoints(this.serviceIds.keys[a]);
  }
  enqueueEndpoints(key) {
    const id = this.serviceIds.id(key);
    if (this.pendingEndpoints.has(id)) return;
    this.pendingEndpoints.add(id);
    this.ctx.scheduler.scheduleIn(this.ctx.timing.endpointsSyncNs, this.kindEndpointsSync, id, 0);
  }
  /** Services whose selector matches the pod: their endpoints must be recomputed. */
  enqueueServicesFor(pod) {
    const namespace = pod.metadata.namespace ?? "default";
    for (const service of this.ctx.store.list("Service", namespace)) {
      if (matchesServiceSelector(service.spec.selector, pod.metadata.labels))
        this.enqueueEndpoints(objectKey(namespace, service.metadata.name));
    }
  }
  syncEndpoints(key) {
    const [namespace, name] = splitKey(key);
    const service = this.ctx.store.get("Service", namespace, name);
    if (namespace === "default" && name === "kubernetes") return;
    const selector = service?.spec.selector;
    const hasSelector = selector !== void 0 && Object.keys(selector).length > 0;
    if (service === void 0 || service.spec.type === "ExternalName" || !hasSelector) {
      this.reconcileSlices(
        namespace,
        name,
        MANAGED_BY_ENDPOINTSLICE,
        /* @__PURE__ */ new Map(),
        MAX_ENDPOINTS_PER_SLICE,
        void 0,
        false
      );
      this.syncMirroring(namespace, name, service);
      if (service === void 0 && hasSelector === false) {
        const endpoints = this.ctx.store.get("Endpoints", namespace, name);
        if (endpoints !== void 0 && endpoints.metadata.ownerReferences?.some((o) => o.kind === "Service"))
          this.ctx.store.delete("Endpoints", namespace, name);
      }
      return;
    }
    this.reconcileSlices(
      namespace,
      name,
      MANAGED_BY_MIRRORING,
      /* @__PURE__ */ new Map(),
      MIRRORING_MAX_ENDPOINTS_PER_SUBSET,
      void 0,
      false
    );
    const pods = this.ctx.store.list("Pod", namespace).filter((pod) => matchesServiceSelector(selector, pod.metadata.labels));
    const groups = /* @__PURE__ */ new Map();
    for (const pod of pods) {
      if (!shouldPodBeInEndpoints(pod, true)) continue;
      const ports = podSlicePorts(service, pod);
      const groupKey = portsKey(ports);
      let group = groups.get(groupKey);
      if (group === void 0) {
        group = { ports, endpoints: [] };
        groups.set(groupKey, group);
      }
      const zone = pod.spec.nodeName === void 0 ? void 0 : this.ctx.node(pod.spec.nodeName)?.zone;
      group.endpoints.push(podToEndpoint(pod, service, zone));
    }
    if (topologyAnnotationHintsEnabled(service.metadata.annotations))
      applyTopologyModeHints(
        service,
        [...groups.values()].flatMap((g) => g.endpoints),
        this.ctx.nodeInfos.map((n) => n.zone)
      );
    this.reconcileSlices(namespace, name, MANAGED_BY_ENDPOINTSLICE, groups, MAX_ENDPOINTS_PER_SLICE, service, true);
    const subsets = endpointsSubsets(service, pods);
    const existing = this.ctx.store.get("Endpoints", namespace, name);
    const labels = { ...service.metadata.labels };
    if (service.spec.clusterIP === "None") labels[LABEL_HEADLESS] = "";
    if (existing === void 0 || !sameData(existing.subsets ?? [], subsets) || !sameData(existing.metadata.labels ?? {}, labels)) {
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
            { apiVersion: "v1", kind: "Service", name, uid: service.metadata.uid ?? "", controller: true }
          ]
        },
        subsets
      });
    }
  }
  /**
   * EndpointSlice mirroring (pkg/controller/endpointslicemirroring): a Service without selector
   * and a hand-written Endpoints (without the skip-mirror label) get slices managed by
   * endpointslicemirroring-controller.k8s.io, one group per subset; addresses -> ready=true,
   * notReadyAddresses -> ready=false (serving/terminating left unset, as upstream).
   */
  syncMirroring(namespace, name, service) {
    const endpoints = this.ctx.store.get("Endpoints", namespace, name);
    const groups = /* @__PURE__ */ new Map();
    const mirror = service !== void 0 && service.spec.type !== "ExternalName" && endpoints !== void 0 && endpoints.metadata.labels?.[LABEL_SKIP_MIRROR] !== "true" && !endpoints.metadata.ownerReferences?.some((o) => o.kind === "Service");
    if (mirror) {
      for (const subset of endpoints.subsets ?? []) {
        const ports = (subset.ports ?? []).map((p) => ({
          name: p.name ?? "",
          port: p.port,
          protocol: p.protocol ?? "TCP"
        }));
        const groupKey = portsKey(ports);
        let group = groups.get(groupKey);
        if (group === void 0) {
          group = { ports, endpoints: [] };
          groups.set(groupKey, group);
        }
        for (const [list, ready] of [
          [subset.addresses ?? [], true],
          [subset.notReadyAddresses ?? [], false]
        ]) {
          for (const address of list) {
            const endpoint = { addresses: [address.ip], conditions: { ready } };
            if (address.hostname !== void 0) endpoint.hostname = address.hostname;
            if (address.nodeName !== void 0) endpoint.nodeName = address.nodeName;
            if (address.targetRef !== void 0) endpoint.targetRef = address.targetRef;
            group.endpoints.push(endpoint);
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
      mirror ? service : void 0,
      false
    );
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
  reconcileSlices(namespace, serviceName, managedBy, groups, maxPerSlice, service, placeholder) {
    const existing = this.ctx.store.endpointSlicesFor(namespace, serviceName).filter((s) => s.metadata.labels?.[LABEL_MANAGED_BY] === managedBy);
    if (service === void 0) {
      for (const slice of existing) this.ctx.store.delete("EndpointSlice", namespace, slice.metadata.name);
      return;
    }
    const labels = {};
    const source = managedBy === MANAGED_BY_MIRRORING ? this.ctx.store.get("Endpoints", namespace, serviceName)?.metadata.labels : service.metadata.labels;
    for (const [key, value] of Object.entries(source ?? {}))
      if (key !== LABEL_SERVICE_NAME && key !== LABEL_MANAGED_BY) labels[key] = value;
    if (service.spec.clusterIP === "None") labels[LABEL_HEADLESS] = "";
    labels[LABEL_SERVICE_NAME] = serviceName;
    labels[LABEL_MANAGED_BY] = managedBy;
    if (placeholder && groups.size === 0) groups.set("", { ports: [], endpoints: [] });
    const desiredByKey = /* @__PURE__ */ new Map();
    for (const [groupKey, group] of groups)
      for (const endpoint of group.endpoints) desiredByKey.set(endpointIdentity(endpoint), { endpoint, groupKey });
    const placed = /* @__PURE__ */ new Set();
    const plans = [];
    for (const slice of existing) {
      const groupKey = portsKey(slice.ports ?? []);
      if (!groups.has(groupKey)) {
        plans.push({ slice, groupKey, endpoints: [] });
        continue;
      }
      const kept = [];
      for (const endpoint of slice.endpoints) {
        const identity = endpointIdentity(endpoint);
        const desired = desiredByKey.get(identity);
        if (desired !== void 0 && desired.groupKey === groupKey && !placed.has(identity)) {
          kept.push(desired.endpoint);
          placed.add(identity);
        }
      }
      plans.push({ slice, groupKey, endpoints: kept });
    }
    for (const [groupKey, group] of groups) {
      const fresh = group.endpoints.filter((e) => !placed.has(endpointIdentity(e)));
      let cursor = 0;
      for (const plan of plans) {
        if (plan.groupKey !== groupKey) continue;
        while (cursor < fresh.length && plan.endpoints.length < maxPerSlice) plan.endpoints.push(fresh[cursor++]);
      }
      while (cursor < fresh.length) {
        const chunk = fresh.slice(cursor, cursor + maxPerSlice);
        cursor += chunk.length;
        plans.push({ slice: void 0, groupKey, endpoints: chunk });
      }
      if (group.endpoints.length === 0 && !plans.some((p) => p.groupKey === groupKey))
        plans.push({ slice: void 0, groupKey, endpoints: [] });
    }
    const rngName = managedBy === MANAGED_BY_MIRRORING ? "endpointslicemirroring" : "endpointslice";
    for (const plan of plans) {
      const group = groups.get(plan.groupKey);
      const keepEmpty = placeholder && plan.groupKey === "" && group !== void 0 && group.endpoints.length === 0;
      if (plan.endpoints.length === 0 && !keepEmpty) {
        if (plan.slice !== void 0) this.ctx.store.delete("EndpointSlice", namespace, plan.slice.metadata.name);
        continue;
      }
      const ports = (group?.ports ?? []).map((p) => ({ ...p }));
      if (plan.slice !== void 0) {
        if (sameData(plan.slice.endpoints, plan.endpoints) && sameData(plan.slice.ports ?? [], ports) && sameData(plan.slice.metadata.labels ?? {}, labels))
          continue;
        this.ctx.store.put("EndpointSlice", {
          ...plan.slice,
          metadata: { ...plan.slice.metadata, labels },
          endpoints: plan.endpoints,
          ports
        });
        continue;
      }
      const rng = this.ctx.rng(`k8s/${rngName}/${namespace}/${serviceName}/names`);
      let sliceName = generateName(`${serviceName}-`, rng);
      while (this.ctx.store.get("EndpointSlice", namespace, sliceName) !== void 0)
        sliceName = generateName(`${serviceName}-`, rng);
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
              controller: true
            }
          ]
        },
        addressType: "IPv4",
        endpoints: plan.endpoints,
        ports
      });
    }
  }
};
function endpointIdentity(endpoint) {
  const ref = endpoint.targetRef;
  return ref !== void 0 ? `${ref.kind}/${ref.namespace ?? ""}/${ref.name}` : `ip/${endpoint.addresses[0] ?? ""}`;
}

// src/k8s/controllers/admission.ts
var API_SERVER_PORT = 6443;
var ApiServer = class {
  constructor(ctx, watchers) {
    this.ctx = ctx;
    this.kubelet = watchers.kubelet;
    this.replicaSets = watchers.replicaSets;
    this.deployments = watchers.deployments;
    this.endpoints = watchers.endpoints;
    const config = ctx.config;
    this.serviceIps = new ServiceIpAllocator(cidr(config.serviceCIDR), ctx.rng("k8s/ipallocator/services"));
    const portRange = config.serviceNodePortRange === void 0 ? void 0 : parsePortRange(config.serviceNodePortRange);
    assert(
      config.serviceNodePortRange === void 0 || portRange !== void 0,
      `bad --service-node-port-range ${config.serviceNodePortRange}`
    );
    this.nodePorts = portRange === void 0 ? new NodePortAllocator(ctx.rng("k8s/portallocator/nodeports")) : new NodePortAllocator(ctx.rng("k8s/portallocator/nodeports"), portRange.base, portRange.size);
    this.loadBalancerPool = new LoadBalancerPool(config.loadBalancerPool);
    const nodeNet = cidr(config.nodeCIDR);
    const nodeBroadcast = nodeNet.address + 2 ** (32 - nodeNet.prefixLength) - 1 >>> 0;
    const nodeIps = config.cni === "aws-vpc" ? new RangeAllocator({ rangeStart: nodeNet.address + 4, rangeEnd: nodeBroadcast - 1 }) : RangeAllocator.hostLocal(nodeNet);
    ctx.vpcAllocator = config.cni === "aws-vpc" ? nodeIps : void 0;
    this.bootstrapNodes(nodeIps);
    for (const name of ["default", "kube-node-lease", "kube-public", "kube-system"]) this.ensureNamespace(name);
    if (config.systemServices !== false) this.bootstrapSystemServices();
  }
  ctx;
  /** Problems found while building the cluster (node IP clashes...). */
  bootstrapIssues = [];
  kubelet;
  replicaSets;
  deployments;
  endpoints;
  serviceIps;
  nodePorts;
  loadBalancerPool;
  /** Applies manifests (kubectl apply). Rejected objects are not stored; their issues are returned. */
  apply(objects) {
    const issues = [];
    const order = ["Namespace", "Service", "Endpoints", "EndpointSlice", "Deployment", "ReplicaSet", "Pod"];
    const sorted = [...objects].sort((a, b) => order.indexOf(a.object.kind) - order.indexOf(b.object.kind));
    for (const input of sorted) this.applyOne(input.object, input.locate, issues);
    return issues;
  }
  /** Timeline `scale`: target "deployment/NAME", "replicaset/NAME" or a bare deployment name. */
  scale(namespace, target, replicas) {
    assert(Number.isInteger(replicas) && replicas >= 0, `replicas ${replicas}`);
    const [kind, name] = parseTarget(target, "deployment");
    if (kind === "deployment") {
      const deployment = this.ctx.store.get("Deployment", namespace, name);
      if (deployment === void 0) return [notFound("deployments.apps", name)];
      this.ctx.store.put("Deployment", { ...deployment, spec: { ...deployment.spec, replicas } });
      this.deployments.enqueueDeployment(objectKey(namespace, name));
      return [];
    }
    if (kind === "replicaset") {
      const replicaSet = this.ctx.store.get("ReplicaSet", namespace, name);
      if (replicaSet === void 0) return [notFound("replicasets.apps", name)];
      this.ctx.store.put("ReplicaSet", { ...replicaSet, spec: { ...replicaSet.spec, replicas } });
      this.replicaSets.enqueueReplicaSet(objectKey(namespace, name));
      return [];
    }
    return [{ severity: "error", path: [], message: `cannot scale ${target}: only deployments and replicasets scale` }];
  }
  /** Timeline `delete`: "pod/NAME", "deployment/NAME", "replicaset/NAME", "service/NAME", "endpoints/NAME". */
  delete(namespace, target) {
    const [kind, name] = parseTarget(target, "pod");
    switch (kind) {
      case "pod": {
        const id = this.ctx.podIdByKey.get(objectKey(namespace, name));
        if (id === void 0 || this.ctx.pods[id].removed) return [notFound("pods", name)];
        this.kubelet.beginPodDeletion(this.ctx.pods[id]);
        return [];
      }
      case "deployment": {
        const deployment = this.ctx.store.get("Deployment", namespace, name);
        if (deployment === void 0) return [notFound("deployments.apps", name)];
        this.ctx.store.delete("Deployment", namespace, name);
        for (const replicaSet of this.replicaSets.ownedReplicaSets(deployment))
          this.replicaSets.deleteReplicaSet(replicaSet);
        return [];
      }
      case "replicaset": {
        const replicaSet = this.ctx.store.get("ReplicaSet", namespace, name);
        if (replicaSet === void 0) return [notFound("replicasets.apps", name)];
        this.replicaSets.deleteReplicaSet(replicaSet);
        return [];
      }
      case "service": {
        const service = this.ctx.store.get("Service", namespace, name);
        if (service === void 0) return [notFound("services", name)];
        this.releaseServiceAllocations(service);
        this.ctx.store.delete("Service", namespace, name);
        this.endpoints.enqueueEndpoints(objectKey(namespace, name));
        return [];
      }
      case "endpoints": {
        if (!this.ctx.store.delete("Endpoints", namespace, name)) return [notFound("endpoints", name)];
        this.endpoints.enqueueEndpoints(objectKey(namespace, name));
        return [];
      }
      default:
        return [{ severity: "error", path: [], message: `cannot delete ${target}: unsupported kind` }];
    }
  }
  bootstrapNodes(nodeIps) {
    const { nodes } = this.ctx.config;
    const explicit = [];
    nodes.forEach((node, index) => {
      if (node.ip === void 0) return void explicit.push(void 0);
      const ip = parseIpv4(node.ip);
      if (ip === void 0) {
        this.bootstrapIssues.push({
          severity: "error",
          path: ["cluster", "nodes", index, "ip"],
          message: `node ${node.name}: invalid IP ${node.ip}`
        });
        return void explicit.push(void 0);
      }
      if (nodeIps.isReserved(ip)) {
        this.bootstrapIssues.push({
          severity: "error",
          path: ["cluster", "nodes", index, "ip"],
          message: `node ${node.name}: IP ${node.ip} is already used by another node`
        });
      } else if (!nodeIps.reserve(ip) && this.ctx.config.cni === "aws-vpc") {
        this.bootstrapIssues.push({
          severity: "warning",
          path: ["cluster", "nodes", index, "ip"],
          message: `node ${node.name}: IP ${node.ip} is outside the VPC subnet ${this.ctx.config.nodeCIDR}`
        });
      }
      explicit.push(ip);
    });
    const podCidrs = this.ctx.config.cni === "bridge" ? new NodeCidrAllocator(cidr(this.ctx.config.podCIDR), this.ctx.config.nodeCidrMaskSize) : void 0;
    nodes.forEach((spec, index) => {
      let ip = explicit[index];
      if (ip === void 0) ip = nodeIps.allocate();
      assert(ip !== void 0, `node CIDR ${this.ctx.config.nodeCIDR} has no address left for node ${spec.name}`);
      let podCIDR;
      if (podCidrs !== void 0) {
        const block = podCidrs.allocateNext();
        assert(
          block !== void 0,
          `pod CIDR ${this.ctx.config.podCIDR} has no /${podCidrs.maskSize} left for node ${spec.name}`
        );
        podCIDR = formatCidr(block);
        this.ctx.podAllocators.set(spec.name, RangeAllocator.hostLocal(block));
      }
      const maxPods = resolveMaxPods(this.ctx.config.cni, spec, this.ctx.config.maxPods);
      const info = { name: spec.name, zone: spec.zone, ip: formatIpv4(ip), podCIDR, maxPods };
      this.ctx.nodeInfos.push(info);
      const labels = {
        "kubernetes.io/arch": "amd64",
        [LABEL_HOSTNAME]: spec.name,
        "kubernetes.io/os": "linux",
        [LABEL_TOPOLOGY_ZONE]: spec.zone,
        ...spec.labels
      };
      const node = {
        apiVersion: "v1",
        kind: "Node",
        metadata: { name: spec.name, labels, uid: this.ctx.newUid(), creationTimestampNs: this.ctx.nowNs },
        spec: podCIDR === void 0 ? {} : { podCIDR, podCIDRs: [podCIDR] },
        status: {
          addresses: [
            { type: "InternalIP", address: info.ip },
            { type: "Hostname", address: spec.name }
          ],
          capacity: { pods: String(maxPods) },
          allocatable: { pods: String(maxPods) }
        }
      };
      this.ctx.store.put("Node", node);
    });
  }
  ensureNamespace(name) {
    if (this.ctx.store.get("Namespace", "", name) !== void 0) return;
    this.ctx.store.put("Namespace", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name, uid: this.ctx.newUid(), creationTimestampNs: this.ctx.nowNs }
    });
  }
  /**
   * `default/kubernetes` gets the first service address (the apiserver's kubernetes-service
   * reconciler), `kube-system/kube-dns` the tenth (kubeadm sets clusterIP = 10th address of the
   * service CIDR, hence 10.96.0.10). kube-dns pods are not created here (the DNS layer adds them);
   * until then its Endpoints and placeholder slice are empty. The `kubernetes` endpoints point at
   * apiServerAddress (default first node IP):6443 like a kubeadm control-plane node; nothing
   * answers there unless the runtime models an API server.
   */
  bootstrapSystemServices() {
    const first = this.serviceIps.nth(0);
    const issues = [];
    this.applyService(
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: {
          name: "kubernetes",
          namespace: "default",
          labels: { component: "apiserver", provider: "kubernetes" }
        },
        spec: {
          type: "ClusterIP",
          clusterIP: formatIpv4(first),
          ports: [{ name: "https", port: 443, protocol: "TCP", targetPort: API_SERVER_PORT }]
        }
      },
      void 0,
      issues
    );
    const apiServerIp = this.ctx.config.apiServerAddress ?? this.ctx.nodeInfos[0]?.ip;
    if (apiServerIp !== void 0) {
      const port = { name: "https", port: API_SERVER_PORT, protocol: "TCP" };
      this.ctx.store.put("Endpoints", {
        apiVersion: "v1",
        kind: "Endpoints",
        metadata: {
          name: "kubernetes",
          namespace: "default",
          labels: { [LABEL_SKIP_MIRROR]: "true" },
          creationTimestampNs: this.ctx.nowNs
        },
        subsets: [{ addresses: [{ ip: apiServerIp }], ports: [port] }]
      });
      this.ctx.store.put("EndpointSlice", {
        apiVersion: "discovery.k8s.io/v1",
        kind: "EndpointSlice",
        metadata: {
          name: "kubernetes",
          namespace: "default",
          labels: { [LABEL_SERVICE_NAME]: "kubernetes" },
          creationTimestampNs: this.ctx.nowNs
        },
        addressType: "IPv4",
        endpoints: [{ addresses: [apiServerIp], conditions: { ready: true } }],
        ports: [port]
      });
    }
    if (this.serviceIps.cidr.prefixLength <= 28) {
      this.applyService(
        {
          apiVersion: "v1",
          kind: "Service",
          metadata: {
            name: "kube-dns",
            namespace: "kube-system",
            labels: { "k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS" }
          },
          spec: {
            type: "ClusterIP",
            clusterIP: formatIpv4(this.serviceIps.nth(9)),
            selector: { "k8s-app": "kube-dns" },
            ports: [
              { name: "dns", port: 53, protocol: "UDP", targetPort: 53 },
              { name: "dns-tcp", port: 53, protocol: "TCP", targetPort: 53 },
              { name: "metrics", port: 9153, protocol: "TCP", targetPort: 9153 }
            ]
          }
        },
        void 0,
        issues
      );
    }
    this.bootstrapIssues.push(...issues);
  }
  applyOne(object, locate, issues) {
    if (object.kind === "Namespace") {
      this.ensureNamespace(object.metadata.name);
      return;
    }
    const namespace = object.metadata.namespace ?? "default";
    if (this.ctx.store.get("Namespace", "", namespace) === void 0) {
      issues.push(
        issueAt("warning", ["metadata", "namespace"], `namespace "${namespace}" did not exist; created it`, locate)
      );
      this.ensureNamespace(namespace);
    }
    const metadata = { ...object.metadata, namespace };
    switch (object.kind) {
      case "Service":
        this.applyService({ ...object, metadata }, locate, issues);
        return;
      case "Endpoints":
        this.ctx.store.put("Endpoints", { ...object, metadata: this.stamp(metadata, "Endpoints") });
        this.endpoints.enqueueEndpoints(objectKey(namespace, metadata.name));
        return;
      case "EndpointSlice":
        this.ctx.store.put("EndpointSlice", { ...object, metadata: this.stamp(metadata, "EndpointSlice") });
        return;
      case "Deployment":
        this.ctx.store.put("Deployment", { ...object, metadata: this.stamp(metadata, "Deployment") });
        this.deployments.enqueueDeployment(objectKey(namespace, metadata.name));
        return;
      case "ReplicaSet":
        this.ctx.store.put("ReplicaSet", { ...object, metadata: this.stamp(metadata, "ReplicaSet") });
        this.replicaSets.enqueueReplicaSet(objectKey(namespace, metadata.name));
        return;
      case "Pod":
        if (this.ctx.store.get("Pod", namespace, metadata.name) !== void 0) {
          issues.push(
            issueAt(
              "warning",
              ["metadata", "name"],
              `pod "${metadata.name}" already exists; pod updates are not modelled`,
              locate
            )
          );
          return;
        }
        this.ctx.createPod({ ...object, metadata });
        return;
    }
  }
  /** Keeps uid and creation time of an existing object; assigns them to a new one. */
  stamp(metadata, kind) {
    const existing = this.ctx.store.get(kind, metadata.namespace ?? "default", metadata.name);
    return {
      ...metadata,
      uid: existing?.metadata.uid ?? this.ctx.newUid(),
      creationTimestampNs: existing?.metadata.creationTimestampNs ?? this.ctx.nowNs
    };
  }
  /**
   * Service admission: defaults (type ClusterIP, protocol TCP, targetPort = port, sessionAffinity
   * None, externalTrafficPolicy Cluster for NodePort/LoadBalancer, internalTrafficPolicy Cluster),
   * ClusterIP, NodePorts, healthCheckNodePort (type LoadBalancer with ETP Local only, as upstream
   * NeedsHealthCheck), LoadBalancer ingress from the pool. Error messages follow the API server's.
   */
  applyService(input, locate, issues) {
    const namespace = input.metadata.namespace ?? "default";
    const name = input.metadata.name;
    const previous = this.ctx.store.get("Service", namespace, name);
    const spec = { ...input.spec };
    const type = spec.type ?? "ClusterIP";
    spec.type = type;
    const errorsBefore = issues.filter((i) => i.severity === "error").length;
    const taken = { nodePorts: [] };
    if (type === "ExternalName") {
      delete spec.clusterIP;
    } else if (spec.clusterIP === "None") {
      spec.clusterIPs = ["None"];
    } else if (previous !== void 0 && previous.spec.clusterIP !== void 0 && previous.spec.clusterIP !== "None") {
      if (spec.clusterIP !== void 0 && spec.clusterIP !== "" && spec.clusterIP !== previous.spec.clusterIP) {
        issues.push(
          issueAt(
            "error",
            ["spec", "clusterIP"],
            `Service "${name}" is invalid: spec.clusterIP: Invalid value: "${spec.clusterIP}": field is immutable`,
            locate
          )
        );
      }
      spec.clusterIP = previous.spec.clusterIP;
      spec.clusterIPs = [previous.spec.clusterIP];
    } else if (spec.clusterIP !== void 0 && spec.clusterIP !== "") {
      const ip = parseIpv4(spec.clusterIP);
      const result = ip === void 0 ? "out-of-range" : this.serviceIps.allocate(ip);
      if (result === "ok" && ip !== void 0) {
        taken.ip = ip;
        spec.clusterIPs = [spec.clusterIP];
      } else {
        const why = result === "allocated" ? "provided IP is already allocated" : `provided IP is not in the valid range. The range of valid IPs is ${this.ctx.config.serviceCIDR}`;
        issues.push(
          issueAt(
            "error",
            ["spec", "clusterIP"],
            `Service "${name}" is invalid: spec.clusterIP: Invalid value: "${spec.clusterIP}": ${why}`,
            locate
          )
        );
      }
    } else {
      const ip = this.serviceIps.allocateNext();
      if (ip === void 0) {
        issues.push(
          issueAt(
            "error",
            ["spec", "clusterIP"],
            `Service "${name}": failed to allocate a serviceIP: range is full`,
            locate
          )
        );
      } else {
        taken.ip = ip;
        spec.clusterIP = formatIpv4(ip);
        spec.clusterIPs = [spec.clusterIP];
      }
    }
    const wantsNodePorts = type === "NodePort" || type === "LoadBalancer";
    const allocateNodePorts = type === "NodePort" || type === "LoadBalancer" && spec.allocateLoadBalancerNodePorts !== false;
    const ports = [];
    const previousPorts = previous?.spec.ports ?? [];
    const ownPorts = /* @__PURE__ */ new Map();
    (spec.ports ?? []).forEach((inputPort, index) => {
      const port = {
        ...inputPort,
        protocol: inputPort.protocol ?? "TCP",
        targetPort: inputPort.targetPort ?? inputPort.port
      };
      if (wantsNodePorts) {
        const path = ["spec", "ports", index, "nodePort"];
        const reused = previousPorts.find(
          (p) => p.port === port.port && (p.protocol ?? "TCP") === port.protocol
        )?.nodePort;
        if (port.nodePort !== void 0) {
          if (reused === port.nodePort || ownPorts.get(port.nodePort) !== void 0 && ownPorts.get(port.nodePort) !== port.protocol) {
          } else {
            const result = this.nodePorts.allocate(port.nodePort);
            if (result === "ok") taken.nodePorts.push(port.nodePort);
            else {
              const why = result === "allocated" ? "provided port is already allocated" : `provided port is not in the valid range. The range of valid ports is ${this.nodePorts.rangeText}`;
              issues.push(
                issueAt(
                  "error",
                  path,
                  `Service "${name}" is invalid: spec.ports[${index}].nodePort: Invalid value: ${port.nodePort}: ${why}`,
                  locate
                )
              );
            }
          }
        } else if (reused !== void 0) {
          port.nodePort = reused;
        } else if (allocateNodePorts) {
          const allocated = this.nodePorts.allocateNext();
          if (allocated === void 0)
            issues.push(
              issueAt("error", path, `Service "${name}": failed to allocate a nodePort: range is full`, locate)
            );
          else {
            port.nodePort = allocated;
            taken.nodePorts.push(allocated);
          }
        }
        if (port.nodePort !== void 0) ownPorts.set(port.nodePort, port.protocol ?? "TCP");
      } else {
        delete port.nodePort;
      }
      ports.push(port);
    });
    spec.ports = ports;
    if (type !== "ExternalName") {
      spec.sessionAffinity = spec.sessionAffinity ?? "None";
      spec.internalTrafficPolicy = spec.internalTrafficPolicy ?? "Cluster";
      spec.ipFamilies = spec.ipFamilies ?? ["IPv4"];
    }
    if (wantsNodePorts) spec.externalTrafficPolicy = spec.externalTrafficPolicy ?? "Cluster";
    else if (spec.externalTrafficPolicy === "Local") {
      issues.push(
        issueAt(
          "error",
          ["spec", "externalTrafficPolicy"],
          `Service "${name}" is invalid: spec.externalTrafficPolicy: Invalid value: "Local": may only be set when \`type\` is 'NodePort' or 'LoadBalancer'`,
          locate
        )
      );
    }
    if (type === "LoadBalancer" && spec.externalTrafficPolicy === "Local") {
      const kept = previous?.spec.healthCheckNodePort;
      if (spec.healthCheckNodePort !== void 0 && spec.healthCheckNodePort !== kept) {
        const result = this.nodePorts.allocate(spec.healthCheckNodePort);
        if (result === "ok") taken.nodePorts.push(spec.healthCheckNodePort);
        else
          issues.push(
            issueAt(
              "error",
              ["spec", "healthCheckNodePort"],
              `Service "${name}" is invalid: spec.healthCheckNodePort: Invalid value: ${spec.healthCheckNodePort}: ${result === "allocated" ? "provided port is already allocated" : `provided port is not in the valid range. The range of valid ports is ${this.nodePorts.rangeText}`}`,
              locate
            )
          );
      } else if (kept !== void 0) spec.healthCheckNodePort = kept;
      else {
        const allocated = this.nodePorts.allocateNext();
        if (allocated !== void 0) {
          spec.healthCheckNodePort = allocated;
          taken.nodePorts.push(allocated);
        }
      }
    } else {
      if (input.spec.healthCheckNodePort !== void 0 && input.spec.healthCheckNodePort !== previous?.spec.healthCheckNodePort) {
        issues.push(
          issueAt(
            "error",
            ["spec", "healthCheckNodePort"],
            `Service "${name}" is invalid: spec.healthCheckNodePort: Invalid value: ${input.spec.healthCheckNodePort}: may only be set when \`type\` is 'LoadBalancer' and \`externalTrafficPolicy\` is 'Local'`,
            locate
          )
        );
      }
      delete spec.healthCheckNodePort;
    }
    let status = { loadBalancer: {} };
    if (type === "LoadBalancer") {
      const kept = previous?.status?.loadBalancer?.ingress;
      const given = input.status?.loadBalancer?.ingress;
      if (given !== void 0 && given.length > 0) {
        status = { loadBalancer: { ingress: given.map((ingress) => ({ ...ingress })) } };
        for (const ingress of given) {
          const ip = ingress.ip === void 0 ? void 0 : parseIpv4(ingress.ip);
          const wasKept = kept?.some((k) => k.ip === ingress.ip) === true;
          if (ip !== void 0 && !wasKept && this.loadBalancerPool.allocate(ip) === "ok" && taken.lb === void 0)
            taken.lb = ip;
        }
      } else if (kept !== void 0 && kept.length > 0) status = { loadBalancer: { ingress: kept } };
      else if (this.loadBalancerPool.enabled) {
        let ip;
        if (spec.loadBalancerIP !== void 0) {
          const wanted = parseIpv4(spec.loadBalancerIP);
          if (wanted !== void 0 && this.loadBalancerPool.allocate(wanted) === "ok") ip = wanted;
          else
            issues.push(
              issueAt(
                "warning",
                ["spec", "loadBalancerIP"],
                `Service "${name}": loadBalancerIP ${spec.loadBalancerIP} is not available in the pool; EXTERNAL-IP stays <pending>`,
                locate
              )
            );
        } else ip = this.loadBalancerPool.allocateNext();
        if (ip !== void 0) {
          taken.lb = ip;
          status = { loadBalancer: { ingress: [{ ip: formatIpv4(ip), ipMode: "VIP" }] } };
        }
      }
    }
    if (issues.filter((i) => i.severity === "error").length > errorsBefore) {
      if (taken.ip !== void 0) this.serviceIps.release(taken.ip);
      for (const port of taken.nodePorts) this.nodePorts.release(port);
      if (taken.lb !== void 0) this.loadBalancerPool.release(taken.lb);
      return;
    }
    if (previous !== void 0) this.releaseUnused(previous, spec, status);
    const service = {
      ...input,
      spec,
      status,
      metadata: this.stamp({ ...input.metadata, namespace }, "Service")
    };
    this.ctx.store.put("Service", service);
    this.endpoints.enqueueEndpoints(objectKey(namespace, name));
  }
  releaseUnused(previous, spec, status) {
    const keep = new Set((spec.ports ?? []).map((p) => p.nodePort ?? -1));
    if (spec.healthCheckNodePort !== void 0) keep.add(spec.healthCheckNodePort);
    for (const port of previous.spec.ports ?? [])
      if (port.nodePort !== void 0 && !keep.has(port.nodePort)) this.nodePorts.release(port.nodePort);
    const hc = previous.spec.healthCheckNodePort;
    if (hc !== void 0 && !keep.has(hc)) this.nodePorts.release(hc);
    const keptLb = new Set((status?.loadBalancer?.ingress ?? []).map((i) => i.ip));
    for (const ingress of previous.status?.loadBalancer?.ingress ?? []) {
      const ip = ingress.ip === void 0 ? void 0 : parseIpv4(ingress.ip);
      if (ip !== void 0 && !keptLb.has(ingress.ip)) this.loadBalancerPool.release(ip);
    }
  }
  releaseServiceAllocations(service) {
    const ip = service.spec.clusterIP === void 0 ? void 0 : parseIpv4(service.spec.clusterIP);
    if (ip !== void 0) this.serviceIps.release(ip);
    this.releaseUnused(service, { ports: [] }, { loadBalancer: {} });
  }
};
function parseTarget(target, defaultKind) {
  const slash = target.indexOf("/");
  if (slash < 0) return [defaultKind, target];
  const kind = target.slice(0, slash).toLowerCase();
  const aliases = {
    po: "pod",
    pods: "pod",
    deploy: "deployment",
    deployments: "deployment",
    rs: "replicaset",
    replicasets: "replicaset",
    svc: "service",
    services: "service",
    ep: "endpoints"
  };
  return [aliases[kind] ?? kind, target.slice(slash + 1)];
}
function notFound(resource, name) {
  return { severity: "error", path: [], message: `Error from server (NotFound): ${resource} "${name}" not found` };
}

// src/k8s/controllers/deployment.ts
var DeploymentController = class {
  constructor(ctx, replicaSets) {
    this.ctx = ctx;
    this.replicaSets = replicaSets;
    this.kindDeploymentSync = ctx.scheduler.registerKind("k8s/deployment-sync", this);
  }
  ctx;
  replicaSets;
  kindDeploymentSync;
  deploymentIds = new KeyIds();
  pendingDeployment = /* @__PURE__ */ new Set();
  handleEvent(kind, a) {
    assert(kind === this.kindDeploymentSync, `k8s/deployment: unknown event kind ${kind}`);
    this.pendingDeployment.delete(a);
    this.syncDeployment(this.deploymentIds.keys[a]);
  }
  enqueueDeployment(key) {
    const id = this.deploymentIds.id(key);
    if (this.pendingDeployment.has(id)) return;
    this.pendingDeployment.add(id);
    this.ctx.scheduler.scheduleIn(this.ctx.timing.controllerSyncNs, this.kindDeploymentSync, id, 0);
  }
  /**
   * Deployment controller: the ReplicaSet for the current template is `<name>-<pod-template-hash>`
   * (ComputeHash of the template, collisionCount 0) with the hash added to its selector, template
   * labels and own labels. Replicas follow spec.replicas (default 1). A changed template gets a new
   * ReplicaSet and older ones are scaled to 0 at once (Recreate-like; RollingUpdate's surge and
   * unavailability budget is not modelled).
   */
  syncDeployment(key) {
    const [namespace, name] = splitKey(key);
    const deployment = this.ctx.store.get("Deployment", namespace, name);
    if (deployment === void 0) return;
    const hash = computeHash(deployment.spec.template);
    const replicas = deployment.spec.replicas ?? 1;
    const rsName = `${name}-${hash}`;
    const owned = this.replicaSets.ownedReplicaSets(deployment);
    for (const old of owned) {
      if (old.metadata.name !== rsName && (old.spec.replicas ?? 1) !== 0) {
        this.ctx.store.put("ReplicaSet", { ...old, spec: { ...old.spec, replicas: 0 } });
        this.replicaSets.enqueueReplicaSet(objectKey(namespace, old.metadata.name));
      }
    }
    const current = this.ctx.store.get("ReplicaSet", namespace, rsName);
    if (current === void 0) {
      const templateLabels = { ...deployment.spec.template.metadata?.labels, [LABEL_POD_TEMPLATE_HASH]: hash };
      const template = {
        ...deployment.spec.template,
        metadata: { ...deployment.spec.template.metadata, labels: templateLabels }
      };
      const selector = {
        ...deployment.spec.selector,
        matchLabels: { ...deployment.spec.selector.matchLabels, [LABEL_POD_TEMPLATE_HASH]: hash }
      };
      const owner = {
        apiVersion: "apps/v1",
        kind: "Deployment",
        name,
        uid: deployment.metadata.uid ?? "",
        controller: true
      };
      this.ctx.store.put("ReplicaSet", {
        apiVersion: "apps/v1",
        kind: "ReplicaSet",
        metadata: {
          name: rsName,
          namespace,
          labels: templateLabels,
          ownerReferences: [owner],
          uid: this.ctx.newUid(),
          creationTimestampNs: this.ctx.nowNs
        },
        spec: { replicas, selector, template }
      });
      this.replicaSets.enqueueReplicaSet(objectKey(namespace, rsName));
    } else if ((current.spec.replicas ?? 1) !== replicas) {
      this.ctx.store.put("ReplicaSet", { ...current, spec: { ...current.spec, replicas } });
      this.replicaSets.enqueueReplicaSet(objectKey(namespace, rsName));
    }
  }
};

// src/k8s/controllers/kubelet.ts
var ANNOTATION_EXIT_AFTER_SIGTERM = "kube-netsim.io/exit-after-sigterm-seconds";
var TERMINATION_GRACE_PERIOD_SECONDS_DEFAULT = 30;
var PROBE_PERIOD_SECONDS_DEFAULT = 10;
var PROBE_SUCCESS_THRESHOLD_DEFAULT = 1;
var Kubelet = class {
  constructor(ctx) {
    this.ctx = ctx;
    const scheduler = ctx.scheduler;
    this.kindStart = scheduler.registerKind("k8s/kubelet-start", this);
    this.kindReady = scheduler.registerKind("k8s/kubelet-ready", this);
    this.kindExit = scheduler.registerKind("k8s/kubelet-exit", this);
    this.kindRemove = scheduler.registerKind("k8s/kubelet-remove", this);
  }
  ctx;
  kindStart;
  kindReady;
  kindExit;
  kindRemove;
  /** Pods the kubelets admitted (record ids) and their count per node, until the object is deleted. */
  admitted = /* @__PURE__ */ new Set();
  admittedOnNode = /* @__PURE__ */ new Map();
  handleEvent(kind, a) {
    const record = this.ctx.pods[a];
    if (kind === this.kindStart) this.startPod(record);
    else if (kind === this.kindReady) this.markReady(record);
    else if (kind === this.kindExit) this.exitPod(record);
    else if (kind === this.kindRemove) this.removePod(record);
    else assert(false, `k8s/kubelet: unknown event kind ${kind}`);
  }
  /**
   * A pod was assigned to a node (bound, or created with spec.nodeName). The node's kubelet admits
   * it (canAdmitPod: the pod count check of lifecycle/predicate.go against the pods it already
   * admitted) and starts it after podStartupNs; past maxPods it rejects it as rejectPod does:
   * phase Failed, reason OutOfpods. Only pods that bypassed the scheduler can be rejected, since
   * the scheduler never binds past maxPods.
   */
  podAssigned(record) {
    const ctx = this.ctx;
    const nodeName = ctx.podOf(record)?.spec.nodeName;
    const info = nodeName === void 0 ? void 0 : ctx.node(nodeName);
    if (nodeName !== void 0 && info !== void 0) {
      const used = this.admittedOnNode.get(nodeName) ?? 0;
      if (used + 1 > info.maxPods) {
        const message = `Pod was rejected: Node didn't have enough resource: pods, requested: 1, used: ${used}, capacity: ${info.maxPods}`;
        ctx.updatePod(record, (p) => ({ ...p, status: { ...p.status, phase: "Failed", reason: "OutOfpods", message } }));
        ctx.podFailed(record, nodeName);
        return;
      }
      this.admitted.add(record.id);
      this.admittedOnNode.set(nodeName, used + 1);
    }
    ctx.scheduler.scheduleIn(ctx.timing.podStartupNs, this.kindStart, record.id, 0);
  }
  /** True while the pod's containers run (between start and exit). */
  isContainerRunning(namespace, name) {
    const id = this.ctx.podIdByKey.get(objectKey(namespace, name));
    return id !== void 0 && this.ctx.pods[id].running;
  }
  /** Pod IP: hostNetwork -> node IP; bridge -> host-local on the node's pod CIDR; aws-vpc -> VPC subnet. */
  allocatePodIp(record, pod, nodeName) {
    const info = this.ctx.node(nodeName);
    if (info === void 0) return void 0;
    if (pod.spec.hostNetwork === true) return parseIpv4(info.ip);
    const allocator = this.ctx.vpcAllocator ?? this.ctx.podAllocators.get(nodeName);
    const ip = allocator?.allocate();
    if (ip !== void 0) {
      record.ip = ip;
      record.ipNode = nodeName;
    }
    return ip;
  }
  startPod(record) {
    const ctx = this.ctx;
    const pod = ctx.podOf(record);
    if (pod === void 0 || pod.metadata.deletionTimestampNs !== void 0) return;
    const nodeName = pod.spec.nodeName;
    if (nodeName === void 0 || ctx.node(nodeName) === void 0) return;
    const ip = this.allocatePodIp(record, pod, nodeName);
    if (ip === void 0) return;
    const readyDelayNs = readinessDelayNs(pod);
    record.running = true;
    const ready = readyDelayNs === 0;
    if (ready) {
      record.ready = true;
      record.readyAtNs = ctx.nowNs;
    }
    const hostIP = ctx.node(nodeName)?.ip ?? "";
    const now = ctx.nowNs;
    ctx.updatePod(record, (p) => ({
      ...p,
      status: {
        phase: "Running",
        podIP: formatIpv4(ip),
        hostIP,
        startTimeNs: now,
        conditions: podConditions(ready, now)
      }
    }));
    if (!ready) ctx.scheduler.scheduleIn(readyDelayNs, this.kindReady, record.id, 0);
  }
  markReady(record) {
    if (!record.running || record.ready) return;
    const pod = this.ctx.podOf(record);
    if (pod === void 0) return;
    record.ready = true;
    record.readyAtNs = this.ctx.nowNs;
    const now = this.ctx.nowNs;
    this.ctx.updatePod(record, (p) => ({ ...p, status: { ...p.status, conditions: podConditions(true, now) } }));
  }
  /**
   * Graceful deletion: deletionTimestamp set now (endpoints turn terminating: ready=false,
   * serving=Ready, terminating=true); the container gets SIGTERM and exits after
   * exitAfterSigtermNs (or the pod's annotation), at most terminationGracePeriodSeconds (SIGKILL);
   * after exit the Ready condition drops (serving=false) and podRemovalAfterExitNs later the pod
   * object is deleted and its IP released. A pod that never started is deleted at once.
   */
  beginPodDeletion(record) {
    const ctx = this.ctx;
    const pod = ctx.podOf(record);
    if (pod === void 0 || pod.metadata.deletionTimestampNs !== void 0) return;
    const graceSeconds = pod.spec.terminationGracePeriodSeconds ?? TERMINATION_GRACE_PERIOD_SECONDS_DEFAULT;
    if (!record.running) {
      ctx.updatePod(record, (p) => ({ ...p, metadata: { ...p.metadata, deletionTimestampNs: ctx.nowNs } }));
      this.removePod(record);
      return;
    }
    ctx.updatePod(record, (p) => ({
      ...p,
      metadata: { ...p.metadata, deletionTimestampNs: ctx.nowNs + graceSeconds * NS_PER_S }
    }));
    const annotated = Number(pod.metadata.annotations?.[ANNOTATION_EXIT_AFTER_SIGTERM]);
    const exitNs = Number.isFinite(annotated) && annotated >= 0 ? Math.round(annotated * NS_PER_S) : ctx.timing.exitAfterSigtermNs;
    ctx.scheduler.scheduleIn(Math.min(exitNs, graceSeconds * NS_PER_S), this.kindExit, record.id, 0);
  }
  exitPod(record) {
    if (!record.running) return;
    record.running = false;
    record.ready = false;
    const now = this.ctx.nowNs;
    this.ctx.updatePod(record, (p) => ({ ...p, status: { ...p.status, conditions: podConditions(false, now) } }));
    this.ctx.scheduler.scheduleIn(this.ctx.timing.podRemovalAfterExitNs, this.kindRemove, record.id, 0);
  }
  removePod(record) {
    const ctx = this.ctx;
    const pod = ctx.podOf(record);
    if (pod === void 0) return;
    record.removed = true;
    record.running = false;
    record.ready = false;
    if (record.ip !== void 0 && record.ipNode !== void 0) {
      const allocator = ctx.vpcAllocator ?? ctx.podAllocators.get(record.ipNode);
      allocator?.release(record.ip);
    }
    const nodeName = pod.spec.nodeName;
    if (this.admitted.delete(record.id) && nodeName !== void 0)
      this.admittedOnNode.set(nodeName, (this.admittedOnNode.get(nodeName) ?? 0) - 1);
    ctx.deletePod(record, pod);
  }
};
function podConditions(ready, nowNs) {
  const status = ready ? "True" : "False";
  return [
    { type: "Initialized", status: "True", lastTransitionTimeNs: nowNs },
    { type: "Ready", status, lastTransitionTimeNs: nowNs },
    { type: "ContainersReady", status, lastTransitionTimeNs: nowNs },
    { type: "PodScheduled", status: "True", lastTransitionTimeNs: nowNs }
  ];
}
function readinessDelayNs(pod) {
  let delayNs = 0;
  for (const container of pod.spec.containers) {
    const probe = container.readinessProbe;
    if (probe === void 0) continue;
    const period = probe.periodSeconds ?? PROBE_PERIOD_SECONDS_DEFAULT;
    const initial = probe.initialDelaySeconds ?? 0;
    const successes = probe.successThreshold ?? PROBE_SUCCESS_THRESHOLD_DEFAULT;
    const seconds = Math.ceil(initial / period) * period + (successes - 1) * period;
    delayNs = Math.max(delayNs, seconds * NS_PER_S);
  }
  return delayNs;
}

// src/k8s/controllers/replicaset.ts
var ANNOTATION_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost";
var BURST_REPLICAS = 500;
var ReplicaSetController = class {
  constructor(ctx, kubelet) {
    this.ctx = ctx;
    this.kubelet = kubelet;
    this.kindReplicaSetSync = ctx.scheduler.registerKind("k8s/replicaset-sync", this);
    this.kindCreate = ctx.scheduler.registerKind("k8s/replicaset-create", this);
    this.kindDelete = ctx.scheduler.registerKind("k8s/replicaset-delete", this);
    this.client = new TokenBucket(
      ctx.config.controllerClientQps ?? CONTROLLER_CLIENT_QPS_DEFAULT,
      ctx.config.controllerClientBurst ?? CONTROLLER_CLIENT_BURST_DEFAULT
    );
  }
  ctx;
  kubelet;
  kindReplicaSetSync;
  kindCreate;
  kindDelete;
  replicaSetIds = new KeyIds();
  pendingReplicaSet = /* @__PURE__ */ new Set();
  /** Per ReplicaSet id: creates of the current burst not yet issued (expectations). */
  createsLeft = [];
  /** Per ReplicaSet id: deletes waiting for a client token (expectations). */
  deletesLeft = [];
  /** The controller's API client rate limit. */
  client;
  handleEvent(kind, a, b) {
    if (kind === this.kindReplicaSetSync) {
      this.pendingReplicaSet.delete(a);
      this.syncReplicaSet(this.replicaSetIds.keys[a]);
    } else if (kind === this.kindCreate) {
      const [namespace, name] = splitKey(this.replicaSetIds.keys[a]);
      const replicaSet = this.ctx.store.get("ReplicaSet", namespace, name);
      if (replicaSet === void 0) this.createsLeft[a] = 0;
      else {
        this.createsLeft[a]--;
        this.createPod(replicaSet);
        this.issueCreates(a);
      }
    } else if (kind === this.kindDelete) {
      this.deletesLeft[b]--;
      this.kubelet.beginPodDeletion(this.ctx.pods[a]);
    } else assert(false, `k8s/replicaset: unknown event kind ${kind}`);
  }
  enqueueReplicaSet(key) {
    const id = this.replicaSetIds.id(key);
    if (this.pendingReplicaSet.has(id)) return;
    this.pendingReplicaSet.add(id);
    this.ctx.scheduler.scheduleIn(this.ctx.timing.controllerSyncNs, this.kindReplicaSetSync, id, 0);
  }
  enqueueOwner(pod) {
    const owner = pod.metadata.ownerReferences?.find((o) => o.controller === true && o.kind === "ReplicaSet");
    if (owner !== void 0) this.enqueueReplicaSet(objectKey(pod.metadata.namespace ?? "default", owner.name));
  }
  ownedReplicaSets(deployment) {
    const namespace = deployment.metadata.namespace ?? "default";
    return this.ctx.store.list("ReplicaSet", namespace).filter(
      (rs) => rs.metadata.ownerReferences?.some((o) => o.controller === true && o.uid === deployment.metadata.uid)
    );
  }
  deleteReplicaSet(replicaSet) {
    const namespace = replicaSet.metadata.namespace ?? "default";
    this.ctx.store.delete("ReplicaSet", namespace, replicaSet.metadata.name);
    for (const record of this.ownedPods(replicaSet)) this.kubelet.beginPodDeletion(record);
  }
  ownedPods(replicaSet) {
    const namespace = replicaSet.metadata.namespace ?? "default";
    const out = [];
    for (const pod of this.ctx.store.list("Pod", namespace)) {
      if (!pod.metadata.ownerReferences?.some((o) => o.controller === true && o.uid === replicaSet.metadata.uid))
        continue;
      const id = this.ctx.podIdByKey.get(objectKey(namespace, pod.metadata.name));
      if (id !== void 0) out.push(this.ctx.pods[id]);
    }
    return out;
  }
  /**
   * ReplicaSet controller manageReplicas: active pods (not terminating, not terminal) are counted;
   * up to burstReplicas missing ones are created, or surplus ones deleted in `deletionOrder`, each
   * when the client's token bucket lets the request go. Pods are named generateName("<rs>-"); a
   * name clash (possible with 27^5 names) draws again instead of failing the create and retrying.
   */
  syncReplicaSet(key) {
    const [namespace, name] = splitKey(key);
    const replicaSet = this.ctx.store.get("ReplicaSet", namespace, name);
    if (replicaSet === void 0) return;
    const id = this.replicaSetIds.id(key);
    if ((this.createsLeft[id] ?? 0) > 0 || (this.deletesLeft[id] ?? 0) > 0) {
      this.updateReplicaSetStatus(namespace, name);
      return;
    }
    const active = this.ownedPods(replicaSet).filter((record) => {
      const pod = this.ctx.podOf(record);
      return pod !== void 0 && pod.metadata.deletionTimestampNs === void 0 && pod.status?.phase !== "Succeeded" && pod.status?.phase !== "Failed";
    });
    const desired = replicaSet.spec.replicas ?? 1;
    if (active.length < desired) {
      this.createsLeft[id] = Math.min(desired - active.length, BURST_REPLICAS);
      this.issueCreates(id);
    } else if (active.length > desired) {
      const victims = this.deletionOrder(active, replicaSet).slice(0, Math.min(active.length - desired, BURST_REPLICAS));
      for (const record of victims) {
        const waitNs = this.client.reserve(this.ctx.nowNs);
        if (waitNs === 0) this.kubelet.beginPodDeletion(record);
        else {
          this.deletesLeft[id] = (this.deletesLeft[id] ?? 0) + 1;
          this.ctx.scheduler.scheduleIn(waitNs, this.kindDelete, record.id, id);
        }
      }
    }
    this.updateReplicaSetStatus(namespace, name);
  }
  /** Issues the burst's creates while the client has tokens; then waits for the next token. */
  issueCreates(id) {
    const [namespace, name] = splitKey(this.replicaSetIds.keys[id]);
    while ((this.createsLeft[id] ?? 0) > 0) {
      const replicaSet = this.ctx.store.get("ReplicaSet", namespace, name);
      if (replicaSet === void 0) {
        this.createsLeft[id] = 0;
        return;
      }
      const waitNs = this.client.reserve(this.ctx.nowNs);
      if (waitNs > 0) {
        this.ctx.scheduler.scheduleIn(waitNs, this.kindCreate, id, 0);
        return;
      }
      this.createsLeft[id]--;
      this.createPod(replicaSet);
    }
  }
  createPod(replicaSet) {
    const namespace = replicaSet.metadata.namespace ?? "default";
    const name = replicaSet.metadata.name;
    const rng = this.ctx.rng(`k8s/replicaset/${namespace}/${name}/names`);
    const template = replicaSet.spec.template;
    const owner = {
      apiVersion: "apps/v1",
      kind: "ReplicaSet",
      name,
      uid: replicaSet.metadata.uid ?? "",
      controller: true
    };
    let podName = generateName(`${name}-`, rng);
    while (this.ctx.store.get("Pod", namespace, podName) !== void 0) podName = generateName(`${name}-`, rng);
    const metadata = { name: podName, namespace, generateName: `${name}-`, ownerReferences: [owner] };
    if (template.metadata?.labels !== void 0) metadata.labels = { ...template.metadata.labels };
    if (template.metadata?.annotations !== void 0) metadata.annotations = { ...template.metadata.annotations };
    this.ctx.createPod({ apiVersion: "v1", kind: "Pod", metadata, spec: structuredClone(template.spec) });
  }
  updateReplicaSetStatus(namespace, name) {
    const replicaSet = this.ctx.store.get("ReplicaSet", namespace, name);
    if (replicaSet === void 0) return;
    const pods = this.ownedPods(replicaSet).map((r) => this.ctx.podOf(r)).filter((p) => p !== void 0 && p.metadata.deletionTimestampNs === void 0);
    const status = { replicas: pods.length, readyReplicas: pods.filter(isPodReady).length };
    if (!sameData(status, replicaSet.status)) this.ctx.store.put("ReplicaSet", { ...replicaSet, status });
    const owner = replicaSet.metadata.ownerReferences?.find((o) => o.kind === "Deployment");
    if (owner === void 0) return;
    const deployment = this.ctx.store.get("Deployment", namespace, owner.name);
    if (deployment === void 0) return;
    let replicas = 0;
    let readyReplicas = 0;
    for (const rs of this.ownedReplicaSets(deployment)) {
      replicas += rs.status?.replicas ?? 0;
      readyReplicas += rs.status?.readyReplicas ?? 0;
    }
    const deploymentStatus = { replicas, readyReplicas };
    if (!sameData(deploymentStatus, deployment.status))
      this.ctx.store.put("Deployment", { ...deployment, status: deploymentStatus });
  }
  /**
   * Scale-down victims first, after pkg/controller/controller_utils.go ActivePodsWithRanks.Less
   * (with ranks from getPodsRankedByRelatedPodsOnSameNode):
   *   1. unassigned before assigned; 2. Pending before Running; 3. not ready before ready;
   *   4. lower controller.kubernetes.io/pod-deletion-cost first; 5. more related pods on the same
   *   node first; 6. ready more recently first; 7. (restart counts: always 0 here);
   *   8. created more recently first.
   * Upstream compares 6 and 8 on a log2 scale (LogarithmicScaleDown) and leaves remaining ties to
   * an unstable sort; we compare exact times and break ties by pod name.
   */
  deletionOrder(records, replicaSet) {
    const onNode = /* @__PURE__ */ new Map();
    for (const record of records) {
      const node = this.ctx.podOf(record)?.spec.nodeName ?? "";
      onNode.set(node, (onNode.get(node) ?? 0) + 1);
    }
    void replicaSet;
    const info = records.map((record) => {
      const pod = this.ctx.podOf(record);
      const nodeName = pod?.spec.nodeName;
      const phase = pod?.status?.phase ?? "Pending";
      const cost = Number(pod?.metadata.annotations?.[ANNOTATION_DELETION_COST] ?? "0");
      return {
        record,
        assigned: nodeName === void 0 ? 0 : 1,
        phase: phase === "Pending" ? 0 : phase === "Unknown" ? 1 : 2,
        ready: record.ready ? 1 : 0,
        cost: Number.isFinite(cost) ? cost : 0,
        rank: onNode.get(nodeName ?? "") ?? 0,
        readyAtNs: record.ready ? record.readyAtNs : 0,
        createdNs: pod?.metadata.creationTimestampNs ?? 0
      };
    });
    info.sort(
      (a, b) => a.assigned - b.assigned || a.phase - b.phase || a.ready - b.ready || a.cost - b.cost || b.rank - a.rank || b.readyAtNs - a.readyAtNs || b.createdNs - a.createdNs || (a.record.name < b.record.name ? -1 : a.record.name > b.record.name ? 1 : 0)
    );
    return info.map((i) => i.record);
  }
};

// src/k8s/controllers/scheduler.ts
var REASON_UNSCHEDULABLE = "node(s) were unschedulable";
var REASON_SELECTOR = "node(s) didn't match Pod's node affinity/selector";
var REASON_TOO_MANY_PODS = "Too many pods";
var KubeScheduler = class {
  constructor(ctx) {
    this.ctx = ctx;
    this.kindBind = ctx.scheduler.registerKind("k8s/scheduler-bind", this);
  }
  ctx;
  kindBind;
  /** Non-terminated pods bound to each node (pod objects with spec.nodeName). */
  podsOnNode = /* @__PURE__ */ new Map();
  /** Unschedulable pods by record id, in the order they failed (Set keeps insertion order). */
  unschedulable = /* @__PURE__ */ new Set();
  handleEvent(kind, a) {
    if (kind === this.kindBind) this.bindPod(this.ctx.pods[a]);
    else assert(false, `k8s/scheduler: unknown event kind ${kind}`);
  }
  /** A new unassigned pod enters the scheduling queue. */
  enqueue(record) {
    this.ctx.scheduler.scheduleIn(this.ctx.timing.schedulerBindNs, this.kindBind, record.id, 0);
  }
  /** Pods waiting in the unschedulable queue. */
  get unschedulableCount() {
    return this.unschedulable.size;
  }
  /** A pod object now occupies a slot on `nodeName` (bound, or created with spec.nodeName). */
  podAssigned(nodeName) {
    this.podsOnNode.set(nodeName, (this.podsOnNode.get(nodeName) ?? 0) + 1);
  }
  /** A pod object was deleted: its slot frees (if it had one), or it leaves the waiting queue. */
  podDeleted(record, pod) {
    this.unschedulable.delete(record.id);
    const nodeName = pod.spec.nodeName;
    if (nodeName === void 0 || pod.status?.phase === "Failed" || pod.status?.phase === "Succeeded") return;
    this.slotFreed(nodeName);
  }
  /** A pod on `nodeName` ended or was deleted: re-queue the oldest waiting pod that fits there. */
  slotFreed(nodeName) {
    this.podsOnNode.set(nodeName, (this.podsOnNode.get(nodeName) ?? 0) - 1);
    const node = this.ctx.store.get("Node", "", nodeName);
    if (node === void 0 || node.spec.unschedulable === true) return;
    for (const id of this.unschedulable) {
      const waiting = this.ctx.podOf(this.ctx.pods[id]);
      if (waiting === void 0 || waiting.metadata.deletionTimestampNs !== void 0) {
        this.unschedulable.delete(id);
        continue;
      }
      if (!selectorMatches(waiting, node)) continue;
      this.unschedulable.delete(id);
      this.enqueue(this.ctx.pods[id]);
      return;
    }
  }
  /**
   * Node choice: the nodes that pass the filters; among them the one with the fewest
   * non-terminated pods, ties by node name. The real kube-scheduler scores with several plugins
   * (NodeResourcesFit LeastAllocated, PodTopologySpread, ImageLocality, ...) and picks randomly
   * among equal top scores; for identical pods without resource requests its outcome is close to
   * "spread evenly", which this reproduces deterministically. `reasons` collects, per filter
   * failure, how many nodes failed it (the FitError histogram).
   */
  pickNode(pod, reasons) {
    let best;
    let bestCount = 0;
    for (const node of this.ctx.store.list("Node")) {
      let reason2;
      const count = this.podsOnNode.get(node.metadata.name) ?? 0;
      if (node.spec.unschedulable === true) reason2 = REASON_UNSCHEDULABLE;
      else if (!selectorMatches(pod, node)) reason2 = REASON_SELECTOR;
      else if (count + 1 > allocatablePods(node)) reason2 = REASON_TOO_MANY_PODS;
      if (reason2 !== void 0) {
        reasons.set(reason2, (reasons.get(reason2) ?? 0) + 1);
        continue;
      }
      if (best === void 0 || count < bestCount) {
        best = node;
        bestCount = count;
      }
    }
    return best;
  }
  bindPod(record) {
    const ctx = this.ctx;
    const pod = ctx.podOf(record);
    if (pod === void 0 || pod.metadata.deletionTimestampNs !== void 0) return;
    const reasons = /* @__PURE__ */ new Map();
    const node = this.pickNode(pod, reasons);
    if (node === void 0) {
      const message = fitErrorMessage(ctx.store.count("Node"), reasons);
      this.unschedulable.add(record.id);
      ctx.updatePod(record, (p) => ({
        ...p,
        status: {
          ...p.status,
          phase: "Pending",
          conditions: [
            {
              type: "PodScheduled",
              status: "False",
              reason: "Unschedulable",
              message,
              lastTransitionTimeNs: ctx.nowNs
            }
          ]
        }
      }));
      return;
    }
    this.podAssigned(node.metadata.name);
    ctx.updatePod(record, (p) => ({
      ...p,
      spec: { ...p.spec, nodeName: node.metadata.name },
      status: {
        ...p.status,
        phase: "Pending",
        conditions: [{ type: "PodScheduled", status: "True", lastTransitionTimeNs: ctx.nowNs }]
      }
    }));
    ctx.podBound(record);
  }
};
function selectorMatches(pod, node) {
  return pod.spec.nodeSelector === void 0 || matchesSelector({ matchLabels: pod.spec.nodeSelector }, node.metadata.labels);
}
function allocatablePods(node) {
  const text = node.status?.allocatable?.pods;
  return text === void 0 ? Number.POSITIVE_INFINITY : Number(text);
}
function fitErrorMessage(nodeCount, reasons) {
  const histogram = [...reasons].map(([reason2, count]) => `${count} ${reason2}`).sort();
  return `0/${nodeCount} nodes are available: ${histogram.join(", ")}.`;
}

// src/k8s/control-plane.ts
var ControlPlane = class {
  constructor(scheduler, config, listeners = []) {
    this.config = config;
    const ctx = new ControllerContext(scheduler, config, this);
    this.ctx = ctx;
    this.store = ctx.store;
    this.timing = ctx.timing;
    this.kubeScheduler = new KubeScheduler(ctx);
    this.kubelet = new Kubelet(ctx);
    this.replicaSets = new ReplicaSetController(ctx, this.kubelet);
    this.deployments = new DeploymentController(ctx, this.replicaSets);
    this.endpoints = new EndpointSliceController(ctx);
    for (const listener of listeners) this.store.addListener(listener);
    this.apiServer = new ApiServer(ctx, {
      kubelet: this.kubelet,
      replicaSets: this.replicaSets,
      deployments: this.deployments,
      endpoints: this.endpoints
    });
    this.bootstrapIssues = this.apiServer.bootstrapIssues;
  }
  config;
  store;
  timing;
  /** Problems found while building the cluster (node IP clashes...). */
  bootstrapIssues;
  ctx;
  kubeScheduler;
  kubelet;
  replicaSets;
  deployments;
  endpoints;
  apiServer;
  // ---------------------------------------------------------------------------------------------
  // Public API
  get nowNs() {
    return this.ctx.nowNs;
  }
  nodes() {
    return this.ctx.nodeInfos;
  }
  node(name) {
    return this.ctx.node(name);
  }
  /** True while the pod's containers run (between start and exit). */
  isContainerRunning(namespace, name) {
    return this.kubelet.isContainerRunning(namespace, name);
  }
  /** Applies manifests (kubectl apply). Rejected objects are not stored; their issues are returned. */
  apply(objects) {
    return this.apiServer.apply(objects);
  }
  /** Timeline `scale`: target "deployment/NAME", "replicaset/NAME" or a bare deployment name. */
  scale(namespace, target, replicas) {
    return this.apiServer.scale(namespace, target, replicas);
  }
  /** Timeline `delete`: "pod/NAME", "deployment/NAME", "replicaset/NAME", "service/NAME", "endpoints/NAME". */
  delete(namespace, target) {
    return this.apiServer.delete(namespace, target);
  }
  // ---------------------------------------------------------------------------------------------
  // Pod watch: who reacts to pod writes
  podCreated(record, pod) {
    this.endpoints.enqueueServicesFor(pod);
    this.replicaSets.enqueueOwner(pod);
    if (pod.spec.nodeName !== void 0) {
      this.kubeScheduler.podAssigned(pod.spec.nodeName);
      this.kubelet.podAssigned(record);
    } else this.kubeScheduler.enqueue(record);
  }
  podUpdated(pod) {
    this.endpoints.enqueueServicesFor(pod);
    this.replicaSets.enqueueOwner(pod);
  }
  podBound(record) {
    this.kubelet.podAssigned(record);
  }
  podFailed(_record, nodeName) {
    this.kubeScheduler.slotFreed(nodeName);
  }
  podDeleted(record, pod) {
    this.endpoints.enqueueServicesFor(pod);
    this.replicaSets.enqueueOwner(pod);
    this.kubeScheduler.podDeleted(record, pod);
  }
};

// src/net/cni.ts
var NodeNet = class {
  constructor(name, zone, ns, ip, eth0, podCidr, bridge) {
    this.name = name;
    this.zone = zone;
    this.ns = ns;
    this.ip = ip;
    this.eth0 = eth0;
    this.podCidr = podCidr;
    this.bridge = bridge;
  }
  name;
  zone;
  ns;
  ip;
  eth0;
  podCidr;
  bridge;
  pods = [];
  podIndexNext = 2;
};
var PodNet = class {
  constructor(name, node, ns, ip, eth0, hostVeth) {
    this.name = name;
    this.node = node;
    this.ns = ns;
    this.ip = ip;
    this.eth0 = eth0;
    this.hostVeth = hostVeth;
  }
  name;
  node;
  ns;
  ip;
  eth0;
  hostVeth;
};
var ExternalHost = class {
  constructor(name, ns, ip, eth0) {
    this.name = name;
    this.ns = ns;
    this.ip = ip;
    this.eth0 = eth0;
  }
  name;
  ns;
  ip;
  eth0;
};
var AWS_POD_GATEWAY = ipv4("169.254.1.1");
var ClusterNetwork = class {
  constructor(net, options) {
    this.net = net;
    this.options = options;
    const spec = options.network;
    this.nodeCidr = cidr(options.nodeCidr);
    this.podCidr = cidr(options.podCidr);
    this.externalCidr = cidr(options.externalCidr ?? "203.0.113.0/24");
    this.nodePodPrefixLength = options.nodePodCidrPrefixLength ?? 24;
    this.fabric = net.createFabric("fabric", spec.crossNodeLatencyNs, spec.crossZoneLatencyNs);
    this.edge = net.createNamespace("edge", { ipForward: true });
    this.edgeIp = cidrAddress(this.nodeCidr, 1);
    this.usedAddresses.add(this.edgeIp);
    this.edgeEth0 = net.attachToFabric(this.fabric, this.edge, "eth0", -1, this.fabricLink());
    net.addAddress(this.edgeEth0, this.edgeIp, this.nodeCidr.prefixLength);
    this.externalBridge = net.addBridge(this.edge, "ext0", spec.mtuBytes);
    net.addAddress(this.externalBridge, cidrAddress(this.externalCidr, 1), this.externalCidr.prefixLength);
  }
  net;
  options;
  fabric;
  nodes = [];
  externals = [];
  edge;
  edgeIp;
  edgeEth0;
  nodeCidr;
  podCidr;
  externalCidr;
  nodePodPrefixLength;
  zones = [];
  usedAddresses = /* @__PURE__ */ new Set();
  addressIndexNext = 10;
  externalIndexNext = 10;
  externalBridge;
  vethNames = /* @__PURE__ */ new Set();
  fabricLink() {
    const spec = this.options.network;
    return {
      bandwidthBitsPerSecond: spec.bandwidthBitsPerSecond,
      mtuBytes: spec.mtuBytes,
      lossPartsPerMillion: spec.lossPartsPerMillion,
      queuePacketsMax: spec.queuePacketsMax
    };
  }
  vethLink(latencyNs) {
    const spec = this.options.network;
    return {
      latencyNs,
      bandwidthBitsPerSecond: 0,
      mtuBytes: spec.mtuBytes,
      lossPartsPerMillion: 0,
      queuePacketsMax: spec.queuePacketsMax
    };
  }
  zoneId(zone) {
    let id = this.zones.indexOf(zone);
    if (id < 0) {
      id = this.zones.length;
      this.zones.push(zone);
    }
    return id;
  }
  /** Next free address of the node/VPC subnet (from .10 up). */
  allocateSubnetAddress() {
    const size = cidrSize(this.nodeCidr);
    while (this.addressIndexNext < size - 1) {
      const address = cidrAddress(this.nodeCidr, this.addressIndexNext++);
      if (!this.usedAddresses.has(address)) return address;
    }
    throw new Error(`node CIDR exhausted`);
  }
  claim(address, within, what) {
    assert(cidrContains(within, address), `${what} outside its CIDR`);
    assert(!this.usedAddresses.has(address), `${what}: address in use`);
    this.usedAddresses.add(address);
  }
  addNode(name, zone, ip) {
    const net = this.net;
    const address = ip ?? this.allocateSubnetAddress();
    this.claim(address, this.nodeCidr, `node ${name}`);
    const ns = net.createNamespace(`node/${name}`, { ipForward: true });
    const eth0 = net.attachToFabric(this.fabric, ns, "eth0", this.zoneId(zone), this.fabricLink());
    net.addAddress(eth0, address, this.nodeCidr.prefixLength);
    net.addRoute(ns, "0.0.0.0/0", eth0, this.edgeIp);
    let node;
    if (this.options.cni === "bridge") {
      const index = this.nodes.length;
      const perNode = 2 ** (this.nodePodPrefixLength - this.podCidr.prefixLength);
      assert(index < perNode, "cluster pod CIDR exhausted");
      const base = cidrAddress(this.podCidr, index * 2 ** (32 - this.nodePodPrefixLength));
      const podCidr = cidr(`${formatIpv4(base)}/${this.nodePodPrefixLength}`);
      const bridge = net.addBridge(ns, "cni0", this.options.network.mtuBytes);
      net.addAddress(bridge, cidrAddress(podCidr, 1), podCidr.prefixLength);
      node = new NodeNet(name, zone, ns, address, eth0, podCidr, bridge);
      for (const other of this.nodes) {
        net.addRoute(other.ns, podCidr, other.eth0, address);
        net.addRoute(ns, other.podCidr, eth0, other.ip);
      }
      net.addRoute(this.edge, podCidr, this.edgeEth0, address);
    } else {
      node = new NodeNet(name, zone, ns, address, eth0, null, null);
    }
    this.nodes.push(node);
    return node;
  }
  hostVethName(prefix2, podName, hexDigits) {
    let h = 2166136261;
    for (let i = 0; i < podName.length; i++) h = Math.imul(h ^ podName.charCodeAt(i), 16777619);
    let name = "";
    for (let n = 0; name.length < prefix2.length + hexDigits; n++) {
      const hx = ((h ^ Math.imul(n, 2654435769)) >>> 0).toString(16).padStart(8, "0");
      name = (prefix2 + hx + hx).slice(0, prefix2.length + hexDigits);
      if (!this.vethNames.has(name)) break;
      name = "";
    }
    this.vethNames.add(name);
    return name;
  }
  /** A pod on `node` (namespace `pod/<name>`); `ip` defaults to the next free address. */
  addPod(node, name, ip) {
    const net = this.net;
    const ns = net.createNamespace(`pod/${name}`);
    let pod;
    const latencyNs = this.options.network.sameNodeLatencyNs;
    if (this.options.cni === "bridge") {
      const podCidr = node.podCidr;
      let address = ip;
      if (address === void 0) {
        while (this.usedAddresses.has(cidrAddress(podCidr, node.podIndexNext))) node.podIndexNext++;
        assert(node.podIndexNext < cidrSize(podCidr) - 1, `node ${node.name}: pod CIDR exhausted`);
        address = cidrAddress(podCidr, node.podIndexNext++);
      }
      this.claim(address, podCidr, `pod ${name}`);
      const [eth0, host] = net.addVethPair(
        ns,
        "eth0",
        node.ns,
        this.hostVethName("veth", name, 8),
        this.vethLink(latencyNs)
      );
      net.addAddress(eth0, address, podCidr.prefixLength);
      net.addRoute(ns, "0.0.0.0/0", eth0, cidrAddress(podCidr, 1));
      net.attachToBridge(node.bridge, host, address);
      pod = new PodNet(name, node, ns, address, eth0, host);
    } else {
      const address = ip ?? this.allocateSubnetAddress();
      this.claim(address, this.nodeCidr, `pod ${name}`);
      const [eth0, host] = net.addVethPair(
        ns,
        "eth0",
        node.ns,
        this.hostVethName("eni", name, 11),
        this.vethLink(latencyNs)
      );
      net.addAddress(eth0, address, 32);
      net.addRoute(ns, `169.254.1.1/32`, eth0);
      net.addRoute(ns, "0.0.0.0/0", eth0, AWS_POD_GATEWAY);
      net.addRoute(node.ns, { address, prefixLength: 32, mask: 4294967295 }, host);
      net.addFabricNeighbour(this.fabric, address, node.eth0);
      pod = new PodNet(name, node, ns, address, eth0, host);
    }
    node.pods.push(pod);
    return pod;
  }
  /** Deletes a pod's network: its veth goes down, routes/FDB/fabric entries are removed, the address is freed. */
  removePod(pod) {
    pod.eth0.up = false;
    pod.hostVeth.up = false;
    const node = pod.node;
    if (node.bridge !== null) node.bridge.bridgePorts?.delete(pod.ip);
    else {
      node.ns.routes.remove({ address: pod.ip, prefixLength: 32, mask: 4294967295 }, pod.hostVeth.ifIndex);
      this.fabric.neighbours.delete(pod.ip);
    }
    this.usedAddresses.delete(pod.ip);
    const i = node.pods.indexOf(pod);
    if (i >= 0) node.pods.splice(i, 1);
  }
  /**
   * A machine on the nodes' own subnet that is not a node (a laptop on the same LAN, as in the
   * NodePort tutorials): attached to the fabric like a node, default route via the edge router.
   */
  addLanHost(name, address) {
    const net = this.net;
    this.claim(address, this.nodeCidr, `host ${name}`);
    const ns = net.createNamespace(`external/${name}`);
    const eth0 = net.attachToFabric(this.fabric, ns, "eth0", -1, this.fabricLink());
    net.addAddress(eth0, address, this.nodeCidr.prefixLength);
    net.addRoute(ns, "0.0.0.0/0", eth0, this.edgeIp);
    const host = new ExternalHost(name, ns, address, eth0);
    this.externals.push(host);
    return host;
  }
  /** An external host with address `ip` in the external CIDR, behind the edge router. */
  addExternalHost(name, ip) {
    const net = this.net;
    const address = ip ?? cidrAddress(this.externalCidr, this.externalIndexNext++);
    if (cidrContains(this.nodeCidr, address)) return this.addLanHost(name, address);
    const inside = cidrContains(this.externalCidr, address);
    assert(
      !this.usedAddresses.has(address) && !cidrContains(this.nodeCidr, address) && !cidrContains(this.podCidr, address),
      `external host ${name}: address in use or inside the cluster`
    );
    this.usedAddresses.add(address);
    const ns = net.createNamespace(`external/${name}`);
    const [eth0, edgeSide] = net.addVethPair(
      ns,
      "eth0",
      this.edge,
      `ext-${this.externals.length}`,
      this.vethLink(this.options.network.externalLatencyNs)
    );
    const gateway = cidrAddress(this.externalCidr, 1);
    net.addAddress(eth0, address, inside ? this.externalCidr.prefixLength : 32);
    if (!inside) {
      net.addRoute(ns, { address: gateway, prefixLength: 32, mask: 4294967295 }, eth0);
      net.addRoute(this.edge, { address, prefixLength: 32, mask: 4294967295 }, this.externalBridge);
    }
    net.addRoute(ns, "0.0.0.0/0", eth0, gateway);
    net.attachToBridge(this.externalBridge, edgeSide, address);
    const host = new ExternalHost(name, ns, address, eth0);
    this.externals.push(host);
    return host;
  }
};

// src/wire/packet.ts
var Packet = class {
  /** Unique per run, assigned by the network in send order. */
  id = 0;
  srcAddr = 0;
  dstAddr = 0;
  protocol = 0;
  srcPort = 0;
  dstPort = 0;
  ttl = 64;
  /** IP total length in bytes (headers + payload); drives serialization delay and MTU checks. */
  totalBytes = 0;
  /** Application payload bytes carried (TCP/UDP data, ICMP echo data). */
  payloadBytes = 0;
  // TCP
  tcpFlags = 0;
  tcpSeq = 0;
  tcpAck = 0;
  // ICMP
  icmpType = 0;
  icmpCode = 0;
  innerSrcAddr = 0;
  innerDstAddr = 0;
  innerProtocol = 0;
  innerSrcPort = 0;
  innerDstPort = 0;
  /** skb->mark, set by MARK targets, read by `-m mark`. */
  mark = 0;
  /** Conntrack entry this packet belongs to (-1 untracked/not yet looked up). */
  ctId = -1;
  /** 0 = original direction, 1 = reply direction of ctId. */
  ctDirection = 0;
  /** Conntrack state bits seen by `-m conntrack --ctstate` (see netfilter CtState). */
  ctState = 0;
  /** Set when conntrack must not track (NOTRACK / CT --notrack). */
  untracked = false;
  /** Application tag: request id, message id; opaque to the network. */
  appTag = 0;
  /** Application message carried by the segment that completes it (opaque to the network). */
  appData = null;
  /** Workload/flow identifier for statistics; opaque to the network. */
  flowId = 0;
  /** Simulated time the packet was first sent, for latency accounting. */
  sentNs = 0;
  /** Interface index the packet arrived on in the current namespace (-1 locally generated). */
  inIfIndex = -1;
  reset() {
    this.id = 0;
    this.srcAddr = 0;
    this.dstAddr = 0;
    this.protocol = 0;
    this.srcPort = 0;
    this.dstPort = 0;
    this.ttl = 64;
    this.totalBytes = 0;
    this.payloadBytes = 0;
    this.tcpFlags = 0;
    this.tcpSeq = 0;
    this.tcpAck = 0;
    this.icmpType = 0;
    this.icmpCode = 0;
    this.innerSrcAddr = 0;
    this.innerDstAddr = 0;
    this.innerProtocol = 0;
    this.innerSrcPort = 0;
    this.innerDstPort = 0;
    this.mark = 0;
    this.ctId = -1;
    this.ctDirection = 0;
    this.ctState = 0;
    this.untracked = false;
    this.appTag = 0;
    this.appData = null;
    this.flowId = 0;
    this.sentNs = 0;
    this.inIfIndex = -1;
  }
};

// src/wire/protocol.ts
var Protocol = { ICMP: 1, TCP: 6, UDP: 17 };
function protocolName(protocol) {
  switch (protocol) {
    case Protocol.ICMP:
      return "icmp";
    case Protocol.TCP:
      return "tcp";
    case Protocol.UDP:
      return "udp";
    default:
      return String(protocol);
  }
}
var TcpFlag = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16 };
var IcmpType = { ECHO_REPLY: 0, DEST_UNREACHABLE: 3, ECHO_REQUEST: 8, TIME_EXCEEDED: 11 };
var IcmpCode = { NET_UNREACHABLE: 0, HOST_UNREACHABLE: 1, PORT_UNREACHABLE: 3 };
var IPV4_HEADER_BYTES = 20;
var UDP_HEADER_BYTES = 8;
var TCP_HEADER_BYTES = 20;
var ICMP_HEADER_BYTES = 8;

// src/net/hooks.ts
var Hook = { PREROUTING: 0, INPUT: 1, FORWARD: 2, OUTPUT: 3, POSTROUTING: 4 };
var Verdict = {
  ACCEPT: 0,
  DROP: 1,
  /** REJECT target: the stack answers the sender (ICMP error or TCP RST, see `rejectWith`). */
  REJECT: 2,
  /**
   * NF_STOLEN: a hook took the packet over (IPVS transmits it itself, ip_vs_nat_xmit): the network
   * neither continues nor frees it, and hands its handle to `PacketFilter.takeStolen`.
   */
  STOLEN: 3
};
var RejectWith = {
  ICMP_PORT_UNREACHABLE: 0,
  ICMP_HOST_UNREACHABLE: 1,
  ICMP_NET_UNREACHABLE: 2,
  ICMP_ADMIN_PROHIBITED: 3,
  TCP_RESET: 4,
  ICMP_PROTO_UNREACHABLE: 5
};

// src/net/icmp.ts
var ICMP_CODE_PROTOCOL_UNREACHABLE = 2;
var ICMP_CODE_FRAGMENTATION_NEEDED = 4;
var ICMP_CODE_ADMIN_PROHIBITED = 13;
function icmpUnreachableErrno(code) {
  switch (code) {
    case 0:
      return NetError.NET_UNREACHABLE;
    case ICMP_CODE_PROTOCOL_UNREACHABLE:
      return NetError.PROTOCOL_UNREACHABLE;
    case 3:
      return NetError.REFUSED;
    case 6:
    case 9:
      return NetError.NET_UNREACHABLE;
    default:
      return NetError.HOST_UNREACHABLE;
  }
}
function icmpUnreachableFatal(code) {
  return !(code === 0 || code === 1 || code === ICMP_CODE_FRAGMENTATION_NEEDED || code === 5);
}
var Pinger = class {
  constructor(io, ns, identifier, listener) {
    this.io = io;
    this.ns = ns;
    this.identifier = identifier;
    this.listener = listener;
  }
  io;
  ns;
  identifier;
  listener;
  closed = false;
  /** Sends echo request `seq` to `dstAddr` (ping -s payloadBytes -t ttl). */
  send(dstAddr, seq, payloadBytes = this.io.params.pingPayloadBytes, ttl = this.io.params.defaultTtl, appTag = 0) {
    const io = this.io;
    const h = io.allocatePacket();
    const p = io.packet(h);
    p.protocol = Protocol.ICMP;
    p.icmpType = IcmpType.ECHO_REQUEST;
    p.dstAddr = dstAddr;
    p.srcPort = this.identifier;
    p.tcpSeq = seq;
    p.ttl = ttl;
    p.payloadBytes = payloadBytes;
    p.totalBytes = IPV4_HEADER_BYTES + ICMP_HEADER_BYTES + payloadBytes;
    p.appTag = appTag;
    io.sendFrom(this.ns, h);
  }
  close() {
    if (this.closed) return;
    this.closed = true;
    this.ns.pingers.delete(this.identifier);
  }
};

// src/net/route.ts
var Route = class {
  constructor(prefix2, ifIndex, via, src, metric) {
    this.prefix = prefix2;
    this.ifIndex = ifIndex;
    this.via = via;
    this.src = src;
    this.metric = metric;
  }
  prefix;
  ifIndex;
  via;
  src;
  metric;
};
var RoutingTable = class {
  routes = [];
  /** Prefix lengths in use, longest first. */
  lengths = [];
  masks = [];
  /** byLength[prefixLength]: network address -> best route for that prefix. */
  byLength = new Array(33).fill(null);
  add(route) {
    let map = this.byLength[route.prefix.prefixLength];
    if (map === null) {
      map = new IntMap();
      this.byLength[route.prefix.prefixLength] = map;
      this.lengths.push(route.prefix.prefixLength);
      this.lengths.sort((x, y) => y - x);
      this.masks = this.lengths.map((n) => n === 0 ? 0 : 4294967295 << 32 - n >>> 0);
    }
    this.routes.push(route);
    const current = map.get(route.prefix.address);
    if (current === void 0 || route.metric < current.metric) map.set(route.prefix.address, route);
  }
  /** Removes every route for `prefix` on `ifIndex` (any via). Returns how many were removed. Build-time only. */
  remove(prefix2, ifIndex) {
    const kept = this.routes.filter(
      (r) => !(r.prefix.address === prefix2.address && r.prefix.prefixLength === prefix2.prefixLength && r.ifIndex === ifIndex)
    );
    const removed = this.routes.length - kept.length;
    this.routes.length = 0;
    this.lengths = [];
    this.masks = [];
    this.byLength.fill(null);
    for (const r of kept) this.add(r);
    return removed;
  }
  /** Longest-prefix match; null when no route covers the address. */
  lookup(address) {
    const lengths = this.lengths;
    for (let i = 0; i < lengths.length; i++) {
      const route = this.byLength[lengths[i]].get((address & this.masks[i]) >>> 0);
      if (route !== void 0) return route;
    }
    return null;
  }
  /** `ip route` style listing, for tests and traces. */
  format(interfaceName) {
    return this.routes.map((r) => {
      assert(r.ifIndex >= 0, "route without device");
      const dst = r.prefix.prefixLength === 0 ? "default" : r.prefix.prefixLength === 32 ? formatIpv4(r.prefix.address) : formatCidr(r.prefix);
      const via = r.via !== 0 ? ` via ${formatIpv4(r.via)}` : "";
      const src = r.src !== 0 ? ` src ${formatIpv4(r.src)}` : "";
      return `${dst}${via} dev ${interfaceName(r.ifIndex)}${src}`;
    });
  }
};

// src/net/netns.ts
var InterfaceKind = {
  LOOPBACK: 0,
  /** One end of a veth pair (point to point: whatever is sent arrives at the peer). */
  VETH: 1,
  /** A Linux bridge (cni0), modelled at L3: its ports are host-side veths, chosen by next-hop address. */
  BRIDGE: 2,
  /** A NIC attached to a Fabric (the node network / VPC). */
  FABRIC: 3,
  /**
   * A dummy device (drivers/net/dummy.c), as IPVS-mode kube-proxy's `kube-ipvs0`: its addresses are
   * local to the namespace (fib_add_ifaddr adds the local route even while the device is down), it
   * is created down and gets no connected route while down, and whatever is sent out of it is
   * consumed without arriving anywhere (dummy_xmit frees the skb).
   */
  DUMMY: 4
};
var Fabric = class {
  constructor(name, sameZoneLatencyNs, crossZoneLatencyNs) {
    this.name = name;
    this.sameZoneLatencyNs = sameZoneLatencyNs;
    this.crossZoneLatencyNs = crossZoneLatencyNs;
  }
  name;
  sameZoneLatencyNs;
  crossZoneLatencyNs;
  /** Next-hop address -> port (node IPs; in aws-vpc also every pod IP of the node's ENI). */
  neighbours = new IntMap();
  ports = [];
  /** Zone -1 (an edge router) is at same-zone distance from every zone. */
  latencyNs(from, to) {
    if (from.zone === to.zone || from.zone < 0 || to.zone < 0) return this.sameZoneLatencyNs;
    return this.crossZoneLatencyNs;
  }
};
var NetInterface = class {
  constructor(id, ns, ifIndex, name, kind, link) {
    this.id = id;
    this.ns = ns;
    this.ifIndex = ifIndex;
    this.name = name;
    this.kind = kind;
    this.latencyNs = link.latencyNs;
    this.bandwidthBitsPerSecond = link.bandwidthBitsPerSecond;
    this.mtuBytes = link.mtuBytes;
    this.lossPartsPerMillion = link.lossPartsPerMillion;
    this.queuePacketsMax = link.queuePacketsMax;
    this.queueDepartNs = new Float64Array(Math.max(1, link.queuePacketsMax));
    this.bridgePorts = kind === InterfaceKind.BRIDGE ? new IntMap() : null;
  }
  id;
  ns;
  ifIndex;
  name;
  kind;
  /** Primary IPv4 address (0 = none, e.g. AWS host-side veths). */
  address = 0;
  /**
   * Every address assigned with Network.addAddress, in the order assigned (the order `ip addr`
   * lists them: the kernel appends to the device's ifa_list). The namespace's localAddresses map
   * answers "is this address local" on the packet path; this list answers "which, in what order".
   */
  assignedAddresses = [];
  prefixLength = 0;
  up = true;
  /** Veth: the other end. */
  peer = null;
  /** Bridge port: its bridge (packets arriving here enter the namespace "on" the bridge). */
  master = null;
  /** Bridge: address of the device behind each port -> port (the FDB, at L3). */
  bridgePorts;
  fabric = null;
  zone = 0;
  latencyNs;
  bandwidthBitsPerSecond;
  mtuBytes;
  lossPartsPerMillion;
  queuePacketsMax;
  lossRng = null;
  /** Transmitter busy until this time (last departure). */
  busyUntilNs = 0;
  /** Ring of departure times of packets still queued or in serialization. */
  queueDepartNs;
  queueHead = 0;
  queueLength = 0;
  txPackets = 0;
  txBytes = 0;
  rxPackets = 0;
};
var LOOPBACK_IFINDEX = 1;
var NetNs = class {
  constructor(id, name, ipForward, portRng, isnRng) {
    this.id = id;
    this.name = name;
    this.portRng = portRng;
    this.isnRng = isnRng;
    this.ipForward = ipForward;
  }
  id;
  name;
  portRng;
  isnRng;
  /** interfaces[ifIndex]; index 0 unused. */
  interfaces = [null];
  /** Local addresses -> interface holding them (127.0.0.0/8 is local without an entry). */
  localAddresses = new IntMap();
  routes = new RoutingTable();
  ipForward;
  /** Netfilter of this namespace; null = no hooks (fast path). */
  filter = null;
  udpSockets = new IntMap();
  tcpListeners = /* @__PURE__ */ new Map();
  /** (localPort << 16 | remotePort) -> chain of connections (TcpConnection.nextInBucket). */
  tcpConnections = /* @__PURE__ */ new Map();
  pingers = /* @__PURE__ */ new Map();
  pingIdentifierNext = 1;
  /** Cursor of the TCP ephemeral port search (see Network.allocateTcpPort). */
  tcpPortCursor = -1;
  /** Local deliveries keep FIFO order even when per-packet costs differ. */
  lastDeliverNs = 0;
  get loopback() {
    return this.interfaces[LOOPBACK_IFINDEX];
  }
  interface(ifIndex) {
    const iface = this.interfaces[ifIndex];
    if (iface === null || iface === void 0) throw new Error(`${this.name}: no interface ${ifIndex}`);
    return iface;
  }
  interfaceByName(name) {
    for (const iface of this.interfaces) if (iface !== null && iface.name === name) return iface;
    return null;
  }
  /** First non-loopback address (source of ICMP errors and MASQUERADE on address-less devices). */
  get primaryAddress() {
    for (const iface of this.interfaces)
      if (iface !== null && iface.kind !== InterfaceKind.LOOPBACK && iface.address !== 0) return iface.address;
    return 0;
  }
  isLocalAddress(address) {
    return address >>> 24 === 127 || this.localAddresses.has(address);
  }
  interfaceAddress(ifIndex) {
    const iface = this.interfaces[ifIndex];
    if (iface !== null && iface !== void 0 && iface.address !== 0) return iface.address;
    return this.primaryAddress;
  }
  /** The interface's own address (0 when it has none), for REDIRECT (nf_nat_redirect_ipv4). */
  interfaceOwnAddress(ifIndex) {
    const iface = this.interfaces[ifIndex];
    return iface === null || iface === void 0 ? 0 : iface.address;
  }
  /** Whether the interface is a bridge (-m physdev --physdev-is-in). */
  interfaceIsBridge(ifIndex) {
    const iface = this.interfaces[ifIndex];
    return iface !== null && iface !== void 0 && iface.kind === InterfaceKind.BRIDGE;
  }
  interfaceName(ifIndex) {
    const iface = this.interfaces[ifIndex];
    return iface === null || iface === void 0 ? "" : iface.name;
  }
  /** `ip route` listing. */
  formatRoutes() {
    return this.routes.format((i) => this.interfaceName(i));
  }
};

// src/net/params.ts
var DEFAULT_NET_PARAMS = {
  defaultTtl: 64,
  forwardCostNs: 0,
  loopbackLatencyNs: 0,
  loopbackMtuBytes: 65536,
  ethernetOverheadBytes: 38,
  ephemeralPortMin: 32768,
  ephemeralPortMax: 60999,
  tcpSynRtoNs: 1 * NS_PER_S,
  tcpSynRetries: 6,
  tcpSynAckRetries: 5,
  tcpRtoMinNs: 200 * NS_PER_MS,
  tcpRtoMaxNs: 120 * NS_PER_S,
  tcpDataRetries: 15,
  tcpTimeWaitNs: 60 * NS_PER_S,
  tcpFinWait2TimeoutNs: 60 * NS_PER_S,
  tcpInitialWindowSegments: 10,
  tcpWindowBytesMax: 65535,
  tcpSynOptionBytes: 20,
  pingPayloadBytes: 56
};

// src/net/tcp.ts
var TcpState = {
  CLOSED: 0,
  SYN_SENT: 1,
  SYN_RECEIVED: 2,
  ESTABLISHED: 3,
  FIN_WAIT_1: 4,
  FIN_WAIT_2: 5,
  CLOSE_WAIT: 6,
  CLOSING: 7,
  LAST_ACK: 8,
  TIME_WAIT: 9
};
var TCP_STATE_NAMES = [
  "CLOSED",
  "SYN_SENT",
  "SYN_RECEIVED",
  "ESTABLISHED",
  "FIN_WAIT_1",
  "FIN_WAIT_2",
  "CLOSE_WAIT",
  "CLOSING",
  "LAST_ACK",
  "TIME_WAIT"
];
var TcpListenSocket = class {
  constructor(ns, localAddr, localPort, listener) {
    this.ns = ns;
    this.localAddr = localAddr;
    this.localPort = localPort;
    this.listener = listener;
  }
  ns;
  localAddr;
  localPort;
  listener;
  closed = false;
  acceptedCount = 0;
  close() {
    if (this.closed) return;
    this.closed = true;
    if (this.ns.tcpListeners.get(this.localPort) === this) this.ns.tcpListeners.delete(this.localPort);
  }
};
var TIMER_NONE = -1;
var TcpConnection = class {
  constructor(engine, ns, localAddr, localPort, remoteAddr, remotePort, listener, server, flowId, mss, cwndSegments, rtoNs) {
    this.engine = engine;
    this.ns = ns;
    this.localAddr = localAddr;
    this.localPort = localPort;
    this.remoteAddr = remoteAddr;
    this.remotePort = remotePort;
    this.server = server;
    this.flowId = flowId;
    this.listener = listener;
    this.mss = mss;
    this.cwndBytes = mss * cwndSegments;
    this.rtoNs = rtoNs;
  }
  engine;
  ns;
  localAddr;
  localPort;
  remoteAddr;
  remotePort;
  server;
  flowId;
  state = TcpState.CLOSED;
  listener;
  /** Demux chain of the namespace's (localPort, remotePort) bucket. */
  nextInBucket = null;
  /** Error the connection ended with (NetError.NONE while open or after an orderly close). */
  error = NetError.NONE;
  /** Last soft error (ICMP on a synchronized connection), reported instead of ETIMEDOUT. */
  softError = NetError.NONE;
  iss = 0;
  irs = 0;
  // Sequence numbers relative to iss / irs (the SYN is 0, data starts at 1); no wrap-around.
  sndUna = 0;
  sndNxt = 0;
  sndMax = 0;
  /** End of the data queued by the application. */
  sndBufEnd = 1;
  /** Relative sequence of our FIN once close() was called, else -1. */
  finSeq = -1;
  rcvNxt = 0;
  finReceived = false;
  /** Bytes of the message being received. */
  rcvMessageBytes = 0;
  // Send queue of messages: end sequence, tag, data; from msgHead on.
  msgEnd = [];
  msgTag = [];
  msgData = [];
  msgHead = 0;
  mss;
  cwndBytes;
  srttNs = -1;
  rttvarNs = 0;
  rtoNs;
  /** Consecutive timeouts of the current (SYN, SYN-ACK or data) retransmission. */
  retries = 0;
  /** Relative sequence whose ACK completes the timed segment (-1 none), and its send time. */
  rttSeq = -1;
  rttSentNs = 0;
  timerDeadlineNs = TIMER_NONE;
  timerScheduledNs = TIMER_NONE;
  /** Slot in the engine's connection table (-1 when released). */
  slot = -1;
  /** Queues a message of `bytes` (>= 1) bytes; the peer's onMessage gets appTag/appData. */
  send(bytes, appTag = 0, appData = null) {
    assert(Number.isInteger(bytes) && bytes >= 1, `TCP message of ${bytes} bytes`);
    if (this.finSeq >= 0 || this.state === TcpState.CLOSED || this.state === TcpState.TIME_WAIT) return;
    this.sndBufEnd += bytes;
    this.msgEnd.push(this.sndBufEnd);
    this.msgTag.push(appTag);
    this.msgData.push(appData);
    this.engine.trySend(this);
  }
  /** close(2): FIN after the queued data. */
  close() {
    this.engine.close(this);
  }
  /** Abortive close (SO_LINGER 0): RST to the peer, no callback. */
  abort() {
    this.engine.abort(this);
  }
  get stateName() {
    return TCP_STATE_NAMES[this.state];
  }
};
var TcpEngine = class {
  constructor(network) {
    this.network = network;
    this.kindTimer = network.scheduler.registerKind("net/tcp-timer", this);
  }
  network;
  connections = [];
  generations = [];
  slotFree = [];
  kindTimer;
  /** Connections open (not released), for tests and statistics. */
  openCount = 0;
  // ---------------------------------------------------------------- API
  listen(ns, localAddr, port, listener) {
    assert(port > 0 && port < 65536 && !ns.tcpListeners.has(port), `${ns.name}: TCP port ${port} in use`);
    const socket = new TcpListenSocket(ns, localAddr, port, listener);
    ns.tcpListeners.set(port, socket);
    return socket;
  }
  /**
   * connect(2). Failures (refused, timeout, unreachable, no ephemeral port) arrive via onClosed.
   * `bind` is bind(2) before connect(2): a local address of `ns` (0 = chosen by the route) and a
   * port (0 = ephemeral). Binding an address `ns` does not own or a 4-tuple already in use is a
   * programmer error (EADDRNOTAVAIL / EADDRINUSE), as for udpBind.
   */
  connect(ns, dstAddr, dstPort, listener, flowId = 0, bind = null) {
    const net = this.network;
    const params = net.params;
    const bindAddr = bind === null ? 0 : bind.localAddr;
    const bindPort = bind === null ? 0 : bind.localPort;
    assert(
      bindAddr === 0 || ns.isLocalAddress(bindAddr),
      `${ns.name}: cannot bind a TCP socket to an address it does not own`
    );
    assert(bindPort >= 0 && bindPort < 65536, `bad TCP port ${bindPort}`);
    const localAddr = bindAddr !== 0 ? bindAddr : net.sourceAddressFor(ns, dstAddr);
    const mtu = net.pathMtuFor(ns, dstAddr);
    const conn = new TcpConnection(
      this,
      ns,
      localAddr,
      0,
      dstAddr,
      dstPort,
      listener,
      null,
      flowId,
      Math.max(mtu, 576) - 40,
      params.tcpInitialWindowSegments,
      params.tcpSynRtoNs
    );
    this.allocateSlot(conn);
    if (bindPort !== 0)
      assert(
        !ns.tcpListeners.has(bindPort) && this.find(ns, localAddr, bindPort, dstAddr, dstPort) === null,
        `${ns.name}: TCP port ${bindPort} in use`
      );
    const port = bindPort !== 0 ? bindPort : this.allocatePort(ns, localAddr, dstAddr, dstPort);
    if (port < 0) {
      conn.error = NetError.PORT_EXHAUSTED;
      this.arm(conn, net.scheduler.nowNs);
      return conn;
    }
    conn.localPort = port;
    conn.iss = ns.isnRng.uint32();
    conn.state = TcpState.SYN_SENT;
    this.insert(conn);
    conn.sndNxt = 1;
    conn.sndMax = 1;
    conn.rttSeq = 1;
    conn.rttSentNs = net.scheduler.nowNs;
    this.sendSegment(conn, TcpFlag.SYN, 0, 0, 0, null);
    this.arm(conn, net.scheduler.nowNs + conn.rtoNs);
    return conn;
  }
  // ---------------------------------------------------------------- demux
  find(ns, localAddr, localPort, remoteAddr, remotePort) {
    let conn = ns.tcpConnections.get(localPort * 65536 + remotePort) ?? null;
    while (conn !== null) {
      if (conn.remoteAddr === remoteAddr && conn.localAddr === localAddr) return conn;
      conn = conn.nextInBucket;
    }
    return null;
  }
  insert(conn) {
    const key = conn.localPort * 65536 + conn.remotePort;
    const map = conn.ns.tcpConnections;
    conn.nextInBucket = map.get(key) ?? null;
    map.set(key, conn);
  }
  unlink(conn) {
    const key = conn.localPort * 65536 + conn.remotePort;
    const map = conn.ns.tcpConnections;
    let prev = null;
    let c = map.get(key) ?? null;
    while (c !== null && c !== conn) {
      prev = c;
      c = c.nextInBucket;
    }
    if (c === null) return;
    if (prev === null) {
      if (conn.nextInBucket === null) map.delete(key);
      else map.set(key, conn.nextInBucket);
    } else prev.nextInBucket = conn.nextInBucket;
    conn.nextInBucket = null;
  }
  allocateSlot(conn) {
    let slot = this.slotFree.pop();
    if (slot === void 0) {
      slot = this.connections.length;
      this.connections.push(null);
      this.generations.push(0);
    }
    this.connections[slot] = conn;
    conn.slot = slot;
    this.openCount++;
  }
  release(conn) {
    if (conn.slot < 0) return;
    this.unlink(conn);
    this.connections[conn.slot] = null;
    this.generations[conn.slot] = this.generations[conn.slot] + 1 | 0;
    this.slotFree.push(conn.slot);
    conn.slot = -1;
    conn.timerDeadlineNs = TIMER_NONE;
    conn.timerScheduledNs = TIMER_NONE;
    this.openCount--;
  }
  allocatePort(ns, localAddr, remoteAddr, remotePort) {
    const params = this.network.params;
    const min = params.ephemeralPortMin;
    const count = params.ephemeralPortMax - min + 1;
    if (ns.tcpPortCursor < 0) ns.tcpPortCursor = ns.portRng.intBelow(count) & ~1;
    const start = ns.tcpPortCursor;
    for (let parity = 0; parity < 2; parity++) {
      for (let i = 0; i < count; i += 2) {
        const offset = (start + parity + i) % count;
        const port = min + offset;
        if (ns.tcpListeners.has(port)) continue;
        if (this.find(ns, localAddr, port, remoteAddr, remotePort) !== null) continue;
        ns.tcpPortCursor = (offset + 2) % count & ~1;
        return port;
      }
    }
    return -1;
  }
  // ---------------------------------------------------------------- input
  /** A segment delivered to `ns`. Returns false when no socket took it (a RST was sent). */
  receive(ns, p, nowNs) {
    const conn = this.find(ns, p.dstAddr, p.dstPort, p.srcAddr, p.srcPort);
    if (conn !== null) {
      this.segment(conn, p, nowNs);
      return true;
    }
    const flags = p.tcpFlags;
    if ((flags & TcpFlag.RST) !== 0) return false;
    const server = ns.tcpListeners.get(p.dstPort);
    if (server !== void 0 && (server.localAddr === 0 || server.localAddr === p.dstAddr) && (flags & (TcpFlag.SYN | TcpFlag.ACK)) === TcpFlag.SYN) {
      const net = this.network;
      const params = net.params;
      const mtu = net.pathMtuFor(ns, p.srcAddr);
      const c = new TcpConnection(
        this,
        ns,
        p.dstAddr,
        p.dstPort,
        p.srcAddr,
        p.srcPort,
        null,
        server,
        p.flowId,
        Math.max(mtu, 576) - 40,
        params.tcpInitialWindowSegments,
        params.tcpSynRtoNs
      );
      this.allocateSlot(c);
      c.state = TcpState.SYN_RECEIVED;
      c.iss = ns.isnRng.uint32();
      c.irs = p.tcpSeq;
      c.rcvNxt = 1;
      c.sndNxt = 1;
      c.sndMax = 1;
      c.rttSeq = 1;
      c.rttSentNs = nowNs;
      this.insert(c);
      this.sendSegment(c, TcpFlag.SYN | TcpFlag.ACK, 0, 0, 0, null);
      this.arm(c, nowNs + c.rtoNs);
      return true;
    }
    this.network.tcpReset(ns, p, nowNs);
    return false;
  }
  segment(conn, p, nowNs) {
    const flags = p.tcpFlags;
    switch (conn.state) {
      case TcpState.SYN_SENT: {
        if ((flags & TcpFlag.ACK) !== 0 && (p.tcpAck - conn.iss - 1 | 0) !== 0) {
          if ((flags & TcpFlag.RST) === 0) this.network.tcpReset(conn.ns, p, nowNs);
          return;
        }
        if ((flags & TcpFlag.RST) !== 0) {
          if ((flags & TcpFlag.ACK) !== 0) this.fail(conn, NetError.REFUSED);
          return;
        }
        if ((flags & (TcpFlag.SYN | TcpFlag.ACK)) !== (TcpFlag.SYN | TcpFlag.ACK)) return;
        conn.irs = p.tcpSeq;
        conn.rcvNxt = 1;
        conn.sndUna = 1;
        this.established(conn, nowNs);
        this.sendSegment(conn, TcpFlag.ACK, conn.sndNxt, 0, 0, null);
        if (conn.listener !== null) conn.listener.onConnected(conn);
        if (conn.slot >= 0) this.trySend(conn);
        return;
      }
      case TcpState.SYN_RECEIVED: {
        if ((flags & TcpFlag.RST) !== 0) return this.release(conn);
        if ((flags & TcpFlag.SYN) !== 0) {
          if ((flags & TcpFlag.ACK) === 0) this.sendSegment(conn, TcpFlag.SYN | TcpFlag.ACK, 0, 0, 0, null);
          return;
        }
        if ((flags & TcpFlag.ACK) === 0 || (p.tcpAck - conn.iss - 1 | 0) !== 0) return;
        conn.sndUna = 1;
        this.established(conn, nowNs);
        const server = conn.server;
        server.acceptedCount++;
        conn.listener = server.listener.onAccept(server, conn);
        conn.listener.onConnected(conn);
        if (conn.slot < 0) return;
        break;
      }
      case TcpState.TIME_WAIT:
        if ((flags & TcpFlag.RST) !== 0) return this.release(conn);
        if ((flags & TcpFlag.FIN) !== 0) {
          this.sendSegment(conn, TcpFlag.ACK, conn.sndNxt, 0, 0, null);
          this.arm(conn, nowNs + this.network.params.tcpTimeWaitNs);
        }
        return;
      case TcpState.CLOSED:
        return;
    }
    this.synchronized(conn, p, nowNs);
  }
  established(conn, nowNs) {
    conn.state = TcpState.ESTABLISHED;
    if (conn.rttSeq >= 0 && conn.retries === 0) this.sampleRtt(conn, nowNs - conn.rttSentNs);
    else if (conn.srttNs < 0) conn.rtoNs = 3 * this.network.params.tcpSynRtoNs;
    conn.rttSeq = -1;
    conn.retries = 0;
    this.disarm(conn);
  }
  /** Segment processing for ESTABLISHED and the closing states. */
  synchronized(conn, p, nowNs) {
    const flags = p.tcpFlags;
    const seqRel = conn.rcvNxt + (p.tcpSeq - conn.irs - conn.rcvNxt | 0);
    if ((flags & TcpFlag.RST) !== 0) {
      if (seqRel === conn.rcvNxt) this.fail(conn, NetError.RESET);
      return;
    }
    if ((flags & TcpFlag.SYN) !== 0) {
      this.sendSegment(conn, TcpFlag.ACK, conn.sndNxt, 0, 0, null);
      return;
    }
    if ((flags & TcpFlag.ACK) !== 0) {
      const ackRel = conn.sndUna + (p.tcpAck - conn.iss - conn.sndUna | 0);
      if (ackRel > conn.sndUna && ackRel <= conn.sndMax) {
        this.acknowledged(conn, ackRel, nowNs);
        if (conn.slot < 0) return;
      }
    }
    let ack = false;
    let messageBytes = 0;
    let messageTag = 0;
    let messageData = null;
    let message = false;
    const len = p.payloadBytes;
    const receiving = conn.state === TcpState.ESTABLISHED || conn.state === TcpState.FIN_WAIT_1 || conn.state === TcpState.FIN_WAIT_2;
    if (len > 0) {
      ack = true;
      if (seqRel === conn.rcvNxt && receiving) {
        conn.rcvNxt += len;
        conn.rcvMessageBytes += len;
        if ((flags & TcpFlag.PSH) !== 0) {
          message = true;
          messageBytes = conn.rcvMessageBytes;
          messageTag = p.appTag;
          messageData = p.appData;
          conn.rcvMessageBytes = 0;
        }
      }
    }
    let peerClosed = false;
    if ((flags & TcpFlag.FIN) !== 0) {
      ack = true;
      if (!conn.finReceived && seqRel + len === conn.rcvNxt && receiving) {
        conn.rcvNxt += 1;
        conn.finReceived = true;
        peerClosed = true;
        if (conn.state === TcpState.ESTABLISHED) conn.state = TcpState.CLOSE_WAIT;
        else if (conn.state === TcpState.FIN_WAIT_1) conn.state = TcpState.CLOSING;
        else if (conn.state === TcpState.FIN_WAIT_2) conn.state = TcpState.TIME_WAIT;
      }
    }
    if (ack) this.sendSegment(conn, TcpFlag.ACK, conn.sndNxt, 0, 0, null);
    const listener = conn.listener;
    if (message && listener !== null) listener.onMessage(conn, messageBytes, messageTag, messageData);
    if (peerClosed && listener !== null && conn.slot >= 0) listener.onPeerClosed(conn);
    if (conn.state === TcpState.TIME_WAIT && peerClosed) this.enterTimeWait(conn, nowNs);
    else if (conn.slot >= 0) this.trySend(conn);
  }
  acknowledged(conn, ackRel, nowNs) {
    const params = this.network.params;
    const acked = ackRel - conn.sndUna;
    conn.sndUna = ackRel;
    if (conn.sndNxt < ackRel) conn.sndNxt = ackRel;
    if (conn.rttSeq >= 0 && ackRel >= conn.rttSeq) {
      this.sampleRtt(conn, nowNs - conn.rttSentNs);
      conn.rttSeq = -1;
    } else if (conn.retries > 0 && conn.srttNs >= 0) this.updateRto(conn);
    conn.retries = 0;
    conn.cwndBytes = Math.min(conn.cwndBytes + acked, params.tcpWindowBytesMax);
    while (conn.msgHead < conn.msgEnd.length && conn.msgEnd[conn.msgHead] <= ackRel) {
      conn.msgData[conn.msgHead] = null;
      conn.msgHead++;
    }
    if (conn.msgHead > 64 && conn.msgHead * 2 > conn.msgEnd.length) {
      conn.msgEnd.splice(0, conn.msgHead);
      conn.msgTag.splice(0, conn.msgHead);
      conn.msgData.splice(0, conn.msgHead);
      conn.msgHead = 0;
    }
    if (conn.finSeq >= 0 && ackRel > conn.finSeq) {
      if (conn.state === TcpState.FIN_WAIT_1) {
        conn.state = TcpState.FIN_WAIT_2;
        this.arm(conn, nowNs + params.tcpFinWait2TimeoutNs);
        return;
      }
      if (conn.state === TcpState.CLOSING) {
        conn.state = TcpState.TIME_WAIT;
        this.enterTimeWait(conn, nowNs);
        return;
      }
      if (conn.state === TcpState.LAST_ACK) {
        conn.state = TcpState.CLOSED;
        this.release(conn);
        if (conn.listener !== null) conn.listener.onClosed(conn, NetError.NONE);
        return;
      }
    }
    if (conn.sndUna === conn.sndMax) this.disarm(conn);
    else this.arm(conn, nowNs + conn.rtoNs);
  }
  enterTimeWait(conn, nowNs) {
    this.arm(conn, nowNs + this.network.params.tcpTimeWaitNs);
    if (conn.listener !== null) conn.listener.onClosed(conn, NetError.NONE);
  }
  sampleRtt(conn, rttNs) {
    if (conn.srttNs < 0) {
      conn.srttNs = rttNs;
      conn.rttvarNs = Math.floor(rttNs / 2);
    } else {
      conn.rttvarNs = Math.floor((3 * conn.rttvarNs + Math.abs(conn.srttNs - rttNs)) / 4);
      conn.srttNs = Math.floor((7 * conn.srttNs + rttNs) / 8);
    }
    this.updateRto(conn);
  }
  updateRto(conn) {
    const params = this.network.params;
    const rto = conn.srttNs + Math.max(4 * conn.rttvarNs, params.tcpRtoMinNs);
    conn.rtoNs = Math.min(Math.max(rto, params.tcpRtoMinNs), params.tcpRtoMaxNs);
  }
  /** ICMP error (or local routing failure) about a segment of localAddr:localPort -> remote. */
  error(ns, localAddr, localPort, remoteAddr, remotePort, error) {
    const conn = this.find(ns, localAddr, localPort, remoteAddr, remotePort);
    if (conn === null) return;
    if (conn.state === TcpState.SYN_SENT) this.fail(conn, error);
    else conn.softError = error;
  }
  // ---------------------------------------------------------------- output
  trySend(conn) {
    const s = conn.state;
    if (!(s === TcpState.ESTABLISHED || s === TcpState.CLOSE_WAIT || s === TcpState.FIN_WAIT_1 || s === TcpState.CLOSING || s === TcpState.LAST_ACK))
      return;
    const nowNs = this.network.scheduler.nowNs;
    const window = conn.cwndBytes;
    let i = conn.msgHead;
    while (conn.sndNxt < conn.sndBufEnd) {
      const inFlight = conn.sndNxt - conn.sndUna;
      if (inFlight >= window) break;
      while (conn.msgEnd[i] <= conn.sndNxt) i++;
      const end = conn.msgEnd[i];
      const len = Math.min(conn.mss, end - conn.sndNxt, window - inFlight);
      const push2 = conn.sndNxt + len === end;
      if (conn.rttSeq < 0 && conn.sndNxt === conn.sndMax) {
        conn.rttSeq = conn.sndNxt + len;
        conn.rttSentNs = nowNs;
      }
      this.sendSegment(
        conn,
        push2 ? TcpFlag.ACK | TcpFlag.PSH : TcpFlag.ACK,
        conn.sndNxt,
        len,
        push2 ? conn.msgTag[i] : 0,
        push2 ? conn.msgData[i] : null
      );
      conn.sndNxt += len;
      if (conn.sndNxt > conn.sndMax) conn.sndMax = conn.sndNxt;
    }
    if (conn.finSeq >= 0 && conn.sndNxt === conn.finSeq) {
      this.sendSegment(conn, TcpFlag.FIN | TcpFlag.ACK, conn.finSeq, 0, 0, null);
      conn.sndNxt = conn.finSeq + 1;
      if (conn.sndNxt > conn.sndMax) conn.sndMax = conn.sndNxt;
    }
    if (conn.sndUna < conn.sndMax && conn.timerDeadlineNs === TIMER_NONE) this.arm(conn, nowNs + conn.rtoNs);
  }
  sendSegment(conn, flags, seqRel, len, appTag, appData) {
    const net = this.network;
    const h = net.allocatePacket();
    const p = net.packet(h);
    p.protocol = Protocol.TCP;
    p.srcAddr = conn.localAddr;
    p.dstAddr = conn.remoteAddr;
    p.srcPort = conn.localPort;
    p.dstPort = conn.remotePort;
    p.ttl = net.params.defaultTtl;
    p.tcpFlags = flags;
    p.tcpSeq = conn.iss + seqRel >>> 0;
    p.tcpAck = (flags & TcpFlag.ACK) !== 0 ? conn.irs + conn.rcvNxt >>> 0 : 0;
    p.payloadBytes = len;
    p.totalBytes = IPV4_HEADER_BYTES + TCP_HEADER_BYTES + len + ((flags & TcpFlag.SYN) !== 0 ? net.params.tcpSynOptionBytes : 0);
    p.appTag = appTag;
    p.appData = appData;
    p.flowId = conn.flowId;
    net.sendFrom(conn.ns, h);
  }
  close(conn) {
    switch (conn.state) {
      case TcpState.SYN_SENT:
      case TcpState.SYN_RECEIVED:
        conn.state = TcpState.CLOSED;
        this.release(conn);
        return;
      case TcpState.ESTABLISHED:
        conn.finSeq = conn.sndBufEnd;
        conn.state = TcpState.FIN_WAIT_1;
        this.trySend(conn);
        return;
      case TcpState.CLOSE_WAIT:
        conn.finSeq = conn.sndBufEnd;
        conn.state = TcpState.LAST_ACK;
        this.trySend(conn);
        return;
    }
  }
  abort(conn) {
    if (conn.slot < 0) return;
    const s = conn.state;
    if (s !== TcpState.SYN_SENT && s !== TcpState.CLOSED && s !== TcpState.TIME_WAIT)
      this.sendSegment(conn, TcpFlag.RST | TcpFlag.ACK, conn.sndNxt, 0, 0, null);
    conn.state = TcpState.CLOSED;
    this.release(conn);
  }
  fail(conn, error) {
    conn.state = TcpState.CLOSED;
    conn.error = error;
    this.release(conn);
    if (conn.listener !== null) conn.listener.onClosed(conn, error);
  }
  // ---------------------------------------------------------------- timer
  arm(conn, deadlineNs) {
    conn.timerDeadlineNs = deadlineNs;
    if (conn.timerScheduledNs === TIMER_NONE || deadlineNs < conn.timerScheduledNs) {
      const slot = conn.slot;
      this.generations[slot] = this.generations[slot] + 1 | 0;
      conn.timerScheduledNs = deadlineNs;
      this.network.scheduler.schedule(deadlineNs, this.kindTimer, slot, this.generations[slot]);
    }
  }
  disarm(conn) {
    conn.timerDeadlineNs = TIMER_NONE;
  }
  handleEvent(_kind, slot, generation, nowNs) {
    const conn = this.connections[slot];
    if (conn === null || conn === void 0 || this.generations[slot] !== generation) return;
    conn.timerScheduledNs = TIMER_NONE;
    const deadline = conn.timerDeadlineNs;
    if (deadline === TIMER_NONE) return;
    if (nowNs < deadline) {
      this.arm(conn, deadline);
      return;
    }
    conn.timerDeadlineNs = TIMER_NONE;
    this.timeout(conn, nowNs);
  }
  timeout(conn, nowNs) {
    const params = this.network.params;
    switch (conn.state) {
      case TcpState.CLOSED:
        this.fail(conn, conn.error);
        return;
      case TcpState.SYN_SENT:
        if (conn.retries >= params.tcpSynRetries)
          return this.fail(conn, conn.softError !== NetError.NONE ? conn.softError : NetError.TIMEOUT);
        conn.retries++;
        conn.rtoNs = Math.min(conn.rtoNs * 2, params.tcpRtoMaxNs);
        this.sendSegment(conn, TcpFlag.SYN, 0, 0, 0, null);
        this.arm(conn, nowNs + conn.rtoNs);
        return;
      case TcpState.SYN_RECEIVED:
        if (conn.retries >= params.tcpSynAckRetries) {
          conn.state = TcpState.CLOSED;
          return this.release(conn);
        }
        conn.retries++;
        conn.rtoNs = Math.min(conn.rtoNs * 2, params.tcpRtoMaxNs);
        this.sendSegment(conn, TcpFlag.SYN | TcpFlag.ACK, 0, 0, 0, null);
        this.arm(conn, nowNs + conn.rtoNs);
        return;
      case TcpState.TIME_WAIT:
        conn.state = TcpState.CLOSED;
        return this.release(conn);
      case TcpState.FIN_WAIT_2:
        conn.state = TcpState.CLOSED;
        this.release(conn);
        if (conn.listener !== null) conn.listener.onClosed(conn, NetError.NONE);
        return;
      default:
        if (conn.sndUna === conn.sndMax) return;
        if (conn.retries >= params.tcpDataRetries)
          return this.fail(conn, conn.softError !== NetError.NONE ? conn.softError : NetError.TIMEOUT);
        conn.retries++;
        conn.rtoNs = Math.min(conn.rtoNs * 2, params.tcpRtoMaxNs);
        conn.cwndBytes = conn.mss;
        conn.rttSeq = -1;
        conn.sndNxt = conn.sndUna;
        this.trySend(conn);
        if (conn.timerDeadlineNs === TIMER_NONE) this.arm(conn, nowNs + conn.rtoNs);
    }
  }
};

// src/net/udp.ts
var UdpSocket = class {
  constructor(io, ns, localAddr, localPort, listener, reuse = false) {
    this.io = io;
    this.ns = ns;
    this.localAddr = localAddr;
    this.localPort = localPort;
    this.listener = listener;
    this.reuse = reuse;
  }
  io;
  ns;
  localAddr;
  localPort;
  listener;
  reuse;
  /**
   * Next socket bound to the same port on another local address: the namespace's table maps a
   * port to the chain's head (one entry in the common case, so the lookup stays one map get).
   */
  next = null;
  remoteAddr = 0;
  /** 0 = not connected. */
  remotePort = 0;
  closed = false;
  /** connect(2): fixes the peer; the socket then receives only from it and sees hard ICMP errors. */
  connect(remoteAddr, remotePort) {
    this.remoteAddr = remoteAddr;
    this.remotePort = remotePort;
  }
  sendTo(dstAddr, dstPort, payloadBytes, appTag = 0, appData = null, flowId = 0) {
    if (this.closed) return;
    const io = this.io;
    const h = io.allocatePacket();
    const p = io.packet(h);
    p.protocol = Protocol.UDP;
    p.srcAddr = this.localAddr;
    p.dstAddr = dstAddr;
    p.srcPort = this.localPort;
    p.dstPort = dstPort;
    p.ttl = io.params.defaultTtl;
    p.payloadBytes = payloadBytes;
    p.totalBytes = IPV4_HEADER_BYTES + UDP_HEADER_BYTES + payloadBytes;
    p.appTag = appTag;
    p.appData = appData;
    p.flowId = flowId;
    io.sendFrom(this.ns, h);
  }
  /** send(2) on a connected socket. */
  send(payloadBytes, appTag = 0, appData = null, flowId = 0) {
    this.sendTo(this.remoteAddr, this.remotePort, payloadBytes, appTag, appData, flowId);
  }
  close() {
    if (this.closed) return;
    this.closed = true;
    const table = this.ns.udpSockets;
    const head = table.get(this.localPort);
    if (head === this) {
      if (this.next === null) table.delete(this.localPort);
      else table.set(this.localPort, this.next);
    } else
      for (let s = head ?? null; s !== null; s = s.next)
        if (s.next === this) {
          s.next = this.next;
          break;
        }
    this.next = null;
  }
};
function udpLookup(head, localAddr) {
  if (head === void 0) return null;
  if (head.next === null) return head.localAddr === localAddr || head.localAddr === 0 ? head : null;
  let wildcard = null;
  for (let s = head; s !== null; s = s.next) {
    if (s.localAddr === localAddr) return s;
    if (s.localAddr === 0) wildcard = s;
  }
  return wildcard;
}
function udpBindConflicts(head, localAddr, reuse) {
  for (let s = head ?? null; s !== null; s = s.next) {
    if (s.localAddr === localAddr) return true;
    if ((s.localAddr === 0 || localAddr === 0) && !(s.reuse && reuse)) return true;
  }
  return false;
}

// src/net/network.ts
var NetCounters = class {
  sent = 0;
  delivered = 0;
  dropped = 0;
  forwarded = 0;
  transmitted = 0;
  /** droppedByReason[DropReason]. */
  droppedByReason = new Float64Array(32);
  inFlight = 0;
};
var PACKET_TABLE_INITIAL = 256;
var ICMP_ERROR_ROOM_BYTES = 576 - IPV4_HEADER_BYTES - ICMP_HEADER_BYTES;
var Network = class {
  constructor(scheduler, seed, params = {}) {
    this.scheduler = scheduler;
    this.seed = seed;
    this.params = { ...DEFAULT_NET_PARAMS, ...params };
    this.kindArrive = scheduler.registerKind("net/arrive", this);
    this.kindDeliver = scheduler.registerKind("net/deliver", this);
    this.kindLocalError = scheduler.registerKind("net/local-error", this);
    for (let i = 0; i < PACKET_TABLE_INITIAL; i++) {
      this.packets.push(new Packet());
      this.packetFree.push(PACKET_TABLE_INITIAL - 1 - i);
    }
    this.tcp = new TcpEngine(this);
  }
  scheduler;
  seed;
  params;
  counters = new NetCounters();
  observer = null;
  namespaces = [];
  /** interfaces[id] for every interface of every namespace. */
  interfaces = [];
  fabrics = [];
  tcp;
  packets = [];
  packetFree = [];
  packetIdNext = 1;
  kindArrive;
  kindDeliver;
  kindLocalError;
  // ---------------------------------------------------------------- building
  createNamespace(name, options = {}) {
    const ns = new NetNs(
      this.namespaces.length,
      name,
      options.ipForward ?? false,
      Rng.stream(this.seed, `net/ns/${name}/ports`),
      Rng.stream(this.seed, `net/ns/${name}/tcp-isn`)
    );
    this.namespaces.push(ns);
    const lo = this.addInterface(ns, "lo", InterfaceKind.LOOPBACK, {
      latencyNs: this.params.loopbackLatencyNs,
      bandwidthBitsPerSecond: 0,
      mtuBytes: this.params.loopbackMtuBytes,
      lossPartsPerMillion: 0,
      queuePacketsMax: 1 << 16
    });
    assert(lo.ifIndex === LOOPBACK_IFINDEX);
    lo.address = 2130706433;
    lo.prefixLength = 8;
    return ns;
  }
  addInterface(ns, name, kind, link) {
    assert(ns.interfaceByName(name) === null, `${ns.name}: interface ${name} exists`);
    assert(Number.isSafeInteger(link.latencyNs) && link.latencyNs >= 0, `bad latency ${link.latencyNs}`);
    assert(
      link.bandwidthBitsPerSecond >= 0 && link.mtuBytes >= 68 && link.queuePacketsMax >= 1,
      `bad link options for ${name}`
    );
    assert(
      Number.isInteger(link.lossPartsPerMillion) && link.lossPartsPerMillion >= 0 && link.lossPartsPerMillion <= 1e6,
      "loss in ppm"
    );
    const iface = new NetInterface(this.interfaces.length, ns, ns.interfaces.length, name, kind, link);
    if (link.lossPartsPerMillion > 0) iface.lossRng = Rng.stream(this.seed, `net/link/${ns.name}/${name}/loss`);
    this.interfaces.push(iface);
    ns.interfaces.push(iface);
    return iface;
  }
  /** `ip link add nameA type veth peer name nameB`, the two ends in nsA and nsB; both directions share `link`. */
  addVethPair(nsA, nameA, nsB, nameB, link) {
    const a = this.addInterface(nsA, nameA, InterfaceKind.VETH, link);
    const b = this.addInterface(nsB, nameB, InterfaceKind.VETH, link);
    a.peer = b;
    b.peer = a;
    return [a, b];
  }
  /** A bridge device (cni0). Its ports are added with attachToBridge. */
  addBridge(ns, name, mtuBytes) {
    return this.addInterface(ns, name, InterfaceKind.BRIDGE, {
      latencyNs: 0,
      bandwidthBitsPerSecond: 0,
      mtuBytes,
      lossPartsPerMillion: 0,
      queuePacketsMax: 1
    });
  }
  /** `ip link set port master bridge`; `deviceAddress` is the address of the device behind the port (bridge FDB at L3). */
  attachToBridge(bridge, port, deviceAddress) {
    assert(
      bridge.kind === InterfaceKind.BRIDGE && port.kind === InterfaceKind.VETH && port.ns === bridge.ns,
      "bridge port must be a veth in the bridge's namespace"
    );
    port.master = bridge;
    bridge.bridgePorts.set(deviceAddress, port);
  }
  /** `ip link add NAME type dummy` (created down, as kube-proxy leaves kube-ipvs0). */
  addDummy(ns, name) {
    const iface = this.addInterface(ns, name, InterfaceKind.DUMMY, {
      latencyNs: 0,
      bandwidthBitsPerSecond: 0,
      mtuBytes: 1500,
      lossPartsPerMillion: 0,
      queuePacketsMax: 1
    });
    iface.up = false;
    return iface;
  }
  createFabric(name, sameZoneLatencyNs, crossZoneLatencyNs) {
    const fabric = new Fabric(name, sameZoneLatencyNs, crossZoneLatencyNs);
    this.fabrics.push(fabric);
    return fabric;
  }
  /** A NIC in `ns` attached to `fabric`; `zone` -1 = edge (same-zone distance to everyone). */
  attachToFabric(fabric, ns, name, zone, link) {
    const iface = this.addInterface(ns, name, InterfaceKind.FABRIC, { ...link, latencyNs: 0 });
    iface.fabric = fabric;
    iface.zone = zone;
    fabric.ports.push(iface);
    return iface;
  }
  /**
   * `ip addr add address/prefixLength dev iface`: a local address and its connected route (none for
   * /32). The first address becomes the interface's primary address. On a fabric NIC the address is
   * also registered as a fabric neighbour.
   */
  addAddress(iface, address, prefixLength) {
    const ns = iface.ns;
    assert(!ns.localAddresses.has(address), `${ns.name}: address already assigned`);
    ns.localAddresses.set(address, iface);
    iface.assignedAddresses.push(address);
    if (iface.address === 0) {
      iface.address = address;
      iface.prefixLength = prefixLength;
    }
    if (prefixLength < 32 && (iface.kind !== InterfaceKind.DUMMY || iface.up)) {
      const mask = maskOf(prefixLength);
      ns.routes.add(new Route({ address: (address & mask) >>> 0, prefixLength, mask }, iface.ifIndex, 0, address, 0));
    }
    if (iface.fabric !== null) this.addFabricNeighbour(iface.fabric, address, iface);
  }
  /**
   * `ip addr del address/32 dev iface` (kube-proxy unbinding a VIP from kube-ipvs0): the address is
   * no longer local. Only host (/32) addresses, which have no connected route; the primary address
   * moves to the interface's next one (0 when none is left).
   */
  removeAddress(iface, address) {
    const ns = iface.ns;
    assert(ns.localAddresses.get(address) === iface, `${ns.name}: ${iface.name} does not hold the address`);
    assert(iface.address !== address || iface.prefixLength === 32, "only /32 addresses are removed");
    ns.localAddresses.delete(address);
    const list = iface.assignedAddresses;
    list.splice(list.indexOf(address), 1);
    if (iface.address === address) iface.address = list.length > 0 ? list[0] : 0;
  }
  /** The fabric delivers packets for `address` to `iface` (VPC: ENI secondary IPs of a node). */
  addFabricNeighbour(fabric, address, iface) {
    assert(iface.fabric === fabric, "neighbour must be a port of the fabric");
    fabric.neighbours.set(address, iface);
  }
  /** `ip route add prefix [via gw] dev iface [src s]`. `prefix` as Cidr or text. */
  addRoute(ns, prefix2, iface, via = 0, src = 0, metric = 0) {
    assert(iface.ns === ns, "route device must be in the namespace");
    const route = new Route(
      typeof prefix2 === "string" ? cidr(prefix2) : prefix2,
      iface.ifIndex,
      via,
      src,
      metric
    );
    ns.routes.add(route);
    return route;
  }
  // ---------------------------------------------------------------- packet table
  /** Takes a packet from the pool, reset, with a fresh id. Counted in flight once `send`/`output` is called. */
  allocatePacket() {
    let handle = this.packetFree.pop();
    if (handle === void 0) {
      handle = this.packets.length;
      this.packets.push(new Packet());
    }
    const packet = this.packets[handle];
    packet.reset();
    packet.id = this.packetIdNext++;
    return handle;
  }
  packet(handle) {
    return this.packets[handle];
  }
  /** Live packets in the table (independent of the counters; the conservation test compares them). */
  get livePacketCount() {
    return this.packets.length - this.packetFree.length;
  }
  free(handle) {
    this.packets[handle].appData = null;
    this.packetFree.push(handle);
    this.counters.inFlight--;
  }
  drop(handle, reason2, ns) {
    const filter = ns.filter;
    if (filter !== null && this.packets[handle].ctId >= 0 && filter.discard !== void 0)
      filter.discard(this.packets[handle]);
    const c = this.counters;
    c.dropped++;
    c.droppedByReason[reason2]++;
    if (this.observer !== null) this.observer.onDrop(this.packets[handle], reason2, ns.id, this.scheduler.nowNs);
    this.free(handle);
  }
  /** Marks a packet consumed by `ns`'s stack or one of its sockets. */
  delivered(handle, ns) {
    this.counters.delivered++;
    if (this.observer !== null) this.observer.onDeliver(this.packets[handle], ns.id, this.scheduler.nowNs);
    this.free(handle);
  }
  // ---------------------------------------------------------------- events
  handleEvent(kind, a, b, nowNs) {
    if (kind === this.kindArrive) {
      if (b >= 0) this.receive(this.interfaces[b], a, nowNs);
      else this.drop(a, DropReason.LINK_LOSS, this.interfaces[-b - 1].ns);
    } else if (kind === this.kindDeliver) {
      this.deliver(this.namespaces[b], a, nowNs);
    } else if (kind === this.kindLocalError) {
      const ns = this.namespaces[b];
      const p = this.packets[a];
      this.socketError(
        ns,
        p.protocol,
        p.srcAddr,
        p.srcPort,
        p.dstAddr,
        p.dstPort,
        p.tcpSeq,
        p.appTag,
        NetError.NET_UNREACHABLE,
        true,
        true
      );
      this.drop(a, DropReason.NO_ROUTE, ns);
    }
  }
  // ---------------------------------------------------------------- output path
  /**
   * Sends a locally generated packet from `ns` (ip_local_out): fills srcAddr from the route when 0,
   * sets sentNs (default: readyNs; an echo reply keeps its request's), counts it sent, then route -> OUTPUT -> re-route -> POSTROUTING -> transmit.
   * `readyNs` (>= now) is when the stack hands it over (after earlier processing costs).
   */
  send(ns, handle, readyNs = this.scheduler.nowNs, sentNs = readyNs) {
    const p = this.packets[handle];
    const c = this.counters;
    c.sent++;
    c.inFlight++;
    p.sentNs = sentNs;
    if (this.observer !== null) this.observer.onSend(p, ns.id, readyNs);
    this.output(ns, handle, readyNs);
  }
  /** The namespace a socket's `ns` (the narrow view of net/io.ts) is. */
  namespaceOf(ns) {
    return this.namespaces[ns.id];
  }
  /** NetIo.sendFrom: a socket's packet, sent now from its namespace. */
  sendFrom(ns, handle) {
    this.send(this.namespaceOf(ns), handle);
  }
  output(ns, handle, readyNs) {
    const p = this.packets[handle];
    const nowNs = this.scheduler.nowNs;
    let route = null;
    let iface;
    const local = ns.isLocalAddress(p.dstAddr);
    if (local) iface = ns.loopback;
    else {
      route = ns.routes.lookup(p.dstAddr);
      if (route === null) {
        this.scheduler.schedule(readyNs, this.kindLocalError, handle, ns.id);
        return;
      }
      iface = ns.interfaces[route.ifIndex];
    }
    if (p.srcAddr === 0)
      p.srcAddr = local ? p.dstAddr : route !== null && route.src !== 0 ? route.src : ns.interfaceAddress(iface.ifIndex);
    let costNs = 0;
    const filter = ns.filter;
    if (filter !== null) {
      const dstBefore = p.dstAddr;
      const verdict2 = filter.runHook(Hook.OUTPUT, p, -1, iface.ifIndex, nowNs);
      costNs += filter.lastCostNs;
      if (verdict2 !== Verdict.ACCEPT) return this.refuse(ns, filter, verdict2, handle, readyNs + costNs);
      if (p.dstAddr !== dstBefore) {
        if (ns.isLocalAddress(p.dstAddr)) {
          route = null;
          iface = ns.loopback;
        } else {
          route = ns.routes.lookup(p.dstAddr);
          if (route === null) return this.drop(handle, DropReason.NO_ROUTE, ns);
          iface = ns.interfaces[route.ifIndex];
        }
      }
      const verdict22 = filter.runHook(Hook.POSTROUTING, p, -1, iface.ifIndex, nowNs);
      costNs += filter.lastCostNs;
      if (verdict22 !== Verdict.ACCEPT) return this.refuse(ns, filter, verdict22, handle, readyNs + costNs);
    }
    const nextHop = route !== null && route.via !== 0 ? route.via : p.dstAddr;
    this.transmit(iface, nextHop, handle, readyNs + costNs);
  }
  /**
   * A stolen packet, rewritten by its new owner, sent on from `ns` at `readyNs` as a locally
   * generated one: route -> OUTPUT -> POSTROUTING -> transmit (ip_vs_nat_send_or_cont: NF_HOOK at
   * LOCAL_OUT, then dst_output). Not counted as sent again: it is still the same packet in flight.
   */
  resumeStolen(ns, handle, readyNs = this.scheduler.nowNs) {
    this.output(ns, handle, readyNs);
  }
  /** The owner of a stolen packet drops it (counted by `reason`, its unconfirmed conntrack freed). */
  dropStolen(ns, handle, reason2) {
    this.drop(handle, reason2, ns);
  }
  // ---------------------------------------------------------------- input path
  receive(iface, handle, nowNs) {
    const ns = iface.ns;
    const p = this.packets[handle];
    iface.rxPackets++;
    if (iface.kind !== InterfaceKind.LOOPBACK) {
      p.ctId = -1;
      p.ctDirection = 0;
      p.ctState = 0;
      p.untracked = false;
      p.mark = 0;
    }
    if (!iface.up) return this.drop(handle, DropReason.INTERFACE_DOWN, ns);
    const inIf = iface.master !== null ? iface.master : iface;
    p.inIfIndex = inIf.ifIndex;
    const dstBefore = p.dstAddr;
    const filter = ns.filter;
    let costNs = 0;
    if (filter !== null) {
      const verdict2 = filter.runHook(Hook.PREROUTING, p, inIf.ifIndex, -1, nowNs);
      costNs += filter.lastCostNs;
      if (verdict2 !== Verdict.ACCEPT) return this.refuse(ns, filter, verdict2, handle, nowNs + costNs);
    }
    if (ns.isLocalAddress(p.dstAddr)) {
      if (filter !== null) {
        const verdict2 = filter.runHook(Hook.INPUT, p, inIf.ifIndex, -1, nowNs);
        costNs += filter.lastCostNs;
        if (verdict2 !== Verdict.ACCEPT) return this.refuse(ns, filter, verdict2, handle, nowNs + costNs);
      }
      let atNs = nowNs + costNs;
      if (atNs < ns.lastDeliverNs) atNs = ns.lastDeliverNs;
      ns.lastDeliverNs = atNs;
      if (atNs === nowNs) this.deliver(ns, handle, nowNs);
      else {
        this.scheduler.stagedTimeNs = atNs;
        this.scheduler.scheduleStaged(this.kindDeliver, handle, ns.id);
      }
      return;
    }
    if (!ns.ipForward) return this.drop(handle, DropReason.NO_ROUTE, ns);
    const route = ns.routes.lookup(p.dstAddr);
    if (route === null) {
      this.icmpError(ns, p, IcmpType.DEST_UNREACHABLE, IcmpCode.NET_UNREACHABLE, nowNs + costNs);
      return this.drop(handle, DropReason.NO_ROUTE, ns);
    }
    const out = ns.interfaces[route.ifIndex];
    const bridged = out === inIf && inIf.kind === InterfaceKind.BRIDGE && inIf.prefixLength > 0 && (p.dstAddr !== dstBefore || ((dstBefore ^ inIf.address) & maskOf(inIf.prefixLength)) === 0);
    if (!bridged) {
      if (p.ttl <= 1) {
        this.icmpError(ns, p, IcmpType.TIME_EXCEEDED, 0, nowNs + costNs);
        return this.drop(handle, DropReason.TTL_EXPIRED, ns);
      }
      p.ttl--;
      costNs += this.params.forwardCostNs;
    }
    if (filter !== null) {
      const verdict2 = filter.runHook(Hook.FORWARD, p, inIf.ifIndex, out.ifIndex, nowNs);
      costNs += filter.lastCostNs;
      if (verdict2 !== Verdict.ACCEPT) return this.refuse(ns, filter, verdict2, handle, nowNs + costNs);
      const verdict22 = filter.runHook(Hook.POSTROUTING, p, -1, out.ifIndex, nowNs);
      costNs += filter.lastCostNs;
      if (verdict22 !== Verdict.ACCEPT) return this.refuse(ns, filter, verdict22, handle, nowNs + costNs);
    }
    this.counters.forwarded++;
    this.transmit(out, route.via !== 0 ? route.via : p.dstAddr, handle, nowNs + costNs);
  }
  /** DROP, REJECT or STOLEN verdict at a hook. */
  refuse(ns, filter, verdict2, handle, readyNs) {
    if (verdict2 === Verdict.DROP) return this.drop(handle, filter.lastDropReason, ns);
    if (verdict2 === Verdict.STOLEN) {
      if (filter.takeStolen === void 0) throw new Error("net: a filter returned STOLEN without takeStolen");
      filter.takeStolen(handle, this.packets[handle], readyNs);
      return;
    }
    const p = this.packets[handle];
    switch (filter.lastRejectWith) {
      case RejectWith.TCP_RESET:
        if (p.protocol === Protocol.TCP) this.tcpReset(ns, p, readyNs);
        else this.icmpError(ns, p, IcmpType.DEST_UNREACHABLE, IcmpCode.PORT_UNREACHABLE, readyNs);
        break;
      case RejectWith.ICMP_HOST_UNREACHABLE:
        this.icmpError(ns, p, IcmpType.DEST_UNREACHABLE, IcmpCode.HOST_UNREACHABLE, readyNs);
        break;
      case RejectWith.ICMP_NET_UNREACHABLE:
        this.icmpError(ns, p, IcmpType.DEST_UNREACHABLE, IcmpCode.NET_UNREACHABLE, readyNs);
        break;
      case RejectWith.ICMP_ADMIN_PROHIBITED:
        this.icmpError(ns, p, IcmpType.DEST_UNREACHABLE, ICMP_CODE_ADMIN_PROHIBITED, readyNs);
        break;
      case RejectWith.ICMP_PROTO_UNREACHABLE:
        this.icmpError(ns, p, IcmpType.DEST_UNREACHABLE, ICMP_CODE_PROTOCOL_UNREACHABLE, readyNs);
        break;
      default:
        this.icmpError(ns, p, IcmpType.DEST_UNREACHABLE, IcmpCode.PORT_UNREACHABLE, readyNs);
    }
    this.drop(handle, DropReason.NETFILTER_REJECT, ns);
  }
  // ---------------------------------------------------------------- transmit
  transmit(iface, nextHop, handle, readyNs) {
    const p = this.packets[handle];
    let tx = iface;
    let to;
    let latencyNs;
    switch (iface.kind) {
      case InterfaceKind.VETH:
        to = iface.peer;
        latencyNs = iface.latencyNs;
        break;
      case InterfaceKind.FABRIC: {
        const fabric = iface.fabric;
        const neighbour = fabric.neighbours.get(nextHop);
        if (neighbour === void 0 || neighbour === iface) return this.drop(handle, DropReason.NO_NEIGHBOUR, iface.ns);
        to = neighbour;
        latencyNs = fabric.latencyNs(iface, neighbour);
        break;
      }
      case InterfaceKind.BRIDGE: {
        if (p.totalBytes > iface.mtuBytes) return this.drop(handle, DropReason.MTU_EXCEEDED, iface.ns);
        const port = iface.bridgePorts.get(nextHop);
        if (port === void 0) return this.drop(handle, DropReason.NO_NEIGHBOUR, iface.ns);
        tx = port;
        to = port.peer;
        latencyNs = port.latencyNs;
        break;
      }
      case InterfaceKind.DUMMY:
        if (!iface.up) return this.drop(handle, DropReason.INTERFACE_DOWN, iface.ns);
        iface.txPackets++;
        iface.txBytes += p.totalBytes;
        this.counters.transmitted++;
        return this.delivered(handle, iface.ns);
      default:
        to = iface;
        latencyNs = iface.latencyNs;
    }
    if (!tx.up) return this.drop(handle, DropReason.INTERFACE_DOWN, tx.ns);
    if (p.totalBytes > tx.mtuBytes) return this.drop(handle, DropReason.MTU_EXCEEDED, tx.ns);
    const nowNs = this.scheduler.nowNs;
    const ring = tx.queueDepartNs;
    while (tx.queueLength > 0 && ring[tx.queueHead] <= nowNs) {
      tx.queueHead = tx.queueHead + 1 === ring.length ? 0 : tx.queueHead + 1;
      tx.queueLength--;
    }
    if (tx.queueLength >= tx.queuePacketsMax) return this.drop(handle, DropReason.QUEUE_FULL, tx.ns);
    let departNs = readyNs > tx.busyUntilNs ? readyNs : tx.busyUntilNs;
    if (tx.bandwidthBitsPerSecond > 0) {
      departNs += Math.ceil((p.totalBytes + this.params.ethernetOverheadBytes) * 8 * 1e9 / tx.bandwidthBitsPerSecond);
    }
    tx.busyUntilNs = departNs;
    let tail = tx.queueHead + tx.queueLength;
    if (tail >= ring.length) tail -= ring.length;
    ring[tail] = departNs;
    tx.queueLength++;
    tx.txPackets++;
    tx.txBytes += p.totalBytes;
    this.counters.transmitted++;
    const arriveNs = departNs + latencyNs;
    if (this.observer !== null) this.observer.onTransmit(p, tx.id, departNs, arriveNs);
    const lost = tx.lossRng !== null && tx.lossRng.intBelow(1e6) < tx.lossPartsPerMillion;
    this.scheduler.stagedTimeNs = arriveNs;
    this.scheduler.scheduleStaged(this.kindArrive, handle, lost ? -tx.id - 1 : to.id);
  }
  // ---------------------------------------------------------------- local delivery
  deliver(ns, handle, nowNs) {
    const p = this.packets[handle];
    switch (p.protocol) {
      case Protocol.UDP: {
        const socket = udpLookup(ns.udpSockets.get(p.dstPort), p.dstAddr);
        if (socket === null) {
          this.icmpError(ns, p, IcmpType.DEST_UNREACHABLE, IcmpCode.PORT_UNREACHABLE, nowNs);
          return this.drop(handle, DropReason.NO_SOCKET, ns);
        }
        if (socket.remotePort !== 0 && (socket.remotePort !== p.srcPort || socket.remoteAddr !== p.srcAddr)) {
          return this.drop(handle, DropReason.NO_SOCKET, ns);
        }
        socket.listener.onUdpMessage(socket, p);
        return this.delivered(handle, ns);
      }
      case Protocol.TCP:
        if (this.tcp.receive(ns, p, nowNs)) return this.delivered(handle, ns);
        return this.drop(handle, DropReason.NO_SOCKET, ns);
      case Protocol.ICMP:
        return this.deliverIcmp(ns, handle, p, nowNs);
      default:
        this.icmpError(ns, p, IcmpType.DEST_UNREACHABLE, ICMP_CODE_PROTOCOL_UNREACHABLE, nowNs);
        return this.drop(handle, DropReason.NO_SOCKET, ns);
    }
  }
  deliverIcmp(ns, handle, p, nowNs) {
    switch (p.icmpType) {
      case IcmpType.ECHO_REQUEST: {
        const h = this.allocatePacket();
        const r = this.packets[h];
        r.protocol = Protocol.ICMP;
        r.icmpType = IcmpType.ECHO_REPLY;
        r.srcAddr = p.dstAddr;
        r.dstAddr = p.srcAddr;
        r.srcPort = p.srcPort;
        r.tcpSeq = p.tcpSeq;
        r.ttl = this.params.defaultTtl;
        r.payloadBytes = p.payloadBytes;
        r.totalBytes = p.totalBytes;
        r.appTag = p.appTag;
        r.appData = p.appData;
        r.flowId = p.flowId;
        const sentNs = p.sentNs;
        this.delivered(handle, ns);
        this.send(ns, h, nowNs, sentNs);
        return;
      }
      case IcmpType.ECHO_REPLY: {
        const pinger = ns.pingers.get(p.srcPort);
        if (pinger === void 0) return this.drop(handle, DropReason.NO_SOCKET, ns);
        pinger.listener.onEchoReply(pinger, p.tcpSeq, nowNs - p.sentNs, p);
        return this.delivered(handle, ns);
      }
      case IcmpType.DEST_UNREACHABLE:
      case IcmpType.TIME_EXCEEDED: {
        const exceeded = p.icmpType === IcmpType.TIME_EXCEEDED;
        const fatal = !exceeded && icmpUnreachableFatal(p.icmpCode);
        let e = exceeded ? NetError.HOST_UNREACHABLE : icmpUnreachableErrno(p.icmpCode);
        if (exceeded && p.innerProtocol === Protocol.ICMP) e = NetError.TTL_EXCEEDED;
        this.socketError(
          ns,
          p.innerProtocol,
          p.innerSrcAddr,
          p.innerSrcPort,
          p.innerDstAddr,
          p.innerDstPort,
          p.tcpSeq,
          p.appTag,
          e,
          fatal,
          false
        );
        return this.delivered(handle, ns);
      }
      default:
        return this.delivered(handle, ns);
    }
  }
  /**
   * Reports an error about a packet `ns` sent (localAddr:localPort -> remoteAddr:remotePort) to its
   * socket: ICMP errors (`local` false) and local routing failures (`local` true, as sendto/connect
   * returning ENETUNREACH). UDP sockets see ICMP errors only when connected and the error is hard
   * (__udp4_lib_err without IP_RECVERR); TCP decides by state (tcp_v4_err); pingers see everything.
   */
  socketError(ns, protocol, localAddr, localPort, remoteAddr, remotePort, seq, appTag, error, fatal, local) {
    switch (protocol) {
      case Protocol.UDP: {
        const socket = udpLookup(ns.udpSockets.get(localPort), localAddr);
        if (socket === null) return;
        if (!local && !(fatal && socket.remotePort === remotePort && socket.remoteAddr === remoteAddr)) return;
        socket.listener.onUdpError(socket, error, remoteAddr, remotePort, appTag);
        return;
      }
      case Protocol.TCP:
        this.tcp.error(ns, localAddr, localPort, remoteAddr, remotePort, error);
        return;
      case Protocol.ICMP: {
        const pinger = ns.pingers.get(localPort);
        if (pinger !== void 0) pinger.listener.onPingError(pinger, seq, error, remoteAddr);
        return;
      }
    }
  }
  // ---------------------------------------------------------------- generated packets
  /**
   * icmp_send(): an ICMP error from `ns` about `orig` to its sender, carrying orig's header in the
   * inner* fields and as many bytes of orig as fit in 576 (RFC 1812 4.3.2.3). Never about an ICMP
   * error (RFC 1122 3.2.2). Source: orig's destination when local, else chosen by the route back.
   */
  icmpError(ns, orig, type, code, readyNs) {
    if (orig.protocol === Protocol.ICMP && orig.icmpType !== IcmpType.ECHO_REQUEST && orig.icmpType !== IcmpType.ECHO_REPLY)
      return;
    const h = this.allocatePacket();
    const e = this.packets[h];
    e.protocol = Protocol.ICMP;
    e.icmpType = type;
    e.icmpCode = code;
    e.srcAddr = ns.isLocalAddress(orig.dstAddr) ? orig.dstAddr : 0;
    e.dstAddr = orig.srcAddr;
    e.ttl = this.params.defaultTtl;
    e.innerSrcAddr = orig.srcAddr;
    e.innerDstAddr = orig.dstAddr;
    e.innerProtocol = orig.protocol;
    e.innerSrcPort = orig.srcPort;
    e.innerDstPort = orig.dstPort;
    e.tcpSeq = orig.protocol === Protocol.ICMP ? orig.tcpSeq : 0;
    e.payloadBytes = Math.min(orig.totalBytes, ICMP_ERROR_ROOM_BYTES);
    e.totalBytes = IPV4_HEADER_BYTES + ICMP_HEADER_BYTES + e.payloadBytes;
    e.appTag = orig.appTag;
    e.flowId = orig.flowId;
    this.send(ns, h, readyNs);
  }
  /**
   * tcp_v4_send_reset() / nf_send_reset(): RST answering `orig` (never a RST). If orig had ACK, the
   * RST's sequence is orig's ack; otherwise RST|ACK acknowledging orig's sequence space.
   */
  tcpReset(ns, orig, readyNs) {
    if ((orig.tcpFlags & TcpFlag.RST) !== 0) return;
    const h = this.allocatePacket();
    const r = this.packets[h];
    r.protocol = Protocol.TCP;
    r.srcAddr = orig.dstAddr;
    r.dstAddr = orig.srcAddr;
    r.srcPort = orig.dstPort;
    r.dstPort = orig.srcPort;
    r.ttl = this.params.defaultTtl;
    r.totalBytes = IPV4_HEADER_BYTES + 20;
    if ((orig.tcpFlags & TcpFlag.ACK) !== 0) {
      r.tcpFlags = TcpFlag.RST;
      r.tcpSeq = orig.tcpAck;
    } else {
      r.tcpFlags = TcpFlag.RST | TcpFlag.ACK;
      r.tcpSeq = 0;
      const span = orig.payloadBytes + ((orig.tcpFlags & TcpFlag.SYN) !== 0 ? 1 : 0) + ((orig.tcpFlags & TcpFlag.FIN) !== 0 ? 1 : 0);
      r.tcpAck = orig.tcpSeq + span >>> 0;
    }
    r.flowId = orig.flowId;
    this.send(this.namespaceOf(ns), h, readyNs);
  }
  // ---------------------------------------------------------------- sockets
  /**
   * bind(2) a UDP socket. `port` 0 = ephemeral (random start in ip_local_port_range from the
   * namespace's "ports" stream, then the next free port, as udp_lib_get_port). Returns null when no
   * ephemeral port is free; binding a port in use is a programmer error.
   */
  udpBind(ns, localAddr, port, listener, reuse = false) {
    let chosen = port;
    if (chosen === 0) {
      const min = this.params.ephemeralPortMin;
      const count = this.params.ephemeralPortMax - min + 1;
      const start = ns.portRng.intBelow(count);
      chosen = -1;
      for (let i = 0; i < count; i++) {
        const candidate = min + (start + i) % count;
        if (!ns.udpSockets.has(candidate)) {
          chosen = candidate;
          break;
        }
      }
      if (chosen < 0) return null;
    }
    const head = ns.udpSockets.get(chosen);
    assert(
      chosen > 0 && chosen < 65536 && !udpBindConflicts(head, localAddr, reuse),
      `${ns.name}: UDP port ${chosen} in use`
    );
    const socket = new UdpSocket(this, ns, localAddr, chosen, listener, reuse);
    socket.next = head ?? null;
    ns.udpSockets.set(chosen, socket);
    return socket;
  }
  /** listen(2) on `port` (`localAddr` 0 = any address). */
  tcpListen(ns, localAddr, port, listener) {
    return this.tcp.listen(ns, localAddr, port, listener);
  }
  /**
   * connect(2) to dstAddr:dstPort; the outcome arrives at `listener` (onConnected or onClosed).
   * `bind` fixes the local address and/or port first (bind(2) then connect(2)).
   */
  tcpConnect(ns, dstAddr, dstPort, listener, flowId = 0, bind = null) {
    return this.tcp.connect(ns, dstAddr, dstPort, listener, flowId, bind);
  }
  /** An ICMP echo socket (ping). Identifiers are allocated sequentially per namespace from 1. */
  createPinger(ns, listener) {
    let identifier = ns.pingIdentifierNext;
    while (ns.pingers.has(identifier)) identifier = identifier % 65535 + 1;
    ns.pingIdentifierNext = identifier % 65535 + 1;
    const pinger = new Pinger(this, ns, identifier, listener);
    ns.pingers.set(identifier, pinger);
    return pinger;
  }
  /** Source address `ns` would use towards `dstAddr` (route src or interface address); 0 = no route. */
  sourceAddressFor(socketNs, dstAddr) {
    const ns = this.namespaceOf(socketNs);
    if (ns.isLocalAddress(dstAddr)) return dstAddr;
    const route = ns.routes.lookup(dstAddr);
    if (route === null) return 0;
    return route.src !== 0 ? route.src : ns.interfaceAddress(route.ifIndex);
  }
  /** MTU of the interface `ns` routes `dstAddr` through (0 = no route). */
  pathMtuFor(socketNs, dstAddr) {
    const ns = this.namespaceOf(socketNs);
    if (ns.isLocalAddress(dstAddr)) return ns.loopback.mtuBytes;
    const route = ns.routes.lookup(dstAddr);
    if (route === null) return 0;
    return ns.interfaces[route.ifIndex].mtuBytes;
  }
};

// src/netfilter/constants.ts
var TableId = { RAW: 0, MANGLE: 1, NAT: 2, FILTER: 3 };
var TABLE_NAMES = ["raw", "mangle", "nat", "filter"];
var CtState = {
  INVALID: 1,
  ESTABLISHED: 2,
  RELATED: 4,
  NEW: 8,
  UNTRACKED: 16,
  SNAT: 64,
  DNAT: 128
};
var CT_STATE_NAMES = [
  ["INVALID", CtState.INVALID],
  ["NEW", CtState.NEW],
  ["ESTABLISHED", CtState.ESTABLISHED],
  ["RELATED", CtState.RELATED],
  ["UNTRACKED", CtState.UNTRACKED],
  ["SNAT", CtState.SNAT],
  ["DNAT", CtState.DNAT]
];
var CtStatus = {
  SEEN_REPLY: 1 << 1,
  ASSURED: 1 << 2,
  CONFIRMED: 1 << 3,
  SRC_NAT: 1 << 4,
  DST_NAT: 1 << 5,
  SRC_NAT_DONE: 1 << 7,
  DST_NAT_DONE: 1 << 8,
  /** The timeout is never refreshed (IPS_FIXED_TIMEOUT). */
  FIXED_TIMEOUT: 1 << 10,
  /**
   * A UDP clash loser inserted in the reply direction only (IPS_NAT_CLASH, nf_ct_resolve_clash_harder):
   * original-direction lookups find the winner, conntrack -L does not show it, never ASSURED.
   */
  NAT_CLASH: 1 << 12,
  /** Slot in use (allocated, confirmed or not). Not a kernel bit. */
  USED: 1 << 15
};
var TcpState2 = {
  NONE: 0,
  SYN_SENT: 1,
  SYN_RECV: 2,
  ESTABLISHED: 3,
  FIN_WAIT: 4,
  CLOSE_WAIT: 5,
  LAST_ACK: 6,
  TIME_WAIT: 7,
  CLOSE: 8,
  SYN_SENT2: 9
};
var TCP_STATE_NAMES2 = [
  "NONE",
  "SYN_SENT",
  "SYN_RECV",
  "ESTABLISHED",
  "FIN_WAIT",
  "CLOSE_WAIT",
  "LAST_ACK",
  "TIME_WAIT",
  "CLOSE",
  "SYN_SENT2"
];
var TargetKind = {
  /** Rule without `-j`: counts and continues (e.g. kube-proxy's trailing KUBE-FW comment rule). */
  NONE: 0,
  ACCEPT: 1,
  DROP: 2,
  REJECT: 3,
  RETURN: 4,
  JUMP: 5,
  GOTO: 6,
  MARK: 7,
  DNAT: 8,
  SNAT: 9,
  MASQUERADE: 10,
  NOTRACK: 11,
  LOG: 12,
  /** `-j REDIRECT` (ext/xt_REDIRECT.ts): DNAT to the incoming interface's primary address, or 127.0.0.1. */
  REDIRECT: 13
};
var Policy = { ACCEPT: 0, DROP: 1 };
var RecentCommand = { SET: 1, CHECK: 2, UPDATE: 4, REMOVE: 8 };

// src/netfilter/conntrack.ts
var LINUX_CONNTRACK_TIMEOUTS = {
  tcpSynSentNs: 120 * NS_PER_S,
  tcpSynRecvNs: 60 * NS_PER_S,
  tcpEstablishedNs: 432e3 * NS_PER_S,
  tcpFinWaitNs: 120 * NS_PER_S,
  tcpCloseWaitNs: 60 * NS_PER_S,
  tcpLastAckNs: 30 * NS_PER_S,
  tcpTimeWaitNs: 120 * NS_PER_S,
  tcpCloseNs: 10 * NS_PER_S,
  udpNs: 30 * NS_PER_S,
  udpStreamNs: 120 * NS_PER_S,
  icmpNs: 30 * NS_PER_S,
  genericNs: 600 * NS_PER_S
};
var KUBE_PROXY_CONNTRACK_TIMEOUTS = {
  ...LINUX_CONNTRACK_TIMEOUTS,
  tcpEstablishedNs: 86400 * NS_PER_S,
  tcpCloseWaitNs: 3600 * NS_PER_S
};
var RACE_FIXES = ["none", "4.19", "5.0", "clash-insert"];
var RACE_LEVEL = { none: 0, "4.19": 1, "5.0": 2, "clash-insert": 3 };
var LEVEL_4_19 = 1;
var LEVEL_5_0 = 2;
var LEVEL_CLASH_INSERT = 3;
var NAT_CLASH_TIMEOUT_NS = NS_PER_S;
var MAX_DEFAULT = 131072;
var EVICTION_RANGE = 8;
var UDP_STREAM_AFTER_NS = 2 * NS_PER_S;
var sNO = 0;
var sSS = 1;
var sSR = 2;
var sES = 3;
var sFW = 4;
var sCW = 5;
var sLA = 6;
var sTW = 7;
var sCL = 8;
var sS2 = 9;
var sIV = 10;
var sIG = 11;
var TCP_EVENT = { SYN: 0, SYNACK: 1, FIN: 2, ACK: 3, RST: 4, NONE: 5 };
var TCP_TABLE = [
  [
    /* syn    */
    [sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2],
    /* synack */
    [sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR],
    /* fin    */
    [sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV],
    /* ack    */
    [sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV],
    /* rst    */
    [sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL],
    /* none   */
    [sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV]
  ],
  [
    /* syn    */
    [sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2],
    /* synack */
    [sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR],
    /* fin    */
    [sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV],
    /* ack    */
    [sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG],
    /* rst    */
    [sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL],
    /* none   */
    [sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV]
  ]
];
function tcpEvent(flags) {
  if ((flags & TcpFlag.RST) !== 0) return TCP_EVENT.RST;
  if ((flags & TcpFlag.SYN) !== 0) return (flags & TcpFlag.ACK) !== 0 ? TCP_EVENT.SYNACK : TCP_EVENT.SYN;
  if ((flags & TcpFlag.FIN) !== 0) return TCP_EVENT.FIN;
  if ((flags & TcpFlag.ACK) !== 0) return TCP_EVENT.ACK;
  return TCP_EVENT.NONE;
}
function icmpReplyType(type) {
  switch (type) {
    case 8:
      return 0;
    case 0:
      return 8;
    case 13:
      return 14;
    case 14:
      return 13;
    case 15:
      return 16;
    case 16:
      return 15;
    case 17:
      return 18;
    case 18:
      return 17;
    default:
      return -1;
  }
}
function isIcmpError(type) {
  return type === IcmpType.DEST_UNREACHABLE || type === IcmpType.TIME_EXCEEDED || type === 4 || type === 5 || type === 12;
}
var Conntrack = class {
  max;
  timeouts;
  tcpLoose;
  reapSlotsPerPacket;
  unconfirmedTtlNs;
  raceFix;
  raceLevel;
  racePpm;
  raceRng;
  capacity = 0;
  /** Tuple columns, indexed by node = 2*id + direction. */
  src = new Uint32Array(0);
  dst = new Uint32Array(0);
  sport = new Uint16Array(0);
  dport = new Uint16Array(0);
  /**
   * The hash's view of the tuples, packed 4 words per node (src, dst, sport << 16 | dport, next
   * node in the bucket or -1) so that a chain walk touches one cache line per node; the columns
   * above hold the same tuples for every other reader.
   */
  keys = new Int32Array(0);
  /** Entry columns. */
  proto = new Uint8Array(0);
  status = new Uint16Array(0);
  tcpState = new Uint8Array(0);
  expiresNs = new Float64Array(0);
  createdNs = new Float64Array(0);
  mark = new Uint32Array(0);
  /**
   * When the entry enters the hash in the kernel's time: its first packet's arrival plus the hook
   * costs charged up to confirm. The simulator runs a packet's hooks in one event, so the entry is
   * linked earlier; a concurrent packet of the same flow arriving before this time misses it.
   */
  visibleNs = new Float64Array(0);
  /** For an entry built by a packet that missed a not-yet-visible entry of its flow: that entry, else -1. */
  raceOf = new Int32Array(0);
  /** The racing packet's own clock (arrival + hook costs so far), set by the stack before NAT. */
  raceClockNs = 0;
  heads = new Int32Array(0);
  bucketMask = 0;
  freeHead = -1;
  highWater = 0;
  unconfirmed = [];
  reapCursor = 0;
  /** Allocated entries (confirmed + unconfirmed): what nf_conntrack_count counts against max. */
  count = 0;
  confirmedCount = 0;
  peak = 0;
  created = 0;
  expired = 0;
  insertFailed = 0;
  clashResolved = 0;
  dropTableFull = 0;
  earlyDrops = 0;
  invalid = 0;
  constructor(options = {}) {
    this.max = options.max ?? MAX_DEFAULT;
    assert(Number.isInteger(this.max) && this.max > 0, `conntrack max must be a positive integer, got ${this.max}`);
    this.timeouts = { ...LINUX_CONNTRACK_TIMEOUTS, ...options.timeouts };
    this.tcpLoose = options.tcpLoose ?? true;
    this.reapSlotsPerPacket = options.reapSlotsPerPacket ?? 8;
    this.unconfirmedTtlNs = options.unconfirmedTtlNs ?? NS_PER_S;
    this.raceFix = options.raceFix ?? "clash-insert";
    this.raceLevel = RACE_LEVEL[this.raceFix];
    assert(this.raceLevel !== void 0, `conntrack raceFix must be one of ${RACE_FIXES.join(", ")}`);
    this.racePpm = options.racePpm ?? 0;
    assert(
      Number.isInteger(this.racePpm) && this.racePpm >= 0 && this.racePpm <= 1e6,
      "conntrack racePpm in parts per million"
    );
    this.raceRng = options.raceRng ?? null;
    assert(this.racePpm === 0 || this.raceRng !== null, "conntrack racePpm needs a raceRng");
    this.grow(Math.min(this.max, 256));
    let buckets = 1;
    while (buckets < Math.min(this.max, 256)) buckets *= 2;
    this.rehash(buckets);
  }
  // -------------------------------------------------------------------------------------------
  // Storage
  grow(capacity) {
    const old = this.capacity;
    const copy = (a, n, make) => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.src = copy(this.src, capacity * 2, (n) => new Uint32Array(n));
    this.dst = copy(this.dst, capacity * 2, (n) => new Uint32Array(n));
    this.sport = copy(this.sport, capacity * 2, (n) => new Uint16Array(n));
    this.dport = copy(this.dport, capacity * 2, (n) => new Uint16Array(n));
    this.keys = copy(this.keys, capacity * 8, (n) => new Int32Array(n));
    this.proto = copy(this.proto, capacity, (n) => new Uint8Array(n));
    this.status = copy(this.status, capacity, (n) => new Uint16Array(n));
    this.tcpState = copy(this.tcpState, capacity, (n) => new Uint8Array(n));
    this.expiresNs = copy(this.expiresNs, capacity, (n) => new Float64Array(n));
    this.createdNs = copy(this.createdNs, capacity, (n) => new Float64Array(n));
    this.mark = copy(this.mark, capacity, (n) => new Uint32Array(n));
    this.visibleNs = copy(this.visibleNs, capacity, (n) => new Float64Array(n));
    this.raceOf = copy(this.raceOf, capacity, (n) => new Int32Array(n));
    this.capacity = capacity;
    void old;
  }
  rehash(buckets) {
    this.heads = new Int32Array(buckets).fill(-1);
    this.bucketMask = buckets - 1;
    for (let id = 0; id < this.highWater; id++) {
      if ((this.status[id] & CtStatus.CONFIRMED) === 0) continue;
      if ((this.status[id] & CtStatus.NAT_CLASH) === 0) this.link(id * 2);
      this.link(id * 2 + 1);
    }
  }
  bucketOf(src, dst, sport, dport, proto) {
    let h = Math.imul(src ^ 2654435769, 2246822507);
    h = Math.imul(h ^ h >>> 13 ^ dst, 3266489909);
    h = Math.imul(h ^ h >>> 16 ^ (sport << 16 | dport), 668265263);
    h = Math.imul(h ^ h >>> 15 ^ proto, 374761393);
    return (h ^ h >>> 16) & this.bucketMask;
  }
  /** Writes node's tuple into the packed keys (after any change to the tuple columns). */
  packKey(node) {
    const k = node * 4;
    this.keys[k] = this.src[node];
    this.keys[k + 1] = this.dst[node];
    this.keys[k + 2] = this.sport[node] << 16 | this.dport[node];
  }
  link(node) {
    const id = node >> 1;
    const b = this.bucketOf(this.src[node], this.dst[node], this.sport[node], this.dport[node], this.proto[id]);
    this.keys[node * 4 + 3] = this.heads[b];
    this.heads[b] = node;
  }
  unlink(node) {
    const id = node >> 1;
    const b = this.bucketOf(this.src[node], this.dst[node], this.sport[node], this.dport[node], this.proto[id]);
    const keys = this.keys;
    let prev = -1;
    let cur = this.heads[b];
    while (cur !== node) {
      assert(cur >= 0, "conntrack: node missing from its bucket");
      prev = cur;
      cur = keys[cur * 4 + 3];
    }
    if (prev < 0) this.heads[b] = keys[node * 4 + 3];
    else keys[prev * 4 + 3] = keys[node * 4 + 3];
  }
  /** Finds a confirmed tuple; returns its node (2*id + direction) or -1. Does not check expiry. */
  find(src, dst, sport, dport, proto) {
    const keys = this.keys;
    const s = src | 0;
    const d = dst | 0;
    const ports = sport << 16 | dport;
    let node = this.heads[this.bucketOf(src, dst, sport, dport, proto)];
    while (node >= 0) {
      const k = node * 4;
      if (keys[k] === s && keys[k + 1] === d && keys[k + 2] === ports && this.proto[node >> 1] === proto) return node;
      node = keys[k + 3];
    }
    return -1;
  }
  /** find + lazy expiry: an expired entry is removed and reported as absent. */
  lookup(src, dst, sport, dport, proto, nowNs) {
    const node = this.find(src, dst, sport, dport, proto);
    if (node < 0) return -1;
    if (this.expiresNs[node >> 1] <= nowNs) {
      this.remove(node >> 1);
      this.expired++;
      return -1;
    }
    return node;
  }
  /** Allocates an unconfirmed entry with the given original tuple (reply = its inverse). -1 when full. */
  allocate(src, dst, sport, dport, proto, nowNs) {
    this.freeStaleUnconfirmed(nowNs);
    if (this.count >= this.max && !this.earlyDrop(src, dst, sport, dport, proto, nowNs)) {
      this.dropTableFull++;
      return -1;
    }
    let id = this.freeHead;
    if (id >= 0) {
      this.freeHead = this.keys[id * 8 + 3];
    } else {
      if (this.highWater === this.capacity) this.grow(Math.min(this.max + EVICTION_RANGE, this.capacity * 2));
      id = this.highWater++;
    }
    const o = id * 2;
    const r = o + 1;
    this.src[o] = src;
    this.dst[o] = dst;
    this.sport[o] = sport;
    this.dport[o] = dport;
    this.src[r] = dst;
    this.dst[r] = src;
    if (proto === Protocol.ICMP) {
      this.sport[r] = sport;
      this.dport[r] = icmpReplyType(dport) & 65535;
    } else {
      this.sport[r] = dport;
      this.dport[r] = sport;
    }
    this.packKey(o);
    this.packKey(r);
    this.proto[id] = proto;
    this.status[id] = CtStatus.USED;
    this.tcpState[id] = TcpState2.NONE;
    this.createdNs[id] = nowNs;
    this.expiresNs[id] = nowNs;
    this.mark[id] = 0;
    this.visibleNs[id] = nowNs;
    this.raceOf[id] = -1;
    this.count++;
    this.created++;
    if (this.count > this.peak) this.peak = this.count;
    this.unconfirmed.push(id);
    return id;
  }
  /** Rewrites the reply tuple (nf_conntrack_alter_reply), before confirmation. */
  setReply(id, src, dst, sport, dport) {
    assert((this.status[id] & CtStatus.CONFIRMED) === 0, "conntrack: altering the reply tuple of a confirmed entry");
    const r = id * 2 + 1;
    this.src[r] = src;
    this.dst[r] = dst;
    this.sport[r] = sport;
    this.dport[r] = dport;
    this.packKey(r);
  }
  /**
   * Inserts an unconfirmed entry into the hash (__nf_conntrack_confirm) and records when that happens
   * in the kernel's time (`visibleAtNs`, default now). Returns the entry the packet now belongs to:
   * `id`, an existing entry it was merged into (nf_ct_resolve_clash), or -1 when the clash is not
   * resolved at the simulated kernel's fix level (the packet is dropped, insert_failed).
   */
  confirm(id, nowNs, visibleAtNs = nowNs) {
    const i = this.unconfirmed.indexOf(id);
    if (i < 0) return id;
    this.unconfirmed.splice(i, 1);
    const o = id * 2;
    const r = o + 1;
    const p = this.proto[id];
    let clash = this.lookup(this.src[o], this.dst[o], this.sport[o], this.dport[o], p, nowNs);
    if (clash < 0) clash = this.lookup(this.src[r], this.dst[r], this.sport[r], this.dport[r], p, nowNs);
    if (clash >= 0) return this.resolveClash(id, clash >> 1, nowNs, visibleAtNs);
    this.insert(id, visibleAtNs);
    return id;
  }
  insert(id, visibleAtNs) {
    this.status[id] |= CtStatus.CONFIRMED;
    if ((this.status[id] & CtStatus.NAT_CLASH) === 0) this.link(id * 2);
    this.link(id * 2 + 1);
    this.visibleNs[id] = visibleAtNs;
    this.confirmedCount++;
    if (this.confirmedCount > this.heads.length && this.heads.length < 1 << 20) this.rehash(this.heads.length * 2);
  }
  /** nf_ct_match: both tuples equal (zones and extensions are not modelled). */
  sameEntry(a, b) {
    for (let d = 0; d < 2; d++) {
      const x = a * 2 + d;
      const y = b * 2 + d;
      if (this.src[x] !== this.src[y] || this.dst[x] !== this.dst[y] || this.sport[x] !== this.sport[y] || this.dport[x] !== this.dport[y])
        return false;
    }
    return true;
  }
  /**
   * __nf_ct_resolve_clash: the loser's packet adopts the winner when the winner has no NAT set up
   * (any kernel with 71d8c47fc653) or, from 4.19 (ed07d9a021df), when both entries are equal.
   */
  mergeable(winner, loser) {
    if ((this.status[winner] & (CtStatus.SRC_NAT_DONE | CtStatus.DST_NAT_DONE)) === 0) return true;
    return this.raceLevel >= LEVEL_4_19 && this.sameEntry(winner, loser);
  }
  /**
   * nf_ct_resolve_clash (the `out:` path of __nf_conntrack_confirm). Only protocols with allow_clash
   * may be merged: UDP here (ICMP and the generic tracker gained it only in 2026, not modelled).
   */
  resolveClash(id, winner, nowNs, visibleAtNs) {
    const allowClash = this.proto[id] === Protocol.UDP;
    if (this.raceLevel < LEVEL_CLASH_INSERT) {
      this.insertFailed++;
      if (allowClash && this.mergeable(winner, id)) {
        this.release(id);
        return winner;
      }
      this.release(id);
      return -1;
    }
    if (allowClash && this.mergeable(winner, id)) {
      this.clashResolved++;
      this.release(id);
      return winner;
    }
    if (allowClash) {
      const r = id * 2 + 1;
      const replyClash = this.lookup(this.src[r], this.dst[r], this.sport[r], this.dport[r], this.proto[id], nowNs);
      if (replyClash >= 0) {
        const other = replyClash >> 1;
        if (this.mergeable(other, id)) {
          this.clashResolved++;
          this.release(id);
          return other;
        }
      } else {
        this.status[id] |= CtStatus.NAT_CLASH | CtStatus.FIXED_TIMEOUT;
        this.expiresNs[id] = nowNs + NAT_CLASH_TIMEOUT_NS;
        this.insert(id, visibleAtNs);
        this.clashResolved++;
        return id;
      }
    }
    this.insertFailed++;
    this.release(id);
    return -1;
  }
  /**
   * nf_nat_used_tuple -> nf_conntrack_tuple_taken for entry `ignored`'s candidate reply tuple. An
   * entry with the same original tuple does not count from 5.0 on (4e35c1cb9460: the clash is left
   * to confirm); for a racing entry, entries not yet in the hash at its own clock do not count.
   */
  tupleTaken(src, dst, sport, dport, proto, ignored, nowNs) {
    const node = this.lookup(src, dst, sport, dport, proto, nowNs);
    if (node < 0) return false;
    const other = node >> 1;
    if (this.raceOf[ignored] >= 0 && this.raceClockNs < this.visibleNs[other]) return false;
    if (this.raceLevel >= LEVEL_5_0 && proto === Protocol.UDP) {
      const a = other * 2;
      const b = ignored * 2;
      if (this.src[a] === this.src[b] && this.dst[a] === this.dst[b] && this.sport[a] === this.sport[b] && this.dport[a] === this.dport[b])
        return false;
    }
    return true;
  }
  /** Frees an entry that was never confirmed (its packet was dropped). */
  release(id) {
    const i = this.unconfirmed.indexOf(id);
    if (i >= 0) this.unconfirmed.splice(i, 1);
    if ((this.status[id] & CtStatus.USED) === 0) return;
    assert((this.status[id] & CtStatus.CONFIRMED) === 0, "conntrack: release of a confirmed entry");
    this.free(id);
  }
  /** Removes a confirmed entry from the hash and frees it. */
  remove(id) {
    assert((this.status[id] & CtStatus.CONFIRMED) !== 0, "conntrack: remove of an unconfirmed entry");
    if ((this.status[id] & CtStatus.NAT_CLASH) === 0) this.unlink(id * 2);
    this.unlink(id * 2 + 1);
    this.confirmedCount--;
    this.free(id);
  }
  free(id) {
    this.status[id] = 0;
    this.keys[id * 8 + 3] = this.freeHead;
    this.freeHead = id;
    this.count--;
  }
  isConfirmed(id) {
    return (this.status[id] & CtStatus.CONFIRMED) !== 0;
  }
  freeStaleUnconfirmed(nowNs) {
    const list = this.unconfirmed;
    while (list.length > 0 && nowNs - this.createdNs[list[0]] >= this.unconfirmedTtlNs) {
      const id = list.shift();
      this.free(id);
    }
  }
  /**
   * early_drop (nf_conntrack_core.c): when the table is full, look at up to NF_CT_EVICTION_RANGE
   * buckets starting at the new tuple's bucket and delete the first entry that is not ASSURED
   * (expired entries met on the way are reaped too). Our bucket count differs from the kernel's, so
   * which entry is evicted differs; that some non-assured entry nearby is, does not.
   */
  earlyDrop(src, dst, sport, dport, proto, nowNs) {
    let b = this.bucketOf(src, dst, sport, dport, proto);
    for (let i = 0; i < EVICTION_RANGE; i++, b = b + 1 & this.bucketMask) {
      let node = this.heads[b];
      while (node >= 0) {
        const id = node >> 1;
        const nextNode = this.keys[node * 4 + 3];
        if (this.expiresNs[id] <= nowNs) {
          this.remove(id);
          this.expired++;
          if (this.count < this.max) return true;
        } else if ((this.status[id] & CtStatus.ASSURED) === 0) {
          this.remove(id);
          this.earlyDrops++;
          return true;
        }
        node = nextNode;
        if (node >= 0 && (this.status[node >> 1] & CtStatus.CONFIRMED) === 0) node = this.heads[b];
      }
    }
    return false;
  }
  /** Amortised garbage collection: examine `slots` entry slots round-robin, remove the expired. */
  reapStep(nowNs, slots = this.reapSlotsPerPacket) {
    if (this.highWater === 0) return;
    for (let i = 0; i < slots; i++) {
      if (this.reapCursor >= this.highWater) this.reapCursor = 0;
      const id = this.reapCursor++;
      if ((this.status[id] & CtStatus.CONFIRMED) !== 0 && this.expiresNs[id] <= nowNs) {
        this.remove(id);
        this.expired++;
      }
    }
  }
  /** Removes every expired entry now (for listings and statistics; O(table)). */
  expireAll(nowNs) {
    for (let id = 0; id < this.highWater; id++) {
      if ((this.status[id] & CtStatus.CONFIRMED) !== 0 && this.expiresNs[id] <= nowNs) {
        this.remove(id);
        this.expired++;
      }
    }
  }
  // -------------------------------------------------------------------------------------------
  // Per-protocol state (nf_conntrack_proto_*.c)
  /**
   * Classifies `packet` and attaches it to its entry (nf_conntrack_in): sets ctId, ctDirection,
   * ctState. Returns -1 to continue, or a DropReason when the packet must be dropped.
   */
  packetIn(packet, nowNs) {
    packet.ctId = -1;
    packet.ctDirection = 0;
    packet.ctState = 0;
    if (packet.untracked) {
      packet.ctState = CtState.UNTRACKED;
      return -1;
    }
    this.reapStep(nowNs);
    const proto = packet.protocol;
    if (proto === Protocol.ICMP && isIcmpError(packet.icmpType)) return this.relatedIn(packet, nowNs);
    let sport = 0;
    let dport = 0;
    if (proto === Protocol.TCP || proto === Protocol.UDP) {
      sport = packet.srcPort;
      dport = packet.dstPort;
    } else if (proto === Protocol.ICMP) {
      sport = packet.srcPort;
      dport = packet.icmpType;
    }
    let node = this.lookup(packet.srcAddr, packet.dstAddr, sport, dport, proto, nowNs);
    let raceWith = -1;
    if (node >= 0 && (node & 1) === 0 && proto === Protocol.UDP && nowNs < this.visibleNs[node >> 1] && this.racePpm > 0 && this.raceRng.intBelow(1e6) < this.racePpm) {
      raceWith = node >> 1;
      node = -1;
    }
    if (node >= 0 && proto === Protocol.TCP) {
      const id2 = node >> 1;
      const st = this.tcpState[id2];
      if ((node & 1) === 0 && tcpEvent(packet.tcpFlags) === TCP_EVENT.SYN && (st === TcpState2.TIME_WAIT || st === TcpState2.CLOSE)) {
        this.remove(id2);
        node = -1;
      }
    }
    if (node < 0) {
      const drop = this.newIn(packet, sport, dport, nowNs);
      if (raceWith >= 0 && packet.ctId >= 0) this.raceOf[packet.ctId] = raceWith;
      return drop;
    }
    const id = node >> 1;
    const direction = node & 1;
    if (!this.updateState(id, direction, packet, nowNs)) {
      this.invalid++;
      packet.ctState = CtState.INVALID;
      return -1;
    }
    packet.ctId = id;
    packet.ctDirection = direction;
    const status = this.status[id];
    const state = direction === 1 || (status & CtStatus.SEEN_REPLY) !== 0 ? CtState.ESTABLISHED : CtState.NEW;
    packet.ctState = state | this.natStateBits(id);
    return -1;
  }
  natStateBits(id) {
    const status = this.status[id];
    return ((status & CtStatus.SRC_NAT) !== 0 ? CtState.SNAT : 0) | ((status & CtStatus.DST_NAT) !== 0 ? CtState.DNAT : 0);
  }
  newIn(packet, sport, dport, nowNs) {
    const proto = packet.protocol;
    let tcpState = TcpState2.NONE;
    if (proto === Protocol.TCP) {
      const next = TCP_TABLE[0][tcpEvent(packet.tcpFlags)][sNO];
      if (next === sSS) tcpState = TcpState2.SYN_SENT;
      else if (next === sES && this.tcpLoose) tcpState = TcpState2.ESTABLISHED;
      else {
        this.invalid++;
        packet.ctState = CtState.INVALID;
        return -1;
      }
    } else if (proto === Protocol.ICMP) {
      const reply = icmpReplyType(packet.icmpType);
      if (reply < 0 || packet.icmpType === 0 || packet.icmpType === 14 || packet.icmpType === 16 || packet.icmpType === 18) {
        this.invalid++;
        packet.ctState = CtState.INVALID;
        return -1;
      }
    }
    const id = this.allocate(packet.srcAddr, packet.dstAddr, sport, dport, proto, nowNs);
    if (id < 0) return DropReason.CONNTRACK_FULL;
    this.tcpState[id] = tcpState;
    this.expiresNs[id] = nowNs + this.timeoutFor(id);
    packet.ctId = id;
    packet.ctDirection = 0;
    packet.ctState = CtState.NEW;
    return -1;
  }
  /** Applies the protocol state machine to a packet of an existing entry; false = INVALID packet. */
  updateState(id, direction, packet, nowNs) {
    const proto = this.proto[id];
    const replyBefore = (this.status[id] & CtStatus.SEEN_REPLY) !== 0;
    if (proto === Protocol.TCP) {
      const old = this.tcpState[id];
      const next = TCP_TABLE[direction][tcpEvent(packet.tcpFlags)][old];
      if (next === sIV) return false;
      if (direction === 1) this.status[id] |= CtStatus.SEEN_REPLY;
      if (next === sIG) return true;
      this.tcpState[id] = next;
      if (replyBefore && (old === sSR || old === sES) && next === sES) this.status[id] |= CtStatus.ASSURED;
      this.expiresNs[id] = nowNs + this.timeoutFor(id);
      return true;
    }
    if (direction === 1) this.status[id] |= CtStatus.SEEN_REPLY;
    if (proto === Protocol.UDP) {
      if ((this.status[id] & CtStatus.FIXED_TIMEOUT) !== 0) return true;
      if ((this.status[id] & CtStatus.SEEN_REPLY) !== 0) {
        if (nowNs > this.createdNs[id] + UDP_STREAM_AFTER_NS) {
          this.expiresNs[id] = nowNs + this.timeouts.udpStreamNs;
          this.status[id] |= CtStatus.ASSURED;
        } else {
          this.expiresNs[id] = nowNs + this.timeouts.udpNs;
        }
      } else {
        this.expiresNs[id] = nowNs + this.timeouts.udpNs;
      }
      return true;
    }
    this.expiresNs[id] = nowNs + this.timeoutFor(id);
    return true;
  }
  /** Timeout for the entry's current state. */
  timeoutFor(id) {
    const t = this.timeouts;
    switch (this.proto[id]) {
      case Protocol.TCP:
        switch (this.tcpState[id]) {
          case TcpState2.SYN_SENT:
          case TcpState2.SYN_SENT2:
            return t.tcpSynSentNs;
          case TcpState2.SYN_RECV:
            return t.tcpSynRecvNs;
          case TcpState2.ESTABLISHED:
            return t.tcpEstablishedNs;
          case TcpState2.FIN_WAIT:
            return t.tcpFinWaitNs;
          case TcpState2.CLOSE_WAIT:
            return t.tcpCloseWaitNs;
          case TcpState2.LAST_ACK:
            return t.tcpLastAckNs;
          case TcpState2.TIME_WAIT:
            return t.tcpTimeWaitNs;
          default:
            return t.tcpCloseNs;
        }
      case Protocol.UDP:
        return (this.status[id] & CtStatus.ASSURED) !== 0 ? t.udpStreamNs : t.udpNs;
      case Protocol.ICMP:
        return t.icmpNs;
      default:
        return t.genericNs;
    }
  }
  /**
   * ICMP errors (icmp_error_message): the inner header is the offending packet as it was sent; the
   * inverse of its tuple is looked up. Found -> RELATED in that direction; not found -> INVALID.
   */
  relatedIn(packet, nowNs) {
    const innerProto = packet.innerProtocol;
    let src, dst, sport, dport;
    if (innerProto === Protocol.ICMP) {
      src = packet.innerDstAddr;
      dst = packet.innerSrcAddr;
      sport = packet.innerSrcPort;
      dport = IcmpType.ECHO_REPLY;
    } else if (innerProto === Protocol.TCP || innerProto === Protocol.UDP) {
      src = packet.innerDstAddr;
      dst = packet.innerSrcAddr;
      sport = packet.innerDstPort;
      dport = packet.innerSrcPort;
    } else {
      src = packet.innerDstAddr;
      dst = packet.innerSrcAddr;
      sport = 0;
      dport = 0;
    }
    let node = this.lookup(src, dst, sport, dport, innerProto, nowNs);
    if (node < 0 && innerProto === Protocol.ICMP)
      node = this.lookup(src, dst, sport, IcmpType.ECHO_REQUEST, innerProto, nowNs);
    if (node < 0) {
      this.invalid++;
      packet.ctState = CtState.INVALID;
      return -1;
    }
    packet.ctId = node >> 1;
    packet.ctDirection = node & 1;
    packet.ctState = CtState.RELATED | this.natStateBits(node >> 1);
    return -1;
  }
  // -------------------------------------------------------------------------------------------
  // Listing, deleting, statistics
  /** `conntrack -L`-like lines, in slot order (deterministic). */
  list(nowNs) {
    this.expireAll(nowNs);
    const lines = [];
    for (let id = 0; id < this.highWater; id++) {
      if ((this.status[id] & (CtStatus.CONFIRMED | CtStatus.NAT_CLASH)) !== CtStatus.CONFIRMED) continue;
      lines.push(this.format(id, nowNs));
    }
    return lines;
  }
  format(id, nowNs) {
    const p = this.proto[id];
    const o = id * 2;
    const r = o + 1;
    const status = this.status[id];
    const seconds = Math.max(0, Math.floor((this.expiresNs[id] - nowNs) / NS_PER_S));
    let text = `${protocolName(p).padEnd(8)} ${p} ${seconds} `;
    if (p === Protocol.TCP) text += `${TCP_STATE_NAMES2[this.tcpState[id]]} `;
    const tuple = (n) => {
      if (p === Protocol.TCP || p === Protocol.UDP)
        return `src=${formatIpv4(this.src[n])} dst=${formatIpv4(this.dst[n])} sport=${this.sport[n]} dport=${this.dport[n]}`;
      if (p === Protocol.ICMP)
        return `src=${formatIpv4(this.src[n])} dst=${formatIpv4(this.dst[n])} type=${this.dport[n]} code=0 id=${this.sport[n]}`;
      return `src=${formatIpv4(this.src[n])} dst=${formatIpv4(this.dst[n])}`;
    };
    text += tuple(o);
    if ((status & CtStatus.SEEN_REPLY) === 0) text += " [UNREPLIED]";
    text += ` ${tuple(r)}`;
    if ((status & CtStatus.ASSURED) !== 0) text += " [ASSURED]";
    return `${text} mark=${this.mark[id]} use=1`;
  }
  /** Deletes confirmed entries matching the filter (conntrack -D); returns how many. */
  deleteWhere(filter) {
    let deleted = 0;
    for (let id = 0; id < this.highWater; id++) {
      if ((this.status[id] & (CtStatus.CONFIRMED | CtStatus.NAT_CLASH)) !== CtStatus.CONFIRMED) continue;
      const o = id * 2;
      const r = o + 1;
      if (filter.protocol !== void 0 && this.proto[id] !== filter.protocol) continue;
      if (filter.origSrc !== void 0 && this.src[o] !== filter.origSrc) continue;
      if (filter.origDst !== void 0 && this.dst[o] !== filter.origDst) continue;
      if (filter.origDstPort !== void 0 && this.dport[o] !== filter.origDstPort) continue;
      if (filter.replySrc !== void 0 && this.src[r] !== filter.replySrc) continue;
      if (filter.replySrcNotIn !== void 0 && filter.replySrcNotIn.has(this.src[r])) continue;
      this.remove(id);
      deleted++;
    }
    return deleted;
  }
  flush() {
    return this.deleteWhere({});
  }
  stats(nowNs) {
    if (nowNs !== void 0) this.expireAll(nowNs);
    const byState = {};
    for (let id = 0; id < this.highWater; id++) {
      if ((this.status[id] & (CtStatus.CONFIRMED | CtStatus.NAT_CLASH)) !== CtStatus.CONFIRMED) continue;
      const p = this.proto[id];
      const key = p === Protocol.TCP ? `tcp/${TCP_STATE_NAMES2[this.tcpState[id]]}` : `${protocolName(p)}/${(this.status[id] & CtStatus.ASSURED) !== 0 ? "ASSURED" : (this.status[id] & CtStatus.SEEN_REPLY) !== 0 ? "REPLIED" : "UNREPLIED"}`;
      byState[key] = (byState[key] ?? 0) + 1;
    }
    const sorted = {};
    for (const key of Object.keys(byState).sort()) sorted[key] = byState[key];
    return {
      entries: this.count,
      confirmed: this.confirmedCount,
      peak: this.peak,
      byState: sorted,
      created: this.created,
      expired: this.expired,
      insertFailed: this.insertFailed,
      clashResolved: this.clashResolved,
      dropTableFull: this.dropTableFull,
      earlyDrops: this.earlyDrops,
      invalid: this.invalid
    };
  }
  /** Live entry ids (confirmed), for tests and inspection. */
  ids() {
    const out = [];
    for (let id = 0; id < this.highWater; id++)
      if ((this.status[id] & (CtStatus.CONFIRMED | CtStatus.NAT_CLASH)) === CtStatus.CONFIRMED) out.push(id);
    return out;
  }
};

// src/proxy/conntrack-sysctls.ts
var CONNTRACK_MAX_PER_CORE_DEFAULT = 32768;
var CONNTRACK_MIN_DEFAULT = 131072;
var KERNEL_CONNTRACK_MAX_DEFAULT = 262144;
function kubeProxyConntrackMax(maxPerCore, min, numCpu) {
  if (maxPerCore <= 0) return 0;
  const scaled = maxPerCore * numCpu;
  return scaled > min ? scaled : min;
}
function nodeConntrackSysctls(config, numCpu) {
  const written = kubeProxyConntrackMax(config.maxPerCore, config.min, numCpu);
  const orKernel = (valueNs, kernelNs) => valueNs > 0 ? valueNs : kernelNs;
  const timeouts = {
    ...KUBE_PROXY_CONNTRACK_TIMEOUTS,
    tcpEstablishedNs: orKernel(config.tcpEstablishedTimeoutNs, LINUX_CONNTRACK_TIMEOUTS.tcpEstablishedNs),
    tcpCloseWaitNs: orKernel(config.tcpCloseWaitTimeoutNs, LINUX_CONNTRACK_TIMEOUTS.tcpCloseWaitNs),
    udpNs: orKernel(config.udpTimeoutNs, LINUX_CONNTRACK_TIMEOUTS.udpNs),
    udpStreamNs: orKernel(config.udpStreamTimeoutNs, LINUX_CONNTRACK_TIMEOUTS.udpStreamNs)
  };
  return { max: written > 0 ? written : config.kernelMax, timeouts, tcpBeLiberal: config.tcpBeLiberal };
}
var NODE_CPUS_DEFAULT = 2;

// src/netfilter/hook-entries.ts
var NfPriority = {
  FIRST: -2147483648,
  RAW_BEFORE_DEFRAG: -450,
  CONNTRACK_DEFRAG: -400,
  RAW: -300,
  SELINUX_FIRST: -225,
  CONNTRACK: -200,
  MANGLE: -150,
  NAT_DST: -100,
  FILTER: 0,
  SECURITY: 50,
  NAT_SRC: 100,
  SELINUX_LAST: 225,
  CONNTRACK_HELPER: 300,
  CONNTRACK_CONFIRM: 2147483647,
  LAST: 2147483647
};
var IpvsPriority = {
  LOCAL_IN_REPLY: NfPriority.NAT_SRC - 2,
  LOCAL_IN_REQUEST: NfPriority.NAT_SRC - 1,
  LOCAL_OUT_REPLY: NfPriority.NAT_DST + 1,
  LOCAL_OUT_REQUEST: NfPriority.NAT_DST + 2,
  FORWARD_ICMP: 99,
  FORWARD_REPLY: 100
};
var NfHookState = class {
  hook = 0;
  inIfIndex = -1;
  outIfIndex = -1;
  nowNs = 0;
  /** Simulated CPU the ops of this traversal charged beyond the rule walk (conntrack, set lookups...). */
  extraNs = 0;
};
var HOOK_COUNT = 5;
var NfHookEntries = class {
  /** ops[hook]: ascending priority, then registration order. */
  ops = Array.from({ length: HOOK_COUNT }, () => []);
  /** nf_register_net_hook. The same op object registered twice is refused (it would run twice). */
  register(op) {
    if (op.hook < 0 || op.hook >= HOOK_COUNT) throw new Error(`netfilter: no hook ${op.hook} (${op.name})`);
    if (!Number.isInteger(op.priority)) throw new Error(`netfilter: priority of ${op.name} must be an integer`);
    const list = this.ops[op.hook];
    if (list.includes(op)) throw new Error(`netfilter: ${op.name} is already registered at hook ${op.hook}`);
    let i = 0;
    while (i < list.length && list[i].priority <= op.priority) i++;
    list.splice(i, 0, op);
  }
  /** nf_unregister_net_hook. Returns false when the op was not registered. */
  unregister(op) {
    const list = this.ops[op.hook];
    const i = list.indexOf(op);
    if (i < 0) return false;
    list.splice(i, 1);
    return true;
  }
  /** "PRIORITY NAME" lines of one hook, in run order (for tests and `rules` listings). */
  describe(hook) {
    return this.ops[hook].map((op) => `${op.priority} ${op.name}`);
  }
};

// src/netfilter/xt.ts
var MatchContext = class {
  constructor(host, rng) {
    this.host = host;
    this.rng = rng;
  }
  host;
  rng;
  packet = null;
  inIfIndex = -1;
  outIfIndex = -1;
  nowNs = 0;
  hook = 0;
};
var NfacctCounter = class {
  constructor(name) {
    this.name = name;
  }
  name;
  packets = 0;
  bytes = 0;
};
var RuleParseError = class extends Error {
  name = "RuleParseError";
};
var Match = class {
  /** True when `matches` returns true for every packet and has no effect (`-m comment`): not evaluated. */
  get alwaysMatches() {
    return false;
  }
};
function parseNumber(text, what, max = 4294967295) {
  if (!/^(0x[0-9a-fA-F]+|[0-9]+)$/.test(text)) throw new RuleParseError(`bad ${what} "${text}"`);
  const value = Number(text);
  if (value > max) throw new RuleParseError(`${what} out of range: ${text}`);
  return value;
}
function parseValueMask(text, what) {
  const slash = text.indexOf("/");
  if (slash < 0) return [parseNumber(text, what), void 0];
  return [parseNumber(text.slice(0, slash), what), parseNumber(text.slice(slash + 1), what)];
}
function parsePort(text) {
  return parseNumber(text, "port", 65535);
}
function parsePortRange2(text) {
  const colon = text.indexOf(":");
  if (colon < 0) {
    const port = parsePort(text);
    return [port, port];
  }
  const lo = colon === 0 ? 0 : parsePort(text.slice(0, colon));
  const hi = colon === text.length - 1 ? 65535 : parsePort(text.slice(colon + 1));
  if (lo > hi) throw new RuleParseError(`bad port range ${text}`);
  return [lo, hi];
}
function parseAddressMask(text) {
  const slash = text.indexOf("/");
  const address = parseIpv4(slash < 0 ? text : text.slice(0, slash));
  if (address === void 0) throw new RuleParseError(`bad address "${text}"`);
  let mask = 4294967295;
  if (slash >= 0) {
    const m = text.slice(slash + 1);
    if (/^\d{1,2}$/.test(m) && Number(m) <= 32) mask = maskOf(Number(m));
    else {
      const dotted = parseIpv4(m);
      if (dotted === void 0) throw new RuleParseError(`bad mask "${m}"`);
      mask = dotted;
    }
  }
  return [(address & mask) >>> 0, mask >>> 0];
}
var Target = class {
  kind = TargetKind.NONE;
  /**
   * Chain name for JUMP/GOTO. Resolved when the table is committed into Chain.jumps (an index into
   * Table.chains), kept in the chain rather than here because a --noflush restore shares rules
   * between the live table and the staged one.
   */
  chainName = "";
  rejectWith = RejectWith.ICMP_PORT_UNREACHABLE;
  /** MARK: skb->mark = (skb->mark & ~markMask) ^ markValue (xt_mark.c, MARK target v2). */
  markValue = 0;
  markMask = 0;
  natAddrMin = 0;
  natAddrMax = 0;
  /** 0 when no address was given (MASQUERADE uses the out interface address). */
  natHasAddr = false;
  natPortMin = 0;
  natPortMax = 0;
  natFlags = 0;
};

// src/netfilter/nat.ts
var Manip = { SRC: 0, DST: 1 };
var NatFlag = { PROTO_SPECIFIED: 2, PROTO_RANDOM: 4, PROTO_RANDOM_FULLY: 16 };
var NAT_MAX_ATTEMPTS = 128;
var NfNat = class {
  constructor(ct, rng) {
    this.ct = ct;
    this.rng = rng;
  }
  ct;
  rng;
  // Scratch tuple (no allocation per packet).
  tSrc = 0;
  tDst = 0;
  tSport = 0;
  tDport = 0;
  /** Loads the entry's current original tuple as seen after earlier NAT: invert(reply). */
  loadCurrentTuple(id) {
    const ct = this.ct;
    const r = id * 2 + 1;
    this.tSrc = ct.dst[r];
    this.tDst = ct.src[r];
    if (ct.proto[id] === Protocol.ICMP) {
      this.tSport = ct.sport[r];
      this.tDport = icmpReplyType(ct.dport[r]) & 65535;
    } else {
      this.tSport = ct.dport[r];
      this.tDport = ct.sport[r];
    }
  }
  /** Entry whose tuple is being chosen (nf_nat_used_tuple's ignored_conntrack). */
  forId = -1;
  /** nf_nat_used_tuple: is the reply tuple of the candidate already in the table? */
  tupleUsed(proto, nowNs) {
    const ct = this.ct;
    if (proto === Protocol.ICMP)
      return ct.lookup(this.tDst, this.tSrc, this.tSport, icmpReplyType(this.tDport) & 65535, proto, nowNs) >= 0;
    if (proto === Protocol.UDP)
      return ct.tupleTaken(this.tDst, this.tSrc, this.tDport, this.tSport, proto, this.forId, nowNs);
    return ct.lookup(this.tDst, this.tSrc, this.tDport, this.tSport, proto, nowNs) >= 0;
  }
  /**
   * nf_nat_setup_info + get_unique_tuple (nf_nat_core.c) for entry `id` and one manip type.
   * `range` null = null binding (nf_nat_alloc_null_binding). `address` >= 0 forces the new address
   * (MASQUERADE: the out interface's, chosen by the caller); -1 takes it from the range, if any.
   */
  setupInfo(id, manip, range, address, nowNs) {
    const ct = this.ct;
    const proto = ct.proto[id];
    this.forId = id;
    this.loadCurrentTuple(id);
    const origSrc = this.tSrc;
    const origDst = this.tDst;
    const origSport = this.tSport;
    const origDport = this.tDport;
    let flags = 0;
    let portMin = 0;
    let portMax = 0;
    if (range !== null) {
      flags = range.natFlags;
      portMin = range.natPortMin;
      portMax = range.natPortMax;
      if (address < 0 && range.natHasAddr) {
        const size = range.natAddrMax - range.natAddrMin + 1;
        address = size === 1 ? range.natAddrMin : range.natAddrMin + (Math.imul(origSrc ^ Math.imul(origDst, 2654435761), 2246822507) >>> 0) % size;
      }
      if (address >= 0) {
        if (manip === Manip.SRC) this.tSrc = address >>> 0;
        else this.tDst = address >>> 0;
      }
    }
    this.uniquePort(proto, manip, flags, portMin, portMax, nowNs);
    const changed = this.tSrc !== origSrc || this.tDst !== origDst || this.tSport !== origSport || this.tDport !== origDport;
    if (changed) {
      if (proto === Protocol.ICMP)
        ct.setReply(id, this.tDst, this.tSrc, this.tSport, icmpReplyType(this.tDport) & 65535);
      else ct.setReply(id, this.tDst, this.tSrc, this.tDport, this.tSport);
      ct.status[id] |= manip === Manip.SRC ? CtStatus.SRC_NAT : CtStatus.DST_NAT;
    }
    ct.status[id] |= manip === Manip.SRC ? CtStatus.SRC_NAT_DONE : CtStatus.DST_NAT_DONE;
  }
  /** get_unique_tuple's port part + nf_nat_l4proto_unique_tuple, on the scratch tuple. */
  uniquePort(proto, manip, flags, portMin, portMax, nowNs) {
    const specified = (flags & NatFlag.PROTO_SPECIFIED) !== 0;
    const randomAll = (flags & (NatFlag.PROTO_RANDOM | NatFlag.PROTO_RANDOM_FULLY)) !== 0;
    const isIcmp = proto === Protocol.ICMP;
    const hasPorts = proto === Protocol.TCP || proto === Protocol.UDP;
    if (!isIcmp && !hasPorts) return;
    const keyIsSrc = isIcmp || manip === Manip.SRC;
    const key = keyIsSrc ? this.tSport : this.tDport;
    if (!randomAll) {
      if (specified) {
        if (key >= portMin && key <= portMax && (portMin === portMax || !this.tupleUsed(proto, nowNs))) return;
      } else if (!this.tupleUsed(proto, nowNs)) return;
    }
    let min;
    let size;
    if (isIcmp) {
      if (!specified) {
        min = 0;
        size = 65536;
      } else {
        min = portMin;
        size = portMax - portMin + 1;
      }
    } else if (!specified) {
      if (manip === Manip.DST) return;
      if (key < 1024) {
        if (key < 512) {
          min = 1;
          size = 511;
        } else {
          min = 600;
          size = 424;
        }
      } else {
        min = 1024;
        size = 65535 - 1024 + 1;
      }
    } else {
      min = portMin;
      size = portMax - portMin + 1;
    }
    let off = randomAll || manip !== Manip.DST ? this.rng.uint32() & 65535 : 0;
    let attempts = Math.min(size, NAT_MAX_ATTEMPTS);
    for (; ; ) {
      for (let i = 0; i < attempts; i++, off++) {
        const port = min + off % size;
        if (keyIsSrc) this.tSport = port;
        else this.tDport = port;
        if (!this.tupleUsed(proto, nowNs)) return;
      }
      if (attempts >= size || attempts < 16) return;
      attempts = attempts >> 1;
      off = this.rng.uint32() & 65535;
    }
  }
  /**
   * The tuple slot (id * 2 + !direction) whose inverse is the packet's new header for this manip,
   * or -1 when the entry has no NAT of that kind for this direction (nf_nat_packet's status test:
   * a source manip on replies undoes a DST_NAT, and vice versa).
   */
  natTuple(id, direction, manip) {
    let bit = manip === Manip.SRC ? CtStatus.SRC_NAT : CtStatus.DST_NAT;
    if (direction === 1) bit = bit === CtStatus.SRC_NAT ? CtStatus.DST_NAT : CtStatus.SRC_NAT;
    return (this.ct.status[id] & bit) === 0 ? -1 : id * 2 + (1 - direction);
  }
  /** nf_nat_packet: rewrites the packet from the entry for this hook's manip type and direction. */
  manipPacket(packet, id, direction, manip) {
    const ct = this.ct;
    const n = this.natTuple(id, direction, manip);
    if (n < 0) return;
    const proto = ct.proto[id];
    if (manip === Manip.SRC) {
      packet.srcAddr = ct.dst[n];
      if (proto === Protocol.TCP || proto === Protocol.UDP) packet.srcPort = ct.dport[n];
      else if (proto === Protocol.ICMP) packet.srcPort = ct.sport[n];
    } else {
      packet.dstAddr = ct.src[n];
      if (proto === Protocol.TCP || proto === Protocol.UDP) packet.dstPort = ct.sport[n];
      else if (proto === Protocol.ICMP) packet.srcPort = ct.sport[n];
    }
  }
  /** nf_nat_icmp_reply_translation: inner header gets the opposite manip, outer the normal one. */
  icmpReplyTranslation(manip, packet) {
    const ct = this.ct;
    const id = packet.ctId;
    const n = this.natTuple(id, packet.ctDirection, manip);
    if (n < 0) return;
    const proto = ct.proto[id];
    if (manip === Manip.SRC) {
      packet.innerDstAddr = ct.dst[n];
      if (proto === Protocol.TCP || proto === Protocol.UDP) packet.innerDstPort = ct.dport[n];
      else if (proto === Protocol.ICMP) packet.innerSrcPort = ct.sport[n];
      packet.srcAddr = ct.dst[n];
    } else {
      packet.innerSrcAddr = ct.src[n];
      if (proto === Protocol.TCP || proto === Protocol.UDP) packet.innerSrcPort = ct.sport[n];
      else if (proto === Protocol.ICMP) packet.innerSrcPort = ct.sport[n];
      packet.dstAddr = ct.src[n];
    }
  }
};

// src/netfilter/ipset.ts
var IpSetType = {
  HASH_IP: "hash:ip",
  HASH_IP_PORT: "hash:ip,port",
  HASH_IP_PORT_IP: "hash:ip,port,ip",
  HASH_IP_PORT_NET: "hash:ip,port,net",
  HASH_NET: "hash:net",
  BITMAP_PORT: "bitmap:port"
};
var DIMENSIONS = {
  "hash:ip": 1,
  "hash:ip,port": 2,
  "hash:ip,port,ip": 3,
  "hash:ip,port,net": 3,
  "hash:net": 1,
  "bitmap:port": 1
};
var PROTO_SCTP = 132;
var PROTO_NAMES = {
  tcp: Protocol.TCP,
  udp: Protocol.UDP,
  sctp: PROTO_SCTP,
  icmp: Protocol.ICMP
};
function protoName(proto) {
  for (const [name, value] of Object.entries(PROTO_NAMES)) if (value === proto) return name;
  return String(proto);
}
var IpSetError = class extends Error {
  name = "IpSetError";
};
var TWO16 = 65536;
var TWO6 = 64;
var IpSet = class {
  constructor(name, type, options = {}) {
    this.name = name;
    this.type = type;
    this.dimension = DIMENSIONS[type];
    this.hashSize = options.hashSize ?? 1024;
    this.maxElem = options.maxElem ?? 65536;
    this.portFirst = options.portFirst ?? 0;
    this.portLast = options.portLast ?? 65535;
    this.bitmap = type === IpSetType.BITMAP_PORT ? new Uint8Array(TWO16) : null;
  }
  name;
  type;
  dimension;
  hashSize = 1024;
  maxElem = 65536;
  /** bitmap:port `range`. */
  portFirst = 0;
  portLast = 65535;
  /** Elements as `ipset list` prints them, in insertion order (the key -> text map keeps it). */
  members = /* @__PURE__ */ new Map();
  /** hash:ip: the address; hash:net: net * 64 + cidr. */
  ones = /* @__PURE__ */ new Set();
  /** hash:ip,port*: per protocol, ip * 65536 + port -> (ip2 | net * 64 + cidr); hash:ip,port: empty set. */
  byProto = new Array(256);
  /** Prefix lengths present (hash:net, hash:ip,port,net), longest first. */
  cidrs = [];
  cidrCount = new Int32Array(33);
  bitmap;
  get size() {
    return this.members.size;
  }
  /** Adds an element written as `ipset add` takes it. Returns false if it was there already. */
  add(text) {
    const e = this.parseElement(text);
    if (this.members.has(e.canonical)) return false;
    if (this.bitmap === null && this.members.size >= this.maxElem)
      throw new IpSetError(`Hash is full, cannot add more elements to ${this.name}`);
    this.members.set(e.canonical, e.canonical);
    this.apply(e, true);
    return true;
  }
  /** Deletes an element. Returns false if it was not there (`ipset del` errors unless -exist). */
  del(text) {
    const e = this.parseElement(text);
    if (!this.members.delete(e.canonical)) return false;
    this.apply(e, false);
    return true;
  }
  flush() {
    for (const text of [...this.members.keys()]) this.del(text);
  }
  /** Member texts, insertion order or sorted (`ipset list -sorted`/`save`, as upstream tests compare). */
  list(sorted = false) {
    const out = [...this.members.keys()];
    return sorted ? out.sort() : out;
  }
  has(text) {
    return this.members.has(this.parseElement(text).canonical);
  }
  /**
   * The kernel's kadt test for `packet`: `dirs[i]` true = take dimension i from the source (the
   * `src` flag of --match-set), false = destination. `dimensions` = how many flags were given:
   * fewer than the set's dimension never matches (ip_set_test: opt->dim < set->type->dimension).
   */
  test(packet, dimensions, dir0Src, dir1Src, dir2Src) {
    if (dimensions < this.dimension) return false;
    const ip = dir0Src ? packet.srcAddr : packet.dstAddr;
    switch (this.type) {
      case IpSetType.HASH_IP:
        return this.ones.has(ip);
      case IpSetType.HASH_NET:
        return this.testNet(this.ones, dir0Src ? packet.srcAddr : packet.dstAddr);
      case IpSetType.BITMAP_PORT: {
        if (packet.protocol !== Protocol.TCP && packet.protocol !== Protocol.UDP) return false;
        const port = packetPort(packet, dir0Src);
        return port >= this.portFirst && port <= this.portLast && this.bitmap[port] === 1;
      }
      default: {
        const inner = this.byProto[packet.protocol]?.get(ip * TWO16 + packetPort(packet, dir1Src));
        if (inner === void 0) return false;
        if (this.type === IpSetType.HASH_IP_PORT) return true;
        const ip2 = dir2Src ? packet.srcAddr : packet.dstAddr;
        if (this.type === IpSetType.HASH_IP_PORT_IP) return inner.has(ip2);
        return this.testNet(inner, ip2);
      }
    }
  }
  testNet(nets, address) {
    const cidrs = this.cidrs;
    for (let i = 0; i < cidrs.length; i++) {
      const c = cidrs[i];
      if (nets.has(((address & maskOf(c)) >>> 0) * TWO6 + c)) return true;
    }
    return false;
  }
  apply(e, add) {
    switch (this.type) {
      case IpSetType.HASH_IP:
        if (add) this.ones.add(e.ip);
        else this.ones.delete(e.ip);
        return;
      case IpSetType.HASH_NET:
        if (add) this.ones.add(e.net * TWO6 + e.cidr);
        else this.ones.delete(e.net * TWO6 + e.cidr);
        this.countCidr(e.cidr, add);
        return;
      case IpSetType.BITMAP_PORT:
        ;
        this.bitmap[e.port] = add ? 1 : 0;
        return;
      default: {
        let map = this.byProto[e.proto];
        if (map === void 0) map = this.byProto[e.proto] = /* @__PURE__ */ new Map();
        const key = e.ip * TWO16 + e.port;
        let inner = map.get(key);
        if (inner === void 0) {
          if (!add) return;
          inner = /* @__PURE__ */ new Set();
          map.set(key, inner);
        }
        const third = this.type === IpSetType.HASH_IP_PORT_IP ? e.ip2 : e.net * TWO6 + e.cidr;
        if (this.type === IpSetType.HASH_IP_PORT) {
          if (!add) map.delete(key);
          return;
        }
        if (add) inner.add(third);
        else {
          inner.delete(third);
          if (inner.size === 0) map.delete(key);
        }
        if (this.type === IpSetType.HASH_IP_PORT_NET) this.countCidr(e.cidr, add);
      }
    }
  }
  countCidr(cidr2, add) {
    this.cidrCount[cidr2] += add ? 1 : -1;
    const out = [];
    for (let c = 32; c >= 0; c--) if (this.cidrCount[c] > 0) out.push(c);
    this.cidrs = out;
  }
  parseElement(text) {
    const parts = text.split(",");
    if (parts.length !== this.dimension) throw new IpSetError(`${this.name}: bad element "${text}" for ${this.type}`);
    const e = { canonical: "", ip: 0, proto: 0, port: 0, ip2: 0, net: 0, cidr: 32 };
    switch (this.type) {
      case IpSetType.HASH_IP:
        e.ip = parseAddress(parts[0], text);
        e.canonical = formatIpv4(e.ip);
        return e;
      case IpSetType.HASH_NET:
        ;
        [e.net, e.cidr] = parseNet(parts[0], text);
        e.canonical = formatNet(e.net, e.cidr);
        return e;
      case IpSetType.BITMAP_PORT:
        e.port = parsePortNumber(parts[0], text);
        if (e.port < this.portFirst || e.port > this.portLast)
          throw new IpSetError(`${this.name}: element ${text} is out of the range of the set`);
        e.canonical = String(e.port);
        return e;
      default: {
        e.ip = parseAddress(parts[0], text);
        const colon = parts[1].indexOf(":");
        const protoText = colon < 0 ? "tcp" : parts[1].slice(0, colon).toLowerCase();
        const proto = PROTO_NAMES[protoText];
        if (proto === void 0) throw new IpSetError(`${this.name}: unknown protocol in "${text}"`);
        e.proto = proto;
        e.port = parsePortNumber(colon < 0 ? parts[1] : parts[1].slice(colon + 1), text);
        e.canonical = `${formatIpv4(e.ip)},${protoName(proto)}:${e.port}`;
        if (this.type === IpSetType.HASH_IP_PORT_IP) {
          e.ip2 = parseAddress(parts[2], text);
          e.canonical += `,${formatIpv4(e.ip2)}`;
        } else if (this.type === IpSetType.HASH_IP_PORT_NET) {
          ;
          [e.net, e.cidr] = parseNet(parts[2], text);
          e.canonical += `,${formatNet(e.net, e.cidr)}`;
        }
        return e;
      }
    }
  }
};
function packetPort(packet, src) {
  if (packet.protocol === Protocol.TCP || packet.protocol === Protocol.UDP) return src ? packet.srcPort : packet.dstPort;
  if (packet.protocol === Protocol.ICMP) return (packet.icmpType << 8 | packet.icmpCode) & 65535;
  return 0;
}
function parseAddress(text, element) {
  const ip = parseIpv4(text);
  if (ip === void 0) throw new IpSetError(`bad address "${text}" in "${element}"`);
  return ip;
}
function parsePortNumber(text, element) {
  if (!/^\d+$/.test(text) || Number(text) > 65535) throw new IpSetError(`bad port "${text}" in "${element}"`);
  return Number(text);
}
function parseNet(text, element) {
  const slash = text.indexOf("/");
  const ip = parseAddress(slash < 0 ? text : text.slice(0, slash), element);
  const cidr2 = slash < 0 ? 32 : Number(text.slice(slash + 1));
  if (!Number.isInteger(cidr2) || cidr2 < 1 || cidr2 > 32) throw new IpSetError(`bad prefix length in "${element}"`);
  return [(ip & maskOf(cidr2)) >>> 0, cidr2];
}
function formatNet(net, cidr2) {
  return cidr2 === 32 ? formatIpv4(net) : `${formatIpv4(net)}/${cidr2}`;
}
var IpSetTable = class {
  sets = /* @__PURE__ */ new Map();
  get(name) {
    return this.sets.get(name);
  }
  /**
   * `ipset restore`: create/add/del/flush/destroy lines (`-exist` on the command or a line ignores
   * "already exists"/"not there" errors). All or nothing: on error nothing changes and the error
   * names the line. `references(name)` counts the rules using a set; a referenced set cannot be
   * destroyed ("Set cannot be destroyed: it is in use by a kernel component").
   */
  restore(text, options = {}) {
    const staged = /* @__PURE__ */ new Map();
    const lines = text.split("\n");
    const plan = [];
    const current = (name) => staged.has(name) ? staged.get(name) : this.sets.get(name);
    const destroyed = /* @__PURE__ */ new Set();
    for (let n = 0; n < lines.length; n++) {
      const line = lines[n].trim();
      if (line === "" || line.startsWith("#") || line === "COMMIT") continue;
      try {
        const tokens = line.split(/\s+/).filter((t) => t !== "-exist" && t !== "-!");
        const exist = options.exist === true || line.includes(" -exist") || line.includes(" -!");
        const [cmd, name, ...rest] = tokens;
        if (name === void 0) throw new IpSetError(`${cmd}: missing set name`);
        const live = destroyed.has(name) ? void 0 : current(name);
        switch (cmd) {
          case "create":
          case "-N": {
            if (live !== void 0) {
              if (exist && live.type === rest[0]) continue;
              throw new IpSetError(`Set ${name} already exists`);
            }
            staged.set(name, createSet(name, rest));
            destroyed.delete(name);
            continue;
          }
          case "add":
          case "-A":
          case "del":
          case "-D": {
            if (live === void 0) throw new IpSetError(`The set with the given name does not exist: ${name}`);
            if (!staged.has(name)) staged.set(name, cloneSet(live));
            const set = staged.get(name);
            const element = rest[0] ?? "";
            const adding = cmd === "add" || cmd === "-A";
            const done = adding ? set.add(element) : set.del(element);
            if (!done && !exist)
              throw new IpSetError(
                adding ? `Element cannot be added to the set: it's already added` : `Element cannot be deleted from the set: it's not added`
              );
            continue;
          }
          case "flush":
          case "-F": {
            if (live === void 0) throw new IpSetError(`The set with the given name does not exist: ${name}`);
            if (!staged.has(name)) staged.set(name, cloneSet(live));
            staged.get(name).flush();
            continue;
          }
          case "destroy":
          case "-X": {
            if (live === void 0) throw new IpSetError(`The set with the given name does not exist: ${name}`);
            if ((options.references?.(name) ?? 0) > 0)
              throw new IpSetError(`Set cannot be destroyed: it is in use by a kernel component`);
            staged.delete(name);
            destroyed.add(name);
            continue;
          }
          default:
            throw new IpSetError(`unknown command "${cmd}"`);
        }
      } catch (error) {
        if (error instanceof IpSetError) throw new IpSetError(`ipset restore: line ${n + 1}: ${error.message}`);
        throw error;
      }
    }
    for (const name of destroyed) if (!staged.has(name)) plan.push(() => this.sets.delete(name));
    for (const [name, set] of staged) {
      const live = this.sets.get(name);
      if (live !== void 0 && live.type === set.type && !destroyed.has(name))
        plan.push(() => {
          live.flush();
          for (const m of set.list()) live.add(m);
        });
      else plan.push(() => this.sets.set(name, set));
    }
    for (const step of plan) step();
  }
  /** `ipset list [NAME]` (`-sorted` orders members; `references` as for restore). */
  list(options = {}) {
    const out = [];
    for (const set of this.sets.values()) {
      if (options.name !== void 0 && set.name !== options.name) continue;
      const header = set.type === IpSetType.BITMAP_PORT ? `range ${set.portFirst}-${set.portLast}` : `family inet hashsize ${set.hashSize} maxelem ${set.maxElem}`;
      out.push(
        `Name: ${set.name}`,
        `Type: ${set.type}`,
        `Header: ${header}`,
        `References: ${options.references?.(set.name) ?? 0}`,
        `Number of entries: ${set.size}`,
        "Members:",
        ...set.list(options.sorted === true),
        ""
      );
    }
    if (options.name !== void 0 && out.length === 0)
      throw new IpSetError(`The set with the given name does not exist: ${options.name}`);
    return out.join("\n");
  }
};
function createSet(name, args) {
  const type = args[0];
  if (!(type in DIMENSIONS)) throw new IpSetError(`Syntax error: unknown settype ${args[0]}`);
  const options = {};
  for (let i = 1; i < args.length; i++) {
    const key = args[i];
    const value = args[i + 1];
    switch (key) {
      case "family":
        if (value !== "inet") throw new IpSetError(`${name}: only family inet is modelled`);
        i++;
        continue;
      case "hashsize":
        options.hashSize = Number(value);
        i++;
        continue;
      case "maxelem":
        options.maxElem = Number(value);
        i++;
        continue;
      case "range": {
        const m = /^(\d+)-(\d+)$/.exec(value ?? "");
        if (m === null) throw new IpSetError(`${name}: bad range "${value}"`);
        options.portFirst = Number(m[1]);
        options.portLast = Number(m[2]);
        i++;
        continue;
      }
      case "comment":
      case "counters":
        continue;
      default:
        throw new IpSetError(`${name}: unknown create option "${key}"`);
    }
  }
  if (type === IpSetType.BITMAP_PORT && options.portFirst === void 0)
    throw new IpSetError(`${name}: bitmap:port needs a range`);
  return new IpSet(name, type, options);
}
function cloneSet(set) {
  const copy = new IpSet(set.name, set.type, {
    hashSize: set.hashSize,
    maxElem: set.maxElem,
    portFirst: set.portFirst,
    portLast: set.portLast
  });
  for (const m of set.list()) copy.add(m);
  return copy;
}

// src/netfilter/ext/xt_set.ts
var DIM_MAX = 6;
var SetMatch = class extends Match {
  sideEffect = false;
  set = null;
  invert = false;
  dimensions = 0;
  src0 = false;
  src1 = false;
  src2 = false;
  matches(ctx) {
    const hit = this.set.test(ctx.packet, this.dimensions, this.src0, this.src1, this.src2);
    return hit !== this.invert;
  }
};
var setMatch = {
  name: "set",
  options: ["match-set"],
  create: () => new SetMatch(),
  parse(m, option, next, invert, env) {
    const match2 = m;
    if (match2.set !== null) throw new RuleParseError("set: --match-set can be specified only once");
    const name = next(`--${option}`);
    const flags = next(`--${option} ${name}`).split(",");
    const set = env.ipSet(name);
    if (set === void 0) throw new RuleParseError(`Set ${name} doesn't exist.`);
    if (flags.length > DIM_MAX) throw new RuleParseError(`set: too many binding tokens specified`);
    const src = [];
    for (const f of flags) {
      if (f !== "src" && f !== "dst")
        throw new RuleParseError(`set: you must specify (the comma separated list of) 'src' or 'dst'`);
      src.push(f === "src");
    }
    match2.set = set;
    match2.invert = invert;
    match2.dimensions = flags.length;
    match2.src0 = src[0] ?? false;
    match2.src1 = src[1] ?? false;
    match2.src2 = src[2] ?? false;
    return match2;
  },
  finish(m) {
    if (m.set === null) throw new RuleParseError("set: you must specify --match-set");
  }
};

// src/netfilter/ext/xt_nat.ts
function parseNatRange(text, target) {
  const colon = text.indexOf(":");
  const addrText = colon < 0 ? text : text.slice(0, colon);
  if (addrText !== "") {
    const dash = addrText.indexOf("-");
    const lo = parseIpv4(dash < 0 ? addrText : addrText.slice(0, dash));
    const hi = dash < 0 ? lo : parseIpv4(addrText.slice(dash + 1));
    if (lo === void 0 || hi === void 0 || hi < lo) throw new RuleParseError(`bad NAT address "${addrText}"`);
    target.natAddrMin = lo;
    target.natAddrMax = hi;
    target.natHasAddr = true;
  }
  if (colon >= 0) parseNatPorts(text.slice(colon + 1), target);
}
function parseNatPorts(text, target) {
  const dash = text.indexOf("-");
  const lo = parsePort(dash < 0 ? text : text.slice(0, dash));
  const hi = dash < 0 ? lo : parsePort(text.slice(dash + 1));
  if (hi < lo) throw new RuleParseError(`bad NAT port range "${text}"`);
  target.natPortMin = lo;
  target.natPortMax = hi;
  target.natFlags |= NatFlag.PROTO_SPECIFIED;
}
function parseNatFlag(target, option) {
  if (option === "random") target.natFlags |= NatFlag.PROTO_RANDOM;
  else if (option === "random-fully") target.natFlags |= NatFlag.PROTO_RANDOM_FULLY;
  else if (option !== "persistent") return false;
  return true;
}
function extension(name, kind, rangeOption, options) {
  return {
    name,
    options: [rangeOption, ...options],
    init(target) {
      target.kind = kind;
    },
    parse(target, option, next) {
      if (option === rangeOption) parseNatRange(next(`--${option}`), target);
      else if (!parseNatFlag(target, option)) throw new RuleParseError(`unknown option "--${option}"`);
    }
  };
}
var dnatTarget = extension("DNAT", TargetKind.DNAT, "to-destination", ["random", "persistent"]);
var snatTarget = extension("SNAT", TargetKind.SNAT, "to-source", ["random", "random-fully", "persistent"]);

// src/netfilter/ext/xt_REDIRECT.ts
var REDIRECT_LOCAL_ADDRESS = 2130706433;
var redirectTarget = {
  name: "REDIRECT",
  options: ["to-ports", "random"],
  init(target) {
    target.kind = TargetKind.REDIRECT;
  },
  parse(target, option, next) {
    if (option === "to-ports") parseNatPorts(next(`--${option}`), target);
    else if (option !== "random" || !parseNatFlag(target, option))
      throw new RuleParseError(`unknown option "--${option}"`);
  }
};
function redirectAddress(host, hook, inIfIndex) {
  if (hook === Hook.OUTPUT) return REDIRECT_LOCAL_ADDRESS;
  if (inIfIndex < 0) return 0;
  return host.interfaceOwnAddress !== void 0 ? host.interfaceOwnAddress(inIfIndex) : host.interfaceAddress(inIfIndex);
}

// src/netfilter/recent.ts
var RecentEntry = class {
  constructor(address) {
    this.address = address;
  }
  address;
  /** Ring of timestamps (ns). */
  stamps = [];
  /** Next write position in the ring (e->index in the kernel). */
  index = 0;
  newestNs() {
    return this.stamps[(this.index + this.stamps.length - 1) % this.stamps.length];
  }
};
var RecentTable = class {
  constructor(name, listTotal = 100, packetListTotal = 20) {
    this.name = name;
    this.listTotal = listTotal;
    this.packetListTotal = packetListTotal;
  }
  name;
  listTotal;
  packetListTotal;
  /** Address -> entry, in LRU order (head = oldest). */
  entries = /* @__PURE__ */ new Map();
  evictions = 0;
  get size() {
    return this.entries.size;
  }
  /** recent_mt for one packet; `address` is already masked. */
  evaluate(m, address, nowNs) {
    let ret = m.invert;
    const e = this.entries.get(address);
    if (e === void 0) {
      if (m.command !== RecentCommand.SET) return ret;
      this.insert(address, nowNs);
      return !ret;
    }
    if (m.command === RecentCommand.SET) {
      ret = !ret;
    } else if (m.command === RecentCommand.REMOVE) {
      this.entries.delete(address);
      return !ret;
    } else {
      const oldestNs = nowNs - m.secondsNs;
      let hits = 0;
      for (let i = 0; i < e.stamps.length; i++) {
        if (m.secondsNs !== 0 && oldestNs > e.stamps[i]) continue;
        if (m.hitCount === 0 || ++hits >= m.hitCount) {
          ret = !ret;
          break;
        }
      }
      if (m.reap) this.reap(oldestNs, e, m.command === RecentCommand.UPDATE && ret);
    }
    if (m.command === RecentCommand.SET || m.command === RecentCommand.UPDATE && ret) this.update(e, nowNs);
    return ret;
  }
  insert(address, nowNs) {
    if (this.entries.size >= this.listTotal) {
      const head = this.entries.keys().next();
      if (!head.done) {
        this.entries.delete(head.value);
        this.evictions++;
      }
    }
    const e = new RecentEntry(address);
    e.stamps.push(nowNs);
    e.index = 1 % this.packetListTotal;
    this.entries.set(address, e);
  }
  update(e, nowNs) {
    if (e.index >= e.stamps.length) e.stamps.push(nowNs);
    else e.stamps[e.index] = nowNs;
    e.index = (e.index + 1) % this.packetListTotal;
    this.entries.delete(e.address);
    this.entries.set(e.address, e);
  }
  reap(oldestNs, working, updating) {
    const head = this.entries.values().next();
    if (head.done) return;
    const e = head.value;
    if (e === working && updating) return;
    if (oldestNs > e.newestNs()) this.entries.delete(e.address);
  }
  /** Addresses in LRU order (oldest first), for /proc/net/xt_recent-like listings. */
  list() {
    return [...this.entries.values()].map((e) => ({
      address: e.address,
      lastSeenNs: e.newestNs(),
      hits: e.stamps.length
    }));
  }
  flush() {
    this.entries.clear();
  }
};

// src/netfilter/ext/xt_addrtype.ts
var AddrtypeMatch = class extends Match {
  sideEffect = false;
  checkSrc = false;
  srcInvert = false;
  checkDst = false;
  dstInvert = false;
  matches(ctx) {
    const p = ctx.packet;
    if (this.checkSrc && ctx.host.isLocalAddress(p.srcAddr) === this.srcInvert) return false;
    if (this.checkDst && ctx.host.isLocalAddress(p.dstAddr) === this.dstInvert) return false;
    return true;
  }
};
var addrtypeMatch = {
  name: "addrtype",
  options: ["src-type", "dst-type"],
  create: () => new AddrtypeMatch(),
  parse(m, option, next, invert) {
    const match2 = m;
    const type = next(`--${option}`);
    if (type !== "LOCAL") throw new RuleParseError(`addrtype: only LOCAL is modelled, got "${type}"`);
    if (option === "src-type") {
      match2.checkSrc = true;
      match2.srcInvert = invert;
    } else {
      match2.checkDst = true;
      match2.dstInvert = invert;
    }
    return match2;
  }
};

// src/netfilter/ext/xt_comment.ts
var CommentMatch = class extends Match {
  constructor(comment) {
    super();
    this.comment = comment;
  }
  comment;
  sideEffect = false;
  get alwaysMatches() {
    return true;
  }
  matches() {
    return true;
  }
};
var commentMatch = {
  name: "comment",
  options: ["comment"],
  create: () => new CommentMatch(""),
  parse: (_m, option, next) => new CommentMatch(next(`--${option}`))
};

// src/netfilter/ext/xt_conntrack.ts
var CtStateMatch = class extends Match {
  constructor(mask, invert) {
    super();
    this.mask = mask;
    this.invert = invert;
  }
  mask;
  invert;
  sideEffect = false;
  matches(ctx) {
    return (ctx.packet.ctState & this.mask) !== 0 !== this.invert;
  }
};
function parseCtStates(text) {
  let mask = 0;
  for (const name of text.split(",")) {
    const entry = CT_STATE_NAMES.find(([n]) => n === name.toUpperCase());
    if (entry === void 0) throw new RuleParseError(`bad ctstate "${name}"`);
    mask |= entry[1];
  }
  return mask;
}
function extension2(name, option) {
  return {
    name,
    options: [option],
    create: () => new CtStateMatch(0, false),
    parse: (_m, opt3, next, invert) => new CtStateMatch(parseCtStates(next(`--${opt3}`)), invert)
  };
}
var conntrackMatch = extension2("conntrack", "ctstate");
var stateMatch = extension2("state", "state");

// src/netfilter/ext/ipt_icmp.ts
var IcmpMatch = class extends Match {
  constructor(type, code, invert) {
    super();
    this.type = type;
    this.code = code;
    this.invert = invert;
  }
  type;
  code;
  invert;
  sideEffect = false;
  matches(ctx) {
    const p = ctx.packet;
    if (p.protocol !== Protocol.ICMP) return false;
    const hit = p.icmpType === this.type && (this.code < 0 || p.icmpCode === this.code);
    return hit !== this.invert;
  }
};
var NAMED = {
  "echo-request": 8,
  "echo-reply": 0,
  "destination-unreachable": 3,
  "time-exceeded": 11,
  any: -1
};
var icmpMatch = {
  name: "icmp",
  options: ["icmp-type"],
  create: () => new IcmpMatch(-1, -1, false),
  parse(_m, option, next, invert) {
    const text = next(`--${option}`);
    const slash = text.indexOf("/");
    const typeText = slash < 0 ? text : text.slice(0, slash);
    const type = NAMED[typeText] ?? parseNumber(typeText, "icmp type", 255);
    const code = slash < 0 ? -1 : parseNumber(text.slice(slash + 1), "icmp code", 255);
    return new IcmpMatch(type, code, invert);
  }
};

// src/netfilter/ext/xt_mark.ts
var MarkMatch = class extends Match {
  constructor(value, mask, invert) {
    super();
    this.value = value;
    this.mask = mask;
    this.invert = invert;
  }
  value;
  mask;
  invert;
  sideEffect = false;
  matches(ctx) {
    return (ctx.packet.mark & this.mask) >>> 0 === this.value !== this.invert;
  }
};
var markMatch = {
  name: "mark",
  options: ["mark"],
  create: () => new MarkMatch(0, 4294967295, false),
  parse(_m, option, next, invert) {
    const [value, mask] = parseValueMask(next(`--${option}`), "mark");
    const m = mask ?? 4294967295;
    return new MarkMatch((value & m) >>> 0, m, invert);
  }
};
var markTarget = {
  name: "MARK",
  options: ["set-mark", "set-xmark", "or-mark", "xor-mark", "and-mark"],
  init(target) {
    target.kind = TargetKind.MARK;
  },
  parse(target, option, next) {
    const flag = `--${option}`;
    switch (option) {
      case "set-xmark":
      case "set-mark": {
        const [value, mask] = parseValueMask(next(flag), "mark");
        const m = mask ?? 4294967295;
        target.markValue = value;
        target.markMask = option === "set-mark" ? (m | value) >>> 0 : m;
        return;
      }
      case "or-mark": {
        const bits = parseNumber(next(flag), "mark");
        target.markValue = bits;
        target.markMask = bits;
        return;
      }
      case "xor-mark":
        target.markValue = parseNumber(next(flag), "mark");
        target.markMask = 0;
        return;
      case "and-mark":
        target.markValue = 0;
        target.markMask = ~parseNumber(next(flag), "mark") >>> 0;
        return;
      default:
        throw new RuleParseError(`unknown option "${flag}"`);
    }
  }
};

// src/netfilter/ext/xt_multiport.ts
var MultiportMatch = class extends Match {
  sideEffect = false;
  /** 0 = --sports, 1 = --dports, 2 = --ports (either). */
  flags = 1;
  invert = false;
  min = [];
  max = [];
  matches(ctx) {
    const p = ctx.packet;
    if (p.protocol !== Protocol.TCP && p.protocol !== Protocol.UDP) return false;
    for (let i = 0; i < this.min.length; i++) {
      const lo = this.min[i];
      const hi = this.max[i];
      if (this.flags !== 1 && p.srcPort >= lo && p.srcPort <= hi) return !this.invert;
      if (this.flags !== 0 && p.dstPort >= lo && p.dstPort <= hi) return !this.invert;
    }
    return this.invert;
  }
};
var multiportMatch = {
  name: "multiport",
  options: ["dports", "sports", "ports", "destination-ports", "source-ports"],
  create: () => new MultiportMatch(),
  parse(m, option, next, invert) {
    const match2 = m;
    match2.flags = option.startsWith("s") ? 0 : option.startsWith("d") ? 1 : 2;
    match2.invert = invert;
    const list = next(`--${option}`).split(",");
    if (list.length > 15) throw new RuleParseError("multiport: too many ports specified (max 15)");
    for (const item of list) {
      const [lo, hi] = parsePortRange2(item);
      match2.min.push(lo);
      match2.max.push(hi);
    }
    return match2;
  }
};

// src/netfilter/ext/xt_physdev.ts
var PhysdevMatch = class extends Match {
  sideEffect = false;
  /** Option bits used (XT_PHYSDEV_OP_ISIN 2, XT_PHYSDEV_OP_BRIDGED 4) and their inversions. */
  bitmask = 0;
  invert = 0;
  matches(ctx) {
    const host = ctx.host;
    const bridged = ctx.inIfIndex >= 0 && host.interfaceIsBridge !== void 0 && host.interfaceIsBridge(ctx.inIfIndex);
    if (!bridged) {
      if ((this.bitmask & OP_BRIDGED) !== 0 && (this.invert & OP_BRIDGED) === 0) return false;
      if ((this.bitmask & OP_ISIN) !== 0 && (this.invert & OP_ISIN) === 0) return false;
      return true;
    }
    if ((this.bitmask & OP_BRIDGED) !== 0) {
      const isBridged = ctx.hook === Hook.FORWARD;
      if (isBridged === ((this.invert & OP_BRIDGED) !== 0)) return false;
    }
    if ((this.bitmask & OP_ISIN) !== 0 && (this.invert & OP_ISIN) !== 0) return false;
    return true;
  }
};
var OP_ISIN = 2;
var OP_BRIDGED = 4;
var physdevMatch = {
  name: "physdev",
  options: ["physdev-is-in", "physdev-is-bridged", "physdev-in", "physdev-out", "physdev-is-out"],
  create: () => new PhysdevMatch(),
  parse(m, option, _next, invert) {
    const match2 = m;
    const bit = option === "physdev-is-in" ? OP_ISIN : option === "physdev-is-bridged" ? OP_BRIDGED : 0;
    if (bit === 0) throw new RuleParseError(`physdev: --${option} is not modelled`);
    if ((match2.bitmask & bit) !== 0) throw new RuleParseError(`physdev: --${option} given twice`);
    match2.bitmask |= bit;
    if (invert) match2.invert |= bit;
    return match2;
  },
  finish(m) {
    if (m.bitmask === 0) throw new RuleParseError("physdev: at least one option is required");
  }
};

// src/netfilter/ext/xt_nfacct.ts
var NfacctMatch = class extends Match {
  constructor(counter) {
    super();
    this.counter = counter;
  }
  counter;
  sideEffect = true;
  matches(ctx) {
    this.counter.packets++;
    this.counter.bytes += ctx.packet.totalBytes;
    return true;
  }
};
var nfacctMatch = {
  name: "nfacct",
  options: ["nfacct-name"],
  create: (env) => new NfacctMatch(env.nfacctCounter("")),
  parse: (_m, option, next, _invert, env) => new NfacctMatch(env.nfacctCounter(next(`--${option}`))),
  finish(m) {
    if (m.counter.name === "") throw new RuleParseError("nfacct: --nfacct-name is required");
  }
};

// src/netfilter/ext/xt_recent.ts
var RecentMatch = class extends Match {
  constructor(table) {
    super();
    this.table = table;
  }
  table;
  sideEffect = true;
  command = 0;
  invert = false;
  secondsNs = 0;
  hitCount = 0;
  reap = false;
  useDestination = false;
  mask = 4294967295;
  matches(ctx) {
    const p = ctx.packet;
    const address = ((this.useDestination ? p.dstAddr : p.srcAddr) & this.mask) >>> 0;
    return this.table.evaluate(this, address, ctx.nowNs);
  }
};
var recentMatch = {
  name: "recent",
  options: [
    "name",
    "set",
    "rcheck",
    "update",
    "remove",
    "seconds",
    "reap",
    "hitcount",
    "rsource",
    "rdest",
    "mask",
    "rttl"
  ],
  create: (env) => new RecentMatch(env.recentTable("DEFAULT")),
  parse(m, option, next, invert, env) {
    const match2 = m;
    const flag = `--${option}`;
    switch (option) {
      case "name": {
        const fresh = new RecentMatch(env.recentTable(next(flag)));
        fresh.command = match2.command;
        fresh.invert = match2.invert;
        fresh.secondsNs = match2.secondsNs;
        fresh.hitCount = match2.hitCount;
        fresh.reap = match2.reap;
        fresh.useDestination = match2.useDestination;
        fresh.mask = match2.mask;
        return fresh;
      }
      case "set":
      case "rcheck":
      case "update":
      case "remove":
        if (match2.command !== 0) throw new RuleParseError("recent: only one of --set, --rcheck, --update, --remove");
        match2.command = option === "set" ? RecentCommand.SET : option === "rcheck" ? RecentCommand.CHECK : option === "update" ? RecentCommand.UPDATE : RecentCommand.REMOVE;
        match2.invert = invert;
        return match2;
      case "seconds":
        match2.secondsNs = parseNumber(next(flag), "--seconds") * 1e9;
        return match2;
      case "hitcount":
        match2.hitCount = parseNumber(next(flag), "--hitcount");
        return match2;
      case "reap":
        match2.reap = true;
        return match2;
      case "rsource":
        match2.useDestination = false;
        return match2;
      case "rdest":
        match2.useDestination = true;
        return match2;
      case "mask": {
        const mask = parseIpv4(next(flag));
        if (mask === void 0) throw new RuleParseError("recent: bad --mask");
        match2.mask = mask;
        return match2;
      }
      default:
        throw new RuleParseError(`recent: --${option} is not modelled`);
    }
  },
  finish(m) {
    const match2 = m;
    if (match2.command === 0)
      throw new RuleParseError("recent: one of --set, --rcheck, --update or --remove is required");
    if (match2.reap && match2.secondsNs === 0) throw new RuleParseError("recent: --reap requires --seconds");
    if (match2.hitCount > match2.table.packetListTotal)
      throw new RuleParseError(`recent: --hitcount must be <= ${match2.table.packetListTotal} (ip_pkt_list_tot)`);
  }
};

// src/netfilter/ext/xt_ipvs.ts
var sources = /* @__PURE__ */ new WeakMap();
function bindIpvsMatchSource(env, source) {
  sources.set(env, source);
}
var BIT_IPVS = 1;
var BIT_VPROTO = 2;
var BIT_VADDR = 4;
var BIT_VPORT = 8;
var IpvsMatch = class extends Match {
  constructor(env) {
    super();
    this.env = env;
  }
  env;
  sideEffect = false;
  bitmask = 0;
  invert = 0;
  vproto = 0;
  vaddr = 0;
  vmask = 4294967295;
  vport = 0;
  matches(ctx) {
    const packet = ctx.packet;
    const source = sources.get(this.env);
    const property = source !== void 0 && source.hasIpvsProperty(packet);
    if (this.bitmask === BIT_IPVS) return property !== ((this.invert & BIT_IPVS) !== 0);
    if (source === void 0 || !property) return false;
    if ((this.bitmask & BIT_VPROTO) !== 0 && packet.protocol === this.vproto === ((this.invert & BIT_VPROTO) !== 0))
      return false;
    const cp = source.connOut(packet);
    if (cp < 0) return false;
    if ((this.bitmask & BIT_VPORT) !== 0 && source.connVport(cp) === this.vport === ((this.invert & BIT_VPORT) !== 0))
      return false;
    if ((this.bitmask & BIT_VADDR) !== 0 && (source.connVaddr(cp) & this.vmask) >>> 0 === this.vaddr === ((this.invert & BIT_VADDR) !== 0))
      return false;
    return true;
  }
};
function parseProto(text) {
  const lower = text.toLowerCase();
  if (lower === "tcp") return Protocol.TCP;
  if (lower === "udp") return Protocol.UDP;
  if (lower === "sctp") return 132;
  if (lower === "icmp") return Protocol.ICMP;
  if (/^\d+$/.test(text) && Number(text) <= 255) return Number(text);
  throw new RuleParseError(`ipvs: unknown protocol "${text}"`);
}
var ipvsMatch = {
  name: "ipvs",
  options: ["ipvs", "vproto", "vaddr", "vport"],
  create: (env) => new IpvsMatch(env),
  parse(m, option, next, invert) {
    const match2 = m;
    const flag = `--${option}`;
    let bit;
    switch (option) {
      case "ipvs":
        bit = BIT_IPVS;
        break;
      case "vproto":
        bit = BIT_VPROTO;
        match2.vproto = parseProto(next(flag));
        break;
      case "vaddr": {
        bit = BIT_VADDR;
        const [address, mask] = parseAddressMask(next(flag));
        match2.vaddr = address;
        match2.vmask = mask;
        break;
      }
      case "vport":
        bit = BIT_VPORT;
        match2.vport = parsePort(next(flag));
        break;
      default:
        throw new RuleParseError(`ipvs: ${flag} is not modelled`);
    }
    if ((match2.bitmask & bit) !== 0) throw new RuleParseError(`ipvs: ${flag} given twice`);
    match2.bitmask |= bit;
    if (invert) match2.invert |= bit;
    return match2;
  },
  finish(m) {
    if (m.bitmask === 0) throw new RuleParseError("ipvs: at least one option is required");
  }
};

// src/netfilter/ext/xt_statistic.ts
var StatisticMode = { RANDOM: 0, NTH: 1 };
var StatisticMatch = class extends Match {
  sideEffect = true;
  mode = StatisticMode.RANDOM;
  invert = false;
  threshold = 0;
  every = 0;
  packetOffset = 0;
  count = 0;
  matches(ctx) {
    let hit;
    if (this.mode === StatisticMode.RANDOM) {
      hit = (ctx.rng.uint32() & 2147483647) < this.threshold;
    } else {
      this.count = this.count === this.every ? 0 : this.count + 1;
      hit = this.count === 0;
    }
    return hit !== this.invert;
  }
};
function statisticThreshold(probabilityText) {
  const p = Number(probabilityText);
  if (!/^\s*[0-9]*\.?[0-9]+(e[-+]?[0-9]+)?\s*$/i.test(probabilityText) || !(p >= 0 && p <= 1)) {
    throw new RuleParseError(`--probability must be a number in [0, 1], got "${probabilityText}"`);
  }
  return Math.round(2147483648 * p);
}
var statisticMatch = {
  name: "statistic",
  options: ["mode", "probability", "every", "packet"],
  create: () => new StatisticMatch(),
  parse(m, option, next, invert) {
    const match2 = m;
    const flag = `--${option}`;
    switch (option) {
      case "mode": {
        const mode = next(flag);
        if (mode === "random") match2.mode = StatisticMode.RANDOM;
        else if (mode === "nth") match2.mode = StatisticMode.NTH;
        else throw new RuleParseError(`statistic: bad mode "${mode}"`);
        return match2;
      }
      case "probability":
        match2.threshold = statisticThreshold(next(flag));
        match2.invert = invert;
        return match2;
      case "every":
        match2.every = parseNumber(next(flag), "--every") - 1;
        if (match2.every < 0) throw new RuleParseError("--every must be at least 1");
        match2.invert = invert;
        return match2;
      default:
        match2.packetOffset = parseNumber(next(flag), "--packet");
        return match2;
    }
  },
  finish(m) {
    const match2 = m;
    if (match2.mode === StatisticMode.NTH) {
      if (match2.packetOffset > match2.every) throw new RuleParseError("the --packet p must be 0 <= p <= n-1");
      match2.count = match2.every - match2.packetOffset;
    }
  }
};

// src/netfilter/ext/xt_tcpudp.ts
var PortMatch = class extends Match {
  constructor(protocol) {
    super();
    this.protocol = protocol;
  }
  protocol;
  sideEffect = false;
  sportMin = 0;
  sportMax = 65535;
  sportInvert = false;
  dportMin = 0;
  dportMax = 65535;
  dportInvert = false;
  matches(ctx) {
    const p = ctx.packet;
    if (p.protocol !== this.protocol) return false;
    if ((p.srcPort >= this.sportMin && p.srcPort <= this.sportMax) === this.sportInvert) return false;
    return (p.dstPort >= this.dportMin && p.dstPort <= this.dportMax) !== this.dportInvert;
  }
};
function extension3(name, protocol) {
  return {
    name,
    options: ["dport", "sport", "destination-port", "source-port"],
    create: () => new PortMatch(protocol),
    parse(m, option, next, invert) {
      const match2 = m;
      const [lo, hi] = parsePortRange2(next(`--${option}`));
      if (option === "dport" || option === "destination-port") {
        match2.dportMin = lo;
        match2.dportMax = hi;
        match2.dportInvert = invert;
      } else {
        match2.sportMin = lo;
        match2.sportMax = hi;
        match2.sportInvert = invert;
      }
      return match2;
    },
    finish(m, rule2) {
      if (rule2.protocol !== m.protocol || rule2.protocolInvert)
        throw new RuleParseError(`${name} match requires -p ${name}`);
    }
  };
}
var tcpMatch = extension3("tcp", Protocol.TCP);
var udpMatch = extension3("udp", Protocol.UDP);

// src/netfilter/ext/ipt_REJECT.ts
var REJECT_WITH = {
  "icmp-port-unreachable": RejectWith.ICMP_PORT_UNREACHABLE,
  "port-unreach": RejectWith.ICMP_PORT_UNREACHABLE,
  "icmp-host-unreachable": RejectWith.ICMP_HOST_UNREACHABLE,
  "host-unreach": RejectWith.ICMP_HOST_UNREACHABLE,
  "icmp-net-unreachable": RejectWith.ICMP_NET_UNREACHABLE,
  "net-unreach": RejectWith.ICMP_NET_UNREACHABLE,
  "icmp-admin-prohibited": RejectWith.ICMP_ADMIN_PROHIBITED,
  "admin-prohib": RejectWith.ICMP_ADMIN_PROHIBITED,
  "icmp-proto-unreachable": RejectWith.ICMP_PROTO_UNREACHABLE,
  "proto-unreach": RejectWith.ICMP_PROTO_UNREACHABLE,
  "tcp-reset": RejectWith.TCP_RESET,
  "tcp-rst": RejectWith.TCP_RESET
};
var rejectTarget = {
  name: "REJECT",
  options: ["reject-with"],
  init(target) {
    target.kind = TargetKind.REJECT;
  },
  parse(target, option, next) {
    const how = REJECT_WITH[next(`--${option}`)];
    if (how === void 0) throw new RuleParseError("REJECT: unknown --reject-with");
    target.rejectWith = how;
  }
};

// src/netfilter/ext/xt_CT.ts
var notrackTarget = {
  name: "NOTRACK",
  options: [],
  init(target) {
    target.kind = TargetKind.NOTRACK;
  }
};
var ctTarget = {
  name: "CT",
  options: ["notrack"],
  init(target) {
    target.kind = TargetKind.NOTRACK;
    target.chainName = "CT";
  },
  parse(_target, _option, _next) {
  }
};

// src/netfilter/ext/xt_LOG.ts
var logTarget = {
  name: "LOG",
  options: ["log-prefix", "log-level"],
  init(target) {
    target.kind = TargetKind.LOG;
  },
  parse(_target, option, next) {
    next(`--${option}`);
  }
};

// src/netfilter/ext/xt_MASQUERADE.ts
var masqueradeTarget = {
  name: "MASQUERADE",
  options: ["to-ports", "random", "random-fully"],
  init(target) {
    target.kind = TargetKind.MASQUERADE;
  },
  parse(target, option, next) {
    if (option === "to-ports") parseNatPorts(next(`--${option}`), target);
    else if (!parseNatFlag(target, option)) throw new RuleParseError(`unknown option "--${option}"`);
  }
};

// src/netfilter/ext/xt_standard.ts
function verdict(name, kind) {
  return {
    name,
    options: [],
    init(target) {
      target.kind = kind;
    }
  };
}
var acceptTarget = verdict("ACCEPT", TargetKind.ACCEPT);
var dropTarget = verdict("DROP", TargetKind.DROP);
var returnTarget = verdict("RETURN", TargetKind.RETURN);

// src/netfilter/ext/registry.ts
function byName(list) {
  const map = /* @__PURE__ */ new Map();
  for (const e of list) {
    if (map.has(e.name)) throw new Error(`netfilter: extension ${e.name} registered twice`);
    map.set(e.name, e);
  }
  return map;
}
var MATCH_EXTENSIONS = byName([
  tcpMatch,
  udpMatch,
  multiportMatch,
  commentMatch,
  markMatch,
  addrtypeMatch,
  conntrackMatch,
  stateMatch,
  icmpMatch,
  statisticMatch,
  recentMatch,
  nfacctMatch,
  setMatch,
  physdevMatch,
  ipvsMatch
]);
var TARGET_EXTENSIONS = byName([
  acceptTarget,
  dropTarget,
  returnTarget,
  rejectTarget,
  markTarget,
  dnatTarget,
  snatTarget,
  masqueradeTarget,
  notrackTarget,
  ctTarget,
  logTarget,
  redirectTarget
]);

// src/netfilter/rule.ts
var CHECK_CALL = 0;
var CHECK_CTSTATE = 1;
var CHECK_MARK = 2;
var CHECK_PORT = 3;
function checkKind(m) {
  if (m instanceof CtStateMatch) return CHECK_CTSTATE;
  if (m instanceof MarkMatch) return CHECK_MARK;
  if (m instanceof PortMatch) return CHECK_PORT;
  return CHECK_CALL;
}
var Rule = class {
  srcAddr = 0;
  srcMask = 0;
  srcInvert = false;
  dstAddr = 0;
  dstMask = 0;
  dstInvert = false;
  /** 0 = any protocol. */
  protocol = 0;
  protocolInvert = false;
  inIface = "";
  inIfaceWildcard = false;
  inIfaceInvert = false;
  outIface = "";
  outIfaceWildcard = false;
  outIfaceInvert = false;
  matches = [];
  /** The matches `evaluate` runs: `matches` in order without the ones that always match. */
  checks = [];
  /** checkKinds[i]: how evaluate runs checks[i] (CHECK_*). */
  checkKinds = [];
  target = new Target();
  /** Tokens after `-A CHAIN`, in input order, unquoted. */
  tokens;
  packets = 0;
  bytes = 0;
  /** Index key parts (see ChainIndex); -1 when the rule cannot be keyed that way. */
  keyDport = -1;
  keyDst = -1;
  keyProtocol = 0;
  constructor(tokens) {
    this.tokens = tokens;
  }
  /** ip_packet_match + extension matches, in order. */
  evaluate(ctx) {
    const p = ctx.packet;
    if ((p.srcAddr & this.srcMask) >>> 0 === this.srcAddr === this.srcInvert) return false;
    if ((p.dstAddr & this.dstMask) >>> 0 === this.dstAddr === this.dstInvert) return false;
    if (this.inIface !== "" && this.interfaceMatches(ctx, ctx.inIfIndex, this.inIface, this.inIfaceWildcard) === this.inIfaceInvert)
      return false;
    if (this.outIface !== "" && this.interfaceMatches(ctx, ctx.outIfIndex, this.outIface, this.outIfaceWildcard) === this.outIfaceInvert)
      return false;
    if (this.protocol !== 0 && p.protocol === this.protocol === this.protocolInvert) return false;
    const checks = this.checks;
    const kinds = this.checkKinds;
    for (let i = 0; i < checks.length; i++) {
      switch (kinds[i]) {
        case CHECK_CTSTATE: {
          const m = checks[i];
          if ((p.ctState & m.mask) !== 0 === m.invert) return false;
          break;
        }
        case CHECK_MARK: {
          const m = checks[i];
          if ((p.mark & m.mask) >>> 0 === m.value === m.invert) return false;
          break;
        }
        case CHECK_PORT: {
          const m = checks[i];
          if (p.protocol !== m.protocol) return false;
          if ((p.srcPort >= m.sportMin && p.srcPort <= m.sportMax) === m.sportInvert) return false;
          if ((p.dstPort >= m.dportMin && p.dstPort <= m.dportMax) === m.dportInvert) return false;
          break;
        }
        default:
          if (!checks[i].matches(ctx)) return false;
      }
    }
    return true;
  }
  interfaceMatches(ctx, ifIndex, name, wildcard) {
    if (ifIndex < 0) return false;
    const actual = ctx.host.interfaceName(ifIndex);
    return wildcard ? actual.startsWith(name) : actual === name;
  }
  /** The rule as iptables-save prints it after `-A CHAIN`. */
  text() {
    return formatTokens(this.tokens);
  }
};
function tokenize(line) {
  const out = [];
  let current = "";
  let inToken = false;
  let i = 0;
  const n = line.length;
  while (i < n) {
    const c = line.charCodeAt(i);
    if (c === 32 || c === 9) {
      if (inToken) out.push(current);
      current = "";
      inToken = false;
      i++;
      continue;
    }
    inToken = true;
    if (c === 34 || c === 39) {
      let j2 = i + 1;
      let start = j2;
      for (; ; ) {
        if (j2 >= n) throw new RuleParseError("unterminated quoted string");
        const d = line.charCodeAt(j2);
        if (d === c) break;
        if (d === 92 && j2 + 1 < n) {
          current += line.slice(start, j2) + line[j2 + 1];
          j2 += 2;
          start = j2;
          continue;
        }
        j2++;
      }
      current += line.slice(start, j2);
      i = j2 + 1;
      continue;
    }
    let j = i + 1;
    while (j < n) {
      const d = line.charCodeAt(j);
      if (d === 32 || d === 9 || d === 34 || d === 39) break;
      j++;
    }
    current = current === "" ? line.slice(i, j) : current + line.slice(i, j);
    i = j;
  }
  if (inToken) out.push(current);
  return out;
}
function formatToken(token) {
  if (token !== "" && !/[\s"'\\]/.test(token)) return token;
  return `"${token.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}
function formatTokens(tokens) {
  return tokens.map(formatToken).join(" ");
}
function parseProtocol(text) {
  switch (text.toLowerCase()) {
    case "tcp":
      return Protocol.TCP;
    case "udp":
      return Protocol.UDP;
    case "icmp":
      return Protocol.ICMP;
    case "all":
      return 0;
    default:
      if (/^\d+$/.test(text) && Number(text) <= 255) return Number(text);
      throw new RuleParseError(`unknown protocol "${text}"`);
  }
}
function parseRule(tokens, env) {
  const rule2 = new Rule(tokens);
  const target = rule2.target;
  let invert = false;
  let targetName = "";
  const modules = [];
  let i = 0;
  const next = (what) => {
    if (i >= tokens.length) throw new RuleParseError(`${what} needs an argument`);
    return tokens[i++];
  };
  const takeInvert = () => {
    const value = invert;
    invert = false;
    return value;
  };
  while (i < tokens.length) {
    const token = tokens[i++];
    if (token === "!") {
      if (invert) throw new RuleParseError("multiple ! flags");
      invert = true;
      continue;
    }
    switch (token) {
      case "-s":
      case "--source": {
        ;
        [rule2.srcAddr, rule2.srcMask] = parseAddressMask(next(token));
        rule2.srcInvert = takeInvert();
        continue;
      }
      case "-d":
      case "--destination": {
        ;
        [rule2.dstAddr, rule2.dstMask] = parseAddressMask(next(token));
        rule2.dstInvert = takeInvert();
        continue;
      }
      case "-p":
      case "--protocol":
        rule2.protocol = parseProtocol(next(token));
        rule2.protocolInvert = takeInvert();
        continue;
      case "-i":
      case "--in-interface": {
        const name = next(token);
        rule2.inIfaceWildcard = name.endsWith("+");
        rule2.inIface = rule2.inIfaceWildcard ? name.slice(0, -1) : name;
        rule2.inIfaceInvert = takeInvert();
        if (rule2.inIface === "" && !rule2.inIfaceInvert) rule2.inIfaceWildcard = false;
        continue;
      }
      case "-o":
      case "--out-interface": {
        const name = next(token);
        rule2.outIfaceWildcard = name.endsWith("+");
        rule2.outIface = rule2.outIfaceWildcard ? name.slice(0, -1) : name;
        rule2.outIfaceInvert = takeInvert();
        continue;
      }
      case "-m":
      case "--match": {
        if (invert) throw new RuleParseError("unexpected ! before -m");
        const name = next(token);
        modules.push({ name, match: createMatch(name, env) });
        continue;
      }
      case "-j":
      case "--jump":
      case "-g":
      case "--goto": {
        if (targetName !== "") throw new RuleParseError("multiple targets");
        targetName = next(token);
        if (token === "-g" || token === "--goto") {
          target.kind = TargetKind.GOTO;
          target.chainName = targetName;
        } else initTarget(target, targetName);
        continue;
      }
      default:
        break;
    }
    if (!token.startsWith("--")) throw new RuleParseError(`unexpected argument "${token}"`);
    const option = token.slice(2);
    if (targetName !== "" && targetAcceptsOption(target, targetName, option)) {
      parseTargetOption(target, targetName, option, next, takeInvert());
      continue;
    }
    let owner;
    for (let m = modules.length - 1; m >= 0 && owner === void 0; m--)
      if (matchAcceptsOption(modules[m].name, option)) owner = modules[m];
    if (owner === void 0 && (rule2.protocol === Protocol.TCP || rule2.protocol === Protocol.UDP) && (option === "dport" || option === "sport" || option === "destination-port" || option === "source-port")) {
      owner = {
        name: rule2.protocol === Protocol.TCP ? "tcp" : "udp",
        match: createMatch(rule2.protocol === Protocol.TCP ? "tcp" : "udp", env)
      };
      modules.push(owner);
    }
    if (owner === void 0 && rule2.protocol === Protocol.ICMP && option === "icmp-type") {
      owner = { name: "icmp", match: createMatch("icmp", env) };
      modules.push(owner);
    }
    if (owner === void 0) throw new RuleParseError(`unknown option "${token}"`);
    owner.match = parseMatchOption(owner.name, owner.match, option, next, takeInvert(), env);
  }
  if (invert) throw new RuleParseError("trailing !");
  for (const m of modules) {
    finishMatch(m.name, m.match, rule2);
    rule2.matches.push(m.match);
  }
  rule2.checks = rule2.matches.filter((m) => !m.alwaysMatches);
  rule2.checkKinds = rule2.checks.map(checkKind);
  computeIndexKey(rule2);
  return rule2;
}
function createMatch(name, env) {
  const ext = MATCH_EXTENSIONS.get(name);
  if (ext === void 0) throw new RuleParseError(`unknown match "${name}"`);
  return ext.create(env);
}
function matchAcceptsOption(name, option) {
  return MATCH_EXTENSIONS.get(name)?.options.includes(option) ?? false;
}
function parseMatchOption(name, match2, option, next, invert, env) {
  const ext = MATCH_EXTENSIONS.get(name);
  if (ext === void 0) throw new RuleParseError(`unknown option "--${option}"`);
  return ext.parse(match2, option, next, invert, env);
}
function finishMatch(name, match2, rule2) {
  MATCH_EXTENSIONS.get(name)?.finish?.(match2, rule2);
}
function initTarget(target, name) {
  const ext = TARGET_EXTENSIONS.get(name);
  if (ext !== void 0) {
    ext.init(target);
    return;
  }
  if (!/^[A-Za-z0-9_.\-]+$/.test(name) || name.length > 28) throw new RuleParseError(`bad target name "${name}"`);
  target.kind = TargetKind.JUMP;
  target.chainName = name;
}
function targetAcceptsOption(_target, name, option) {
  return TARGET_EXTENSIONS.get(name)?.options.includes(option) ?? false;
}
function parseTargetOption(target, name, option, next, invert) {
  const flag = `--${option}`;
  if (invert) throw new RuleParseError(`${name}: ! not allowed before ${flag}`);
  const ext = TARGET_EXTENSIONS.get(name);
  if (ext?.parse === void 0) throw new RuleParseError(`unknown option "${flag}"`);
  ext.parse(target, option, next);
}
function computeIndexKey(rule2) {
  if (rule2.protocol === 0 || rule2.protocolInvert) return;
  let portIndex = -1;
  for (let i = 0; i < rule2.matches.length; i++) {
    const m = rule2.matches[i];
    if (m instanceof PortMatch && m.dportMin === m.dportMax && !m.dportInvert && m.protocol === rule2.protocol) {
      portIndex = i;
      break;
    }
    if (m.sideEffect) return;
  }
  if (portIndex < 0) return;
  rule2.keyDport = rule2.matches[portIndex].dportMin;
  rule2.keyProtocol = rule2.protocol;
  if (!rule2.dstInvert && rule2.dstMask === 4294967295) rule2.keyDst = rule2.dstAddr;
}

// src/netfilter/table.ts
var BUILTIN_CHAINS = [
  [Hook.PREROUTING, Hook.OUTPUT],
  [Hook.PREROUTING, Hook.INPUT, Hook.FORWARD, Hook.OUTPUT, Hook.POSTROUTING],
  [Hook.PREROUTING, Hook.INPUT, Hook.OUTPUT, Hook.POSTROUTING],
  [Hook.INPUT, Hook.FORWARD, Hook.OUTPUT]
];
var HOOK_CHAIN_NAMES = ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"];
var EMPTY2 = [];
function exactKey(dst, protocol, dport) {
  return (dst ^ Math.imul(protocol << 16 | dport, 2654435761)) >>> 0;
}
function portKey(protocol, dport) {
  return protocol << 16 | dport;
}
var ChainIndex = class {
  exact = /* @__PURE__ */ new Map();
  port = /* @__PURE__ */ new Map();
  rest = [];
  constructor(rules) {
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i];
      if (r.keyDport < 0) this.rest.push(i);
      else if (r.keyDst >= 0) push(this.exact, exactKey(r.keyDst, r.keyProtocol, r.keyDport), i);
      else push(this.port, portKey(r.keyProtocol, r.keyDport), i);
    }
  }
  exactBucket(dst, protocol, dport) {
    return this.exact.get(exactKey(dst, protocol, dport)) ?? EMPTY2;
  }
  portBucket(protocol, dport) {
    return this.port.get(portKey(protocol, dport)) ?? EMPTY2;
  }
};
function push(map, key, value) {
  const list = map.get(key);
  if (list === void 0) map.set(key, [value]);
  else list.push(value);
}
function lowerBound(list, value) {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = lo + hi >> 1;
    if (list[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
var Chain = class _Chain {
  constructor(name, builtinHook) {
    this.name = name;
    this.builtinHook = builtinHook;
  }
  name;
  builtinHook;
  rules = [];
  policy = Policy.ACCEPT;
  policyPackets = 0;
  policyBytes = 0;
  /** Built-in chain shown by save() (declared, has rules, or a non-default policy). */
  declared = false;
  index = null;
  indexDirty = true;
  /**
   * jumps[i]: for a JUMP/GOTO rule i, the index of its target chain in Table.chains; -1 otherwise.
   * Set by Table.commit; per chain because chains are copied per restore and rules are shared.
   */
  jumps = new Int32Array(0);
  get builtin() {
    return this.builtinHook >= 0;
  }
  copy() {
    const c = new _Chain(this.name, this.builtinHook);
    c.rules = this.rules.slice();
    c.policy = this.policy;
    c.policyPackets = this.policyPackets;
    c.policyBytes = this.policyBytes;
    c.declared = this.declared;
    return c;
  }
};
var Table = class _Table {
  constructor(id) {
    this.id = id;
    for (const hook of BUILTIN_CHAINS[id]) {
      const chain = new Chain(HOOK_CHAIN_NAMES[hook], hook);
      this.addChain(chain);
      this.hookChains[hook] = chain;
    }
  }
  id;
  chains = [];
  byName = /* @__PURE__ */ new Map();
  /** Built-in chain per hook (null where the table has none). */
  hookChains = [null, null, null, null, null];
  /** Restored at least once: printed by save(). */
  shown = false;
  get name() {
    return TABLE_NAMES[this.id];
  }
  addChain(chain) {
    this.chains.push(chain);
    this.byName.set(chain.name, chain);
  }
  chain(name) {
    return this.byName.get(name);
  }
  /** Deep-enough copy for a --noflush restore transaction (rules are shared, chains are not). */
  copy() {
    const t = new _Table(this.id);
    t.chains = [];
    t.byName.clear();
    for (const c of this.chains) {
      const copy = c.copy();
      t.addChain(copy);
      if (copy.builtin) t.hookChains[copy.builtinHook] = copy;
    }
    t.shown = this.shown;
    return t;
  }
  /** Resolves jump targets, rejects loops; throws RuleParseError. */
  commit(indexThreshold) {
    const position = /* @__PURE__ */ new Map();
    this.chains.forEach((c, i) => position.set(c, i));
    for (const chain of this.chains) {
      chain.indexDirty = true;
      chain.index = null;
      const jumps = new Int32Array(chain.rules.length).fill(-1);
      chain.rules.forEach((rule2, i) => {
        const t = rule2.target;
        if (t.kind !== TargetKind.JUMP && t.kind !== TargetKind.GOTO) return;
        const target = this.byName.get(t.chainName);
        if (target === void 0)
          throw new RuleParseError(`chain ${chain.name}: unknown target or chain "${t.chainName}"`);
        if (target.builtin)
          throw new RuleParseError(`chain ${chain.name}: cannot jump to built-in chain ${target.name}`);
        jumps[i] = position.get(target);
      });
      chain.jumps = jumps;
      if (chain.rules.length >= indexThreshold) {
        chain.index = new ChainIndex(chain.rules);
      }
      chain.indexDirty = false;
    }
    const state = /* @__PURE__ */ new Map();
    const visit = (c, depth) => {
      if (depth > 1024) throw new RuleParseError("chain nesting too deep");
      const s = state.get(c);
      if (s === 1) throw new RuleParseError(`loop detected through chain ${c.name}`);
      if (s === 2) return;
      state.set(c, 1);
      for (const j of c.jumps) if (j >= 0) visit(this.chains[j], depth + 1);
      state.set(c, 2);
    };
    for (const c of this.chains) visit(c, 0);
  }
};
var RestoreError = class extends Error {
  constructor(line, message) {
    super(`line ${line}: ${message}`);
    this.line = line;
  }
  line;
  name = "RestoreError";
};
function parseCounters(text) {
  const m = /^\[(\d+):(\d+)\]$/.exec(text);
  return m === null ? void 0 : [Number(m[1]), Number(m[2])];
}
function restoreTables(current, text, options, env, indexThreshold) {
  const staged = current.slice();
  const committed = [];
  const lines = text.split("\n");
  let table = null;
  let tableLine = 0;
  for (let n = 0; n < lines.length; n++) {
    const lineNo = n + 1;
    const line = lines[n].replace(/\r$/, "");
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    try {
      if (trimmed.startsWith("*")) {
        if (table !== null) throw new RuleParseError("table without COMMIT");
        const name = trimmed.slice(1);
        const id = TABLE_NAMES.indexOf(name);
        if (id < 0) throw new RuleParseError(`unknown table "${name}"`);
        table = staged[id].copy();
        if (options.noflush !== true) {
          table.chains = table.chains.filter((c) => c.builtin);
          table.byName.clear();
          for (const c of table.chains) {
            c.rules = [];
            table.byName.set(c.name, c);
          }
        }
        table.shown = true;
        tableLine = lineNo;
        continue;
      }
      if (trimmed === "COMMIT") {
        if (table === null) throw new RuleParseError("COMMIT outside a table");
        table.commit(indexThreshold);
        staged[table.id] = table;
        committed.push(table.id);
        table = null;
        continue;
      }
      if (table === null) throw new RuleParseError("rule outside a table (missing *table)");
      if (trimmed.startsWith(":")) {
        const parts = trimmed.slice(1).split(/\s+/);
        const name = parts[0];
        const policy = parts[1] ?? "-";
        if (name === "" || name.length > 28) throw new RuleParseError(`bad chain name "${name}"`);
        let chain = table.chain(name);
        if (chain === void 0) {
          if (policy !== "-") throw new RuleParseError(`chain ${name}: only built-in chains have a policy`);
          chain = new Chain(name, -1);
          table.addChain(chain);
        } else {
          chain.rules = [];
        }
        if (chain.builtin) {
          if (policy !== "ACCEPT" && policy !== "DROP") throw new RuleParseError(`bad policy "${policy}" for ${name}`);
          chain.policy = policy === "DROP" ? Policy.DROP : Policy.ACCEPT;
          chain.declared = true;
          const counters2 = parts[2] === void 0 ? void 0 : parseCounters(parts[2]);
          if (counters2 !== void 0 && options.counters === true) [chain.policyPackets, chain.policyBytes] = counters2;
        }
        continue;
      }
      let tokens = tokenize(trimmed);
      let counters;
      if (tokens[0]?.startsWith("[")) {
        counters = parseCounters(tokens[0]);
        if (counters === void 0) throw new RuleParseError(`bad counters "${tokens[0]}"`);
        tokens = tokens.slice(1);
      }
      const command = tokens[0];
      const chainName = tokens[1];
      if (chainName === void 0 && command !== "-F" && command !== "-X")
        throw new RuleParseError(`${command} needs a chain`);
      switch (command) {
        case "-A":
        case "--append":
        case "-I":
        case "--insert":
        case "-D":
        case "--delete": {
          const chain = table.chain(chainName);
          if (chain === void 0) throw new RuleParseError(`no chain named "${chainName}"`);
          let args = tokens.slice(2);
          let position = 1;
          if ((command === "-I" || command === "--insert") && args.length > 0 && /^\d+$/.test(args[0])) {
            position = Number(args[0]);
            args = args.slice(1);
          }
          const c = args.indexOf("-c");
          if (c >= 0 && args.length > c + 2) {
            counters = [Number(args[c + 1]), Number(args[c + 2])];
            args = [...args.slice(0, c), ...args.slice(c + 3)];
          }
          const rule2 = parseRule(args, env);
          if (counters !== void 0 && options.counters === true) [rule2.packets, rule2.bytes] = counters;
          if (chain.builtin) chain.declared = true;
          if (command === "-A" || command === "--append") chain.rules.push(rule2);
          else if (command === "-I" || command === "--insert") {
            if (position < 1 || position > chain.rules.length + 1)
              throw new RuleParseError(`index of insertion too big`);
            chain.rules.splice(position - 1, 0, rule2);
          } else {
            const text2 = rule2.text();
            const i = chain.rules.findIndex((r) => r.text() === text2);
            if (i < 0) throw new RuleParseError("bad rule (does a matching rule exist in that chain?)");
            chain.rules.splice(i, 1);
          }
          continue;
        }
        case "-N":
        case "--new-chain": {
          if (table.chain(chainName) !== void 0) throw new RuleParseError(`chain ${chainName} already exists`);
          table.addChain(new Chain(chainName, -1));
          continue;
        }
        case "-F":
        case "--flush": {
          const targets = chainName === void 0 ? table.chains : [table.chain(chainName)];
          for (const chain of targets) {
            if (chain === void 0) throw new RuleParseError(`no chain named "${chainName}"`);
            chain.rules = [];
          }
          continue;
        }
        case "-X":
        case "--delete-chain": {
          const victims = chainName === void 0 ? table.chains.filter((c) => !c.builtin) : [table.chain(chainName)];
          for (const chain of victims) {
            if (chain === void 0) throw new RuleParseError(`no chain named "${chainName}"`);
            if (chain.builtin) throw new RuleParseError(`cannot delete built-in chain ${chain.name}`);
            if (chain.rules.length > 0) throw new RuleParseError(`chain ${chain.name} is not empty`);
            for (const other of table.chains) {
              if (other !== chain && !victims.includes(other) && other.rules.some(
                (r) => r.target.chainName === chain.name && (r.target.kind === TargetKind.JUMP || r.target.kind === TargetKind.GOTO)
              )) {
                throw new RuleParseError(`chain ${chain.name} is referenced by ${other.name}`);
              }
            }
          }
          table.chains = table.chains.filter((c) => !victims.includes(c));
          for (const chain of victims) if (chain !== void 0) table.byName.delete(chain.name);
          continue;
        }
        case "-P":
        case "--policy": {
          const chain = table.chain(chainName);
          if (chain === void 0 || !chain.builtin) throw new RuleParseError(`bad built-in chain "${chainName}"`);
          const policy = tokens[2];
          if (policy !== "ACCEPT" && policy !== "DROP") throw new RuleParseError(`bad policy "${policy}"`);
          chain.policy = policy === "DROP" ? Policy.DROP : Policy.ACCEPT;
          chain.declared = true;
          continue;
        }
        default:
          throw new RuleParseError(`unknown command "${command}"`);
      }
    } catch (error) {
      if (error instanceof RuleParseError) throw new RestoreError(lineNo, error.message);
      throw error;
    }
  }
  if (table !== null) throw new RestoreError(tableLine, `table ${table.name} has no COMMIT`);
  return { tables: staged, committed };
}
function saveTables(tables, order, options = {}) {
  const out = [];
  for (const id of order) {
    const table = tables[id];
    if (!table.shown) continue;
    if (options.header === true) out.push("# Generated by kube-netsim");
    out.push(`*${table.name}`);
    const shown = table.chains.filter(
      (c) => !c.builtin || c.declared || c.rules.length > 0 || c.policy !== Policy.ACCEPT
    );
    for (const c of shown) {
      const policy = c.builtin ? c.policy === Policy.DROP ? "DROP" : "ACCEPT" : "-";
      const counters = c.builtin ? `[${c.policyPackets}:${c.policyBytes}]` : "[0:0]";
      out.push(`:${c.name} ${policy} ${counters}`);
    }
    for (const c of shown) {
      for (const r of c.rules) {
        const prefix2 = options.counters === true ? `[${r.packets}:${r.bytes}] ` : "";
        const args = formatTokens(r.tokens);
        out.push(args === "" ? `${prefix2}-A ${c.name}` : `${prefix2}-A ${c.name} ${args}`);
      }
    }
    out.push("COMMIT");
    if (options.header === true) out.push("# Completed");
  }
  return out.length === 0 ? "" : `${out.join("\n")}
`;
}

// src/netfilter/stack.ts
var ConntrackEvent = { NEW: 0, NAT: 1, CONFIRM: 2, INSERT_FAILED: 3, TABLE_FULL: 4, RELEASED: 5 };
var MANIP_SRC = Manip.SRC;
var MANIP_DST = Manip.DST;
var JUMP_STACK_MAX = 1024;
var NetfilterStack = class {
  constructor(host, options) {
    this.host = host;
    this.rng = options.rng;
    this.conntrack = new Conntrack(options.conntrack);
    this.nat = new NfNat(this.conntrack, this.rng);
    this.ruleCostNs = options.ruleCostNs ?? 50;
    this.conntrackLookupCostNs = options.conntrackLookupCostNs ?? 100;
    this.conntrackNewCostNs = options.conntrackNewCostNs ?? 400;
    this.indexThreshold = options.indexThreshold ?? 32;
    this.recentListTotal = options.recentListTotal ?? 100;
    this.recentPacketListTotal = options.recentPacketListTotal ?? 20;
    this.ctx = new MatchContext(host, this.rng);
    this.registerBuiltinOps();
  }
  host;
  lastCostNs = 0;
  lastDropReason = DropReason.NETFILTER_DROP;
  lastRejectWith = RejectWith.ICMP_PORT_UNREACHABLE;
  tracer = null;
  conntrack;
  tables = [
    new Table(TableId.RAW),
    new Table(TableId.MANGLE),
    new Table(TableId.NAT),
    new Table(TableId.FILTER)
  ];
  /** Order tables were first restored in; save() prints them in this order. */
  tableOrder = [];
  recentTables = /* @__PURE__ */ new Map();
  nfacctCounters = /* @__PURE__ */ new Map();
  /** This namespace's ipsets (`-m set --match-set`). */
  ipsets = new IpSetTable();
  logCount = 0;
  /** Rules a linear walk would have evaluated, over the stack's life. */
  rulesEvaluated = 0;
  ruleCostNs;
  conntrackLookupCostNs;
  conntrackNewCostNs;
  indexThreshold;
  recentListTotal;
  recentPacketListTotal;
  rng;
  ctx;
  stackChains = new Array(JUMP_STACK_MAX).fill(null);
  stackPositions = new Int32Array(JUMP_STACK_MAX);
  costRules = 0;
  /**
   * Simulated CPU the current packet was charged at this namespace's earlier hooks (since its
   * PREROUTING or OUTPUT): with the current hook's charge so far, how far along its hooks it is.
   */
  packetCostNs = 0;
  hook = Hook.PREROUTING;
  tableId = TableId.RAW;
  /** The hook host of this namespace: every op at every hook, in run order. */
  hooks = new NfHookEntries();
  state = new NfHookState();
  /** This PREROUTING packet came over lo with OUTPUT's conntrack entry (see runHook). */
  loopback = false;
  stolenBy = null;
  /** NAT core (nf_nat_core.c) over this namespace's conntrack table; shared with nft and IPVS. */
  nat;
  /**
   * NAT-type chains the NAT core runs for a connection's first packet, per hook in priority order
   * (`nf_nat_lookup_hook_priv.entries`, filled by nf_nat_register_fn): the iptables nat table and
   * nft `type nat` base chains. They are not hook ops of their own: the NAT core's op at
   * NF_IP_PRI_NAT_DST / NF_IP_PRI_NAT_SRC runs them (nf_nat_inet_fn), whatever their priority, and
   * stops at the first one that sets up a binding. A lookup binds with `nat.setupInfo`.
   */
  natLookups = new NfHookEntries();
  /**
   * The ops the kernel registers for conntrack (nf_conntrack_proto.c ipv4_conntrack_ops), NAT
   * (nf_nat_proto.c nf_nat_ipv4_ops) and the iptables tables (iptable_raw.c, iptable_mangle.c,
   * iptable_filter.c, iptable_nat.c: each table's valid_hooks at its NF_IP_PRI_*). The security
   * table (NF_IP_PRI_SECURITY) is not modelled: kube-proxy writes none of it.
   */
  registerBuiltinOps() {
    const h = this.hooks;
    const ct = new ConntrackInOp(this);
    h.register({ hook: Hook.PREROUTING, priority: NfPriority.CONNTRACK, handler: ct, name: "conntrack in" });
    h.register({ hook: Hook.OUTPUT, priority: NfPriority.CONNTRACK, handler: ct, name: "conntrack local" });
    const confirm = new ConfirmOp(this);
    h.register({
      hook: Hook.INPUT,
      priority: NfPriority.CONNTRACK_CONFIRM,
      handler: confirm,
      name: "conntrack confirm"
    });
    h.register({
      hook: Hook.POSTROUTING,
      priority: NfPriority.CONNTRACK_CONFIRM,
      handler: confirm,
      name: "conntrack confirm"
    });
    const table = (id, priority, hooks) => {
      const op = new IptTableOp(this, id);
      for (const hook of hooks) h.register({ hook, priority, handler: op, name: `iptables ${TABLE_NAMES[id]}` });
    };
    table(TableId.RAW, NfPriority.RAW, [Hook.PREROUTING, Hook.OUTPUT]);
    table(TableId.MANGLE, NfPriority.MANGLE, [Hook.PREROUTING, Hook.INPUT, Hook.FORWARD, Hook.OUTPUT, Hook.POSTROUTING]);
    table(TableId.FILTER, NfPriority.FILTER, [Hook.INPUT, Hook.FORWARD, Hook.OUTPUT]);
    const dnat = new IptNatOp(this, MANIP_DST);
    const snat = new IptNatOp(this, MANIP_SRC);
    h.register({ hook: Hook.PREROUTING, priority: NfPriority.NAT_DST, handler: dnat, name: "iptables nat" });
    h.register({ hook: Hook.OUTPUT, priority: NfPriority.NAT_DST, handler: dnat, name: "iptables nat" });
    h.register({ hook: Hook.INPUT, priority: NfPriority.NAT_SRC, handler: snat, name: "iptables nat" });
    h.register({ hook: Hook.POSTROUTING, priority: NfPriority.NAT_SRC, handler: snat, name: "iptables nat" });
    const lookup = new IptNatLookup(this);
    const l = this.natLookups;
    l.register({ hook: Hook.PREROUTING, priority: NfPriority.NAT_DST, handler: lookup, name: "iptables nat" });
    l.register({ hook: Hook.OUTPUT, priority: NfPriority.NAT_DST, handler: lookup, name: "iptables nat" });
    l.register({ hook: Hook.INPUT, priority: NfPriority.NAT_SRC, handler: lookup, name: "iptables nat" });
    l.register({ hook: Hook.POSTROUTING, priority: NfPriority.NAT_SRC, handler: lookup, name: "iptables nat" });
  }
  // -------------------------------------------------------------------------------------------
  // RuleEnvironment
  recentTable(name) {
    let t = this.recentTables.get(name);
    if (t === void 0) {
      t = new RecentTable(name, this.recentListTotal, this.recentPacketListTotal);
      this.recentTables.set(name, t);
    }
    return t;
  }
  ipSet(name) {
    return this.ipsets.get(name);
  }
  /** Rules of the live tables that use set `name` (`ipset list`'s References; destroy refuses while > 0). */
  ipSetReferences(name) {
    let n = 0;
    for (const table of this.tables)
      for (const chain of table.chains)
        for (const rule2 of chain.rules)
          for (const m of rule2.matches) if (m instanceof SetMatch && m.set !== null && m.set.name === name) n++;
    return n;
  }
  /** `ipset restore` into this namespace's sets (all or nothing; throws IpSetError with the line). */
  ipsetRestore(text, options = {}) {
    this.ipsets.restore(text, { ...options, references: (name) => this.ipSetReferences(name) });
  }
  /** `ipset list [NAME]`. */
  ipsetList(options = {}) {
    return this.ipsets.list({ ...options, references: (name) => this.ipSetReferences(name) });
  }
  nfacctCounter(name) {
    let c = this.nfacctCounters.get(name);
    if (c === void 0) {
      c = new NfacctCounter(name);
      if (name !== "") this.nfacctCounters.set(name, c);
    }
    return c;
  }
  // -------------------------------------------------------------------------------------------
  // Configuration
  /** iptables-restore [--noflush]. Throws RestoreError (line number) and changes nothing on error. */
  restore(text, options = {}) {
    const { tables, committed } = restoreTables(this.tables, text, options, this, this.indexThreshold);
    this.tables = tables;
    for (const id of committed) if (!this.tableOrder.includes(id)) this.tableOrder.push(id);
  }
  /** iptables-save. */
  save(options = {}) {
    return saveTables(this.tables, this.tableOrder, options);
  }
  table(id) {
    return this.tables[id];
  }
  /** Frees the unconfirmed conntrack entry of a packet that net/ dropped between hooks. */
  discard(packet) {
    const id = packet.ctId;
    if (id >= 0 && !this.conntrack.isConfirmed(id) && (this.conntrack.status[id] & CtStatus.USED) !== 0) {
      this.conntrack.release(id);
      this.tracer?.conntrack(ConntrackEvent.RELEASED, id, packet);
    }
    packet.ctId = -1;
  }
  // -------------------------------------------------------------------------------------------
  // PacketFilter
  runHook(hook, packet, inIfIndex, outIfIndex, nowNs) {
    const ctx = this.ctx;
    ctx.packet = packet;
    ctx.inIfIndex = inIfIndex;
    ctx.outIfIndex = outIfIndex;
    ctx.nowNs = nowNs;
    ctx.hook = hook;
    const state = this.state;
    state.hook = hook;
    state.inIfIndex = inIfIndex;
    state.outIfIndex = outIfIndex;
    state.nowNs = nowNs;
    state.extraNs = 0;
    this.hook = hook;
    this.costRules = 0;
    if (hook === Hook.PREROUTING || hook === Hook.OUTPUT) {
      this.loopback = packet.ctId >= 0 && (hook === Hook.OUTPUT || inIfIndex >= 0 && this.host.interfaceName(inIfIndex) === "lo");
      if (!this.loopback) packet.untracked = false;
      this.packetCostNs = 0;
    }
    const ops = this.hooks.ops[hook];
    let v = Verdict.ACCEPT;
    const tables = this.tables;
    for (let i = 0; i < ops.length; i++) {
      const handler = ops[i].handler;
      if (handler instanceof IptTableOp) {
        const table = tables[handler.tableId];
        if (table.hookChains[hook] === null || !table.shown) continue;
      }
      v = handler.hookFn(packet, state);
      if (v !== Verdict.ACCEPT) {
        this.stolenBy = v === Verdict.STOLEN ? handler : null;
        break;
      }
    }
    if (v !== Verdict.ACCEPT && v !== Verdict.STOLEN) this.discard(packet);
    this.rulesEvaluated += this.costRules;
    this.lastCostNs = this.costRules * this.ruleCostNs + state.extraNs;
    this.packetCostNs += this.lastCostNs;
    return v;
  }
  /** The network hands over the handle of the packet the last runHook returned STOLEN for. */
  takeStolen(handle, packet, readyNs) {
    const by = this.stolenBy;
    this.stolenBy = null;
    if (by === null || by.takeStolen === void 0)
      throw new Error("netfilter: a hook returned STOLEN but its handler takes no stolen packets");
    by.takeStolen(handle, packet, readyNs);
  }
  // -------------------------------------------------------------------------------------------
  // Built-in hook functions (the ops registered in the constructor)
  /** ipv4_conntrack_in / ipv4_conntrack_local (nf_conntrack_proto.c) at PREROUTING and OUTPUT. */
  conntrackIn(packet, state) {
    if (this.loopback) return Verdict.ACCEPT;
    state.extraNs += this.conntrackLookupCostNs;
    const before = this.conntrack.created;
    const drop = this.conntrack.packetIn(packet, state.nowNs);
    if (drop >= 0) {
      this.lastDropReason = drop;
      this.tracer?.conntrack(ConntrackEvent.TABLE_FULL, -1, packet);
      return Verdict.DROP;
    }
    if (this.conntrack.created !== before) {
      state.extraNs += this.conntrackNewCostNs;
      this.tracer?.conntrack(ConntrackEvent.NEW, packet.ctId, packet);
    }
    return Verdict.ACCEPT;
  }
  // -------------------------------------------------------------------------------------------
  // Rule traversal (ipt_do_table)
  /** ipt_do_table; called by the table ops (IptTableOp). */
  traverse(table, packet) {
    const start = table.hookChains[this.hook];
    if (start === null || !table.shown) return Verdict.ACCEPT;
    this.tableId = table.id;
    let chain = start;
    let pos = 0;
    let depth = 0;
    for (; ; ) {
      const i = this.firstMatch(chain, pos, packet);
      let kind;
      let rule2 = null;
      if (i < 0) {
        if (chain.builtin || depth === 0) return this.policy(start, packet);
        depth--;
        chain = this.stackChains[depth];
        pos = this.stackPositions[depth];
        continue;
      }
      rule2 = chain.rules[i];
      rule2.packets++;
      rule2.bytes += packet.totalBytes;
      const target = rule2.target;
      kind = target.kind;
      if (this.tracer !== null) this.tracer.rule(this.hook, table.id, chain, i, rule2, kind);
      switch (kind) {
        case TargetKind.NONE:
          pos = i + 1;
          continue;
        case TargetKind.LOG:
          this.logCount++;
          pos = i + 1;
          continue;
        case TargetKind.ACCEPT:
          return Verdict.ACCEPT;
        case TargetKind.DROP:
          this.lastDropReason = DropReason.NETFILTER_DROP;
          return Verdict.DROP;
        case TargetKind.REJECT:
          this.lastDropReason = DropReason.NETFILTER_REJECT;
          this.lastRejectWith = target.rejectWith;
          return Verdict.REJECT;
        case TargetKind.RETURN:
          if (chain.builtin || depth === 0) return this.policy(start, packet);
          depth--;
          chain = this.stackChains[depth];
          pos = this.stackPositions[depth];
          continue;
        case TargetKind.JUMP:
          if (depth >= JUMP_STACK_MAX) {
            this.lastDropReason = DropReason.NETFILTER_DROP;
            return Verdict.DROP;
          }
          this.stackChains[depth] = chain;
          this.stackPositions[depth] = i + 1;
          depth++;
          chain = table.chains[chain.jumps[i]];
          pos = 0;
          continue;
        case TargetKind.GOTO:
          chain = table.chains[chain.jumps[i]];
          pos = 0;
          continue;
        case TargetKind.MARK:
          packet.mark = (packet.mark & ~target.markMask ^ target.markValue) >>> 0;
          pos = i + 1;
          continue;
        case TargetKind.NOTRACK:
          packet.untracked = true;
          pos = i + 1;
          continue;
        case TargetKind.DNAT:
        case TargetKind.SNAT:
        case TargetKind.MASQUERADE:
        case TargetKind.REDIRECT:
          return this.natTarget(target, packet);
      }
    }
  }
  policy(chain, packet) {
    chain.policyPackets++;
    chain.policyBytes += packet.totalBytes;
    if (this.tracer !== null)
      this.tracer.rule(
        this.hook,
        this.tableId,
        chain,
        -1,
        null,
        chain.policy === Policy.DROP ? TargetKind.DROP : TargetKind.ACCEPT
      );
    if (chain.policy === Policy.DROP) {
      this.lastDropReason = DropReason.NETFILTER_DROP;
      return Verdict.DROP;
    }
    return Verdict.ACCEPT;
  }
  /**
   * Index of the first rule at or after `start` that matches, or -1. Charges, in `costRules`, the
   * rules a linear walk evaluates: up to and including the match, or to the end of the chain.
   */
  firstMatch(chain, start, packet) {
    const rules = chain.rules;
    const index = chain.index;
    const ctx = this.ctx;
    if (index === null) {
      for (let i = start; i < rules.length; i++) {
        if (rules[i].evaluate(ctx)) {
          this.costRules += i - start + 1;
          return i;
        }
      }
      this.costRules += rules.length - start;
      return -1;
    }
    const a = index.exactBucket(packet.dstAddr, packet.protocol, packet.dstPort);
    const b = index.portBucket(packet.protocol, packet.dstPort);
    const c = index.rest;
    let ia = a.length === 0 ? 0 : lowerBound(a, start);
    let ib = b.length === 0 ? 0 : lowerBound(b, start);
    let ic = lowerBound(c, start);
    for (; ; ) {
      const va = ia < a.length ? a[ia] : 2147483647;
      const vb = ib < b.length ? b[ib] : 2147483647;
      const vc = ic < c.length ? c[ic] : 2147483647;
      let i;
      if (va <= vb && va <= vc) {
        i = va;
        ia++;
      } else if (vb <= vc) {
        i = vb;
        ib++;
      } else {
        i = vc;
        ic++;
      }
      if (i === 2147483647) break;
      if (rules[i].evaluate(ctx)) {
        this.costRules += i - start + 1;
        return i;
      }
    }
    this.costRules += rules.length - start;
    return -1;
  }
  // -------------------------------------------------------------------------------------------
  // NAT
  /**
   * nf_nat_ipv4_fn / nf_nat_inet_fn (called by IptNatOp): for a NEW connection whose manip is not
   * set up yet, the hook's NAT lookups in priority order until one binds (else a null binding);
   * then nf_nat_packet.
   */
  natHook(manip, packet, state) {
    const outIfIndex = state.outIfIndex;
    const nowNs = state.nowNs;
    const id = packet.ctId;
    if (id < 0) return Verdict.ACCEPT;
    const ct = this.conntrack;
    if ((packet.ctState & CtState.RELATED) !== 0) {
      if (packet.protocol === Protocol.ICMP && isIcmpError(packet.icmpType))
        this.nat.icmpReplyTranslation(manip, packet);
      return Verdict.ACCEPT;
    }
    const doneBit = manip === MANIP_SRC ? CtStatus.SRC_NAT_DONE : CtStatus.DST_NAT_DONE;
    if ((packet.ctState & CtState.NEW) !== 0 && (ct.status[id] & doneBit) === 0) {
      this.natManip = manip;
      this.natOutIf = outIfIndex;
      this.natNowNs = nowNs;
      ct.raceClockNs = nowNs + this.elapsedNs(state);
      const lookups = this.natLookups.ops[this.hook];
      for (let i = 0; i < lookups.length; i++) {
        const v = lookups[i].handler.hookFn(packet, state);
        if (v !== Verdict.ACCEPT) return v;
        if ((ct.status[id] & doneBit) !== 0) break;
      }
      if ((ct.status[id] & doneBit) === 0) this.nat.setupInfo(id, manip, null, -1, nowNs);
      packet.ctState |= ct.natStateBits(id);
      if (this.tracer !== null) this.tracer.conntrack(ConntrackEvent.NAT, id, packet);
    }
    this.nat.manipPacket(packet, id, packet.ctDirection, manip);
    return Verdict.ACCEPT;
  }
  natManip = MANIP_DST;
  natOutIf = -1;
  natNowNs = 0;
  natTarget(target, packet) {
    const id = packet.ctId;
    const ct = this.conntrack;
    const doneBit = this.natManip === MANIP_SRC ? CtStatus.SRC_NAT_DONE : CtStatus.DST_NAT_DONE;
    if (id < 0 || (ct.status[id] & doneBit) !== 0) return Verdict.ACCEPT;
    const wantSrc = target.kind !== TargetKind.DNAT && target.kind !== TargetKind.REDIRECT;
    if (wantSrc !== (this.natManip === MANIP_SRC)) return Verdict.ACCEPT;
    let address = -1;
    if (target.kind === TargetKind.MASQUERADE) {
      address = this.natOutIf >= 0 ? this.host.interfaceAddress(this.natOutIf) : 0;
      if (address === 0) {
        this.lastDropReason = DropReason.NETFILTER_DROP;
        return Verdict.DROP;
      }
    } else if (target.kind === TargetKind.REDIRECT) {
      address = redirectAddress(this.host, this.hook, this.ctx.inIfIndex);
      if (address === 0) {
        this.lastDropReason = DropReason.NETFILTER_DROP;
        return Verdict.DROP;
      }
    }
    this.nat.setupInfo(id, this.natManip, target, address, this.natNowNs);
    return Verdict.ACCEPT;
  }
  /** Simulated CPU charged to the current packet in this namespace so far (earlier hooks + this one). */
  elapsedNs(state) {
    return this.packetCostNs + this.costRules * this.ruleCostNs + state.extraNs;
  }
  /**
   * ipv4_confirm / nf_conntrack_confirm (called by ConfirmOp at INPUT and POSTROUTING). The entry is
   * in the hash, in the kernel's time, once the hook costs charged so far have elapsed; a UDP clash
   * is resolved or dropped by Conntrack.confirm at the kernel's fix level (drop: insert_failed).
   */
  confirm(packet, state) {
    const id = packet.ctId;
    if (id < 0 || this.conntrack.isConfirmed(id)) return Verdict.ACCEPT;
    const nowNs = state.nowNs;
    const got = this.conntrack.confirm(id, nowNs, nowNs + this.elapsedNs(state));
    if (got < 0) {
      packet.ctId = -1;
      this.lastDropReason = DropReason.CONNTRACK_INSERT_FAILED;
      this.tracer?.conntrack(ConntrackEvent.INSERT_FAILED, id, packet);
      return Verdict.DROP;
    }
    packet.ctId = got;
    this.tracer?.conntrack(ConntrackEvent.CONFIRM, got, packet);
    return Verdict.ACCEPT;
  }
};
var IptTableOp = class {
  constructor(stack, tableId) {
    this.stack = stack;
    this.tableId = tableId;
  }
  stack;
  tableId;
  hookFn(packet) {
    return this.stack.traverse(this.stack.tables[this.tableId], packet);
  }
};
var IptNatOp = class {
  constructor(stack, manip) {
    this.stack = stack;
    this.manip = manip;
  }
  stack;
  manip;
  hookFn(packet, state) {
    return this.stack.natHook(this.manip, packet, state);
  }
};
var IptNatLookup = class {
  constructor(stack) {
    this.stack = stack;
  }
  stack;
  hookFn(packet) {
    return this.stack.traverse(this.stack.tables[TableId.NAT], packet);
  }
};
var ConntrackInOp = class {
  constructor(stack) {
    this.stack = stack;
  }
  stack;
  hookFn(packet, state) {
    return this.stack.conntrackIn(packet, state);
  }
};
var ConfirmOp = class {
  constructor(stack) {
    this.stack = stack;
  }
  stack;
  hookFn(packet, state) {
    return this.stack.confirm(packet, state);
  }
};

// src/sim/scheduler.ts
var CAPACITY_INITIAL = 1024;
var SLOT_LIMIT = 16777216;
var GENERATION_LIMIT = 536870912;
var KIND_CANCELLED = -1;
var RING_BUCKETS = 4096;
var RING_MASK = RING_BUCKETS - 1;
var NONE = -1;
var BUCKET_WIDTH_MIN = 1;
var BUCKET_WIDTH_MAX = 2 ** 40;
var BUCKET_WIDTH_INITIAL = 1024;
var EVENTS_PER_BUCKET_LOW = 4;
var EVENTS_PER_BUCKET_HIGH = 32;
var EVENTS_PER_BUCKET_TARGET = 10;
var EPOCH_EVENTS_MIN = 8192;
var Scheduler = class {
  /** Current simulated time; only moves forward. */
  nowNs = 0;
  /** Number of events dispatched since creation. */
  eventCount = 0;
  // Near heap: pending events of buckets <= bucketCurrent, as (timeNs, slot) pairs; the
  // tie-breaking seq lives in the slot record and is read only when two times are equal.
  heapTimeNs;
  heapSlot;
  heapLength = 0;
  /**
   * True while the root's event is being dispatched: the root's record is already consumed, but
   * the root stays in place so that the first event the handler schedules replaces it with one
   * sift-down ("replace top") instead of a pop plus a push. Settled by `settleRoot`.
   */
  rootTaken = false;
  // Ring: buckets bucketCurrent+1 .. bucketCurrent+RING_BUCKETS-1, each an unsorted FIFO list of
  // slots linked through slotNext; bucket b lives at index b & RING_MASK. ringBits has one bit per
  // non-empty bucket.
  ringHead = new Int32Array(RING_BUCKETS).fill(NONE);
  ringTail = new Int32Array(RING_BUCKETS).fill(NONE);
  ringBits = new Int32Array(RING_BUCKETS >> 5);
  ringCount = 0;
  bucketCurrent = 0;
  bucketWidth = BUCKET_WIDTH_INITIAL;
  bucketScale = 1 / BUCKET_WIDTH_INITIAL;
  // Far heap: events of buckets >= bucketCurrent + RING_BUCKETS, ordered by time only (they are
  // re-ordered by (time, seq) in the near heap).
  farTimeNs;
  farSlot;
  farLength = 0;
  // Retuning statistics since the epoch started.
  epochStartEventCount = 0;
  epochStartSeq = 0;
  epochAdvances = 0;
  epochFarCount = 0;
  epochDistinctTimes = 0;
  lastDispatchedTimeNs = -1;
  slotTimeNs;
  slotSeq;
  slotKind;
  slotA;
  slotB;
  slotNext;
  slotGeneration;
  slotFree;
  slotFreeLength = 0;
  slotHigh = 0;
  seqNext = 0;
  cancelledCount = 0;
  handlers = [];
  kindNames = [];
  stopRequested = false;
  // Fingerprint of the dispatched event trace: two 32-bit FNV-1a-style lanes over
  // (timeNs, kind, a, b). Same scenario + seed => same trace => same fingerprint.
  hashLow = 2166136261;
  hashHigh = 16777619;
  constructor(capacity = CAPACITY_INITIAL) {
    assert(Number.isInteger(capacity) && capacity >= 1 && capacity <= SLOT_LIMIT, `bad scheduler capacity ${capacity}`);
    this.heapTimeNs = new Float64Array(capacity);
    this.heapSlot = new Int32Array(capacity);
    this.farTimeNs = new Float64Array(capacity);
    this.farSlot = new Int32Array(capacity);
    this.slotTimeNs = new Float64Array(capacity);
    this.slotSeq = new Float64Array(capacity);
    this.slotKind = new Int32Array(capacity);
    this.slotA = new Int32Array(capacity);
    this.slotB = new Int32Array(capacity);
    this.slotNext = new Int32Array(capacity);
    this.slotGeneration = new Int32Array(capacity);
    this.slotFree = new Int32Array(capacity);
  }
  /** Registers a handler for a new event kind and returns the kind's id. Called at build time. */
  registerKind(name, handler) {
    const kind = this.handlers.length;
    this.handlers.push(handler);
    this.kindNames.push(name);
    return kind;
  }
  kindName(kind) {
    return this.kindNames[kind] ?? `kind-${kind}`;
  }
  get pendingCount() {
    return this.heapLength + this.ringCount + this.farLength - this.cancelledCount - (this.rootTaken ? 1 : 0);
  }
  /**
   * The time argument of `scheduleStaged`. Hot callers store a time here and call scheduleStaged
   * instead of passing it: a time above 2^30 ns is no small integer, and passing it to a call V8
   * does not inline allocates a heap number per call; a store into this double field does not.
   */
  stagedTimeNs = 0;
  /** Schedules an event at absolute time `timeNs` (>= now). Returns a handle for `cancel`. */
  schedule(timeNs, kind, a, b) {
    this.stagedTimeNs = timeNs;
    return this.scheduleStaged(kind, a, b);
  }
  /** `schedule(stagedTimeNs, kind, a, b)`: see stagedTimeNs. */
  scheduleStaged(kind, a, b) {
    const timeNs = this.stagedTimeNs;
    if (!(timeNs >= this.nowNs && timeNs <= TIME_NS_MAX && Number.isInteger(timeNs))) badTime(timeNs, this.nowNs);
    if (!(kind >= 0 && kind < this.handlers.length)) badKind(kind);
    let slot;
    if (this.slotFreeLength > 0) slot = this.slotFree[--this.slotFreeLength];
    else {
      if (this.slotHigh === this.slotKind.length) this.grow();
      slot = this.slotHigh++;
    }
    const seq = this.seqNext++;
    this.slotTimeNs[slot] = timeNs;
    this.slotSeq[slot] = seq;
    this.slotKind[slot] = kind;
    this.slotA[slot] = a;
    this.slotB[slot] = b;
    const bucket = Math.floor(timeNs * this.bucketScale);
    if (bucket <= this.bucketCurrent) {
      if (this.rootTaken) {
        this.rootTaken = false;
        this.siftDown(0, timeNs, seq, slot);
      } else {
        this.siftUp(this.heapLength++, timeNs, seq, slot);
      }
    } else if (bucket < this.bucketCurrent + RING_BUCKETS) {
      this.ringAppend(bucket & RING_MASK, slot);
    } else {
      this.epochFarCount++;
      this.farPush(timeNs, slot);
    }
    return this.slotGeneration[slot] * SLOT_LIMIT + slot;
  }
  /** Schedules an event `delayNs` after now. */
  scheduleIn(delayNs, kind, a, b) {
    return this.schedule(this.nowNs + delayNs, kind, a, b);
  }
  /**
   * Cancels a pending event by its handle. Cancelling an event that already ran or was already
   * cancelled is a no-op. The event stays queued, marked, until it reaches the near heap's root.
   */
  cancel(handle) {
    if (!(handle >= 0 && Number.isSafeInteger(handle))) return;
    const slot = handle % SLOT_LIMIT;
    const generation = (handle - slot) / SLOT_LIMIT;
    if (slot >= this.slotHigh || this.slotGeneration[slot] !== generation || this.slotKind[slot] === KIND_CANCELLED)
      return;
    this.slotKind[slot] = KIND_CANCELLED;
    this.cancelledCount++;
  }
  /** Ends the current `run` after the event being dispatched. */
  stop() {
    this.stopRequested = true;
  }
  /** Time of the next event that will run (cancelled events excluded), or +Infinity. */
  peekTimeNs() {
    this.settleRoot();
    return this.settleNext() ? this.heapTimeNs[0] : Number.POSITIVE_INFINITY;
  }
  run(limits) {
    this.stopRequested = false;
    let eventCount = 0;
    const handlers = this.handlers;
    const timeNsMax = limits.timeNsMax;
    const eventCountMax = limits.eventCountMax;
    for (; ; ) {
      if (this.rootTaken) {
        this.rootTaken = false;
        this.popRoot();
      }
      if ((this.heapLength === 0 || this.slotKind[this.heapSlot[0]] === KIND_CANCELLED) && !this.settleNext())
        return this.outcome("empty", eventCount);
      if (this.stopRequested) return this.outcome("stopped", eventCount);
      const timeNs = this.heapTimeNs[0];
      if (timeNs > timeNsMax) return this.outcome("time-limit", eventCount);
      if (eventCount >= eventCountMax) return this.outcome("event-limit", eventCount);
      const slot = this.heapSlot[0];
      const kind = this.slotKind[slot];
      const a = this.slotA[slot];
      const b = this.slotB[slot];
      this.freeSlot(slot);
      this.rootTaken = true;
      if (timeNs !== this.lastDispatchedTimeNs) {
        this.lastDispatchedTimeNs = timeNs;
        this.epochDistinctTimes++;
      }
      this.nowNs = timeNs;
      this.fold(timeNs, kind, a, b);
      eventCount++;
      this.eventCount++;
      handlers[kind].handleEvent(kind, a, b, timeNs);
    }
  }
  /** Hex digest of every event dispatched so far. */
  fingerprint() {
    return (this.hashHigh >>> 0).toString(16).padStart(8, "0") + (this.hashLow >>> 0).toString(16).padStart(8, "0");
  }
  outcome(reason2, eventCount) {
    return { reason: reason2, eventCount, nowNs: this.nowNs };
  }
  settleRoot() {
    if (this.rootTaken) {
      this.rootTaken = false;
      this.popRoot();
    }
  }
  /**
   * Makes the near heap's root the next event that will run: refills the near heap from the ring
   * or the far heap when it is empty, and pops cancelled events. False if nothing is pending.
   * Requires the root to be settled.
   */
  settleNext() {
    for (; ; ) {
      if (this.heapLength === 0) {
        if (this.ringCount === 0 && this.farLength === 0) return false;
        this.advance();
        continue;
      }
      const slot = this.heapSlot[0];
      if (this.slotKind[slot] !== KIND_CANCELLED) return true;
      this.freeSlot(slot);
      this.cancelledCount--;
      this.popRoot();
    }
  }
  /**
   * The near heap is empty: moves bucketCurrent to the next bucket holding events and moves that
   * bucket's events into the near heap. Far events that now fall inside the ring move to it, so
   * every far event stays in a bucket >= bucketCurrent + RING_BUCKETS.
   */
  advance() {
    if (this.eventCount - this.epochStartEventCount >= Math.max(EPOCH_EVENTS_MIN, this.pendingCount)) this.retune();
    const bucket = this.ringCount > 0 ? this.nextRingBucket() : Math.floor(this.farTimeNs[0] * this.bucketScale);
    this.bucketCurrent = bucket;
    this.epochAdvances++;
    const ringEnd = bucket + RING_BUCKETS;
    const scale = this.bucketScale;
    while (this.farLength > 0) {
      const timeNs = this.farTimeNs[0];
      const farBucket = Math.floor(timeNs * scale);
      if (farBucket >= ringEnd) break;
      const slot2 = this.farSlot[0];
      this.farPop();
      if (this.slotKind[slot2] === KIND_CANCELLED) this.dropCancelled(slot2);
      else if (farBucket === bucket) this.siftUp(this.heapLength++, timeNs, this.slotSeq[slot2], slot2);
      else this.ringAppend(farBucket & RING_MASK, slot2);
    }
    const index = bucket & RING_MASK;
    let slot = this.ringHead[index];
    if (slot === NONE) return;
    this.ringHead[index] = NONE;
    this.ringTail[index] = NONE;
    this.ringBits[index >> 5] &= ~(1 << (index & 31));
    const slotNext = this.slotNext;
    const slotTimeNs = this.slotTimeNs;
    const slotSeq = this.slotSeq;
    const slotKind = this.slotKind;
    let moved = 0;
    while (slot !== NONE) {
      const next = slotNext[slot];
      if (slotKind[slot] === KIND_CANCELLED) this.dropCancelled(slot);
      else this.siftUp(this.heapLength++, slotTimeNs[slot], slotSeq[slot], slot);
      slot = next;
      moved++;
    }
    this.ringCount -= moved;
  }
  /** Frees a cancelled event that is leaving the ring or the far heap (it never reaches the root). */
  dropCancelled(slot) {
    this.freeSlot(slot);
    this.cancelledCount--;
  }
  /** The first non-empty ring bucket after bucketCurrent (the ring is not empty). */
  nextRingBucket() {
    const current = this.bucketCurrent;
    const start = current + 1 & RING_MASK;
    const bits = this.ringBits;
    let word = start >> 5;
    let mask = bits[word] & -1 << (start & 31);
    for (let scanned = 0; mask === 0; scanned++) {
      if (scanned > RING_BUCKETS >> 5) throw new AssertionError("scheduler ring count out of sync");
      word = word + 1 & (RING_BUCKETS >> 5) - 1;
      mask = bits[word];
    }
    const index = (word << 5) + (31 - Math.clz32(mask & -mask));
    return current + 1 + (index - start & RING_MASK);
  }
  ringAppend(index, slot) {
    this.slotNext[slot] = NONE;
    const tail = this.ringTail[index];
    if (tail === NONE) {
      this.ringHead[index] = slot;
      this.ringBits[index >> 5] |= 1 << (index & 31);
    } else {
      this.slotNext[tail] = slot;
    }
    this.ringTail[index] = slot;
    this.ringCount++;
  }
  /**
   * Called between buckets (near heap empty) once per epoch: picks the bucket width so that a
   * drained bucket holds EVENTS_PER_BUCKET_LOW .. EVENTS_PER_BUCKET_HIGH dispatched events, as long
   * as narrower buckets would split them (several distinct times per bucket) and wider ones would
   * not leave them (mostly) in the far heap. On a change, the ring is emptied into the far heap and
   * refilled by `advance` with the new width. Which structure holds an event never changes the
   * dispatch order: the near heap orders by (time, seq), and everything outside it is later.
   */
  retune() {
    const events = this.eventCount - this.epochStartEventCount;
    const advances = Math.max(1, this.epochAdvances);
    const perBucket = events / advances;
    const distinctPerBucket = this.epochDistinctTimes / advances;
    const scheduled = this.seqNext - this.epochStartSeq;
    const farShare = scheduled > 0 ? this.epochFarCount / scheduled : 0;
    let width = this.bucketWidth;
    if (perBucket > EVENTS_PER_BUCKET_HIGH && distinctPerBucket > 2) {
      const factor = Math.min(perBucket / EVENTS_PER_BUCKET_TARGET, distinctPerBucket / 2);
      while (width > BUCKET_WIDTH_MIN && factor >= this.bucketWidth / width * 2) width /= 2;
    } else if (perBucket < EVENTS_PER_BUCKET_LOW || farShare > 0.125 && perBucket < EVENTS_PER_BUCKET_TARGET) {
      const factor = Math.max(2, EVENTS_PER_BUCKET_TARGET / Math.max(perBucket, 1));
      while (width < BUCKET_WIDTH_MAX && factor >= width / this.bucketWidth * 2) width *= 2;
    }
    this.epochStartEventCount = this.eventCount;
    this.epochStartSeq = this.seqNext;
    this.epochAdvances = 0;
    this.epochFarCount = 0;
    this.epochDistinctTimes = 0;
    if (width === this.bucketWidth) return;
    if (this.ringCount > 0) {
      const slotNext = this.slotNext;
      for (let index = 0; index < RING_BUCKETS; index++) {
        let slot = this.ringHead[index];
        while (slot !== NONE) {
          this.farPush(this.slotTimeNs[slot], slot);
          slot = slotNext[slot];
        }
      }
      this.ringHead.fill(NONE);
      this.ringTail.fill(NONE);
      this.ringBits.fill(0);
      this.ringCount = 0;
    }
    this.bucketWidth = width;
    this.bucketScale = 1 / width;
  }
  freeSlot(slot) {
    const generation = this.slotGeneration[slot] + 1;
    this.slotGeneration[slot] = generation;
    if (generation < GENERATION_LIMIT) this.slotFree[this.slotFreeLength++] = slot;
  }
  fold(timeNs, kind, a, b) {
    const timeLow = timeNs % 4294967296;
    const timeHigh = (timeNs - timeLow) / 4294967296;
    let low = this.hashLow;
    let high = this.hashHigh;
    low = Math.imul(low ^ timeLow, 16777619);
    high = Math.imul(high ^ timeHigh ^ low, 2246822519);
    low = Math.imul(low ^ kind, 16777619);
    high = Math.imul(high ^ a, 2246822519);
    low = Math.imul(low ^ b, 16777619);
    high = Math.imul(high ^ low >>> 15, 3266489917);
    this.hashLow = low;
    this.hashHigh = high;
  }
  siftUp(position, timeNs, seq, slot) {
    const heapTimeNs = this.heapTimeNs;
    const heapSlot = this.heapSlot;
    while (position > 0) {
      const parent = position - 1 >> 1;
      const parentTimeNs = heapTimeNs[parent];
      if (parentTimeNs < timeNs || parentTimeNs === timeNs && this.slotSeq[heapSlot[parent]] < seq) break;
      heapTimeNs[position] = parentTimeNs;
      heapSlot[position] = heapSlot[parent];
      position = parent;
    }
    heapTimeNs[position] = timeNs;
    heapSlot[position] = slot;
  }
  /** Places (timeNs, seq, slot) at `position` or below; the entry there is overwritten. */
  siftDown(position, timeNs, seq, slot) {
    const heapTimeNs = this.heapTimeNs;
    const heapSlot = this.heapSlot;
    const slotSeq = this.slotSeq;
    const length = this.heapLength;
    const half = length >> 1;
    while (position < half) {
      let child = 2 * position + 1;
      let childTimeNs = heapTimeNs[child];
      const right = child + 1;
      if (right < length) {
        const rightTimeNs = heapTimeNs[right];
        if (rightTimeNs < childTimeNs || rightTimeNs === childTimeNs && slotSeq[heapSlot[right]] < slotSeq[heapSlot[child]]) {
          child = right;
          childTimeNs = rightTimeNs;
        }
      }
      if (timeNs < childTimeNs || timeNs === childTimeNs && seq < slotSeq[heapSlot[child]]) break;
      heapTimeNs[position] = childTimeNs;
      heapSlot[position] = heapSlot[child];
      position = child;
    }
    heapTimeNs[position] = timeNs;
    heapSlot[position] = slot;
  }
  popRoot() {
    const length = --this.heapLength;
    if (length === 0) return;
    const slot = this.heapSlot[length];
    this.siftDown(0, this.heapTimeNs[length], this.slotSeq[slot], slot);
  }
  farPush(timeNs, slot) {
    const farTimeNs = this.farTimeNs;
    const farSlot = this.farSlot;
    let position = this.farLength++;
    while (position > 0) {
      const parent = position - 1 >> 1;
      const parentTimeNs = farTimeNs[parent];
      if (parentTimeNs <= timeNs) break;
      farTimeNs[position] = parentTimeNs;
      farSlot[position] = farSlot[parent];
      position = parent;
    }
    farTimeNs[position] = timeNs;
    farSlot[position] = slot;
  }
  farPop() {
    const length = --this.farLength;
    if (length === 0) return;
    const farTimeNs = this.farTimeNs;
    const farSlot = this.farSlot;
    const timeNs = farTimeNs[length];
    const slot = farSlot[length];
    const half = length >> 1;
    let position = 0;
    while (position < half) {
      let child = 2 * position + 1;
      let childTimeNs = farTimeNs[child];
      const right = child + 1;
      if (right < length && farTimeNs[right] < childTimeNs) {
        child = right;
        childTimeNs = farTimeNs[right];
      }
      if (timeNs <= childTimeNs) break;
      farTimeNs[position] = childTimeNs;
      farSlot[position] = farSlot[child];
      position = child;
    }
    farTimeNs[position] = timeNs;
    farSlot[position] = slot;
  }
  grow() {
    const capacity = Math.min(this.slotKind.length * 2, SLOT_LIMIT);
    assert(capacity > this.slotKind.length, `more than ${SLOT_LIMIT} events pending`);
    this.heapTimeNs = resizeFloat(this.heapTimeNs, capacity);
    this.heapSlot = resizeInt(this.heapSlot, capacity);
    this.farTimeNs = resizeFloat(this.farTimeNs, capacity);
    this.farSlot = resizeInt(this.farSlot, capacity);
    this.slotTimeNs = resizeFloat(this.slotTimeNs, capacity);
    this.slotSeq = resizeFloat(this.slotSeq, capacity);
    this.slotKind = resizeInt(this.slotKind, capacity);
    this.slotA = resizeInt(this.slotA, capacity);
    this.slotB = resizeInt(this.slotB, capacity);
    this.slotNext = resizeInt(this.slotNext, capacity);
    this.slotGeneration = resizeInt(this.slotGeneration, capacity);
    this.slotFree = resizeInt(this.slotFree, capacity);
  }
};
function badTime(timeNs, nowNs) {
  throw new AssertionError(`bad event time ${timeNs} (now ${nowNs})`);
}
function badKind(kind) {
  throw new AssertionError(`unregistered event kind ${kind}`);
}
function resizeFloat(array, capacity) {
  const next = new Float64Array(capacity);
  next.set(array);
  return next;
}
function resizeInt(array, capacity) {
  const next = new Int32Array(capacity);
  next.set(array);
  return next;
}

// src/stats/special.ts
var EPSILON = 1e-15;
var FPMIN = 1e-300;
var ITERATIONS_MAX = 1e4;
var LANCZOS = [
  0.9999999999998099,
  676.5203681218851,
  -1259.1392167224028,
  771.3234287776531,
  -176.6150291621406,
  12.507343278686905,
  -0.13857109526572012,
  9984369578019572e-21,
  15056327351493116e-23
];
function lnGamma(x) {
  assert(x > 0, `lnGamma(${x})`);
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  const z = x - 1;
  let sum = LANCZOS[0];
  for (let i = 1; i < 9; i++) sum += LANCZOS[i] / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}
function gammaQ(a, x) {
  assert(a > 0 && x >= 0, `gammaQ(${a}, ${x})`);
  if (x === 0) return 1;
  if (x === Number.POSITIVE_INFINITY) return 0;
  return x < a + 1 ? 1 - gammaSeries(a, x) : gammaContinuedFraction(a, x);
}
function gammaSeries(a, x) {
  let ap = a;
  let term = 1 / a;
  let sum = term;
  for (let n = 0; n < ITERATIONS_MAX; n++) {
    ap += 1;
    term *= x / ap;
    sum += term;
    if (Math.abs(term) < Math.abs(sum) * EPSILON) break;
  }
  return sum * Math.exp(-x + a * Math.log(x) - lnGamma(a));
}
function gammaContinuedFraction(a, x) {
  let b = x + 1 - a;
  let c = 1 / FPMIN;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < ITERATIONS_MAX; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < FPMIN) d = FPMIN;
    c = b + an / c;
    if (Math.abs(c) < FPMIN) c = FPMIN;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPSILON) break;
  }
  return Math.exp(-x + a * Math.log(x) - lnGamma(a)) * h;
}
function chiSquareUpperTail(statistic, degreesOfFreedom) {
  assert(degreesOfFreedom > 0 && statistic >= 0, `chiSquareUpperTail(${statistic}, ${degreesOfFreedom})`);
  return gammaQ(degreesOfFreedom / 2, statistic / 2);
}

// src/stats/fairness.ts
function fairnessFigures(counts, expectedShares) {
  const names = endpointNames(counts, expectedShares);
  let shareTotal = 0;
  for (const name of names) {
    const count = counts[name] ?? 0;
    assert(Number.isSafeInteger(count) && count >= 0, `count for ${name} must be a non-negative integer, got ${count}`);
    const share = expectedShares === void 0 ? 1 : expectedShares[name] ?? -1;
    assert(share >= 0 && Number.isFinite(share), `expected share for ${name} must be a finite non-negative number`);
    shareTotal += share;
  }
  let total = 0;
  let impossible = false;
  const normalized = [];
  const observed = [];
  const shares = [];
  for (const name of names) {
    const count = counts[name] ?? 0;
    total += count;
    const share = shareTotal > 0 ? (expectedShares === void 0 ? 1 : expectedShares[name]) / shareTotal : 0;
    if (share === 0) {
      if (count > 0) impossible = true;
      continue;
    }
    normalized.push(count / share);
    observed.push(count);
    shares.push(share);
  }
  const n = normalized.length;
  const degreesOfFreedom = Math.max(0, n - 1);
  if (total === 0 || n <= 1) {
    return {
      endpoints: n,
      total,
      jain: 1,
      maxOverMean: 1,
      cv: 0,
      chiSquare: impossible ? Number.POSITIVE_INFINITY : 0,
      degreesOfFreedom,
      chiSquareP: impossible ? 0 : 1
    };
  }
  let sum = 0;
  let sumSquares = 0;
  let max = 0;
  for (const x of normalized) {
    sum += x;
    sumSquares += x * x;
    if (x > max) max = x;
  }
  const mean = sum / n;
  const variance = Math.max(0, sumSquares / n - mean * mean);
  let chiSquare = 0;
  for (let i = 0; i < n; i++) {
    const expected = total * shares[i];
    const difference = observed[i] - expected;
    chiSquare += difference * difference / expected;
  }
  const chiSquareP = impossible ? 0 : chiSquareUpperTail(chiSquare, degreesOfFreedom);
  return {
    endpoints: n,
    total,
    jain: mean === 0 ? 1 : sum * sum / (n * sumSquares),
    maxOverMean: mean === 0 ? 1 : max / mean,
    cv: mean === 0 ? 0 : Math.sqrt(variance) / mean,
    chiSquare: impossible ? Number.POSITIVE_INFINITY : chiSquare,
    degreesOfFreedom,
    chiSquareP
  };
}
function distributionSummary(counts, expectedShares) {
  const figures = fairnessFigures(counts, expectedShares);
  const byEndpoint = {};
  for (const name of endpointNames(counts, expectedShares)) byEndpoint[name] = counts[name] ?? 0;
  return {
    byEndpoint: sortedRecord(byEndpoint),
    jain: roundSignificant(figures.jain),
    maxOverMean: roundSignificant(figures.maxOverMean),
    cv: roundSignificant(figures.cv),
    chiSquareP: roundSignificant(figures.chiSquareP)
  };
}
function endpointNames(counts, expectedShares) {
  const names = new Set(Object.keys(counts));
  if (expectedShares !== void 0) for (const name of Object.keys(expectedShares)) names.add(name);
  return [...names].sort();
}

// src/stats/counters.ts
var ReasonCounter = class {
  /** `names[code]` is the reason name reported for code `code`. Names must be distinct. */
  constructor(names) {
    this.names = names;
    this.counts = new Float64Array(names.length);
    names.forEach((name, code) => {
      if (this.codeByName.has(name)) throw new AssertionError(`duplicate reason ${name}`);
      this.codeByName.set(name, code);
    });
  }
  names;
  counts;
  codeByName = /* @__PURE__ */ new Map();
  /** The integer code of `name`, to keep in the component that counts (resolved once). */
  code(name) {
    const code = this.codeByName.get(name);
    if (code === void 0) throw new AssertionError(`unknown reason ${name}`);
    return code;
  }
  /** Counts `times` occurrences of reason `code`. */
  add(code, times = 1) {
    if (!(code >= 0 && code < this.counts.length)) badCode(code);
    this.counts[code] += times;
  }
  count(code) {
    return this.counts[code] ?? 0;
  }
  countOf(name) {
    return this.counts[this.code(name)];
  }
  get total() {
    let total = 0;
    for (const count of this.counts) total += count;
    return total;
  }
  /** Adds every count of `other` (same names in the same order) to this counter. */
  merge(other) {
    if (other.names.length !== this.names.length || other.names.some((name, i) => name !== this.names[i]))
      throw new AssertionError("merging counters with different reasons");
    for (let i = 0; i < this.counts.length; i++) this.counts[i] += other.counts[i];
  }
  /** Sorted record of the reasons; zero counts are left out unless `includeZero`. */
  toRecord(includeZero = false) {
    const out = {};
    this.names.forEach((name, code) => {
      const count = this.counts[code];
      if (count > 0 || includeZero) out[name] = count;
    });
    return sortedRecord(out);
  }
};
var NameCounter = class {
  counts = /* @__PURE__ */ new Map();
  add(name, times = 1) {
    this.counts.set(name, (this.counts.get(name) ?? 0) + times);
  }
  count(name) {
    return this.counts.get(name) ?? 0;
  }
  get total() {
    let total = 0;
    for (const count of this.counts.values()) total += count;
    return total;
  }
  toRecord() {
    const out = {};
    for (const name of [...this.counts.keys()].sort()) out[name] = this.counts.get(name);
    return out;
  }
};
function badCode(code) {
  throw new AssertionError(`unknown reason code ${code}`);
}

// src/cluster/collector.ts
var WorkloadCounts = class {
  sent = 0;
  completed = 0;
  failed = 0;
  failures = new ReasonCounter(FAILURE_REASON_NAMES);
  latency = new Histogram();
  /** Completions by server index. */
  byServer = [];
  clientAddresses = /* @__PURE__ */ new Map();
  /** Replies that carried no server identity (ping to a node...). */
  anonymous = 0;
};
var Collector = class {
  workloads;
  servers = [];
  constructor(workloadCount) {
    this.workloads = Array.from({ length: workloadCount }, () => new WorkloadCounts());
  }
  onRequestSent(workload, _nowNs) {
    this.workloads[workload].sent++;
  }
  onRequestCompleted(workload, latencyNs, server, _nowNs) {
    const w = this.workloads[workload];
    w.completed++;
    w.latency.record(latencyNs);
    if (server === null) {
      w.anonymous++;
      return;
    }
    this.servers[server.index] = server;
    w.byServer[server.index] = (w.byServer[server.index] ?? 0) + 1;
  }
  onRequestFailed(workload, reason2, _nowNs) {
    const w = this.workloads[workload];
    w.failed++;
    w.failures.add(reason2);
  }
  onServerRequest(workload, server, clientAddress) {
    const w = this.workloads[workload];
    if (w === void 0) return;
    this.servers[server.index] = server;
    w.clientAddresses.set(clientAddress, (w.clientAddresses.get(clientAddress) ?? 0) + 1);
  }
  /**
   * The workload's results. `expectedEndpoints` are the endpoints the target should spread over
   * (equal shares, as iptables' random mode gives): they appear with 0 when they got nothing.
   */
  results(workload, expectedEndpoints) {
    const w = this.workloads[workload];
    const byEndpoint = /* @__PURE__ */ new Map();
    const byNode = /* @__PURE__ */ new Map();
    for (const name of expectedEndpoints) byEndpoint.set(name, 0);
    w.byServer.forEach((count, index) => {
      if (count === void 0 || count === 0) return;
      const server = this.servers[index];
      byEndpoint.set(server.name, (byEndpoint.get(server.name) ?? 0) + count);
      if (server.node !== "") byNode.set(server.node, (byNode.get(server.node) ?? 0) + count);
    });
    const counts = Object.fromEntries(byEndpoint);
    const clientAddresses = {};
    for (const [address, count] of w.clientAddresses) clientAddresses[formatIpv4(address)] = count;
    return {
      requests: { sent: w.sent, completed: w.completed, failed: w.failed, failedByReason: w.failures.toRecord() },
      latencyNs: w.latency.summary(),
      distribution: distributionSummary(counts),
      clientAddressesSeen: sortedRecord(clientAddresses),
      byNode: sortedRecord(Object.fromEntries(byNode))
    };
  }
};

// src/lb/loadbalancer.ts
import { createHash } from "node:crypto";

// src/apps/health.ts
function headerBytes(status, bodyBytes) {
  const statusLine = status === 200 ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.1 503 Service Unavailable\r\n";
  const headers = `Content-Length: ${bodyBytes}\r
Content-Type: application/json\r
Date: Mon, 02 Jan 2006 15:04:05 GMT\r
X-Content-Type-Options: nosniff\r
\r
`;
  return statusLine.length + headers.length;
}
function healthCheckBody(namespace, name, localEndpoints, proxyHealthy) {
  return `{
	"service": {
		"namespace": ${JSON.stringify(namespace)},
		"name": ${JSON.stringify(name)}
	},
	"localEndpoints": ${localEndpoints},
	"serviceProxyHealthy": ${proxyHealthy}
}`;
}
function healthCheckResponse(namespace, name, localEndpoints, proxyHealthy = true) {
  const status = localEndpoints !== 0 && proxyHealthy ? 200 : 503;
  const body = healthCheckBody(namespace, name, localEndpoints, proxyHealthy);
  const bodyBytes = body.length;
  return { status, localEndpoints, body, bytes: headerBytes(status, bodyBytes) + bodyBytes };
}
var HealthCheckServer = class {
  constructor(network, ns, namespace, name, port, localEndpoints, identity) {
    this.ns = ns;
    this.namespace = namespace;
    this.name = name;
    this.port = port;
    this.identity = identity;
    const response = healthCheckResponse(namespace, name, localEndpoints);
    this.reply = { ...identity, status: response.status, localEndpoints, body: response.body };
    this.bytes = response.bytes;
    this.listener = network.tcp.listen(ns, 0, port, this);
  }
  ns;
  namespace;
  name;
  port;
  identity;
  listener;
  reply;
  bytes;
  /** Requests answered, by status. */
  served200 = 0;
  served503 = 0;
  get localEndpoints() {
    return this.reply.localEndpoints;
  }
  /** SyncEndpoints: the count kube-proxy's last sync saw. */
  setLocalEndpoints(count) {
    if (count === this.reply.localEndpoints) return;
    const response = healthCheckResponse(this.namespace, this.name, count);
    this.reply = { ...this.identity, status: response.status, localEndpoints: count, body: response.body };
    this.bytes = response.bytes;
  }
  onAccept(_server, _conn) {
    return this;
  }
  onConnected(_conn) {
  }
  onMessage(conn, _bytes, appTag, _appData) {
    const reply = this.reply;
    if (reply.status === 200) this.served200++;
    else this.served503++;
    conn.send(this.bytes, appTag, reply);
  }
  onPeerClosed(conn) {
    conn.close();
  }
  onClosed(_conn, _error) {
  }
  /** SyncServices removed the Service (or changed its port): stop listening. */
  close() {
    this.listener?.close();
    this.listener = null;
  }
};
function healthCheckRequestBytes(host, port) {
  return `GET /healthz HTTP/1.1\r
Host: ${host}:${port}\r
User-Agent: GoogleHC/1.0\r
Connection: close\r
\r
`.length;
}

// src/proxy/service-port.ts
var LABEL_TOPOLOGY_ZONE2 = "topology.kubernetes.io/zone";
var DEFAULT_STICKY_MAX_AGE_SECONDS = 10800;
function servicePortNameString(namespace, name, portName) {
  return portName === "" ? `${namespace}/${name}` : `${namespace}/${name}:${portName}`;
}
function nodeZone(node) {
  return node.labels?.[LABEL_TOPOLOGY_ZONE2] ?? node.zone ?? "";
}
var LABEL_SERVICE_PROXY_NAME = "service.kubernetes.io/service-proxy-name";
var LABEL_HEADLESS2 = "service.kubernetes.io/headless";
var KUBE_PROXY_INFORMER_SELECTOR = {
  matchExpressions: [
    { key: LABEL_SERVICE_PROXY_NAME, operator: "DoesNotExist" },
    { key: LABEL_HEADLESS2, operator: "DoesNotExist" }
  ]
};
function watchedByKubeProxy(labels) {
  return labels === void 0 || matchesSelector(KUBE_PROXY_INFORMER_SELECTOR, labels);
}
function shouldSkipService(service) {
  const clusterIP = service.spec.clusterIP ?? "";
  if (clusterIP === "" || clusterIP === "None") return true;
  return service.spec.type === "ExternalName";
}
function parseIpv4Sloppy(text) {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (m === null) return void 0;
  return parseIpv4(
    m.slice(1).map((part) => String(Number(part))).join(".")
  );
}
function parseCidrSloppy(text) {
  const slash = text.indexOf("/");
  if (slash < 0) return void 0;
  const address = parseIpv4Sloppy(text.slice(0, slash));
  const prefix2 = text.slice(slash + 1);
  if (address === void 0 || !/^\d{1,3}$/.test(prefix2)) return void 0;
  return parseCidr(`${formatIpv4(address)}/${Number(prefix2)}`, false);
}
function ipv4ClusterIP(service) {
  const candidates = service.spec.clusterIPs !== void 0 && service.spec.clusterIPs.length > 0 ? service.spec.clusterIPs : [service.spec.clusterIP ?? ""];
  for (const ip of candidates) {
    const parsed = parseIpv4Sloppy(ip);
    if (parsed !== void 0) return formatIpv4(parsed);
  }
  return "";
}
function ipv4List(values) {
  const out = [];
  for (const value of values ?? []) {
    const parsed = parseIpv4Sloppy(value.trim());
    if (parsed !== void 0) out.push(formatIpv4(parsed));
  }
  return out;
}
function parseSourceRange(text) {
  const trimmed = text.trim();
  if (!trimmed.includes("/")) return void 0;
  return parseCidrSloppy(trimmed);
}
function cidrContainsIp(range, ip) {
  const prefix2 = parseCidr(range, false);
  const address = parseIpv4(ip);
  return prefix2 !== void 0 && address !== void 0 && cidrContains(prefix2, address);
}
function lowerProtocol(protocol) {
  const lower = (protocol ?? "TCP").toLowerCase();
  return lower === "udp" ? "udp" : lower === "sctp" ? "sctp" : "tcp";
}
function buildEndpointsMap(slices, nodeName) {
  const sets = /* @__PURE__ */ new Map();
  const ordered = [...slices].sort((a, b) => compareStrings(sliceKey(a), sliceKey(b)));
  for (const slice of ordered) {
    if (slice.addressType !== "IPv4" || !watchedByKubeProxy(slice.metadata.labels)) continue;
    const serviceName = slice.metadata.labels?.[LABEL_SERVICE_NAME];
    if (serviceName === void 0 || serviceName === "") continue;
    const namespacedName = `${slice.metadata.namespace ?? "default"}/${serviceName}`;
    for (const slicePort of slice.ports ?? []) {
      if (slicePort.port === void 0) continue;
      const key = { portName: slicePort.name ?? "", protocol: lowerProtocol(slicePort.protocol) };
      const mapKey = `${namespacedName}|${key.portName}|${key.protocol}`;
      let set = sets.get(mapKey);
      if (set === void 0) {
        set = /* @__PURE__ */ new Map();
        sets.set(mapKey, set);
      }
      for (const endpoint of slice.endpoints) {
        const address = endpoint.addresses[0];
        if (address === void 0) continue;
        const parsed = parseIpv4Sloppy(address);
        if (parsed === void 0) continue;
        const ip = formatIpv4(parsed);
        const isLocal = endpoint.nodeName !== void 0 && endpoint.nodeName === nodeName;
        const info = {
          ip,
          port: slicePort.port,
          endpoint: `${ip}:${slicePort.port}`,
          isLocal,
          ready: endpoint.conditions?.ready ?? true,
          serving: endpoint.conditions?.serving ?? true,
          terminating: endpoint.conditions?.terminating ?? false,
          zoneHints: (endpoint.hints?.forZones ?? []).map((z) => z.name),
          nodeHints: (endpoint.hints?.forNodes ?? []).map((n) => n.name)
        };
        if (!set.has(info.endpoint) || isLocal) set.set(info.endpoint, info);
      }
    }
  }
  const out = /* @__PURE__ */ new Map();
  for (const [key, set] of sets) {
    out.set(
      key,
      [...set.values()].sort((a, b) => compareStrings(a.endpoint, b.endpoint))
    );
  }
  return out;
}
function sliceKey(slice) {
  return `${slice.metadata.namespace ?? "default"}/${slice.metadata.name}`;
}
function compareStrings(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}
function buildServicePorts(services, slices, node) {
  const endpointsMap = buildEndpointsMap(slices, node.name);
  const out = [];
  for (const service of services) {
    if (!watchedByKubeProxy(service.metadata.labels) || shouldSkipService(service)) continue;
    const clusterIP = ipv4ClusterIP(service);
    if (clusterIP === "") continue;
    const spec = service.spec;
    const namespace = service.metadata.namespace ?? "default";
    const serviceName = service.metadata.name;
    const namespacedName = `${namespace}/${serviceName}`;
    const type = spec.type ?? "ClusterIP";
    const externalIPs = ipv4List(spec.externalIPs);
    const serviceExternallyAccessible = type === "LoadBalancer" || type === "NodePort" || type === "ClusterIP" && (spec.externalIPs ?? []).length > 0;
    const externalPolicyLocal = serviceExternallyAccessible && spec.externalTrafficPolicy === "Local";
    const internalPolicyLocal = spec.internalTrafficPolicy === "Local";
    const needsHealthCheck = type === "LoadBalancer" && externalPolicyLocal;
    const loadBalancerVIPs = [];
    for (const ingress of service.status?.loadBalancer?.ingress ?? []) {
      if (ingress.ip === void 0 || ingress.ip === "") continue;
      if (ingress.ipMode !== void 0 && ingress.ipMode !== "VIP") continue;
      const parsed = parseIpv4Sloppy(ingress.ip);
      if (parsed !== void 0) loadBalancerVIPs.push(formatIpv4(parsed));
    }
    const loadBalancerSourceRanges = [];
    for (const range of spec.loadBalancerSourceRanges ?? []) {
      const parsed = parseSourceRange(range);
      if (parsed !== void 0) loadBalancerSourceRanges.push(formatCidr(parsed));
    }
    const stickyMaxAgeSeconds = spec.sessionAffinity === "ClientIP" ? spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_STICKY_MAX_AGE_SECONDS : 0;
    for (const port of spec.ports ?? []) {
      const portName = port.name ?? "";
      const protocol = lowerProtocol(port.protocol);
      const nodePort = port.nodePort ?? 0;
      const externallyAccessible = nodePort !== 0 || loadBalancerVIPs.length > 0 || externalIPs.length > 0;
      out.push({
        namespace,
        serviceName,
        namespacedName,
        portName,
        name: servicePortNameString(namespace, serviceName, portName),
        protocol,
        clusterIP,
        port: port.port,
        nodePort,
        externalIPs,
        loadBalancerVIPs,
        loadBalancerSourceRanges,
        healthCheckNodePort: needsHealthCheck ? spec.healthCheckNodePort ?? 0 : 0,
        stickyMaxAgeSeconds,
        internalPolicyLocal,
        externalPolicyLocal,
        externallyAccessible,
        // Even with ETP=Local, Cluster endpoints are needed for the short-circuit rules.
        usesClusterEndpoints: !internalPolicyLocal || externallyAccessible,
        usesLocalEndpoints: internalPolicyLocal || externallyAccessible && externalPolicyLocal,
        endpoints: endpointsMap.get(`${namespacedName}|${portName}|${protocol}`) ?? []
      });
    }
  }
  out.sort((a, b) => compareStrings(a.name, b.name) || compareStrings(a.protocol, b.protocol));
  return out;
}

// src/lb/loadbalancer.ts
var DEFAULT_HEALTH_CHECK = {
  intervalNs: 8 * NS_PER_S,
  timeoutNs: 1 * NS_PER_S,
  healthyThreshold: 1,
  unhealthyThreshold: 3
};
var DEFAULT_LOAD_BALANCER_MODE = "cloud";
var EDGE_MASQ_MARK = "0x1";
var ProbeTarget = class {
  constructor(index, service, node, nodeIp, port) {
    this.index = index;
    this.service = service;
    this.node = node;
    this.nodeIp = nodeIp;
    this.port = port;
  }
  index;
  service;
  node;
  nodeIp;
  port;
  active = true;
  healthy = false;
  successes = 0;
  failures = 0;
  conn = null;
  seq = 0;
  timeoutHandle = -1;
  probesSent = 0;
};
var LoadBalancers = class {
  constructor(scheduler, network, clusterNet, store, nodes, spec, seed, record, identityFor) {
    this.scheduler = scheduler;
    this.network = network;
    this.clusterNet = clusterNet;
    this.store = store;
    this.nodes = nodes;
    this.seed = seed;
    this.record = record;
    this.identityFor = identityFor;
    this.mode = spec.mode ?? DEFAULT_LOAD_BALANCER_MODE;
    const hc = { ...DEFAULT_HEALTH_CHECK, ...spec.healthCheck ?? {} };
    this.healthCheck = { ...hc, intervalNs: Math.max(hc.intervalNs, NS_PER_MS) };
    this.kindProbe = scheduler.registerKind("lb/probe", this);
    this.kindProbeTimeout = scheduler.registerKind("lb/probe-timeout", this);
  }
  scheduler;
  network;
  clusterNet;
  store;
  nodes;
  seed;
  record;
  identityFor;
  mode;
  healthCheck;
  /** Health check servers by node name, then by "namespace/name". */
  healthServers = /* @__PURE__ */ new Map();
  probes = [];
  probeByKey = /* @__PURE__ */ new Map();
  probeByConn = /* @__PURE__ */ new Map();
  services = [];
  /**
   * Services this component cares about (LoadBalancer type, externalIPs or a health check port),
   * kept from the watch so a change costs O(such services), not O(all services): at 10,000
   * Services a full list per EndpointSlice change dominated the run.
   */
  watched = /* @__PURE__ */ new Map();
  watchedSorted = null;
  /** Addresses the fabric delivers for us: address -> interface, and edge routes we added. */
  announced = /* @__PURE__ */ new Map();
  edgeRoutes = /* @__PURE__ */ new Map();
  edgeFilter = null;
  lastEdgeRules = "";
  edgeMangleTable = false;
  kindProbe;
  kindProbeTimeout;
  // ----------------------------------------------------------------------- watch
  /** The Service `namespace/name` was created, updated or (service undefined) deleted. */
  noteService(namespace, name, service) {
    const key = `${namespace}/${name}`;
    const relevant = service !== void 0 && (service.spec.type === "LoadBalancer" || (service.spec.externalIPs ?? []).length > 0 || (service.spec.healthCheckNodePort ?? 0) !== 0);
    if (relevant) this.watched.set(key, service);
    else if (!this.watched.delete(key)) return;
    this.watchedSorted = null;
  }
  /** The watched Services sorted by namespace/name (the store's listing order). */
  watchedServices() {
    if (this.watchedSorted === null) {
      const keys = [...this.watched.keys()].sort(compare);
      this.watchedSorted = keys.map((k) => this.watched.get(k));
    }
    return this.watchedSorted;
  }
  // ----------------------------------------------------------------------- kube-proxy health
  /** After kube-proxy on `node` synced: SyncServices + SyncEndpoints of its health check server. */
  onKubeProxySynced(node) {
    let servers = this.healthServers.get(node.name);
    if (servers === void 0) {
      servers = /* @__PURE__ */ new Map();
      this.healthServers.set(node.name, servers);
    }
    const wanted = /* @__PURE__ */ new Map();
    for (const svc of this.watchedServices()) {
      const port = svc.spec.healthCheckNodePort ?? 0;
      if (svc.spec.type !== "LoadBalancer" || svc.spec.externalTrafficPolicy !== "Local" || port === 0) continue;
      const clusterIP = svc.spec.clusterIP ?? "";
      if (clusterIP === "" || clusterIP === "None") continue;
      const namespace = svc.metadata.namespace ?? "default";
      const ips = /* @__PURE__ */ new Set();
      for (const slice of this.store.endpointSlicesFor(namespace, svc.metadata.name)) {
        for (const endpoint of slice.endpoints) {
          if (endpoint.nodeName !== node.name || endpoint.conditions?.ready === false) continue;
          const ip = endpoint.addresses[0];
          if (ip !== void 0) ips.add(ip);
        }
      }
      wanted.set(`${namespace}/${svc.metadata.name}`, { namespace, name: svc.metadata.name, port, count: ips.size });
    }
    for (const [key, server] of servers) {
      const want = wanted.get(key);
      if (want === void 0 || want.port !== server.port) {
        server.close();
        servers.delete(key);
      }
    }
    for (const [key, want] of wanted) {
      const server = servers.get(key);
      if (server === void 0)
        servers.set(
          key,
          new HealthCheckServer(
            this.network,
            node.net.ns,
            want.namespace,
            want.name,
            want.port,
            want.count,
            this.identityFor(`kube-proxy@${node.name}`, node.net.ip, node.name)
          )
        );
      else server.setLocalEndpoints(want.count);
    }
  }
  // ----------------------------------------------------------------------- reconcile
  /** A Service or EndpointSlice changed (or the world was built): update routes, rules, probes. */
  reconcile(nowNs) {
    this.services = this.collectServices();
    const wanted = /* @__PURE__ */ new Map();
    const owners = /* @__PURE__ */ new Map();
    const firstNode = [...this.nodes].sort((a, b) => compare(a.name, b.name))[0];
    if (firstNode !== void 0) {
      for (const svc of this.watchedServices()) {
        for (const text of svc.spec.externalIPs ?? []) {
          const ip = parseIpv4(text);
          if (ip !== void 0 && !wanted.has(ip)) {
            wanted.set(ip, firstNode.net.eth0);
            owners.set(ip, firstNode.name);
          }
        }
      }
    }
    if (this.mode === "l2") {
      for (const svc of this.services) {
        const winner = this.electSpeaker(svc);
        for (const ip of svc.vips) {
          const node = winner(ip);
          if (node !== null) {
            wanted.set(ip, node.net.eth0);
            owners.set(ip, node.name);
          }
        }
      }
    } else {
      for (const svc of this.services) {
        for (const ip of svc.vips) {
          wanted.set(ip, this.clusterNet.edgeEth0);
          owners.set(ip, "edge");
        }
      }
      this.reconcileProbes(nowNs);
      this.programEdge();
    }
    this.reconcileAnnouncements(wanted, owners, nowNs);
  }
  collectServices() {
    const out = [];
    for (const svc of this.watchedServices()) {
      if (svc.spec.type !== "LoadBalancer") continue;
      const vips = [];
      for (const ingress of svc.status?.loadBalancer?.ingress ?? []) {
        const ip = ingress.ip === void 0 ? void 0 : parseIpv4(ingress.ip);
        if (ip !== void 0) vips.push(ip);
      }
      if (vips.length === 0) continue;
      const ports = [];
      for (const p of svc.spec.ports ?? []) {
        const protocol = (p.protocol ?? "TCP") === "UDP" ? "udp" : (p.protocol ?? "TCP") === "TCP" ? "tcp" : null;
        if (protocol === null) continue;
        const nodePort = p.nodePort ?? 0;
        ports.push({
          protocol,
          port: p.port,
          nodePort,
          pods: nodePort === 0 ? this.readyEndpoints(svc, p.name ?? "", p.protocol ?? "TCP") : []
        });
      }
      out.push({
        key: `${svc.metadata.namespace ?? "default"}/${svc.metadata.name}`,
        vips,
        externalPolicyLocal: svc.spec.externalTrafficPolicy === "Local",
        healthCheckNodePort: svc.spec.healthCheckNodePort ?? 0,
        ports,
        sourceRanges: (svc.spec.loadBalancerSourceRanges ?? []).flatMap((text) => {
          const range = parseSourceRange(text);
          return range === void 0 ? [] : [formatCidr(range)];
        })
      });
    }
    return out.sort((a, b) => compare(a.key, b.key));
  }
  /** Ready endpoints "ip:port" of one service port, from its EndpointSlices, sorted. */
  readyEndpoints(svc, portName, protocol) {
    const out = /* @__PURE__ */ new Set();
    for (const slice of this.store.endpointSlicesFor(svc.metadata.namespace ?? "default", svc.metadata.name)) {
      if (slice.addressType !== "IPv4") continue;
      const port = slice.ports?.find((p) => (p.name ?? "") === portName && (p.protocol ?? "TCP") === protocol)?.port;
      if (port === void 0) continue;
      for (const endpoint of slice.endpoints) {
        const ip = endpoint.addresses[0];
        if (endpoint.conditions?.ready !== false && ip !== void 0) out.add(`${ip}:${port}`);
      }
    }
    return [...out].sort(compare);
  }
  /** MetalLB layer2 ShouldAnnounce: the winning node for an IP, or null (no announcement). */
  electSpeaker(svc) {
    const [namespace, name] = splitKey2(svc.key);
    const withEndpoint = /* @__PURE__ */ new Set();
    for (const slice of this.store.endpointSlicesFor(namespace, name)) {
      for (const endpoint of slice.endpoints) {
        if (endpoint.conditions?.ready === false || endpoint.nodeName === void 0) continue;
        withEndpoint.add(endpoint.nodeName);
      }
    }
    const active = withEndpoint.size > 0;
    const candidates = svc.externalPolicyLocal ? this.nodes.filter((n) => withEndpoint.has(n.name)) : [...this.nodes];
    return (ip) => active ? electL2Speaker(candidates, formatIpv4(ip)) : null;
  }
  reconcileAnnouncements(wanted, owners, nowNs) {
    const fabric = this.clusterNet.fabric;
    const edge = this.clusterNet.edge;
    for (const [ip, iface] of this.announced) {
      if (wanted.get(ip) === iface) continue;
      if (fabric.neighbours.get(ip) === iface) fabric.neighbours.delete(ip);
      this.announced.delete(ip);
      const route = this.edgeRoutes.get(ip);
      if (route !== void 0) {
        edge.routes.remove(route.prefix, route.ifIndex);
        this.edgeRoutes.delete(ip);
      }
      if (!wanted.has(ip)) this.record(nowNs, `${formatIpv4(ip)} withdrawn`);
    }
    for (const [ip, iface] of wanted) {
      if (this.announced.get(ip) === iface) continue;
      const existing = fabric.neighbours.get(ip);
      if (existing !== void 0) continue;
      this.network.addFabricNeighbour(fabric, ip, iface);
      this.announced.set(ip, iface);
      const owner = owners.get(ip) ?? "";
      if (owner !== "edge" && !cidrContains(this.clusterNet.nodeCidr, ip)) {
        this.edgeRoutes.set(
          ip,
          this.network.addRoute(edge, { address: ip, prefixLength: 32, mask: 4294967295 }, this.clusterNet.edgeEth0)
        );
      }
      this.record(
        nowNs,
        owner === "edge" ? `load balancer ${formatIpv4(ip)} at the edge` : `${formatIpv4(ip)} announced by ${owner}`
      );
    }
  }
  // ----------------------------------------------------------------------- cloud: edge + probes
  reconcileProbes(nowNs) {
    const live = /* @__PURE__ */ new Set();
    for (const svc of this.services) {
      if (!svc.externalPolicyLocal || svc.healthCheckNodePort === 0) continue;
      for (const node of this.nodes) {
        const key = `${svc.key}|${node.name}|${svc.healthCheckNodePort}`;
        live.add(key);
        if (this.probeByKey.has(key)) continue;
        const target = new ProbeTarget(this.probes.length, svc.key, node.name, node.net.ip, svc.healthCheckNodePort);
        this.probes.push(target);
        this.probeByKey.set(key, target);
        this.scheduler.schedule(nowNs, this.kindProbe, target.index, 0);
      }
    }
    for (const [key, target] of this.probeByKey) {
      if (live.has(key)) continue;
      target.active = false;
      if (target.conn !== null) this.finishProbe(target, false, nowNs);
      this.probeByKey.delete(key);
    }
  }
  /** Backend nodes of a Service (sorted by name): healthy ones for Local, else all; fail open. */
  backends(svc) {
    if (!svc.externalPolicyLocal || svc.healthCheckNodePort === 0) return [...this.nodes];
    const healthy = this.nodes.filter(
      (n) => this.probeByKey.get(`${svc.key}|${n.name}|${svc.healthCheckNodePort}`)?.healthy === true
    );
    return healthy.length > 0 ? healthy : [...this.nodes];
  }
  /**
   * The edge's nat table: DNAT of each ingress IP:port to the backends' NodePorts (or, for a port
   * without NodePort, to the ready endpoints); its mangle table drops, before routing, traffic to a
   * port with no target at all and sources outside loadBalancerSourceRanges.
   */
  edgeRules() {
    const nodeCidr = formatCidr(this.clusterNet.nodeCidr);
    const chains = [
      ":PREROUTING ACCEPT [0:0]",
      ":INPUT ACCEPT [0:0]",
      ":OUTPUT ACCEPT [0:0]",
      ":POSTROUTING ACCEPT [0:0]",
      ":LB-SERVICES - [0:0]",
      ":LB-POSTROUTING - [0:0]"
    ];
    const rules = ["-A PREROUTING -j LB-SERVICES", "-A POSTROUTING -j LB-POSTROUTING"];
    const drops = [];
    let chainIndex = 0;
    for (const svc of this.services) {
      const backends = this.backends(svc).sort((a, b) => compare(a.name, b.name));
      for (const port of svc.ports) {
        const targets = port.nodePort !== 0 ? backends.map((node) => `${formatIpv4(node.net.ip)}:${port.nodePort}`) : port.pods;
        if (targets.length === 0) {
          for (const vip of svc.vips)
            drops.push(
              `-A LB-FIREWALL -d ${formatIpv4(vip)}/32 -p ${port.protocol} -m comment --comment "${svc.key} loadbalancer has no target" -m ${port.protocol} --dport ${port.port} -j DROP`
            );
          continue;
        }
        const chain = `LB-${chainIndex++}`;
        chains.push(`:${chain} - [0:0]`);
        for (const vip of svc.vips) {
          rules.push(
            `-A LB-SERVICES -d ${formatIpv4(vip)}/32 -p ${port.protocol} -m comment --comment "${svc.key} loadbalancer" -m ${port.protocol} --dport ${port.port} -j ${chain}`
          );
          if (svc.sourceRanges.length === 0) continue;
          const match2 = `-d ${formatIpv4(vip)}/32 -p ${port.protocol} -m comment --comment "${svc.key} loadbalancer source ranges" -m ${port.protocol} --dport ${port.port}`;
          for (const range of svc.sourceRanges) drops.push(`-A LB-FIREWALL -s ${range} ${match2} -j RETURN`);
          drops.push(`-A LB-FIREWALL ${match2} -j DROP`);
        }
        rules.push(`-A ${chain} -s ${nodeCidr} -j MARK --set-xmark ${EDGE_MASQ_MARK}/${EDGE_MASQ_MARK}`);
        targets.forEach((target, i) => {
          const left = targets.length - i;
          const to = `-j DNAT --to-destination ${target}`;
          rules.push(
            left > 1 ? `-A ${chain} -m statistic --mode random --probability ${(1 / left).toFixed(10)} ${to}` : `-A ${chain} ${to}`
          );
        });
      }
    }
    rules.push(`-A LB-POSTROUTING -m mark --mark ${EDGE_MASQ_MARK}/${EDGE_MASQ_MARK} -j MASQUERADE`);
    if (drops.length > 0) this.edgeMangleTable = true;
    const mangle = !this.edgeMangleTable ? [] : [
      "*mangle",
      ":PREROUTING ACCEPT [0:0]",
      ":INPUT ACCEPT [0:0]",
      ":FORWARD ACCEPT [0:0]",
      ":OUTPUT ACCEPT [0:0]",
      ":POSTROUTING ACCEPT [0:0]",
      ":LB-FIREWALL - [0:0]",
      "-A PREROUTING -j LB-FIREWALL",
      ...drops,
      "COMMIT"
    ];
    return [...mangle, "*nat", ...chains, ...rules, "COMMIT", ""].join("\n");
  }
  programEdge() {
    if (this.services.length === 0 && this.edgeFilter === null) return;
    if (this.edgeFilter === null) {
      this.edgeFilter = new NetfilterStack(this.clusterNet.edge, { rng: Rng.stream(this.seed, "edge/netfilter") });
      this.clusterNet.edge.filter = this.edgeFilter;
    }
    const text = this.edgeRules();
    if (text === this.lastEdgeRules) return;
    this.edgeFilter.restore(text);
    this.lastEdgeRules = text;
  }
  handleEvent(kind, a, b, nowNs) {
    const target = this.probes[a];
    if (kind === this.kindProbe) {
      if (!target.active) return;
      this.sendProbe(target, nowNs);
      this.scheduler.schedule(nowNs + this.healthCheck.intervalNs, this.kindProbe, a, 0);
    } else if (kind === this.kindProbeTimeout) {
      target.timeoutHandle = -1;
      if (target.conn !== null && target.seq === b) {
        const conn = target.conn;
        this.finishProbe(target, false, nowNs);
        conn.abort();
      }
    }
  }
  sendProbe(target, nowNs) {
    if (target.conn !== null) {
      const conn2 = target.conn;
      this.finishProbe(target, false, nowNs);
      conn2.abort();
    }
    target.seq++;
    target.probesSent++;
    const conn = this.network.tcp.connect(this.clusterNet.edge, target.nodeIp, target.port, this, 0);
    target.conn = conn;
    this.probeByConn.set(conn, target);
    target.timeoutHandle = this.scheduler.schedule(
      nowNs + this.healthCheck.timeoutNs,
      this.kindProbeTimeout,
      target.index,
      target.seq
    );
  }
  finishProbe(target, ok, nowNs) {
    if (target.conn !== null) this.probeByConn.delete(target.conn);
    target.conn = null;
    if (target.timeoutHandle >= 0) this.scheduler.cancel(target.timeoutHandle);
    target.timeoutHandle = -1;
    if (!target.active) return;
    const before = target.healthy;
    if (ok) {
      target.successes++;
      target.failures = 0;
      if (target.successes >= this.healthCheck.healthyThreshold) target.healthy = true;
    } else {
      target.failures++;
      target.successes = 0;
      if (target.failures >= this.healthCheck.unhealthyThreshold) target.healthy = false;
    }
    if (target.healthy !== before) {
      this.record(
        nowNs,
        `load balancer ${target.service}: ${target.node} ${target.healthy ? "healthy" : "unhealthy"} (health check :${target.port})`
      );
      this.programEdge();
    }
  }
  onConnected(conn) {
    const target = this.probeByConn.get(conn);
    if (target === void 0) return;
    conn.send(healthCheckRequestBytes(formatIpv4(target.nodeIp), target.port), target.seq, null);
  }
  onMessage(conn, _bytes, _appTag, appData) {
    const target = this.probeByConn.get(conn);
    if (target === void 0) return;
    const reply = appData;
    this.finishProbe(target, reply !== null && reply.status === 200, this.scheduler.nowNs);
    conn.close();
  }
  onPeerClosed(conn) {
    const target = this.probeByConn.get(conn);
    conn.close();
    if (target !== void 0) this.finishProbe(target, false, this.scheduler.nowNs);
  }
  onClosed(conn, _error) {
    const target = this.probeByConn.get(conn);
    if (target !== void 0) this.finishProbe(target, false, this.scheduler.nowNs);
  }
  // ----------------------------------------------------------------------- queries
  /**
   * Whether traffic to `address` is served as a user would check before sending: an ingress IP in
   * cloud mode has a healthy backend (or no health check); in l2 mode it is announced. Other
   * addresses: true.
   */
  ready(address) {
    for (const svc of this.services) {
      if (!svc.vips.includes(address)) continue;
      if (this.mode === "l2") return this.announced.has(address);
      if (svc.ports.some((p) => p.nodePort === 0 && p.pods.length === 0)) return false;
      if (!svc.externalPolicyLocal || svc.healthCheckNodePort === 0 || svc.ports.every((p) => p.nodePort === 0))
        return true;
      return this.nodes.some(
        (n) => this.probeByKey.get(`${svc.key}|${n.name}|${svc.healthCheckNodePort}`)?.healthy === true
      );
    }
    return true;
  }
  /** The node (or "edge") the fabric delivers `address` to, or null. */
  announcer(address) {
    const iface = this.announced.get(address);
    if (iface === void 0) return null;
    if (iface === this.clusterNet.edgeEth0) return "edge";
    return this.nodes.find((n) => n.net.eth0 === iface)?.name ?? null;
  }
  /** Health state of each probed (service, node): "namespace/name" -> node -> healthy. */
  healthStates() {
    const out = {};
    for (const target of this.probeByKey.values()) (out[target.service] ??= {})[target.node] = target.healthy;
    return out;
  }
};
function electL2Speaker(candidates, ip) {
  let best = null;
  let bestHash = null;
  for (const node of candidates) {
    const hash = createHash("sha256").update(`${node.name}#${ip}`, "utf8").digest();
    if (bestHash === null || Buffer.compare(hash, bestHash) < 0) {
      best = node;
      bestHash = hash;
    }
  }
  return best;
}
function splitKey2(key) {
  const i = key.indexOf("/");
  return [key.slice(0, i), key.slice(i + 1)];
}
function compare(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

// src/proxy/conntrack-cleanup.ts
function ipPortKey(address, port) {
  return address * 65536 + port;
}
function staleConntrackFilters(entries, servicePorts) {
  const serviceIPEndpointIPs = /* @__PURE__ */ new Map();
  const serviceNodePortEndpointIPs = /* @__PURE__ */ new Map();
  for (const svc of servicePorts) {
    if (svc.protocol !== "udp") continue;
    const endpointIPs = /* @__PURE__ */ new Set();
    for (const ep of svc.endpoints) {
      if (!ep.serving) continue;
      const ip = parseIpv4(ep.ip);
      if (ip !== void 0) endpointIPs.add(ip);
    }
    if (endpointIPs.size === 0) continue;
    for (const address of [svc.clusterIP, ...svc.externalIPs, ...svc.loadBalancerVIPs]) {
      const ip = parseIpv4(address);
      if (ip !== void 0) serviceIPEndpointIPs.set(ipPortKey(ip, svc.port), endpointIPs);
    }
    if (svc.nodePort !== 0) serviceNodePortEndpointIPs.set(svc.nodePort, endpointIPs);
  }
  const filters = [];
  for (const entry of entries) {
    if (entry.protocol !== Protocol.UDP) continue;
    const byIP = serviceIPEndpointIPs.get(ipPortKey(entry.origDstAddr, entry.origDstPort));
    if (byIP !== void 0) {
      if (!byIP.has(entry.replySrcAddr)) {
        filters.push({
          kind: "ip-port",
          origDstAddr: entry.origDstAddr,
          origDstPort: entry.origDstPort,
          replySrcAddr: entry.replySrcAddr
        });
      }
      continue;
    }
    const byNodePort = serviceNodePortEndpointIPs.get(entry.origDstPort);
    if (byNodePort !== void 0 && !byNodePort.has(entry.replySrcAddr)) {
      filters.push({ kind: "port", origDstPort: entry.origDstPort, replySrcAddr: entry.replySrcAddr });
    }
  }
  return filters;
}
function cleanStaleConntrackEntries(table, servicePorts) {
  const entries = [...table.listEntries()];
  const filters = staleConntrackFilters(entries, servicePorts);
  if (filters.length === 0) return [];
  const ipPortKeys = /* @__PURE__ */ new Set();
  const portKeys = /* @__PURE__ */ new Set();
  for (const f of filters) {
    if (f.kind === "ip-port") ipPortKeys.add(`${f.origDstAddr}/${f.origDstPort}/${f.replySrcAddr}`);
    else portKeys.add(`${f.origDstPort}/${f.replySrcAddr}`);
  }
  const deleted = [];
  for (const entry of entries) {
    if (entry.protocol !== Protocol.UDP) continue;
    if (portKeys.has(`${entry.origDstPort}/${entry.replySrcAddr}`) || ipPortKeys.has(`${entry.origDstAddr}/${entry.origDstPort}/${entry.replySrcAddr}`)) {
      deleted.push(entry.handle);
    }
  }
  for (const handle of deleted) table.deleteEntry(handle);
  return deleted;
}

// src/proxy/iptables/names.ts
import { createHash as createHash2 } from "node:crypto";
var KUBE_SERVICES = "KUBE-SERVICES";
var KUBE_EXTERNAL_SERVICES = "KUBE-EXTERNAL-SERVICES";
var KUBE_NODEPORTS = "KUBE-NODEPORTS";
var KUBE_POSTROUTING = "KUBE-POSTROUTING";
var KUBE_MARK_MASQ = "KUBE-MARK-MASQ";
var KUBE_FORWARD = "KUBE-FORWARD";
var KUBE_PROXY_FIREWALL = "KUBE-PROXY-FIREWALL";
var KUBE_FIREWALL = "KUBE-FIREWALL";
var PREFIX_SVC = "KUBE-SVC-";
var PREFIX_SVL = "KUBE-SVL-";
var PREFIX_FW = "KUBE-FW-";
var PREFIX_EXT = "KUBE-EXT-";
var PREFIX_SEP = "KUBE-SEP-";
var NFACCT_CT_STATE_INVALID_DROPPED = "ct_state_invalid_dropped_pkts";
var NFACCT_LOCALHOST_NODEPORTS_ACCEPTED = "localhost_nps_accepted_pkts";
var BASE32_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
function base32Std(bytes) {
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8 | byte) & 65535;
    bits += 8;
    while (bits >= 5) {
      out += BASE32_ALPHABET[buffer >>> bits - 5 & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32_ALPHABET[buffer << 5 - bits & 31];
  while (out.length % 8 !== 0) out += "=";
  return out;
}
var HASH_MEMO_MAX = 1 << 18;
var hashMemo = /* @__PURE__ */ new Map();
var chainNameHashStats = { computed: 0 };
function hash16(text) {
  const memo = hashMemo.get(text);
  if (memo !== void 0) return memo;
  const digest = createHash2("sha256").update(text, "utf8").digest();
  const value = base32Std(digest).slice(0, 16);
  chainNameHashStats.computed++;
  if (hashMemo.size >= HASH_MEMO_MAX) hashMemo.clear();
  hashMemo.set(text, value);
  return value;
}
function portProtoHash(servicePortName2, protocol) {
  return hash16(servicePortName2 + protocol);
}
function serviceChainName(servicePortName2, protocol) {
  return PREFIX_SVC + portProtoHash(servicePortName2, protocol);
}
function serviceLocalChainName(servicePortName2, protocol) {
  return PREFIX_SVL + portProtoHash(servicePortName2, protocol);
}
function serviceFirewallChainName(servicePortName2, protocol) {
  return PREFIX_FW + portProtoHash(servicePortName2, protocol);
}
function serviceExternalChainName(servicePortName2, protocol) {
  return PREFIX_EXT + portProtoHash(servicePortName2, protocol);
}
function endpointChainName(servicePortName2, protocol, endpoint) {
  return PREFIX_SEP + hash16(servicePortName2 + protocol + endpoint);
}
function isServiceChainName(chain) {
  return chain.startsWith(PREFIX_SVC) || chain.startsWith(PREFIX_SVL) || chain.startsWith(PREFIX_SEP) || chain.startsWith(PREFIX_FW) || chain.startsWith(PREFIX_EXT);
}
function formatFixedGo(x, precision) {
  if (!(x >= 0) || !Number.isFinite(x)) throw new Error(`formatFixedGo: unsupported value ${x}`);
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const high = view.getUint32(0);
  const low = view.getUint32(4);
  const biased = high >>> 20 & 2047;
  let mantissa = BigInt(high & 1048575) << 32n | BigInt(low);
  let exponent;
  if (biased === 0) {
    exponent = -1074;
  } else {
    mantissa |= 1n << 52n;
    exponent = biased - 1075;
  }
  const scale = 10n ** BigInt(precision);
  let scaled;
  if (exponent >= 0) {
    scaled = (mantissa << BigInt(exponent)) * scale;
  } else {
    const numerator = mantissa * scale;
    const denominator = 1n << BigInt(-exponent);
    scaled = numerator / denominator;
    const twiceRemainder = (numerator - scaled * denominator) * 2n;
    if (twiceRemainder > denominator || twiceRemainder === denominator && scaled % 2n === 1n) scaled += 1n;
  }
  const digits = scaled.toString().padStart(precision + 1, "0");
  if (precision === 0) return digits;
  return `${digits.slice(0, digits.length - precision)}.${digits.slice(digits.length - precision)}`;
}
var probabilityCache = [];
function computeProbability(n) {
  let value = probabilityCache[n];
  if (value === void 0) {
    value = formatFixedGo(1 / n, 10);
    probabilityCache[n] = value;
  }
  return value;
}
function masqueradeMark(masqueradeBit) {
  return `0x${(2 ** masqueradeBit).toString(16)}`;
}
function masqueradeMarkGo(masqueradeBit) {
  return `0x${(2 ** masqueradeBit).toString(16).padStart(8, "0")}`;
}

// src/proxy/topology.ts
function topologyModeFromHints(endpoints, nodeName, zone, options = {}) {
  let hasEndpointForNode = false;
  let allEndpointsHaveNodeHints = true;
  let hasEndpointForZone = false;
  let allEndpointsHaveZoneHints = true;
  for (const endpoint of endpoints) {
    if (!endpoint.ready) continue;
    if (endpoint.nodeHints.length === 0) allEndpointsHaveNodeHints = false;
    else if (endpoint.nodeHints.includes(nodeName)) hasEndpointForNode = true;
    if (endpoint.zoneHints.length === 0) allEndpointsHaveZoneHints = false;
    else if (endpoint.zoneHints.includes(zone)) hasEndpointForZone = true;
  }
  if (options.preferSameTrafficDistribution === true && allEndpointsHaveNodeHints && hasEndpointForNode)
    return "PreferSameNode";
  if (allEndpointsHaveZoneHints && hasEndpointForZone) return "PreferSameZone";
  return "";
}
function availableForTopology(endpoint, mode, nodeName, zone) {
  switch (mode) {
    case "":
      return true;
    case "PreferSameNode":
      return endpoint.nodeHints.includes(nodeName);
    case "PreferSameZone":
      return endpoint.zoneHints.includes(zone);
  }
}
function categorizeEndpoints(svc, nodeName, zone, options = {}) {
  const endpoints = svc.endpoints;
  let topologyMode = "";
  let clusterEndpoints = [];
  let localEndpoints = [];
  let hasAnyEndpoints = false;
  let useServingTerminatingEndpoints = false;
  if (svc.usesClusterEndpoints) {
    topologyMode = topologyModeFromHints(endpoints, nodeName, zone, options);
    clusterEndpoints = endpoints.filter((ep) => ep.ready && availableForTopology(ep, topologyMode, nodeName, zone));
    if (clusterEndpoints.length === 0) clusterEndpoints = endpoints.filter((ep) => ep.serving && ep.terminating);
    if (clusterEndpoints.length > 0) hasAnyEndpoints = true;
  }
  if (!svc.usesLocalEndpoints) {
    return { clusterEndpoints, localEndpoints, allReachableEndpoints: clusterEndpoints, hasAnyEndpoints, topologyMode };
  }
  let hasLocalReadyEndpoints = false;
  let hasLocalServingTerminatingEndpoints = false;
  for (const ep of endpoints) {
    if (ep.ready) {
      hasAnyEndpoints = true;
      if (ep.isLocal) hasLocalReadyEndpoints = true;
    } else if (ep.serving && ep.terminating) {
      hasAnyEndpoints = true;
      if (ep.isLocal) hasLocalServingTerminatingEndpoints = true;
    }
  }
  if (hasLocalReadyEndpoints) {
    localEndpoints = endpoints.filter((ep) => ep.isLocal && ep.ready);
  } else if (hasLocalServingTerminatingEndpoints) {
    useServingTerminatingEndpoints = true;
    localEndpoints = endpoints.filter((ep) => ep.isLocal && ep.serving && ep.terminating);
  }
  if (!svc.usesClusterEndpoints) {
    return { clusterEndpoints, localEndpoints, allReachableEndpoints: localEndpoints, hasAnyEndpoints, topologyMode };
  }
  if (topologyMode === "" && !useServingTerminatingEndpoints) {
    return { clusterEndpoints, localEndpoints, allReachableEndpoints: clusterEndpoints, hasAnyEndpoints, topologyMode };
  }
  const merged = /* @__PURE__ */ new Map();
  for (const ep of clusterEndpoints) merged.set(ep.endpoint, ep);
  for (const ep of localEndpoints) merged.set(ep.endpoint, ep);
  const allReachableEndpoints = [...merged.values()].sort((a, b) => compareStrings(a.endpoint, b.endpoint));
  return { clusterEndpoints, localEndpoints, allReachableEndpoints, hasAnyEndpoints, topologyMode };
}

// src/proxy/view.ts
function servicePortView(svc, nodeName, zone, options = {}) {
  const categorized = categorizeEndpoints(svc, nodeName, zone, options);
  const has = categorized.hasAnyEndpoints;
  const hasInternalEndpoints = has && !(svc.internalPolicyLocal && categorized.localEndpoints.length === 0);
  const hasExternalEndpoints = has && !(svc.externalPolicyLocal && categorized.localEndpoints.length === 0);
  const verdict2 = (ok) => ok ? "ACCEPT" : has ? "DROP" : "REJECT";
  return {
    ...svc,
    ...categorized,
    hasInternalEndpoints,
    hasExternalEndpoints,
    internalVerdict: verdict2(hasInternalEndpoints),
    externalVerdict: verdict2(hasExternalEndpoints)
  };
}

// src/proxy/node-port-addresses.ts
import { isIPv6 } from "node:net";
var NODE_PORT_ADDRESSES_PRIMARY = "primary";
function isCidr(text) {
  const slash = text.indexOf("/");
  if (slash < 0) return false;
  const address = text.slice(0, slash);
  const prefix2 = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefix2)) return false;
  if (parseIpv4(address) !== void 0) return Number(prefix2) <= 32;
  return isIPv6(address) && Number(prefix2) <= 128;
}
function validateNodePortAddresses(addresses) {
  const issues = [];
  for (let i = 0; i < addresses.length; i++) {
    const text = addresses[i];
    if (text === NODE_PORT_ADDRESSES_PRIMARY) {
      if (i !== 0 || addresses.length !== 1) issues.push({ index: i, message: "can't use both 'primary' and CIDRs" });
      break;
    }
    if (!isCidr(text)) issues.push({ index: i, message: "must be a valid CIDR" });
  }
  return issues;
}
function effectiveNodePortAddresses(mode, value) {
  const list = value ?? [];
  if (mode === "nftables" && list.length === 0) return [NODE_PORT_ADDRESSES_PRIMARY];
  return list;
}
function resolvePrimary(addresses, primaryIp) {
  if (addresses.length !== 1 || addresses[0] !== NODE_PORT_ADDRESSES_PRIMARY) return addresses;
  const ip = primaryIp === void 0 ? void 0 : parseIpv4(primaryIp);
  if (ip === void 0 || ip >>> 24 === 127) return [];
  return [`${primaryIp}/32`];
}
function ipv4NodePortAddresses(addresses) {
  const cidrs = [];
  for (const text of addresses) {
    const prefix2 = parseCidr(text.trim(), false);
    if (prefix2 === void 0) continue;
    if (prefix2.prefixLength === 0) return { matchAll: true, cidrs: [], containsIPv4Loopback: true };
    cidrs.push(prefix2);
  }
  if (cidrs.length === 0) return { matchAll: true, cidrs: [], containsIPv4Loopback: true };
  const loopback = parseIpv4("127.0.0.0");
  return {
    matchAll: false,
    cidrs,
    containsIPv4Loopback: cidrs.some((c) => c.address >>> 24 === 127 || cidrContains(c, loopback))
  };
}

// src/proxy/iptables/compile.ts
var DEFAULT_IPTABLES_CONFIG = {
  clusterCIDR: null,
  masqueradeAll: false,
  masqueradeBit: 14,
  localhostNodePorts: true,
  nfacct: true,
  randomFully: true,
  nodePortAddresses: null,
  largeClusterEndpointsThreshold: 1e3,
  conntrackTCPLiberal: false,
  preferSameTrafficDistribution: false
};
function iptablesConfigFrom(fields) {
  return {
    ...DEFAULT_IPTABLES_CONFIG,
    clusterCIDR: fields.clusterCIDR,
    masqueradeAll: fields.masqueradeAll,
    masqueradeBit: fields.masqueradeBit,
    localhostNodePorts: fields.localhostNodePorts,
    nfacct: fields.nfacct,
    randomFully: fields.randomFully,
    nodePortAddresses: fields.nodePortAddresses ?? null,
    conntrackTCPLiberal: fields.conntrackTCPLiberal ?? DEFAULT_IPTABLES_CONFIG.conntrackTCPLiberal
  };
}
var FILTER_TOP_LEVEL_CHAINS = [
  KUBE_SERVICES,
  KUBE_EXTERNAL_SERVICES,
  KUBE_FORWARD,
  KUBE_NODEPORTS,
  KUBE_PROXY_FIREWALL
];
var NAT_TOP_LEVEL_CHAINS = [KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ];
var CT_NEW = "-m conntrack --ctstate NEW";
var JUMP_CHAINS = [
  {
    table: "filter",
    target: KUBE_EXTERNAL_SERVICES,
    chain: "INPUT",
    comment: "kubernetes externally-visible service portals",
    extraArgs: CT_NEW
  },
  {
    table: "filter",
    target: KUBE_EXTERNAL_SERVICES,
    chain: "FORWARD",
    comment: "kubernetes externally-visible service portals",
    extraArgs: CT_NEW
  },
  {
    table: "filter",
    target: KUBE_NODEPORTS,
    chain: "INPUT",
    comment: "kubernetes health check service ports",
    extraArgs: ""
  },
  {
    table: "filter",
    target: KUBE_SERVICES,
    chain: "FORWARD",
    comment: "kubernetes service portals",
    extraArgs: CT_NEW
  },
  { table: "filter", target: KUBE_SERVICES, chain: "OUTPUT", comment: "kubernetes service portals", extraArgs: CT_NEW },
  { table: "filter", target: KUBE_FORWARD, chain: "FORWARD", comment: "kubernetes forwarding rules", extraArgs: "" },
  {
    table: "filter",
    target: KUBE_PROXY_FIREWALL,
    chain: "INPUT",
    comment: "kubernetes load balancer firewall",
    extraArgs: CT_NEW
  },
  {
    table: "filter",
    target: KUBE_PROXY_FIREWALL,
    chain: "OUTPUT",
    comment: "kubernetes load balancer firewall",
    extraArgs: CT_NEW
  },
  {
    table: "filter",
    target: KUBE_PROXY_FIREWALL,
    chain: "FORWARD",
    comment: "kubernetes load balancer firewall",
    extraArgs: CT_NEW
  },
  { table: "nat", target: KUBE_SERVICES, chain: "OUTPUT", comment: "kubernetes service portals", extraArgs: "" },
  { table: "nat", target: KUBE_SERVICES, chain: "PREROUTING", comment: "kubernetes service portals", extraArgs: "" },
  {
    table: "nat",
    target: KUBE_POSTROUTING,
    chain: "POSTROUTING",
    comment: "kubernetes postrouting rules",
    extraArgs: ""
  },
  { table: "filter", target: KUBE_FIREWALL, chain: "INPUT", comment: "", extraArgs: "" },
  { table: "filter", target: KUBE_FIREWALL, chain: "OUTPUT", comment: "", extraArgs: "" }
];
function jumpRules() {
  return JUMP_CHAINS.map((jump) => {
    const parts = [];
    if (jump.extraArgs !== "") parts.push(jump.extraArgs);
    if (jump.comment !== "") parts.push(`-m comment --comment ${quoteIfNeeded(jump.comment)}`);
    parts.push(`-j ${jump.target}`);
    return { table: jump.table, chain: jump.chain, target: jump.target, spec: parts.join(" ") };
  });
}
function jumpRulesRestoreInput(existingChains) {
  const out = [];
  for (const table of ["filter", "nat"]) {
    out.push(`*${table}`);
    const declared = /* @__PURE__ */ new Set();
    for (const jump of JUMP_CHAINS) {
      if (jump.table !== table || existingChains[table].has(jump.target) || declared.has(jump.target)) continue;
      declared.add(jump.target);
      out.push(chainLine(jump.target));
    }
    for (const rule2 of jumpRules()) if (rule2.table === table) out.push(`-I ${rule2.chain} ${rule2.spec}`);
    out.push("COMMIT");
  }
  return out.join("\n") + "\n";
}
function quoteIfNeeded(text) {
  return text.includes(" ") ? `"${text}"` : text;
}
function chainLine(chain) {
  return `:${chain} - [0:0]`;
}
function planNodePortAddresses(addresses, node) {
  const plan = ipv4NodePortAddresses(resolvePrimary(addresses ?? [], node.ips[0]));
  if (plan.matchAll) return { matchAll: true, containsIPv4Loopback: true, nodeIPs: [] };
  const found = /* @__PURE__ */ new Set();
  for (const prefix2 of plan.cidrs) {
    for (const ip of ["127.0.0.1", ...node.ips]) {
      const address = parseIpv4(ip);
      if (address !== void 0 && cidrContains(prefix2, address)) found.add(address);
    }
  }
  const nodeIPs = [...found].sort((a, b) => a - b).map(formatIpv4);
  return { matchAll: false, containsIPv4Loopback: plan.containsIPv4Loopback, nodeIPs };
}
function compileIptablesServicePorts(servicePorts, node, config, options = {}) {
  const changed = options.changedServices ?? null;
  const fullSync = changed === null;
  const mark = masqueradeMark(config.masqueradeBit);
  const zone = nodeZone(node);
  const nodeIP = node.ips[0] ?? "";
  const nodePorts = planNodePortAddresses(config.nodePortAddresses, node);
  const localhostNodePorts = config.localhostNodePorts && nodePorts.containsIPv4Loopback;
  const detector = config.clusterCIDR === null || config.clusterCIDR.trim() === "" ? null : config.clusterCIDR.trim();
  const filterChains = [];
  const filterRules = [];
  const natChains = [];
  const natRules = [];
  for (const chain of FILTER_TOP_LEVEL_CHAINS) filterChains.push(chainLine(chain));
  for (const chain of NAT_TOP_LEVEL_CHAINS) natChains.push(chainLine(chain));
  natRules.push(`-A ${KUBE_POSTROUTING} -m mark ! --mark ${mark}/${mark} -j RETURN`);
  natRules.push(`-A ${KUBE_POSTROUTING} -j MARK --xor-mark ${mark}`);
  natRules.push(
    `-A ${KUBE_POSTROUTING} -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE${config.randomFully ? " --random-fully" : ""}`
  );
  natRules.push(`-A ${KUBE_MARK_MASQ} -j MARK --or-mark ${mark}`);
  if (localhostNodePorts) {
    filterChains.push(chainLine(KUBE_FIREWALL));
    filterRules.push(
      `-A ${KUBE_FIREWALL} -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP`
    );
  }
  const activeNatChains = /* @__PURE__ */ new Set();
  let totalEndpoints = 0;
  for (const svc of servicePorts) totalEndpoints += svc.endpoints.length;
  const largeClusterMode = totalEndpoints > config.largeClusterEndpointsThreshold;
  const views = [];
  for (const svcPort of servicePorts) {
    const svc = servicePortView(svcPort, node.name, zone, {
      preferSameTrafficDistribution: config.preferSameTrafficDistribution
    });
    const protocol = svc.protocol;
    const name = svc.name;
    const {
      clusterEndpoints,
      localEndpoints,
      allReachableEndpoints,
      hasAnyEndpoints: hasEndpoints,
      hasInternalEndpoints,
      hasExternalEndpoints
    } = svc;
    const clusterPolicyChain = serviceChainName(name, protocol);
    const localPolicyChain = serviceLocalChainName(name, protocol);
    const externalTrafficChain = serviceExternalChainName(name, protocol);
    const fwChain = serviceFirewallChainName(name, protocol);
    const usesClusterPolicyChain = clusterEndpoints.length > 0 && svc.usesClusterEndpoints;
    const usesLocalPolicyChain = localEndpoints.length > 0 && svc.usesLocalEndpoints;
    const internalPolicyChain = svc.internalPolicyLocal ? localPolicyChain : clusterPolicyChain;
    const internalTrafficChain = internalPolicyChain;
    const externalPolicyChain = svc.externalPolicyLocal ? localPolicyChain : clusterPolicyChain;
    const usesExternalTrafficChain = hasEndpoints && svc.externallyAccessible;
    const usesFWChain = hasEndpoints && svc.loadBalancerVIPs.length > 0 && svc.loadBalancerSourceRanges.length > 0;
    const loadBalancerTrafficChain = usesFWChain ? fwChain : externalTrafficChain;
    const filterComment = hasEndpoints ? `"${name} has no local endpoints"` : `"${name} has no endpoints"`;
    const internalTrafficFilterTarget = svc.internalVerdict;
    const internalTrafficFilterComment = filterComment;
    const externalTrafficFilterTarget = svc.externalVerdict;
    const externalTrafficFilterComment = filterComment;
    const pp = `-m ${protocol} -p ${protocol}`;
    const port = String(svc.port);
    if (hasInternalEndpoints) {
      natRules.push(
        `-A ${KUBE_SERVICES} -m comment --comment "${name} cluster IP" ${pp} -d ${svc.clusterIP} --dport ${port} -j ${internalTrafficChain}`
      );
    } else {
      filterRules.push(
        `-A ${KUBE_SERVICES} -m comment --comment ${internalTrafficFilterComment} ${pp} -d ${svc.clusterIP} --dport ${port} -j ${internalTrafficFilterTarget}`
      );
    }
    for (const externalIP of svc.externalIPs) {
      if (hasEndpoints) {
        natRules.push(
          `-A ${KUBE_SERVICES} -m comment --comment "${name} external IP" ${pp} -d ${externalIP} --dport ${port} -j ${externalTrafficChain}`
        );
      }
      if (!hasExternalEndpoints) {
        filterRules.push(
          `-A ${KUBE_EXTERNAL_SERVICES} -m comment --comment ${externalTrafficFilterComment} ${pp} -d ${externalIP} --dport ${port} -j ${externalTrafficFilterTarget}`
        );
      }
    }
    for (const lbip of svc.loadBalancerVIPs) {
      if (hasEndpoints) {
        natRules.push(
          `-A ${KUBE_SERVICES} -m comment --comment "${name} loadbalancer IP" ${pp} -d ${lbip} --dport ${port} -j ${loadBalancerTrafficChain}`
        );
      }
      if (usesFWChain) {
        filterRules.push(
          `-A ${KUBE_PROXY_FIREWALL} -m comment --comment "${name} traffic not accepted by ${fwChain}" ${pp} -d ${lbip} --dport ${port} -j DROP`
        );
      }
    }
    if (!hasExternalEndpoints) {
      for (const lbip of svc.loadBalancerVIPs) {
        filterRules.push(
          `-A ${KUBE_EXTERNAL_SERVICES} -m comment --comment ${externalTrafficFilterComment} ${pp} -d ${lbip} --dport ${port} -j ${externalTrafficFilterTarget}`
        );
      }
    }
    if (svc.nodePort !== 0) {
      const nodePort = String(svc.nodePort);
      if (hasEndpoints) {
        if (localhostNodePorts && config.nfacct) {
          natRules.push(
            `-A ${KUBE_NODEPORTS} -m comment --comment ${name} ${pp} -d 127.0.0.0/8 --dport ${nodePort} -m nfacct --nfacct-name ${NFACCT_LOCALHOST_NODEPORTS_ACCEPTED} -j ${externalTrafficChain}`
          );
        }
        natRules.push(
          `-A ${KUBE_NODEPORTS} -m comment --comment ${name} ${pp} --dport ${nodePort} -j ${externalTrafficChain}`
        );
      }
      if (!hasExternalEndpoints) {
        filterRules.push(
          `-A ${KUBE_EXTERNAL_SERVICES} -m comment --comment ${externalTrafficFilterComment} -m addrtype --dst-type LOCAL ${pp} --dport ${nodePort} -j ${externalTrafficFilterTarget}`
        );
      }
    }
    if (svc.healthCheckNodePort !== 0) {
      filterRules.push(
        `-A ${KUBE_NODEPORTS} -m comment --comment "${name} health check node port" -m tcp -p tcp --dport ${svc.healthCheckNodePort} -j ACCEPT`
      );
    }
    const chainsWritten = fullSync || changed.has(svc.namespacedName);
    const svcNatChains = chainsWritten ? natChains : [];
    const svcNatRules = chainsWritten ? natRules : [];
    if (hasInternalEndpoints) {
      const args = `-m comment --comment "${name} cluster IP" ${pp} -d ${svc.clusterIP} --dport ${port}`;
      if (config.masqueradeAll) {
        svcNatRules.push(`-A ${internalTrafficChain} ${args} -j ${KUBE_MARK_MASQ}`);
      } else if (detector !== null) {
        svcNatRules.push(`-A ${internalTrafficChain} ${args} ! -s ${detector} -j ${KUBE_MARK_MASQ}`);
      }
    }
    if (usesExternalTrafficChain) {
      svcNatChains.push(chainLine(externalTrafficChain));
      activeNatChains.add(externalTrafficChain);
      if (!svc.externalPolicyLocal) {
        svcNatRules.push(
          `-A ${externalTrafficChain} -m comment --comment "masquerade traffic for ${name} external destinations" -j ${KUBE_MARK_MASQ}`
        );
      } else {
        if (detector !== null) {
          svcNatRules.push(
            `-A ${externalTrafficChain} -m comment --comment "pod traffic for ${name} external destinations" -s ${detector} -j ${clusterPolicyChain}`
          );
        }
        svcNatRules.push(
          `-A ${externalTrafficChain} -m comment --comment "masquerade LOCAL traffic for ${name} external destinations" -m addrtype --src-type LOCAL -j ${KUBE_MARK_MASQ}`
        );
        svcNatRules.push(
          `-A ${externalTrafficChain} -m comment --comment "route LOCAL traffic for ${name} external destinations" -m addrtype --src-type LOCAL -j ${clusterPolicyChain}`
        );
      }
      if (hasExternalEndpoints) svcNatRules.push(`-A ${externalTrafficChain} -j ${externalPolicyChain}`);
    }
    if (usesFWChain) {
      svcNatChains.push(chainLine(fwChain));
      activeNatChains.add(fwChain);
      const args = `-A ${fwChain} -m comment --comment "${name} loadbalancer IP"`;
      let allowFromNode = false;
      for (const range of svc.loadBalancerSourceRanges) {
        svcNatRules.push(`${args} -s ${range} -j ${externalTrafficChain}`);
        if (nodeIP !== "" && cidrContainsIp(range, nodeIP)) allowFromNode = true;
      }
      if (allowFromNode) {
        for (const lbip of svc.loadBalancerVIPs) svcNatRules.push(`${args} -s ${lbip} -j ${externalTrafficChain}`);
      }
      svcNatRules.push(
        `-A ${fwChain} -m comment --comment "other traffic to ${name} will be dropped by KUBE-PROXY-FIREWALL"`
      );
    }
    const endpointChains = /* @__PURE__ */ new Map();
    for (const ep of allReachableEndpoints)
      endpointChains.set(ep.endpoint, endpointChainName(name, protocol, ep.endpoint));
    if (usesClusterPolicyChain) {
      svcNatChains.push(chainLine(clusterPolicyChain));
      activeNatChains.add(clusterPolicyChain);
      writeServiceToEndpointRules(svcNatRules, svc, clusterPolicyChain, clusterEndpoints, largeClusterMode);
    }
    if (usesLocalPolicyChain) {
      svcNatChains.push(chainLine(localPolicyChain));
      activeNatChains.add(localPolicyChain);
      writeServiceToEndpointRules(svcNatRules, svc, localPolicyChain, localEndpoints, largeClusterMode);
    }
    for (const ep of allReachableEndpoints) {
      const endpointChain = endpointChainName(name, protocol, ep.endpoint);
      svcNatChains.push(chainLine(endpointChain));
      activeNatChains.add(endpointChain);
      let args = `-A ${endpointChain}`;
      if (!largeClusterMode) args += ` -m comment --comment ${name}`;
      svcNatRules.push(`${args} -s ${ep.ip} -j ${KUBE_MARK_MASQ}`);
      if (svc.stickyMaxAgeSeconds > 0) args += ` -m recent --name ${endpointChain} --set`;
      svcNatRules.push(`${args} ${pp} -j DNAT --to-destination ${ep.endpoint}`);
    }
    views.push({
      ...svc,
      clusterPolicyChain,
      localPolicyChain,
      externalChain: externalTrafficChain,
      firewallChain: fwChain,
      usesClusterPolicyChain,
      usesLocalPolicyChain,
      usesExternalTrafficChain,
      usesFWChain,
      internalPolicyChain,
      externalPolicyChain,
      endpointChains,
      chainsWritten
    });
  }
  const deletedChains = [];
  if (options.existingNatChains !== void 0) {
    for (const chain of options.existingNatChains) {
      if (!activeNatChains.has(chain) && isServiceChainName(chain)) deletedChains.push(chain);
    }
    deletedChains.sort(compareStrings);
    for (const chain of deletedChains) {
      natChains.push(chainLine(chain));
      natRules.push(`-X ${chain}`);
    }
  }
  const lastRuleComment = `"kubernetes service nodeports; NOTE: this must be the last rule in this chain"`;
  if (nodePorts.matchAll) {
    const destinations = localhostNodePorts ? "-m addrtype --dst-type LOCAL" : "-m addrtype --dst-type LOCAL ! -d 127.0.0.0/8";
    natRules.push(`-A ${KUBE_SERVICES} -m comment --comment ${lastRuleComment} ${destinations} -j ${KUBE_NODEPORTS}`);
  } else {
    for (const ip of nodePorts.nodeIPs) {
      if (ip.startsWith("127.") && !localhostNodePorts) continue;
      natRules.push(`-A ${KUBE_SERVICES} -m comment --comment ${lastRuleComment} -d ${ip} -j ${KUBE_NODEPORTS}`);
    }
  }
  if (!config.conntrackTCPLiberal) {
    filterRules.push(
      `-A ${KUBE_FORWARD} -m conntrack --ctstate INVALID${config.nfacct ? ` -m nfacct --nfacct-name ${NFACCT_CT_STATE_INVALID_DROPPED}` : ""} -j DROP`
    );
  }
  filterRules.push(
    `-A ${KUBE_FORWARD} -m comment --comment "kubernetes forwarding rules" -m mark --mark ${mark}/${mark} -j ACCEPT`
  );
  filterRules.push(
    `-A ${KUBE_FORWARD} -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`
  );
  const lines = ["*filter", ...filterChains, ...filterRules, "COMMIT", "*nat", ...natChains, ...natRules, "COMMIT"];
  return {
    restoreInput: lines.join("\n") + "\n",
    fullSync,
    largeClusterMode,
    totalEndpoints,
    activeNatChains: [...activeNatChains].sort(compareStrings),
    deletedChains,
    services: views,
    jumpRules: jumpRules(),
    filterRuleCount: filterRules.length,
    natRuleCount: natRules.length - deletedChains.length
  };
}
function writeServiceToEndpointRules(natRules, svc, svcChain, endpoints, largeClusterMode) {
  const commentOf2 = (ep) => largeClusterMode ? "" : ` -m comment --comment "${svc.name} -> ${ep.endpoint}"`;
  if (svc.stickyMaxAgeSeconds > 0) {
    for (const ep of endpoints) {
      const chain = endpointChainName(svc.name, svc.protocol, ep.endpoint);
      natRules.push(
        `-A ${svcChain}${commentOf2(ep)} -m recent --name ${chain} --rcheck --seconds ${svc.stickyMaxAgeSeconds} --reap -j ${chain}`
      );
    }
  }
  const n = endpoints.length;
  endpoints.forEach((ep, i) => {
    const chain = endpointChainName(svc.name, svc.protocol, ep.endpoint);
    const statistic = i < n - 1 ? ` -m statistic --mode random --probability ${computeProbability(n - i)}` : "";
    natRules.push(`-A ${svcChain}${commentOf2(ep)}${statistic} -j ${chain}`);
  });
}
function natChainsAfterRestore(existing, restoreInput) {
  const chains = new Set(existing);
  let inNat = false;
  for (const line of restoreInput.split("\n")) {
    if (line.startsWith("*")) inNat = line === "*nat";
    else if (!inNat) continue;
    else if (line.startsWith(":")) chains.add(line.slice(1).split(" ")[0]);
    else if (line.startsWith("-X ")) chains.delete(line.slice(3).trim());
  }
  return chains;
}

// src/proxy/iptables/proxier.ts
var DEFAULT_FULL_SYNC_PERIOD_NS = 3600 * 1e9;
var IptablesProxier = class {
  constructor(node, config, options = {}) {
    this.node = node;
    this.config = config;
    this.syncPeriodNs = options.syncPeriodNs ?? 3e10;
    this.fullSyncPeriodNs = options.fullSyncPeriodNs ?? DEFAULT_FULL_SYNC_PERIOD_NS;
    this.alwaysFullSync = options.alwaysFullSync ?? false;
  }
  node;
  config;
  previous = /* @__PURE__ */ new Map();
  existingNatChains = /* @__PURE__ */ new Set();
  existingBeforeLastSync = /* @__PURE__ */ new Set();
  needFullSync = true;
  lastFullSyncNs = Number.NEGATIVE_INFINITY;
  lastCleanupNs = Number.NEGATIVE_INFINITY;
  lastZone = null;
  syncPeriodNs;
  fullSyncPeriodNs;
  alwaysFullSync;
  /** Node label changes force a full sync (OnTopologyChange). */
  setNode(node) {
    if (nodeZone(node) !== nodeZone(this.node)) this.needFullSync = true;
    this.node = node;
  }
  /** Forces the next sync to be full (the canary chain vanished, iptables was flushed...). */
  forceFullSync() {
    this.needFullSync = true;
  }
  /** The nat chains the node has after the last restore (as this proxier believes). */
  natChains() {
    return this.existingNatChains;
  }
  /**
   * One `syncProxyRules`: compiles against the current objects. The caller restores
   * `restoreInput` (after installing `jumpRules` on full syncs) and reports a failure with
   * `restoreFailed()`.
   */
  sync(nowNs, services, slices) {
    const zone = nodeZone(this.node);
    if (this.lastZone !== null && this.lastZone !== zone) this.needFullSync = true;
    this.lastZone = zone;
    const fullSync = this.alwaysFullSync || this.needFullSync || nowNs - this.lastFullSyncNs > this.fullSyncPeriodNs;
    const servicePorts = buildServicePorts(services, slices, this.node);
    const current = fingerprintByService(servicePorts);
    const changed = /* @__PURE__ */ new Set();
    for (const [name, print] of current) if (this.previous.get(name) !== print) changed.add(name);
    for (const name of this.previous.keys()) if (!current.has(name)) changed.add(name);
    let totalEndpoints = 0;
    for (const svc of servicePorts) totalEndpoints += svc.endpoints.length;
    const largeClusterMode = totalEndpoints > this.config.largeClusterEndpointsThreshold;
    const cleanup = !largeClusterMode || nowNs - this.lastCleanupNs > this.syncPeriodNs;
    const result = compileIptablesServicePorts(servicePorts, this.node, this.config, {
      changedServices: fullSync ? null : changed,
      ...cleanup ? { existingNatChains: this.existingNatChains } : {}
    });
    if (cleanup) this.lastCleanupNs = nowNs;
    this.existingBeforeLastSync = this.existingNatChains;
    this.existingNatChains = natChainsAfterRestore(this.existingNatChains, result.restoreInput);
    this.previous = current;
    this.needFullSync = false;
    if (fullSync) this.lastFullSyncNs = nowNs;
    return result;
  }
  /** The last restore failed: nothing was applied, and the next sync must be full. */
  restoreFailed() {
    this.existingNatChains = this.existingBeforeLastSync;
    this.needFullSync = true;
  }
};
function fingerprintByService(servicePorts) {
  const out = /* @__PURE__ */ new Map();
  for (const svc of servicePorts) out.set(svc.namespacedName, (out.get(svc.namespacedName) ?? "") + JSON.stringify(svc));
  return out;
}

// src/proxy/iptables/sort.ts
function parseIptablesDump(text) {
  const tables = [];
  let table = null;
  const chainIndex = /* @__PURE__ */ new Map();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "" || line.startsWith("#")) continue;
    const where = `line ${i + 1}`;
    if (line.startsWith("*")) {
      if (table !== null) throw new Error(`${where}: table ${line} starts before COMMIT of ${table.name}`);
      table = { name: line.slice(1), chains: [] };
      chainIndex.clear();
      continue;
    }
    if (table === null) throw new Error(`${where}: content outside a table: ${line}`);
    if (line === "COMMIT") {
      tables.push(table);
      table = null;
      continue;
    }
    if (line.startsWith(":")) {
      const space = line.indexOf(" ");
      const name = space < 0 ? line.slice(1) : line.slice(1, space);
      if (chainIndex.has(name)) throw new Error(`${where}: duplicate chain ${name}`);
      const chain = { name, declaration: space < 0 ? "" : line.slice(space + 1), rules: [], deleted: false };
      chainIndex.set(name, chain);
      table.chains.push(chain);
      continue;
    }
    const parts = line.split(" ");
    const op = parts[0];
    const chainName = parts[1];
    if ((op === "-A" || op === "-X") && chainName !== void 0) {
      const chain = chainIndex.get(chainName);
      if (chain === void 0) throw new Error(`${where}: chain ${chainName} not declared`);
      if (op === "-A") chain.rules.push(line);
      else chain.deleted = true;
      continue;
    }
    throw new Error(`${where}: unsupported line: ${line}`);
  }
  if (table !== null) throw new Error(`table ${table.name} has no COMMIT`);
  return tables;
}
function formatIptablesDump(tables) {
  const out = [];
  for (const table of tables) {
    out.push(`*${table.name}`);
    for (const chain of table.chains)
      out.push(chain.declaration === "" ? `:${chain.name}` : `:${chain.name} ${chain.declaration}`);
    for (const chain of table.chains) out.push(...chain.rules);
    for (const chain of table.chains) if (chain.deleted) out.push(`-X ${chain.name}`);
    out.push("COMMIT");
  }
  return out.join("\n") + "\n";
}
function ruleComment(rule2) {
  const at = rule2.indexOf("--comment ");
  if (at < 0) return null;
  const start = at + "--comment ".length;
  if (rule2[start] === '"') {
    const end2 = rule2.indexOf('"', start + 1);
    return end2 < 0 ? rule2.slice(start + 1) : rule2.slice(start + 1, end2);
  }
  const end = rule2.indexOf(" ", start);
  return end < 0 ? rule2.slice(start) : rule2.slice(start, end);
}
function commentServiceName(comment) {
  const space = comment.indexOf(" ");
  const colon = comment.indexOf(":");
  let cut = -1;
  if (space >= 0) cut = space;
  if (colon >= 0 && (cut < 0 || colon < cut)) cut = colon;
  return cut < 0 ? comment : comment.slice(0, cut);
}
function compareByCommentServiceName(a, b) {
  const commentA = ruleComment(a);
  const commentB = ruleComment(b);
  if (commentA === null || commentB === null) return 0;
  const nameA = commentServiceName(commentA);
  const nameB = commentServiceName(commentB);
  return nameA < nameB ? -1 : nameA > nameB ? 1 : 0;
}
function chainRank(name) {
  if (name === "KUBE-NODEPORTS") return 0;
  if (name === "KUBE-SERVICES") return 1;
  return name.startsWith("KUBE-") ? 2 : 3;
}
function compareChains(a, b) {
  const rank = chainRank(a.name) - chainRank(b.name);
  if (rank !== 0) return rank;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
var LAST_RULE_MARKER = "must be the last rule";
function sortIptablesRules(text) {
  const tables = parseIptablesDump(text);
  tables.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  for (const table of tables) {
    table.chains.sort(compareChains);
    for (const chain of table.chains) {
      if (chain.name === "KUBE-NODEPORTS" || chain.name === "KUBE-SERVICES" && table.name === "filter") {
        stableSortInPlace(chain.rules, compareByCommentServiceName);
      } else if (chain.name === "KUBE-SERVICES" && table.name === "nat") {
        stableSortInPlace(chain.rules, (a, b) => {
          const lastA = (ruleComment(a) ?? "").includes(LAST_RULE_MARKER);
          const lastB = (ruleComment(b) ?? "").includes(LAST_RULE_MARKER);
          if (lastA !== lastB) return lastA ? 1 : -1;
          if (lastA) return 0;
          return compareByCommentServiceName(a, b);
        });
      }
    }
  }
  return formatIptablesDump(tables);
}
function stableSortInPlace(rules, compare3) {
  const sorted = rules.map((rule2, index) => ({ rule: rule2, index })).sort((x, y) => compare3(x.rule, y.rule) || x.index - y.index);
  for (let i = 0; i < sorted.length; i++) rules[i] = sorted[i].rule;
}

// src/proxy/sync.ts
function isTimed(target) {
  return "startSync" in target;
}
var EVENT_RUN = 0;
var EVENT_TIMER = 1;
var EVENT_END = 2;
var SyncRunner = class {
  constructor(scheduler, name, minSyncPeriodNs, syncPeriodNs, burst, target) {
    this.scheduler = scheduler;
    this.name = name;
    this.minSyncPeriodNs = minSyncPeriodNs;
    this.syncPeriodNs = syncPeriodNs;
    this.burst = burst;
    this.target = target;
    if (!(Number.isSafeInteger(minSyncPeriodNs) && minSyncPeriodNs >= 0))
      throw new Error(`${name}: bad minSyncPeriodNs ${minSyncPeriodNs}`);
    if (!(Number.isSafeInteger(syncPeriodNs) && syncPeriodNs >= minSyncPeriodNs))
      throw new Error(`${name}: syncPeriodNs must be >= minSyncPeriodNs`);
    if (!(Number.isInteger(burst) && burst >= 1)) throw new Error(`${name}: bad burst ${burst}`);
    this.creditMaxNs = burst * minSyncPeriodNs;
    this.creditNs = this.creditMaxNs;
    this.kind = scheduler.registerKind(`proxy/sync-runner/${name}`, this);
  }
  scheduler;
  name;
  minSyncPeriodNs;
  syncPeriodNs;
  burst;
  target;
  /** Number of times the target ran. */
  syncCount = 0;
  /** Time the last run ENDED (upstream sets lastRun after fn returns); -1 before the first. */
  lastRunNs = -1;
  kind;
  runPending = false;
  timerGeneration = 0;
  timerDeadlineNs = Number.POSITIVE_INFINITY;
  timerHandle = -1;
  creditNs;
  creditAtNs = 0;
  creditMaxNs;
  started = false;
  /** A sync is running (the Loop goroutine is inside fn). */
  busy = false;
  /** The running sync is a direct call (start-up), not a tryRun: it does not touch lastRun/timer. */
  busyDirect = false;
  /** A run request arrived while busy (the run channel's slot is full). */
  runAfterBusy = false;
  /** `Loop()`: arms the periodic timer (no sync now; kube-proxy's first sync is a direct call). */
  start(nowNs) {
    this.started = true;
    this.creditAtNs = nowNs;
    this.resetTimer(nowNs, this.syncPeriodNs);
  }
  /**
   * A sync outside the runner (kube-proxy's start-up call to syncProxyRules): spends no token and
   * leaves lastRun and the timer alone, but holds the runner busy (syncProxyRules holds
   * proxier.mu) until it ends.
   */
  runDirect(nowNs) {
    if (!isTimed(this.target)) {
      this.target.sync(nowNs);
      return;
    }
    if (this.busy) throw new Error(`${this.name}: direct sync while a sync runs`);
    this.begin(nowNs, true);
  }
  /** A sync is running now. */
  get running() {
    return this.busy;
  }
  /** `Run()`: asks for a sync as soon as the rate limit allows. */
  requestSync(nowNs) {
    if (this.runPending) return;
    this.runPending = true;
    this.scheduler.schedule(nowNs, this.kind, EVENT_RUN, 0);
  }
  /** `RetryAfter(interval)`: make sure a run is attempted within `intervalNs`. */
  retryAfter(nowNs, intervalNs) {
    if (nowNs + intervalNs < this.timerDeadlineNs) this.resetTimer(nowNs, intervalNs);
  }
  /** Time the timer fires next (Infinity when not started). */
  get nextTimerNs() {
    return this.timerDeadlineNs;
  }
  handleEvent(_kind, a, b, nowNs) {
    if (a === EVENT_RUN) {
      this.runPending = false;
      if (this.busy) this.runAfterBusy = true;
      else this.tryRun(nowNs);
    } else if (a === EVENT_TIMER && b === this.timerGeneration) {
      this.timerDeadlineNs = Number.POSITIVE_INFINITY;
      this.timerHandle = -1;
      if (!this.busy) this.tryRun(nowNs);
    } else if (a === EVENT_END) {
      this.end(nowNs);
    }
  }
  begin(nowNs, direct) {
    const target = this.target;
    const durationNs = target.startSync(nowNs);
    if (!(Number.isSafeInteger(durationNs) && durationNs >= 0))
      throw new Error(`${this.name}: bad sync duration ${durationNs}`);
    this.busy = true;
    this.busyDirect = direct;
    if (durationNs === 0) this.end(nowNs);
    else this.scheduler.schedule(nowNs + durationNs, this.kind, EVENT_END, 0);
  }
  end(nowNs) {
    const ok = this.target.endSync(nowNs);
    this.busy = false;
    if (!this.busyDirect) this.ran(nowNs, ok);
    if (this.runAfterBusy) {
      this.runAfterBusy = false;
      this.tryRun(nowNs);
    }
  }
  /** After fn returned: `lastRun = Now()`, `timer.Reset(maxInterval)`, RetryAfter on failure. */
  ran(nowNs, ok) {
    this.syncCount++;
    this.lastRunNs = nowNs;
    this.resetTimer(nowNs, this.syncPeriodNs);
    if (ok === false) this.retryAfter(nowNs, this.syncPeriodNs);
  }
  tryAccept(nowNs) {
    if (this.minSyncPeriodNs === 0) return true;
    if (nowNs > this.creditAtNs) {
      this.creditNs = Math.min(this.creditMaxNs, this.creditNs + (nowNs - this.creditAtNs));
      this.creditAtNs = nowNs;
    }
    if (this.creditNs < this.minSyncPeriodNs) return false;
    this.creditNs -= this.minSyncPeriodNs;
    return true;
  }
  tryRun(nowNs) {
    if (this.tryAccept(nowNs)) {
      const target = this.target;
      if (isTimed(target)) this.begin(nowNs, false);
      else this.ran(nowNs, target.sync(nowNs));
      return;
    }
    const elapsedNs = nowNs - this.lastRunNs;
    const nextPossibleNs = this.minSyncPeriodNs - elapsedNs;
    let nextScheduledNs = this.timerDeadlineNs - nowNs;
    if (nextPossibleNs < nextScheduledNs) nextScheduledNs = nextPossibleNs;
    this.resetTimer(nowNs, Math.max(0, nextScheduledNs));
  }
  resetTimer(nowNs, delayNs) {
    if (!this.started) return;
    if (this.timerHandle >= 0) this.scheduler.cancel(this.timerHandle);
    this.timerGeneration = this.timerGeneration + 1 | 0;
    this.timerDeadlineNs = nowNs + delayNs;
    this.timerHandle = this.scheduler.schedule(this.timerDeadlineNs, this.kind, EVENT_TIMER, this.timerGeneration);
  }
};

// src/proxy/sync-cost.ts
var DEFAULT_IPTABLES_SYNC_COST = {
  fixedNs: 11e6,
  perTableRuleNs: 13500,
  perInputLineNs: 7e3
};
var DEFAULT_NFTABLES_SYNC_COST = {
  fixedNs: 28e6,
  perCommandNs: 4e4,
  perTableObjectNs: 2400
};
var DEFAULT_IPVS_SYNC_COST = {
  fixedNs: 0,
  perNetlinkOperationNs: 1e5,
  perObjectNs: 9
};
function checkParameters(mode, parameters) {
  for (const [name, value] of Object.entries(parameters))
    if (!(Number.isSafeInteger(value) && value >= 0))
      throw new Error(`${mode} sync cost: ${name} must be a non-negative integer ns, got ${value}`);
}
function checkWork(work) {
  for (const [name, value] of Object.entries(work))
    if (!(Number.isSafeInteger(value) && value >= 0))
      throw new Error(`sync work: ${name} must be a non-negative integer, got ${value}`);
}
var IptablesSyncCostModel = class {
  constructor(parameters = DEFAULT_IPTABLES_SYNC_COST) {
    this.parameters = parameters;
    checkParameters(this.mode, { ...parameters });
  }
  parameters;
  mode = "iptables";
  durationNs(work) {
    checkWork(work);
    const p = this.parameters;
    return p.fixedNs + p.perTableRuleNs * work.objectsTotal + p.perInputLineNs * work.objectsChanged;
  }
};
var NftablesSyncCostModel = class {
  constructor(parameters = DEFAULT_NFTABLES_SYNC_COST) {
    this.parameters = parameters;
    checkParameters(this.mode, { ...parameters });
  }
  parameters;
  mode = "nftables";
  durationNs(work) {
    checkWork(work);
    const p = this.parameters;
    return p.fixedNs + p.perCommandNs * work.transactionCommands + p.perTableObjectNs * work.objectsTotal;
  }
};
var IpvsSyncCostModel = class {
  constructor(parameters = DEFAULT_IPVS_SYNC_COST) {
    this.parameters = parameters;
    checkParameters(this.mode, { ...parameters });
  }
  parameters;
  mode = "ipvs";
  durationNs(work) {
    checkWork(work);
    const p = this.parameters;
    return p.fixedNs + p.perNetlinkOperationNs * work.netlinkOperations + p.perObjectNs * work.objectsTotal;
  }
};
function iptablesSyncWork(restoreInput, current) {
  let total = 0;
  let lines = 0;
  let table = "";
  let tableTotal = 0;
  const flushed = /* @__PURE__ */ new Set();
  for (const line of restoreInput.split("\n")) {
    if (line.startsWith("*")) {
      table = line.slice(1).trim();
      tableTotal = current.tableRules(table);
      flushed.clear();
    } else if (line === "COMMIT") {
      total += tableTotal;
    } else if (line.startsWith(":")) {
      lines++;
      const chain = line.slice(1).split(" ")[0];
      if (!flushed.has(chain)) {
        flushed.add(chain);
        tableTotal -= current.chainRules(table, chain);
      }
    } else if (line.startsWith("-X ")) {
      lines++;
      const chain = line.slice(3).trim();
      if (!flushed.has(chain)) tableTotal -= current.chainRules(table, chain);
      flushed.add(chain);
    } else if (line.startsWith("-A ")) {
      lines++;
      tableTotal++;
    }
  }
  return { objectsTotal: total, objectsChanged: lines, transactionCommands: 0, netlinkOperations: 0 };
}
function nftablesSyncWork(transaction, tableObjects) {
  let commands = 0;
  for (const raw of transaction.split("\n")) {
    const line = raw.trim();
    if (line !== "" && !line.startsWith("#")) commands++;
  }
  return { objectsTotal: tableObjects, objectsChanged: commands, transactionCommands: commands, netlinkOperations: 0 };
}
function ipvsSyncWork(serversTotal, changes) {
  let operations = 0;
  for (const c of changes) operations += c.virtualServerOps + c.realServerOps + c.addressOps + c.ipsetEntryOps;
  return {
    objectsTotal: serversTotal,
    objectsChanged: changes.length,
    transactionCommands: 0,
    netlinkOperations: operations
  };
}

// src/cluster/kube-proxy.ts
var SYNC_BURST = 2;
var KubeProxyNode = class {
  constructor(scheduler, store, node, stack, spec, backend) {
    this.store = store;
    this.node = node;
    this.stack = stack;
    this.backend = backend;
    this.runner = new SyncRunner(
      scheduler,
      `kube-proxy/${node.name}`,
      spec.minSyncPeriodNs,
      spec.syncPeriodNs,
      SYNC_BURST,
      this
    );
    backend.watch?.(store);
  }
  store;
  node;
  stack;
  backend;
  runner;
  /** Syncs whose kernel write succeeded, in order of their end. */
  syncs = [];
  /** Syncs whose kernel write failed (nothing applied, retried within syncPeriod). */
  failedSyncs = [];
  /** Object writes no sync has started to program yet (times, ns). */
  pendingChangesNs = [];
  inFlight = null;
  /** Injected failures left: the next this many kernel writes of kube-proxy's state fail. */
  restoreFailuresLeft = 0;
  /** Told of each failed sync (the runtime records it as a step of the results). */
  onSyncFailed = null;
  /** Told after every sync (the runtime updates the node's health check servers from it). */
  syncListener = null;
  get mode() {
    return this.backend.mode;
  }
  /**
   * kube-proxy start-up: once its Service and EndpointSlice informers have synced, the proxier
   * calls syncProxyRules directly (OnServiceSynced/OnEndpointSlicesSynced, not through the runner,
   * so no token is spent), then the runner's Loop arms the periodic timer.
   */
  start(nowNs) {
    this.runner.runDirect(nowNs);
    this.runner.start(nowNs);
  }
  /** A Service or EndpointSlice changed: ask for a sync (applied after the runner's lag). */
  onChange(nowNs) {
    this.backend.onObjectsChanged?.(nowNs);
    this.pendingChangesNs.push(nowNs);
    this.runner.requestSync(nowNs);
  }
  /** When the running sync ends (its rules take effect), or null when none runs. */
  get runningSyncEndNs() {
    return this.inFlight === null ? null : this.inFlight.startNs + this.inFlight.sync.durationNs;
  }
  /** Times of syncs whose kernel write failed. */
  get failedSyncsNs() {
    return this.failedSyncs.map((f) => f.atNs);
  }
  /** Makes the next `count` kernel writes of kube-proxy's state fail (iptables-restore / nft -f exit non-zero). */
  failRestores(count) {
    this.restoreFailuresLeft += count;
  }
  /**
   * syncProxyRules starts: reads the objects and compiles now; returns how long the sync runs.
   * The kernel is untouched until endSync.
   */
  startSync(nowNs) {
    if (this.inFlight !== null) throw new Error(`kube-proxy on ${this.node.name}: a sync is already running`);
    const services = this.store.list("Service");
    const slices = this.store.list("EndpointSlice");
    const sync = this.backend.compile(nowNs, services, slices);
    const changesNs = this.pendingChangesNs;
    this.pendingChangesNs = [];
    this.inFlight = { startNs: nowNs, sync, changesNs };
    return sync.durationNs;
  }
  /** The sync ends: its state takes effect now, or nothing does (failure; false to the runner). */
  endSync(nowNs) {
    const flight = this.inFlight;
    if (flight === null) throw new Error(`kube-proxy on ${this.node.name}: no sync to end`);
    this.inFlight = null;
    const sync = flight.sync;
    if (this.restoreFailuresLeft > 0) {
      this.restoreFailuresLeft--;
      this.backend.failed();
      this.pendingChangesNs = flight.changesNs.concat(this.pendingChangesNs);
      this.failedSyncs.push({ atNs: flight.startNs, endNs: nowNs });
      this.onSyncFailed?.(nowNs);
      return false;
    }
    this.backend.apply(nowNs, sync);
    const deleted = cleanStaleConntrackEntries(conntrackView(this.stack.conntrack), sync.services);
    this.syncs.push({
      atNs: flight.startNs,
      endNs: nowNs,
      durationNs: sync.durationNs,
      fullSync: sync.fullSync,
      natRules: sync.natRules,
      filterRules: sync.filterRules,
      tableRules: sync.tableObjects,
      staleUdpEntriesDeleted: deleted.length,
      lagsNs: flight.changesNs.map((changeNs) => nowNs - changeNs)
    });
    if (this.backend.serviceHealthServers !== false) this.syncListener?.onKubeProxySynced(nowNs);
    return true;
  }
  /** The node's state as the mode's real tools print it (iptables mode: iptables-save). */
  rules(sorted) {
    return this.backend.rules(sorted);
  }
};
var IptablesBackend = class {
  constructor(node, stack, spec, costModel) {
    this.stack = stack;
    this.costModel = costModel ?? new IptablesSyncCostModel(spec.syncCost.iptables);
    const config = iptablesConfigFrom({
      ...spec,
      nodePortAddresses: effectiveNodePortAddresses("iptables", spec.nodePortAddresses),
      // NewProxier reads nf_conntrack_tcp_be_liberal, which kube-proxy set at start-up.
      conntrackTCPLiberal: spec.conntrack.tcpBeLiberal
    });
    this.proxier = new IptablesProxier(node, config, { syncPeriodNs: spec.syncPeriodNs });
  }
  stack;
  mode = "iptables";
  proxier;
  costModel;
  jumpsInstalled = false;
  compile(nowNs, services, slices) {
    const result = this.proxier.sync(nowNs, services, slices);
    const stack = this.stack;
    const work = iptablesSyncWork(result.restoreInput, {
      tableRules: (table) => {
        let rules = 0;
        for (const chain of stack.table(tableIdOf(table)).chains) rules += chain.rules.length;
        return rules;
      },
      chainRules: (table, chain) => stack.table(tableIdOf(table)).chain(chain)?.rules.length ?? 0
    });
    return {
      durationNs: this.costModel.durationNs(work),
      fullSync: result.fullSync,
      natRules: result.natRuleCount,
      filterRules: result.filterRuleCount,
      tableObjects: work.objectsTotal,
      services: result.services,
      payload: result
    };
  }
  apply(_nowNs, sync) {
    this.stack.restore(sync.payload.restoreInput, { noflush: true, counters: true });
    if (!this.jumpsInstalled) {
      const existing = (id) => new Set(this.stack.table(id).chains.map((c) => c.name));
      this.stack.restore(jumpRulesRestoreInput({ filter: existing(TableId.FILTER), nat: existing(TableId.NAT) }), {
        noflush: true
      });
      this.jumpsInstalled = true;
    }
  }
  failed() {
    this.proxier.restoreFailed();
  }
  /** iptables-save of the node; `sorted` keeps kube-proxy's chains only, in upstream test order. */
  rules(sorted) {
    const saved = this.stack.save();
    return sorted ? sortIptablesRules(kubeProxyChainsOnly(saved)) : saved;
  }
};
function tableIdOf(name) {
  const index = TABLE_NAMES.indexOf(name);
  if (index < 0) throw new Error(`unknown iptables table ${name}`);
  return index;
}
function kubeProxyChainsOnly(saved) {
  const out = [];
  let table = "";
  for (const line of saved.split("\n")) {
    if (line.startsWith("*")) table = line.slice(1);
    if (table !== "filter" && table !== "nat") continue;
    if (line.startsWith(":")) {
      if (!line.startsWith(":KUBE-")) continue;
    } else if (line.startsWith("-A ")) {
      if (!line.startsWith("-A KUBE-")) continue;
    } else if (line.startsWith("#") || line === "") continue;
    out.push(line);
  }
  return out.join("\n") + "\n";
}
function conntrackView(conntrack) {
  return {
    listEntries() {
      return conntrack.ids().map((id) => ({
        handle: id,
        protocol: conntrack.proto[id],
        origDstAddr: conntrack.dst[id * 2],
        origDstPort: conntrack.dport[id * 2],
        replySrcAddr: conntrack.src[id * 2 + 1]
      }));
    },
    deleteEntry(handle) {
      conntrack.remove(handle);
    }
  };
}

// src/proxy/nftables/names.ts
import { createHash as createHash3 } from "node:crypto";
var KUBE_PROXY_TABLE = "kube-proxy";
var TABLE_COMMENT = "rules for kube-proxy";
var FILTER_PREROUTING_PRE_DNAT = "filter-prerouting-pre-dnat";
var FILTER_OUTPUT_PRE_DNAT = "filter-output-pre-dnat";
var FILTER_INPUT = "filter-input";
var FILTER_FORWARD = "filter-forward";
var FILTER_OUTPUT = "filter-output";
var NAT_PREROUTING = "nat-prerouting";
var NAT_OUTPUT = "nat-output";
var NAT_POSTROUTING = "nat-postrouting";
var SERVICES_CHAIN = "services";
var SERVICE_ENDPOINTS_CHECK_CHAIN = "service-endpoints-check";
var NODEPORT_ENDPOINTS_CHECK_CHAIN = "nodeport-endpoints-check";
var REJECT_CHAIN = "reject-chain";
var CLUSTER_IPS_CHECK_CHAIN = "cluster-ips-check";
var FIREWALL_CHECK_CHAIN = "firewall-check";
var MARK_MASQ_CHAIN = "mark-for-masquerade";
var MASQUERADING_CHAIN = "masquerading";
var CLUSTER_IPS_SET = "cluster-ips";
var NODEPORT_IPS_SET = "nodeport-ips";
var SERVICE_IPS_MAP = "service-ips";
var SERVICE_NODEPORTS_MAP = "service-nodeports";
var FIREWALL_IPS_MAP = "firewall-ips";
var NO_ENDPOINT_SERVICES_MAP = "no-endpoint-services";
var NO_ENDPOINT_NODEPORTS_MAP = "no-endpoint-nodeports";
var PREFIX_CLUSTER_POLICY = "service-";
var PREFIX_LOCAL_POLICY = "local-";
var PREFIX_EXTERNAL = "external-";
var PREFIX_ENDPOINT = "endpoint-";
var PREFIX_AFFINITY = "affinity-";
var PREFIX_FIREWALL = "firewall-";
var NAME_LENGTH_MAX = 256;
var CHAIN_NAME_PREFIX_LENGTH_MAX = 16;
var CHAIN_NAME_BASE_LENGTH_MAX = NAME_LENGTH_MAX - CHAIN_NAME_PREFIX_LENGTH_MAX;
var HASH_MEMO_MAX2 = 1 << 18;
var baseMemo = /* @__PURE__ */ new Map();
var nftNameHashStats = { computed: 0 };
function hashAndTruncate(name) {
  const memo = baseMemo.get(name);
  if (memo !== void 0) return memo;
  const digest = createHash3("sha256").update(name, "utf8").digest();
  let out = `${base32Std(digest).slice(0, 8)}-${name}`;
  if (out.length > CHAIN_NAME_BASE_LENGTH_MAX) out = out.slice(0, CHAIN_NAME_BASE_LENGTH_MAX - 3) + "...";
  nftNameHashStats.computed++;
  if (baseMemo.size >= HASH_MEMO_MAX2) baseMemo.clear();
  baseMemo.set(name, out);
  return out;
}
function servicePortChainNameBase(namespace, serviceName, protocol, portName) {
  return hashAndTruncate(`${namespace}/${serviceName}/${protocol}/${portName}`);
}
function servicePortEndpointChainNameBase(namespace, serviceName, protocol, portName, endpoint) {
  const colon = endpoint.lastIndexOf(":");
  let ip = endpoint.slice(0, colon);
  const port = endpoint.slice(colon + 1);
  if (ip.startsWith("[") && ip.endsWith("]")) ip = ip.slice(1, -1);
  ip = ip.replaceAll(":", ".");
  return hashAndTruncate(`${namespace}/${serviceName}/${protocol}/${portName}__${ip}/${port}`);
}
function isServiceChainName2(chain) {
  return chain.includes("/");
}
function isAffinitySetName(set) {
  return set.startsWith(PREFIX_AFFINITY);
}

// src/proxy/nftables/compile.ts
var DEFAULT_NFTABLES_CONFIG = {
  clusterCIDR: null,
  masqueradeAll: false,
  masqueradeMark: masqueradeMarkGo(14),
  nodePortAddresses: ["primary"],
  serviceCIDRs: [],
  preferSameTrafficDistribution: false
};
var EMPTY_NFTABLES_STATE = {
  chains: /* @__PURE__ */ new Set(),
  affinitySets: /* @__PURE__ */ new Set(),
  elements: /* @__PURE__ */ new Map()
};
function concat(...args) {
  let out = "";
  let needSpace = false;
  let wroteAt = false;
  for (const arg of args) {
    if (typeof arg === "string" || typeof arg === "number") {
      if (needSpace) out += " ";
      out += String(arg);
      wroteAt = arg === "@";
    } else {
      for (const s of arg) {
        if (needSpace) out += " ";
        out += s;
        wroteAt = s === "@";
        needSpace = out.length > 0 && !wroteAt;
      }
    }
    needSpace = out.length > 0 && !wroteAt;
  }
  return out;
}
var NFTABLES_BASE_CHAINS = [
  { name: FILTER_PREROUTING_PRE_DNAT, type: "filter", hook: "prerouting", priority: -110 },
  { name: FILTER_OUTPUT_PRE_DNAT, type: "filter", hook: "output", priority: -110 },
  { name: FILTER_INPUT, type: "filter", hook: "input", priority: 0 },
  { name: FILTER_FORWARD, type: "filter", hook: "forward", priority: 0 },
  { name: FILTER_OUTPUT, type: "filter", hook: "output", priority: 0 },
  { name: NAT_PREROUTING, type: "nat", hook: "prerouting", priority: -100 },
  { name: NAT_OUTPUT, type: "nat", hook: "output", priority: -100 },
  { name: NAT_POSTROUTING, type: "nat", hook: "postrouting", priority: 100 }
];
var NFTABLES_JUMP_CHAINS = [
  { dst: NODEPORT_ENDPOINTS_CHECK_CHAIN, src: FILTER_INPUT, extraArgs: "ct state new" },
  { dst: SERVICE_ENDPOINTS_CHECK_CHAIN, src: FILTER_INPUT, extraArgs: "ct state new" },
  { dst: SERVICE_ENDPOINTS_CHECK_CHAIN, src: FILTER_FORWARD, extraArgs: "ct state new" },
  { dst: SERVICE_ENDPOINTS_CHECK_CHAIN, src: FILTER_OUTPUT, extraArgs: "ct state new" },
  { dst: FIREWALL_CHECK_CHAIN, src: FILTER_PREROUTING_PRE_DNAT, extraArgs: "ct state new" },
  { dst: FIREWALL_CHECK_CHAIN, src: FILTER_OUTPUT_PRE_DNAT, extraArgs: "ct state new" },
  { dst: SERVICES_CHAIN, src: NAT_OUTPUT, extraArgs: "" },
  { dst: SERVICES_CHAIN, src: NAT_PREROUTING, extraArgs: "" },
  { dst: MASQUERADING_CHAIN, src: NAT_POSTROUTING, extraArgs: "" },
  { dst: CLUSTER_IPS_CHECK_CHAIN, src: FILTER_FORWARD, extraArgs: "ct state new" },
  { dst: CLUSTER_IPS_CHECK_CHAIN, src: FILTER_OUTPUT, extraArgs: "ct state new" }
];
var IPV4_ADDR = "ipv4_addr";
var IPX = "ip";
var NO_LOCALHOST = "ip daddr != 127.0.0.0/8";
var ELEMENT_CONTAINERS = [
  { name: CLUSTER_IPS_SET, isMap: false },
  { name: SERVICE_IPS_MAP, isMap: true },
  { name: FIREWALL_IPS_MAP, isMap: true },
  { name: NO_ENDPOINT_SERVICES_MAP, isMap: true },
  { name: NO_ENDPOINT_NODEPORTS_MAP, isMap: true },
  { name: SERVICE_NODEPORTS_MAP, isMap: true }
];
function nodePortIPs(addresses, node) {
  const cidrs = [];
  let matchAll = addresses.length === 0;
  for (const raw of addresses) {
    const text = raw.trim();
    if (text === "primary") {
      if (node.ips[0] !== void 0) cidrs.push(`${node.ips[0]}/32`);
      continue;
    }
    const prefix2 = parseCidr(text, false);
    if (prefix2 === void 0) continue;
    if (prefix2.prefixLength === 0) matchAll = true;
    cidrs.push(text);
  }
  if (matchAll || cidrs.length === 0) return { matchAll: true, ips: [] };
  const found = /* @__PURE__ */ new Set();
  for (const c of cidrs) {
    const prefix2 = parseCidr(c, false);
    if (prefix2 === void 0) continue;
    for (const ip of node.ips) {
      const address = parseIpv4(ip);
      if (address !== void 0 && cidrContains(prefix2, address)) found.add(address);
    }
  }
  const ips = [...found].filter((a) => a >>> 24 !== 127).sort((a, b) => a - b).map(formatIpv4);
  return { matchAll: false, ips };
}
function compileNftables(views, node, config, options) {
  const ops = [];
  const fullSync = options.fullSync;
  const changed = options.changedServices ?? /* @__PURE__ */ new Set();
  const existing = options.existing ?? EMPTY_NFTABLES_STATE;
  const detector = config.clusterCIDR === null || config.clusterCIDR.trim() === "" ? null : config.clusterCIDR.trim();
  const nodeIP = node.ips[0] ?? "";
  const addChain = (chain) => void ops.push({ verb: "add", kind: "chain", chain });
  const flushChain = (name) => void ops.push({ verb: "flush", kind: "chain", chain: { name } });
  const addRule = (chain, rule2, comment) => void ops.push({
    verb: "add",
    kind: "rule",
    rule: comment === void 0 ? { chain, rule: rule2 } : { chain, rule: rule2, comment }
  });
  const addSet = (kind, set) => void ops.push({ verb: "add", kind, set });
  const ensureChain = (name, created, skipCreation) => {
    if (created.has(name)) return;
    created.add(name);
    if (skipCreation) return;
    addChain({ name });
    flushChain(name);
  };
  const storages = /* @__PURE__ */ new Map();
  for (const c of ELEMENT_CONTAINERS) {
    const elements = new Map(existing.elements.get(c.name) ?? []);
    storages.set(c.name, { isMap: c.isMap, elements, leftover: new Set(elements.keys()) });
  }
  const ensureElem = (container, key, value, comment) => {
    const storage = storages.get(container);
    const keyText = key.join(" . ");
    const valueText = value.join(" . ");
    const current = storage.elements.get(keyText);
    if (current === valueText) {
      storage.leftover.delete(keyText);
      return;
    }
    const element = {
      container,
      isMap: storage.isMap,
      key,
      value,
      ...comment !== void 0 ? { comment } : {}
    };
    if (current !== void 0) {
      ops.push({ verb: "delete", kind: "element", element });
      storage.leftover.delete(keyText);
    }
    ops.push({ verb: "add", kind: "element", element });
    storage.elements.set(keyText, valueText);
  };
  if (fullSync) setupNftables(ops, node, config, options.recreateBaseChains ?? false, ensureChain, addRule, addSet);
  const activeChains = /* @__PURE__ */ new Set();
  const activeAffinitySets = /* @__PURE__ */ new Set();
  const out = [];
  let totalEndpoints = 0;
  for (const view of views) totalEndpoints += view.endpoints.length;
  for (const svc of views) {
    const protocol = svc.protocol;
    const port = String(svc.port);
    const nameBase = servicePortChainNameBase(svc.namespace, svc.serviceName, protocol, svc.portName);
    const clusterPolicyChain = PREFIX_CLUSTER_POLICY + nameBase;
    const localPolicyChain = PREFIX_LOCAL_POLICY + nameBase;
    const externalTrafficChain = PREFIX_EXTERNAL + nameBase;
    const fwChain = PREFIX_FIREWALL + nameBase;
    const { clusterEndpoints, localEndpoints, allReachableEndpoints, hasInternalEndpoints, hasExternalEndpoints } = svc;
    const hasEndpoints = svc.hasAnyEndpoints;
    const affinity = svc.stickyMaxAgeSeconds > 0;
    const skipServiceUpdate = !fullSync && !changed.has(svc.namespacedName);
    const endpointBases = /* @__PURE__ */ new Map();
    const endpointChains = /* @__PURE__ */ new Map();
    const skipEndpoint = /* @__PURE__ */ new Set();
    for (const ep of allReachableEndpoints) {
      const epBase = servicePortEndpointChainNameBase(
        svc.namespace,
        svc.serviceName,
        protocol,
        svc.portName,
        ep.endpoint
      );
      const chain = PREFIX_ENDPOINT + epBase;
      endpointBases.set(ep.endpoint, epBase);
      endpointChains.set(ep.endpoint, chain);
      const hasAffinitySet = existing.affinitySets.has(PREFIX_AFFINITY + epBase);
      const unchanged = fullSync && existing.chains.has(chain) && hasAffinitySet === affinity;
      if (unchanged) skipEndpoint.add(ep.endpoint);
      ensureChain(chain, activeChains, skipServiceUpdate || unchanged);
      if (affinity) activeAffinitySets.add(PREFIX_AFFINITY + epBase);
    }
    const usesClusterPolicyChain = clusterEndpoints.length > 0 && svc.usesClusterEndpoints;
    if (usesClusterPolicyChain) ensureChain(clusterPolicyChain, activeChains, skipServiceUpdate);
    const usesLocalPolicyChain = localEndpoints.length > 0 && svc.usesLocalEndpoints;
    if (usesLocalPolicyChain) ensureChain(localPolicyChain, activeChains, skipServiceUpdate);
    const internalTrafficChain = svc.internalPolicyLocal ? localPolicyChain : clusterPolicyChain;
    const externalPolicyChain = svc.externalPolicyLocal ? localPolicyChain : clusterPolicyChain;
    const usesExternalTrafficChain = hasEndpoints && svc.externallyAccessible;
    if (usesExternalTrafficChain) ensureChain(externalTrafficChain, activeChains, skipServiceUpdate);
    const internalVerdict = !hasEndpoints ? `goto ${REJECT_CHAIN}` : "drop";
    const externalVerdict = internalVerdict;
    ensureElem(CLUSTER_IPS_SET, [svc.clusterIP], []);
    if (hasInternalEndpoints) {
      ensureElem(SERVICE_IPS_MAP, [svc.clusterIP, protocol, port], [`goto ${internalTrafficChain}`]);
    } else {
      ensureElem(NO_ENDPOINT_SERVICES_MAP, [svc.clusterIP, protocol, port], [internalVerdict], svc.name);
    }
    for (const externalIP of svc.externalIPs) {
      if (hasEndpoints) ensureElem(SERVICE_IPS_MAP, [externalIP, protocol, port], [`goto ${externalTrafficChain}`]);
      if (!hasExternalEndpoints)
        ensureElem(NO_ENDPOINT_SERVICES_MAP, [externalIP, protocol, port], [externalVerdict], svc.name);
    }
    const usesFWChain = svc.loadBalancerVIPs.length > 0 && svc.loadBalancerSourceRanges.length > 0;
    if (usesFWChain) ensureChain(fwChain, activeChains, skipServiceUpdate);
    for (const lbip of svc.loadBalancerVIPs) {
      if (hasEndpoints) ensureElem(SERVICE_IPS_MAP, [lbip, protocol, port], [`goto ${externalTrafficChain}`]);
      if (usesFWChain) ensureElem(FIREWALL_IPS_MAP, [lbip, protocol, port], [`goto ${fwChain}`]);
    }
    if (!hasExternalEndpoints) {
      for (const lbip of svc.loadBalancerVIPs)
        ensureElem(NO_ENDPOINT_SERVICES_MAP, [lbip, protocol, port], [externalVerdict], svc.name);
    }
    if (svc.nodePort !== 0) {
      const nodePort = String(svc.nodePort);
      if (hasEndpoints) ensureElem(SERVICE_NODEPORTS_MAP, [protocol, nodePort], [`goto ${externalTrafficChain}`]);
      if (!hasExternalEndpoints)
        ensureElem(NO_ENDPOINT_NODEPORTS_MAP, [protocol, nodePort], [externalVerdict], svc.name);
    }
    out.push({
      ...svc,
      clusterPolicyChain,
      localPolicyChain,
      externalChain: externalTrafficChain,
      firewallChain: fwChain,
      usesClusterPolicyChain,
      usesLocalPolicyChain,
      usesExternalTrafficChain,
      usesFWChain,
      endpointChains,
      chainsWritten: !skipServiceUpdate
    });
    if (skipServiceUpdate) continue;
    if (hasInternalEndpoints) {
      if (config.masqueradeAll) {
        addRule(internalTrafficChain, concat(IPX, "daddr", svc.clusterIP, "jump", MARK_MASQ_CHAIN));
      } else if (detector !== null) {
        addRule(
          internalTrafficChain,
          concat(IPX, "daddr", svc.clusterIP, IPX, "saddr", "!=", detector, "jump", MARK_MASQ_CHAIN)
        );
      }
    }
    if (usesExternalTrafficChain) {
      if (!svc.externalPolicyLocal) {
        addRule(externalTrafficChain, concat("jump", MARK_MASQ_CHAIN));
      } else {
        if (detector !== null)
          addRule(
            externalTrafficChain,
            concat(IPX, "saddr", detector, "goto", clusterPolicyChain),
            "short-circuit pod traffic"
          );
        addRule(
          externalTrafficChain,
          concat("fib", "saddr", "type", "local", "jump", MARK_MASQ_CHAIN),
          "masquerade local traffic"
        );
        addRule(
          externalTrafficChain,
          concat("fib", "saddr", "type", "local", "goto", clusterPolicyChain),
          "short-circuit local traffic"
        );
      }
      if (hasExternalEndpoints) addRule(externalTrafficChain, concat("goto", externalPolicyChain));
    }
    if (usesFWChain) {
      const sources2 = [];
      let allowFromNode = false;
      for (const range of svc.loadBalancerSourceRanges) {
        if (sources2.length > 0) sources2.push(",");
        sources2.push(range);
        if (nodeIP !== "" && cidrContainsIp(range, nodeIP)) allowFromNode = true;
      }
      if (allowFromNode) for (const lbip of svc.loadBalancerVIPs) sources2.push(",", lbip);
      addRule(fwChain, concat(IPX, "saddr", "!=", "{", sources2, "}", "drop"));
    }
    if (affinity) {
      for (const ep of allReachableEndpoints) {
        addSet("set", {
          name: PREFIX_AFFINITY + endpointBases.get(ep.endpoint),
          type: IPV4_ADDR,
          flags: ["dynamic", "timeout"],
          timeoutSeconds: svc.stickyMaxAgeSeconds
        });
      }
    }
    if (usesClusterPolicyChain)
      writeServiceToEndpointRules2(addRule, affinity, clusterPolicyChain, clusterEndpoints, endpointBases);
    if (usesLocalPolicyChain)
      writeServiceToEndpointRules2(addRule, affinity, localPolicyChain, localEndpoints, endpointBases);
    for (const ep of allReachableEndpoints) {
      if (skipEndpoint.has(ep.endpoint)) continue;
      const chain = endpointChains.get(ep.endpoint);
      addRule(chain, concat(IPX, "saddr", ep.ip, "jump", MARK_MASQ_CHAIN));
      if (affinity)
        addRule(chain, concat("update", "@", PREFIX_AFFINITY + endpointBases.get(ep.endpoint), "{", IPX, "saddr", "}"));
      addRule(chain, concat("meta l4proto", protocol, "dnat to", ep.endpoint));
    }
  }
  const staleChains = [];
  for (const chain of [...existing.chains].sort(compareStrings)) {
    if (isServiceChainName2(chain) && !activeChains.has(chain)) {
      flushChain(chain);
      staleChains.push(chain);
    }
  }
  for (const set of [...existing.affinitySets].sort(compareStrings)) {
    if (isAffinitySetName(set) && !activeAffinitySets.has(set))
      ops.push({ verb: "delete", kind: "set", set: { name: set, type: IPV4_ADDR } });
  }
  for (const c of ELEMENT_CONTAINERS) {
    const storage = storages.get(c.name);
    for (const key of [...storage.leftover].sort(compareStrings)) {
      ops.push({
        verb: "delete",
        kind: "element",
        element: { container: c.name, isMap: c.isMap, key: key.split(" . "), value: [] }
      });
    }
  }
  return {
    ops,
    fullSync,
    activeChains: [...activeChains].sort(compareStrings),
    staleChains,
    services: out,
    totalEndpoints
  };
}
function writeServiceToEndpointRules2(addRule, affinity, svcChain, endpoints, endpointBases) {
  if (affinity) {
    for (const ep of endpoints) {
      const epBase = endpointBases.get(ep.endpoint);
      addRule(svcChain, concat(IPX, "saddr", "@", PREFIX_AFFINITY + epBase, "goto", PREFIX_ENDPOINT + epBase));
    }
  }
  const elements = [];
  endpoints.forEach((ep, i) => {
    elements.push(String(i), ":", "goto", PREFIX_ENDPOINT + endpointBases.get(ep.endpoint));
    if (i !== endpoints.length - 1) elements.push(",");
  });
  addRule(svcChain, concat("numgen random mod", endpoints.length, "vmap", "{", elements, "}"));
}
function setupNftables(ops, node, config, recreateBaseChains, ensureChain, addRule, addSet) {
  ops.push({ verb: "add", kind: "table", comment: TABLE_COMMENT });
  if (recreateBaseChains) {
    for (const bc of NFTABLES_BASE_CHAINS) {
      ops.push({ verb: "add", kind: "chain", chain: { name: bc.name } });
      ops.push({ verb: "delete", kind: "chain", chain: { name: bc.name } });
    }
  }
  for (const bc of NFTABLES_BASE_CHAINS) {
    const chain = { name: bc.name, type: bc.type, hook: bc.hook, priority: bc.priority };
    ops.push({ verb: "add", kind: "chain", chain });
    ops.push({ verb: "flush", kind: "chain", chain: { name: bc.name } });
  }
  const created = /* @__PURE__ */ new Set();
  for (const jump of NFTABLES_JUMP_CHAINS) {
    ensureChain(jump.dst, created, false);
    addRule(jump.src, concat(jump.extraArgs, "jump", jump.dst));
  }
  for (const chain of [SERVICES_CHAIN, CLUSTER_IPS_CHECK_CHAIN, MASQUERADING_CHAIN, MARK_MASQ_CHAIN])
    ensureChain(chain, created, false);
  const mark = config.masqueradeMark;
  addRule(MARK_MASQ_CHAIN, concat("mark", "set", "mark", "or", mark));
  addRule(MASQUERADING_CHAIN, concat("mark", "and", mark, "==", "0", "return"));
  addRule(MASQUERADING_CHAIN, concat("mark", "set", "mark", "xor", mark));
  addRule(MASQUERADING_CHAIN, "masquerade fully-random");
  addSet("set", { name: CLUSTER_IPS_SET, type: IPV4_ADDR, comment: "Active ClusterIPs" });
  addRule(
    CLUSTER_IPS_CHECK_CHAIN,
    concat(IPX, "daddr", "@", CLUSTER_IPS_SET, "reject"),
    "Reject traffic to invalid ports of ClusterIPs"
  );
  if (config.serviceCIDRs.length > 0) {
    addRule(
      CLUSTER_IPS_CHECK_CHAIN,
      concat(IPX, "daddr", "{", config.serviceCIDRs.join(","), "}", "drop"),
      "Drop traffic to unallocated ClusterIPs"
    );
  }
  const nodePorts = nodePortIPs(config.nodePortAddresses, node);
  addSet("set", { name: NODEPORT_IPS_SET, type: IPV4_ADDR, comment: "IPs that accept NodePort traffic" });
  if (nodePorts.matchAll) {
    ops.push({ verb: "delete", kind: "set", set: { name: NODEPORT_IPS_SET, type: IPV4_ADDR } });
  } else {
    ops.push({ verb: "flush", kind: "set", set: { name: NODEPORT_IPS_SET, type: IPV4_ADDR } });
    for (const ip of nodePorts.ips)
      ops.push({
        verb: "add",
        kind: "element",
        element: { container: NODEPORT_IPS_SET, isMap: false, key: [ip], value: [] }
      });
  }
  addSet("map", {
    name: NO_ENDPOINT_SERVICES_MAP,
    type: `${IPV4_ADDR} . inet_proto . inet_service : verdict`,
    comment: "vmap to drop or reject packets to services with no endpoints"
  });
  addSet("map", {
    name: NO_ENDPOINT_NODEPORTS_MAP,
    type: "inet_proto . inet_service : verdict",
    comment: "vmap to drop or reject packets to service nodeports with no endpoints"
  });
  ops.push({
    verb: "add",
    kind: "chain",
    chain: { name: REJECT_CHAIN, comment: "helper for @no-endpoint-services / @no-endpoint-nodeports" }
  });
  ops.push({ verb: "flush", kind: "chain", chain: { name: REJECT_CHAIN } });
  addRule(REJECT_CHAIN, "reject");
  addRule(
    SERVICE_ENDPOINTS_CHECK_CHAIN,
    concat(IPX, "daddr", ".", "meta l4proto", ".", "th dport", "vmap", "@", NO_ENDPOINT_SERVICES_MAP)
  );
  if (nodePorts.matchAll) {
    addRule(
      NODEPORT_ENDPOINTS_CHECK_CHAIN,
      concat(NO_LOCALHOST, "meta l4proto . th dport", "vmap", "@", NO_ENDPOINT_NODEPORTS_MAP)
    );
  } else {
    addRule(
      NODEPORT_ENDPOINTS_CHECK_CHAIN,
      concat(IPX, "daddr", "@", NODEPORT_IPS_SET, "meta l4proto . th dport", "vmap", "@", NO_ENDPOINT_NODEPORTS_MAP)
    );
  }
  addSet("map", {
    name: FIREWALL_IPS_MAP,
    type: `${IPV4_ADDR} . inet_proto . inet_service : verdict`,
    comment: "destinations that are subject to LoadBalancerSourceRanges"
  });
  ensureChain(FIREWALL_CHECK_CHAIN, created, false);
  addRule(
    FIREWALL_CHECK_CHAIN,
    concat(IPX, "daddr", ".", "meta l4proto", ".", "th dport", "vmap", "@", FIREWALL_IPS_MAP)
  );
  addSet("map", {
    name: SERVICE_IPS_MAP,
    type: `${IPV4_ADDR} . inet_proto . inet_service : verdict`,
    comment: "ClusterIP, ExternalIP and LoadBalancer IP traffic"
  });
  addSet("map", {
    name: SERVICE_NODEPORTS_MAP,
    type: "inet_proto . inet_service : verdict",
    comment: "NodePort traffic"
  });
  addRule(SERVICES_CHAIN, concat(IPX, "daddr", ".", "meta l4proto", ".", "th dport", "vmap", "@", SERVICE_IPS_MAP));
  if (nodePorts.matchAll) {
    addRule(
      SERVICES_CHAIN,
      concat("fib daddr type local", NO_LOCALHOST, "meta l4proto . th dport", "vmap", "@", SERVICE_NODEPORTS_MAP)
    );
  } else {
    addRule(
      SERVICES_CHAIN,
      concat(IPX, "daddr @nodeport-ips", "meta l4proto . th dport", "vmap", "@", SERVICE_NODEPORTS_MAP)
    );
  }
}

// src/proxy/nftables/table.ts
function goQuote(text) {
  return `"${text.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}
function formatOperation(op, family, table) {
  switch (op.kind) {
    case "table": {
      let out = `${op.verb} table ${family} ${table}`;
      if (op.verb === "add" && op.comment !== void 0) out += ` { comment ${goQuote(op.comment)} ; }`;
      return out;
    }
    case "chain": {
      const c = op.chain;
      let out = `${op.verb} chain ${family} ${table} ${c.name}`;
      if (op.verb === "add" && (c.type !== void 0 || c.comment !== void 0)) {
        out += " {";
        if (c.type !== void 0) out += ` type ${c.type} hook ${c.hook} priority ${c.priority} ;`;
        if (c.comment !== void 0) out += ` comment ${goQuote(c.comment)} ;`;
        out += " }";
      }
      return out;
    }
    case "set":
    case "map": {
      const s = op.set;
      let out = `${op.verb} ${op.kind} ${family} ${table} ${s.name}`;
      if (op.verb === "add") {
        out += ` { type ${s.type} ;`;
        if (s.flags !== void 0 && s.flags.length > 0) out += ` flags ${s.flags.join(",")} ;`;
        if (s.timeoutSeconds !== void 0) out += ` timeout ${s.timeoutSeconds}s ;`;
        if (s.comment !== void 0) out += ` comment ${goQuote(s.comment)} ;`;
        out += " }";
      }
      return out;
    }
    case "rule": {
      const r = op.rule;
      let out = `add rule ${family} ${table} ${r.chain} ${r.rule}`;
      if (r.comment !== void 0) out += ` comment ${goQuote(r.comment)}`;
      return out;
    }
    case "element": {
      const e = op.element;
      let out = `${op.verb} element ${family} ${table} ${e.container} { ${e.key.join(" . ")}`;
      if (op.verb === "add") {
        if (e.comment !== void 0) out += ` comment ${goQuote(e.comment)}`;
        if (e.value.length > 0) out += ` : ${e.value.join(" . ")}`;
      }
      return out + " }";
    }
  }
}
function formatTransaction(ops, family, table) {
  let out = "";
  for (const op of ops) out += formatOperation(op, family, table) + "\n";
  return out;
}
var NftTableError = class extends Error {
};
var NftTable = class _NftTable {
  constructor(family, name) {
    this.family = family;
    this.name = name;
  }
  family;
  name;
  exists = false;
  comment = void 0;
  chains = /* @__PURE__ */ new Map();
  sets = /* @__PURE__ */ new Map();
  clone() {
    const copy = new _NftTable(this.family, this.name);
    copy.exists = this.exists;
    copy.comment = this.comment;
    for (const [name, chain] of this.chains) copy.chains.set(name, { spec: chain.spec, rules: [...chain.rules] });
    for (const [name, set] of this.sets)
      copy.sets.set(name, { spec: set.spec, isMap: set.isMap, elements: new Map(set.elements) });
    return copy;
  }
  /** Replaces this table's contents with `other`'s (a snapshot taken with clone()). */
  restoreFrom(other) {
    const copy = other.clone();
    this.exists = copy.exists;
    this.comment = copy.comment;
    this.chains = copy.chains;
    this.sets = copy.sets;
  }
  /** Chains, rules and set/map elements the table holds (what nft's cache fetch reads). */
  objectCount() {
    let n = 0;
    for (const chain of this.chains.values()) n += 1 + chain.rules.length;
    for (const set of this.sets.values()) n += set.elements.size;
    return n;
  }
  chainNames() {
    return [...this.chains.keys()];
  }
  hasChain(name) {
    return this.chains.has(name);
  }
  /** Set names (not maps). */
  setNames() {
    const out = [];
    for (const [name, set] of this.sets) if (!set.isMap) out.push(name);
    return out;
  }
  /** Sets and maps in creation order (the kernel's handle order, which `nft list` follows). */
  setsInOrder() {
    return [...this.sets.values()].map((s) => ({ spec: s.spec, isMap: s.isMap }));
  }
  rules(chain) {
    return this.chains.get(chain)?.rules ?? [];
  }
  chainSpec(chain) {
    return this.chains.get(chain)?.spec;
  }
  /** Elements of a set or map (knftables ListElements), or undefined when it does not exist. */
  elements(container) {
    const set = this.sets.get(container);
    return set === void 0 ? void 0 : [...set.elements.values()];
  }
  /** Applies a transaction atomically; throws NftTableError (and changes nothing) on failure. */
  apply(ops) {
    const next = this.clone();
    for (const op of ops) next.applyOne(op);
    this.exists = next.exists;
    this.comment = next.comment;
    this.chains = next.chains;
    this.sets = next.sets;
  }
  requireTable() {
    if (!this.exists) throw new NftTableError(`no such table "${this.family}" "${this.name}"`);
  }
  applyOne(op) {
    switch (op.kind) {
      case "table":
        if (op.verb === "add") {
          if (!this.exists) {
            this.exists = true;
            this.comment = op.comment;
          }
        } else {
          this.exists = false;
          this.comment = void 0;
          this.chains.clear();
          this.sets.clear();
        }
        return;
      case "chain": {
        this.requireTable();
        const existing = this.chains.get(op.chain.name);
        if (op.verb === "add") {
          if (existing === void 0) this.chains.set(op.chain.name, { spec: op.chain, rules: [] });
        } else if (existing === void 0) {
          throw new NftTableError(`no such chain "${op.chain.name}"`);
        } else if (op.verb === "flush") {
          existing.rules = [];
        } else {
          this.chains.delete(op.chain.name);
        }
        return;
      }
      case "set":
      case "map": {
        this.requireTable();
        const existing = this.sets.get(op.set.name);
        if (op.verb === "add") {
          if (existing === void 0)
            this.sets.set(op.set.name, { spec: op.set, isMap: op.kind === "map", elements: /* @__PURE__ */ new Map() });
        } else if (existing === void 0) {
          throw new NftTableError(`no such ${op.kind} "${op.set.name}"`);
        } else if (op.verb === "flush") {
          existing.elements.clear();
        } else {
          this.sets.delete(op.set.name);
        }
        return;
      }
      case "rule": {
        this.requireTable();
        const chain = this.chains.get(op.rule.chain);
        if (chain === void 0) throw new NftTableError(`no such chain "${op.rule.chain}"`);
        this.checkRuleRefs(op.rule);
        chain.rules.push(op.rule);
        return;
      }
      case "element": {
        this.requireTable();
        const e = op.element;
        const set = this.sets.get(e.container);
        if (set === void 0) throw new NftTableError(`no such ${e.isMap ? "map" : "set"} "${e.container}"`);
        const key = e.key.join(" . ");
        if (op.verb === "add") {
          if (e.value.length === 1) {
            const words = e.value[0].split(" ");
            if (words.length === 2 && (words[0] === "goto" || words[0] === "jump") && !this.chains.has(words[1]))
              throw new NftTableError(`no such chain "${words[1]}"`);
          }
          set.elements.set(key, e);
        } else if (!set.elements.delete(key)) {
          throw new NftTableError(`no such element "${key}"`);
        }
        return;
      }
    }
  }
  /** knftables fake.go `checkRuleRefs`: chains, sets and maps a rule names must exist. */
  checkRuleRefs(rule2) {
    const words = rule2.rule.split(" ");
    for (let i = 0; i < words.length; i++) {
      const word = words[i];
      if (word.startsWith("@") && !word.includes(",")) {
        const name = word.slice(1);
        const target = this.sets.get(name);
        const wantMap = i > 0 && (words[i - 1] === "map" || words[i - 1] === "vmap");
        if (target === void 0 || wantMap && !target.isMap)
          throw new NftTableError(`no such ${wantMap ? "map" : "set"} "${name}"`);
      } else if ((word === "goto" || word === "jump") && i < words.length - 1) {
        if (!this.chains.has(words[i + 1])) throw new NftTableError(`no such chain "${words[i + 1]}"`);
      }
    }
  }
  /**
   * knftables `Fake.Dump()`: the table, then chains, sets and maps sorted by name, then every
   * chain's rules (chains sorted), then set elements, then map elements; one `add` line each.
   */
  dump() {
    if (!this.exists) return "";
    const lines = [];
    const f = this.family;
    const t = this.name;
    lines.push(formatOperation({ verb: "add", kind: "table", comment: this.comment }, f, t));
    const chainNames = [...this.chains.keys()].sort(compareStrings);
    const setNames = [];
    const mapNames = [];
    for (const [name, set] of this.sets) (set.isMap ? mapNames : setNames).push(name);
    setNames.sort(compareStrings);
    mapNames.sort(compareStrings);
    for (const name of chainNames)
      lines.push(formatOperation({ verb: "add", kind: "chain", chain: this.chains.get(name).spec }, f, t));
    for (const name of setNames)
      lines.push(formatOperation({ verb: "add", kind: "set", set: this.sets.get(name).spec }, f, t));
    for (const name of mapNames)
      lines.push(formatOperation({ verb: "add", kind: "map", set: this.sets.get(name).spec }, f, t));
    for (const name of chainNames)
      for (const rule2 of this.chains.get(name).rules)
        lines.push(formatOperation({ verb: "add", kind: "rule", rule: rule2 }, f, t));
    for (const name of [...setNames, ...mapNames])
      for (const element of this.sets.get(name).elements.values())
        lines.push(formatOperation({ verb: "add", kind: "element", element }, f, t));
    return lines.join("\n") + "\n";
  }
  /**
   * knftables `Fake.ParseDump`: loads `add …` lines (a dump, or a transaction of adds) into the
   * table. Blank lines and `#` comments are skipped. Used to start from a pre-existing table.
   */
  parseDump(text) {
    const ops = [];
    const lines = text.split("\n");
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i].trim();
      if (line === "" || line.startsWith("#")) continue;
      ops.push(parseAddLine(line, this.family, this.name, i + 1));
    }
    this.apply(ops);
  }
};
var QUOTED = String.raw`"((?:[^"\\]|\\.)*)"`;
var CHAIN_RE = new RegExp(
  String.raw`^(\S+)(?: \{(?: type (\S+) hook (\S+) priority (-?\d+) ;)?(?: comment ${QUOTED} ;)? \})?$`
);
var SET_RE = new RegExp(
  String.raw`^(\S+) \{ type ([^;]*) ;(?: flags ([^;]*) ;)?(?: timeout (\d+)s ;)?(?: comment ${QUOTED} ;)? \}$`
);
var RULE_RE = new RegExp(String.raw`^(\S+) ([^"]*?)(?: comment ${QUOTED})?$`);
var ELEMENT_RE = new RegExp(String.raw`^(\S+) \{ ([^":]*?)(?: comment ${QUOTED})?(?: : (.*))? \}$`);
var TABLE_RE = new RegExp(String.raw`^(?:\{ comment ${QUOTED} ; \})?$`);
function unquote(text) {
  return text === void 0 ? void 0 : text.replace(/\\(.)/g, "$1");
}
function parseAddLine(line, family, table, lineNumber) {
  const fail2 = () => {
    throw new NftTableError(`line ${lineNumber}: cannot parse: ${line}`);
  };
  const parts = /^add (\S+) (\S+) (\S+)(?: (.*))?$/.exec(line) ?? fail2();
  const [, kind, lineFamily, rest0] = parts;
  if (lineFamily !== family) fail2();
  if (kind === "table") {
    if (rest0 !== table) fail2();
    const m = TABLE_RE.exec(parts[4] ?? "") ?? fail2();
    return { verb: "add", kind: "table", ...m[1] !== void 0 ? { comment: unquote(m[1]) } : {} };
  }
  if (rest0 !== table) fail2();
  const rest = parts[4] ?? fail2();
  switch (kind) {
    case "chain": {
      const m = CHAIN_RE.exec(rest) ?? fail2();
      const spec = {
        name: m[1],
        ...m[2] !== void 0 ? { type: m[2], hook: m[3], priority: Number(m[4]) } : {},
        ...m[5] !== void 0 ? { comment: unquote(m[5]) } : {}
      };
      return { verb: "add", kind: "chain", chain: spec };
    }
    case "set":
    case "map": {
      const m = SET_RE.exec(rest) ?? fail2();
      const spec = {
        name: m[1],
        type: m[2],
        ...m[3] !== void 0 ? { flags: m[3].split(",") } : {},
        ...m[4] !== void 0 ? { timeoutSeconds: Number(m[4]) } : {},
        ...m[5] !== void 0 ? { comment: unquote(m[5]) } : {}
      };
      return { verb: "add", kind, set: spec };
    }
    case "rule": {
      const m = RULE_RE.exec(rest) ?? fail2();
      return {
        verb: "add",
        kind: "rule",
        rule: { chain: m[1], rule: m[2], ...m[3] !== void 0 ? { comment: unquote(m[3]) } : {} }
      };
    }
    case "element": {
      const m = ELEMENT_RE.exec(rest) ?? fail2();
      return {
        verb: "add",
        kind: "element",
        element: {
          container: m[1],
          isMap: m[4] !== void 0,
          key: m[2].split(" . "),
          value: m[4] === void 0 ? [] : m[4].split(" . "),
          ...m[3] !== void 0 ? { comment: unquote(m[3]) } : {}
        }
      };
    }
  }
  return fail2();
}

// src/proxy/nftables/proxier.ts
var STALE_CHAIN_DELETE_AFTER_NS = 1e9;
var MANAGED_CONTAINERS = [
  CLUSTER_IPS_SET,
  SERVICE_IPS_MAP,
  FIREWALL_IPS_MAP,
  NO_ENDPOINT_SERVICES_MAP,
  NO_ENDPOINT_NODEPORTS_MAP,
  SERVICE_NODEPORTS_MAP
];
var NftablesProxier = class {
  constructor(node, config, options = {}, table) {
    this.node = node;
    this.config = config;
    this.table = table ?? new NftTable("ip", KUBE_PROXY_TABLE);
    this.fullSyncPeriodNs = options.fullSyncPeriodNs ?? DEFAULT_FULL_SYNC_PERIOD_NS;
  }
  node;
  config;
  table;
  /** Stale chain -> time (ns) it was last found stale. */
  staleChains = /* @__PURE__ */ new Map();
  previous = /* @__PURE__ */ new Map();
  needFullSync = true;
  recreatedBaseChains = false;
  lastFullSyncNs = Number.NEGATIVE_INFINITY;
  lastZone = null;
  fullSyncPeriodNs;
  get nodeName() {
    return this.node.name;
  }
  setNode(node) {
    if (nodeZone(node) !== nodeZone(this.node)) this.needFullSync = true;
    this.node = node;
  }
  forceFullSync() {
    this.needFullSync = true;
  }
  /** The state just before the last sync's main transaction (for `mainTransactionFailed`). */
  beforeMain = null;
  /**
   * The last sync's main transaction, which `sync` applied to `table`, failed in the kernel
   * (`nft -f` exited non-zero; e.g. an injected failure): nothing of it is applied, and upstream's
   * failure path runs (syncProxyRules: `proxier.staleChains` cleared, `needFullSync = true`).
   * The cleanup transaction that ran before it stays applied (it was a transaction of its own).
   */
  mainTransactionFailed() {
    const before = this.beforeMain;
    if (before === null) throw new Error("nftables proxier: no sync to fail");
    this.beforeMain = null;
    this.table.restoreFrom(before.table);
    this.previous = before.previous;
    this.lastFullSyncNs = before.lastFullSyncNs;
    this.recreatedBaseChains = before.recreatedBaseChains;
    this.staleChains.clear();
    this.needFullSync = true;
  }
  /** What knftables' ListAll / ListElements would return now. */
  existingState() {
    const chains = new Set(this.table.exists ? this.table.chainNames() : []);
    const affinitySets = /* @__PURE__ */ new Set();
    const elements = /* @__PURE__ */ new Map();
    if (this.table.exists) {
      for (const set of this.table.setNames()) if (isAffinitySetName(set)) affinitySets.add(set);
      for (const container of MANAGED_CONTAINERS) {
        const list = this.table.elements(container);
        if (list === void 0) continue;
        const map = /* @__PURE__ */ new Map();
        for (const e of list) map.set(e.key.join(" . "), e.value.join(" . "));
        elements.set(container, map);
      }
    }
    return { chains, affinitySets, elements };
  }
  /** One `syncProxyRules` at `nowNs`: runs the cleanup and main transactions against `table`. */
  sync(nowNs, services, slices) {
    const zone = nodeZone(this.node);
    if (this.lastZone !== null && this.lastZone !== zone) this.needFullSync = true;
    this.lastZone = zone;
    let fullSync = this.needFullSync || nowNs - this.lastFullSyncNs > this.fullSyncPeriodNs;
    const servicePorts = buildServicePorts(services, slices, this.node);
    const current = fingerprintByService2(servicePorts);
    const changed = /* @__PURE__ */ new Set();
    for (const [name, print] of current) if (this.previous.get(name) !== print) changed.add(name);
    for (const name of this.previous.keys()) if (!current.has(name)) changed.add(name);
    const cleanupOps = [];
    for (const [chain, sinceNs] of [...this.staleChains].sort((a, b) => compareStrings(a[0], b[0]))) {
      if (sinceNs < nowNs - STALE_CHAIN_DELETE_AFTER_NS) {
        cleanupOps.push({ verb: "delete", kind: "chain", chain: { name: chain } });
        this.staleChains.delete(chain);
      }
    }
    if (cleanupOps.length > 0) {
      try {
        this.table.apply(cleanupOps);
      } catch (error) {
        if (!(error instanceof NftTableError)) throw error;
        fullSync = true;
      }
    }
    const views = servicePorts.map(
      (svc) => servicePortView(svc, this.node.name, zone, {
        preferSameTrafficDistribution: this.config.preferSameTrafficDistribution
      })
    );
    const existing = this.existingState();
    const compile = compileNftables(views, this.node, this.config, {
      fullSync,
      changedServices: changed,
      recreateBaseChains: fullSync && !this.recreatedBaseChains,
      existing
    });
    const transaction = formatTransaction(compile.ops, this.table.family, this.table.name);
    this.beforeMain = {
      table: this.table.clone(),
      previous: this.previous,
      lastFullSyncNs: this.lastFullSyncNs,
      recreatedBaseChains: this.recreatedBaseChains
    };
    try {
      this.table.apply(compile.ops);
    } catch (error) {
      if (!(error instanceof NftTableError)) throw error;
      this.staleChains.clear();
      this.needFullSync = true;
      return {
        cleanupOps,
        compile,
        transaction,
        numOperations: compile.ops.length,
        servicePorts,
        error: error.message
      };
    }
    if (fullSync) {
      this.recreatedBaseChains = true;
      this.lastFullSyncNs = nowNs;
    }
    const stale = new Set(compile.staleChains);
    for (const chain of existing.chains) {
      if (stale.has(chain)) this.staleChains.set(chain, nowNs);
      else this.staleChains.delete(chain);
    }
    this.previous = current;
    this.needFullSync = false;
    return { cleanupOps, compile, transaction, numOperations: compile.ops.length, servicePorts, error: null };
  }
};
function fingerprintByService2(servicePorts) {
  const out = /* @__PURE__ */ new Map();
  for (const svc of servicePorts) out.set(svc.namespacedName, (out.get(svc.namespacedName) ?? "") + JSON.stringify(svc));
  return out;
}

// src/proxy/nftables/sort.ts
var OBJECT_ORDER = {
  table: 10,
  chain: 9,
  rule: 8,
  set: 7,
  map: 6,
  element: 5
};
function lessLines(li, wi, lj, wj) {
  if (wi.length < 5 || wj.length < 5) return false;
  if (wi[1] !== wj[1]) return (OBJECT_ORDER[wi[1]] ?? 0) >= (OBJECT_ORDER[wj[1]] ?? 0);
  if (wi[4] !== wj[4]) return wi[4] < wj[4];
  if (wi[1] === "rule") return false;
  return li < lj;
}
function goStableSort(data, less) {
  const lessAt = (i, j) => less(data[i], data[j]);
  const swap = (i, j) => {
    const t = data[i];
    data[i] = data[j];
    data[j] = t;
  };
  const insertionSort = (a2, b2) => {
    for (let i = a2 + 1; i < b2; i++) for (let j = i; j > a2 && lessAt(j, j - 1); j--) swap(j, j - 1);
  };
  const swapRange = (a2, b2, n2) => {
    for (let i = 0; i < n2; i++) swap(a2 + i, b2 + i);
  };
  const rotate = (a2, m, b2) => {
    let i = m - a2;
    let j = b2 - m;
    while (i !== j) {
      if (i > j) {
        swapRange(m - i, m, j);
        i -= j;
      } else {
        swapRange(m - i, m + j - i, i);
        j -= i;
      }
    }
    swapRange(m - i, m, i);
  };
  const symMerge = (a2, m, b2) => {
    if (m - a2 === 1) {
      let i = m;
      let j = b2;
      while (i < j) {
        const h = i + j >>> 1;
        if (lessAt(h, a2)) i = h + 1;
        else j = h;
      }
      for (let k = a2; k < i - 1; k++) swap(k, k + 1);
      return;
    }
    if (b2 - m === 1) {
      let i = a2;
      let j = m;
      while (i < j) {
        const h = i + j >>> 1;
        if (!lessAt(m, h)) i = h + 1;
        else j = h;
      }
      for (let k = m; k > i; k--) swap(k, k - 1);
      return;
    }
    const mid = a2 + b2 >>> 1;
    const n2 = mid + m;
    let start;
    let r;
    if (m > mid) {
      start = n2 - b2;
      r = mid;
    } else {
      start = a2;
      r = m;
    }
    const p = n2 - 1;
    while (start < r) {
      const c = start + r >>> 1;
      if (!lessAt(p - c, c)) start = c + 1;
      else r = c;
    }
    const end = n2 - start;
    if (start < m && m < end) rotate(start, m, end);
    if (a2 < start && start < mid) symMerge(a2, start, mid);
    if (mid < end && end < b2) symMerge(mid, end, b2);
  };
  const n = data.length;
  let blockSize = 20;
  let a = 0;
  let b = blockSize;
  while (b <= n) {
    insertionSort(a, b);
    a = b;
    b += blockSize;
  }
  insertionSort(a, n);
  while (blockSize < n) {
    a = 0;
    b = 2 * blockSize;
    while (b <= n) {
      symMerge(a, a + blockSize, b);
      a = b;
      b += 2 * blockSize;
    }
    const m = a + blockSize;
    if (m < n) symMerge(a, m, n);
    blockSize *= 2;
  }
}
function sortNftablesTransaction(tx) {
  const rows = [];
  for (const line of tx.split("\n")) {
    if (line === "" || line[0] === "#") continue;
    rows.push({ line, words: line.split(" ") });
  }
  goStableSort(rows, (x, y) => lessLines(x.line, x.words, y.line, y.words));
  return rows.map((r) => r.line).join("\n");
}

// src/netfilter/nftables/parse.ts
var NftParseError = class extends Error {
  constructor(file, line, column, detail) {
    super(`${file}:${line}:${column}: ${detail}`);
    this.file = file;
    this.line = line;
    this.column = column;
    this.detail = detail;
  }
  file;
  line;
  column;
  detail;
  name = "NftParseError";
};
var NEWLINE = { text: "\n", quoted: false, line: 0, column: 0, start: 0, end: 0 };
var SEPARATORS = /* @__PURE__ */ new Set(["{", "}", ";", ","]);
function tokenize2(text, file) {
  const out = [];
  let line = 1;
  let lineStart = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    if (c === "\n") {
      out.push({ ...NEWLINE, line, column: i - lineStart + 1, start: i, end: i + 1 });
      i++;
      line++;
      lineStart = i;
      continue;
    }
    if (c === " " || c === "	" || c === "\r") {
      i++;
      continue;
    }
    if (c === "#") {
      while (i < n && text[i] !== "\n") i++;
      continue;
    }
    const column = i - lineStart + 1;
    if (c === '"') {
      let value = "";
      i++;
      for (; ; ) {
        if (i >= n || text[i] === "\n") throw new NftParseError(file, line, column, "unterminated string");
        const d = text[i];
        if (d === '"') break;
        if (d === "\\" && i + 1 < n) {
          const e = text[i + 1];
          value += e === "n" ? "\n" : e === "t" ? "	" : e;
          i += 2;
          continue;
        }
        value += d;
        i++;
      }
      i++;
      out.push({ text: value, quoted: true, line, column, start: column - 1 + lineStart, end: i });
      continue;
    }
    if (SEPARATORS.has(c)) {
      out.push({ text: c, quoted: false, line, column, start: i, end: i + 1 });
      i++;
      continue;
    }
    const start = i;
    while (i < n) {
      const d = text[i];
      if (d === " " || d === "	" || d === "\r" || d === "\n" || d === '"' || SEPARATORS.has(d)) break;
      i++;
    }
    out.push({ text: text.slice(start, i), quoted: false, line, column, start, end: i });
  }
  return out;
}
var Field = {
  IP_SADDR: 0,
  IP_DADDR: 1,
  META_L4PROTO: 2,
  TH_SPORT: 3,
  TH_DPORT: 4,
  META_MARK: 5,
  CT_STATE: 6,
  FIB_SADDR_TYPE: 7,
  FIB_DADDR_TYPE: 8,
  /** `tcp dport` / `udp dport` / `sctp dport`: th dport with an implicit `meta l4proto` check. */
  L4_SPORT: 9,
  L4_DPORT: 10
};
var DataType = { IPV4_ADDR: 0, INET_PROTO: 1, INET_SERVICE: 2, MARK: 3, CT_STATE: 4, FIB_ADDRTYPE: 5 };
var DATA_TYPE_NAMES = ["ipv4_addr", "inet_proto", "inet_service", "mark", "ct_state", "fib_addrtype"];
var DATA_TYPE_BITS = [32, 8, 16, 32, 32, 32];
var VerdictKind = { ACCEPT: 0, DROP: 1, CONTINUE: 2, RETURN: 3, JUMP: 4, GOTO: 5 };
var VERDICT_NAMES = ["accept", "drop", "continue", "return", "jump", "goto"];
var STANDARD_PRIORITIES = [
  ["raw", -300],
  ["mangle", -150],
  ["dstnat", -100],
  ["filter", 0],
  ["security", 50],
  ["srcnat", 100]
];
var PROTOCOL_NUMBERS = { icmp: 1, tcp: 6, udp: 17, sctp: 132 };
var CT_STATE_BITS = {
  // nf_conntrack's NF_CT_STATE_BIT(ctinfo) = 1 << (ctinfo + 1); invalid = 1, untracked = 1 << 6
  // (nft's ct.c ct_state_tbl). Values as `nft --debug=netlink` shows for `ct state new`: 0x8.
  invalid: 1,
  established: 2,
  related: 4,
  new: 8,
  untracked: 64
};
var FIB_TYPES = {
  // RTN_* (include/uapi/linux/rtnetlink.h): `fib saddr type local` is cmp eq 0x2.
  unspec: 0,
  unicast: 1,
  local: 2,
  broadcast: 3,
  anycast: 4,
  multicast: 5,
  blackhole: 6,
  unreachable: 7,
  prohibit: 8
};
var FIB_TYPE_NAMES = Object.keys(FIB_TYPES);
var CT_STATE_NAMES2 = Object.entries(CT_STATE_BITS);
var Cursor = class {
  constructor(tokens, file, end, source) {
    this.tokens = tokens;
    this.file = file;
    this.end = end;
    this.source = source;
  }
  tokens;
  file;
  end;
  source;
  pos = 0;
  atEnd() {
    return this.pos >= this.end;
  }
  peek(offset = 0) {
    return this.pos + offset < this.end ? this.tokens[this.pos + offset] : void 0;
  }
  is(text, offset = 0) {
    const t = this.peek(offset);
    return t !== void 0 && !t.quoted && t.text === text;
  }
  last() {
    return this.tokens[Math.min(this.pos, this.end) - 1] ?? this.tokens[0];
  }
  next(what) {
    const t = this.peek();
    if (t === void 0) {
      const l = this.last();
      throw new NftParseError(this.file, l.line, l.column + l.text.length, `expected ${what}, got end of command`);
    }
    this.pos++;
    return t;
  }
  expect(text) {
    const t = this.next(`"${text}"`);
    if (t.quoted || t.text !== text) this.fail(t, `expected "${text}", got "${t.text}"`);
    return t;
  }
  accept(text) {
    if (this.is(text)) {
      this.pos++;
      return true;
    }
    return false;
  }
  fail(t, detail) {
    throw new NftParseError(this.file, t.line, t.column, detail);
  }
};
function parseTransaction(text, file = "<nft>") {
  const tokens = tokenize2(text, file);
  const commands = [];
  let family = "";
  let table = "";
  let i = 0;
  while (i < tokens.length) {
    let depth = 0;
    let j = i;
    for (; j < tokens.length; j++) {
      const t = tokens[j];
      if (t.quoted) continue;
      if (t.text === "{") depth++;
      else if (t.text === "}") depth--;
      else if (depth === 0 && (t.text === "\n" || t.text === ";")) break;
    }
    const body = tokens.slice(i, j).filter((t) => t.quoted || t.text !== "\n");
    i = j + 1;
    if (body.length === 0) continue;
    const c = new Cursor(body, file, body.length, text);
    const command = parseCommand(c);
    if (!c.atEnd()) c.fail(c.peek(), `unexpected "${c.peek().text}"`);
    const named = commandTable(command);
    if (family === "") {
      family = named.family;
      table = named.table;
    } else if (named.family !== family || named.table !== table) {
      c.fail(command.token, `command for table ${named.family} ${named.table} in a transaction for ${family} ${table}`);
    }
    commands.push(command);
  }
  return { file, family, table, commands };
}
var tableOf = /* @__PURE__ */ new WeakMap();
function commandTable(c) {
  return tableOf.get(c);
}
function parseCommand(c) {
  const verb = c.next("command");
  const op = verb.text;
  if (op !== "add" && op !== "create" && op !== "flush" && op !== "delete" && op !== "insert")
    c.fail(verb, `unknown command "${op}" (expected add, create, insert, flush or delete)`);
  const objectToken = c.next("object type");
  const object = objectToken.text;
  const familyToken = c.next("family");
  if (familyToken.text !== "ip") c.fail(familyToken, `unsupported family "${familyToken.text}" (only ip)`);
  const tableName = c.next("table name").text;
  let command;
  if (op === "insert" && object !== "rule") c.fail(verb, `insert applies to rules only`);
  switch (object) {
    case "table": {
      let comment = "";
      if (c.accept("{")) {
        while (!c.accept("}")) {
          if (c.accept(";")) continue;
          const key = c.next("table attribute");
          if (key.text === "comment") comment = parseString(c);
          else c.fail(key, `unknown table attribute "${key.text}"`);
        }
      }
      command = { op, object: "table", comment, token: verb };
      break;
    }
    case "chain":
      command = parseChain(c, op, verb);
      break;
    case "set":
    case "map":
      command = parseSet(c, op, object, verb);
      break;
    case "element": {
      if (op === "flush" || op === "insert") c.fail(verb, `${op} element is not a command`);
      const name = c.next("set name").text;
      c.expect("{");
      const elements = parseElements(c, true);
      command = { op, object: "element", name, elements, token: verb };
      break;
    }
    case "rule": {
      if (op !== "add" && op !== "insert") c.fail(verb, `${op} rule is not supported (kube-proxy flushes chains)`);
      const chain = c.next("chain name").text;
      const rule2 = parseRule2(c, verb);
      command = { op, object: "rule", chain, rule: rule2, token: verb };
      break;
    }
    default:
      c.fail(objectToken, `unknown object "${object}" (expected table, chain, set, map, element or rule)`);
  }
  tableOf.set(command, { family: familyToken.text, table: tableName });
  return command;
}
function parseString(c) {
  const t = c.next("string");
  if (!t.quoted) c.fail(t, `expected a quoted string, got "${t.text}"`);
  return t.text;
}
function parseInteger(c, what) {
  const t = c.next(what);
  const v = integerValue(t.text);
  if (v === void 0) c.fail(t, `expected ${what}, got "${t.text}"`);
  return v;
}
function integerValue(text) {
  if (/^-?\d+$/.test(text)) return Number(text);
  if (/^0x[0-9a-fA-F]{1,8}$/.test(text)) return Number(text) >>> 0;
  return void 0;
}
function parseTime(c) {
  const t = c.next("time");
  const m = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(t.text);
  if (m === null || t.text === "") c.fail(t, `expected a time like 10800s, got "${t.text}"`);
  return Number(m[1] ?? 0) * 86400 + Number(m[2] ?? 0) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0);
}
function parseChain(c, op, verb) {
  const name = c.next("chain name").text;
  let spec = null;
  let comment = "";
  if (c.accept("{")) {
    let type = null;
    let hook = "";
    let priority = 0;
    let policy = "accept";
    while (!c.accept("}")) {
      if (c.accept(";")) continue;
      const key = c.next("chain attribute");
      if (key.text === "type") {
        const typeToken = c.next("chain type");
        type = typeToken.text;
        if (type !== "filter" && type !== "nat" && type !== "route") c.fail(typeToken, `unknown chain type "${type}"`);
        c.expect("hook");
        const hookToken = c.next("hook");
        hook = hookToken.text;
        if (!["prerouting", "input", "forward", "output", "postrouting"].includes(hook))
          c.fail(hookToken, `unknown hook "${hook}"`);
        c.expect("priority");
        priority = parsePriority(c);
      } else if (key.text === "policy") {
        const p = c.next("policy");
        if (p.text !== "accept" && p.text !== "drop") c.fail(p, `policy must be accept or drop, got "${p.text}"`);
        policy = p.text;
      } else if (key.text === "comment") comment = parseString(c);
      else c.fail(key, `unknown chain attribute "${key.text}"`);
    }
    if (type !== null) spec = { type, hook, priority, policy };
  }
  return { op, object: "chain", name, spec, comment, token: verb };
}
function parsePriority(c) {
  const t = c.next("priority");
  const n = integerValue(t.text);
  if (n !== void 0) return n;
  const std = STANDARD_PRIORITIES.find(([name]) => name === t.text);
  if (std === void 0) c.fail(t, `unknown priority "${t.text}"`);
  let value = std[1];
  if (c.is("+") || c.is("-")) {
    const sign = c.next("sign").text === "+" ? 1 : -1;
    value += sign * parseInteger(c, "priority offset");
  } else {
    const m = /^([a-z]+)([+-]\d+)$/.exec(t.text);
    if (m !== null) value = STANDARD_PRIORITIES.find(([name]) => name === m[1])[1] + Number(m[2]);
  }
  return value;
}
var DATA_TYPES = {
  ipv4_addr: DataType.IPV4_ADDR,
  inet_proto: DataType.INET_PROTO,
  inet_service: DataType.INET_SERVICE,
  mark: DataType.MARK
};
function parseSet(c, op, object, verb) {
  const name = c.next(`${object} name`).text;
  const keyTypes = [];
  const flags = [];
  let timeoutS = -1;
  let size = -1;
  let comment = "";
  let elements = [];
  let declared = false;
  if (c.accept("{")) {
    declared = true;
    while (!c.accept("}")) {
      if (c.accept(";")) continue;
      const key = c.next(`${object} attribute`);
      switch (key.text) {
        case "type":
          for (; ; ) {
            const t = c.next("data type");
            const dt = DATA_TYPES[t.text];
            if (dt === void 0) c.fail(t, `unsupported data type "${t.text}"`);
            keyTypes.push(dt);
            if (!c.accept(".")) break;
          }
          if (object === "map") {
            c.expect(":");
            const v = c.next("map value type");
            if (v.text !== "verdict") c.fail(v, `only verdict maps are supported, got "${v.text}"`);
          }
          break;
        case "flags":
          for (; ; ) {
            const f = c.next("flag");
            if (!["constant", "interval", "timeout", "dynamic"].includes(f.text))
              c.fail(f, `unknown set flag "${f.text}"`);
            flags.push(f.text);
            if (!c.accept(",")) break;
          }
          break;
        case "timeout":
          timeoutS = parseTime(c);
          break;
        case "size":
          size = parseInteger(c, "size");
          break;
        case "comment":
          comment = parseString(c);
          break;
        case "elements":
          c.expect("=");
          c.expect("{");
          elements = parseElements(c, object === "map");
          break;
        default:
          c.fail(key, `unknown ${object} attribute "${key.text}"`);
      }
    }
    if ((op === "add" || op === "create") && keyTypes.length === 0) c.fail(verb, `${object} ${name} needs a type`);
  }
  return { op, object, name, keyTypes, flags, timeoutS, size, comment, elements, declared, token: verb };
}
function parseElements(c, allowVerdict) {
  const out = [];
  while (!c.accept("}")) {
    if (out.length > 0) c.expect(",");
    if (c.accept("}")) break;
    const token = c.peek() ?? c.last();
    const key = [];
    let prefixLength = 32;
    for (; ; ) {
      const t = c.next("element key");
      const v = parseKeyValue(t.text);
      if (v === void 0) c.fail(t, `cannot parse element key "${t.text}"`);
      key.push(v.value);
      prefixLength = v.prefixLength;
      if (!c.accept(".")) break;
    }
    let comment = "";
    let timeoutS = -1;
    for (; ; ) {
      if (c.accept("comment")) comment = parseString(c);
      else if (c.accept("timeout")) timeoutS = parseTime(c);
      else break;
    }
    let verdict2 = null;
    if (c.accept(":")) {
      if (!allowVerdict) c.fail(c.last(), `element value in a set`);
      verdict2 = parseVerdict(c);
    }
    out.push({ key, prefixLength, comment, verdict: verdict2, timeoutS, token });
  }
  return out;
}
function parseKeyValue(text) {
  const slash = text.indexOf("/");
  const addr = parseIpv4(slash < 0 ? text : text.slice(0, slash));
  if (addr !== void 0) {
    if (slash < 0) return { value: addr, prefixLength: 32 };
    const p = text.slice(slash + 1);
    if (!/^\d{1,2}$/.test(p) || Number(p) > 32) return void 0;
    return { value: addr, prefixLength: Number(p) };
  }
  const proto = PROTOCOL_NUMBERS[text];
  if (proto !== void 0) return { value: proto, prefixLength: 32 };
  const n = integerValue(text);
  if (n !== void 0 && n >= 0) return { value: n, prefixLength: 32 };
  return void 0;
}
function parseVerdict(c) {
  const t = c.next("verdict");
  const kind = VERDICT_NAMES.indexOf(t.text);
  if (kind < 0) c.fail(t, `expected a verdict, got "${t.text}"`);
  if (kind === VerdictKind.JUMP || kind === VerdictKind.GOTO)
    return { kind, chain: c.next("chain name").text };
  return { kind, chain: "" };
}
function parseRule2(c, verb) {
  const statements = [];
  const words = [];
  let comment = "";
  while (!c.atEnd()) {
    if (c.accept("comment")) {
      comment = parseString(c);
      continue;
    }
    const from = c.pos;
    statements.push(parseStatement(c));
    words.push(c.source.slice(c.tokens[from].start, c.tokens[c.pos - 1].end));
  }
  if (statements.length === 0) c.fail(verb, "empty rule");
  return { statements, text: words.join(" "), comment, token: verb };
}
function parseStatement(c) {
  const t = c.peek();
  switch (t.text) {
    case "accept":
    case "drop":
    case "continue":
    case "return":
    case "jump":
    case "goto":
      return { kind: "verdict", verdict: parseVerdict(c) };
    case "reject":
      c.pos++;
      return { kind: "reject" };
    case "counter":
      c.pos++;
      return { kind: "counter" };
    case "masquerade": {
      c.pos++;
      let fullyRandom = false;
      let random = false;
      let persistent = false;
      for (; ; ) {
        if (c.accept("fully-random")) fullyRandom = true;
        else if (c.accept("random")) random = true;
        else if (c.accept("persistent")) persistent = true;
        else if (c.accept(",")) continue;
        else break;
      }
      return { kind: "masquerade", fullyRandom, random, persistent };
    }
    case "dnat": {
      c.pos++;
      c.accept("ip");
      c.expect("to");
      const target = c.next("address[:port]");
      const m = /^(\d+\.\d+\.\d+\.\d+)(?::(\d+))?$/.exec(target.text);
      const address = m === null ? void 0 : parseIpv4(m[1]);
      if (m === null || address === void 0) c.fail(target, `expected address[:port], got "${target.text}"`);
      const port = m[2] === void 0 ? 0 : Number(m[2]);
      if (port > 65535) c.fail(target, `port out of range: ${port}`);
      return { kind: "dnat", address, port };
    }
    case "update":
    case "add": {
      c.pos++;
      const setToken = c.next("@set");
      if (!setToken.text.startsWith("@")) c.fail(setToken, `expected @set, got "${setToken.text}"`);
      c.expect("{");
      const selectors = parseSelectors(c);
      let timeoutS = -1;
      if (c.accept("timeout")) timeoutS = parseTime(c);
      c.expect("}");
      return { kind: "update", set: setToken.text.slice(1), selectors, timeoutS };
    }
    case "mark":
    case "meta":
      if (c.is("set", t.text === "meta" ? 2 : 1)) return parseMarkSet(c);
      break;
    case "numgen":
      return parseNumgen(c);
  }
  return parseMatch(c);
}
function parseMarkSet(c) {
  if (c.accept("meta")) {
    const k = c.next("meta key");
    if (k.text !== "mark") c.fail(k, `only meta mark can be set, got "${k.text}"`);
  } else c.expect("mark");
  c.expect("set");
  if (c.is("mark") || c.is("meta") && c.is("mark", 1)) {
    if (c.accept("meta")) c.pos++;
    else c.pos++;
    const opToken = c.next("operator");
    const op = { or: "or", "|": "or", xor: "xor", "^": "xor", and: "and", "&": "and" }[opToken.text];
    if (op === void 0) c.fail(opToken, `expected or, xor or and, got "${opToken.text}"`);
    return { kind: "mark", op, value: parseInteger(c, "mark value") >>> 0 };
  }
  return { kind: "mark", op: "set", value: parseInteger(c, "mark value") >>> 0 };
}
function parseNumgen(c) {
  c.expect("numgen");
  const mode = c.next("numgen mode");
  if (mode.text !== "random") c.fail(mode, `only numgen random is supported, got "${mode.text}"`);
  c.expect("mod");
  const modTok = c.peek();
  const modulus = parseInteger(c, "modulus");
  if (modulus < 1 || modulus > 4294967295) c.fail(modTok, `numgen modulus must be in 1..2^32-1`);
  let offset = 0;
  if (c.accept("offset")) offset = parseInteger(c, "offset");
  c.expect("vmap");
  return { kind: "vmap", selectors: [], numgenModulus: modulus, numgenOffset: offset, ...parseMapTarget(c) };
}
function parseMapTarget(c) {
  if (c.accept("{")) return { map: "", elements: parseElements(c, true) };
  const t = c.next("@map or { elements }");
  if (!t.text.startsWith("@")) c.fail(t, `expected @map or {, got "${t.text}"`);
  return { map: t.text.slice(1), elements: [] };
}
var L4 = /* @__PURE__ */ new Set(["tcp", "udp", "sctp"]);
function parseSelector(c) {
  const t = c.next("expression");
  const field = (name) => c.next(`${name} field`).text;
  switch (t.text) {
    case "ip": {
      const f = field("ip");
      if (f === "saddr") return { field: Field.IP_SADDR, protocol: 0 };
      if (f === "daddr") return { field: Field.IP_DADDR, protocol: 0 };
      return c.fail(c.last(), `unsupported ip field "${f}"`);
    }
    case "meta": {
      const f = field("meta");
      if (f === "l4proto") return { field: Field.META_L4PROTO, protocol: 0 };
      if (f === "mark") return { field: Field.META_MARK, protocol: 0 };
      return c.fail(c.last(), `unsupported meta key "${f}"`);
    }
    case "mark":
      return { field: Field.META_MARK, protocol: 0 };
    case "th": {
      const f = field("th");
      if (f === "sport") return { field: Field.TH_SPORT, protocol: 0 };
      if (f === "dport") return { field: Field.TH_DPORT, protocol: 0 };
      return c.fail(c.last(), `unsupported th field "${f}"`);
    }
    case "ct": {
      const f = field("ct");
      if (f === "state") return { field: Field.CT_STATE, protocol: 0 };
      return c.fail(c.last(), `unsupported ct key "${f}"`);
    }
    case "fib": {
      const f = field("fib");
      c.expect("type");
      if (f === "saddr") return { field: Field.FIB_SADDR_TYPE, protocol: 0 };
      if (f === "daddr") return { field: Field.FIB_DADDR_TYPE, protocol: 0 };
      return c.fail(c.last(), `unsupported fib flag "${f}"`);
    }
    default:
      if (L4.has(t.text)) {
        const f = field(t.text);
        const protocol = PROTOCOL_NUMBERS[t.text];
        if (f === "sport") return { field: Field.L4_SPORT, protocol };
        if (f === "dport") return { field: Field.L4_DPORT, protocol };
        return c.fail(c.last(), `unsupported ${t.text} field "${f}"`);
      }
      return c.fail(t, `unknown expression "${t.text}"`);
  }
}
function parseSelectors(c) {
  const out = [parseSelector(c)];
  while (c.accept(".")) out.push(parseSelector(c));
  return out;
}
function fieldType(field) {
  switch (field) {
    case Field.IP_SADDR:
    case Field.IP_DADDR:
      return DataType.IPV4_ADDR;
    case Field.META_L4PROTO:
      return DataType.INET_PROTO;
    case Field.META_MARK:
      return DataType.MARK;
    case Field.CT_STATE:
      return DataType.CT_STATE;
    case Field.FIB_SADDR_TYPE:
    case Field.FIB_DADDR_TYPE:
      return DataType.FIB_ADDRTYPE;
    default:
      return DataType.INET_SERVICE;
  }
}
function parseMatch(c) {
  const selectors = parseSelectors(c);
  let andMask = -1;
  if (c.accept("and") || c.accept("&")) {
    if (selectors.length !== 1 || selectors[0].field !== Field.META_MARK)
      c.fail(c.last(), `"and" is supported on mark only`);
    andMask = parseInteger(c, "mask") >>> 0;
  }
  if (c.accept("vmap")) {
    if (andMask >= 0) c.fail(c.last(), `vmap after and`);
    return { kind: "vmap", selectors, numgenModulus: 0, numgenOffset: 0, ...parseMapTarget(c) };
  }
  let negate = false;
  if (c.accept("!=")) negate = true;
  else c.accept("==");
  if (c.is("{") || c.peek()?.text.startsWith("@") === true) {
    if (andMask >= 0) c.fail(c.last(), `set lookup after and`);
    const { map, elements } = parseMapTarget(c);
    return { kind: "lookup", selectors, negate, set: map, elements };
  }
  if (selectors.length !== 1) c.fail(c.last(), `a concatenation needs a set or map`);
  const type = fieldType(selectors[0].field);
  const t = c.next("value");
  let valueText = t.text;
  while (type === DataType.CT_STATE && c.is(",")) {
    c.pos++;
    valueText += `,${c.next("ct state").text}`;
  }
  const parsed = parseTypedValue(type, valueText);
  if (parsed === void 0) c.fail(t, `"${valueText}" is not a valid ${DATA_TYPE_NAMES[type]}`);
  return { kind: "match", selectors, negate, andMask, value: parsed.value, prefixLength: parsed.prefixLength };
}
function parseTypedValue(type, text) {
  switch (type) {
    case DataType.IPV4_ADDR: {
      const v = parseKeyValue(text);
      return v !== void 0 && text.includes(".") ? v : void 0;
    }
    case DataType.INET_PROTO: {
      const v = PROTOCOL_NUMBERS[text] ?? integerValue(text);
      return v !== void 0 && v >= 0 && v <= 255 ? { value: v, prefixLength: 32 } : void 0;
    }
    case DataType.INET_SERVICE: {
      const v = integerValue(text);
      return v !== void 0 && v >= 0 && v <= 65535 ? { value: v, prefixLength: 32 } : void 0;
    }
    case DataType.MARK: {
      const v = integerValue(text);
      return v !== void 0 ? { value: v >>> 0, prefixLength: 32 } : void 0;
    }
    case DataType.CT_STATE: {
      let bits = 0;
      for (const name of text.split(",")) {
        const b = CT_STATE_BITS[name];
        if (b === void 0) return void 0;
        bits |= b;
      }
      return { value: bits, prefixLength: 32 };
    }
    case DataType.FIB_ADDRTYPE: {
      const v = FIB_TYPES[text];
      return v === void 0 ? void 0 : { value: v, prefixLength: 32 };
    }
  }
  return void 0;
}

// src/netfilter/nftables/ruleset.ts
var SET_FLAG = { CONSTANT: 1, INTERVAL: 2, TIMEOUT: 4, DYNAMIC: 8 };
var NftElement = class {
  constructor(key, prefixLength, comment, verdict2, timeoutS, expiresNs) {
    this.key = key;
    this.prefixLength = prefixLength;
    this.comment = comment;
    this.verdict = verdict2;
    this.timeoutS = timeoutS;
    this.expiresNs = expiresNs;
  }
  key;
  prefixLength;
  comment;
  verdict;
  timeoutS;
  expiresNs;
};
var NftSet = class _NftSet {
  constructor(name, isMap2, keyTypes, flags, timeoutS, size, comment, anonymous) {
    this.name = name;
    this.isMap = isMap2;
    this.keyTypes = keyTypes;
    this.flags = flags;
    this.timeoutS = timeoutS;
    this.size = size;
    this.comment = comment;
    this.anonymous = anonymous;
    this.totalBits = keyTypes.reduce((bits, t) => bits + DATA_TYPE_BITS[t], 0);
    this.packedFlat = this.totalBits <= 53;
    this.fieldScale = new Float64Array(keyTypes.map((t) => 2 ** DATA_TYPE_BITS[t]));
  }
  name;
  isMap;
  keyTypes;
  flags;
  timeoutS;
  size;
  comment;
  anonymous;
  flat = /* @__PURE__ */ new Map();
  nested = /* @__PURE__ */ new Map();
  /** Interval store (interval sets): starts ascending, inclusive ends, elements. */
  starts = [];
  ends = [];
  intervalElements = [];
  totalBits;
  packedFlat;
  /** Flags as the declaration wrote them, in its order (knftables' dump repeats them). */
  declaredFlags = [];
  /** 2 ** bits of each key field (pack's per-field multiplier, computed once rather than per lookup). */
  fieldScale;
  get interval() {
    return (this.flags & SET_FLAG.INTERVAL) !== 0;
  }
  get count() {
    return this.flat.size + this.nestedCount() + this.intervalElements.length;
  }
  nestedCount() {
    let n = 0;
    for (const m of this.nested.values()) n += m.size;
    return n;
  }
  clone() {
    const s = new _NftSet(
      this.name,
      this.isMap,
      this.keyTypes,
      this.flags,
      this.timeoutS,
      this.size,
      this.comment,
      this.anonymous
    );
    for (const [k, v] of this.flat) s.flat.set(k, v);
    for (const [k, v] of this.nested) s.nested.set(k, new Map(v));
    s.declaredFlags = this.declaredFlags;
    s.starts = this.starts.slice();
    s.ends = this.ends.slice();
    s.intervalElements = this.intervalElements.slice();
    return s;
  }
  /** Packs fields [from, keyTypes.length) of `key` into one integer (at most 53 bits). */
  pack(key, from) {
    const scale = this.fieldScale;
    let v = 0;
    for (let i = from; i < scale.length; i++) v = v * scale[i] + key[i];
    return v;
  }
  /** Exact-or-interval lookup of a packet key; expired elements are absent. */
  lookup(key, nowNs) {
    let e;
    if (this.interval) e = this.lookupInterval(key[0]);
    else if (this.packedFlat) e = this.flat.get(this.pack(key, 0));
    else e = this.nested.get(key[0])?.get(this.pack(key, 1));
    if (e !== void 0 && e.expiresNs >= 0 && e.expiresNs <= nowNs) return void 0;
    return e;
  }
  lookupInterval(value) {
    let lo = 0;
    let hi = this.starts.length;
    while (lo < hi) {
      const mid = lo + hi >> 1;
      if (this.starts[mid] <= value) lo = mid + 1;
      else hi = mid;
    }
    const i = lo - 1;
    return i >= 0 && value <= this.ends[i] ? this.intervalElements[i] : void 0;
  }
  /** The stored element with exactly this key (and prefix), for add/delete. */
  find(key, prefixLength) {
    if (this.interval) {
      const i = this.starts.indexOf(key[0]);
      return i >= 0 && this.intervalElements[i].prefixLength === prefixLength ? this.intervalElements[i] : void 0;
    }
    return this.packedFlat ? this.flat.get(this.pack(key, 0)) : this.nested.get(key[0])?.get(this.pack(key, 1));
  }
  /** Inserts; returns false when the interval overlaps an existing one (nft: conflicting intervals). */
  insert(e) {
    if (this.interval) {
      const start = e.key[0];
      const end = start + 2 ** (32 - e.prefixLength) - 1;
      let i = 0;
      while (i < this.starts.length && this.starts[i] < start) i++;
      if (i > 0 && this.ends[i - 1] >= start) return false;
      if (i < this.starts.length && this.starts[i] <= end) return false;
      this.starts.splice(i, 0, start);
      this.ends.splice(i, 0, end);
      this.intervalElements.splice(i, 0, e);
      return true;
    }
    if (this.packedFlat) this.flat.set(this.pack(e.key, 0), e);
    else {
      let m = this.nested.get(e.key[0]);
      if (m === void 0) this.nested.set(e.key[0], m = /* @__PURE__ */ new Map());
      m.set(this.pack(e.key, 1), e);
    }
    return true;
  }
  remove(e) {
    if (this.interval) {
      const i = this.intervalElements.indexOf(e);
      this.starts.splice(i, 1);
      this.ends.splice(i, 1);
      this.intervalElements.splice(i, 1);
    } else if (this.packedFlat) this.flat.delete(this.pack(e.key, 0));
    else {
      const m = this.nested.get(e.key[0]);
      m.delete(this.pack(e.key, 1));
      if (m.size === 0) this.nested.delete(e.key[0]);
    }
  }
  clear() {
    this.flat.clear();
    this.nested.clear();
    this.starts = [];
    this.ends = [];
    this.intervalElements = [];
  }
  /** Every element, unordered. */
  elements() {
    const out = [...this.flat.values()];
    for (const m of this.nested.values()) out.push(...m.values());
    out.push(...this.intervalElements);
    return out;
  }
};
var Op = {
  MATCH: 0,
  LOOKUP: 1,
  VMAP: 2,
  VERDICT: 3,
  REJECT: 4,
  MASQUERADE: 5,
  DNAT: 6,
  MARK: 7,
  UPDATE: 8,
  COUNTER: 9
};
var CompiledStatement = class {
  constructor(op, fields, dependencies, negate, andMask, value, mask, set, verdict2, targetChain, dnatAddress, dnatPort, markOp, numgenModulus, numgenOffset, fullyRandom, timeoutS, cost, dependencyCost) {
    this.op = op;
    this.fields = fields;
    this.dependencies = dependencies;
    this.negate = negate;
    this.andMask = andMask;
    this.value = value;
    this.mask = mask;
    this.set = set;
    this.verdict = verdict2;
    this.targetChain = targetChain;
    this.dnatAddress = dnatAddress;
    this.dnatPort = dnatPort;
    this.markOp = markOp;
    this.numgenModulus = numgenModulus;
    this.numgenOffset = numgenOffset;
    this.fullyRandom = fullyRandom;
    this.timeoutS = timeoutS;
    this.cost = cost;
    this.dependencyCost = dependencyCost;
  }
  op;
  fields;
  dependencies;
  negate;
  andMask;
  value;
  mask;
  set;
  verdict;
  targetChain;
  dnatAddress;
  dnatPort;
  markOp;
  numgenModulus;
  numgenOffset;
  fullyRandom;
  timeoutS;
  cost;
  dependencyCost;
};
var NftRule = class {
  constructor(ast, statements) {
    this.ast = ast;
    this.statements = statements;
  }
  ast;
  statements;
};
var NftChain = class _NftChain {
  constructor(name, spec, comment, seq) {
    this.name = name;
    this.spec = spec;
    this.comment = comment;
    this.seq = seq;
  }
  name;
  spec;
  comment;
  seq;
  rules = [];
  clone() {
    const c = new _NftChain(this.name, this.spec, this.comment, this.seq);
    c.rules = this.rules.slice();
    return c;
  }
};
var NftTable2 = class {
  constructor(family, name, comment, chains, sets, setSeq, nextSeq) {
    this.family = family;
    this.name = name;
    this.comment = comment;
    this.chains = chains;
    this.sets = sets;
    this.setSeq = setSeq;
    this.nextSeq = nextSeq;
  }
  family;
  name;
  comment;
  chains;
  sets;
  setSeq;
  nextSeq;
};
var Draft = class {
  constructor(family, name, base) {
    this.family = family;
    this.name = name;
    this.exists = base !== null;
    this.comment = base?.comment ?? "";
    this.chains = new Map(base?.chains);
    this.sets = new Map(base?.sets);
    this.setSeq = new Map(base?.setSeq);
    this.seq = base?.nextSeq ?? 0;
  }
  family;
  name;
  chains;
  sets;
  setSeq;
  ownedChains = /* @__PURE__ */ new Set();
  ownedSets = /* @__PURE__ */ new Set();
  comment;
  exists;
  seq;
  chainForWrite(name) {
    let c = this.chains.get(name);
    if (!this.ownedChains.has(name)) {
      c = c.clone();
      this.chains.set(name, c);
      this.ownedChains.add(name);
    }
    return c;
  }
  setForWrite(name) {
    let s = this.sets.get(name);
    if (!this.ownedSets.has(name)) {
      s = s.clone();
      this.sets.set(name, s);
      this.ownedSets.add(name);
    }
    return s;
  }
};
var NftRuleset = class {
  table = null;
  /** Bumped on every successful commit; the interpreter rebuilds its per-hook lists on change. */
  generation = 0;
  /**
   * Applies `tx` atomically. Throws NftParseError (file:line:column) and leaves the table untouched
   * when any command fails. `nowNs` stamps element expiry for sets with timeouts.
   */
  apply(tx, nowNs = 0) {
    if (tx.commands.length === 0) return;
    const base = this.table !== null && this.table.family === tx.family && this.table.name === tx.table ? this.table : null;
    if (this.table !== null && base === null)
      throw new NftParseError(tx.file, 1, 1, `this ruleset holds table ${this.table.family} ${this.table.name} only`);
    const d = new Draft(tx.family, tx.table, base);
    for (const cmd of tx.commands) runCommand(d, cmd, tx.file, nowNs);
    if (d.exists) validate(d, tx.file);
    if (!d.exists) {
      this.table = null;
    } else {
      if (d.ownedSets.size > 0) {
        for (const [name, chain] of d.chains) {
          if (chain.rules.some(
            (r) => r.statements.some((s) => s.set !== null && !s.set.anonymous && d.ownedSets.has(s.set.name))
          )) {
            const c = d.chainForWrite(name);
            c.rules = c.rules.map((r) => compileRule(d, r.ast, tx.file));
          }
        }
      }
      this.table = new NftTable2(d.family, d.name, d.comment, d.chains, d.sets, d.setSeq, d.seq);
    }
    this.generation++;
  }
};
function fail(file, token, detail) {
  throw new NftParseError(file, token.line, token.column, detail);
}
function runCommand(d, cmd, file, nowNs) {
  if (cmd.object === "table") {
    if (cmd.op === "add" || cmd.op === "create") {
      if (d.exists && cmd.op === "create") fail(file, cmd.token, `table ${d.family} ${d.name} exists (EEXIST)`);
      if (!d.exists || cmd.comment !== "") d.comment = cmd.comment;
      d.exists = true;
      return;
    }
    if (!d.exists) fail(file, cmd.token, `no such table ${d.family} ${d.name} (ENOENT)`);
    if (cmd.op === "flush") {
      for (const name of d.chains.keys()) d.chainForWrite(name).rules = [];
      for (const name of d.sets.keys()) d.setForWrite(name).clear();
    } else {
      d.chains.clear();
      d.sets.clear();
      d.setSeq.clear();
      d.exists = false;
    }
    return;
  }
  if (!d.exists) fail(file, cmd.token, `no such table ${d.family} ${d.name} (ENOENT)`);
  switch (cmd.object) {
    case "chain": {
      const existing = d.chains.get(cmd.name);
      if (cmd.op === "add" || cmd.op === "create") {
        if (existing !== void 0) {
          if (cmd.op === "create") fail(file, cmd.token, `chain ${cmd.name} exists (EEXIST)`);
          if (cmd.spec !== null && (existing.spec === null || existing.spec.hook !== cmd.spec.hook || existing.spec.type !== cmd.spec.type))
            fail(file, cmd.token, `chain ${cmd.name} exists with a different type/hook (EOPNOTSUPP)`);
          return;
        }
        if (cmd.spec !== null && cmd.spec.type === "nat" && cmd.spec.hook === "forward")
          fail(file, cmd.token, `nat chains cannot use the forward hook (EOPNOTSUPP)`);
        d.chains.set(cmd.name, new NftChain(cmd.name, cmd.spec, cmd.comment, d.seq++));
        d.ownedChains.add(cmd.name);
        return;
      }
      if (existing === void 0) fail(file, cmd.token, `no such chain ${cmd.name} (ENOENT)`);
      if (cmd.op === "flush") {
        d.chainForWrite(cmd.name).rules = [];
        return;
      }
      if (chainReferenced(d, cmd.name)) fail(file, cmd.token, `chain ${cmd.name} is referenced (EBUSY)`);
      d.chains.delete(cmd.name);
      return;
    }
    case "set":
    case "map": {
      const existing = d.sets.get(cmd.name);
      if (cmd.op === "add" || cmd.op === "create") {
        if (existing !== void 0) {
          if (cmd.op === "create") fail(file, cmd.token, `${cmd.object} ${cmd.name} exists (EEXIST)`);
          if (existing.isMap !== (cmd.object === "map") || existing.keyTypes.join() !== cmd.keyTypes.join())
            fail(file, cmd.token, `${cmd.object} ${cmd.name} exists with a different type (EEXIST)`);
        } else {
          let flags = 0;
          for (const f of cmd.flags)
            flags |= f === "constant" ? SET_FLAG.CONSTANT : f === "interval" ? SET_FLAG.INTERVAL : f === "timeout" ? SET_FLAG.TIMEOUT : SET_FLAG.DYNAMIC;
          if (cmd.timeoutS >= 0) flags |= SET_FLAG.TIMEOUT;
          if (flags & SET_FLAG.INTERVAL && cmd.keyTypes.length !== 1)
            fail(file, cmd.token, `interval ${cmd.object}s of concatenations are not supported`);
          const set = new NftSet(
            cmd.name,
            cmd.object === "map",
            cmd.keyTypes,
            flags,
            cmd.timeoutS,
            cmd.size,
            cmd.comment,
            false
          );
          set.declaredFlags = cmd.flags;
          d.sets.set(cmd.name, set);
          d.ownedSets.add(cmd.name);
          d.setSeq.set(cmd.name, d.seq++);
        }
        if (cmd.elements.length > 0) addElements(d, cmd.name, cmd.elements, false, file, cmd.token, nowNs);
        return;
      }
      if (existing === void 0 || existing.isMap !== (cmd.object === "map"))
        fail(file, cmd.token, `no such ${cmd.object} ${cmd.name} (ENOENT)`);
      if (cmd.op === "flush") {
        d.setForWrite(cmd.name).clear();
        return;
      }
      if (setReferenced(d, cmd.name)) fail(file, cmd.token, `${cmd.object} ${cmd.name} is referenced (EBUSY)`);
      d.sets.delete(cmd.name);
      d.setSeq.delete(cmd.name);
      return;
    }
    case "element": {
      if (!d.sets.has(cmd.name)) fail(file, cmd.token, `no such set ${cmd.name} (ENOENT)`);
      if (cmd.op === "delete") {
        const set = d.setForWrite(cmd.name);
        for (const e of cmd.elements) {
          checkKey(set, e, file, true);
          const found = set.find(e.key, e.prefixLength);
          if (found === void 0) fail(file, e.token, `no such element in ${cmd.name} (ENOENT)`);
          set.remove(found);
        }
        return;
      }
      addElements(d, cmd.name, cmd.elements, cmd.op === "create", file, cmd.token, nowNs);
      return;
    }
    case "rule": {
      if (!d.chains.has(cmd.chain)) fail(file, cmd.token, `no such chain ${cmd.chain} (ENOENT)`);
      const rule2 = compileRule(d, cmd.rule, file);
      const chain = d.chainForWrite(cmd.chain);
      if (cmd.op === "insert") chain.rules.unshift(rule2);
      else chain.rules.push(rule2);
      return;
    }
  }
}
function chainReferenced(d, name) {
  for (const c of d.chains.values()) {
    if (c.name === name) continue;
    for (const r of c.rules)
      for (const s of r.statements) {
        if (s.verdict !== null && s.verdict.chain === name) return true;
        if (s.op === Op.VMAP && s.set !== null && s.set.anonymous && s.set.elements().some((e) => e.verdict?.chain === name))
          return true;
      }
  }
  for (const s of d.sets.values()) if (s.isMap && s.elements().some((e) => e.verdict?.chain === name)) return true;
  return false;
}
function setReferenced(d, name) {
  for (const c of d.chains.values())
    for (const r of c.rules) for (const s of r.statements) if (s.set !== null && s.set.name === name) return true;
  return false;
}
function checkKey(set, e, file, forDelete = false) {
  if (e.key.length !== set.keyTypes.length)
    fail(
      file,
      e.token,
      `element has ${e.key.length} fields, ${set.name} has type ${set.keyTypes.map((t) => DATA_TYPE_NAMES[t]).join(" . ")}`
    );
  for (let i = 0; i < e.key.length; i++) {
    const bits = DATA_TYPE_BITS[set.keyTypes[i]];
    if (e.key[i] < 0 || e.key[i] >= 2 ** bits)
      fail(file, e.token, `element field ${i + 1} out of range for ${DATA_TYPE_NAMES[set.keyTypes[i]]}`);
  }
  if (e.prefixLength !== 32) {
    if (!set.interval || set.keyTypes[0] !== DataType.IPV4_ADDR)
      fail(file, e.token, `prefix element in ${set.name}, which is not an interval set`);
    const hostBits = 2 ** (32 - e.prefixLength);
    if (e.key[0] % hostBits !== 0) fail(file, e.token, `prefix element has host bits set`);
  }
  if (set.isMap && e.verdict === null && !forDelete) fail(file, e.token, `element of map ${set.name} needs a value`);
  if (!set.isMap && e.verdict !== null) fail(file, e.token, `element of set ${set.name} cannot have a value`);
}
function checkVerdict(d, v, file, token) {
  if (v !== null && (v.kind === VerdictKind.JUMP || v.kind === VerdictKind.GOTO)) {
    const target = d.chains.get(v.chain);
    if (target === void 0) fail(file, token, `no such chain ${v.chain} (ENOENT)`);
    if (target.spec !== null) fail(file, token, `cannot jump to base chain ${v.chain} (EOPNOTSUPP)`);
  }
}
function addElements(d, name, elements, create, file, token, nowNs) {
  const set = d.setForWrite(name);
  for (const e of elements) {
    checkKey(set, e, file);
    checkVerdict(d, e.verdict, file, e.token);
    const existing = set.find(e.key, e.prefixLength);
    if (existing !== void 0) {
      if (create) fail(file, e.token, `element exists in ${name} (EEXIST)`);
      if (!sameVerdict(existing.verdict, e.verdict))
        fail(file, e.token, `element exists in ${name} with a different value (EBUSY)`);
      continue;
    }
    const timeoutS = e.timeoutS >= 0 ? e.timeoutS : set.timeoutS;
    if (e.timeoutS >= 0 && !(set.flags & SET_FLAG.TIMEOUT))
      fail(file, e.token, `element timeout in ${name}, which has no timeout flag`);
    const expiresNs = timeoutS > 0 ? nowNs + timeoutS * 1e9 : -1;
    if (!set.insert(new NftElement(e.key, e.prefixLength, e.comment, e.verdict, e.timeoutS, expiresNs)))
      fail(file, e.token, `conflicting intervals specified in ${name}`);
  }
  void token;
}
function sameVerdict(a, b) {
  return a === null || b === null ? a === b : a.kind === b.kind && a.chain === b.chain;
}
var FIELD_COST = 1;
function fieldBits(f) {
  return DATA_TYPE_BITS[fieldType(f)];
}
function dependencyOf(s) {
  return s.field === Field.L4_DPORT || s.field === Field.L4_SPORT ? s.protocol : 0;
}
function loadsCost(selectors) {
  let n = 0;
  for (const s of selectors) n += FIELD_COST + (dependencyOf(s) !== 0 ? 2 : 0);
  return n;
}
function anonymousSet(elements, types, isMap2) {
  const interval = elements.some((e) => e.prefixLength !== 32);
  return new NftSet(
    "",
    isMap2,
    types,
    interval ? SET_FLAG.INTERVAL | SET_FLAG.CONSTANT : SET_FLAG.CONSTANT,
    -1,
    -1,
    "",
    true
  );
}
function compileRule(d, ast, file) {
  const out = [];
  for (const s of ast.statements) out.push(compileStatement(d, s, file, ast.token));
  return new NftRule(ast, out);
}
function statement(op, partial) {
  const p = partial;
  return new CompiledStatement(
    op,
    p.fields ?? [],
    p.dependencies ?? [],
    p.negate ?? false,
    p.andMask ?? -1,
    p.value ?? 0,
    p.mask ?? 4294967295,
    p.set ?? null,
    p.verdict ?? null,
    -1,
    p.dnatAddress ?? 0,
    p.dnatPort ?? 0,
    p.markOp ?? "set",
    p.numgenModulus ?? 0,
    p.numgenOffset ?? 0,
    p.fullyRandom ?? false,
    p.timeoutS ?? -1,
    p.cost ?? 1,
    p.dependencyCost ?? 0
  );
}
function compileStatement(d, s, file, token) {
  const fields = "selectors" in s ? s.selectors.map((x) => x.field) : [];
  const dependencies = "selectors" in s ? s.selectors.map(dependencyOf) : [];
  const dependencyCost = dependencies[0] !== void 0 && dependencies[0] !== 0 ? 2 : 0;
  switch (s.kind) {
    case "match": {
      const bits = fieldBits(s.selectors[0].field);
      const width = bits === 32 ? 32 : bits;
      const mask = s.prefixLength >= width ? 4294967295 : s.prefixLength === 0 ? 0 : 4294967295 << 32 - s.prefixLength >>> 0;
      if ((s.value & ~mask) >>> 0 !== 0) fail(file, token, `prefix ${s.prefixLength} has host bits set`);
      const bitwise = s.andMask >= 0 || s.prefixLength < width && s.prefixLength % 8 !== 0 || s.selectors[0].field === Field.CT_STATE ? 1 : 0;
      return statement(Op.MATCH, {
        fields,
        dependencies,
        negate: s.negate,
        andMask: s.andMask,
        value: s.value,
        mask,
        cost: loadsCost(s.selectors) + bitwise + 1,
        dependencyCost
      });
    }
    case "lookup": {
      const types = s.selectors.map((x) => fieldType(x.field));
      let set;
      if (s.set !== "") {
        const named = d.sets.get(s.set);
        if (named === void 0 || named.isMap) fail(file, token, `no such set ${s.set} (ENOENT)`);
        if (named.keyTypes.join() !== types.join()) fail(file, token, `set ${s.set} has a different key type`);
        set = named;
      } else {
        set = anonymousSet(s.elements, types, false);
        for (const e of mergedElements(s.elements)) {
          checkKey(set, e, file);
          set.insert(new NftElement(e.key, e.prefixLength, e.comment, null, -1, -1));
        }
        if (s.elements.length === 1 && s.selectors.length === 1) {
          const e = s.elements[0];
          const mask = e.prefixLength === 0 ? 0 : 4294967295 << 32 - e.prefixLength >>> 0;
          const bitwise = e.prefixLength < 32 && e.prefixLength % 8 !== 0 ? 1 : 0;
          return statement(Op.MATCH, {
            fields,
            dependencies,
            negate: s.negate,
            value: e.key[0],
            mask: fieldBits(s.selectors[0].field) === 32 ? mask : 4294967295,
            cost: loadsCost(s.selectors) + bitwise + 1,
            dependencyCost
          });
        }
      }
      return statement(Op.LOOKUP, {
        fields,
        dependencies,
        negate: s.negate,
        set,
        cost: loadsCost(s.selectors) + 1,
        dependencyCost
      });
    }
    case "vmap": {
      const types = s.numgenModulus > 0 ? [DataType.MARK] : s.selectors.map((x) => fieldType(x.field));
      let set;
      if (s.map !== "") {
        const named = d.sets.get(s.map);
        if (named === void 0 || !named.isMap) fail(file, token, `no such map ${s.map} (ENOENT)`);
        if (s.numgenModulus === 0 && named.keyTypes.join() !== types.join())
          fail(file, token, `map ${s.map} has a different key type`);
        set = named;
      } else {
        set = anonymousSet(s.elements, types, true);
        for (const e of s.elements) {
          checkKey(set, e, file);
          checkVerdict(d, e.verdict, file, e.token);
          set.insert(new NftElement(e.key, e.prefixLength, e.comment, e.verdict, -1, -1));
        }
      }
      return statement(Op.VMAP, {
        fields,
        dependencies,
        set,
        numgenModulus: s.numgenModulus,
        numgenOffset: s.numgenOffset,
        cost: (s.numgenModulus > 0 ? 1 : loadsCost(s.selectors)) + 1,
        dependencyCost
      });
    }
    case "verdict":
      checkVerdict(d, s.verdict, file, token);
      return statement(Op.VERDICT, { verdict: s.verdict, cost: 1 });
    case "reject":
      return statement(Op.REJECT, { cost: 1 });
    case "masquerade":
      return statement(Op.MASQUERADE, { fullyRandom: s.fullyRandom, cost: 1 });
    case "dnat":
      return statement(Op.DNAT, { dnatAddress: s.address, dnatPort: s.port, cost: s.port > 0 ? 3 : 2 });
    case "mark":
      return statement(Op.MARK, { markOp: s.op, value: s.value, cost: s.op === "set" ? 2 : 3 });
    case "update": {
      if (!d.sets.has(s.set) || d.sets.get(s.set).isMap) fail(file, token, `no such set ${s.set} (ENOENT)`);
      const set = d.setForWrite(s.set);
      if (set.size < 0) set.size = 65535;
      if (!(set.flags & SET_FLAG.DYNAMIC)) fail(file, token, `set ${s.set} is not dynamic (EOPNOTSUPP)`);
      const types = s.selectors.map((x) => fieldType(x.field));
      if (set.keyTypes.join() !== types.join()) fail(file, token, `set ${s.set} has a different key type`);
      return statement(Op.UPDATE, {
        fields,
        dependencies,
        set,
        timeoutS: s.timeoutS,
        cost: loadsCost(s.selectors) + 1,
        dependencyCost
      });
    }
    case "counter":
      return statement(Op.COUNTER, { cost: 1 });
  }
}
function mergedElements(elements) {
  const span = (e) => [e.key[0], e.key[0] + 2 ** (32 - e.prefixLength) - 1];
  return elements.filter((e, i) => {
    if (e.key.length !== 1) return true;
    const [start, end] = span(e);
    return !elements.some((o, j) => {
      if (j === i || o.key.length !== 1) return false;
      const [os, oe] = span(o);
      const covers = os <= start && end <= oe;
      return covers && (os !== start || oe !== end || j < i);
    });
  });
}
var HOOK_BIT = { prerouting: 1, input: 2, forward: 4, output: 8, postrouting: 16 };
function validate(d, file) {
  const onPath = /* @__PURE__ */ new Set();
  const done = /* @__PURE__ */ new Set();
  const visit = (chain, hookBit, nat) => {
    const key = `${chain.name}|${hookBit}|${nat}`;
    if (done.has(key)) return;
    onPath.add(chain.name);
    for (const rule2 of chain.rules) {
      for (const st of rule2.statements) {
        const targets = [];
        if (st.verdict !== null && st.verdict.chain !== "") targets.push(st.verdict.chain);
        if (st.op === Op.VMAP && st.set !== null) {
          for (const e of st.set.elements())
            if (e.verdict !== null && e.verdict.chain !== "") targets.push(e.verdict.chain);
        }
        for (const t of targets) {
          if (onPath.has(t)) fail(file, rule2.ast.token, `jump loop through ${t} (ELOOP)`);
          const next = d.chains.get(t);
          if (next !== void 0) visit(next, hookBit, nat);
        }
        const where = `in chain ${chain.name} reached from a ${nat ? "nat" : "filter"} chain`;
        if (st.op === Op.DNAT && !(nat && hookBit & (HOOK_BIT.prerouting | HOOK_BIT.output)))
          fail(file, rule2.ast.token, `dnat ${where} (EOPNOTSUPP)`);
        if (st.op === Op.MASQUERADE && !(nat && hookBit & HOOK_BIT.postrouting))
          fail(file, rule2.ast.token, `masquerade ${where} (EOPNOTSUPP)`);
        if (st.op === Op.REJECT && hookBit & HOOK_BIT.postrouting)
          fail(file, rule2.ast.token, `reject ${where} at postrouting (EOPNOTSUPP)`);
      }
    }
    onPath.delete(chain.name);
    done.add(key);
  };
  for (const chain of d.chains.values()) {
    if (chain.spec === null) continue;
    visit(chain, HOOK_BIT[chain.spec.hook], chain.spec.type === "nat");
  }
}

// src/netfilter/nftables/eval.ts
var HOOK_NAMES = ["prerouting", "input", "forward", "output", "postrouting"];
var JUMP_STACK_SIZE = 16;
var NftVerdict = { ACCEPT: 0, DROP: 1, REJECT: 2 };
var NftResult = class {
  verdict = NftVerdict.ACCEPT;
  /** DNAT target, when a `dnat to` ran (dnatPort 0 = keep the port). */
  dnat = false;
  dnatAddress = 0;
  dnatPort = 0;
  masquerade = false;
  masqueradeFullyRandom = false;
  /** Kernel expressions evaluated (the simulated cost). */
  expressions = 0;
  /** Rules entered. */
  rules = 0;
  /** Elements added or refreshed by `update @set`. */
  setUpdates = 0;
  /**
   * Set and map lookups among `expressions` (nft_lookup, a vmap's lookup, nft_dynset): the kernel's
   * set backends cost more per call than a load or compare (kubeProxy.nftables.lookupCost).
   */
  lookups = 0;
  /** Chains entered, in order, when tracing is on (tests, `trace` output). */
  trace = null;
  reset() {
    this.verdict = NftVerdict.ACCEPT;
    this.dnat = false;
    this.dnatAddress = 0;
    this.dnatPort = 0;
    this.masquerade = false;
    this.masqueradeFullyRandom = false;
    this.expressions = 0;
    this.rules = 0;
    this.setUpdates = 0;
    this.lookups = 0;
    if (this.trace !== null) this.trace.length = 0;
  }
};
function reciprocalScale(value, modulus) {
  const hi = value >>> 16;
  const lo = value & 65535;
  return Math.floor((hi * modulus + Math.floor(lo * modulus / 65536)) / 65536);
}
function ctStateBits(packet) {
  if (packet.untracked || (packet.ctState & CtState.UNTRACKED) !== 0) return 64;
  return packet.ctState & 15;
}
var NftInterpreter = class {
  constructor(ruleset, rng) {
    this.ruleset = ruleset;
    this.rng = rng;
  }
  ruleset;
  rng;
  generation = -1;
  hookChains = [[], [], [], [], []];
  stackChain = new Array(JUMP_STACK_SIZE);
  stackRule = new Int32Array(JUMP_STACK_SIZE);
  key = new Float64Array(8);
  /** Base chains of `hook` in the order the kernel runs them (priority, then registration order). */
  chainsOf(hook) {
    this.refresh();
    return this.hookChains[hook];
  }
  refresh() {
    if (this.generation === this.ruleset.generation) return;
    this.generation = this.ruleset.generation;
    for (const list of this.hookChains) list.length = 0;
    const table = this.ruleset.table;
    if (table === null) return;
    for (const chain of table.chains.values()) {
      if (chain.spec === null) continue;
      this.hookChains[HOOK_NAMES.indexOf(chain.spec.hook)].push(chain);
    }
    for (const list of this.hookChains) list.sort((a, b) => a.spec.priority - b.spec.priority || a.seq - b.seq);
  }
  /**
   * Runs `packet` through `hook` (index into HOOK_NAMES). `firstPacket` = the packet creates its
   * connection (nat chains run only then). Fills `result`; returns its verdict.
   */
  runHook(hook, packet, firstPacket, host, nowNs, result) {
    result.reset();
    const chains = this.chainsOf(hook);
    let natDone = false;
    for (let i = 0; i < chains.length; i++) {
      const chain = chains[i];
      if (chain.spec.type === "nat") {
        if (!firstPacket || natDone) continue;
      }
      const natBefore = result.dnat || result.masquerade;
      const v = this.runChain(chain, packet, host, nowNs, result);
      if (chain.spec.type === "nat" && !natBefore && (result.dnat || result.masquerade)) natDone = true;
      if (v !== NftVerdict.ACCEPT) {
        result.verdict = v;
        return v;
      }
    }
    result.verdict = NftVerdict.ACCEPT;
    return NftVerdict.ACCEPT;
  }
  /**
   * Runs one base chain on `packet` (what the chain's own hook op does in the kernel,
   * nft_do_chain_ipv4; for a nat chain, what the NAT core's lookup calls). Fills `result`.
   */
  runBaseChain(chain, packet, host, nowNs, result) {
    result.reset();
    const v = this.runChain(chain, packet, host, nowNs, result);
    result.verdict = v;
    return v;
  }
  resolve(name) {
    return this.ruleset.table.chains.get(name);
  }
  runChain(base, packet, host, nowNs, result) {
    let chain = base;
    let ruleIndex = 0;
    let sp = 0;
    if (result.trace !== null) result.trace.push(chain.name);
    for (; ; ) {
      if (ruleIndex >= chain.rules.length) {
        if (sp === 0) return chain.spec.policy === "drop" ? NftVerdict.DROP : NftVerdict.ACCEPT;
        sp--;
        chain = this.stackChain[sp];
        ruleIndex = this.stackRule[sp];
        continue;
      }
      const rule2 = chain.rules[ruleIndex++];
      result.rules++;
      const statements = rule2.statements;
      let next = null;
      let kind = -1;
      for (let s = 0; s < statements.length; s++) {
        const st = statements[s];
        const outcome = this.evalStatement(st, packet, host, nowNs, result);
        if (outcome === BREAK) break;
        if (outcome === CONTINUE) continue;
        kind = outcome & 7;
        if (kind === VerdictKind.JUMP || kind === VerdictKind.GOTO) next = this.resolve(this.pendingChain);
        break;
      }
      if (kind < 0) continue;
      switch (kind) {
        case VerdictKind.ACCEPT:
          return NftVerdict.ACCEPT;
        case VerdictKind.DROP:
          return this.rejected ? (this.rejected = false, NftVerdict.REJECT) : NftVerdict.DROP;
        case VerdictKind.CONTINUE:
          continue;
        case VerdictKind.RETURN:
          if (sp === 0) return chain.spec.policy === "drop" ? NftVerdict.DROP : NftVerdict.ACCEPT;
          sp--;
          chain = this.stackChain[sp];
          ruleIndex = this.stackRule[sp];
          continue;
        case VerdictKind.JUMP:
          if (sp >= JUMP_STACK_SIZE) return NftVerdict.DROP;
          this.stackChain[sp] = chain;
          this.stackRule[sp] = ruleIndex;
          sp++;
          chain = next;
          ruleIndex = 0;
          if (result.trace !== null) result.trace.push(chain.name);
          continue;
        case VerdictKind.GOTO:
          chain = next;
          ruleIndex = 0;
          if (result.trace !== null) result.trace.push(chain.name);
          continue;
      }
    }
  }
  pendingChain = "";
  rejected = false;
  /** Loads the selectors' values into `this.key`; false when an implicit protocol check fails. */
  loadKey(st, packet, host) {
    const fields = st.fields;
    for (let i = 0; i < fields.length; i++) {
      const dep = st.dependencies[i];
      if (dep !== 0 && packet.protocol !== dep) return false;
      this.key[i] = this.load(fields[i], packet, host);
    }
    return true;
  }
  load(field, packet, host) {
    switch (field) {
      case Field.IP_SADDR:
        return packet.srcAddr >>> 0;
      case Field.IP_DADDR:
        return packet.dstAddr >>> 0;
      case Field.META_L4PROTO:
        return packet.protocol;
      case Field.TH_SPORT:
      case Field.L4_SPORT:
        return packet.srcPort;
      case Field.TH_DPORT:
      case Field.L4_DPORT:
        return packet.dstPort;
      case Field.META_MARK:
        return packet.mark >>> 0;
      case Field.CT_STATE:
        return ctStateBits(packet);
      case Field.FIB_SADDR_TYPE:
        return host.addressType(packet.srcAddr >>> 0);
      case Field.FIB_DADDR_TYPE:
        return host.addressType(packet.dstAddr >>> 0);
    }
    return 0;
  }
  /** BREAK, CONTINUE, or VERDICT_FLAG | verdict kind (jump/goto target in pendingChain). */
  evalStatement(st, packet, host, nowNs, result) {
    switch (st.op) {
      case Op.MATCH: {
        if (!this.loadKey(st, packet, host)) {
          result.expressions += st.dependencyCost;
          return BREAK;
        }
        result.expressions += st.cost;
        let v = this.key[0];
        if (st.andMask >= 0) v = (v & st.andMask) >>> 0;
        let hit;
        if (st.fields[0] === Field.CT_STATE) hit = (v & st.value) !== 0;
        else hit = (v & st.mask) >>> 0 === st.value;
        return hit !== st.negate ? CONTINUE : BREAK;
      }
      case Op.LOOKUP: {
        if (!this.loadKey(st, packet, host)) {
          result.expressions += st.dependencyCost;
          return BREAK;
        }
        result.expressions += st.cost;
        result.lookups++;
        const hit = st.set.lookup(this.key, nowNs) !== void 0;
        return hit !== st.negate ? CONTINUE : BREAK;
      }
      case Op.VMAP: {
        if (st.numgenModulus > 0) {
          this.key[0] = reciprocalScale(this.rng.uint32(), st.numgenModulus) + st.numgenOffset;
        } else if (!this.loadKey(st, packet, host)) {
          result.expressions += st.dependencyCost;
          return BREAK;
        }
        result.expressions += st.cost;
        result.lookups++;
        const e = st.set.lookup(this.key, nowNs);
        if (e === void 0 || e.verdict === null) return BREAK;
        this.pendingChain = e.verdict.chain;
        return VERDICT | e.verdict.kind;
      }
      case Op.VERDICT:
        result.expressions += st.cost;
        this.pendingChain = st.verdict.chain;
        return VERDICT | st.verdict.kind;
      case Op.REJECT:
        result.expressions += st.cost;
        this.rejected = true;
        return VERDICT | VerdictKind.DROP;
      case Op.MASQUERADE:
        result.expressions += st.cost;
        result.masquerade = true;
        result.masqueradeFullyRandom = st.fullyRandom;
        return VERDICT | VerdictKind.ACCEPT;
      case Op.DNAT:
        result.expressions += st.cost;
        result.dnat = true;
        result.dnatAddress = st.dnatAddress;
        result.dnatPort = st.dnatPort;
        return VERDICT | VerdictKind.ACCEPT;
      case Op.MARK: {
        result.expressions += st.cost;
        const m = packet.mark >>> 0;
        packet.mark = st.markOp === "set" ? st.value : st.markOp === "or" ? (m | st.value) >>> 0 : st.markOp === "xor" ? (m ^ st.value) >>> 0 : (m & st.value) >>> 0;
        return CONTINUE;
      }
      case Op.UPDATE: {
        if (!this.loadKey(st, packet, host)) {
          result.expressions += st.dependencyCost;
          return BREAK;
        }
        result.expressions += st.cost;
        result.lookups++;
        updateSet(st.set, this.key, st.timeoutS, nowNs);
        result.setUpdates++;
        return CONTINUE;
      }
      case Op.COUNTER:
        result.expressions += st.cost;
        return CONTINUE;
    }
    return BREAK;
  }
};
var BREAK = -1;
var CONTINUE = -2;
var VERDICT = 8;
function updateSet(set, key, timeoutS, nowNs) {
  const timeout = timeoutS >= 0 ? timeoutS : set.timeoutS;
  const expiresNs = (set.flags & SET_FLAG.TIMEOUT) !== 0 && timeout > 0 ? nowNs + timeout * 1e9 : -1;
  const fields = [];
  for (let i = 0; i < set.keyTypes.length; i++) fields.push(key[i]);
  const existing = set.find(fields, 32);
  if (existing !== void 0) {
    if (existing.expiresNs < 0 || existing.expiresNs > nowNs) {
      existing.expiresNs = expiresNs;
      return;
    }
    set.remove(existing);
  }
  set.insert(new NftElement(fields, 32, "", null, timeoutS, expiresNs));
}

// src/netfilter/nftables/hooks.ts
var RTN_UNICAST = 1;
var RTN_LOCAL = 2;
var NftChainOp = class {
  constructor(binding, chain, nat) {
    this.binding = binding;
    this.chain = chain;
    this.nat = nat;
    const spec = chain.spec;
    this.op = {
      hook: HOOK_NAMES.indexOf(spec.hook),
      priority: spec.priority,
      handler: this,
      name: `nft ${binding.family} ${binding.tableName} ${chain.name}`
    };
  }
  binding;
  chain;
  nat;
  op;
  hookFn(packet, state) {
    return this.nat ? this.binding.runNatChain(this, packet, state) : this.binding.runFilterChain(this, packet, state);
  }
};
var DnatRange = class {
  natFlags = 0;
  natHasAddr = true;
  natAddrMin = 0;
  natAddrMax = 0;
  natPortMin = 0;
  natPortMax = 0;
};
var MASQUERADE_RANGE = {
  natFlags: 0,
  natHasAddr: false,
  natAddrMin: 0,
  natAddrMax: 0,
  natPortMin: 0,
  natPortMax: 0
};
var MASQUERADE_FULLY_RANDOM_RANGE = { ...MASQUERADE_RANGE, natFlags: NatFlag.PROTO_RANDOM_FULLY };
var NftHooks = class {
  constructor(stack, host, rng, expressionCostNs, lookupCostNs = expressionCostNs) {
    this.stack = stack;
    this.host = host;
    this.expressionCostNs = expressionCostNs;
    this.lookupCostNs = lookupCostNs;
    for (const [name, value] of [
      ["expressionCostNs", expressionCostNs],
      ["lookupCostNs", lookupCostNs]
    ])
      if (!(Number.isSafeInteger(value) && value >= 0))
        throw new Error(`nftables: ${name} must be a non-negative integer, got ${value}`);
    this.interpreter = new NftInterpreter(this.ruleset, rng);
  }
  stack;
  host;
  expressionCostNs;
  lookupCostNs;
  ruleset = new NftRuleset();
  interpreter;
  result = new NftResult();
  dnatRange = new DnatRange();
  registered = /* @__PURE__ */ new Map();
  /** Kernel expressions evaluated over the namespace's life (set/map lookups included). */
  expressionsEvaluated = 0;
  /** Set and map lookups among them. */
  lookupsEvaluated = 0;
  tracer = null;
  family = "ip";
  tableName = "";
  /** `nft -f`: parses and applies one transaction atomically (throws NftParseError, changes nothing). */
  applyText(text, nowNs, file = "<nft>") {
    this.apply(parseTransaction(text, file), nowNs);
  }
  apply(tx, nowNs) {
    this.ruleset.apply(tx, nowNs);
    this.rebind();
  }
  /**
   * Registers the base chains the committed table holds and unregisters the ones it no longer
   * holds (nf_tables_commit: NFT_MSG_NEWCHAIN / DELCHAIN of base chains). A chain whose hook,
   * priority and type are unchanged keeps its registration (and its place among equal priorities).
   */
  rebind() {
    const table = this.ruleset.table;
    const next = /* @__PURE__ */ new Map();
    if (table !== null) {
      this.family = table.family;
      this.tableName = table.name;
      for (const chain of table.chains.values()) {
        if (chain.spec === null) continue;
        const old = this.registered.get(chain.name);
        const spec = chain.spec;
        if (old !== void 0 && old.chain.spec.hook === spec.hook && old.chain.spec.priority === spec.priority && old.chain.spec.type === spec.type) {
          old.chain = chain;
          next.set(chain.name, old);
          this.registered.delete(chain.name);
        } else {
          next.set(chain.name, new NftChainOp(this, chain, spec.type === "nat"));
        }
      }
    }
    for (const op of this.registered.values()) this.unregister(op);
    const fresh = [...next.values()].filter((op) => !this.isRegistered(op)).sort((a, b) => a.chain.seq - b.chain.seq);
    for (const op of fresh) (op.nat ? this.stack.natLookups : this.stack.hooks).register(op.op);
    this.registered = next;
  }
  isRegistered(op) {
    const entries = op.nat ? this.stack.natLookups : this.stack.hooks;
    return entries.ops[op.op.hook].includes(op.op);
  }
  unregister(op) {
    ;
    (op.nat ? this.stack.natLookups : this.stack.hooks).unregister(op.op);
  }
  /** "PRIORITY NAME" of every registered base chain, by hook (for tests and listings). */
  registrations() {
    return [...this.registered.values()].map(
      (op) => `${HOOK_NAMES[op.op.hook]} ${op.op.priority} ${op.chain.name}${op.nat ? " (nat)" : ""}`
    );
  }
  // -------------------------------------------------------------------------------------------
  // NftHost
  addressType(address) {
    return this.host.isLocalAddress(address) ? RTN_LOCAL : RTN_UNICAST;
  }
  // -------------------------------------------------------------------------------------------
  // Per packet
  run(op, packet, state) {
    const result = this.result;
    const tracing = this.tracer !== null;
    if (tracing && result.trace === null) result.trace = [];
    else if (!tracing) result.trace = null;
    const v = this.interpreter.runBaseChain(op.chain, packet, this, state.nowNs, result);
    this.expressionsEvaluated += result.expressions;
    this.lookupsEvaluated += result.lookups;
    state.extraNs += (result.expressions - result.lookups) * this.expressionCostNs + result.lookups * this.lookupCostNs;
    if (tracing) this.tracer.nftChains(op.op.hook, result.trace, v, result.expressions, result.lookups, packet);
    return v;
  }
  verdictOf(v) {
    if (v === NftVerdict.ACCEPT) return Verdict.ACCEPT;
    if (v === NftVerdict.DROP) {
      this.stack.lastDropReason = DropReason.NETFILTER_DROP;
      return Verdict.DROP;
    }
    this.stack.lastDropReason = DropReason.NETFILTER_REJECT;
    this.stack.lastRejectWith = RejectWith.ICMP_PORT_UNREACHABLE;
    return Verdict.REJECT;
  }
  /** nft_do_chain_ipv4 for a filter/route base chain. */
  runFilterChain(op, packet, state) {
    return this.verdictOf(this.run(op, packet, state));
  }
  /**
   * nft_nat_do_chain, called by the NAT core for a NEW connection whose manip is not set up:
   * runs the chain; `dnat to` / `masquerade` bind through the NAT core (nft_nat_eval,
   * nft_masq_eval -> nf_nat_masquerade_ipv4), which then stops calling further lookups.
   */
  runNatChain(op, packet, state) {
    const v = this.run(op, packet, state);
    if (v !== NftVerdict.ACCEPT) return this.verdictOf(v);
    const result = this.result;
    const id = packet.ctId;
    if (id < 0) return Verdict.ACCEPT;
    const nat = this.stack.nat;
    if (result.dnat) {
      if ((this.stack.conntrack.status[id] & CtStatus.DST_NAT_DONE) !== 0) return Verdict.ACCEPT;
      const r = this.dnatRange;
      r.natAddrMin = result.dnatAddress >>> 0;
      r.natAddrMax = result.dnatAddress >>> 0;
      r.natFlags = result.dnatPort !== 0 ? NatFlag.PROTO_SPECIFIED : 0;
      r.natPortMin = result.dnatPort;
      r.natPortMax = result.dnatPort;
      nat.setupInfo(id, Manip.DST, r, -1, state.nowNs);
    } else if (result.masquerade) {
      if ((this.stack.conntrack.status[id] & CtStatus.SRC_NAT_DONE) !== 0) return Verdict.ACCEPT;
      const address = state.outIfIndex >= 0 ? this.host.interfaceAddress(state.outIfIndex) : 0;
      if (address === 0) {
        this.stack.lastDropReason = DropReason.NETFILTER_DROP;
        return Verdict.DROP;
      }
      nat.setupInfo(
        id,
        Manip.SRC,
        result.masqueradeFullyRandom ? MASQUERADE_FULLY_RANDOM_RANGE : MASQUERADE_RANGE,
        address,
        state.nowNs
      );
    }
    return Verdict.ACCEPT;
  }
};

// src/netfilter/nftables/print.ts
var PROTOCOL_NAMES = new Map(Object.entries(PROTOCOL_NUMBERS).map(([name, n]) => [n, name]));
function formatPriority(priority, hook) {
  for (const [name, value] of STANDARD_PRIORITIES) {
    if (name === "dstnat" && hook !== "prerouting") continue;
    if (name === "srcnat" && hook !== "postrouting") continue;
    const offset = priority - value;
    if (offset > 10 || offset < -10) continue;
    return offset === 0 ? name : offset > 0 ? `${name} + ${offset}` : `${name} - ${-offset}`;
  }
  return String(priority);
}
function formatTimeMs(ms) {
  const days = Math.floor(ms / 864e5);
  ms -= days * 864e5;
  const hours = Math.floor(ms / 36e5);
  ms -= hours * 36e5;
  const minutes = Math.floor(ms / 6e4);
  ms -= minutes * 6e4;
  const seconds = Math.floor(ms / 1e3);
  ms -= seconds * 1e3;
  let out = "";
  if (days > 0) out += `${days}d`;
  if (hours > 0) out += `${hours}h`;
  if (minutes > 0) out += `${minutes}m`;
  if (seconds > 0) out += `${seconds}s`;
  if (ms > 0) out += `${ms}ms`;
  return out === "" ? "0s" : out;
}
function quote(text) {
  return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}
function formatValue(type, value, prefixLength = 32) {
  switch (type) {
    case DataType.IPV4_ADDR:
      return prefixLength === 32 ? formatIpv4(value) : `${formatIpv4(value)}/${prefixLength}`;
    case DataType.INET_PROTO:
      return PROTOCOL_NAMES.get(value) ?? String(value);
    case DataType.INET_SERVICE:
      return String(value);
    case DataType.MARK:
      return `0x${value.toString(16).padStart(8, "0")}`;
    case DataType.CT_STATE:
      return CT_STATE_NAMES2.filter(([, bit]) => (value & bit) !== 0).map(([name]) => name).join(",");
    case DataType.FIB_ADDRTYPE:
      return FIB_TYPE_NAMES[value] ?? String(value);
  }
  return String(value);
}
function formatVerdict(v) {
  return v.chain === "" ? VERDICT_NAMES[v.kind] : `${VERDICT_NAMES[v.kind]} ${v.chain}`;
}
function formatSelector(s) {
  switch (s.field) {
    case Field.IP_SADDR:
      return "ip saddr";
    case Field.IP_DADDR:
      return "ip daddr";
    case Field.META_L4PROTO:
      return "meta l4proto";
    case Field.TH_SPORT:
      return "th sport";
    case Field.TH_DPORT:
      return "th dport";
    case Field.META_MARK:
      return "meta mark";
    case Field.CT_STATE:
      return "ct state";
    case Field.FIB_SADDR_TYPE:
      return "fib saddr type";
    case Field.FIB_DADDR_TYPE:
      return "fib daddr type";
    case Field.L4_SPORT:
      return `${PROTOCOL_NAMES.get(s.protocol)} sport`;
    case Field.L4_DPORT:
      return `${PROTOCOL_NAMES.get(s.protocol)} dport`;
  }
  return "?";
}
function sortKey(key, types) {
  if (key.length === 1) return BigInt(key[0]);
  const bytes = [];
  for (let i = 0; i < key.length; i++) {
    const n = DATA_TYPE_BITS[types[i]] / 8;
    for (let b = n - 1; b >= 0; b--) bytes.push(Math.floor(key[i] / 2 ** (8 * b)) & 255);
  }
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = v << 8n | BigInt(bytes[i]);
  return v;
}
function sortElements(elements, types) {
  return elements.map((e) => ({ e, k: sortKey(e.key, types) })).sort((a, b) => a.k < b.k ? -1 : a.k > b.k ? 1 : 0).map((x) => x.e);
}
function formatElement(e, types, extra) {
  let out = e.key.map((v, i) => formatValue(types[i], v, e.key.length === 1 ? e.prefixLength : 32)).join(" . ");
  out += extra;
  if (e.comment !== "") out += ` comment ${quote(e.comment)}`;
  if (e.verdict !== null) out += ` : ${formatVerdict(e.verdict)}`;
  return out;
}
function delimiter(types, count, forceNewline) {
  const newline = ",\n			     ";
  if (forceNewline) return newline;
  if (types.length === 1) {
    const t = types[0];
    const perLine = t === DataType.INET_PROTO || t === DataType.INET_SERVICE || t === DataType.MARK ? 5 : t === DataType.IPV4_ADDR || t === DataType.CT_STATE ? 2 : 0;
    if (perLine > 0 && count.n < perLine) return ", ";
    count.n = 0;
  }
  return newline;
}
function formatSetElements(set, nowNs) {
  const elements = sortElements(set.elements(), set.keyTypes).filter((e) => e.expiresNs < 0 || e.expiresNs > nowNs);
  const parts = [];
  let out = "{ ";
  const count = { n: 0 };
  for (let i = 0; i < elements.length; i++) {
    const e = elements[i];
    let extra = "";
    if (e.timeoutS >= 0 && e.timeoutS !== set.timeoutS) extra += ` timeout ${formatTimeMs(e.timeoutS * 1e3)}`;
    if (e.expiresNs >= 0) extra += ` expires ${formatTimeMs(Math.floor((e.expiresNs - nowNs) / 1e6))}`;
    if (i > 0) out += parts.pop();
    out += formatElement(e, set.keyTypes, extra);
    count.n++;
    parts.push(delimiter(set.keyTypes, count, false));
  }
  return `${out} }`;
}
function formatSelectors(selectors) {
  return selectors.map(formatSelector).join(" . ");
}
function formatAnonymous(elements, types) {
  const sorted = sortElements(mergedElements(elements), types);
  return `{ ${sorted.map((e) => formatElement(e, types, "")).join(", ")} }`;
}
function formatStatement(s) {
  switch (s.kind) {
    case "match": {
      const type = fieldType(s.selectors[0].field);
      let lhs = formatSelectors(s.selectors);
      if (s.andMask >= 0) lhs += ` & ${formatValue(DataType.MARK, s.andMask)}`;
      const value = formatValue(type, s.value, s.prefixLength);
      if (type === DataType.CT_STATE || type === DataType.FIB_ADDRTYPE) return s.negate ? `${lhs} != ${value}` : `${lhs} ${value}`;
      if (s.andMask >= 0) return `${lhs} ${s.negate ? "!=" : "=="} ${value}`;
      return s.negate ? `${lhs} != ${value}` : `${lhs} ${value}`;
    }
    case "lookup": {
      const types = s.selectors.map((x) => fieldType(x.field));
      const op = s.negate ? " != " : " ";
      if (s.set !== "") return `${formatSelectors(s.selectors)}${op}@${s.set}`;
      if (s.elements.length === 1 && s.selectors.length === 1)
        return `${formatSelectors(s.selectors)}${op}${formatElement(s.elements[0], types, "")}`;
      return `${formatSelectors(s.selectors)}${op}${formatAnonymous(s.elements, types)}`;
    }
    case "vmap": {
      const lhs = s.numgenModulus > 0 ? `numgen random mod ${s.numgenModulus}${s.numgenOffset > 0 ? ` offset ${s.numgenOffset}` : ""}` : formatSelectors(s.selectors);
      const types = s.numgenModulus > 0 ? [DataType.INET_SERVICE] : s.selectors.map((x) => fieldType(x.field));
      return s.map !== "" ? `${lhs} vmap @${s.map}` : `${lhs} vmap ${formatAnonymous(s.elements, types)}`;
    }
    case "verdict":
      return formatVerdict(s.verdict);
    case "reject":
      return "reject";
    case "counter":
      return "counter packets 0 bytes 0";
    case "masquerade": {
      const flags = [
        s.random ? "random" : "",
        s.fullyRandom ? "fully-random" : "",
        s.persistent ? "persistent" : ""
      ].filter((f) => f !== "");
      return flags.length === 0 ? "masquerade" : `masquerade ${flags.join(",")}`;
    }
    case "dnat":
      return s.port > 0 ? `dnat to ${formatIpv4(s.address)}:${s.port}` : `dnat to ${formatIpv4(s.address)}`;
    case "mark": {
      const v = formatValue(DataType.MARK, s.value);
      if (s.op === "set") return `meta mark set ${v}`;
      return `meta mark set meta mark ${s.op === "or" ? "|" : s.op === "xor" ? "^" : "&"} ${v}`;
    }
    case "update": {
      const timeout = s.timeoutS >= 0 ? ` timeout ${formatTimeMs(s.timeoutS * 1e3)}` : "";
      return `update @${s.set} { ${formatSelectors(s.selectors)}${timeout} }`;
    }
  }
}
function printSet(set, nowNs) {
  const lines = [`	${set.isMap ? "map" : "set"} ${set.name} {`];
  lines.push(`		type ${set.keyTypes.map((t) => DATA_TYPE_NAMES[t]).join(" . ")}${set.isMap ? " : verdict" : ""}`);
  if (set.size > 0) lines.push(`		size ${set.size}`);
  const flags = [];
  if (set.flags & SET_FLAG.CONSTANT) flags.push("constant");
  if (set.flags & SET_FLAG.DYNAMIC) flags.push("dynamic");
  if (set.flags & SET_FLAG.INTERVAL) flags.push("interval");
  if (set.flags & SET_FLAG.TIMEOUT && (set.timeoutS < 0 || flags.length > 0)) flags.push("timeout");
  if (flags.length > 0) lines.push(`		flags ${flags.join(",")}`);
  if (set.timeoutS > 0) lines.push(`		timeout ${formatTimeMs(set.timeoutS * 1e3)}`);
  if (set.comment !== "") lines.push(`		comment ${quote(set.comment)}`);
  if (set.count > 0) lines.push(`		elements = ${formatSetElements(set, nowNs)}`);
  lines.push("	}");
  return lines;
}
function printChain(chain) {
  const lines = [`	chain ${chain.name} {`];
  const spec = chain.spec;
  if (spec !== null)
    lines.push(
      `		type ${spec.type} hook ${spec.hook} priority ${formatPriority(spec.priority, spec.hook)}; policy ${spec.policy};`
    );
  if (chain.comment !== "") lines.push(`		comment ${quote(chain.comment)}`);
  for (const rule2 of chain.rules) {
    let text = rule2.ast.statements.map(formatStatement).join(" ");
    if (rule2.ast.comment !== "") text += ` comment ${quote(rule2.ast.comment)}`;
    lines.push(`		${text}`);
  }
  lines.push("	}");
  return lines;
}
function listTable(table, nowNs = 0) {
  const blocks = [];
  const sets = [...table.sets.values()].sort((a, b) => table.setSeq.get(a.name) - table.setSeq.get(b.name));
  for (const set of sets) blocks.push(printSet(set, nowNs));
  const chains = [...table.chains.values()].sort((a, b) => a.seq - b.seq);
  for (const chain of chains) blocks.push(printChain(chain));
  const head = [`table ${table.family} ${table.name} {`];
  if (table.comment !== "") head.push(`	comment ${quote(table.comment)}`);
  return `${head.join("\n")}
${blocks.map((b) => b.join("\n")).join("\n\n")}${blocks.length > 0 ? "\n" : ""}}
`;
}

// src/cluster/backend-nftables.ts
var DEFAULT_NFTABLES_MODE = {
  expressionCostNs: 2,
  lookupCostNs: 60,
  fullSyncPeriodNs: DEFAULT_FULL_SYNC_PERIOD_NS
};
function nftablesConfigFrom(spec, serviceCIDRs) {
  return {
    ...DEFAULT_NFTABLES_CONFIG,
    clusterCIDR: spec.clusterCIDR,
    masqueradeAll: spec.masqueradeAll,
    masqueradeMark: masqueradeMarkGo(spec.masqueradeBit),
    serviceCIDRs,
    nodePortAddresses: effectiveNodePortAddresses("nftables", spec.nodePortAddresses)
  };
}
var NftablesBackend = class {
  mode = "nftables";
  proxier;
  /** The node's nftables: the ruleset the kernel holds and its base chains on the hook host. */
  nft;
  costModel;
  lastApplyNs = 0;
  constructor(node, stack, spec, rng, serviceCIDRs, costModel) {
    const mode = spec.nftables ?? DEFAULT_NFTABLES_MODE;
    this.costModel = costModel ?? new NftablesSyncCostModel(spec.syncCost.nftables ?? DEFAULT_NFTABLES_SYNC_COST);
    this.proxier = new NftablesProxier(node, nftablesConfigFrom(spec, serviceCIDRs), {
      fullSyncPeriodNs: mode.fullSyncPeriodNs
    });
    this.nft = new NftHooks(stack, stack.host, rng, mode.expressionCostNs, mode.lookupCostNs);
  }
  compile(nowNs, services, slices) {
    const objectsBefore = this.proxier.table.objectCount();
    const result = this.proxier.sync(nowNs, services, slices);
    if (result.error !== null) throw new Error(`nftables proxier on ${this.nodeName()}: ${result.error}`);
    if (result.cleanupOps.length > 0)
      this.nft.applyText(
        formatTransaction(result.cleanupOps, this.proxier.table.family, this.proxier.table.name),
        nowNs,
        "cleanup.nft"
      );
    const work = nftablesSyncWork(result.transaction, objectsBefore);
    return {
      durationNs: this.costModel.durationNs(work),
      fullSync: result.compile.fullSync,
      natRules: 0,
      filterRules: 0,
      tableObjects: this.proxier.table.objectCount(),
      services: result.servicePorts,
      payload: { result }
    };
  }
  apply(nowNs, sync) {
    this.nft.applyText(sync.payload.result.transaction, nowNs, "kube-proxy.nft");
    this.lastApplyNs = nowNs;
  }
  failed() {
    this.proxier.mainTransactionFailed();
  }
  /**
   * `nft list table ip kube-proxy` of the node's kernel state (affinity elements the packets added
   * included, with their remaining time at the last sync); `sorted`: the table as upstream's tests
   * compare it (sortNFTablesTransaction of knftables' Fake.Dump, proxier's view).
   */
  rules(sorted) {
    if (sorted) return sortNftablesTransaction(this.proxier.table.dump()) + "\n";
    const table = this.nft.ruleset.table;
    return table === null ? "" : listTable(table, this.lastApplyNs);
  }
  nodeName() {
    return this.proxier.nodeName;
  }
};

// src/netfilter/ipvs/conntrack-link.ts
var ConntrackDropLink = class {
  constructor(conntrack) {
    this.conntrack = conntrack;
  }
  conntrack;
  /** Entries killed on behalf of IPVS (for results and tests). */
  dropped = 0;
  dropConntrack(protocol, caddr, cport, vaddr, vport) {
    const node = this.conntrack.find(caddr, vaddr, cport, vport, protocol);
    if (node < 0) return;
    this.conntrack.remove(node >> 1);
    this.dropped++;
  }
};

// src/netfilter/ipvs/dest.ts
var DEST_F_AVAILABLE = 1;
var DEST_F_OVERLOAD = 2;
var DestColumns = class {
  capacity;
  addr;
  port;
  /** Current weight; 0 = quiesced (no new connections, existing ones continue). */
  weight;
  /** dest->last_weight: the latest non-zero weight (ip_vs_ctl.c __ip_vs_update_dest), used by mh. */
  lastWeight;
  flags;
  activeConns;
  inactConns;
  persistConns;
  /** u_threshold / l_threshold (0 = none), as `ipvsadm -x/-y`. */
  upperThreshold;
  lowerThreshold;
  /** Owning service id, or -1 once freed. */
  service;
  /** Connections (incl. templates) still pointing here; a deleted dest is freed when it reaches 0. */
  refs;
  // ip_vs_stats counters (ipvsadm --stats): Float64 so they never wrap in a long run.
  conns;
  inPkts;
  outPkts;
  inBytes;
  outBytes;
  freeList = [];
  next = 0;
  constructor(capacity = 64) {
    this.capacity = capacity;
    this.addr = new Uint32Array(capacity);
    this.port = new Uint16Array(capacity);
    this.weight = new Int32Array(capacity);
    this.lastWeight = new Int32Array(capacity);
    this.flags = new Uint8Array(capacity);
    this.activeConns = new Int32Array(capacity);
    this.inactConns = new Int32Array(capacity);
    this.persistConns = new Int32Array(capacity);
    this.upperThreshold = new Int32Array(capacity);
    this.lowerThreshold = new Int32Array(capacity);
    this.service = new Int32Array(capacity).fill(-1);
    this.refs = new Int32Array(capacity);
    this.conns = new Float64Array(capacity);
    this.inPkts = new Float64Array(capacity);
    this.outPkts = new Float64Array(capacity);
    this.inBytes = new Float64Array(capacity);
    this.outBytes = new Float64Array(capacity);
  }
  allocate(service, addr, port) {
    let id = this.freeList.pop();
    if (id === void 0) {
      if (this.next === this.capacity) this.grow();
      id = this.next++;
    }
    this.addr[id] = addr >>> 0;
    this.port[id] = port;
    this.weight[id] = 0;
    this.lastWeight[id] = 0;
    this.flags[id] = 0;
    this.activeConns[id] = 0;
    this.inactConns[id] = 0;
    this.persistConns[id] = 0;
    this.upperThreshold[id] = 0;
    this.lowerThreshold[id] = 0;
    this.service[id] = service;
    this.refs[id] = 0;
    this.conns[id] = 0;
    this.inPkts[id] = 0;
    this.outPkts[id] = 0;
    this.inBytes[id] = 0;
    this.outBytes[id] = 0;
    return id;
  }
  free(id) {
    assert(this.service[id] >= 0, `dest ${id} freed twice`);
    this.service[id] = -1;
    this.flags[id] = 0;
    this.freeList.push(id);
  }
  /** ip_vs_dest_totalconns. */
  totalConns(id) {
    return this.activeConns[id] + this.inactConns[id];
  }
  /**
   * ip_vs_dest_conn_overhead (include/net/ip_vs.h): `(activeconns << 8) + inactconns`. The comment in
   * ip_vs_lc.c still says `<< 5`; the code calls this helper, so 256 is what the kernel uses.
   */
  overhead(id) {
    return this.activeConns[id] * 256 + this.inactConns[id];
  }
  grow() {
    const n = this.capacity * 2;
    const g32 = (a) => {
      const b = new Uint32Array(n);
      b.set(a);
      return b;
    };
    const gi = (a, fill = 0) => {
      const b = new Int32Array(n).fill(fill);
      b.set(a);
      return b;
    };
    const gf = (a) => {
      const b = new Float64Array(n);
      b.set(a);
      return b;
    };
    this.addr = g32(this.addr);
    const port = new Uint16Array(n);
    port.set(this.port);
    this.port = port;
    const flags = new Uint8Array(n);
    flags.set(this.flags);
    this.flags = flags;
    this.weight = gi(this.weight);
    this.lastWeight = gi(this.lastWeight);
    this.activeConns = gi(this.activeConns);
    this.inactConns = gi(this.inactConns);
    this.persistConns = gi(this.persistConns);
    this.upperThreshold = gi(this.upperThreshold);
    this.lowerThreshold = gi(this.lowerThreshold);
    this.service = gi(this.service, -1);
    this.refs = gi(this.refs);
    this.conns = gf(this.conns);
    this.inPkts = gf(this.inPkts);
    this.outPkts = gf(this.outPkts);
    this.inBytes = gf(this.inBytes);
    this.outBytes = gf(this.outBytes);
    this.capacity = n;
  }
};

// src/netfilter/ipvs/siphash.ts
var v0h = 0;
var v0l = 0;
var v1h = 0;
var v1l = 0;
var v2h = 0;
var v2l = 0;
var v3h = 0;
var v3l = 0;
function sipRound() {
  let lo = 0, hi = 0, t = 0;
  lo = v0l + v1l >>> 0;
  v0h = v0h + v1h + (lo < v0l ? 1 : 0) >>> 0;
  v0l = lo;
  hi = (v1h << 13 | v1l >>> 19) >>> 0;
  lo = (v1l << 13 | v1h >>> 19) >>> 0;
  v1h = (hi ^ v0h) >>> 0;
  v1l = (lo ^ v0l) >>> 0;
  t = v0h;
  v0h = v0l;
  v0l = t;
  lo = v2l + v3l >>> 0;
  v2h = v2h + v3h + (lo < v2l ? 1 : 0) >>> 0;
  v2l = lo;
  hi = (v3h << 16 | v3l >>> 16) >>> 0;
  lo = (v3l << 16 | v3h >>> 16) >>> 0;
  v3h = (hi ^ v2h) >>> 0;
  v3l = (lo ^ v2l) >>> 0;
  lo = v0l + v3l >>> 0;
  v0h = v0h + v3h + (lo < v0l ? 1 : 0) >>> 0;
  v0l = lo;
  hi = (v3h << 21 | v3l >>> 11) >>> 0;
  lo = (v3l << 21 | v3h >>> 11) >>> 0;
  v3h = (hi ^ v0h) >>> 0;
  v3l = (lo ^ v0l) >>> 0;
  lo = v2l + v1l >>> 0;
  v2h = v2h + v1h + (lo < v2l ? 1 : 0) >>> 0;
  v2l = lo;
  hi = (v1h << 17 | v1l >>> 15) >>> 0;
  lo = (v1l << 17 | v1h >>> 15) >>> 0;
  v1h = (hi ^ v2h) >>> 0;
  v1l = (lo ^ v2l) >>> 0;
  t = v2h;
  v2h = v2l;
  v2l = t;
}
function hsiphashKey(k0, k1) {
  return {
    k0h: Number(k0 >> 32n & 0xffffffffn),
    k0l: Number(k0 & 0xffffffffn),
    k1h: Number(k1 >> 32n & 0xffffffffn),
    k1l: Number(k1 & 0xffffffffn)
  };
}
function preamble(key) {
  v0h = (1936682341 ^ key.k0h) >>> 0;
  v0l = (1886610805 ^ key.k0l) >>> 0;
  v1h = (1685025377 ^ key.k1h) >>> 0;
  v1l = (1852075885 ^ key.k1l) >>> 0;
  v2h = (1819895653 ^ key.k0h) >>> 0;
  v2l = (1852142177 ^ key.k0l) >>> 0;
  v3h = (1952801890 ^ key.k1h) >>> 0;
  v3l = (2037671283 ^ key.k1l) >>> 0;
}
function postamble(bh, bl) {
  v3h = (v3h ^ bh) >>> 0;
  v3l = (v3l ^ bl) >>> 0;
  sipRound();
  v0h = (v0h ^ bh) >>> 0;
  v0l = (v0l ^ bl) >>> 0;
  v2l = (v2l ^ 255) >>> 0;
  sipRound();
  sipRound();
  sipRound();
  return (v0l ^ v1l ^ v2l ^ v3l) >>> 0;
}
function hsiphashU32(value, key) {
  preamble(key);
  return postamble(4 << 24, value >>> 0);
}

// src/netfilter/ipvs/schedulers.ts
var Scheduler2 = { RR: 0, WRR: 1, LC: 2, WLC: 3, SH: 4, DH: 5, MH: 6 };
var SCHEDULER_NAMES = ["rr", "wrr", "lc", "wlc", "sh", "dh", "mh"];
function schedulerByName(name) {
  const i = SCHEDULER_NAMES.indexOf(name);
  return i < 0 ? void 0 : i;
}
var SvcFlag = {
  PERSISTENT: 1,
  HASHED: 2,
  ONEPACKET: 4,
  /** IP_VS_SVC_F_SCHED1: sh-fallback / mh-fallback. */
  SCHED1: 8,
  /** IP_VS_SVC_F_SCHED2: sh-port / mh-port (kube-proxy's FlagSourceHash for mh). */
  SCHED2: 16,
  SCHED3: 32
};
var SH_TAB_BITS = 8;
var SH_TAB_SIZE = 1 << SH_TAB_BITS;
var DH_TAB_SIZE = 256;
var MH_PRIMES = [251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071];
var MH_TAB_INDEX_DEFAULT = 12;
var MH_HASH1 = hsiphashKey(2654435761n, 2654435761n);
var MH_HASH2 = hsiphashKey(2654446892n, 2654446892n);
var GOLDEN_RATIO_32 = 1640531527;
function hash32(value, bits) {
  return Math.imul(value >>> 0, GOLDEN_RATIO_32) >>> 32 - bits;
}
function shHashKey(addr, port, offset) {
  return offset + hash32(port + addr >>> 0, SH_TAB_BITS) & SH_TAB_SIZE - 1;
}
function dhHashKey(addr) {
  return Math.imul(addr >>> 0, 2654435761 | 0) & DH_TAB_SIZE - 1;
}
function mhHashKey(addr, port, second, offset = 0) {
  return hsiphashU32(offset + port + addr >>> 0, second ? MH_HASH2 : MH_HASH1);
}
function gcd(a, b) {
  while (b !== 0) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}
function fls(x) {
  return x === 0 ? 0 : 32 - Math.clz32(x);
}
var SchedState = class {
  kind;
  /** rr: `svc->sched_data` (dest id of the last pick, -1 = list head). */
  rrLast = -1;
  /** wrr: `struct ip_vs_wrr_mark`. */
  wrrCl = -1;
  wrrCw = 0;
  wrrMw = 0;
  wrrDi = 1;
  /** sh/dh bucket table or mh lookup table: dest ids, -1 = NULL. */
  table;
  mhSize;
  mhGcd = 0;
  mhRshift = 0;
  constructor(kind, mhTabIndex = MH_TAB_INDEX_DEFAULT) {
    assert(mhTabIndex >= 8 && mhTabIndex <= 17, `mh table index ${mhTabIndex} outside Kconfig range 8..17`);
    this.kind = kind;
    this.mhSize = MH_PRIMES[mhTabIndex - 8];
    const size = kind === Scheduler2.SH ? SH_TAB_SIZE : kind === Scheduler2.DH ? DH_TAB_SIZE : kind === Scheduler2.MH ? this.mhSize : 0;
    this.table = new Int32Array(size).fill(-1);
    this.mhTabBits = mhTabIndex >> 1;
  }
  /** IP_VS_MH_TAB_BITS = CONFIG_IP_VS_MH_TAB_INDEX / 2. */
  mhTabBits;
};
function isUnavailable(d, id) {
  return d.weight[id] <= 0 || (d.flags[id] & DEST_F_OVERLOAD) !== 0;
}
function schedInit(s, list, d) {
  switch (s.kind) {
    case Scheduler2.RR:
      s.rrLast = -1;
      return;
    case Scheduler2.WRR:
      s.wrrCl = -1;
      s.wrrDi = wrrGcdWeight(list, d);
      s.wrrMw = wrrMaxWeight(list, d) - (s.wrrDi - 1);
      s.wrrCw = s.wrrMw;
      return;
    case Scheduler2.SH:
      shReassign(s, list, d);
      return;
    case Scheduler2.DH:
      dhReassign(s, list);
      return;
    case Scheduler2.MH:
      mhDestChanged(s, list, d);
      return;
    default:
      return;
  }
}
function schedAddDest(s, list, d) {
  switch (s.kind) {
    case Scheduler2.WRR:
      wrrDestChanged(s, list, d);
      return;
    case Scheduler2.SH:
      shReassign(s, list, d);
      return;
    case Scheduler2.DH:
      dhReassign(s, list);
      return;
    case Scheduler2.MH:
      mhDestChanged(s, list, d);
      return;
    default:
      return;
  }
}
function schedDelDest(s, list, d, removed, prevId) {
  switch (s.kind) {
    case Scheduler2.RR:
      if (s.rrLast === removed) s.rrLast = prevId;
      return;
    case Scheduler2.WRR:
      wrrDestChanged(s, list, d);
      return;
    case Scheduler2.SH:
      shReassign(s, list, d);
      return;
    case Scheduler2.DH:
      dhReassign(s, list);
      return;
    case Scheduler2.MH:
      mhDestChanged(s, list, d);
      return;
    default:
      return;
  }
}
function schedUpdDest(s, list, d) {
  switch (s.kind) {
    case Scheduler2.WRR:
      wrrDestChanged(s, list, d);
      return;
    case Scheduler2.SH:
      shReassign(s, list, d);
      return;
    case Scheduler2.MH:
      mhDestChanged(s, list, d);
      return;
    default:
      return;
  }
}
function schedule(s, list, d, svcFlags, saddr, sport, daddr) {
  switch (s.kind) {
    case Scheduler2.RR:
      return rrSchedule(s, list, d);
    case Scheduler2.WRR:
      return wrrSchedule(s, list, d);
    case Scheduler2.LC:
      return lcSchedule(list, d);
    case Scheduler2.WLC:
      return wlcSchedule(list, d);
    case Scheduler2.SH:
      return shSchedule(s, d, svcFlags, saddr, sport);
    case Scheduler2.DH:
      return dhSchedule(s, d, daddr);
    case Scheduler2.MH:
      return mhSchedule(s, d, svcFlags, saddr, sport);
    default:
      return -1;
  }
}
function rrSchedule(s, list, d) {
  const n = list.length;
  if (n === 0) return -1;
  const lastIdx = s.rrLast < 0 ? -1 : list.indexOf(s.rrLast);
  for (let k = 0; k < n; k++) {
    const id = list[(lastIdx + 1 + k) % n];
    if ((d.flags[id] & DEST_F_OVERLOAD) === 0 && d.weight[id] > 0) {
      s.rrLast = id;
      return id;
    }
  }
  return -1;
}
function wrrGcdWeight(list, d) {
  let g = 0;
  for (const id of list) {
    const w = d.weight[id];
    if (w > 0) g = g > 0 ? gcd(w, g) : w;
  }
  return g > 0 ? g : 1;
}
function wrrMaxWeight(list, d) {
  let m = 0;
  for (const id of list) if (d.weight[id] > m) m = d.weight[id];
  return m;
}
function wrrDestChanged(s, list, d) {
  s.wrrCl = -1;
  s.wrrDi = wrrGcdWeight(list, d);
  s.wrrMw = wrrMaxWeight(list, d) - (s.wrrDi - 1);
  if (s.wrrCw > s.wrrMw || s.wrrCw === 0) s.wrrCw = s.wrrMw;
  else if (s.wrrDi > 1) s.wrrCw = Math.trunc(s.wrrCw / s.wrrDi) * s.wrrDi + 1;
}
function wrrSchedule(s, list, d) {
  const n = list.length;
  let pos = s.wrrCl < 0 ? -1 : list.indexOf(s.wrrCl);
  if (s.wrrMw === 0) return -1;
  const lastPos = pos;
  let stopPos = -2;
  let lastPass = false;
  let restarted = false;
  for (; ; ) {
    for (pos = pos + 1; pos < n; pos++) {
      const id = list[pos];
      if ((d.flags[id] & DEST_F_OVERLOAD) === 0 && d.weight[id] >= s.wrrCw) {
        s.wrrCl = id;
        return id;
      }
      if (pos === stopPos) {
        s.wrrCl = id;
        return -1;
      }
    }
    pos = -1;
    s.wrrCw -= s.wrrDi;
    if (s.wrrCw <= 0) {
      s.wrrCw = s.wrrMw;
      if (lastPass || lastPos === -1) {
        s.wrrCl = -1;
        return -1;
      }
      restarted = true;
    }
    lastPass = s.wrrCw <= s.wrrDi;
    if (lastPass && restarted && lastPos !== -1) stopPos = lastPos;
  }
}
function lcSchedule(list, d) {
  let least = -1;
  let loh = 0;
  for (const id of list) {
    if ((d.flags[id] & DEST_F_OVERLOAD) !== 0 || d.weight[id] === 0) continue;
    const doh = d.overhead(id);
    if (least < 0 || doh < loh) {
      least = id;
      loh = doh;
    }
  }
  return least;
}
function wlcSchedule(list, d) {
  let i = 0;
  let least = -1;
  let loh = 0;
  for (; i < list.length; i++) {
    const id = list[i];
    if ((d.flags[id] & DEST_F_OVERLOAD) === 0 && d.weight[id] > 0) {
      least = id;
      loh = d.overhead(id);
      break;
    }
  }
  if (least < 0) return -1;
  for (i = i + 1; i < list.length; i++) {
    const id = list[i];
    if ((d.flags[id] & DEST_F_OVERLOAD) !== 0) continue;
    const doh = d.overhead(id);
    if (loh * d.weight[id] > doh * d.weight[least]) {
      least = id;
      loh = doh;
    }
  }
  return least;
}
function shReassign(s, list, d) {
  const n = list.length;
  let p = 0;
  let count = 0;
  for (let i = 0; i < SH_TAB_SIZE; i++) {
    if (n === 0) {
      s.table[i] = -1;
      continue;
    }
    const id = list[p];
    s.table[i] = id;
    if (++count >= d.weight[id]) {
      p = (p + 1) % n;
      count = 0;
    }
  }
}
function shSchedule(s, d, svcFlags, saddr, sport) {
  const port = (svcFlags & SvcFlag.SCHED2) !== 0 ? sport : 0;
  const ihash = shHashKey(saddr, port, 0);
  let id = s.table[ihash];
  if ((svcFlags & SvcFlag.SCHED1) === 0) {
    return id < 0 || isUnavailable(d, id) ? -1 : id;
  }
  if (id < 0) return -1;
  if (!isUnavailable(d, id)) return id;
  for (let offset = 0; offset < SH_TAB_SIZE; offset++) {
    const roffset = (offset + ihash) % SH_TAB_SIZE;
    id = s.table[shHashKey(saddr, port, roffset)];
    if (id < 0) break;
    if (!isUnavailable(d, id)) return id;
  }
  return -1;
}
function dhReassign(s, list) {
  const n = list.length;
  for (let i = 0; i < DH_TAB_SIZE; i++) s.table[i] = n === 0 ? -1 : list[i % n];
}
function dhSchedule(s, d, daddr) {
  const id = s.table[dhHashKey(daddr)];
  if (id < 0 || (d.flags[id] & DEST_F_AVAILABLE) === 0 || d.weight[id] <= 0 || (d.flags[id] & DEST_F_OVERLOAD) !== 0) {
    return -1;
  }
  return id;
}
function mhDestChanged(s, list, d) {
  let g = 0;
  let maxW = 0;
  for (const id of list) {
    const w = d.lastWeight[id];
    if (w > 0) g = g > 0 ? gcd(w, g) : w;
    if (w > maxW) maxW = w;
  }
  s.mhGcd = g;
  s.mhRshift = g < 1 ? 0 : Math.max(0, fls(Math.trunc(maxW / g)) - s.mhTabBits);
  mhReassign(s, list, d);
}
function mhReassign(s, list, d) {
  const M = s.mhSize;
  if (s.mhGcd < 1) {
    s.table.fill(-1);
    return;
  }
  const n = list.length;
  const offset = new Int32Array(n);
  const skip = new Int32Array(n);
  const perm = new Int32Array(n);
  const turns = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const id = list[i];
    offset[i] = mhHashKey(d.addr[id], d.port[id], false) % M;
    skip[i] = mhHashKey(d.addr[id], d.port[id], true) % (M - 1) + 1;
    perm[i] = offset[i];
    const lw = d.lastWeight[id];
    const t = Math.trunc(lw / s.mhGcd) >> s.mhRshift;
    turns[i] = t !== 0 ? t : lw !== 0 ? 1 : 0;
  }
  const taken = new Uint8Array(M);
  let filled = 0;
  let dtCount = 0;
  while (filled < M) {
    let i = 0;
    while (i < n) {
      if (turns[i] < 1) {
        i++;
        continue;
      }
      let c = perm[i];
      while (taken[c] !== 0) {
        perm[i] += skip[i];
        if (perm[i] >= M) perm[i] -= M;
        c = perm[i];
      }
      taken[c] = 1;
      s.table[c] = list[i];
      if (++filled === M) return;
      if (++dtCount >= turns[i]) {
        dtCount = 0;
        i++;
      }
    }
  }
}
function mhSchedule(s, d, svcFlags, saddr, sport) {
  const M = s.mhSize;
  const port = (svcFlags & SvcFlag.SCHED2) !== 0 ? sport : 0;
  const ihash = mhHashKey(saddr, port, false) % M;
  let id = s.table[ihash];
  if ((svcFlags & SvcFlag.SCHED1) === 0) {
    return id < 0 || isUnavailable(d, id) ? -1 : id;
  }
  if (id < 0) return -1;
  if (!isUnavailable(d, id)) return id;
  for (let offset = 0; offset < M; offset++) {
    const roffset = (offset + ihash) % M;
    id = s.table[mhHashKey(saddr, port, false, roffset) % M];
    if (id < 0) break;
    if (!isUnavailable(d, id)) return id;
  }
  return -1;
}

// src/netfilter/ipvs/ipvs.ts
var IpvsTcpState = {
  NONE: 0,
  ESTABLISHED: 1,
  SYN_SENT: 2,
  SYN_RECV: 3,
  FIN_WAIT: 4,
  TIME_WAIT: 5,
  CLOSE: 6,
  CLOSE_WAIT: 7,
  LAST_ACK: 8,
  LISTEN: 9,
  SYNACK: 10
};
var IPVS_TCP_STATE_NAMES = [
  "NONE",
  "ESTABLISHED",
  "SYN_SENT",
  "SYN_RECV",
  "FIN_WAIT",
  "TIME_WAIT",
  "CLOSE",
  "CLOSE_WAIT",
  "LAST_ACK",
  "LISTEN",
  "SYNACK"
];
var LINUX_IPVS_TIMEOUTS = {
  tcpNs: [2, 900, 120, 60, 120, 120, 10, 60, 30, 120, 120].map((s) => s * NS_PER_S),
  udpNs: 300 * NS_PER_S
};
function withIpvsTimeouts(base, tcpS, tcpFinS, udpS) {
  const tcpNs = base.tcpNs.slice();
  if (tcpS > 0) tcpNs[IpvsTcpState.ESTABLISHED] = tcpS * NS_PER_S;
  if (tcpFinS > 0) tcpNs[IpvsTcpState.FIN_WAIT] = tcpFinS * NS_PER_S;
  return { tcpNs, udpNs: udpS > 0 ? udpS * NS_PER_S : base.udpNs };
}
var ConnFlag = {
  /** IP_VS_CONN_F_MASQ: NAT forwarding (the only method kube-proxy uses). */
  MASQ: 0,
  TEMPLATE: 4096,
  NOOUTPUT: 1024,
  INACTIVE: 2048,
  /** IP_VS_CONN_F_NFCT: "use netfilter conntrack" (sysctl conntrack=1 at creation). */
  NFCT: 1048576
};
var CONN_INVALID = 1073741824;
var IpvsVerdict = {
  /** Not an IPVS packet (no connection and no virtual service, or a TCP non-SYN): NF_ACCEPT. */
  ACCEPT: 0,
  /** Hand to the NAT transmitter: DNAT to the connection's dest (`lastConn`). NF_STOLEN. */
  XMIT: 1,
  /** Dropped: a reused/no-dest connection whose packet holds a confirmed (old) conntrack. */
  DROP_OLD_CONNTRACK: 2,
  /** Dropped: the connection's dest was deleted and expire_nodest_conn is 0. */
  DROP_NO_DEST: 3,
  /** Service without an available dest: ip_vs_leave sends ICMP port unreachable (TCP and UDP) and drops. */
  LEAVE_UNREACHABLE: 4
};
var sES2 = 1;
var sSS2 = 2;
var sSR2 = 3;
var sFW2 = 4;
var sTW2 = 5;
var sCL2 = 6;
var sCW2 = 7;
var sLA2 = 8;
var sLI = 9;
var TCP_STATES = [
  // INPUT
  [
    /*syn*/
    [sSR2, sES2, sES2, sSR2, sSR2, sSR2, sSR2, sSR2, sSR2, sSR2, sSR2],
    /*fin*/
    [sCL2, sCW2, sSS2, sTW2, sTW2, sTW2, sCL2, sCW2, sLA2, sLI, sTW2],
    /*ack*/
    [sCL2, sES2, sSS2, sES2, sFW2, sTW2, sCL2, sCW2, sCL2, sLI, sES2],
    /*rst*/
    [sCL2, sCL2, sCL2, sSR2, sCL2, sCL2, sCL2, sCL2, sLA2, sLI, sSR2]
  ],
  // OUTPUT
  [
    /*syn*/
    [sSS2, sES2, sSS2, sSR2, sSS2, sSS2, sSS2, sSS2, sSS2, sLI, sSR2],
    /*fin*/
    [sTW2, sFW2, sSS2, sTW2, sFW2, sTW2, sCL2, sTW2, sLA2, sLI, sTW2],
    /*ack*/
    [sES2, sES2, sSS2, sES2, sFW2, sTW2, sCL2, sCW2, sLA2, sES2, sES2],
    /*rst*/
    [sCL2, sCL2, sSS2, sCL2, sCL2, sTW2, sCL2, sCL2, sCL2, sCL2, sCL2]
  ],
  // INPUT-ONLY
  [
    /*syn*/
    [sSR2, sES2, sES2, sSR2, sSR2, sSR2, sSR2, sSR2, sSR2, sSR2, sSR2],
    /*fin*/
    [sCL2, sFW2, sSS2, sTW2, sFW2, sTW2, sCL2, sCW2, sLA2, sLI, sTW2],
    /*ack*/
    [sCL2, sES2, sSS2, sES2, sFW2, sTW2, sCL2, sCW2, sCL2, sLI, sES2],
    /*rst*/
    [sCL2, sCL2, sCL2, sSR2, sCL2, sCL2, sCL2, sCL2, sLA2, sLI, sCL2]
  ]
];
var DIR_INPUT = 0;
var DIR_OUTPUT = 1;
var DIR_INPUT_ONLY = 2;
function tcpStateIdx(flags) {
  if ((flags & TcpFlag.RST) !== 0) return 3;
  if ((flags & TcpFlag.SYN) !== 0) return 0;
  if ((flags & TcpFlag.FIN) !== 0) return 1;
  if ((flags & TcpFlag.ACK) !== 0) return 2;
  return -1;
}
var NEW_CONN_TIMEOUT_NS = 3 * NS_PER_S;
var DEFAULT_PERSIST_TIMEOUT_S = 300;
var FTP_PORT = 21;
var HASH_BITS = 12;
function protoIndex(protocol) {
  if (protocol === Protocol.TCP) return 0;
  if (protocol === Protocol.UDP) return 1;
  if (protocol === 132) return 2;
  return -1;
}
function serviceKey(protocol, addr, port) {
  return (protoIndex(protocol) * 4294967296 + (addr >>> 0)) * 65536 + port;
}
function mix(a, b, c, d, e) {
  let h = Math.imul(a ^ 2654435769, 2246822507);
  h = Math.imul(h ^ b ^ h >>> 13, 3266489909);
  h = Math.imul(h ^ c ^ h >>> 16, 2246822507);
  h = Math.imul(h ^ d ^ h >>> 13, 3266489909);
  h = Math.imul(h ^ e ^ h >>> 16, 2246822507);
  return (h ^ h >>> 15) >>> 0;
}
var Ipvs = class {
  conntrack;
  connReuseMode;
  expireNodestConn;
  expireQuiescentTemplate;
  timeouts;
  kernelConnReuseFix;
  kernelExpireNodestFlush;
  mhTabIndex;
  dests = new DestColumns();
  services = [];
  /** The connection id of the last XMIT verdict (or -1). */
  lastConn = -1;
  /** The dest removed-but-referenced ("trash", ip_vs_ctl.c) by (svc, addr, port), for revival. */
  trash = /* @__PURE__ */ new Map();
  byKey = /* @__PURE__ */ new Map();
  link;
  // connection columns
  cap = 1024;
  cProto = new Uint8Array(this.cap);
  cFlags = new Int32Array(this.cap);
  cState = new Uint8Array(this.cap);
  cCaddr = new Uint32Array(this.cap);
  cCport = new Uint16Array(this.cap);
  cVaddr = new Uint32Array(this.cap);
  cVport = new Uint16Array(this.cap);
  cDaddr = new Uint32Array(this.cap);
  cDport = new Uint16Array(this.cap);
  cDest = new Int32Array(this.cap);
  cControl = new Int32Array(this.cap);
  cNControl = new Int32Array(this.cap);
  cTimeoutNs = new Float64Array(this.cap);
  cExpiresNs = new Float64Array(this.cap);
  cInUse = new Uint8Array(this.cap);
  cInNext = new Int32Array(this.cap);
  cOutNext = new Int32Array(this.cap);
  cInHashed = new Uint8Array(this.cap);
  /** The id has an entry in the timer heap; a released id is reused only after that entry pops. */
  cInHeap = new Uint8Array(this.cap);
  cFree = [];
  cNext = 0;
  /** Buckets double when connections outnumber them twice (wall time only: lookups find the same entry). */
  hashMask = (1 << HASH_BITS) - 1;
  inHead = new Int32Array(1 << HASH_BITS).fill(-1);
  outHead = new Int32Array(1 << HASH_BITS).fill(-1);
  connCount = 0;
  /** Most connections (templates included) the table held at once (results: IPVS table peak). */
  peakConnections = 0;
  /** Connections and templates ip_vs_conn_new created, over the table's life. */
  connsCreated = 0;
  // timer heap: (deadline, id) pairs, at most one per connection
  heapAt = new Float64Array(this.cap);
  heapId = new Int32Array(this.cap);
  heapLen = 0;
  constructor(options = {}, link) {
    this.conntrack = options.conntrack ?? false;
    this.connReuseMode = options.connReuseMode ?? 1;
    this.expireNodestConn = options.expireNodestConn ?? false;
    this.expireQuiescentTemplate = options.expireQuiescentTemplate ?? false;
    this.timeouts = options.timeouts ?? LINUX_IPVS_TIMEOUTS;
    this.kernelConnReuseFix = options.kernelConnReuseFix ?? true;
    this.kernelExpireNodestFlush = options.kernelExpireNodestFlush ?? true;
    this.mhTabIndex = options.mhTabIndex ?? MH_TAB_INDEX_DEFAULT;
    this.link = link;
  }
  // ---------------- control plane (the netlink calls kube-proxy makes) ----------------
  /** IP_VS_SO_SET_ADD / IPVS_CMD_NEW_SERVICE. Returns the service id; throws if it exists. */
  addService(spec) {
    assert(protoIndex(spec.protocol) >= 0, `IPVS service protocol ${spec.protocol} unsupported`);
    const key = serviceKey(spec.protocol, spec.addr, spec.port);
    assert(!this.byKey.has(key), "IPVS service exists (EEXIST)");
    const id = this.services.length;
    const svc = {
      id,
      protocol: spec.protocol,
      addr: spec.addr >>> 0,
      port: spec.port,
      scheduler: spec.scheduler,
      flags: spec.flags ?? 0,
      timeoutNs: (spec.timeoutS ?? DEFAULT_PERSIST_TIMEOUT_S) * NS_PER_S,
      netmask: (spec.netmask ?? 4294967295) >>> 0,
      dests: [],
      sched: new SchedState(spec.scheduler, this.mhTabIndex),
      deleted: false,
      conns: 0,
      inPkts: 0,
      outPkts: 0,
      inBytes: 0,
      outBytes: 0
    };
    schedInit(svc.sched, svc.dests, this.dests);
    this.services.push(svc);
    this.byKey.set(key, id);
    return id;
  }
  /** IP_VS_SO_SET_EDIT: scheduler change re-inits its state (ip_vs_edit_service binds the new one). */
  editService(id, spec) {
    const svc = this.liveService(id);
    if (spec.scheduler !== svc.scheduler) {
      svc.scheduler = spec.scheduler;
      svc.sched = new SchedState(spec.scheduler, this.mhTabIndex);
      schedInit(svc.sched, svc.dests, this.dests);
    }
    svc.flags = spec.flags ?? 0;
    svc.timeoutNs = (spec.timeoutS ?? DEFAULT_PERSIST_TIMEOUT_S) * NS_PER_S;
    svc.netmask = (spec.netmask ?? 4294967295) >>> 0;
  }
  /** IP_VS_SO_SET_DEL: unlinks every dest (they stay referenced by their connections). */
  deleteService(id) {
    const svc = this.liveService(id);
    while (svc.dests.length > 0) this.unlinkDest(svc, svc.dests[0]);
    svc.deleted = true;
    this.byKey.delete(serviceKey(svc.protocol, svc.addr, svc.port));
    this.enqueueExpireNodest();
  }
  findService(protocol, addr, port) {
    return this.byKey.get(serviceKey(protocol, addr, port)) ?? -1;
  }
  /**
   * IP_VS_SO_SET_ADDDEST (ip_vs_add_dest): a dest still in the trash (deleted but referenced) with
   * the same address/port is revived with its counters, as ip_vs_trash_get_dest does; otherwise a new
   * one. Either way it is inserted at the list head (list_add_rcu).
   */
  addDest(svcId, addr, port, weight) {
    const svc = this.liveService(svcId);
    assert(weight >= 0, "weight must be >= 0");
    assert(this.findDest(svc, addr, port) < 0, "IPVS dest exists (EEXIST)");
    const tkey = `${svcId}/${addr >>> 0}/${port}`;
    let id = this.trash.get(tkey);
    if (id !== void 0) this.trash.delete(tkey);
    else id = this.dests.allocate(svcId, addr, port);
    this.dests.lastWeight[id] = weight;
    this.dests.weight[id] = weight;
    this.dests.flags[id] |= DEST_F_AVAILABLE;
    svc.dests.unshift(id);
    schedAddDest(svc.sched, svc.dests, this.dests);
    return id;
  }
  /** IP_VS_SO_SET_EDITDEST: weight change (last_weight keeps the latest non-zero weight). */
  editDest(svcId, addr, port, weight) {
    const svc = this.liveService(svcId);
    const id = this.findDest(svc, addr, port);
    assert(id >= 0, "IPVS dest not found (ENOENT)");
    assert(weight >= 0, "weight must be >= 0");
    if (weight !== 0) this.dests.lastWeight[id] = weight;
    this.dests.weight[id] = weight;
    schedUpdDest(svc.sched, svc.dests, this.dests);
  }
  /**
   * `ipvsadm -e -x upper -y lower`: connection thresholds. At `upper` total connections the dest
   * is marked overloaded (ip_vs_bind_dest); it clears below `lower`, or below 3/4 of `upper`
   * without a lower threshold (ip_vs_unbind_dest). 0 = no threshold.
   */
  setDestThresholds(svcId, addr, port, upper, lower) {
    const svc = this.liveService(svcId);
    const id = this.findDest(svc, addr, port);
    assert(id >= 0, "IPVS dest not found (ENOENT)");
    this.dests.upperThreshold[id] = upper;
    this.dests.lowerThreshold[id] = lower;
  }
  /** IP_VS_SO_SET_DELDEST: unlink now; the dest data lives on while connections reference it. */
  deleteDest(svcId, addr, port) {
    const svc = this.liveService(svcId);
    const id = this.findDest(svc, addr, port);
    assert(id >= 0, "IPVS dest not found (ENOENT)");
    this.unlinkDest(svc, id);
    this.enqueueExpireNodest();
  }
  /** ip_vs_enqueue_expire_nodest_conns: only with expire_nodest_conn=1 (and a >= 5.9 kernel). */
  enqueueExpireNodest() {
    if (this.expireNodestConn && this.kernelExpireNodestFlush) this.expireNodestConnFlush();
  }
  /**
   * ip_vs_expire_nodest_conn_flush (ip_vs_conn.c): delete every connection whose dest is no longer
   * available, skipping templates that still control connections; a template whose last user went
   * is deleted with it.
   */
  expireNodestConnFlush() {
    for (let id = 0; id < this.cNext; id++) {
      if (this.cInUse[id] === 0) continue;
      const dest = this.cDest[id];
      if (dest < 0 || (this.dests.flags[dest] & DEST_F_AVAILABLE) !== 0) continue;
      if (this.cNControl[id] > 0) continue;
      const ct = this.cControl[id];
      this.release(id);
      if (ct >= 0 && this.cInUse[ct] !== 0 && this.cNControl[ct] === 0) this.release(ct);
    }
  }
  findDest(svc, addr, port) {
    for (const id of svc.dests) if (this.dests.addr[id] === addr >>> 0 && this.dests.port[id] === port) return id;
    return -1;
  }
  unlinkDest(svc, id) {
    const idx = svc.dests.indexOf(id);
    const prev = idx > 0 ? svc.dests[idx - 1] : -1;
    svc.dests.splice(idx, 1);
    this.dests.flags[id] &= ~DEST_F_AVAILABLE;
    schedDelDest(svc.sched, svc.dests, this.dests, id, prev);
    if (this.dests.refs[id] === 0) this.dests.free(id);
    else this.trash.set(`${svc.id}/${this.dests.addr[id]}/${this.dests.port[id]}`, id);
  }
  liveService(id) {
    const svc = this.services[id];
    assert(svc !== void 0 && !svc.deleted, `IPVS service ${id} does not exist`);
    return svc;
  }
  // ---------------- data plane ----------------
  /**
   * ip_vs_in() for a packet from a client towards a VIP (LOCAL_IN / LOCAL_OUT request hooks).
   * `ctConfirmed`: the packet's nf_conntrack entry is confirmed (an old flow), which decides whether
   * a rescheduled connection must drop the packet (ip_vs_conn_uses_old_conntrack).
   */
  packetIn(protocol, saddr, sport, daddr, dport, tcpFlags, bytes, ctConfirmed, nowNs) {
    this.advance(nowNs);
    this.lastConn = -1;
    if (protoIndex(protocol) < 0 || protocol === 132) return IpvsVerdict.ACCEPT;
    let cp = this.lookupIn(protocol, saddr, sport, daddr, dport, false);
    const isTcp = protocol === Protocol.TCP;
    const syn = isTcp && (tcpFlags & TcpFlag.SYN) !== 0;
    if (syn && cp >= 0 && this.cControl[cp] < 0) {
      const dest2 = this.cDest[cp];
      let resched = false;
      let oldCt = false;
      if (this.expireNodestConn && dest2 >= 0 && this.dests.weight[dest2] === 0) {
        resched = true;
        oldCt = this.usesOldConntrack(cp, ctConfirmed);
      } else if (this.connReuseMode !== 0 && this.isNewConnExpected(cp)) {
        oldCt = this.usesOldConntrack(cp, ctConfirmed);
        resched = this.cNControl[cp] === 0 ? true : !oldCt;
      }
      if (resched) {
        if (!oldCt) this.cFlags[cp] &= ~ConnFlag.NFCT;
        if (this.cNControl[cp] === 0) this.expireNow(cp);
        if (oldCt) return IpvsVerdict.DROP_OLD_CONNTRACK;
        cp = -1;
      }
    }
    if (cp >= 0 && this.cDest[cp] >= 0 && (this.dests.flags[this.cDest[cp]] & DEST_F_AVAILABLE) === 0) {
      if (!this.expireNodestConn) return IpvsVerdict.DROP_NO_DEST;
      const oldCt = this.usesOldConntrack(cp, ctConfirmed);
      if (!oldCt) this.cFlags[cp] &= ~ConnFlag.NFCT;
      this.expireNow(cp);
      if (oldCt) return IpvsVerdict.DROP_OLD_CONNTRACK;
      cp = -1;
    }
    if (cp < 0) {
      const svcId = this.findService(protocol, daddr, dport);
      if (svcId < 0) return IpvsVerdict.ACCEPT;
      if (isTcp && (!syn || (tcpFlags & TcpFlag.RST) !== 0)) return IpvsVerdict.ACCEPT;
      const svc = this.services[svcId];
      cp = (svc.flags & SvcFlag.PERSISTENT) !== 0 ? this.schedPersist(svc, protocol, saddr, sport, daddr, dport, nowNs) : this.schedNew(svc, protocol, saddr, sport, daddr, dport, nowNs);
      if (cp < 0) return IpvsVerdict.LEAVE_UNREACHABLE;
    }
    const dest = this.cDest[cp];
    if (dest >= 0 && (this.dests.flags[dest] & DEST_F_AVAILABLE) !== 0) {
      this.dests.inPkts[dest]++;
      this.dests.inBytes[dest] += bytes;
      const svc = this.services[this.dests.service[dest]];
      svc.inPkts++;
      svc.inBytes += bytes;
    }
    this.setState(cp, DIR_INPUT, tcpFlags);
    this.cExpiresNs[cp] = nowNs + this.cTimeoutNs[cp];
    this.lastConn = cp;
    return IpvsVerdict.XMIT;
  }
  /**
   * ip_vs_out() for a reply from a real server (LOCAL_IN/LOCAL_OUT reply hooks): the connection it
   * belongs to (its VIP:port becomes the reply's source), or -1 if none.
   */
  packetOut(protocol, saddr, sport, daddr, dport, tcpFlags, bytes, nowNs) {
    this.advance(nowNs);
    const h = this.outHash(protocol, saddr, sport, daddr, dport);
    let cp = this.outHead[h];
    while (cp >= 0) {
      if (this.cProto[cp] === protocol && this.cDaddr[cp] === saddr >>> 0 && this.cDport[cp] === sport && this.cCaddr[cp] === daddr >>> 0 && this.cCport[cp] === dport && (this.cFlags[cp] & ConnFlag.TEMPLATE) === 0)
        break;
      cp = this.cOutNext[cp];
    }
    if (cp < 0) return -1;
    const dest = this.cDest[cp];
    if (dest >= 0 && (this.dests.flags[dest] & DEST_F_AVAILABLE) !== 0) {
      this.dests.outPkts[dest]++;
      this.dests.outBytes[dest] += bytes;
      const svc = this.services[this.dests.service[dest]];
      svc.outPkts++;
      svc.outBytes += bytes;
    }
    this.setState(cp, DIR_OUTPUT, tcpFlags);
    this.cExpiresNs[cp] = nowNs + this.cTimeoutNs[cp];
    return cp;
  }
  /**
   * ip_vs_conn_out_get without side effects (no stats, state or timer change): the connection whose
   * real server sent this packet (saddr:sport = dest, daddr:dport = client), or -1. For xt_ipvs.
   */
  lookupOut(protocol, saddr, sport, daddr, dport) {
    let cp = this.outHead[this.outHash(protocol, saddr, sport, daddr, dport)];
    while (cp >= 0) {
      if (this.cProto[cp] === protocol && this.cDaddr[cp] === saddr >>> 0 && this.cDport[cp] === sport && this.cCaddr[cp] === daddr >>> 0 && this.cCport[cp] === dport && (this.cFlags[cp] & ConnFlag.TEMPLATE) === 0)
        return cp;
      cp = this.cOutNext[cp];
    }
    return -1;
  }
  /** Fire every connection timer due at or before nowNs, in deadline order. */
  advance(nowNs) {
    while (this.heapLen > 0 && this.heapAt[0] <= nowNs) {
      const at = this.heapAt[0];
      const id = this.heapId[0];
      this.heapPop();
      this.cInHeap[id] = 0;
      if (this.cInUse[id] === 0) {
        this.cFree.push(id);
        continue;
      }
      if (this.cExpiresNs[id] > at) {
        this.heapPush(this.cExpiresNs[id], id);
        continue;
      }
      if (this.cNControl[id] > 0) {
        this.cExpiresNs[id] = at + this.cTimeoutNs[id];
        this.heapPush(this.cExpiresNs[id], id);
        continue;
      }
      this.release(id);
    }
  }
  // ---------------- connection accessors (for the transmitter and printers) ----------------
  connDest(id) {
    return this.cDest[id];
  }
  connDaddr(id) {
    return this.cDaddr[id];
  }
  connDport(id) {
    return this.cDport[id];
  }
  connVaddr(id) {
    return this.cVaddr[id];
  }
  connVport(id) {
    return this.cVport[id];
  }
  connState(id) {
    return this.cState[id];
  }
  connUsesConntrack(id) {
    return (this.cFlags[id] & ConnFlag.NFCT) !== 0;
  }
  /** Connections including templates (ip_vs_conn_count). */
  get connectionCount() {
    return this.connCount;
  }
  /** The state of every virtual service, in creation order (`ipvsadm -Ln --stats`). */
  snapshot() {
    const d = this.dests;
    return this.services.filter((s) => !s.deleted).map((s) => ({
      protocol: s.protocol,
      addr: s.addr,
      port: s.port,
      scheduler: s.scheduler,
      flags: s.flags,
      timeoutS: s.timeoutNs / NS_PER_S,
      netmask: s.netmask,
      conns: s.conns,
      inPkts: s.inPkts,
      outPkts: s.outPkts,
      inBytes: s.inBytes,
      outBytes: s.outBytes,
      realServers: s.dests.map((id) => ({
        addr: d.addr[id],
        port: d.port[id],
        weight: d.weight[id],
        activeConns: d.activeConns[id],
        inactConns: d.inactConns[id],
        persistConns: d.persistConns[id],
        conns: d.conns[id],
        inPkts: d.inPkts[id],
        outPkts: d.outPkts[id],
        inBytes: d.inBytes[id],
        outBytes: d.outBytes[id]
      }))
    }));
  }
  /** Every live connection and template (`ipvsadm -Lnc`), in id order. */
  connections(nowNs) {
    const out = [];
    for (let id = 0; id < this.cNext; id++) {
      if (this.cInUse[id] === 0) continue;
      const template = (this.cFlags[id] & ConnFlag.TEMPLATE) !== 0;
      out.push({
        protocol: this.cProto[id],
        template,
        state: template ? "NONE" : this.cProto[id] === Protocol.TCP ? IPVS_TCP_STATE_NAMES[this.cState[id]] : "UDP",
        expiresInNs: Math.max(0, this.cExpiresNs[id] - nowNs),
        caddr: this.cCaddr[id],
        cport: this.cCport[id],
        vaddr: this.cVaddr[id],
        vport: this.cVport[id],
        daddr: this.cDaddr[id],
        dport: this.cDport[id]
      });
    }
    return out;
  }
  /**
   * Consistency audit for tests and fuzzing: recomputes every dest's counters and references from
   * the live connections and checks hash chains, the timer heap and the service lists. Returns the
   * problems found (empty when consistent). O(connections); never called on the packet path.
   */
  verify() {
    const problems = [];
    const d = this.dests;
    const active = /* @__PURE__ */ new Map();
    const inact = /* @__PURE__ */ new Map();
    const persist = /* @__PURE__ */ new Map();
    const refs = /* @__PURE__ */ new Map();
    const inc = (m, k) => {
      m.set(k, (m.get(k) ?? 0) + 1);
    };
    const inHeap = /* @__PURE__ */ new Map();
    for (let i = 0; i < this.heapLen; i++) inc(inHeap, this.heapId[i]);
    let live = 0;
    for (let id = 0; id < this.cNext; id++) {
      if (this.cInUse[id] === 0) continue;
      live++;
      const template = (this.cFlags[id] & ConnFlag.TEMPLATE) !== 0;
      const dest = this.cDest[id];
      if (dest >= 0) {
        inc(refs, dest);
        if (template) inc(persist, dest);
        else if ((this.cFlags[id] & ConnFlag.INACTIVE) !== 0) inc(inact, dest);
        else inc(active, dest);
      }
      if (inHeap.get(id) !== 1) problems.push(`conn ${id} has ${inHeap.get(id) ?? 0} timer entries`);
      if (this.cInHashed[id] !== 0) {
        const found = this.lookupIn(
          this.cProto[id],
          this.cCaddr[id],
          this.cCport[id],
          this.cVaddr[id],
          this.cVport[id],
          template
        );
        if (found < 0) problems.push(`conn ${id} not found in its hash chain`);
      } else if (!template || (this.cFlags[id] & CONN_INVALID) === 0) problems.push(`conn ${id} unhashed while live`);
      const ct = this.cControl[id];
      if (ct >= 0 && (this.cInUse[ct] === 0 || (this.cFlags[ct] & ConnFlag.TEMPLATE) === 0))
        problems.push(`conn ${id} controlled by a dead or non-template ${ct}`);
    }
    if (live !== this.connCount) problems.push(`connCount ${this.connCount} != live ${live}`);
    let dead = 0;
    for (let id = 0; id < this.cNext; id++) if (this.cInUse[id] === 0 && this.cInHeap[id] !== 0) dead++;
    if (this.heapLen !== live + dead)
      problems.push(`heap holds ${this.heapLen} entries for ${live} connections and ${dead} released ids`);
    for (let id = 0; id < this.cNext; id++) {
      if (this.cInUse[id] === 0 || (this.cFlags[id] & ConnFlag.TEMPLATE) === 0) continue;
      let users = 0;
      for (let c = 0; c < this.cNext; c++) if (this.cInUse[c] !== 0 && this.cControl[c] === id) users++;
      if (users !== this.cNControl[id]) problems.push(`template ${id} n_control ${this.cNControl[id]} != ${users}`);
    }
    for (let dest = 0; dest < d.capacity; dest++) {
      if (d.service[dest] < 0) {
        if ((refs.get(dest) ?? 0) > 0) problems.push(`freed dest ${dest} still referenced`);
        continue;
      }
      const want = [
        ["activeconns", d.activeConns[dest], active.get(dest) ?? 0],
        ["inactconns", d.inactConns[dest], inact.get(dest) ?? 0],
        ["persistconns", d.persistConns[dest], persist.get(dest) ?? 0],
        ["refs", d.refs[dest], refs.get(dest) ?? 0]
      ];
      for (const [name, have, should] of want)
        if (have !== should) problems.push(`dest ${dest} ${name} ${have} != ${should}`);
      const linked = (d.flags[dest] & DEST_F_AVAILABLE) !== 0;
      const listed = this.services[d.service[dest]].dests.includes(dest);
      if (linked !== listed) problems.push(`dest ${dest} available=${linked} but listed=${listed}`);
      if (!linked && d.refs[dest] === 0) problems.push(`unlinked dest ${dest} without references not freed`);
    }
    return problems;
  }
  // ---------------- internals ----------------
  /** is_new_conn_expected (TCP): TIME_WAIT or CLOSE, or FIN_WAIT without output with bit 2. */
  isNewConnExpected(cp) {
    if (this.cProto[cp] !== Protocol.TCP) return false;
    const st = this.cState[cp];
    return st === IpvsTcpState.TIME_WAIT || st === IpvsTcpState.CLOSE || (this.connReuseMode & 2) !== 0 && st === IpvsTcpState.FIN_WAIT && (this.cFlags[cp] & ConnFlag.NOOUTPUT) !== 0;
  }
  /**
   * ip_vs_conn_uses_old_conntrack (>= 5.9): the packet's conntrack is confirmed. Before 5.9
   * (ip_vs_conn_uses_conntrack): the connection has NFCT and the packet has any conntrack, which with
   * nf_conntrack loaded is always, so every reschedule with conntrack=1 dropped the packet.
   */
  usesOldConntrack(cp, ctConfirmed) {
    if (!this.conntrack) return false;
    return this.kernelConnReuseFix ? ctConfirmed : (this.cFlags[cp] & ConnFlag.NFCT) !== 0;
  }
  /** ip_vs_schedule, non-persistent: the scheduler's pick, then ip_vs_conn_new + bind. */
  schedNew(svc, protocol, saddr, sport, daddr, dport, nowNs) {
    const dest = schedule(svc.sched, svc.dests, this.dests, svc.flags, saddr, sport, daddr);
    if (dest < 0) return -1;
    const cp = this.newConn(
      protocol,
      saddr,
      sport,
      daddr,
      dport,
      this.dests.addr[dest],
      this.dests.port[dest],
      0,
      dest,
      nowNs
    );
    this.connStats(svc, dest);
    return cp;
  }
  /**
   * ip_vs_sched_persist: the template (protocol, client addr & netmask, port 0, VIP:port) names the
   * (template layout read from ip_vs_core.c: `<protocol, caddr, 0, vaddr, vport, daddr, dport>`)
   * dest for this client; a missing or invalid one (ip_vs_check_template: dest gone, or weight 0 with
   * expire_quiescent_template) is replaced by a fresh pick. The template's timer restarts at the
   * service timeout on every use (ip_vs_conn_put).
   */
  schedPersist(svc, protocol, saddr, sport, daddr, dport, nowNs) {
    const snet = (saddr & svc.netmask) >>> 0;
    const ftp = svc.port === FTP_PORT;
    const tport = ftp ? 0 : dport;
    let ct = this.lookupIn(protocol, snet, 0, daddr, tport, true);
    if (ct >= 0 && !this.checkTemplate(ct)) ct = -1;
    let dest;
    if (ct < 0) {
      dest = schedule(svc.sched, svc.dests, this.dests, svc.flags, saddr, sport, daddr);
      if (dest < 0) return -1;
      ct = this.newConn(
        protocol,
        snet,
        0,
        daddr,
        tport,
        this.dests.addr[dest],
        ftp ? 0 : this.dests.port[dest],
        ConnFlag.TEMPLATE,
        dest,
        nowNs
      );
      this.cTimeoutNs[ct] = svc.timeoutNs;
    } else {
      dest = this.cDest[ct];
    }
    this.cExpiresNs[ct] = nowNs + this.cTimeoutNs[ct];
    const cp = this.newConn(
      protocol,
      saddr,
      sport,
      daddr,
      dport,
      this.dests.addr[dest],
      this.dests.port[dest],
      0,
      dest,
      nowNs
    );
    this.cControl[cp] = ct;
    this.cNControl[ct]++;
    this.connStats(svc, dest);
    return cp;
  }
  /**
   * ip_vs_check_template(ct, NULL): false invalidates the template. The kernel rehashes it with
   * vport/dport 0xffff so no lookup finds it again; here it is unhashed, which is the same to lookups.
   */
  checkTemplate(ct) {
    const dest = this.cDest[ct];
    if (dest < 0 || (this.dests.flags[dest] & DEST_F_AVAILABLE) === 0 || this.expireQuiescentTemplate && this.dests.weight[dest] === 0) {
      this.unhashIn(ct);
      this.cFlags[ct] |= CONN_INVALID;
      return false;
    }
    return true;
  }
  /** ip_vs_conn_stats. */
  connStats(svc, dest) {
    this.dests.conns[dest]++;
    svc.conns++;
  }
  newConn(protocol, caddr, cport, vaddr, vport, daddr, dport, flags, dest, nowNs) {
    let id = this.cFree.pop();
    if (id === void 0) {
      if (this.cNext === this.cap) this.grow();
      id = this.cNext++;
    }
    this.cInUse[id] = 1;
    this.cProto[id] = protocol;
    this.cCaddr[id] = caddr >>> 0;
    this.cCport[id] = cport;
    this.cVaddr[id] = vaddr >>> 0;
    this.cVport[id] = vport;
    this.cDaddr[id] = daddr >>> 0;
    this.cDport[id] = dport;
    this.cState[id] = 0;
    this.cControl[id] = -1;
    this.cNControl[id] = 0;
    this.cTimeoutNs[id] = NEW_CONN_TIMEOUT_NS;
    this.cExpiresNs[id] = nowNs + NEW_CONN_TIMEOUT_NS;
    this.cFlags[id] = flags | ConnFlag.MASQ | ConnFlag.INACTIVE | (this.conntrack ? ConnFlag.NFCT : 0);
    this.cDest[id] = dest;
    const d = this.dests;
    d.refs[dest]++;
    if ((flags & ConnFlag.TEMPLATE) === 0) d.inactConns[dest]++;
    else d.persistConns[dest]++;
    if (d.upperThreshold[dest] !== 0 && d.totalConns(dest) >= d.upperThreshold[dest]) d.flags[dest] |= DEST_F_OVERLOAD;
    this.hashIn(id);
    if ((flags & ConnFlag.TEMPLATE) === 0) {
      const h = this.outHash(protocol, daddr, dport, caddr, cport);
      this.cOutNext[id] = this.outHead[h];
      this.outHead[h] = id;
    }
    this.heapPush(this.cExpiresNs[id], id);
    this.connCount++;
    this.connsCreated++;
    if (this.connCount > this.peakConnections) this.peakConnections = this.connCount;
    if (this.connCount > 2 * (this.hashMask + 1)) this.rehash();
    return id;
  }
  /** set_tcp_state / udp_state_transition, with the active/inactive counter moves. */
  setState(cp, direction, tcpFlags) {
    if (this.cProto[cp] !== Protocol.TCP) {
      this.cTimeoutNs[cp] = this.timeouts.udpNs;
      return;
    }
    let stateOff = direction;
    if ((this.cFlags[cp] & ConnFlag.NOOUTPUT) !== 0) {
      if (stateOff === DIR_OUTPUT) this.cFlags[cp] &= ~ConnFlag.NOOUTPUT;
      else stateOff = DIR_INPUT_ONLY;
    }
    const idx = tcpStateIdx(tcpFlags);
    const old = this.cState[cp];
    const next = idx < 0 ? IpvsTcpState.CLOSE : TCP_STATES[stateOff][idx][old];
    if (next !== old) {
      const dest = this.cDest[cp];
      if (dest >= 0) {
        const inactive = (this.cFlags[cp] & ConnFlag.INACTIVE) !== 0;
        if (!inactive && next !== IpvsTcpState.ESTABLISHED) {
          this.dests.activeConns[dest]--;
          this.dests.inactConns[dest]++;
          this.cFlags[cp] |= ConnFlag.INACTIVE;
        } else if (inactive && next === IpvsTcpState.ESTABLISHED) {
          this.dests.activeConns[dest]++;
          this.dests.inactConns[dest]--;
          this.cFlags[cp] &= ~ConnFlag.INACTIVE;
        }
      }
    }
    this.cState[cp] = next;
    this.cTimeoutNs[cp] = this.timeouts.tcpNs[next];
  }
  /** ip_vs_conn_expire_now: the timer fires at once (here: the connection goes now). */
  expireNow(cp) {
    this.release(cp);
  }
  /** ip_vs_conn_expire's teardown: unhash, control_del, unbind_dest, drop conntrack. */
  release(id) {
    const flags = this.cFlags[id];
    this.unhashIn(id);
    if ((flags & ConnFlag.TEMPLATE) === 0) this.unhashOut(id);
    const ct = this.cControl[id];
    if (ct >= 0) {
      this.cNControl[ct]--;
      this.cControl[id] = -1;
    }
    const dest = this.cDest[id];
    if (dest >= 0) {
      const d = this.dests;
      if ((flags & ConnFlag.TEMPLATE) !== 0) d.persistConns[dest]--;
      else if ((flags & ConnFlag.INACTIVE) !== 0) d.inactConns[dest]--;
      else d.activeConns[dest]--;
      if (d.lowerThreshold[dest] !== 0) {
        if (d.totalConns(dest) < d.lowerThreshold[dest]) d.flags[dest] &= ~DEST_F_OVERLOAD;
      } else if (d.upperThreshold[dest] !== 0) {
        if (d.totalConns(dest) * 4 < d.upperThreshold[dest] * 3) d.flags[dest] &= ~DEST_F_OVERLOAD;
      } else d.flags[dest] &= ~DEST_F_OVERLOAD;
      if (--d.refs[dest] === 0 && (d.flags[dest] & DEST_F_AVAILABLE) === 0) {
        const key = `${d.service[dest]}/${d.addr[dest]}/${d.port[dest]}`;
        if (this.trash.get(key) === dest) this.trash.delete(key);
        d.free(dest);
      }
      this.cDest[id] = -1;
    }
    if ((flags & ConnFlag.NFCT) !== 0 && (flags & ConnFlag.TEMPLATE) === 0 && this.link !== void 0) {
      this.link.dropConntrack(this.cProto[id], this.cCaddr[id], this.cCport[id], this.cVaddr[id], this.cVport[id]);
    }
    this.cInUse[id] = 0;
    if (this.cInHeap[id] === 0) this.cFree.push(id);
    this.connCount--;
  }
  inHash(protocol, caddr, cport, vaddr, vport) {
    return mix(protocol, caddr, cport, vaddr, vport) & this.hashMask;
  }
  outHash(protocol, daddr, dport, caddr, cport) {
    return mix(protocol ^ 256, daddr, dport, caddr, cport) & this.hashMask;
  }
  lookupIn(protocol, caddr, cport, vaddr, vport, template) {
    let cp = this.inHead[this.inHash(protocol, caddr, cport, vaddr, vport)];
    const want = template ? ConnFlag.TEMPLATE : 0;
    while (cp >= 0) {
      if (this.cProto[cp] === protocol && this.cCaddr[cp] === caddr >>> 0 && this.cCport[cp] === cport && this.cVaddr[cp] === vaddr >>> 0 && this.cVport[cp] === vport && (this.cFlags[cp] & ConnFlag.TEMPLATE) === want)
        return cp;
      cp = this.cInNext[cp];
    }
    return -1;
  }
  hashIn(id) {
    const h = this.inHash(this.cProto[id], this.cCaddr[id], this.cCport[id], this.cVaddr[id], this.cVport[id]);
    this.cInNext[id] = this.inHead[h];
    this.inHead[h] = id;
    this.cInHashed[id] = 1;
  }
  unhashIn(id) {
    if (this.cInHashed[id] === 0) return;
    this.cInHashed[id] = 0;
    const h = this.inHash(this.cProto[id], this.cCaddr[id], this.cCport[id], this.cVaddr[id], this.cVport[id]);
    let prev = -1;
    let cp = this.inHead[h];
    while (cp >= 0 && cp !== id) {
      prev = cp;
      cp = this.cInNext[cp];
    }
    assert(cp === id, "IPVS connection missing from its hash chain");
    if (prev < 0) this.inHead[h] = this.cInNext[id];
    else this.cInNext[prev] = this.cInNext[id];
  }
  unhashOut(id) {
    const h = this.outHash(this.cProto[id], this.cDaddr[id], this.cDport[id], this.cCaddr[id], this.cCport[id]);
    let prev = -1;
    let cp = this.outHead[h];
    while (cp >= 0 && cp !== id) {
      prev = cp;
      cp = this.cOutNext[cp];
    }
    assert(cp === id, "IPVS connection missing from its out hash chain");
    if (prev < 0) this.outHead[h] = this.cOutNext[id];
    else this.cOutNext[prev] = this.cOutNext[id];
  }
  rehash() {
    const size = 2 * (this.hashMask + 1);
    this.hashMask = size - 1;
    this.inHead = new Int32Array(size).fill(-1);
    this.outHead = new Int32Array(size).fill(-1);
    for (let id = 0; id < this.cNext; id++) {
      if (this.cInUse[id] === 0) continue;
      if (this.cInHashed[id] !== 0) {
        const h = this.inHash(this.cProto[id], this.cCaddr[id], this.cCport[id], this.cVaddr[id], this.cVport[id]);
        this.cInNext[id] = this.inHead[h];
        this.inHead[h] = id;
      }
      if ((this.cFlags[id] & ConnFlag.TEMPLATE) === 0) {
        const h = this.outHash(this.cProto[id], this.cDaddr[id], this.cDport[id], this.cCaddr[id], this.cCport[id]);
        this.cOutNext[id] = this.outHead[h];
        this.outHead[h] = id;
      }
    }
  }
  heapPush(at, id) {
    this.cInHeap[id] = 1;
    let i = this.heapLen++;
    while (i > 0) {
      const parent = i - 1 >> 1;
      const pa = this.heapAt[parent];
      if (pa < at || pa === at && this.heapId[parent] < id) break;
      this.heapAt[i] = pa;
      this.heapId[i] = this.heapId[parent];
      i = parent;
    }
    this.heapAt[i] = at;
    this.heapId[i] = id;
  }
  heapPop() {
    const n = --this.heapLen;
    if (n === 0) return;
    const at = this.heapAt[n];
    const id = this.heapId[n];
    let i = 0;
    for (; ; ) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && (this.heapAt[r] < this.heapAt[l] || this.heapAt[r] === this.heapAt[l] && this.heapId[r] < this.heapId[l]))
        c = r;
      if (this.heapAt[c] > at || this.heapAt[c] === at && this.heapId[c] > id) break;
      this.heapAt[i] = this.heapAt[c];
      this.heapId[i] = this.heapId[c];
      i = c;
    }
    this.heapAt[i] = at;
    this.heapId[i] = id;
  }
  grow() {
    const n = this.cap * 2;
    const u8 = (a) => {
      const b = new Uint8Array(n);
      b.set(a);
      return b;
    };
    const u16 = (a) => {
      const b = new Uint16Array(n);
      b.set(a);
      return b;
    };
    const u32 = (a) => {
      const b = new Uint32Array(n);
      b.set(a);
      return b;
    };
    const i32 = (a) => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    const f64 = (a) => {
      const b = new Float64Array(n);
      b.set(a);
      return b;
    };
    this.cProto = u8(this.cProto);
    this.cFlags = i32(this.cFlags);
    this.cState = u8(this.cState);
    this.cCaddr = u32(this.cCaddr);
    this.cCport = u16(this.cCport);
    this.cVaddr = u32(this.cVaddr);
    this.cVport = u16(this.cVport);
    this.cDaddr = u32(this.cDaddr);
    this.cDport = u16(this.cDport);
    this.cDest = i32(this.cDest);
    this.cControl = i32(this.cControl);
    this.cNControl = i32(this.cNControl);
    this.cTimeoutNs = f64(this.cTimeoutNs);
    this.cExpiresNs = f64(this.cExpiresNs);
    this.cInUse = u8(this.cInUse);
    this.cInNext = i32(this.cInNext);
    this.cOutNext = i32(this.cOutNext);
    this.cInHashed = u8(this.cInHashed);
    this.cInHeap = u8(this.cInHeap);
    this.heapAt = f64(this.heapAt);
    this.heapId = i32(this.heapId);
    this.cap = n;
  }
};

// src/netfilter/ipvs/hooks.ts
var DEFAULT_IPVS_CONN_LOOKUP_COST_NS = 100;
var DEFAULT_IPVS_NEW_CONN_COST_NS = 400;
var IpvsHookCounters = class {
  /** Packets ip_vs_in transmitted to a real server (NF_STOLEN or local NF_ACCEPT). */
  transmitted = 0;
  /** Replies ip_vs_out rewrote back to the virtual server's address. */
  replies = 0;
  /** ip_vs_leave: no available real server, ICMP port unreachable sent. */
  unreachable = 0;
  /** Dropped: connection to a deleted real server without expire_nodest_conn, or an old conntrack. */
  dropped = 0;
};
var isPorted = (protocol) => protocol === Protocol.TCP || protocol === Protocol.UDP;
var IpvsHooks = class {
  constructor(ipvs, stack, host, options = {}) {
    this.ipvs = ipvs;
    this.stack = stack;
    this.host = host;
    this.connLookupCostNs = options.connLookupCostNs ?? DEFAULT_IPVS_CONN_LOOKUP_COST_NS;
    this.newConnCostNs = options.newConnCostNs ?? DEFAULT_IPVS_NEW_CONN_COST_NS;
    const request = new RequestOp(this);
    const reply = new ReplyOp(this);
    const op = (hook, priority, handler, name) => ({
      hook,
      priority,
      handler,
      name
    });
    this.ops = [
      op(Hook.INPUT, IpvsPriority.LOCAL_IN_REPLY, reply, "ipvs reply"),
      op(Hook.INPUT, IpvsPriority.LOCAL_IN_REQUEST, request, "ipvs remote request"),
      op(Hook.OUTPUT, IpvsPriority.LOCAL_OUT_REPLY, reply, "ipvs local reply"),
      op(Hook.OUTPUT, IpvsPriority.LOCAL_OUT_REQUEST, request, "ipvs local request"),
      op(Hook.FORWARD, IpvsPriority.FORWARD_REPLY, reply, "ipvs reply")
    ];
  }
  ipvs;
  stack;
  host;
  counters = new IpvsHookCounters();
  connLookupCostNs;
  newConnCostNs;
  /**
   * The packet IPVS is sending on right now (skb->ipvs_property): ip_vs_in / ip_vs_out leave it
   * alone on its way through LOCAL_OUT (resumeStolen runs OUTPUT and POSTROUTING synchronously).
   */
  sending = null;
  ops;
  /** ip_vs_register_hooks (the first virtual service registers them in the kernel). */
  register() {
    for (const op of this.ops) this.stack.hooks.register(op);
    bindIpvsMatchSource(this.stack, this);
  }
  // IpvsMatchSource (xt_ipvs)
  hasIpvsProperty(packet) {
    return packet === this.sending;
  }
  connOut(packet) {
    return this.ipvs.lookupOut(packet.protocol, packet.srcAddr, packet.srcPort, packet.dstAddr, packet.dstPort);
  }
  connVaddr(id) {
    return this.ipvs.connVaddr(id);
  }
  connVport(id) {
    return this.ipvs.connVport(id);
  }
  unregister() {
    for (const op of this.ops) this.stack.hooks.unregister(op);
  }
  /** ip_vs_in: a packet towards a virtual service (or of one of its connections). */
  request(packet, state) {
    if (packet === this.sending || !isPorted(packet.protocol)) return Verdict.ACCEPT;
    const ipvs = this.ipvs;
    state.extraNs += this.connLookupCostNs;
    const id = packet.ctId;
    const ctConfirmed = id >= 0 && this.stack.conntrack.isConfirmed(id);
    const created = ipvs.connsCreated;
    const v = ipvs.packetIn(
      packet.protocol,
      packet.srcAddr,
      packet.srcPort,
      packet.dstAddr,
      packet.dstPort,
      packet.tcpFlags,
      packet.totalBytes,
      ctConfirmed,
      state.nowNs
    );
    if (ipvs.connsCreated !== created) state.extraNs += this.newConnCostNs;
    switch (v) {
      case IpvsVerdict.ACCEPT:
        return Verdict.ACCEPT;
      case IpvsVerdict.XMIT:
        return this.natXmit(packet, ipvs.lastConn, state);
      case IpvsVerdict.LEAVE_UNREACHABLE:
        this.counters.unreachable++;
        this.stack.lastRejectWith = RejectWith.ICMP_PORT_UNREACHABLE;
        this.stack.lastDropReason = DropReason.NETFILTER_REJECT;
        return Verdict.REJECT;
      default:
        this.counters.dropped++;
        this.stack.lastDropReason = DropReason.NETFILTER_DROP;
        return Verdict.DROP;
    }
  }
  /**
   * ip_vs_nat_xmit: conntrack first (ip_vs_nat_send_or_cont: ip_vs_update_conntrack with NFCT,
   * else ip_vs_notrack), the DNAT (dnat_handler + daddr), then NF_STOLEN and the LOCAL_OUT send, or
   * NF_ACCEPT for a real server on this host.
   */
  natXmit(packet, cp, state) {
    const ipvs = this.ipvs;
    const daddr = ipvs.connDaddr(cp);
    const dport = ipvs.connDport(cp);
    const local = this.host.isLocalAddress(daddr);
    if (!local) {
      if (packet.ttl <= 1) {
        this.counters.dropped++;
        this.stack.lastDropReason = DropReason.TTL_EXPIRED;
        return Verdict.DROP;
      }
      packet.ttl--;
    }
    if (ipvs.connUsesConntrack(cp)) this.updateConntrack(packet, cp, true);
    else this.notrack(packet);
    packet.dstAddr = daddr;
    packet.dstPort = dport;
    this.counters.transmitted++;
    return local ? Verdict.ACCEPT : Verdict.STOLEN;
  }
  /** The network hands the stolen packet over: send it on through LOCAL_OUT (dst_output). */
  takeStolen(handle, packet, readyNs) {
    this.sending = packet;
    try {
      this.host.resumeStolen(handle, readyNs);
    } finally {
      this.sending = null;
    }
  }
  /** ip_vs_out: a packet from a real server of a connection gets the virtual service's address back. */
  reply(packet, state) {
    if (packet === this.sending || !isPorted(packet.protocol)) return Verdict.ACCEPT;
    state.extraNs += this.connLookupCostNs;
    const ipvs = this.ipvs;
    const cp = ipvs.packetOut(
      packet.protocol,
      packet.srcAddr,
      packet.srcPort,
      packet.dstAddr,
      packet.dstPort,
      packet.tcpFlags,
      packet.totalBytes,
      state.nowNs
    );
    if (cp < 0) return Verdict.ACCEPT;
    packet.srcAddr = ipvs.connVaddr(cp);
    packet.srcPort = ipvs.connVport(cp);
    if (ipvs.connUsesConntrack(cp)) this.updateConntrack(packet, cp, false);
    this.counters.replies++;
    return Verdict.ACCEPT;
  }
  /**
   * ip_vs_update_conntrack (ip_vs_nfct.c): for an unconfirmed entry seen in its original direction,
   * the reply tuple is altered (nf_conntrack_alter_reply) so that the other direction matches it:
   * a request's reply comes from the real server (outin), a reply-first entry's reply goes to the
   * virtual service. Confirmed entries are never altered.
   */
  updateConntrack(packet, cp, outin) {
    const id = packet.ctId;
    const ct = this.stack.conntrack;
    if (id < 0 || ct.isConfirmed(id) || packet.ctDirection !== 0) return;
    const r = id * 2 + 1;
    const ipvs = this.ipvs;
    if (outin) ct.setReply(id, ipvs.connDaddr(cp), ct.dst[r], ipvs.connDport(cp), ct.dport[r]);
    else ct.setReply(id, ct.src[r], ipvs.connVaddr(cp), ct.sport[r], ipvs.connVport(cp));
  }
  /** ip_vs_notrack: the packet continues without conntrack (its unconfirmed entry is freed). */
  notrack(packet) {
    this.stack.discard(packet);
    packet.untracked = true;
  }
};
var RequestOp = class {
  constructor(hooks) {
    this.hooks = hooks;
  }
  hooks;
  hookFn(packet, state) {
    return this.hooks.request(packet, state);
  }
  takeStolen(handle, packet, readyNs) {
    this.hooks.takeStolen(handle, packet, readyNs);
  }
};
var ReplyOp = class {
  constructor(hooks) {
    this.hooks = hooks;
  }
  hooks;
  hookFn(packet, state) {
    return this.hooks.reply(packet, state);
  }
};

// src/proxy/ipvs/names.ts
var KUBE_SERVICES2 = "KUBE-SERVICES";
var KUBE_PROXY_FIREWALL2 = "KUBE-PROXY-FIREWALL";
var KUBE_SOURCE_RANGES_FIREWALL = "KUBE-SOURCE-RANGES-FIREWALL";
var KUBE_POSTROUTING2 = "KUBE-POSTROUTING";
var KUBE_MARK_MASQ2 = "KUBE-MARK-MASQ";
var KUBE_NODE_PORT = "KUBE-NODE-PORT";
var KUBE_FORWARD2 = "KUBE-FORWARD";
var KUBE_LOAD_BALANCER = "KUBE-LOAD-BALANCER";
var KUBE_IPVS_FILTER = "KUBE-IPVS-FILTER";
var KUBE_IPVS_OUT_FILTER = "KUBE-IPVS-OUT-FILTER";
var DUMMY_DEVICE = "kube-ipvs0";
var DEFAULT_SCHEDULER = "rr";
var IPTABLES_CHAINS = [
  { table: "nat", chain: KUBE_SERVICES2 },
  { table: "nat", chain: KUBE_POSTROUTING2 },
  { table: "nat", chain: KUBE_NODE_PORT },
  { table: "nat", chain: KUBE_LOAD_BALANCER },
  { table: "nat", chain: KUBE_MARK_MASQ2 },
  { table: "filter", chain: KUBE_FORWARD2 },
  { table: "filter", chain: KUBE_NODE_PORT },
  { table: "filter", chain: KUBE_PROXY_FIREWALL2 },
  { table: "filter", chain: KUBE_SOURCE_RANGES_FIREWALL },
  { table: "filter", chain: KUBE_IPVS_FILTER },
  { table: "filter", chain: KUBE_IPVS_OUT_FILTER }
];
var IPTABLES_JUMP_CHAINS = [
  { table: "nat", from: "OUTPUT", to: KUBE_SERVICES2, comment: "kubernetes service portals" },
  { table: "nat", from: "PREROUTING", to: KUBE_SERVICES2, comment: "kubernetes service portals" },
  { table: "nat", from: "POSTROUTING", to: KUBE_POSTROUTING2, comment: "kubernetes postrouting rules" },
  { table: "filter", from: "FORWARD", to: KUBE_FORWARD2, comment: "kubernetes forwarding rules" },
  { table: "filter", from: "INPUT", to: KUBE_NODE_PORT, comment: "kubernetes health check rules" },
  { table: "filter", from: "INPUT", to: KUBE_PROXY_FIREWALL2, comment: "kube-proxy firewall rules" },
  { table: "filter", from: "FORWARD", to: KUBE_PROXY_FIREWALL2, comment: "kube-proxy firewall rules" },
  { table: "filter", from: "INPUT", to: KUBE_IPVS_FILTER, comment: "kubernetes ipvs access filter" },
  { table: "filter", from: "OUTPUT", to: KUBE_IPVS_OUT_FILTER, comment: "kubernetes ipvs access filter" }
];
var KUBE_LOOP_BACK = "KUBE-LOOP-BACK";
var KUBE_CLUSTER_IP = "KUBE-CLUSTER-IP";
var KUBE_EXTERNAL_IP = "KUBE-EXTERNAL-IP";
var KUBE_EXTERNAL_IP_LOCAL = "KUBE-EXTERNAL-IP-LOCAL";
var KUBE_LOAD_BALANCER_SET = "KUBE-LOAD-BALANCER";
var KUBE_LOAD_BALANCER_FW = "KUBE-LOAD-BALANCER-FW";
var KUBE_LOAD_BALANCER_LOCAL = "KUBE-LOAD-BALANCER-LOCAL";
var KUBE_LOAD_BALANCER_SOURCE_IP = "KUBE-LOAD-BALANCER-SOURCE-IP";
var KUBE_LOAD_BALANCER_SOURCE_CIDR = "KUBE-LOAD-BALANCER-SOURCE-CIDR";
var KUBE_NODE_PORT_TCP = "KUBE-NODE-PORT-TCP";
var KUBE_NODE_PORT_LOCAL_TCP = "KUBE-NODE-PORT-LOCAL-TCP";
var KUBE_NODE_PORT_UDP = "KUBE-NODE-PORT-UDP";
var KUBE_NODE_PORT_LOCAL_UDP = "KUBE-NODE-PORT-LOCAL-UDP";
var KUBE_NODE_PORT_SCTP_HASH = "KUBE-NODE-PORT-SCTP-HASH";
var KUBE_NODE_PORT_LOCAL_SCTP_HASH = "KUBE-NODE-PORT-LOCAL-SCTP-HASH";
var KUBE_HEALTH_CHECK_NODE_PORT = "KUBE-HEALTH-CHECK-NODE-PORT";
var KUBE_IPVS_IPS = "KUBE-IPVS-IPS";
var IPSET_INFO = [
  {
    name: KUBE_LOOP_BACK,
    type: "hash:ip,port,ip",
    comment: "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose"
  },
  {
    name: KUBE_CLUSTER_IP,
    type: "hash:ip,port",
    comment: "Kubernetes service cluster ip + port for masquerade purpose"
  },
  {
    name: KUBE_EXTERNAL_IP,
    type: "hash:ip,port",
    comment: "Kubernetes service external ip + port for masquerade and filter purpose"
  },
  {
    name: KUBE_EXTERNAL_IP_LOCAL,
    type: "hash:ip,port",
    comment: "Kubernetes service external ip + port with externalTrafficPolicy=local"
  },
  { name: KUBE_LOAD_BALANCER_SET, type: "hash:ip,port", comment: "Kubernetes service lb portal" },
  {
    name: KUBE_LOAD_BALANCER_FW,
    type: "hash:ip,port",
    comment: "Kubernetes service load balancer ip + port for load balancer with sourceRange"
  },
  {
    name: KUBE_LOAD_BALANCER_LOCAL,
    type: "hash:ip,port",
    comment: "Kubernetes service load balancer ip + port with externalTrafficPolicy=local"
  },
  {
    name: KUBE_LOAD_BALANCER_SOURCE_IP,
    type: "hash:ip,port,ip",
    comment: "Kubernetes service load balancer ip + port + source IP for packet filter purpose"
  },
  {
    name: KUBE_LOAD_BALANCER_SOURCE_CIDR,
    type: "hash:ip,port,net",
    comment: "Kubernetes service load balancer ip + port + source cidr for packet filter purpose"
  },
  { name: KUBE_NODE_PORT_TCP, type: "bitmap:port", comment: "Kubernetes nodeport TCP port for masquerade purpose" },
  {
    name: KUBE_NODE_PORT_LOCAL_TCP,
    type: "bitmap:port",
    comment: "Kubernetes nodeport TCP port with externalTrafficPolicy=local"
  },
  { name: KUBE_NODE_PORT_UDP, type: "bitmap:port", comment: "Kubernetes nodeport UDP port for masquerade purpose" },
  {
    name: KUBE_NODE_PORT_LOCAL_UDP,
    type: "bitmap:port",
    comment: "Kubernetes nodeport UDP port with externalTrafficPolicy=local"
  },
  {
    name: KUBE_NODE_PORT_SCTP_HASH,
    type: "hash:ip,port",
    comment: "Kubernetes nodeport SCTP port for masquerade purpose with type 'hash ip:port'"
  },
  {
    name: KUBE_NODE_PORT_LOCAL_SCTP_HASH,
    type: "hash:ip,port",
    comment: "Kubernetes nodeport SCTP port with externalTrafficPolicy=local with type 'hash ip:port'"
  },
  { name: KUBE_HEALTH_CHECK_NODE_PORT, type: "bitmap:port", comment: "Kubernetes health check node port" },
  { name: KUBE_IPVS_IPS, type: "hash:ip", comment: "Addresses on the ipvs interface" }
];
var IPSET_WITH_IPTABLES_CHAIN = [
  {
    set: KUBE_LOOP_BACK,
    table: "nat",
    from: KUBE_POSTROUTING2,
    to: "MASQUERADE",
    matchType: "dst,dst,src",
    protocolMatch: ""
  },
  {
    set: KUBE_LOAD_BALANCER_SET,
    table: "nat",
    from: KUBE_SERVICES2,
    to: KUBE_LOAD_BALANCER,
    matchType: "dst,dst",
    protocolMatch: ""
  },
  {
    set: KUBE_LOAD_BALANCER_LOCAL,
    table: "nat",
    from: KUBE_LOAD_BALANCER,
    to: "RETURN",
    matchType: "dst,dst",
    protocolMatch: ""
  },
  {
    set: KUBE_NODE_PORT_LOCAL_TCP,
    table: "nat",
    from: KUBE_NODE_PORT,
    to: "RETURN",
    matchType: "dst",
    protocolMatch: "tcp"
  },
  {
    set: KUBE_NODE_PORT_TCP,
    table: "nat",
    from: KUBE_NODE_PORT,
    to: KUBE_MARK_MASQ2,
    matchType: "dst",
    protocolMatch: "tcp"
  },
  {
    set: KUBE_NODE_PORT_LOCAL_UDP,
    table: "nat",
    from: KUBE_NODE_PORT,
    to: "RETURN",
    matchType: "dst",
    protocolMatch: "udp"
  },
  {
    set: KUBE_NODE_PORT_UDP,
    table: "nat",
    from: KUBE_NODE_PORT,
    to: KUBE_MARK_MASQ2,
    matchType: "dst",
    protocolMatch: "udp"
  },
  {
    set: KUBE_NODE_PORT_LOCAL_SCTP_HASH,
    table: "nat",
    from: KUBE_NODE_PORT,
    to: "RETURN",
    matchType: "dst,dst",
    protocolMatch: "sctp"
  },
  {
    set: KUBE_NODE_PORT_SCTP_HASH,
    table: "nat",
    from: KUBE_NODE_PORT,
    to: KUBE_MARK_MASQ2,
    matchType: "dst,dst",
    protocolMatch: "sctp"
  },
  {
    set: KUBE_LOAD_BALANCER_FW,
    table: "filter",
    from: KUBE_PROXY_FIREWALL2,
    to: KUBE_SOURCE_RANGES_FIREWALL,
    matchType: "dst,dst",
    protocolMatch: ""
  },
  {
    set: KUBE_LOAD_BALANCER_SOURCE_CIDR,
    table: "filter",
    from: KUBE_SOURCE_RANGES_FIREWALL,
    to: "RETURN",
    matchType: "dst,dst,src",
    protocolMatch: ""
  },
  {
    set: KUBE_LOAD_BALANCER_SOURCE_IP,
    table: "filter",
    from: KUBE_SOURCE_RANGES_FIREWALL,
    to: "RETURN",
    matchType: "dst,dst,src",
    protocolMatch: ""
  }
];
var FLAG_PERSISTENT = 1;
var FLAG_SOURCE_HASH = 16;
var IPSET_HASH_SIZE = 1024;
var IPSET_MAX_ELEM = 65536;
var IPSET_PORT_RANGE = "0-65535";

// src/proxy/ipvs/compile.ts
var DEFAULT_IPVS_CONFIG = {
  scheduler: "",
  masqueradeAll: false,
  masqueradeBit: 14,
  clusterCIDR: null,
  randomFully: true,
  nodePortAddresses: null,
  strictARP: false,
  tcpTimeoutSeconds: 0,
  tcpFinTimeoutSeconds: 0,
  udpTimeoutSeconds: 0,
  excludeCIDRs: [],
  preferSameTrafficDistribution: false
};
function masqueradeMarkIpvs(masqueradeBit) {
  return `0x${(2 ** masqueradeBit).toString(16).padStart(8, "0")}`;
}
function effectiveScheduler(config) {
  return config.scheduler === "" ? DEFAULT_SCHEDULER : config.scheduler;
}
var CONN_REUSE_MODE_FIXED_KERNEL = { major: 5, minor: 9 };
var CONN_REUSE_MODE_MIN_KERNEL = { major: 4, minor: 1 };
function kernelLess(a, b) {
  return a.major < b.major || a.major === b.major && a.minor < b.minor;
}
function ipvsSysctls(config, kernel) {
  const out = [{ path: "net/ipv4/vs/conntrack", value: 1 }];
  if (!kernelLess(kernel, CONN_REUSE_MODE_MIN_KERNEL) && kernelLess(kernel, CONN_REUSE_MODE_FIXED_KERNEL))
    out.push({ path: "net/ipv4/vs/conn_reuse_mode", value: 0 });
  out.push({ path: "net/ipv4/vs/expire_nodest_conn", value: 1 });
  out.push({ path: "net/ipv4/vs/expire_quiescent_template", value: 1 });
  out.push({ path: "net/ipv4/ip_forward", value: 1 });
  if (config.strictARP) {
    out.push({ path: "net/ipv4/conf/all/arp_ignore", value: 1 });
    out.push({ path: "net/ipv4/conf/all/arp_announce", value: 2 });
  }
  return out;
}
function ipvsTimeouts(config) {
  if (config.tcpTimeoutSeconds <= 0 && config.tcpFinTimeoutSeconds <= 0 && config.udpTimeoutSeconds <= 0) return null;
  return { tcp: config.tcpTimeoutSeconds, tcpFin: config.tcpFinTimeoutSeconds, udp: config.udpTimeoutSeconds };
}
function ipvsJumpRules() {
  return IPTABLES_JUMP_CHAINS.map((jump) => ({
    table: jump.table,
    chain: jump.from,
    target: jump.to,
    spec: `-m comment --comment "${jump.comment}" -j ${jump.to}`
  }));
}
function isLoopback(address) {
  return address >>> 24 === 127;
}
function ipvsNodePortIPs(nodePortAddresses, node) {
  const local = [];
  for (const text of node.ips) {
    const address = parseIpv4(text);
    if (address !== void 0 && !isLoopback(address) && !local.includes(address)) local.push(address);
  }
  const cidrs = [];
  let matchAll = false;
  for (const raw of nodePortAddresses ?? []) {
    const text = raw.trim();
    if (text === "primary") {
      const primary = parseIpv4(node.ips[0] ?? "");
      if (primary !== void 0) cidrs.push({ address: primary, prefixLength: 32, mask: 4294967295 });
      continue;
    }
    const prefix2 = parseCidr(text, false);
    if (prefix2 === void 0) continue;
    if (prefix2.prefixLength === 0) matchAll = true;
    cidrs.push(prefix2);
  }
  if (cidrs.length === 0) matchAll = true;
  const chosen = matchAll ? local : local.filter((address) => cidrs.some((prefix2) => cidrContains(prefix2, address)));
  return [...chosen].sort((a, b) => a - b).map(formatIpv4);
}
function protocolUpper(protocol) {
  return protocol === "udp" ? "UDP" : protocol === "sctp" ? "SCTP" : "TCP";
}
function realServersFor(view, onlyNodeLocal) {
  let endpoints = view.clusterEndpoints;
  if (onlyNodeLocal && view.localEndpoints.length > 0) endpoints = view.localEndpoints;
  const out = [];
  const seen = /* @__PURE__ */ new Set();
  for (const endpoint of endpoints) {
    if (seen.has(endpoint.endpoint)) continue;
    seen.add(endpoint.endpoint);
    out.push({ address: endpoint.ip, port: endpoint.port, weight: 1 });
  }
  return out;
}
function compileIpvs(services, endpointSlices, node, config) {
  const zone = nodeZone(node);
  const views = buildServicePorts(services, endpointSlices, node).map(
    (svc) => servicePortView(svc, node.name, zone, { preferSameTrafficDistribution: config.preferSameTrafficDistribution })
  );
  return compileIpvsViews(views, node, config);
}
function compileIpvsViews(views, node, config) {
  const scheduler = effectiveScheduler(config);
  const nodeIP = parseIpv4(node.ips[0] ?? "");
  const nodeAddressSet = /* @__PURE__ */ new Set();
  for (const text of node.ips) {
    const address = parseIpv4(text);
    if (address !== void 0 && !isLoopback(address)) nodeAddressSet.add(formatIpv4(address));
  }
  const hasNodePort = views.some((view) => view.nodePort !== 0);
  const nodeIPs = hasNodePort ? ipvsNodePortIPs(config.nodePortAddresses, node) : [];
  const sets = /* @__PURE__ */ new Map();
  for (const info of IPSET_INFO) sets.set(info.name, /* @__PURE__ */ new Set());
  const add = (set, entry) => {
    sets.get(set)?.add(entry);
  };
  const virtualServers = /* @__PURE__ */ new Map();
  const activeBindAddrs = /* @__PURE__ */ new Set();
  const lbNoNodeAccess = [];
  const noLocalInternal = /* @__PURE__ */ new Set();
  const noLocalExternal = /* @__PURE__ */ new Set();
  const program = (view, kind, address, port, bind, onlyNodeLocal) => {
    let flags = 0;
    let timeoutSeconds = 0;
    if (view.stickyMaxAgeSeconds > 0) {
      flags |= FLAG_PERSISTENT;
      timeoutSeconds = view.stickyMaxAgeSeconds;
    }
    if (scheduler === "mh") flags |= FLAG_SOURCE_HASH;
    const protocol = protocolUpper(view.protocol);
    const key = `${address}:${port}/${protocol}`;
    if (bind) activeBindAddrs.add(address);
    if (onlyNodeLocal && view.localEndpoints.length === 0 && view.hasAnyEndpoints) {
      if (view.internalPolicyLocal) noLocalInternal.add(view.namespacedName);
      if (view.externalPolicyLocal) noLocalExternal.add(view.namespacedName);
    }
    virtualServers.set(key, {
      key,
      address,
      port,
      protocol,
      scheduler,
      flags,
      timeoutSeconds,
      kind,
      servicePortName: view.name,
      bound: bind,
      onlyNodeLocal,
      realServers: realServersFor(view, onlyNodeLocal)
    });
  };
  for (const view of views) {
    const protocol = view.protocol;
    for (const endpoint of view.endpoints) {
      if (!endpoint.isLocal || endpoint.port === 0) continue;
      add(KUBE_LOOP_BACK, `${endpoint.ip},${protocol}:${endpoint.port},${endpoint.ip}`);
    }
    add(KUBE_CLUSTER_IP, `${view.clusterIP},${protocol}:${view.port}`);
    program(view, "ClusterIP", view.clusterIP, view.port, true, view.internalPolicyLocal);
    for (const externalIP of view.externalIPs) {
      add(
        view.externalPolicyLocal ? KUBE_EXTERNAL_IP_LOCAL : KUBE_EXTERNAL_IP,
        `${externalIP},${protocol}:${view.port}`
      );
      program(view, "ExternalIP", externalIP, view.port, !nodeAddressSet.has(externalIP), view.externalPolicyLocal);
    }
    for (const ingress of view.loadBalancerVIPs) {
      const entry = `${ingress},${protocol}:${view.port}`;
      add(KUBE_LOAD_BALANCER_SET, entry);
      if (view.externalPolicyLocal) add(KUBE_LOAD_BALANCER_LOCAL, entry);
      if (view.loadBalancerSourceRanges.length > 0) {
        add(KUBE_LOAD_BALANCER_FW, entry);
        let allowFromNode = false;
        for (const range of view.loadBalancerSourceRanges) {
          add(KUBE_LOAD_BALANCER_SOURCE_CIDR, `${entry},${range}`);
          const prefix2 = parseCidr(range, false);
          if (prefix2 !== void 0 && nodeIP !== void 0 && cidrContains(prefix2, nodeIP)) allowFromNode = true;
        }
        if (allowFromNode) add(KUBE_LOAD_BALANCER_SOURCE_IP, `${entry},${ingress}`);
        else lbNoNodeAccess.push({ ip: ingress, protocol, port: view.port });
      }
      program(view, "LoadBalancer", ingress, view.port, !nodeAddressSet.has(ingress), view.externalPolicyLocal);
    }
    if (view.nodePort !== 0) {
      if (nodeIPs.length === 0) continue;
      const entries = protocol === "sctp" ? nodeIPs.map((ip) => `${ip},sctp:${view.nodePort}`) : [`${view.nodePort}`];
      const set = protocol === "tcp" ? KUBE_NODE_PORT_TCP : protocol === "udp" ? KUBE_NODE_PORT_UDP : KUBE_NODE_PORT_SCTP_HASH;
      for (const entry of entries) add(set, entry);
      if (view.externalPolicyLocal) {
        const localSet = protocol === "tcp" ? KUBE_NODE_PORT_LOCAL_TCP : protocol === "udp" ? KUBE_NODE_PORT_LOCAL_UDP : KUBE_NODE_PORT_LOCAL_SCTP_HASH;
        for (const entry of entries) add(localSet, entry);
      }
      for (const ip of nodeIPs) program(view, "NodePort", ip, view.nodePort, false, view.externalPolicyLocal);
    }
    if (view.healthCheckNodePort !== 0) add(KUBE_HEALTH_CHECK_NODE_PORT, `${view.healthCheckNodePort}`);
  }
  const dummyAddresses = sortAddresses(activeBindAddrs);
  for (const address of dummyAddresses) add(KUBE_IPVS_IPS, address);
  const ipsets = IPSET_INFO.map((info) => ({
    info,
    entries: sortEntries(info, sets.get(info.name) ?? /* @__PURE__ */ new Set())
  }));
  const nonEmpty = (name) => (sets.get(name)?.size ?? 0) > 0;
  const rules = writeIptablesRules(config, nonEmpty, lbNoNodeAccess);
  const restoreInput = restorePayload(rules);
  return {
    dummyAddresses,
    nodePortIPs: nodeIPs,
    virtualServers: [...virtualServers.values()],
    ipsets,
    restoreInput,
    rules,
    jumpRules: ipvsJumpRules(),
    services: views,
    noLocalEndpointsInternal: [...noLocalInternal].sort(),
    noLocalEndpointsExternal: [...noLocalExternal].sort()
  };
}
function sortAddresses(addresses) {
  return [...addresses].map((text) => parseIpv4(text) ?? 0).sort((a, b) => a - b).map(formatIpv4);
}
function sortEntries(info, entries) {
  if (info.type === "bitmap:port")
    return [...entries].map(Number).sort((a, b) => a - b).map(String);
  return [...entries].sort();
}
function quoted(text) {
  return `"${text}"`;
}
function commentOf(set) {
  const info = IPSET_INFO.find((i) => i.name === set);
  return quoted(info?.comment ?? "");
}
function rule(table, chain, spec) {
  const jump = / -j (\S+)/.exec(` ${spec}`)?.[1] ?? "";
  const matchSet = /--match-set (\S+)/.exec(spec)?.[1] ?? "";
  return { table, chain, spec, jump, matchSet };
}
function writeIptablesRules(config, nonEmpty, lbNoNodeAccess) {
  const nat = [];
  const filter = [];
  const mark = masqueradeMarkIpvs(config.masqueradeBit);
  nat.push(rule("nat", KUBE_SERVICES2, "-s 127.0.0.0/8 -j RETURN"));
  for (const link of IPSET_WITH_IPTABLES_CHAIN) {
    if (!nonEmpty(link.set)) continue;
    const protocol = link.protocolMatch === "" ? "" : `-p ${link.protocolMatch} `;
    const spec = `${protocol}-m comment --comment ${commentOf(link.set)} -m set --match-set ${link.set} ${link.matchType} -j ${link.to}`;
    (link.table === "filter" ? filter : nat).push(rule(link.table, link.from, spec));
  }
  if (nonEmpty(KUBE_CLUSTER_IP)) {
    const head = `-m comment --comment ${commentOf(KUBE_CLUSTER_IP)} -m set --match-set ${KUBE_CLUSTER_IP}`;
    const detector = config.clusterCIDR === null ? "" : config.clusterCIDR.trim();
    if (config.masqueradeAll) nat.push(rule("nat", KUBE_SERVICES2, `${head} dst,dst -j ${KUBE_MARK_MASQ2}`));
    else if (detector !== "")
      nat.push(rule("nat", KUBE_SERVICES2, `${head} dst,dst ! -s ${detector} -j ${KUBE_MARK_MASQ2}`));
    else nat.push(rule("nat", KUBE_SERVICES2, `${head} src,dst -j ${KUBE_MARK_MASQ2}`));
  }
  const externalIPRules = (head) => {
    nat.push(
      rule("nat", KUBE_SERVICES2, `${head} -m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL -j ACCEPT`)
    );
    nat.push(rule("nat", KUBE_SERVICES2, `${head} -m addrtype --dst-type LOCAL -j ACCEPT`));
  };
  if (nonEmpty(KUBE_EXTERNAL_IP)) {
    const head = `-m comment --comment ${commentOf(KUBE_EXTERNAL_IP)} -m set --match-set ${KUBE_EXTERNAL_IP} dst,dst`;
    nat.push(rule("nat", KUBE_SERVICES2, `${head} -j ${KUBE_MARK_MASQ2}`));
    externalIPRules(head);
  }
  if (nonEmpty(KUBE_EXTERNAL_IP_LOCAL)) {
    externalIPRules(
      `-m comment --comment ${commentOf(KUBE_EXTERNAL_IP_LOCAL)} -m set --match-set ${KUBE_EXTERNAL_IP_LOCAL} dst,dst`
    );
  }
  nat.push(rule("nat", KUBE_SERVICES2, `-m addrtype --dst-type LOCAL -j ${KUBE_NODE_PORT}`));
  nat.push(rule("nat", KUBE_LOAD_BALANCER, `-j ${KUBE_MARK_MASQ2}`));
  filter.push(rule("filter", KUBE_SOURCE_RANGES_FIREWALL, "-j DROP"));
  for (const entry of lbNoNodeAccess) {
    filter.push(
      rule(
        "filter",
        KUBE_IPVS_OUT_FILTER,
        `-s ${entry.ip} -m ipvs --vaddr ${entry.ip} --vproto ${entry.protocol} --vport ${entry.port} -j DROP`
      )
    );
  }
  for (const set of [KUBE_CLUSTER_IP, KUBE_LOAD_BALANCER_SET]) {
    if (nonEmpty(set)) nat.push(rule("nat", KUBE_SERVICES2, `-m set --match-set ${set} dst,dst -j ACCEPT`));
  }
  filter.push(
    rule(
      "filter",
      KUBE_FORWARD2,
      `-m comment --comment "kubernetes forwarding rules" -m mark --mark ${mark}/${mark} -j ACCEPT`
    )
  );
  filter.push(
    rule(
      "filter",
      KUBE_FORWARD2,
      `-m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`
    )
  );
  filter.push(
    rule(
      "filter",
      KUBE_NODE_PORT,
      `-m comment --comment ${commentOf(KUBE_HEALTH_CHECK_NODE_PORT)} -m set --match-set ${KUBE_HEALTH_CHECK_NODE_PORT} dst -j ACCEPT`
    )
  );
  for (const [set, match2] of [
    [KUBE_LOAD_BALANCER_SET, "dst,dst"],
    [KUBE_CLUSTER_IP, "dst,dst"],
    [KUBE_EXTERNAL_IP, "dst,dst"],
    [KUBE_EXTERNAL_IP_LOCAL, "dst,dst"],
    [KUBE_HEALTH_CHECK_NODE_PORT, "dst"]
  ]) {
    filter.push(rule("filter", KUBE_IPVS_FILTER, `-m set --match-set ${set} ${match2} -j RETURN`));
  }
  filter.push(
    rule("filter", KUBE_IPVS_FILTER, `-m conntrack --ctstate NEW -m set --match-set ${KUBE_IPVS_IPS} dst -j REJECT`)
  );
  nat.push(rule("nat", KUBE_POSTROUTING2, `-m mark ! --mark ${mark}/${mark} -j RETURN`));
  nat.push(rule("nat", KUBE_POSTROUTING2, `-j MARK --xor-mark ${mark}`));
  nat.push(
    rule(
      "nat",
      KUBE_POSTROUTING2,
      `-m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE${config.randomFully ? " --random-fully" : ""}`
    )
  );
  nat.push(rule("nat", KUBE_MARK_MASQ2, `-j MARK --or-mark ${mark}`));
  return [...nat, ...filter];
}
function restorePayload(rules) {
  const out = [];
  for (const table of ["nat", "filter"]) {
    out.push(`*${table}`);
    for (const chain of IPTABLES_CHAINS) if (chain.table === table) out.push(`:${chain.chain} - [0:0]`);
    for (const r of rules) if (r.table === table) out.push(`-A ${r.chain} ${r.spec}`);
    out.push("COMMIT");
  }
  return `${out.join("\n")}
`;
}

// src/proxy/ipvs/print.ts
var ZERO_STATS = {
  conns: 0,
  inPackets: 0,
  outPackets: 0,
  inBytes: 0,
  outBytes: 0,
  connsPerSecond: 0,
  inPacketsPerSecond: 0,
  outPacketsPerSecond: 0,
  inBytesPerSecond: 0,
  outBytesPerSecond: 0
};
var IPVS_VERSION = "1.2.1";
var DEFAULT_CONN_TAB_SIZE = 4096;
var PROTO_NUMBER = { TCP: 6, UDP: 17, SCTP: 132 };
function addressValue(text) {
  return parseIpv4(text) ?? 0;
}
function compareServices(a, b) {
  const protocol = PROTO_NUMBER[a.protocol] - PROTO_NUMBER[b.protocol];
  if (protocol !== 0) return protocol;
  const address = addressValue(a.address) - addressValue(b.address) | 0;
  if (address !== 0) return address;
  return a.port - b.port;
}
function compareDests(a, b) {
  const address = addressValue(a.address) - addressValue(b.address) | 0;
  if (address !== 0) return address;
  return a.port - b.port;
}
function glibcMergeSort(items, compare3) {
  const out = [...items];
  const tmp = new Array(out.length);
  const sort = (start, n) => {
    if (n <= 1) return;
    const n1 = n >>> 1;
    const n2 = n - n1;
    sort(start, n1);
    sort(start + n1, n2);
    let i = start;
    let j = start + n1;
    const iEnd = start + n1;
    const jEnd = start + n;
    let k = 0;
    while (i < iEnd && j < jEnd) {
      if (compare3(out[i], out[j]) <= 0) tmp[k++] = out[i++];
      else tmp[k++] = out[j++];
    }
    while (i < iEnd) tmp[k++] = out[i++];
    for (let m = 0; m < k; m++) out[start + m] = tmp[m];
  };
  sort(0, out.length);
  return out;
}
function padRight(text, width) {
  return text.length >= width ? text : text + " ".repeat(width - text.length);
}
function padLeft(text, width) {
  return text.length >= width ? text : " ".repeat(width - text.length) + text;
}
function largeNumber(value, exact) {
  const n = Math.max(0, Math.floor(value));
  const text = String(n);
  if (exact) return padLeft(text, text.length <= 8 ? 9 : text.length + 1);
  if (n < 1e8) return padLeft(text, 9);
  if (n < 1e9) return `${padLeft(String(Math.floor(n / 1e3)), 8)}K`;
  if (n < 1e11) return `${padLeft(String(Math.floor(n / 1e6)), 8)}M`;
  if (n < 1e14) return `${padLeft(String(Math.floor(n / 1e9)), 8)}G`;
  return `${padLeft(String(Math.floor(n / 1e12)), 8)}T`;
}
function printIpvsadm(services, options = {}) {
  const format = options.format ?? "list";
  const exact = options.exact === true;
  const lines = [];
  lines.push(`IP Virtual Server version ${IPVS_VERSION} (size=${options.connTabSize ?? DEFAULT_CONN_TAB_SIZE})`);
  if (format === "stats" || format === "rate") {
    const columns = format === "stats" ? ["Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"] : ["CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"];
    lines.push(`${padRight("Prot LocalAddress:Port", 33)} ${columns.map((c) => padLeft(c, 8)).join(" ")}`);
    lines.push("  -> RemoteAddress:Port");
  } else {
    lines.push("Prot LocalAddress:Port Scheduler Flags");
    lines.push("  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn");
  }
  const sorted = options.noSort === true ? services : glibcMergeSort(services, compareServices);
  for (const service of sorted) {
    const name = `${service.protocol}  ${service.address}:${service.port}`.slice(0, 33);
    const stats = service.stats ?? ZERO_STATS;
    if (format === "stats") {
      lines.push(
        padRight(name, 33) + [stats.conns, stats.inPackets, stats.outPackets, stats.inBytes, stats.outBytes].map((v) => largeNumber(v, exact)).join("")
      );
    } else if (format === "rate") {
      lines.push(
        padRight(name, 33) + [
          stats.connsPerSecond,
          stats.inPacketsPerSecond,
          stats.outPacketsPerSecond,
          stats.inBytesPerSecond,
          stats.outBytesPerSecond
        ].map((v) => largeNumber(v, exact)).join("")
      );
    } else {
      const persistent = (service.flags & FLAG_PERSISTENT) !== 0 ? ` persistent ${service.timeoutSeconds}` : "";
      lines.push(`${name} ${service.scheduler}${persistent}`);
    }
    const dests = options.noSort === true ? service.dests : glibcMergeSort(service.dests, compareDests);
    for (const dest of dests) {
      const dname = `${dest.address}:${dest.port}`.slice(0, 28);
      const d = dest.stats ?? ZERO_STATS;
      if (format === "stats") {
        lines.push(
          `  -> ${padRight(dname, 28)}` + [d.conns, d.inPackets, d.outPackets, d.inBytes, d.outBytes].map((v) => largeNumber(v, exact)).join("")
        );
      } else if (format === "rate") {
        const rates = [d.connsPerSecond, d.inPacketsPerSecond, d.outPacketsPerSecond].map((v) => padLeft(String(Math.floor(v) >>> 0), 8)).join(" ");
        lines.push(
          `  -> ${padRight(dname, 28)} ${rates}${largeNumber(d.inBytesPerSecond, exact)}${largeNumber(d.outBytesPerSecond, exact)}`
        );
      } else {
        lines.push(
          `  -> ${padRight(dname, 28)} ${padRight("Masq", 7)} ${padRight(String(dest.weight), 6)} ${padRight(String(dest.activeConns), 10)} ${padRight(String(dest.inactiveConns), 10)}`
        );
      }
    }
  }
  return `${lines.join("\n")}
`;
}
function createOptions(set) {
  return set.info.type === "bitmap:port" ? `range ${IPSET_PORT_RANGE}` : `family inet hashsize ${IPSET_HASH_SIZE} maxelem ${IPSET_MAX_ELEM}`;
}
function printIpsetSave(sets) {
  const lines = [];
  for (const set of sets) {
    lines.push(`create ${set.info.name} ${set.info.type} ${createOptions(set)}`);
    for (const entry of set.entries) lines.push(`add ${set.info.name} ${entry}`);
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}
`;
}
function ipvsadmFromNodeState(state, counters) {
  const out = [];
  for (const vs of state.virtualServers.values()) {
    out.push({
      address: vs.address,
      port: vs.port,
      protocol: vs.protocol,
      scheduler: vs.scheduler,
      flags: vs.flags,
      timeoutSeconds: vs.timeoutSeconds,
      stats: counters?.service(vs.key),
      dests: vs.realServers.map((rs) => ({
        address: rs.address,
        port: rs.port,
        weight: rs.weight,
        activeConns: rs.activeConns,
        inactiveConns: rs.inactiveConns,
        stats: counters?.dest(vs.key, `${rs.address}:${rs.port}`)?.stats
      }))
    });
  }
  return out;
}

// src/proxy/ipvs/reconcile.ts
var EMPTY_IPVS_NODE_STATE = {
  virtualServers: /* @__PURE__ */ new Map(),
  dummyAddresses: /* @__PURE__ */ new Set(),
  gracefulDeletes: /* @__PURE__ */ new Set()
};
function destKey(rs) {
  return `${rs.address}:${rs.port}`;
}
function gracefulTerminationNeeded(protocol) {
  return protocol !== "UDP" && protocol !== "SCTP";
}
function cloneState(state) {
  const vss = /* @__PURE__ */ new Map();
  for (const [key, vs] of state.virtualServers) vss.set(key, { ...vs, realServers: [...vs.realServers] });
  return { vss, bound: new Set(state.dummyAddresses), graceful: new Set(state.gracefulDeletes) };
}
function freeze(vss, bound, graceful) {
  return { virtualServers: vss, dummyAddresses: bound, gracefulDeletes: graceful };
}
function gracefulDelete(vs, dest, graceful, ops) {
  const index = vs.realServers.findIndex((rs2) => destKey(rs2) === dest);
  if (index < 0) return;
  const rs = vs.realServers[index];
  if (!gracefulTerminationNeeded(vs.protocol) || rs.activeConns + rs.inactiveConns === 0) {
    vs.realServers.splice(index, 1);
    ops.push({ op: "deleteRealServer", key: vs.key, dest });
    return;
  }
  vs.realServers[index] = { ...rs, weight: 0 };
  ops.push({ op: "updateRealServer", key: vs.key, dest, weight: 0 });
  graceful.add(`${vs.key}/${dest}`);
}
function inExcludedCidr(address, excludeCIDRs) {
  const ip = parseIpv4(address);
  if (ip === void 0) return false;
  return excludeCIDRs.some((text) => {
    const prefix2 = parseCidr(text.trim(), false);
    return prefix2 !== void 0 && cidrContains(prefix2, ip);
  });
}
function planIpvsSync(current, desired, options) {
  const { vss, bound, graceful } = cloneState(current);
  const alreadyBound = new Set(current.dummyAddresses);
  const ops = [];
  const active = /* @__PURE__ */ new Set();
  for (const want of desired.virtualServers) {
    let vs = vss.get(want.key);
    if (vs === void 0) {
      vs = { ...want, realServers: [] };
      vss.set(want.key, vs);
      ops.push({ op: "addVirtualServer", key: want.key });
    } else if (vs.scheduler !== want.scheduler || vs.flags !== want.flags || vs.timeoutSeconds !== want.timeoutSeconds) {
      vs.scheduler = want.scheduler;
      vs.flags = want.flags;
      vs.timeoutSeconds = want.timeoutSeconds;
      ops.push({ op: "updateVirtualServer", key: want.key });
    }
    if (want.bound && !alreadyBound.has(want.address)) {
      bound.add(want.address);
      ops.push({ op: "bindAddress", address: want.address });
    }
    active.add(want.key);
    const curDests = [...vs.realServers];
    const cur = new Set(curDests.map(destKey));
    const next = new Set(want.realServers.map(destKey));
    for (const rs of want.realServers) {
      const dest = destKey(rs);
      if (cur.has(dest)) {
        if (options.initialSync) {
          for (const other of curDests) {
            if (other.weight === rs.weight) continue;
            const index2 = vs.realServers.findIndex((r) => destKey(r) === dest);
            if (index2 >= 0) vs.realServers[index2] = { ...vs.realServers[index2], weight: rs.weight };
            ops.push({ op: "updateRealServer", key: vs.key, dest, weight: rs.weight });
          }
        }
        const unique = `${vs.key}/${dest}`;
        if (!graceful.has(unique)) continue;
        graceful.delete(unique);
        const index = vs.realServers.findIndex((r) => destKey(r) === dest);
        if (index >= 0) vs.realServers.splice(index, 1);
        ops.push({ op: "deleteRealServer", key: vs.key, dest });
      }
      vs.realServers.unshift({
        address: rs.address,
        port: rs.port,
        weight: rs.weight,
        activeConns: 0,
        inactiveConns: 0
      });
      ops.push({ op: "addRealServer", key: vs.key, dest, weight: rs.weight });
    }
    for (const dest of cur) {
      if (next.has(dest) || graceful.has(`${vs.key}/${dest}`)) continue;
      gracefulDelete(vs, dest, graceful, ops);
    }
  }
  const wanted = new Set(desired.dummyAddresses);
  for (const address of [...alreadyBound].sort()) {
    if (wanted.has(address)) continue;
    bound.delete(address);
    ops.push({ op: "unbindAddress", address });
  }
  const exclude = options.excludeCIDRs ?? [];
  for (const key of [...vss.keys()]) {
    const vs = vss.get(key);
    if (vs === void 0 || active.has(key) || inExcludedCidr(vs.address, exclude)) continue;
    vss.delete(key);
    ops.push({ op: "deleteVirtualServer", key });
  }
  return { state: freeze(vss, bound, graceful), operations: ops };
}
function sweepGracefulDeletes(current) {
  const { vss, bound, graceful } = cloneState(current);
  const ops = [];
  for (const unique of [...graceful].sort()) {
    const slash = unique.indexOf("/", unique.indexOf("/") + 1);
    const key = unique.slice(0, slash);
    const dest = unique.slice(slash + 1);
    const vs = vss.get(key);
    if (vs === void 0) continue;
    const index = vs.realServers.findIndex((rs2) => destKey(rs2) === dest);
    if (index < 0) {
      graceful.delete(unique);
      continue;
    }
    const rs = vs.realServers[index];
    if (gracefulTerminationNeeded(vs.protocol) && rs.activeConns + rs.inactiveConns !== 0) continue;
    vs.realServers.splice(index, 1);
    graceful.delete(unique);
    ops.push({ op: "deleteRealServer", key, dest });
  }
  return { state: freeze(vss, bound, graceful), operations: ops };
}
function withConnectionCounts(state, counts) {
  const vss = /* @__PURE__ */ new Map();
  for (const [key, vs] of state.virtualServers) {
    vss.set(key, {
      ...vs,
      realServers: vs.realServers.map((rs) => {
        const c = counts(key, destKey(rs));
        return c === void 0 ? rs : { ...rs, activeConns: c.activeConns, inactiveConns: c.inactiveConns };
      })
    });
  }
  return { virtualServers: vss, dummyAddresses: state.dummyAddresses, gracefulDeletes: state.gracefulDeletes };
}
function planIpsetSync(current, desired) {
  const operations = [];
  for (const set of desired) operations.push({ op: "create", set: set.info.name });
  const sets = /* @__PURE__ */ new Map();
  for (const set of desired) {
    const name = set.info.name;
    operations.push({ op: "list", set: name });
    const applied = current.get(name) ?? /* @__PURE__ */ new Set();
    const active = new Set(set.entries);
    for (const entry of [...applied].sort()) if (!active.has(entry)) operations.push({ op: "del", set: name, entry });
    for (const entry of set.entries) if (!applied.has(entry)) operations.push({ op: "add", set: name, entry });
    sets.set(name, active);
  }
  return { sets, operations };
}

// src/cluster/backend-ipvs.ts
var RS_CHECK_DELETE_INTERVAL_NS = 60 * NS_PER_S;
var NODE_KERNEL = { major: 6, minor: 1 };
var PROTOCOL_NUMBER = { TCP: 6, UDP: 17, SCTP: 132 };
var DEFAULT_IPVS_PROXY_SPEC = {
  scheduler: "rr",
  strictARP: false,
  tcpTimeoutS: 0,
  tcpFinTimeoutS: 0,
  udpTimeoutS: 0,
  excludeCIDRs: [],
  syncCost: DEFAULT_IPVS_SYNC_COST
};
function ipvsConfigFrom(spec) {
  const ipvs = spec.ipvs ?? DEFAULT_IPVS_PROXY_SPEC;
  return {
    ...DEFAULT_IPVS_CONFIG,
    scheduler: ipvs.scheduler === "rr" ? "" : ipvs.scheduler,
    masqueradeAll: spec.masqueradeAll,
    masqueradeBit: spec.masqueradeBit,
    clusterCIDR: spec.clusterCIDR,
    randomFully: spec.randomFully,
    strictARP: ipvs.strictARP,
    tcpTimeoutSeconds: ipvs.tcpTimeoutS,
    tcpFinTimeoutSeconds: ipvs.tcpFinTimeoutS,
    udpTimeoutSeconds: ipvs.udpTimeoutS,
    excludeCIDRs: ipvs.excludeCIDRs,
    nodePortAddresses: effectiveNodePortAddresses("ipvs", spec.nodePortAddresses)
  };
}
var IpvsBackend = class {
  mode = "ipvs";
  /** The node's kernel IPVS (net.ipv4.vs.* as kube-proxy's NewProxier sets them). */
  ipvs;
  hooks;
  dummy;
  config;
  /** Netlink operations executed on the kernel (syncs, failed syncs' partial writes and sweeps). */
  operationsApplied = 0;
  state = EMPTY_IPVS_NODE_STATE;
  ipsetState = /* @__PURE__ */ new Map();
  /** VirtualServer.String() -> kernel service id. */
  serviceIds = /* @__PURE__ */ new Map();
  initialSync = true;
  jumpsInstalled = false;
  pending = null;
  settings;
  ipvsCost;
  iptablesCost;
  node;
  ns;
  network;
  stack;
  scheduler;
  sweepKind;
  startNs;
  sweepArmed = false;
  constructor(c) {
    this.node = c.node;
    this.ns = c.ns;
    this.network = c.network;
    this.stack = c.stack;
    this.scheduler = c.scheduler;
    this.settings = c.spec.ipvs ?? DEFAULT_IPVS_PROXY_SPEC;
    this.config = ipvsConfigFrom(c.spec);
    this.ipvsCost = new IpvsSyncCostModel(this.settings.syncCost);
    this.iptablesCost = new IptablesSyncCostModel(c.spec.syncCost.iptables);
    const sysctls = new Map(ipvsSysctls(this.config, NODE_KERNEL).map((s) => [s.path, s.value]));
    const timeouts = ipvsTimeouts(this.config);
    this.ipvs = new Ipvs(
      {
        conntrack: sysctls.get("net/ipv4/vs/conntrack") === 1,
        connReuseMode: sysctls.get("net/ipv4/vs/conn_reuse_mode") ?? 1,
        expireNodestConn: sysctls.get("net/ipv4/vs/expire_nodest_conn") === 1,
        expireQuiescentTemplate: sysctls.get("net/ipv4/vs/expire_quiescent_template") === 1,
        timeouts: timeouts === null ? LINUX_IPVS_TIMEOUTS : withIpvsTimeouts(LINUX_IPVS_TIMEOUTS, timeouts.tcp, timeouts.tcpFin, timeouts.udp)
      },
      new ConntrackDropLink(c.stack.conntrack)
    );
    const ns = c.ns;
    const network = c.network;
    this.hooks = new IpvsHooks(this.ipvs, c.stack, {
      resumeStolen: (handle, readyNs) => network.resumeStolen(ns, handle, readyNs),
      dropStolen: (handle, reason2) => network.dropStolen(ns, handle, reason2),
      isLocalAddress: (address) => ns.isLocalAddress(address)
    });
    this.hooks.register();
    this.dummy = ns.interfaceByName(DUMMY_DEVICE) ?? network.addDummy(ns, DUMMY_DEVICE);
    this.sweepKind = c.scheduler.registerKind(`kube-proxy/${c.node.name}/ipvs-graceful-termination`, this);
    this.startNs = c.scheduler.nowNs;
  }
  compile(nowNs, services, slices) {
    const result = compileIpvs(services, slices, this.node, this.config);
    this.pending = result;
    const plan = planIpvsSync(this.liveState(nowNs), result, {
      initialSync: this.initialSync,
      excludeCIDRs: this.config.excludeCIDRs
    });
    const ipsetPlan = planIpsetSync(this.ipsetState, result.ipsets);
    const changes = serviceChanges(plan.operations);
    let ipsetEntryOps = 0;
    for (const op of ipsetPlan.operations) if (op.op === "add" || op.op === "del") ipsetEntryOps++;
    if (ipsetEntryOps > 0) changes.push({ virtualServerOps: 0, realServerOps: 0, addressOps: 0, ipsetEntryOps });
    let servers = 0;
    for (const vs of this.state.virtualServers.values()) servers += 1 + vs.realServers.length;
    const ipvsWork = ipvsSyncWork(servers, changes);
    const stack = this.stack;
    const iptablesWork = iptablesSyncWork(result.restoreInput, {
      tableRules: (table) => {
        let rules = 0;
        for (const chain of stack.table(tableIdOf(table)).chains) rules += chain.rules.length;
        return rules;
      },
      chainRules: (table, chain) => stack.table(tableIdOf(table)).chain(chain)?.rules.length ?? 0
    });
    let natRules = 0;
    let filterRules = 0;
    for (const rule2 of result.rules) {
      if (rule2.table === "nat") natRules++;
      else filterRules++;
    }
    return {
      durationNs: this.ipvsCost.durationNs(ipvsWork) + this.iptablesCost.durationNs(iptablesWork),
      fullSync: true,
      natRules,
      filterRules,
      tableObjects: servers,
      services: result.services,
      payload: { result, netlinkOperations: ipvsWork.netlinkOperations }
    };
  }
  apply(nowNs, sync) {
    const result = sync.payload.result;
    this.pending = null;
    const plan = planIpvsSync(this.liveState(nowNs), result, {
      initialSync: this.initialSync,
      excludeCIDRs: this.config.excludeCIDRs
    });
    this.execute(plan);
    this.syncIpsets(result);
    this.stack.restore(result.restoreInput, { noflush: true, counters: true });
    if (!this.jumpsInstalled) {
      const lines = [];
      for (const table of ["nat", "filter"]) {
        lines.push(`*${table}`);
        for (const jump of ipvsJumpRules()) if (jump.table === table) lines.push(`-I ${jump.chain} ${jump.spec}`);
        lines.push("COMMIT");
      }
      this.stack.restore(`${lines.join("\n")}
`, { noflush: true });
      this.jumpsInstalled = true;
    }
    this.initialSync = false;
    this.armSweep(nowNs);
  }
  /**
   * The restore failed: the servers and ipsets of this sync were programmed before it (upstream
   * order), the stale addresses and virtual servers stay (the sync returned before unbinding and
   * cleanLegacyService).
   */
  failed() {
    const result = this.pending;
    this.pending = null;
    if (result === null) return;
    const nowNs = this.scheduler.nowNs;
    const kept = /* @__PURE__ */ new Set([...this.state.dummyAddresses, ...result.dummyAddresses]);
    const plan = planIpvsSync(
      this.liveState(nowNs),
      { ...result, dummyAddresses: [...kept] },
      { initialSync: this.initialSync, excludeCIDRs: ["0.0.0.0/0"] }
    );
    this.execute(plan);
    this.syncIpsets(result);
    this.initialSync = false;
    this.armSweep(nowNs);
  }
  /** GracefulTerminationManager's periodic tryDeleteRs. */
  handleEvent(_kind, _a, _b, nowNs) {
    this.sweepArmed = false;
    this.execute(sweepGracefulDeletes(this.liveState(nowNs)));
    this.armSweep(nowNs);
  }
  /** Real servers waiting for their connections to drain (VirtualServer/RealServer strings). */
  get gracefulDeletes() {
    return [...this.state.gracefulDeletes].sort();
  }
  /** The programmed state with the kernel's current connection counts. */
  liveState(nowNs) {
    this.ipvs.advance(nowNs);
    return withConnectionCounts(this.state, (key, dest) => {
      const id = this.destId(key, dest);
      if (id < 0) return void 0;
      return { activeConns: this.ipvs.dests.activeConns[id], inactiveConns: this.ipvs.dests.inactConns[id] };
    });
  }
  destId(key, dest) {
    const svcId = this.serviceIds.get(key);
    if (svcId === void 0) return -1;
    const colon = dest.lastIndexOf(":");
    const addr = parseIpv4(dest.slice(0, colon));
    if (addr === void 0) return -1;
    return this.ipvs.findDest(this.ipvs.services[svcId], addr, Number(dest.slice(colon + 1)));
  }
  /** The sweep runs on the manager's one-minute ticks from kube-proxy's start, while it has work. */
  armSweep(nowNs) {
    if (this.sweepArmed || this.state.gracefulDeletes.size === 0) return;
    const ticks = Math.floor((nowNs - this.startNs) / RS_CHECK_DELETE_INTERVAL_NS) + 1;
    this.scheduler.schedule(this.startNs + ticks * RS_CHECK_DELETE_INTERVAL_NS, this.sweepKind, 0, 0);
    this.sweepArmed = true;
  }
  /** The plan's netlink operations on the kernel model and kube-ipvs0, in order. */
  execute(plan) {
    const ipvs = this.ipvs;
    for (const op of plan.operations) {
      this.operationsApplied++;
      switch (op.op) {
        case "addVirtualServer":
        case "updateVirtualServer": {
          const vs = plan.state.virtualServers.get(op.key);
          if (vs === void 0) throw new Error(`ipvs: ${op.op} of unknown ${op.key}`);
          const scheduler = schedulerByName(vs.scheduler);
          if (scheduler === void 0) throw new Error(`ipvs: scheduler ${vs.scheduler} is not modelled`);
          const spec = {
            scheduler,
            flags: vs.flags,
            ...vs.timeoutSeconds > 0 ? { timeoutS: vs.timeoutSeconds } : {}
          };
          const id = this.serviceIds.get(op.key);
          if (op.op === "updateVirtualServer" && id !== void 0) ipvs.editService(id, spec);
          else {
            const addr = parseIpv4(vs.address);
            if (addr === void 0) throw new Error(`ipvs: bad address ${vs.address}`);
            this.serviceIds.set(
              op.key,
              ipvs.addService({ protocol: PROTOCOL_NUMBER[vs.protocol], addr, port: vs.port, ...spec })
            );
          }
          break;
        }
        case "deleteVirtualServer": {
          const id = this.serviceIds.get(op.key);
          if (id !== void 0) ipvs.deleteService(id);
          this.serviceIds.delete(op.key);
          break;
        }
        case "addRealServer":
        case "updateRealServer":
        case "deleteRealServer": {
          const svcId = this.serviceIds.get(op.key);
          if (svcId === void 0) throw new Error(`ipvs: ${op.op} on unknown ${op.key}`);
          const colon = op.dest.lastIndexOf(":");
          const addr = parseIpv4(op.dest.slice(0, colon));
          const port = Number(op.dest.slice(colon + 1));
          if (op.op === "addRealServer") ipvs.addDest(svcId, addr, port, op.weight);
          else if (op.op === "updateRealServer") ipvs.editDest(svcId, addr, port, op.weight);
          else ipvs.deleteDest(svcId, addr, port);
          break;
        }
        case "bindAddress": {
          const addr = parseIpv4(op.address);
          if (!this.ns.localAddresses.has(addr)) this.network.addAddress(this.dummy, addr, 32);
          break;
        }
        case "unbindAddress": {
          const addr = parseIpv4(op.address);
          if (this.ns.localAddresses.get(addr) === this.dummy) this.network.removeAddress(this.dummy, addr);
          break;
        }
      }
    }
    this.state = plan.state;
  }
  /** ensureIPSet + syncIPSetEntries for every set: `ipset create -exist`, then del/add of entries. */
  syncIpsets(result) {
    const plan = planIpsetSync(this.ipsetState, result.ipsets);
    const lines = [printIpsetSave(result.ipsets.map((set) => ({ info: set.info, entries: [] })))];
    for (const op of plan.operations)
      if (op.op === "add" || op.op === "del") lines.push(`${op.op} ${op.set} ${op.entry}
`);
    this.stack.ipsetRestore(lines.join(""), { exist: true });
    this.ipsetState = plan.sets;
  }
  counters() {
    const ipvs = this.ipvs;
    const stats = (s) => ({
      ...ZERO_STATS,
      conns: s.conns,
      inPackets: s.inPkts,
      outPackets: s.outPkts,
      inBytes: s.inBytes,
      outBytes: s.outBytes
    });
    return {
      service: (key) => {
        const id = this.serviceIds.get(key);
        return id === void 0 ? void 0 : stats(ipvs.services[id]);
      },
      dest: (key, dest) => {
        const id = this.destId(key, dest);
        if (id < 0) return void 0;
        const d = ipvs.dests;
        return {
          activeConns: d.activeConns[id],
          inactiveConns: d.inactConns[id],
          stats: stats({
            conns: d.conns[id],
            inPkts: d.inPkts[id],
            outPkts: d.outPkts[id],
            inBytes: d.inBytes[id],
            outBytes: d.outBytes[id]
          })
        };
      }
    };
  }
  /**
   * The node as its tools print it: kube-ipvs0's addresses (`ip -4 addr show kube-ipvs0`),
   * `ipvsadm -Ln`, `ipvsadm -Ln --stats`, `ipset list`, `iptables-save`, and the sysctls kube-proxy
   * set. `sorted`: addresses numerically, ipsets sorted, iptables-save of kube-proxy's chains only.
   */
  rules(sorted) {
    const nowNs = this.scheduler.nowNs;
    const services = ipvsadmFromNodeState(this.liveState(nowNs), this.counters());
    const addresses = [...this.dummy.assignedAddresses];
    if (sorted) addresses.sort((a, b) => a - b);
    const flags = this.dummy.up ? "BROADCAST,NOARP,UP,LOWER_UP" : "BROADCAST,NOARP";
    const state = this.dummy.up ? "UNKNOWN" : "DOWN";
    const qdisc = this.dummy.up ? "noqueue" : "noop";
    const ip = [
      `${this.dummy.ifIndex + 1}: ${DUMMY_DEVICE}: <${flags}> mtu ${this.dummy.mtuBytes} qdisc ${qdisc} state ${state} group default`,
      ...addresses.map(
        (a) => `    inet ${formatIpv4(a)}/32 scope global ${DUMMY_DEVICE}
       valid_lft forever preferred_lft forever`
      )
    ].join("\n");
    const saved = this.stack.save();
    const timeouts = this.ipvs.timeouts;
    const sysctl = [
      ...ipvsSysctls(this.config, NODE_KERNEL).map((s) => `${s.path.replaceAll("/", ".")} = ${s.value}`),
      `# ipvsadm --set ${timeouts.tcpNs[1] / NS_PER_S} ${timeouts.tcpNs[4] / NS_PER_S} ${timeouts.udpNs / NS_PER_S}` + (ipvsTimeouts(this.config) === null ? " (kernel defaults, not set by kube-proxy)" : "")
    ];
    return [
      `# ip -4 addr show ${DUMMY_DEVICE}
${ip}
`,
      `# ipvsadm -Ln
${printIpvsadm(services)}`,
      `# ipvsadm -Ln --stats
${printIpvsadm(services, { format: "stats" })}`,
      `# ipset list
${this.stack.ipsetList({ sorted })}`,
      `# iptables-save
${sorted ? kubeProxyChainsOnly(saved) : saved}`,
      `# sysctl (set by kube-proxy at start)
${sysctl.join("\n")}
`
    ].join("\n");
  }
  /** The node's IPVS figures for the results document. */
  results() {
    const virtualServers = {};
    const ipvs = this.ipvs;
    const keys = [...this.serviceIds.keys()].sort();
    for (const key of keys) {
      const svc = ipvs.services[this.serviceIds.get(key)];
      if (svc.conns === 0) continue;
      const realServers = {};
      const vs = this.state.virtualServers.get(key);
      for (const rs of vs?.realServers ?? []) {
        const id = this.destId(key, `${rs.address}:${rs.port}`);
        if (id >= 0) realServers[`${rs.address}:${rs.port}`] = ipvs.dests.conns[id];
      }
      virtualServers[key] = {
        conns: svc.conns,
        inPkts: svc.inPkts,
        outPkts: svc.outPkts,
        inBytes: svc.inBytes,
        outBytes: svc.outBytes,
        realServers: Object.fromEntries(Object.entries(realServers).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0))
      };
    }
    return { peakConnections: ipvs.peakConnections, connectionsCreated: ipvs.connsCreated, virtualServers };
  }
};
function serviceChanges(operations) {
  const byKey = /* @__PURE__ */ new Map();
  const entry = (key) => {
    let e = byKey.get(key);
    if (e === void 0) {
      e = { virtualServerOps: 0, realServerOps: 0, addressOps: 0, ipsetEntryOps: 0 };
      byKey.set(key, e);
    }
    return e;
  };
  for (const op of operations) {
    switch (op.op) {
      case "addVirtualServer":
      case "updateVirtualServer":
      case "deleteVirtualServer":
        entry(op.key).virtualServerOps++;
        break;
      case "addRealServer":
      case "updateRealServer":
      case "deleteRealServer":
        entry(op.key).realServerOps++;
        break;
      case "bindAddress":
      case "unbindAddress":
        entry(`address ${op.address}`).addressOps++;
        break;
    }
  }
  return [...byKey.values()];
}

// src/proxy/userspace/port-allocator.ts
var RandomPortAllocator = class {
  allocateNext() {
    return 0;
  }
  release(_port) {
  }
};
var RangePortAllocator = class {
  constructor(base, size, rng) {
    this.base = base;
    this.size = size;
    this.rng = rng;
    if (!(Number.isInteger(base) && base > 0 && Number.isInteger(size) && size > 0 && base + size - 1 <= 65535))
      throw new Error(`userspace proxy: illegal port range base ${base} size ${size}`);
    this.used = new Uint8Array(size);
  }
  base;
  size;
  rng;
  used;
  allocateNext() {
    const j = this.rng.intBelow(this.size);
    if (this.used[j] === 0) return this.take(j);
    for (let i = j + 1; i < this.size; i++) if (this.used[i] === 0) return this.take(i);
    for (let i = 0; i < j; i++) if (this.used[i] === 0) return this.take(i);
    return -1;
  }
  release(port) {
    const i = port - this.base;
    if (i < 0 || i >= this.size) return;
    this.used[i] = 0;
  }
  take(i) {
    this.used[i] = 1;
    return this.base + i;
  }
};
function parseProxyPortRange(text) {
  const t = text.trim();
  if (t === "") return null;
  const m = /^(\d+)(?:([-+])(\d+))?$/.exec(t);
  if (m === null) return `"${text}" is not a port range (expected "low-high", "base+offset" or a port)`;
  const low = Number(m[1]);
  let size = 1;
  if (m[2] === "-") size = Number(m[3]) - low + 1;
  else if (m[2] === "+") size = Number(m[3]) + 1;
  if (!(low >= 1 && low <= 65535)) return `port ${low} is out of range 1-65535`;
  if (!(size >= 1 && low + size - 1 <= 65535)) return `"${text}" is not a valid port range`;
  return [low, size];
}

// src/proxy/userspace/roundrobin.ts
var AffinityType = { NONE: "None", CLIENT_IP: "ClientIP" };
var DEFAULT_AFFINITY_SECONDS = 10800;
var NextEndpointError = {
  MISSING_SERVICE_ENTRY: "missing service entry",
  MISSING_ENDPOINTS: "missing endpoints"
};
var NS_PER_SECOND = 1e9;
var LoadBalancerRR = class {
  constructor(rng) {
    this.rng = rng;
  }
  rng;
  /** ServicePortName string ("ns/name" or "ns/name:port") -> state. Insertion-ordered. */
  services = /* @__PURE__ */ new Map();
  newService(svcPort, affinityType, ttlSeconds) {
    const ttl = ttlSeconds === 0 ? DEFAULT_AFFINITY_SECONDS : ttlSeconds;
    let state = this.services.get(svcPort);
    if (state === void 0) {
      state = { endpoints: [], index: 0, affinityType, affinityMap: /* @__PURE__ */ new Map(), ttlSeconds: ttl };
      this.services.set(svcPort, state);
    } else if (affinityType !== "") state.affinityType = affinityType;
    return state;
  }
  deleteService(svcPort) {
    this.services.delete(svcPort);
  }
  serviceHasEndpoints(svcPort) {
    const state = this.services.get(svcPort);
    return state !== void 0 && state.endpoints.length > 0;
  }
  /** NextEndpoint: the endpoint for a new connection from clientIP, or an error. */
  nextEndpoint(svcPort, clientIP, sessionAffinityReset, nowNs) {
    const state = this.services.get(svcPort);
    if (state === void 0) return NextEndpointError.MISSING_SERVICE_ENTRY;
    if (state.endpoints.length === 0) return NextEndpointError.MISSING_ENDPOINTS;
    const affinity = state.affinityType !== "" && state.affinityType !== AffinityType.NONE;
    if (affinity && !sessionAffinityReset) {
      const entry = state.affinityMap.get(clientIP);
      if (entry !== void 0 && Math.trunc((nowNs - entry.lastUsedNs) / NS_PER_SECOND) < state.ttlSeconds) {
        entry.lastUsedNs = nowNs;
        return entry.endpoint;
      }
    }
    const endpoint = state.endpoints[state.index];
    state.index = (state.index + 1) % state.endpoints.length;
    if (affinity) {
      let entry = state.affinityMap.get(clientIP);
      if (entry === void 0) {
        entry = { clientIP, endpoint, lastUsedNs: nowNs };
        state.affinityMap.set(clientIP, entry);
      }
      entry.lastUsedNs = nowNs;
      entry.endpoint = endpoint;
    }
    return endpoint;
  }
  /** OnEndpointsAdd (service "ns/name"). */
  onEndpointsAdd(namespacedName, ports) {
    for (const [portName, newEndpoints] of ports) {
      const svcPort = servicePortName(namespacedName, portName);
      const state = this.services.get(svcPort);
      if (state === void 0 || newEndpoints.length > 0) {
        const s = this.newService(svcPort, "", 0);
        s.endpoints = this.shuffle(newEndpoints);
        s.index = 0;
      }
    }
  }
  /** OnEndpointsUpdate (service "ns/name"). */
  onEndpointsUpdate(namespacedName, oldPorts, ports) {
    const registered = /* @__PURE__ */ new Set();
    for (const [portName, newEndpoints] of ports) {
      const svcPort = servicePortName(namespacedName, portName);
      const state = this.services.get(svcPort);
      const current = state === void 0 ? [] : state.endpoints;
      if (state === void 0 || !sameSet(current, newEndpoints)) {
        this.removeStaleAffinity(svcPort, newEndpoints);
        const s = this.newService(svcPort, "", 0);
        s.endpoints = this.shuffle(newEndpoints);
        s.index = 0;
      }
      registered.add(svcPort);
    }
    for (const portName of oldPorts.keys()) {
      const svcPort = servicePortName(namespacedName, portName);
      if (!registered.has(svcPort)) this.resetService(svcPort);
    }
  }
  /** OnEndpointsDelete (service "ns/name"). */
  onEndpointsDelete(namespacedName, ports) {
    for (const portName of ports.keys()) this.resetService(servicePortName(namespacedName, portName));
  }
  cleanupStaleStickySessions(svcPort, nowNs) {
    const state = this.services.get(svcPort);
    if (state === void 0) return;
    for (const [ip, entry] of state.affinityMap)
      if (Math.trunc((nowNs - entry.lastUsedNs) / NS_PER_SECOND) >= state.ttlSeconds) state.affinityMap.delete(ip);
  }
  resetService(svcPort) {
    const state = this.services.get(svcPort);
    if (state === void 0) return;
    state.endpoints = [];
    state.index = 0;
    state.affinityMap = /* @__PURE__ */ new Map();
  }
  removeStaleAffinity(svcPort, newEndpoints) {
    const state = this.services.get(svcPort);
    if (state === void 0) return;
    const keep = new Set(newEndpoints);
    for (const existing of state.endpoints) {
      if (keep.has(existing)) continue;
      for (const [ip, entry] of state.affinityMap) if (entry.endpoint === existing) state.affinityMap.delete(ip);
    }
  }
  /** util.ShuffleStrings: perm := rand.Perm(n); shuffled[perm[i]] = s[i]. */
  shuffle(list) {
    const n = list.length;
    const perm = new Array(n);
    for (let i = 0; i < n; i++) {
      const j = this.rng.intBelow(i + 1);
      perm[i] = perm[j];
      perm[j] = i;
    }
    const out = new Array(n);
    for (let i = 0; i < n; i++) out[perm[i]] = list[i];
    return out;
  }
};
function servicePortName(namespacedName, portName) {
  return portName === "" ? namespacedName : `${namespacedName}:${portName}`;
}
function sameSet(a, b) {
  if (a.length !== b.length) return false;
  const x = [...a].sort();
  const y = [...b].sort();
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

// src/proxy/userspace/proxysocket.ts
var ENDPOINT_DIAL_TIMEOUTS_NS = [25e7, 5e8, 1e9, 2e9];
var UDP_BUFFER_BYTES = 4096;
var EV_DIAL = 0;
var EV_DIAL_TIMEOUT = 1;
var EV_COPY = 2;
var EV_UDP_IDLE = 3;
var EV_COPY_BACK = 3;
var ProxyRuntime = class {
  constructor(network, ns, scheduler, lb, costs, udpIdleTimeoutNs) {
    this.network = network;
    this.ns = ns;
    this.scheduler = scheduler;
    this.lb = lb;
    this.costs = costs;
    this.udpIdleTimeoutNs = udpIdleTimeoutNs;
    this.kind = scheduler.registerKind(`userspace-proxy/${ns.name}`, this);
  }
  network;
  ns;
  scheduler;
  lb;
  costs;
  udpIdleTimeoutNs;
  kind;
  objects = [];
  freeIds = [];
  /** Generation of the next registered object (an id is reused; its generation is not). */
  nextGeneration = 1;
  register(target) {
    const id = this.freeIds.length > 0 ? this.freeIds.pop() : this.objects.length;
    this.objects[id] = target;
    target.generation = this.nextGeneration;
    this.nextGeneration = this.nextGeneration + 1 & 536870911;
    return id;
  }
  /** Forgets `target` (its pending events are ignored); a no-op when it is already gone. */
  unregister(target) {
    const id = target.id;
    if (id < 0 || this.objects[id] !== target) return;
    this.objects[id] = null;
    this.freeIds.push(id);
  }
  /** Schedules event `what` for object `id` at `atNs`; b carries what (low 2 bits) and the object's generation. */
  at(atNs, target, what) {
    return this.scheduler.schedule(atNs, this.kind, target.id, what | target.generation << 2);
  }
  handleEvent(_kind, a, b, nowNs) {
    const target = this.objects[a];
    if (target === null || target === void 0 || target.generation !== b >>> 2) return;
    target.onEvent(b & 3, nowNs);
  }
  /** Copy cost of one message of `bytes` bytes through user space. */
  copyCostNs(bytes) {
    const c = this.costs;
    return c.perMessageNs + Math.ceil(bytes * c.perKiBNs / 1024);
  }
};
var ProxyEventTarget = class {
  id = -1;
  /** Distinguishes this object from a later one registered under the same id (set by register). */
  generation = 0;
};
var CopyQueue = class {
  // A ring (power-of-two capacity, doubled when full): `length` messages from physical index
  // `head` on. A saturated read loop (a UDP service port under a new flow per request) holds
  // thousands of messages; a ring neither copies them per message nor splices them out.
  bytes = [0, 0, 0, 0];
  tags = [0, 0, 0, 0];
  data = [null, null, null, null];
  flows = [0, 0, 0, 0];
  /** Who a message goes to, when the queue serves several (the UDP read loop: the client). */
  owners = [null, null, null, null];
  head = 0;
  length = 0;
  mask = 3;
  busyUntilNs = 0;
  /** Physical index of the k-th pending message (0 = the oldest). */
  index(k) {
    return this.head + k & this.mask;
  }
  push(bytes, tag, data, flow, owner = null) {
    if (this.length > this.mask) this.grow();
    const t = this.head + this.length & this.mask;
    this.bytes[t] = bytes;
    this.tags[t] = tag;
    this.data[t] = data;
    this.flows[t] = flow;
    this.owners[t] = owner;
    this.length++;
  }
  /** Removes the oldest message and returns its physical index; its fields stay readable until the next push. */
  shift() {
    const i = this.head;
    this.head = i + 1 & this.mask;
    this.length--;
    return i;
  }
  grow() {
    const n = this.length;
    const size = 2 * (this.mask + 1);
    const bytes = new Array(size).fill(0);
    const tags = new Array(size).fill(0);
    const data = new Array(size).fill(null);
    const flows = new Array(size).fill(0);
    const owners = new Array(size).fill(null);
    for (let k = 0; k < n; k++) {
      const i = this.head + k & this.mask;
      bytes[k] = this.bytes[i];
      tags[k] = this.tags[i];
      data[k] = this.data[i];
      flows[k] = this.flows[i];
      owners[k] = this.owners[i];
    }
    this.bytes = bytes;
    this.tags = tags;
    this.data = data;
    this.flows = flows;
    this.owners = owners;
    this.head = 0;
    this.mask = size - 1;
  }
};
var TcpProxySocket = class extends ProxyEventTarget {
  constructor(runtime, service, port) {
    super();
    this.runtime = runtime;
    this.service = service;
    this.port = port;
    this.id = runtime.register(this);
    this.listener = runtime.network.tcpListen(runtime.ns, 0, port, this);
  }
  runtime;
  service;
  port;
  alive = true;
  listener;
  stats = { accepted: 0, dialFailures: 0, rejected: 0, messagesCopied: 0, bytesCopied: 0 };
  /** Accepted connections waiting for the loop (it dials one endpoint at a time). */
  acceptQueue = [];
  dialing = null;
  /** The kernel completed a handshake: the connection waits in the accept queue for the loop. */
  onAccept(_server, conn) {
    const pair = new TcpProxyPair(this, conn);
    this.acceptQueue.push(pair);
    if (this.dialing === null) this.acceptNext(this.runtime.scheduler.nowNs);
    return pair;
  }
  /** Close(): no new connections; established ones are left untouched (tcpProxySocket). */
  close() {
    if (!this.alive) return;
    this.alive = false;
    this.listener.close();
    for (const pair of this.acceptQueue) pair.abortClient();
    this.acceptQueue.length = 0;
    this.runtime.unregister(this);
  }
  onEvent(_what, _nowNs) {
  }
  /** The loop takes the next accepted connection (Accept returned). */
  acceptNext(nowNs) {
    this.dialing = null;
    while (this.alive && this.acceptQueue.length > 0) {
      const pair = this.acceptQueue.shift();
      if (pair.clientGone) {
        this.runtime.unregister(pair);
        continue;
      }
      this.stats.accepted++;
      this.dialing = pair;
      pair.startDialing(nowNs);
      return;
    }
  }
};
var TcpProxyPair = class extends ProxyEventTarget {
  constructor(socket, inConn) {
    super();
    this.socket = socket;
    this.inConn = inConn;
    this.id = socket.runtime.register(this);
  }
  socket;
  inConn;
  out = null;
  /** The endpoint the current or successful dial goes to. */
  endpoint = "";
  attempt = 0;
  timeoutHandle = -1;
  established = false;
  clientGone = false;
  closing = false;
  /** [to backend, from backend]. */
  queues = [new CopyQueue(), new CopyQueue()];
  /** EOF or error seen on the source of a direction: close both once its queue is written. */
  eof = [false, false];
  closedCount = 0;
  get clientAddress() {
    return this.inConn.remoteAddr;
  }
  /** The loop accepted this connection: spend connectCost, then dial (tryConnect). */
  startDialing(nowNs) {
    this.socket.runtime.at(nowNs + this.socket.runtime.costs.connectNs, this, EV_DIAL);
  }
  onEvent(what, nowNs) {
    switch (what) {
      case EV_DIAL:
        return this.dial(nowNs);
      case EV_DIAL_TIMEOUT:
        return this.dialTimedOut(nowNs);
      case EV_COPY:
        return this.copyDone(0);
      case EV_COPY_BACK:
        return this.copyDone(1);
    }
  }
  /** One attempt of tryConnect. */
  dial(nowNs) {
    const rt = this.socket.runtime;
    if (this.clientGone) return this.giveUp(nowNs, false);
    const endpoint = rt.lb.nextEndpoint(this.socket.service, formatIpv4(this.clientAddress), this.attempt > 0, nowNs);
    if (isNextEndpointError(endpoint)) return this.giveUp(nowNs, true);
    this.endpoint = endpoint;
    const colon = endpoint.lastIndexOf(":");
    const ip = ipv4Of(endpoint.slice(0, colon));
    const port = Number(endpoint.slice(colon + 1));
    this.out = rt.network.tcpConnect(rt.ns, ip, port, this, this.inConn.flowId);
    this.timeoutHandle = rt.at(nowNs + ENDPOINT_DIAL_TIMEOUTS_NS[this.attempt], this, EV_DIAL_TIMEOUT);
  }
  dialTimedOut(nowNs) {
    if (this.established || this.out === null) return;
    const out = this.out;
    this.out = null;
    out.listener = null;
    out.abort();
    this.dialFailed(nowNs);
  }
  dialFailed(nowNs) {
    this.socket.stats.dialFailures++;
    this.attempt++;
    if (this.attempt >= ENDPOINT_DIAL_TIMEOUTS_NS.length) return this.giveUp(nowNs, true);
    this.dial(nowNs);
  }
  /** tryConnect failed: inConn.Close(), the loop accepts the next connection. */
  giveUp(nowNs, counted) {
    if (counted) this.socket.stats.rejected++;
    if (!this.clientGone) {
      this.inConn.listener = null;
      this.inConn.close();
    }
    this.socket.runtime.unregister(this);
    this.socket.acceptNext(nowNs);
  }
  abortClient() {
    this.clientGone = true;
    this.inConn.listener = null;
    this.inConn.abort();
    this.socket.runtime.unregister(this);
  }
  // TcpConnectionListener, for both connections.
  onConnected(conn) {
    if (conn !== this.out) return;
    const rt = this.socket.runtime;
    const nowNs = rt.scheduler.nowNs;
    rt.scheduler.cancel(this.timeoutHandle);
    this.established = true;
    const q = this.queues[0];
    let atNs = nowNs;
    for (let k = 0; k < q.length; k++) {
      atNs += rt.copyCostNs(q.bytes[q.index(k)]);
      rt.at(atNs, this, EV_COPY);
    }
    q.busyUntilNs = atNs;
    if (this.clientGone) this.closeBoth();
    else if (q.length === 0 && this.eof[0]) this.closeBoth();
    this.socket.acceptNext(nowNs);
  }
  onMessage(conn, bytes, appTag, appData) {
    const direction = conn === this.inConn ? 0 : 1;
    const rt = this.socket.runtime;
    const nowNs = rt.scheduler.nowNs;
    const q = this.queues[direction];
    const startNs = q.busyUntilNs > nowNs ? q.busyUntilNs : nowNs;
    if (direction === 0 && !this.established) {
      q.push(bytes, appTag, appData, 0);
      return;
    }
    q.busyUntilNs = startNs + rt.copyCostNs(bytes);
    q.push(bytes, appTag, appData, 0);
    rt.at(q.busyUntilNs, this, direction === 0 ? EV_COPY : EV_COPY_BACK);
  }
  /** The head message of direction d is copied: written to the other connection. */
  copyDone(d) {
    const q = this.queues[d];
    const dest = d === 0 ? this.out : this.inConn;
    if (q.length === 0 || dest === null) return;
    const i = q.shift();
    const bytes = q.bytes[i];
    const data = q.data[i];
    q.data[i] = null;
    dest.send(bytes, q.tags[i], data);
    this.socket.stats.messagesCopied++;
    this.socket.stats.bytesCopied += bytes;
    if (q.length === 0 && this.eof[d]) this.closeBoth();
  }
  onPeerClosed(conn) {
    const d = conn === this.inConn ? 0 : 1;
    this.eof[d] = true;
    if (d === 0 && !this.established) return;
    if (this.queues[d].length === 0) this.closeBoth();
  }
  onClosed(conn, error) {
    const rt = this.socket.runtime;
    if (conn === this.out && !this.established) {
      rt.scheduler.cancel(this.timeoutHandle);
      this.out = null;
      return this.dialFailed(rt.scheduler.nowNs);
    }
    if (conn === this.inConn && !this.established) {
      this.clientGone = true;
      this.closedCount++;
      return;
    }
    this.closedCount++;
    if (error !== NetError.NONE) this.closeBoth();
    if (this.closedCount >= 2) rt.unregister(this);
  }
  closeBoth() {
    if (this.closing) return;
    this.closing = true;
    closeIfOpen(this.out);
    closeIfOpen(this.inConn);
  }
};
function closeIfOpen(conn) {
  if (conn === null) return;
  if (conn.state === TcpState.CLOSED || conn.state === TcpState.TIME_WAIT) return;
  conn.close();
}
function ipv4Of(text) {
  const address = parseIpv4(text);
  if (address === void 0) throw new Error(`userspace proxy: bad endpoint address ${text}`);
  return address;
}
function isNextEndpointError(value) {
  return value === NextEndpointError.MISSING_SERVICE_ENTRY || value === NextEndpointError.MISSING_ENDPOINTS;
}
var UdpProxySocket = class extends ProxyEventTarget {
  constructor(runtime, service, port) {
    super();
    this.runtime = runtime;
    this.service = service;
    this.id = runtime.register(this);
    const socket = runtime.network.udpBind(runtime.ns, 0, port, this);
    if (socket === null) throw new Error(`userspace proxy on ${runtime.ns.name}: no free UDP port`);
    this.socket = socket;
  }
  runtime;
  service;
  alive = true;
  socket;
  stats = { accepted: 0, dialFailures: 0, rejected: 0, messagesCopied: 0, bytesCopied: 0 };
  /**
   * clientCache: the client's "ip:port" -> its connection to an endpoint, keyed by the number
   * address x 65536 + port (the same pairs as the string key, without formatting one per message).
   */
  clients = /* @__PURE__ */ new Map();
  /** The read loop: copies to endpoints, serialized. */
  loop = new CopyQueue();
  get port() {
    return this.socket.localPort;
  }
  /** Parsed "ip:port" endpoints: the load balancer hands out the same few strings for every client. */
  endpointTargets = /* @__PURE__ */ new Map();
  /** The address and port of endpoint "ip:port" (parsed once per endpoint string). */
  endpointTarget(endpoint) {
    let target = this.endpointTargets.get(endpoint);
    if (target === void 0) {
      const colon = endpoint.lastIndexOf(":");
      target = { address: ipv4Of(endpoint.slice(0, colon)), port: Number(endpoint.slice(colon + 1)) };
      this.endpointTargets.set(endpoint, target);
    }
    return target;
  }
  /** Close(): the loop ends and existing client connections break. */
  close() {
    if (!this.alive) return;
    this.alive = false;
    this.socket.close();
    for (const client of [...this.clients.values()]) client.end();
    this.runtime.unregister(this);
  }
  onUdpMessage(_socket, packet) {
    if (!this.alive) return;
    const rt = this.runtime;
    const nowNs = rt.scheduler.nowNs;
    const key = packet.srcAddr * 65536 + packet.srcPort;
    let client = this.clients.get(key);
    let startNs = this.loop.busyUntilNs > nowNs ? this.loop.busyUntilNs : nowNs;
    if (client === void 0) {
      const endpoint = rt.lb.nextEndpoint(this.service, formatIpv4(packet.srcAddr), false, nowNs);
      if (isNextEndpointError(endpoint)) {
        this.stats.rejected++;
        return;
      }
      this.stats.accepted++;
      startNs += rt.costs.connectNs;
      client = new UdpProxyClient(this, key, packet.srcAddr, packet.srcPort, endpoint);
      if (!client.ok) return;
      this.clients.set(key, client);
    }
    const bytes = packet.payloadBytes > UDP_BUFFER_BYTES ? UDP_BUFFER_BYTES : packet.payloadBytes;
    this.loop.busyUntilNs = startNs + rt.copyCostNs(bytes);
    this.loop.push(bytes, packet.appTag, packet.appData, packet.flowId, client);
    rt.at(this.loop.busyUntilNs, this, EV_COPY);
  }
  onUdpError() {
  }
  onEvent(_what, _nowNs) {
    const q = this.loop;
    if (q.length === 0) return;
    const i = q.shift();
    const client = q.owners[i];
    const data = q.data[i];
    q.owners[i] = null;
    q.data[i] = null;
    client.writeToEndpoint(q.bytes[i], q.tags[i], data, q.flows[i]);
  }
};
var UdpProxyClient = class extends ProxyEventTarget {
  constructor(socket, key, clientAddr, clientPort, endpoint) {
    super();
    this.socket = socket;
    this.key = key;
    this.clientAddr = clientAddr;
    this.clientPort = clientPort;
    this.endpoint = endpoint;
    const rt = socket.runtime;
    this.id = rt.register(this);
    this.out = rt.network.udpBind(rt.ns, 0, 0, this);
    this.ok = this.out !== null;
    if (this.out !== null) {
      const target = socket.endpointTarget(endpoint);
      this.out.connect(target.address, target.port);
    }
    this.lastActivityNs = rt.scheduler.nowNs;
    rt.at(this.lastActivityNs + rt.udpIdleTimeoutNs, this, EV_UDP_IDLE);
  }
  socket;
  key;
  clientAddr;
  clientPort;
  endpoint;
  ok;
  out;
  lastActivityNs;
  ended = false;
  /** proxyClient's copy loop back to the client. */
  replies = new CopyQueue();
  /** The read loop's Write to the endpoint, then SetDeadline(now + timeout). */
  writeToEndpoint(bytes, tag, data, flow) {
    if (this.ended || this.out === null) return;
    this.out.send(bytes, tag, data, flow);
    this.socket.stats.messagesCopied++;
    this.socket.stats.bytesCopied += bytes;
    this.lastActivityNs = this.socket.runtime.scheduler.nowNs;
  }
  onUdpMessage(_socket, packet) {
    if (this.ended) return;
    const rt = this.socket.runtime;
    const nowNs = rt.scheduler.nowNs;
    this.lastActivityNs = nowNs;
    const bytes = packet.payloadBytes > UDP_BUFFER_BYTES ? UDP_BUFFER_BYTES : packet.payloadBytes;
    const q = this.replies;
    const startNs = q.busyUntilNs > nowNs ? q.busyUntilNs : nowNs;
    q.busyUntilNs = startNs + rt.copyCostNs(bytes);
    q.push(bytes, packet.appTag, packet.appData, packet.flowId);
    rt.at(q.busyUntilNs, this, EV_COPY);
  }
  onUdpError(_socket, _error) {
    this.end();
  }
  onEvent(what, nowNs) {
    if (this.ended) return;
    if (what === EV_UDP_IDLE) {
      const deadlineNs = this.lastActivityNs + this.socket.runtime.udpIdleTimeoutNs;
      if (nowNs >= deadlineNs) return this.end();
      this.socket.runtime.at(deadlineNs, this, EV_UDP_IDLE);
      return;
    }
    const q = this.replies;
    if (q.length === 0) return;
    const i = q.shift();
    const bytes = q.bytes[i];
    if (!this.socket.alive) return this.end();
    const data = q.data[i];
    q.data[i] = null;
    this.socket.socket.sendTo(this.clientAddr, this.clientPort, bytes, q.tags[i], data, q.flows[i]);
    this.socket.stats.messagesCopied++;
    this.socket.stats.bytesCopied += bytes;
  }
  /** svrConn.Close() and delete from the client cache. */
  end() {
    if (this.ended) return;
    this.ended = true;
    this.out?.close();
    if (this.socket.clients.get(this.key) === this) this.socket.clients.delete(this.key);
    this.socket.runtime.unregister(this);
  }
};

// src/proxy/userspace/proxier.ts
var CHAIN_PORTALS_CONTAINER = "KUBE-PORTALS-CONTAINER";
var CHAIN_PORTALS_HOST = "KUBE-PORTALS-HOST";
var CHAIN_NODEPORT_CONTAINER = "KUBE-NODEPORT-CONTAINER";
var CHAIN_NODEPORT_HOST = "KUBE-NODEPORT-HOST";
var CHAIN_NODEPORT_NON_LOCAL = "KUBE-NODEPORT-NON-LOCAL";
var PORTALS_COMMENT = `"handle ClusterIPs; NOTE: this must be before the NodePort rules"`;
var NODEPORTS_COMMENT = `"handle service NodePorts; NOTE: this must be the last rule in the chain"`;
var NON_LOCAL_COMMENT = `"Ensure that non-local NodePort traffic can flow"`;
var USERSPACE_JUMP_RULES = [
  {
    table: "nat",
    chain: "PREROUTING",
    insert: true,
    spec: `-m comment --comment ${PORTALS_COMMENT} -j ${CHAIN_PORTALS_CONTAINER}`
  },
  {
    table: "nat",
    chain: "OUTPUT",
    insert: true,
    spec: `-m comment --comment ${PORTALS_COMMENT} -j ${CHAIN_PORTALS_HOST}`
  },
  {
    table: "nat",
    chain: "PREROUTING",
    insert: false,
    spec: `-m addrtype --dst-type LOCAL -m comment --comment ${NODEPORTS_COMMENT} -j ${CHAIN_NODEPORT_CONTAINER}`
  },
  {
    table: "nat",
    chain: "OUTPUT",
    insert: false,
    spec: `-m addrtype --dst-type LOCAL -m comment --comment ${NODEPORTS_COMMENT} -j ${CHAIN_NODEPORT_HOST}`
  },
  {
    table: "filter",
    chain: "INPUT",
    insert: true,
    spec: `-m comment --comment ${NON_LOCAL_COMMENT} -j ${CHAIN_NODEPORT_NON_LOCAL}`
  }
];
var USERSPACE_CHAINS = [
  { table: "nat", chain: CHAIN_PORTALS_CONTAINER },
  { table: "nat", chain: CHAIN_PORTALS_HOST },
  { table: "nat", chain: CHAIN_NODEPORT_CONTAINER },
  { table: "nat", chain: CHAIN_NODEPORT_HOST },
  { table: "filter", chain: CHAIN_NODEPORT_NON_LOCAL }
];
var SERVICE_CHANGE_PROTOCOLS = /* @__PURE__ */ new Set(["TCP", "UDP"]);
var UserspaceProxier = class {
  constructor(node, network, ns, scheduler, config, rng) {
    this.node = node;
    this.network = network;
    this.ns = ns;
    this.config = config;
    this.rng = rng;
    this.lb = new LoadBalancerRR(rng);
    this.runtime = new ProxyRuntime(network, ns, scheduler, this.lb, config.costs, config.udpIdleTimeoutNs);
    this.allocator = config.proxyPortRange === null ? new RandomPortAllocator() : new RangePortAllocator(config.proxyPortRange[0], config.proxyPortRange[1], rng);
    this.hostIP = node.ips[0] ?? "0.0.0.0";
  }
  node;
  network;
  ns;
  config;
  rng;
  lb;
  runtime;
  /** serviceMap: ServicePortName -> info, in the order the ports were opened. */
  serviceMap = /* @__PURE__ */ new Map();
  /** Services as the last successful sync saw them ("ns/name" -> object). */
  services = /* @__PURE__ */ new Map();
  /** Endpoints as the load balancer last saw them ("ns/name" -> ports map). */
  endpoints = /* @__PURE__ */ new Map();
  allocator;
  /** portMap of claimNodePort: "ip:port/PROTO" -> owner. */
  claims = /* @__PURE__ */ new Map();
  /** Ports reserved by a plan not yet applied (kernel-chosen proxy ports). */
  reservedPorts = /* @__PURE__ */ new Set();
  hostIP;
  // ------------------------------------------------------------------------------ endpoints
  /** The Endpoints watch: hands every added, changed or deleted Endpoints to the load balancer. */
  syncEndpoints(store) {
    const seen = /* @__PURE__ */ new Set();
    const list = store.list("Endpoints");
    const ordered = [...list].sort((a, b) => compare2(nsName(a.metadata), nsName(b.metadata)));
    for (const endpoints of ordered) {
      if (!watchedByKubeProxy(endpoints.metadata.labels)) continue;
      const key = nsName(endpoints.metadata);
      seen.add(key);
      const ports = buildPortsToEndpointsMap(endpoints);
      const previous = this.endpoints.get(key);
      if (previous === void 0) this.lb.onEndpointsAdd(key, ports);
      else if (!samePorts(previous, ports)) this.lb.onEndpointsUpdate(key, previous, ports);
      else continue;
      this.endpoints.set(key, ports);
    }
    for (const [key, ports] of [...this.endpoints]) {
      if (seen.has(key)) continue;
      this.lb.onEndpointsDelete(key, ports);
      this.endpoints.delete(key);
    }
  }
  // ------------------------------------------------------------------------------ sync
  /** syncProxyRules up to the kernel: merges the Service changes into a new service map. */
  plan(services) {
    const current = /* @__PURE__ */ new Map();
    for (const service of services) {
      if (!watchedByKubeProxy(service.metadata.labels)) continue;
      current.set(nsName(service.metadata), service);
    }
    const serviceMap = new Map(this.serviceMap);
    const claims = new Map(this.claims);
    const opened = [];
    const closed = [];
    const deleted = [];
    const allocated = [];
    let commands = 0;
    const keys = [.../* @__PURE__ */ new Set([...this.services.keys(), ...current.keys()])].sort(compare2);
    for (const key of keys) {
      const previous = this.services.get(key);
      const next = current.get(key);
      if (previous !== void 0 && next !== void 0 && JSON.stringify(previous) === JSON.stringify(next)) continue;
      const existingPorts = /* @__PURE__ */ new Set();
      if (next !== void 0 && !shouldSkipService(next)) {
        for (const port of next.spec.ports ?? []) {
          const name = servicePortName(key, port.name ?? "");
          existingPorts.add(port.name ?? "");
          const info = serviceMap.get(name);
          if (info !== void 0 && sameConfig(info, next, port)) continue;
          if (info !== void 0) {
            commands += 2 * info.rules.length;
            serviceMap.delete(name);
            closed.push(info);
            releaseClaims(claims, info.name);
          }
          const protocol = (port.protocol ?? "TCP").toUpperCase();
          if (!SERVICE_CHANGE_PROTOCOLS.has(protocol)) continue;
          const proxyPort = this.allocatePort(protocol === "TCP" ? "tcp" : "udp");
          if (proxyPort < 0) continue;
          allocated.push(proxyPort);
          const made = this.newServiceInfo(name, next, port, proxyPort, claims);
          commands += 2 * made.rules.length;
          serviceMap.set(name, made);
          opened.push(made);
        }
      }
      if (previous !== void 0 && !shouldSkipService(previous)) {
        for (const port of previous.spec.ports ?? []) {
          if (existingPorts.has(port.name ?? "")) continue;
          const name = servicePortName(key, port.name ?? "");
          const info = serviceMap.get(name);
          if (info === void 0) continue;
          commands += 2 * info.rules.length;
          serviceMap.delete(name);
          closed.push(info);
          deleted.push(name);
          releaseClaims(claims, info.name);
        }
      }
    }
    commands += 10;
    let natRules = USERSPACE_JUMP_RULES.filter((r) => r.table === "nat").length;
    let filterRules = USERSPACE_JUMP_RULES.filter((r) => r.table === "filter").length;
    for (const info of serviceMap.values()) {
      commands += info.rules.length;
      for (const rule2 of info.rules)
        if (rule2.chain === CHAIN_NODEPORT_NON_LOCAL) filterRules++;
        else natRules++;
    }
    return {
      serviceMap,
      opened,
      closed,
      deleted,
      services: current,
      commands,
      natRules,
      filterRules,
      allocated,
      claims
    };
  }
  /** The sync ends: sockets are closed and opened, the load balancer told, rules are written by the caller. */
  commit(plan, nowNs) {
    for (const info of plan.closed) {
      info.socket?.close();
      this.allocator.release(info.proxyPort);
    }
    for (const name of plan.deleted) if (!plan.serviceMap.has(name)) this.lb.deleteService(name);
    for (const info of plan.opened) {
      this.reservedPorts.delete(info.proxyPort);
      info.socket = info.protocol === "tcp" ? new TcpProxySocket(this.runtime, info.name, info.proxyPort) : new UdpProxySocket(this.runtime, info.name, info.proxyPort);
      this.lb.newService(info.name, info.affinityType, info.stickyMaxAgeSeconds);
    }
    this.serviceMap = plan.serviceMap;
    this.services = plan.services;
    this.claims = plan.claims;
    for (const name of this.serviceMap.keys()) this.lb.cleanupStaleStickySessions(name, nowNs);
  }
  /** The sync's kernel write failed: nothing of the plan happened. */
  discard(plan) {
    for (const port of plan.allocated) {
      this.allocator.release(port);
      this.reservedPorts.delete(port);
    }
  }
  /** The proxier's chains as iptables-restore input (--noflush: only these chains are rewritten). */
  restoreInput(serviceMap) {
    const byChain = /* @__PURE__ */ new Map();
    for (const c of USERSPACE_CHAINS) byChain.set(c.chain, []);
    for (const info of serviceMap.values())
      for (const rule2 of info.rules) byChain.get(rule2.chain).push(rule2.spec);
    const out = [];
    for (const table of ["nat", "filter"]) {
      out.push(`*${table}`);
      for (const c of USERSPACE_CHAINS) if (c.table === table) out.push(`:${c.chain} - [0:0]`);
      for (const c of USERSPACE_CHAINS)
        if (c.table === table) for (const spec of byChain.get(c.chain)) out.push(`-A ${c.chain} ${spec}`);
      out.push("COMMIT");
    }
    return out.join("\n") + "\n";
  }
  // ------------------------------------------------------------------------------ helpers
  /** proxyPorts.AllocateNext, or for the random allocator the port bind(0) would get. */
  allocatePort(protocol) {
    const port = this.allocator.allocateNext();
    if (port !== 0) return port;
    const params = this.network.params;
    const min = params.ephemeralPortMin;
    const count = params.ephemeralPortMax - min + 1;
    const start = this.ns.portRng.intBelow(count);
    for (const parity of [1, 0]) {
      for (let i = 0; i < count; i++) {
        const candidate = min + (start + i) % count;
        if ((candidate & 1) !== parity) continue;
        if (this.reservedPorts.has(candidate)) continue;
        if (protocol === "tcp" ? this.tcpPortInUse(candidate) : this.ns.udpSockets.has(candidate)) continue;
        this.reservedPorts.add(candidate);
        return candidate;
      }
    }
    return -1;
  }
  tcpPortInUse(port) {
    if (this.ns.tcpListeners.has(port)) return true;
    for (const key of this.ns.tcpConnections.keys()) if (key >>> 16 === port) return true;
    return false;
  }
  newServiceInfo(name, service, port, proxyPort, claims) {
    const protocol = (port.protocol ?? "TCP").toLowerCase() === "udp" ? "udp" : "tcp";
    const clusterIP = service.spec.clusterIP ?? "";
    const externalIPs = service.spec.externalIPs ?? [];
    const loadBalancerIPs = [];
    for (const ingress of service.status?.loadBalancer?.ingress ?? [])
      if (ingress.ip !== void 0 && ingress.ip !== "") loadBalancerIPs.push(ingress.ip);
    const affinity = service.spec.sessionAffinity === "ClientIP" ? AffinityType.CLIENT_IP : AffinityType.NONE;
    const rules = [];
    this.openPortals(
      name,
      protocol,
      clusterIP,
      port.port,
      externalIPs,
      loadBalancerIPs,
      port.nodePort ?? 0,
      proxyPort,
      rules,
      claims
    );
    return {
      name,
      protocol,
      clusterIP,
      port: port.port,
      nodePort: port.nodePort ?? 0,
      externalIPs,
      loadBalancerIPs,
      affinityType: affinity,
      stickyMaxAgeSeconds: affinity === AffinityType.CLIENT_IP ? service.spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800 : 0,
      proxyPort,
      rules,
      socket: null
    };
  }
  /** openPortal: the rules of every portal of a service port; stops at the first claim conflict. */
  openPortals(name, protocol, clusterIP, port, externalIPs, loadBalancerIPs, nodePort, proxyPort, rules, claims) {
    const hostPortal = (ip, dstLocal, p, chain) => {
      rules.push({
        chain,
        spec: `${commonArgs(name, protocol, ip, false, dstLocal, p)} -j DNAT --to-destination ${this.hostIP}:${proxyPort}`
      });
    };
    const containerPortal = (ip, physdev, dstLocal, p, chain) => {
      rules.push({
        chain,
        spec: `${commonArgs(name, protocol, ip, physdev, dstLocal, p)} -j REDIRECT --to-ports ${proxyPort}`
      });
    };
    const onePortal = (ip, isExternal) => {
      if (this.isLocalAddress(ip) && !claim(claims, ip, port, protocol, name)) return false;
      containerPortal(ip, isExternal, false, port, CHAIN_PORTALS_CONTAINER);
      if (isExternal) {
        containerPortal(ip, false, true, port, CHAIN_PORTALS_CONTAINER);
        hostPortal(ip, true, port, CHAIN_PORTALS_HOST);
        return true;
      }
      hostPortal(ip, false, port, CHAIN_PORTALS_HOST);
      return true;
    };
    if (!onePortal(clusterIP, false)) return;
    for (const ip of externalIPs) if (!onePortal(ip, true)) return;
    for (const ip of loadBalancerIPs) if (!onePortal(ip, false)) return;
    if (nodePort !== 0) {
      if (!claim(claims, "", nodePort, protocol, name)) return;
      containerPortal(null, false, false, nodePort, CHAIN_NODEPORT_CONTAINER);
      hostPortal(null, false, nodePort, CHAIN_NODEPORT_HOST);
      rules.push({
        chain: CHAIN_NODEPORT_NON_LOCAL,
        spec: `${commonArgs(name, protocol, null, false, false, proxyPort)} -m state --state NEW -j ACCEPT`
      });
    }
  }
  isLocalAddress(ip) {
    const parsed = parseIpv4(ip);
    return parsed !== void 0 && this.ns.localAddresses.has(parsed);
  }
  /** The proxy's ports as `rules` prints them after iptables-save. */
  listing() {
    const lines = ["# userspace proxy (service port -> proxy port -> endpoints, round-robin position)"];
    for (const info of [...this.serviceMap.values()].sort((a, b) => compare2(a.name, b.name))) {
      const state = this.lb.services.get(info.name);
      const endpoints = state === void 0 || state.endpoints.length === 0 ? "<none>" : state.endpoints.join(",");
      const next = state === void 0 || state.endpoints.length === 0 ? "-" : String(state.index);
      const affinity = info.affinityType === AffinityType.CLIENT_IP ? ` affinity=ClientIP/${state?.ttlSeconds ?? info.stickyMaxAgeSeconds}s clients=${state?.affinityMap.size ?? 0}` : "";
      const portal = `${info.clusterIP}:${info.port}/${info.protocol.toUpperCase()}`;
      const nodePort = info.nodePort !== 0 ? ` nodePort=${info.nodePort}` : "";
      lines.push(`${info.name} ${portal}${nodePort} -> :${info.proxyPort} -> ${endpoints} next=${next}${affinity}`);
    }
    return lines.join("\n") + "\n";
  }
};
function commonArgs(name, protocol, ip, physdev, dstLocal, port) {
  let args = `-m comment --comment ${quote2(name)} -p ${protocol} -m ${protocol} --dport ${port}`;
  if (ip !== null) args += ` -d ${ip}/32`;
  if (physdev) args += " -m physdev ! --physdev-is-in";
  if (dstLocal) args += " -m addrtype --dst-type LOCAL";
  return args;
}
function quote2(text) {
  return /[\s"]/.test(text) ? `"${text.replace(/"/g, '\\"')}"` : text;
}
function claim(claims, ip, port, protocol, owner) {
  const key = `${ip}:${port}/${protocol.toUpperCase()}`;
  const existing = claims.get(key);
  if (existing === void 0) {
    claims.set(key, owner);
    return true;
  }
  return existing === owner;
}
function releaseClaims(claims, owner) {
  for (const [key, value] of [...claims]) if (value === owner) claims.delete(key);
}
function sameConfig(info, service, port) {
  const protocol = (port.protocol ?? "TCP").toLowerCase();
  if (info.protocol !== protocol || info.port !== port.port || info.nodePort !== (port.nodePort ?? 0)) return false;
  if (info.clusterIP !== (service.spec.clusterIP ?? "")) return false;
  const external = service.spec.externalIPs ?? [];
  if (external.length !== info.externalIPs.length || external.some((ip, i) => ip !== info.externalIPs[i])) return false;
  const lb = [];
  for (const ingress of service.status?.loadBalancer?.ingress ?? [])
    if (ingress.ip !== void 0 && ingress.ip !== "") lb.push(ingress.ip);
  if (lb.length !== info.loadBalancerIPs.length || lb.some((ip, i) => ip !== info.loadBalancerIPs[i])) return false;
  const affinity = service.spec.sessionAffinity === "ClientIP" ? AffinityType.CLIENT_IP : AffinityType.NONE;
  return info.affinityType === affinity;
}
function buildPortsToEndpointsMap(endpoints) {
  const out = /* @__PURE__ */ new Map();
  for (const subset of endpoints.subsets ?? []) {
    for (const port of subset.ports ?? []) {
      for (const address of subset.addresses ?? []) {
        if (address.ip === "" || !(port.port > 0)) continue;
        if (parseIpv4(address.ip) === void 0) continue;
        const name = port.name ?? "";
        let list = out.get(name);
        if (list === void 0) {
          list = [];
          out.set(name, list);
        }
        list.push(`${address.ip}:${port.port}`);
      }
    }
  }
  return out;
}
function samePorts(a, b) {
  if (a.size !== b.size) return false;
  for (const [name, list] of a) {
    const other = b.get(name);
    if (other === void 0 || other.length !== list.length || other.some((e, i) => e !== list[i])) return false;
  }
  return true;
}
function nsName(meta) {
  return `${meta.namespace ?? "default"}/${meta.name}`;
}
function compare2(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

// src/cluster/backend-userspace.ts
var DEFAULT_USERSPACE_PROXY = {
  proxyPortRange: null,
  udpIdleTimeoutNs: 25e7,
  connectCostNs: 2e4,
  copyCostPerMessageNs: 5e3,
  copyCostPerKiBNs: 250
};
var UserspaceBackend = class {
  mode = "userspace";
  /** The userspace proxier created no ServiceHealthServer: healthCheckNodePorts go unanswered. */
  serviceHealthServers = false;
  proxier;
  stack;
  scheduler;
  kindWatch;
  fixedNs;
  perTableRuleNs;
  store = null;
  watchPending = false;
  pending = null;
  jumpsInstalled = false;
  constructor(c) {
    const u = c.spec.userspace ?? DEFAULT_USERSPACE_PROXY;
    this.stack = c.stack;
    this.scheduler = c.scheduler;
    const cost = c.spec.syncCost.iptables ?? DEFAULT_IPTABLES_SYNC_COST;
    this.fixedNs = cost.fixedNs;
    this.perTableRuleNs = cost.perTableRuleNs;
    this.proxier = new UserspaceProxier(
      c.node,
      c.network,
      c.ns,
      c.scheduler,
      {
        proxyPortRange: u.proxyPortRange,
        udpIdleTimeoutNs: u.udpIdleTimeoutNs,
        costs: { connectNs: u.connectCostNs, perMessageNs: u.copyCostPerMessageNs, perKiBNs: u.copyCostPerKiBNs }
      },
      Rng.stream(c.seed, `node/${c.node.name}/userspace-proxy`)
    );
    this.kindWatch = c.scheduler.registerKind(`userspace-proxy/${c.node.name}/endpoints-watch`, this);
  }
  watch(store) {
    this.store = store;
  }
  /**
   * An object changed: the Endpoints handler runs once the writer's step is over (the Endpoints
   * object is written after the EndpointSlices in the same controller pass).
   */
  onObjectsChanged(nowNs) {
    if (this.watchPending) return;
    this.watchPending = true;
    this.scheduler.schedule(nowNs, this.kindWatch, 0, 0);
  }
  handleEvent() {
    this.watchPending = false;
    if (this.store !== null) this.proxier.syncEndpoints(this.store);
  }
  compile(_nowNs, services, _slices) {
    if (this.store !== null) this.proxier.syncEndpoints(this.store);
    const plan = this.proxier.plan(services);
    this.pending = plan;
    const perCommandNs = this.fixedNs + this.perTableRuleNs * plan.natRules;
    return {
      durationNs: plan.commands * perCommandNs,
      fullSync: true,
      natRules: plan.natRules,
      filterRules: plan.filterRules,
      tableObjects: plan.natRules + plan.filterRules,
      // The shared stale-UDP cleanup keys on DNAT to endpoints, which this mode never does (its
      // REDIRECT targets the node itself); its own cleanup runs in apply.
      services: [],
      payload: plan
    };
  }
  apply(nowNs, sync) {
    const plan = sync.payload;
    this.pending = null;
    this.proxier.commit(plan, nowNs);
    this.stack.restore(this.proxier.restoreInput(plan.serviceMap), { noflush: true });
    if (!this.jumpsInstalled) {
      const out = [];
      for (const table of ["nat", "filter"]) {
        out.push(`*${table}`);
        for (const rule2 of USERSPACE_JUMP_RULES)
          if (rule2.table === table) out.push(`${rule2.insert ? "-I" : "-A"} ${rule2.chain} ${rule2.spec}`);
        out.push("COMMIT");
      }
      this.stack.restore(out.join("\n") + "\n", { noflush: true });
      this.jumpsInstalled = true;
    }
    const staleIPs = /* @__PURE__ */ new Set();
    for (const info of plan.closed)
      if (info.protocol === "udp" && plan.deleted.includes(info.name)) {
        const ip = parseIpv4(info.clusterIP);
        if (ip !== void 0) staleIPs.add(ip);
      }
    if (staleIPs.size > 0) {
      const ct = this.stack.conntrack;
      for (const id of ct.ids()) if (ct.proto[id] === Protocol.UDP && staleIPs.has(ct.dst[id * 2])) ct.remove(id);
    }
  }
  failed() {
    if (this.pending !== null) this.proxier.discard(this.pending);
    this.pending = null;
  }
  /** iptables-save (sorted: the proxier's chains only), then the proxy's ports. */
  rules(sorted) {
    const saved = this.stack.save();
    return (sorted ? kubeProxyChainsOnly(saved) : saved) + this.proxier.listing();
  }
};
var USERSPACE_CHAIN_NAMES = USERSPACE_CHAINS.map((c) => c.chain);

// src/cluster/proxy-backends.ts
var PROXY_BACKENDS = {
  iptables: (c) => new IptablesBackend(c.node, c.stack, c.spec),
  nftables: (c) => new NftablesBackend(
    c.node,
    c.stack,
    c.spec,
    Rng.stream(c.seed, `node/${c.node.name}/nftables/numgen`),
    c.serviceCIDRs ?? []
  ),
  userspace: (c) => new UserspaceBackend(c),
  ipvs: (c) => new IpvsBackend(c)
};
function simulatedProxyModes() {
  return ["iptables", "ipvs", "nftables", "userspace"].filter((m) => PROXY_BACKENDS[m] !== void 0);
}

// src/dns/resolve.ts
function resolveHost(tables, host, port, clientNamespace) {
  const literal = parseIpv4(host);
  if (literal !== void 0)
    return { address: literal, addresses: [literal], service: serviceByAddress(tables, host, port) };
  const name = host.endsWith(".") ? host.slice(0, -1) : host;
  const domainSuffix = `.svc.${tables.clusterDomain}`;
  const labels = name.split(".");
  let candidates;
  if (name.endsWith(domainSuffix)) {
    const parts = name.slice(0, -domainSuffix.length).split(".");
    candidates = parts.length === 2 ? [[parts[1], parts[0]]] : [];
  } else if (labels.length === 3 && labels[2] === "svc") {
    candidates = [[labels[1], labels[0]]];
  } else if (labels.length === 2) {
    candidates = [[labels[1], labels[0]]];
  } else if (labels.length === 1) {
    candidates = [[clientNamespace, labels[0]]];
  } else {
    candidates = [];
  }
  for (const [namespace, serviceName] of candidates) {
    const service = tables.store.get("Service", namespace, serviceName);
    if (service === void 0) continue;
    const ip = service.spec.clusterIP;
    if (ip !== void 0 && ip !== "None" && ip !== "") {
      const address = parseIpv4(ip);
      if (address !== void 0) return { address, addresses: [address], service: { namespace, name: serviceName } };
    }
    const addresses = [];
    for (const slice of tables.store.endpointSlicesFor(namespace, serviceName)) {
      for (const endpoint of slice.endpoints) {
        if (endpoint.conditions?.ready === false) continue;
        const address = parseIpv4(endpoint.addresses[0] ?? "");
        if (address !== void 0 && !addresses.includes(address)) addresses.push(address);
      }
    }
    if (addresses.length > 0) return { address: addresses[0], addresses, service: null };
  }
  const node = tables.nodeAddresses.get(name);
  if (node !== void 0) return { address: node, addresses: [node], service: null };
  const external = tables.externalAddresses.get(name);
  if (external !== void 0) return { address: external, addresses: [external], service: null };
  return null;
}
function serviceByAddress(tables, ip, port) {
  const isNode = [...tables.nodeAddresses.values()].some((a) => formatIpv4(a) === ip);
  for (const service of tables.store.list("Service")) {
    const spec = service.spec;
    const ports = spec.ports ?? [];
    const byPort = ports.some((p) => p.port === port);
    const vips = [
      spec.clusterIP,
      ...spec.externalIPs ?? [],
      ...(service.status?.loadBalancer?.ingress ?? []).map((i) => i.ip)
    ];
    const hit = byPort && vips.includes(ip) || isNode && ports.some((p) => p.nodePort === port);
    if (hit) return { namespace: service.metadata.namespace ?? "default", name: service.metadata.name };
  }
  return null;
}

// src/dns/nodelocal/rules.ts
var NODE_CACHE_HEALTH_PORT = "8080";
var NODE_CACHE_LOCAL_PORT = "53";
function nodeCacheRules(localIps, localPort = NODE_CACHE_LOCAL_PORT, healthPort = NODE_CACHE_HEALTH_PORT) {
  const out = [];
  for (const ip of localIps) {
    out.push(
      { table: "raw", chain: "PREROUTING", args: ["-p", "tcp", "-d", ip, "--dport", localPort, "-j", "NOTRACK"] },
      { table: "raw", chain: "PREROUTING", args: ["-p", "udp", "-d", ip, "--dport", localPort, "-j", "NOTRACK"] },
      { table: "filter", chain: "INPUT", args: ["-p", "tcp", "-d", ip, "--dport", localPort, "-j", "ACCEPT"] },
      { table: "filter", chain: "INPUT", args: ["-p", "udp", "-d", ip, "--dport", localPort, "-j", "ACCEPT"] },
      { table: "raw", chain: "OUTPUT", args: ["-p", "tcp", "-s", ip, "--sport", localPort, "-j", "NOTRACK"] },
      { table: "raw", chain: "OUTPUT", args: ["-p", "udp", "-s", ip, "--sport", localPort, "-j", "NOTRACK"] },
      { table: "filter", chain: "OUTPUT", args: ["-p", "tcp", "-s", ip, "--sport", localPort, "-j", "ACCEPT"] },
      { table: "filter", chain: "OUTPUT", args: ["-p", "udp", "-s", ip, "--sport", localPort, "-j", "ACCEPT"] },
      { table: "raw", chain: "OUTPUT", args: ["-p", "tcp", "-d", ip, "--dport", localPort, "-j", "NOTRACK"] },
      { table: "raw", chain: "OUTPUT", args: ["-p", "udp", "-d", ip, "--dport", localPort, "-j", "NOTRACK"] },
      { table: "raw", chain: "OUTPUT", args: ["-p", "tcp", "-d", ip, "--dport", healthPort, "-j", "NOTRACK"] },
      { table: "raw", chain: "OUTPUT", args: ["-p", "tcp", "-s", ip, "--sport", healthPort, "-j", "NOTRACK"] }
    );
  }
  return out;
}
function savedRuleSpec(rule2) {
  const a = rule2.args;
  let proto = "";
  let src = "";
  let dst = "";
  let port = "";
  let target = "";
  for (let i = 0; i < a.length; i += 2) {
    const value = a[i + 1];
    switch (a[i]) {
      case "-p":
        proto = value;
        break;
      case "-s":
        src = `-s ${value}/32`;
        break;
      case "-d":
        dst = `-d ${value}/32`;
        break;
      case "--sport":
      case "--dport":
        port = `${a[i]} ${value}`;
        break;
      case "-j":
        target = `-j ${value}`;
        break;
    }
  }
  return [src, dst, `-p ${proto}`, `-m ${proto}`, port, target].filter((part) => part !== "").join(" ");
}
function savedRuleLine(rule2) {
  return `-A ${rule2.chain} ${savedRuleSpec(rule2)}`;
}
function ruleExists(stack, rule2) {
  const line = savedRuleLine(rule2);
  let inTable = false;
  for (const text of stack.save().split("\n")) {
    if (text.startsWith("*")) inTable = text === `*${rule2.table}`;
    else if (inTable && text === line) return true;
  }
  return false;
}
function ensureNodeCacheRules(stack, rules) {
  let added = 0;
  for (const rule2 of rules) {
    if (ruleExists(stack, rule2)) continue;
    stack.restore(`*${rule2.table}
-I ${rule2.chain} ${savedRuleSpec(rule2)}
COMMIT
`, { noflush: true });
    added++;
  }
  return added;
}
function deleteNodeCacheRules(stack, rules) {
  for (const rule2 of rules) {
    while (ruleExists(stack, rule2))
      stack.restore(`*${rule2.table}
-D ${rule2.chain} ${savedRuleSpec(rule2)}
COMMIT
`, { noflush: true });
  }
}

// src/apps/nodelocal-dns.ts
var FORWARD_EXPIRE_NS = 10 * NS_PER_S;
var FORWARD_READ_TIMEOUT_NS = 2 * NS_PER_S;
var FORWARD_DEADLINE_NS = 5 * NS_PER_S;
var BLOCK_CLUSTER = 0;
var BLOCK_REVERSE4 = 1;
var BLOCK_REVERSE6 = 2;
var BLOCK_ROOT = 3;
var SLOT_CONN_MANAGER = -1;
var readDeadlineSlot = (slot) => -2 - slot;
var PHASE_FREE2 = 0;
var PHASE_QUEUED2 = 1;
var PHASE_CPU2 = 2;
var PHASE_RESOLVER = 3;
var PHASE_TCP = 4;
var NodeLocalDnsServer = class extends Server {
  constructor(apps, ns, identity, rng, params) {
    super(apps, ns, identity, { meanNs: 0, distribution: "fixed" }, rng);
    this.params = params;
    this.workers = Math.max(1, Math.floor(params.cpus));
    this.queryCpuNs = Math.round(NS_PER_S * this.workers / (params.cpus * params.queriesPerSecondPerCpu));
    const reverse = cacheWithTtl(30);
    this.caches = [
      new DnsCache(nodeLocalClusterCache(params.clusterDomain), rng),
      new DnsCache({ ...reverse, zones: ["in-addr.arpa"] }, rng),
      new DnsCache({ ...reverse, zones: ["ip6.arpa"] }, rng),
      new DnsCache(reverse, rng)
    ];
    for (const ip of params.localIps) {
      if (udpBindConflicts(ns.udpSockets.get(DNS_PORT), ip, false)) continue;
      const socket = apps.network.udpBind(ns, ip, DNS_PORT, this);
      if (socket !== null) this.udpSockets.push(socket);
    }
    this.tcpListener = ns.tcpListeners.has(DNS_PORT) ? null : apps.network.tcp.listen(ns, 0, DNS_PORT, this);
    const server = this;
    this.clientListener = {
      onConnected() {
      },
      onMessage(conn, _bytes, appTag, appData) {
        server.onClientMessage(conn, appTag, appData);
      },
      onPeerClosed(conn) {
        conn.close();
      },
      onClosed() {
      }
    };
    this.upstreamListener = {
      onConnected(conn) {
        server.onUpstreamConnected(conn);
      },
      onMessage(conn, _bytes, _appTag, appData) {
        server.onUpstreamMessage(conn, appData);
      },
      onPeerClosed(conn) {
        server.onUpstreamGone(conn);
        conn.close();
      },
      onClosed(conn, error) {
        server.onUpstreamGone(conn, error);
      }
    };
  }
  params;
  counters = {
    received: 0,
    answered: 0,
    cacheHits: 0,
    cacheMisses: 0,
    forwarded: 0,
    forwardedTcp: 0,
    upstreamConnections: 0,
    servfail: 0,
    upstreamTimeouts: 0,
    dropped: 0
  };
  /** One cache per server block (cluster, in-addr.arpa, ip6.arpa, root). */
  caches;
  udpSockets = [];
  tcpListener;
  workers;
  queryCpuNs;
  busyWorkers = 0;
  /** The queries held, by slot (this server's own per-slot state is in the job* arrays). */
  requests = new DnsRequests();
  jobPhase = [];
  jobBlock = [];
  /** The upstream connection of a query in PHASE_TCP, its attempt's read deadline and forward's deadline. */
  jobUpstream = [];
  jobReadDeadlineNs = [];
  jobForwardDeadlineNs = [];
  queue = [];
  queueHead = 0;
  /** Upstream TCP connections: idle ones (with when they became idle) and the busy one's slot. */
  idle = [];
  idleSinceNs = [];
  busy = /* @__PURE__ */ new Map();
  upstreamListener;
  clientListener;
  /**
   * Once registered (the index names it in events): proxy/persistent.go connManager, whose ticker
   * closes expired pooled connections every defaultExpire.
   */
  startTimers() {
    this.apps.scheduleServe(this.index, SLOT_CONN_MANAGER, this.apps.nowNs + FORWARD_EXPIRE_NS);
  }
  get queryTimeNs() {
    return this.queryCpuNs;
  }
  // --- client transports
  onUdpMessage(socket, packet) {
    if (!this.running) return;
    const data = packet.appData;
    if (!isDnsMessage(data) || data.questions.length === 0) {
      this.counters.dropped++;
      return;
    }
    this.accept(data, socket, null, packet.srcAddr, packet.srcPort, packet.appTag, packet.flowId);
  }
  onUdpError(_socket, _error, _remoteAddr, _remotePort, _appTag) {
  }
  onAccept(_server, conn) {
    if (!this.params.localIps.includes(conn.localAddr)) conn.abort();
    return this.clientListener;
  }
  onClientMessage(conn, appTag, appData) {
    if (!this.running) return;
    if (!isDnsMessage(appData) || appData.questions.length === 0) {
      this.counters.dropped++;
      return;
    }
    this.accept(appData, null, conn, conn.remoteAddr, conn.remotePort, appTag, 0);
  }
  // --- a query's life
  accept(query, socket, conn, addr, port, tag, flow) {
    this.counters.received++;
    const slot = this.requests.take(query, socket, conn, addr, port, tag, flow);
    this.jobBlock[slot] = this.blockOf(query.questions[0].name);
    if (this.busyWorkers < this.workers) this.startCpu(slot);
    else {
      this.jobPhase[slot] = PHASE_QUEUED2;
      this.queue.push(slot);
    }
  }
  /** The server block of the longest zone containing `name` (dnsserver's zone match). */
  blockOf(name) {
    const n = name.toLowerCase().replace(/\.$/, "");
    const inZone = (zone) => n === zone || n.endsWith(`.${zone}`);
    if (inZone(this.params.clusterDomain.toLowerCase())) return BLOCK_CLUSTER;
    if (inZone("in-addr.arpa")) return BLOCK_REVERSE4;
    if (inZone("ip6.arpa")) return BLOCK_REVERSE6;
    return BLOCK_ROOT;
  }
  startCpu(slot) {
    this.busyWorkers++;
    this.jobPhase[slot] = PHASE_CPU2;
    this.apps.scheduleServe(this.index, slot, this.apps.nowNs + this.queryCpuNs);
  }
  onServe(slot, nowNs) {
    if (slot === SLOT_CONN_MANAGER) return this.cleanupExpired(nowNs);
    if (slot < SLOT_CONN_MANAGER) {
      const job = readDeadlineSlot(slot);
      if (this.jobPhase[job] === PHASE_TCP && nowNs >= this.jobReadDeadlineNs[job]) this.attemptTimedOut(job, nowNs);
      return;
    }
    const phase = this.jobPhase[slot];
    if (phase === PHASE_CPU2) {
      this.busyWorkers--;
      this.runChain(slot, nowNs);
      if (this.queueHead < this.queue.length && this.busyWorkers < this.workers) {
        const next = this.queue[this.queueHead++];
        if (this.queueHead === this.queue.length) {
          this.queue = [];
          this.queueHead = 0;
        }
        this.startCpu(next);
      }
    } else if (phase === PHASE_RESOLVER) this.resolverAnswered(slot, nowNs);
  }
  /** cache -> forward. */
  runChain(slot, nowNs) {
    const query = this.requests.query[slot];
    if (!this.running) return this.finish(slot);
    const cache = this.caches[this.jobBlock[slot]];
    const cached = cache.get(nowNs, query);
    if (cached !== null) {
      this.counters.cacheHits++;
      return this.reply(slot, cached);
    }
    if (cache.covers(query)) this.counters.cacheMisses++;
    this.counters.forwarded++;
    if (this.jobBlock[slot] === BLOCK_ROOT) {
      this.jobPhase[slot] = PHASE_RESOLVER;
      this.apps.scheduleServe(this.index, slot, nowNs + this.params.upstreamRttNs);
      return;
    }
    this.counters.forwardedTcp++;
    this.jobForwardDeadlineNs[slot] = nowNs + FORWARD_DEADLINE_NS;
    this.forwardTcp(slot, nowNs);
  }
  resolverAnswered(slot, nowNs) {
    const query = this.requests.query[slot];
    if (!this.running) return this.finish(slot);
    const q = query.questions[0];
    const answers = upstreamResolverAnswers(this.params.upstreamNames, this.params.upstreamTtlS, q.name, q.type);
    const reply = dnsReply(
      query,
      answers.rcode,
      DnsFlag.RA,
      answers.records,
      answers.rcode === Rcode.NXDOMAIN || answers.records.length === 0 ? [ROOT_SOA] : []
    );
    this.reply(slot, this.caches[BLOCK_ROOT].put(nowNs, query, reply));
  }
  // --- forward . <kube-dns-upstream> { force_tcp }
  /** One attempt (proxy.Connect): a pooled or new connection, the query, a read deadline. */
  forwardTcp(slot, nowNs) {
    this.jobPhase[slot] = PHASE_TCP;
    this.jobReadDeadlineNs[slot] = nowNs + FORWARD_READ_TIMEOUT_NS;
    this.apps.scheduleServe(this.index, readDeadlineSlot(slot), nowNs + FORWARD_READ_TIMEOUT_NS);
    while (this.idle.length > 0) {
      const conn2 = this.idle.pop();
      const since = this.idleSinceNs.pop();
      if (conn2.state !== TcpState.ESTABLISHED) continue;
      if (nowNs - since >= FORWARD_EXPIRE_NS) {
        conn2.close();
        continue;
      }
      this.busy.set(conn2, slot);
      this.jobUpstream[slot] = conn2;
      this.sendUpstream(conn2, slot);
      return;
    }
    this.counters.upstreamConnections++;
    const conn = this.apps.network.tcp.connect(this.ns, this.params.upstreamServiceIp, DNS_PORT, this.upstreamListener);
    this.busy.set(conn, slot);
    this.jobUpstream[slot] = conn;
  }
  /**
   * No answer within the read timeout: Connect fails and closes the connection; ServeDNS tries
   * again (one upstream: the same Service) while forward's deadline has not passed, then SERVFAIL.
   */
  attemptTimedOut(slot, nowNs) {
    this.counters.upstreamTimeouts++;
    const conn = this.jobUpstream[slot];
    this.jobUpstream[slot] = null;
    if (conn !== null) {
      this.busy.delete(conn);
      conn.close();
    }
    if (!this.running) return this.finish(slot);
    if (nowNs < this.jobForwardDeadlineNs[slot]) return this.forwardTcp(slot, nowNs);
    this.counters.servfail++;
    this.reply(slot, dnsReply(this.requests.query[slot], Rcode.SERVFAIL, DnsFlag.RA, []));
  }
  /** persistent.go cleanup(false): close pooled connections unused for `expire`; tick again. */
  cleanupExpired(nowNs) {
    if (!this.running) return;
    let kept = 0;
    for (let i = 0; i < this.idle.length; i++) {
      if (nowNs - this.idleSinceNs[i] >= FORWARD_EXPIRE_NS) this.idle[i].close();
      else {
        this.idle[kept] = this.idle[i];
        this.idleSinceNs[kept++] = this.idleSinceNs[i];
      }
    }
    this.idle.length = kept;
    this.idleSinceNs.length = kept;
    this.apps.scheduleServe(this.index, SLOT_CONN_MANAGER, nowNs + FORWARD_EXPIRE_NS);
  }
  sendUpstream(conn, slot) {
    const query = this.requests.query[slot];
    conn.send(encodedLengthBytes(query) + DNS_TCP_LENGTH_PREFIX_BYTES, this.requests.tagOf(slot), query);
  }
  onUpstreamConnected(conn) {
    const slot = this.busy.get(conn);
    if (slot !== void 0) this.sendUpstream(conn, slot);
  }
  onUpstreamMessage(conn, appData) {
    const slot = this.busy.get(conn);
    if (slot === void 0 || !isDnsMessage(appData)) return;
    this.busy.delete(conn);
    this.jobUpstream[slot] = null;
    this.idle.push(conn);
    this.idleSinceNs.push(this.apps.nowNs);
    if (!this.running) return this.finish(slot);
    const query = this.requests.query[slot];
    this.reply(slot, this.caches[this.jobBlock[slot]].put(this.apps.nowNs, query, appData));
  }
  /** The upstream connection failed or was closed: its query (if any) gets SERVFAIL. */
  onUpstreamGone(conn, _error) {
    const at = this.idle.indexOf(conn);
    if (at >= 0) {
      this.idle.splice(at, 1);
      this.idleSinceNs.splice(at, 1);
    }
    const slot = this.busy.get(conn);
    if (slot === void 0) return;
    this.busy.delete(conn);
    this.jobUpstream[slot] = null;
    if (!this.running) return this.finish(slot);
    this.counters.servfail++;
    this.reply(slot, dnsReply(this.requests.query[slot], Rcode.SERVFAIL, DnsFlag.RA, []));
  }
  reply(slot, reply) {
    const query = this.requests.query[slot];
    const out = reply.id === query.id ? reply : { ...reply, id: query.id };
    const sent = this.requests.send(slot, out);
    if (sent !== 0) this.counters.answered++;
    this.finish(slot);
  }
  finish(slot) {
    this.jobUpstream[slot] = null;
    this.jobPhase[slot] = PHASE_FREE2;
    this.requests.release(slot);
  }
  /** The process exits: its sockets close (the kernel closes them; pooled connections too). */
  stop() {
    this.running = false;
    for (const socket of this.udpSockets) socket.close();
    this.tcpListener?.close();
    for (const conn of this.idle) conn.close();
    for (const conn of this.busy.keys()) conn.close();
    this.idle.length = 0;
    this.idleSinceNs.length = 0;
    this.busy.clear();
  }
};

// src/apps/nodelocal-agent.ts
var NODE_LOCAL_DNS_INTERFACE = "nodelocaldns";
var KUBE_DNS_UPSTREAM = "kube-dns-upstream";
function kubeDnsUpstreamManifest() {
  return {
    object: {
      apiVersion: "v1",
      kind: "Service",
      metadata: {
        name: KUBE_DNS_UPSTREAM,
        namespace: "kube-system",
        labels: {
          "k8s-app": "kube-dns",
          "kubernetes.io/cluster-service": "true",
          "kubernetes.io/name": "KubeDNSUpstream"
        }
      },
      spec: {
        type: "ClusterIP",
        selector: { "k8s-app": "kube-dns" },
        ports: [
          { name: "dns", port: 53, protocol: "UDP", targetPort: 53 },
          { name: "dns-tcp", port: 53, protocol: "TCP", targetPort: 53 }
        ]
      }
    }
  };
}
function nodeLocalListenIps(address, kubeDnsIp, proxyMode) {
  return proxyMode === "ipvs" || kubeDnsIp === null ? [address] : [address, kubeDnsIp];
}
var NodeLocalDnsAgent = class {
  constructor(ctx) {
    this.ctx = ctx;
    this.rules = nodeCacheRules(ctx.localIps);
  }
  ctx;
  rules;
  server = null;
  /** Every server this node ran (one per process start), newest last. */
  servers = [];
  iface = null;
  get node() {
    return this.ctx.node;
  }
  get running() {
    return this.server !== null;
  }
  /** The pod's container starts: interface, CoreDNS, then the rules (EnsureRule: no duplicates). */
  start() {
    if (this.server !== null) return;
    const ctx = this.ctx;
    this.iface = ctx.ns.interfaceByName(NODE_LOCAL_DNS_INTERFACE) ?? ctx.network.addDummy(ctx.ns, NODE_LOCAL_DNS_INTERFACE);
    const ips = ctx.localIps.map((ip) => ipv4(ip));
    for (const ip of ips) if (!ctx.ns.localAddresses.has(ip)) ctx.network.addAddress(this.iface, ip, 32);
    const server = new NodeLocalDnsServer(ctx.host, ctx.ns, ctx.identity(), ctx.rng(), { ...ctx.params, localIps: ips });
    ctx.host.addServer(server);
    server.startTimers();
    this.server = server;
    this.servers.push(server);
    ensureNodeCacheRules(ctx.stack, this.rules);
  }
  /** SIGTERM: CoreDNS exits, then TeardownNetworking (device and its addresses, then the rules). */
  stop() {
    this.server?.stop();
    this.server = null;
    const iface = this.iface;
    if (iface !== null) for (const ip of [...iface.assignedAddresses]) this.ctx.network.removeAddress(iface, ip);
    deleteNodeCacheRules(this.ctx.stack, this.rules);
  }
  /** Killed: the process is gone, nothing is torn down. */
  crash() {
    this.server?.stop();
    this.server = null;
  }
};
function clusterIpOf(store, name) {
  const svc = store.get("Service", "kube-system", name);
  const ip = svc?.spec.clusterIP;
  return ip === void 0 || ip === "None" ? null : ip;
}

// src/apps/nodelocal-setup.ts
function startNodeLocalDns(setup) {
  const exists = setup.store.get("Service", "kube-system", KUBE_DNS_UPSTREAM) !== void 0;
  const issues = exists ? [] : setup.apply([kubeDnsUpstreamManifest()]);
  const agents = /* @__PURE__ */ new Map();
  const upstream = clusterIpOf(setup.store, KUBE_DNS_UPSTREAM);
  if (upstream === null) return { agents, issues };
  const localIps = nodeLocalListenIps(setup.address, clusterIpOf(setup.store, "kube-dns"), setup.proxyMode);
  for (const node of setup.nodes) {
    const name = `node-local-dns-${node.name}`;
    const agent = new NodeLocalDnsAgent({
      node: node.name,
      ns: node.ns,
      stack: node.stack,
      network: setup.network,
      host: setup.host,
      identity: () => setup.identity(name, ipv4(setup.address), node.name),
      rng: () => Rng.stream(setup.seed, `node/${node.name}/node-local-dns`),
      localIps,
      params: {
        upstreamServiceIp: ipv4(upstream),
        clusterDomain: setup.clusterDomain,
        queriesPerSecondPerCpu: COREDNS_QUERIES_PER_SECOND_PER_CPU,
        cpus: node.cpus,
        upstreamRttNs: setup.upstreamRttNs,
        upstreamTtlS: UPSTREAM_TTL_S_DEFAULT,
        upstreamNames: setup.upstreamNames
      }
    });
    agents.set(node.name, agent);
  }
  new NodeLocalDnsStarter(setup.scheduler, [...agents.values()], setup.startAtNs);
  return { agents, issues };
}
var NodeLocalDnsStarter = class {
  constructor(scheduler, agents, startAtNs) {
    this.scheduler = scheduler;
    this.agents = agents;
    this.startAtNs = startAtNs;
    this.kind = scheduler.registerKind("dns/node-local-dns-start", this);
    scheduler.schedule(scheduler.nowNs, this.kind, -1, 0);
  }
  scheduler;
  agents;
  startAtNs;
  kind;
  handleEvent(_kind, a, _b, nowNs) {
    if (a >= 0) return this.agents[a].start();
    this.agents.forEach(
      (agent, i) => this.scheduler.schedule(Math.max(nowNs, this.startAtNs(agent.node)), this.kind, i, 0)
    );
  }
};
function nodeLocalDnsEvent(agents, node, event) {
  const targets = node === null ? [...agents.values()] : [agents.get(node)].filter((a) => a !== void 0);
  for (const agent of targets) {
    if (event === "stop") agent.stop();
    else if (event === "crash") agent.crash();
    else agent.start();
  }
  const where = node === null ? "every node" : node;
  switch (event) {
    case "stop":
      return `node-local-dns on ${where}: stopped (SIGTERM): its iptables rules and nodelocaldns addresses removed`;
    case "crash":
      return `node-local-dns on ${where}: crashed: its iptables rules and nodelocaldns addresses stay, nothing listens`;
    case "start":
      return `node-local-dns on ${where}: started`;
  }
}

// src/dns/resolv-conf.ts
var KUBELET_DEFAULT_DNS_OPTIONS = ["ndots:5"];
var MAX_DNS_NAMESERVERS = 3;
var MAX_DNS_SEARCH_PATHS = 32;
var MAX_DNS_SEARCH_LIST_CHARS = 2048;
var MAX_DNS_SEARCH_PATHS_LEGACY = 6;
var MAX_DNS_SEARCH_LIST_CHARS_LEGACY = 256;
var MAX_DNS_SEARCH_DOMAIN_CHARS = 253;
function effectiveDnsPolicy(pod) {
  const policy = pod.dnsPolicy ?? "ClusterFirst";
  switch (policy) {
    case "None":
      return "none";
    case "ClusterFirstWithHostNet":
      return "cluster";
    case "ClusterFirst":
      return pod.hostNetwork === true ? "host" : "cluster";
    case "Default":
      return "host";
  }
}
function parseNodeResolvConf(text) {
  const nameservers = [];
  let searches = [];
  let options = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.startsWith(";")) continue;
    const fields = line.trim().split(/\s+/);
    if (fields[0] === "nameserver" && fields.length >= 2) nameservers.push(fields[1]);
    else if (fields[0] === "search") {
      searches = [];
      for (const s of fields.slice(1)) if (s !== ".") searches.push(s.endsWith(".") ? s.slice(0, -1) : s);
    } else if (fields[0] === "options") options = appendOptions(options, fields.slice(1));
  }
  return { nameservers, searches, options };
}
function optionName(option) {
  const colon = option.indexOf(":");
  return colon < 0 ? option : option.slice(0, colon);
}
function appendOptions(options, extra) {
  const out = [...options];
  for (const option of extra) {
    const at = out.findIndex((o) => optionName(o) === optionName(option));
    if (at >= 0) out[at] = option;
    else out.push(option);
  }
  return out;
}
function omitDuplicates(items) {
  return [...new Set(items)];
}
function mergeDnsOptions(base, pod) {
  const values = /* @__PURE__ */ new Map();
  for (const option of base) {
    const colon = option.indexOf(":");
    if (colon < 0) values.set(option, "");
    else values.set(option.slice(0, colon), option.slice(colon + 1));
  }
  for (const option of pod ?? []) values.set(option.name, option.value ?? "");
  const out = [];
  for (const [name, value] of values) out.push(value === "" ? name : `${name}:${value}`);
  return out;
}
function podResolvConf(pod, kubelet) {
  const warnings = [];
  const host = kubelet.nodeResolvConf === null ? { nameservers: [], searches: [], options: [] } : parseNodeResolvConf(kubelet.nodeResolvConf);
  let nameservers = [...host.nameservers];
  let searches = [...host.searches];
  let options = [...host.options];
  let kind = effectiveDnsPolicy(pod);
  if (kind === "cluster" && kubelet.clusterDNS.length === 0) {
    warnings.push(
      `MissingClusterDNS: kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" policy. Falling back to "Default" policy.`
    );
    kind = "host";
  }
  if (kind === "none") {
    nameservers = [];
    searches = [];
    options = [];
    if ((pod.dnsConfig?.nameservers?.length ?? 0) === 0)
      throw new Error(
        `spec.dnsConfig.nameservers: Required value: must provide at least one DNS nameserver when dnsPolicy is None`
      );
  } else if (kind === "cluster") {
    nameservers = [...kubelet.clusterDNS];
    if (kubelet.clusterDomain !== "") {
      const d = kubelet.clusterDomain;
      searches = omitDuplicates([`${pod.namespace}.svc.${d}`, `svc.${d}`, d, ...searches]);
    }
    options = [...KUBELET_DEFAULT_DNS_OPTIONS];
  } else if (kubelet.nodeResolvConf === null) {
    nameservers = [];
    for (const ip of kubelet.nodeIPs ?? []) nameservers.push(ip.includes(":") ? "::1" : "127.0.0.1");
    if (nameservers.length === 0) nameservers.push("127.0.0.1");
    searches = ["."];
  }
  if (pod.dnsConfig !== void 0) {
    nameservers = omitDuplicates([...nameservers, ...pod.dnsConfig.nameservers ?? []]);
    searches = omitDuplicates([...searches, ...pod.dnsConfig.searches ?? []]);
    options = mergeDnsOptions(options, pod.dnsConfig.options);
  }
  if (nameservers.length > MAX_DNS_NAMESERVERS) {
    nameservers = nameservers.slice(0, MAX_DNS_NAMESERVERS);
    warnings.push(
      `DNSConfigForming: Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: ${nameservers.join(" ")}`
    );
  }
  searches = searchFitsLimits(searches, kubelet.expandedDnsConfig ?? true, warnings);
  return { nameservers, searches, options, warnings };
}
function searchFitsLimits(input, expanded, warnings) {
  const maxPaths = expanded ? MAX_DNS_SEARCH_PATHS : MAX_DNS_SEARCH_PATHS_LEGACY;
  const maxChars = expanded ? MAX_DNS_SEARCH_LIST_CHARS : MAX_DNS_SEARCH_LIST_CHARS_LEGACY;
  let exceeded = false;
  let searches = [...input];
  if (searches.length > maxPaths) {
    searches = searches.slice(0, maxPaths);
    exceeded = true;
  }
  const kept = searches.filter((s) => s.length <= MAX_DNS_SEARCH_DOMAIN_CHARS);
  if (kept.length !== searches.length) exceeded = true;
  searches = kept;
  const lineChars = searches.join(" ").length;
  if (lineChars > maxChars) {
    let cutCount = 0;
    let cutChars = 0;
    for (let i = searches.length - 1; i >= 0; i--) {
      cutChars += searches[i].length + 1;
      cutCount++;
      if (lineChars - cutChars <= maxChars) break;
    }
    searches = searches.slice(0, searches.length - cutCount);
    exceeded = true;
  }
  if (exceeded)
    warnings.push(
      `DNSConfigForming: Search Line limits were exceeded, some search paths have been omitted, the applied search line is: ${searches.join(" ")}`
    );
  return searches;
}
function renderResolvConf(conf) {
  let text = "";
  if (conf.searches.length > 0) text += `search ${conf.searches.join(" ")}
`;
  for (const ns of conf.nameservers) text += `nameserver ${ns}
`;
  if (conf.options.length > 0) text += `options ${conf.options.join(" ")}
`;
  return text;
}

// src/dns/stub/conf.ts
var MUSL_LINE_BUFFER_BYTES = 256;
function clampInt(text, min, max) {
  const m = /^\d+/.exec(text);
  const n = m === null ? 0 : Number(m[0]);
  return Math.min(max, Math.max(min, n));
}
function parseStubConf(libc, text) {
  const nameservers = [];
  let search = [];
  let ndots = 1;
  let timeoutS = 5;
  let attempts = 2;
  let rotate = false;
  let singleRequest = false;
  let singleRequestReopen = false;
  let useVc = false;
  let noTldQuery = false;
  for (const line of text.split("\n")) {
    if (libc === "musl" && line.length + 1 >= MUSL_LINE_BUFFER_BYTES) continue;
    const fields = line.trim().split(/\s+/);
    const key = fields[0];
    if (key === "" || key.startsWith("#") || key.startsWith(";")) continue;
    if (key === "nameserver") {
      if (fields.length >= 2 && nameservers.length < 3) nameservers.push(fields[1]);
    } else if (key === "search" || key === "domain") {
      search = [];
      for (const d of fields.slice(1)) {
        if (d.startsWith("#") || d.startsWith(";")) break;
        search.push(d === "." || !d.endsWith(".") ? d : d.slice(0, -1));
      }
    } else if (key === "options") {
      for (const option of fields.slice(1)) {
        if (option.startsWith("ndots:")) ndots = clampInt(option.slice(6), 0, 15);
        else if (option.startsWith("timeout:"))
          timeoutS = clampInt(
            option.slice(8),
            libc === "go" || libc === "musl" ? 1 : 0,
            libc === "glibc" ? 30 : libc === "musl" ? 60 : Number.MAX_SAFE_INTEGER
          );
        else if (option.startsWith("attempts:"))
          attempts = clampInt(option.slice(9), 1, libc === "glibc" ? 5 : libc === "musl" ? 10 : Number.MAX_SAFE_INTEGER);
        else if (libc === "musl") continue;
        else if (option === "rotate") rotate = true;
        else if (option === "single-request") singleRequest = true;
        else if (option === "single-request-reopen") {
          singleRequestReopen = true;
          if (libc === "go") singleRequest = true;
        } else if (option === "use-vc" || libc === "go" && (option === "usevc" || option === "tcp")) useVc = true;
        else if (option === "no-tld-query" && libc === "glibc") noTldQuery = true;
      }
    }
  }
  if (nameservers.length === 0) nameservers.push("127.0.0.1");
  if (nameservers.length === 1 && libc === "go" && text.indexOf("nameserver") < 0) nameservers.push("::1");
  return {
    libc,
    nameservers,
    search,
    ndots,
    timeoutS,
    attempts,
    rotate,
    singleRequest,
    singleRequestReopen,
    useVc,
    noTldQuery
  };
}
function countDots(name) {
  let dots = 0;
  for (let i = 0; i < name.length; i++) if (name.charCodeAt(i) === 46) dots++;
  return dots;
}

// src/dns/stub/common.ts
function familyQtypes(families) {
  return families === "A+AAAA" ? [DnsType.A, DnsType.AAAA] : families === "A" ? [DnsType.A] : [DnsType.AAAA];
}
function joinName(name, suffix) {
  return suffix === "." || suffix === "" ? name : `${name}.${suffix}`;
}
function replyAddresses(reply, out) {
  for (const r of reply.answers) if (r.type === DnsType.A || r.type === DnsType.AAAA) out.push(r.address);
}
function hasAnswerOfType(reply, qtype) {
  for (const r of reply.answers) if (r.type === qtype) return true;
  return false;
}
function doneAction(outcome) {
  return { kind: "done", outcome };
}
var NO_ADDRESSES = [];

// src/dns/stub/glibc.ts
function newGlibcResolverState() {
  return { singleRequest: false, singleRequestReopen: false };
}
var HOST_NOT_FOUND = 1;
var TRY_AGAIN = 2;
var NO_RECOVERY = 3;
var NO_DATA2 = 4;
var STEP_AS_IS_FIRST = 0;
var STEP_SEARCH = 1;
var STEP_LAST = 2;
var GlibcLookup = class {
  constructor(conf, name, families, state, random) {
    this.conf = conf;
    this.state = state;
    this.random = random;
    this.qtypes = familyQtypes(families);
    const trailing = name.endsWith(".");
    const bare = trailing ? name.slice(0, -1) : name;
    const dots = countDots(name);
    if (trailing) {
      this.addStep(bare, STEP_LAST);
      return;
    }
    const triedAsIs = dots >= conf.ndots;
    if (triedAsIs) this.addStep(bare, STEP_AS_IS_FIRST);
    let rootOnList = false;
    for (const domain of conf.search) {
      const root = domain === "." || domain === "";
      if (root) rootOnList = true;
      this.addStep(joinName(bare, domain), STEP_SEARCH);
    }
    const searched = true;
    if ((dots > 0 || !searched || !conf.noTldQuery) && !(triedAsIs || rootOnList)) this.addStep(bare, STEP_LAST);
  }
  conf;
  state;
  random;
  deadlineNs = -1;
  finished = false;
  out = [];
  stepNames = [];
  stepKinds = [];
  qtypes;
  step = -1;
  // search bookkeeping
  savedHerrno = -1;
  savedReason = null;
  gotNodata = false;
  gotServfail = false;
  lastHerrno = HOST_NOT_FOUND;
  lastReason = null;
  // current try
  queries = [];
  replies = [null, null];
  iteration = 0;
  nsOffset = 0;
  server = 0;
  socketByServer = [];
  /** Sockets opened by the current try and not yet closed. */
  openSockets = [];
  socket = -1;
  tcp = false;
  lastRcode = -1;
  nextSocket = 1;
  addStep(name, kind) {
    this.stepNames.push(name);
    this.stepKinds.push(kind);
  }
  /** The FQDNs this lookup would try, in order, if every step failed without stopping the search. */
  get plannedNames() {
    return this.stepNames;
  }
  start(nowNs) {
    this.out.length = 0;
    this.nextStep(nowNs, 0);
    return this.out;
  }
  onReply(nowNs, socket, server, reply) {
    this.out.length = 0;
    if (this.finished || socket !== this.socket || (reply.flags & DnsFlag.QR) === 0) return this.out;
    if (server < 0 || server >= this.conf.nameservers.length) return this.out;
    const i = this.queryIndex(reply);
    if (i < 0 || this.replies[i] !== null) return this.out;
    if ((reply.flags & DnsFlag.TC) !== 0 && !this.tcp) {
      this.tcp = true;
      this.sendIteration(nowNs);
      return this.out;
    }
    const rcode = reply.rcode;
    const lame = rcode === Rcode.NOERROR && reply.answers.length === 0 && (reply.flags & (DnsFlag.AA | DnsFlag.RA)) === 0 && reply.additionals.length === 0;
    if (rcode === Rcode.SERVFAIL || rcode === Rcode.NOTIMP || rcode === Rcode.REFUSED || lame) {
      this.lastRcode = rcode;
      if (this.receivedCount() > 0) this.finishTry(nowNs);
      else this.nextIteration(nowNs);
      return this.out;
    }
    this.replies[i] = reply;
    if (this.receivedCount() === this.queries.length) {
      this.finishTry(nowNs);
      return this.out;
    }
    if (!this.tcp && this.single() && i === 0) {
      if (this.reopen()) this.reopenSocket();
      this.send(1);
    }
    return this.out;
  }
  onTimeout(nowNs) {
    this.out.length = 0;
    if (this.finished || this.deadlineNs < 0 || nowNs < this.deadlineNs) return this.out;
    const received = this.receivedCount();
    if (!this.tcp && received > 0 && received < this.queries.length) {
      if (!this.single()) {
        this.state.singleRequest = true;
        this.sendIteration(nowNs);
      } else if (!this.reopen()) {
        this.state.singleRequestReopen = true;
        this.reopenSocket();
        this.sendIteration(nowNs);
      } else this.finishTry(nowNs);
      return this.out;
    }
    this.lastRcode = -1;
    this.nextIteration(nowNs);
    return this.out;
  }
  single() {
    return this.conf.singleRequest || this.conf.singleRequestReopen || this.state.singleRequest || this.reopen();
  }
  reopen() {
    return this.conf.singleRequestReopen || this.state.singleRequestReopen;
  }
  receivedCount() {
    let n = 0;
    for (let i = 0; i < this.queries.length; i++) if (this.replies[i] !== null) n++;
    return n;
  }
  queryIndex(reply) {
    for (let i = 0; i < this.queries.length; i++) {
      const q = this.queries[i];
      if (q.id !== reply.id) continue;
      const rq = reply.questions[0];
      if (rq === void 0 || rq.type !== q.questions[0].type) continue;
      if (rq.name.toLowerCase() !== q.questions[0].name.toLowerCase()) continue;
      return i;
    }
    return -1;
  }
  nextStep(nowNs, from) {
    this.step = from;
    if (this.step >= this.stepNames.length) {
      this.finishLookup();
      return;
    }
    const name = this.stepNames[this.step];
    this.queries = [];
    for (const qtype of this.qtypes) this.queries.push(dnsQuery(this.random.intBelow(65536), name, qtype));
    this.iteration = 0;
    this.nsOffset = this.conf.rotate ? this.random.intBelow(this.conf.nameservers.length) : 0;
    this.socketByServer = [];
    this.tcp = false;
    this.lastRcode = -1;
    this.startIteration(nowNs);
  }
  startIteration(nowNs) {
    const nscount = this.conf.nameservers.length;
    this.server = (this.nsOffset + this.iteration % nscount) % nscount;
    this.tcp = this.conf.useVc;
    this.sendIteration(nowNs);
  }
  nextIteration(nowNs) {
    this.iteration++;
    if (this.iteration >= this.conf.attempts * this.conf.nameservers.length) this.finishTry(nowNs);
    else this.startIteration(nowNs);
  }
  /** (Re)sends the current iteration's queries with a fresh wait (send_dg's `retry:` label). */
  sendIteration(nowNs) {
    const nscount = this.conf.nameservers.length;
    let seconds = this.conf.timeoutS << this.server;
    if (this.server > 0) seconds = Math.floor(seconds / nscount);
    if (seconds <= 0) seconds = 1;
    this.deadlineNs = nowNs + seconds * NS_PER_S;
    this.replies = [null, null];
    if (this.tcp) {
      this.socket = this.openSocket();
      for (let i = 0; i < this.queries.length; i++) this.send(i);
      return;
    }
    let socket = this.socketByServer[this.server] ?? -1;
    if (socket < 0) {
      socket = this.openSocket();
      this.socketByServer[this.server] = socket;
    }
    this.socket = socket;
    if (this.single()) this.send(0);
    else for (let i = 0; i < this.queries.length; i++) this.send(i);
  }
  reopenSocket() {
    this.close(this.socket);
    this.socket = this.openSocket();
    this.socketByServer[this.server] = this.socket;
  }
  openSocket() {
    const socket = this.nextSocket++;
    this.openSockets.push(socket);
    return socket;
  }
  send(i) {
    this.out.push({
      kind: "send",
      socket: this.socket,
      transport: this.tcp ? "tcp" : "udp",
      server: this.server,
      query: this.queries[i]
    });
  }
  close(socket) {
    const at = this.openSockets.indexOf(socket);
    if (at < 0) return;
    this.openSockets.splice(at, 1);
    this.out.push({ kind: "close", socket });
  }
  /** The end of one __res_context_query: close the try's sockets, classify, continue the search. */
  finishTry(nowNs) {
    for (const s of this.openSockets) this.out.push({ kind: "close", socket: s });
    this.openSockets.length = 0;
    this.socketByServer = [];
    this.socket = -1;
    this.deadlineNs = -1;
    const r1 = this.replies[0];
    const r2 = this.queries.length > 1 ? this.replies[1] : null;
    let herrno;
    let reason2 = null;
    if (r1 !== null && r1.rcode === Rcode.NOERROR && r1.answers.length > 0 || r2 !== null && r2.rcode === Rcode.NOERROR && r2.answers.length > 0) {
      const addresses = [];
      if (r1 !== null) replyAddresses(r1, addresses);
      if (r2 !== null) replyAddresses(r2, addresses);
      this.finished = true;
      this.out.push(
        doneAction({ status: "answered", reason: null, addresses, answeredName: this.stepNames[this.step] })
      );
      return;
    }
    if (r1 === null && r2 === null) {
      herrno = TRY_AGAIN;
      reason2 = this.lastRcode === Rcode.SERVFAIL ? "servfail" : this.lastRcode === Rcode.REFUSED ? "refused" : "timeout";
    } else {
      const first = r1 ?? r2;
      const rcode = first !== null && first === r1 && r1.rcode === Rcode.NOERROR && r2 !== null ? r2.rcode : first?.rcode ?? 0;
      herrno = rcode === Rcode.NXDOMAIN ? HOST_NOT_FOUND : rcode === Rcode.NOERROR ? NO_DATA2 : rcode === Rcode.SERVFAIL ? TRY_AGAIN : NO_RECOVERY;
      if (herrno === TRY_AGAIN) reason2 = "servfail";
    }
    this.lastHerrno = herrno;
    this.lastReason = reason2;
    const kind = this.stepKinds[this.step];
    if (kind === STEP_AS_IS_FIRST) {
      this.savedHerrno = herrno;
      this.savedReason = reason2;
      this.nextStep(nowNs, this.step + 1);
      return;
    }
    if (kind === STEP_SEARCH) {
      let keepGoing = false;
      if (herrno === NO_DATA2) {
        this.gotNodata = true;
        keepGoing = true;
      } else if (herrno === HOST_NOT_FOUND) keepGoing = true;
      else if (herrno === TRY_AGAIN && reason2 === "servfail") {
        this.gotServfail = true;
        keepGoing = true;
      }
      if (keepGoing) {
        this.nextStep(nowNs, this.step + 1);
        return;
      }
      let next = this.step + 1;
      while (next < this.stepKinds.length && this.stepKinds[next] === STEP_SEARCH) next++;
      this.nextStep(nowNs, next);
      return;
    }
    this.finishLookup();
  }
  finishLookup() {
    this.finished = true;
    this.deadlineNs = -1;
    let herrno = this.lastHerrno;
    let reason2 = this.lastReason;
    if (this.savedHerrno !== -1) {
      herrno = this.savedHerrno;
      reason2 = this.savedReason;
    } else if (this.gotNodata) {
      herrno = NO_DATA2;
      reason2 = null;
    } else if (this.gotServfail) {
      herrno = TRY_AGAIN;
      reason2 = "servfail";
    }
    const status = herrno === HOST_NOT_FOUND ? "nxdomain" : herrno === NO_DATA2 ? "nodata" : herrno === TRY_AGAIN ? "again" : "fail";
    this.out.push(
      doneAction({ status, reason: status === "again" ? reason2 : null, addresses: NO_ADDRESSES, answeredName: null })
    );
  }
};

// src/dns/stub/images.ts
var IMAGE_LIBC = [
  { repository: "alpine", libc: "musl" },
  { repository: "busybox", libc: "musl" },
  { repository: "curl", libc: "musl" },
  { repository: "coredns", libc: "go" },
  { repository: "http-go", libc: "go" }
];
function imageLibc(image) {
  const withoutDigest = image.split("@")[0];
  const last = withoutDigest.slice(withoutDigest.lastIndexOf("/") + 1);
  const colon = last.indexOf(":");
  const repository = colon < 0 ? last : last.slice(0, colon);
  const tag = colon < 0 ? "" : last.slice(colon + 1);
  if (tag === "alpine" || tag.endsWith("-alpine") || tag.includes("-alpine")) return "musl";
  for (const entry of IMAGE_LIBC) if (entry.repository === repository) return entry.libc;
  return "glibc";
}

// src/dns/stub/go.ts
var GO_EDNS_UDP_PAYLOAD_BYTES = 1232;
var LANE_IDLE = 0;
var LANE_RUNNING = 1;
var LANE_ANSWERED = 2;
var LANE_NXDOMAIN = 3;
var LANE_NODATA = 4;
var LANE_TIMEOUT = 5;
var LANE_SERVFAIL = 6;
var LANE_MISBEHAVING = 7;
var GoLookup = class {
  constructor(conf, name, families, random) {
    this.conf = conf;
    this.random = random;
    this.qtypes = familyQtypes(families);
    let bareIndex = -1;
    if (name.endsWith(".")) {
      this.stepNames.push(name.slice(0, -1));
      bareIndex = 0;
    } else {
      const hasNdots = countDots(name) >= conf.ndots;
      if (hasNdots) {
        bareIndex = 0;
        this.stepNames.push(name);
      }
      for (const suffix of conf.search) {
        if (suffix === "." || suffix === "") continue;
        const fqdn = joinName(name, suffix);
        if (fqdn.length + 1 <= 254) this.stepNames.push(fqdn);
      }
      if (!hasNdots) {
        bareIndex = this.stepNames.length;
        this.stepNames.push(name);
      }
    }
    this.bareIndex = bareIndex;
  }
  conf;
  random;
  deadlineNs = -1;
  finished = false;
  out = [];
  stepNames = [];
  bareIndex;
  qtypes;
  step = -1;
  serverOffset = 0;
  nextSocket = 1;
  // Per lane (index = position in qtypes).
  laneState = [];
  laneExchange = [];
  laneLastError = [];
  laneServer = [];
  laneOffset = [];
  laneSocket = [];
  laneTcp = [];
  laneDeadlineNs = [];
  laneQuery = [];
  laneReply = [];
  firstError = -1;
  firstErrorFromBare = false;
  get plannedNames() {
    return this.stepNames;
  }
  start(nowNs) {
    this.out.length = 0;
    this.nextStep(nowNs);
    return this.out;
  }
  onReply(nowNs, socket, server, reply) {
    this.out.length = 0;
    if (this.finished || (reply.flags & DnsFlag.QR) === 0) return this.out;
    let lane = -1;
    for (let l = 0; l < this.qtypes.length; l++)
      if (this.laneState[l] === LANE_RUNNING && this.laneSocket[l] === socket) lane = l;
    if (lane < 0 || server !== this.laneServer[lane]) return this.out;
    const q = this.laneQuery[lane];
    const rq = reply.questions[0];
    if (q === null || reply.id !== q.id || rq === void 0 || rq.type !== q.questions[0].type) return this.out;
    if (rq.name.toLowerCase() !== q.questions[0].name.toLowerCase()) return this.out;
    this.closeLaneSocket(lane);
    if ((reply.flags & DnsFlag.TC) !== 0 && !this.laneTcp[lane]) {
      this.laneTcp[lane] = true;
      this.dial(lane, nowNs);
      return this.out;
    }
    const rcode = reply.rcode;
    if (rcode === Rcode.NXDOMAIN) this.endLane(lane, LANE_NXDOMAIN, null, nowNs);
    else if (rcode === Rcode.NOERROR && reply.answers.length === 0 && (reply.flags & (DnsFlag.AA | DnsFlag.RA)) === 0 && reply.additionals.length === 0)
      this.nextExchange(lane, LANE_MISBEHAVING, nowNs);
    else if (rcode === Rcode.SERVFAIL) this.nextExchange(lane, LANE_SERVFAIL, nowNs);
    else if (rcode !== Rcode.NOERROR) this.nextExchange(lane, LANE_MISBEHAVING, nowNs);
    else if (!hasAnswerOfType(reply, q.questions[0].type)) this.endLane(lane, LANE_NODATA, null, nowNs);
    else this.endLane(lane, LANE_ANSWERED, reply, nowNs);
    return this.out;
  }
  onTimeout(nowNs) {
    this.out.length = 0;
    if (this.finished) return this.out;
    for (let l = 0; l < this.qtypes.length; l++)
      if (this.laneState[l] === LANE_RUNNING && this.laneDeadlineNs[l] <= nowNs) {
        this.closeLaneSocket(l);
        this.nextExchange(l, LANE_TIMEOUT, nowNs);
        if (this.finished) break;
      }
    this.updateDeadline();
    return this.out;
  }
  nextStep(nowNs) {
    this.step++;
    if (this.step >= this.stepNames.length) {
      this.finishFailed();
      return;
    }
    const n = this.qtypes.length;
    this.laneState = new Array(n).fill(LANE_IDLE);
    this.laneExchange = new Array(n).fill(0);
    this.laneLastError = new Array(n).fill(LANE_TIMEOUT);
    this.laneServer = new Array(n).fill(0);
    this.laneOffset = new Array(n).fill(0);
    this.laneSocket = new Array(n).fill(-1);
    this.laneTcp = new Array(n).fill(false);
    this.laneDeadlineNs = new Array(n).fill(-1);
    this.laneQuery = new Array(n).fill(null);
    this.laneReply = new Array(n).fill(null);
    if (this.conf.singleRequest) this.startLane(0, nowNs);
    else for (let l = 0; l < n; l++) this.startLane(l, nowNs);
    this.updateDeadline();
  }
  startLane(lane, nowNs) {
    this.laneState[lane] = LANE_RUNNING;
    this.laneOffset[lane] = this.conf.rotate ? this.serverOffset++ : 0;
    this.laneExchange[lane] = 0;
    this.beginExchange(lane, nowNs);
  }
  beginExchange(lane, nowNs) {
    const nscount = this.conf.nameservers.length;
    this.laneServer[lane] = (this.laneOffset[lane] + this.laneExchange[lane] % nscount) % nscount;
    this.laneTcp[lane] = this.conf.useVc;
    this.laneQuery[lane] = dnsQuery(
      this.random.intBelow(65536),
      this.stepNames[this.step],
      this.qtypes[lane],
      GO_EDNS_UDP_PAYLOAD_BYTES
    );
    this.dial(lane, nowNs);
  }
  dial(lane, nowNs) {
    const socket = this.nextSocket++;
    this.laneSocket[lane] = socket;
    this.laneDeadlineNs[lane] = nowNs + this.conf.timeoutS * NS_PER_S;
    const query = this.laneQuery[lane];
    if (query === null) return;
    this.out.push({
      kind: "send",
      socket,
      transport: this.laneTcp[lane] ? "tcp" : "udp",
      server: this.laneServer[lane],
      query
    });
    this.updateDeadline();
  }
  closeLaneSocket(lane) {
    const socket = this.laneSocket[lane];
    if (socket < 0) return;
    this.out.push({ kind: "close", socket });
    this.laneSocket[lane] = -1;
  }
  nextExchange(lane, error, nowNs) {
    this.laneLastError[lane] = error;
    this.laneExchange[lane]++;
    if (this.laneExchange[lane] >= this.conf.attempts * this.conf.nameservers.length)
      this.endLane(lane, error, null, nowNs);
    else this.beginExchange(lane, nowNs);
  }
  endLane(lane, result, reply, nowNs) {
    this.laneState[lane] = result;
    this.laneReply[lane] = reply;
    this.laneDeadlineNs[lane] = -1;
    if (result !== LANE_ANSWERED && (this.firstError < 0 || this.step === this.bareIndex)) {
      this.firstError = result;
      this.firstErrorFromBare = this.step === this.bareIndex;
    }
    if (this.conf.singleRequest && lane + 1 < this.qtypes.length) {
      this.startLane(lane + 1, nowNs);
      return;
    }
    for (let l = 0; l < this.qtypes.length; l++) if (this.laneState[l] <= LANE_RUNNING) return this.updateDeadline();
    const addresses = [];
    for (const r of this.laneReply) if (r !== null) replyAddresses(r, addresses);
    if (addresses.length > 0) {
      this.finished = true;
      this.deadlineNs = -1;
      this.out.push(
        doneAction({ status: "answered", reason: null, addresses, answeredName: this.stepNames[this.step] })
      );
      return;
    }
    this.nextStep(nowNs);
  }
  updateDeadline() {
    let deadline = -1;
    for (let l = 0; l < this.qtypes.length; l++) {
      const d = this.laneState[l] === LANE_RUNNING ? this.laneDeadlineNs[l] : -1;
      if (d >= 0 && (deadline < 0 || d < deadline)) deadline = d;
    }
    this.deadlineNs = deadline;
  }
  finishFailed() {
    this.finished = true;
    this.deadlineNs = -1;
    const e = this.firstError;
    let outcome;
    if (e === LANE_NXDOMAIN) outcome = { status: "nxdomain", reason: null, addresses: NO_ADDRESSES, answeredName: null };
    else if (e === LANE_NODATA)
      outcome = { status: "nodata", reason: null, addresses: NO_ADDRESSES, answeredName: null };
    else if (e === LANE_SERVFAIL)
      outcome = { status: "again", reason: "servfail", addresses: NO_ADDRESSES, answeredName: null };
    else if (e === LANE_MISBEHAVING)
      outcome = { status: "fail", reason: null, addresses: NO_ADDRESSES, answeredName: null };
    else outcome = { status: "again", reason: "timeout", addresses: NO_ADDRESSES, answeredName: null };
    this.out.push(doneAction(outcome));
  }
  /** True when the error reported came from the bare name (Go prefers it). */
  get errorFromBareName() {
    return this.firstErrorFromBare;
  }
};

// src/dns/stub/musl.ts
var MUSL_NAME_BUFFER_BYTES = 256;
var MuslLookup = class {
  constructor(conf, name, families, random) {
    this.conf = conf;
    this.random = random;
    this.qtypes = familyQtypes(families);
    this.timeoutMs = 1e3 * conf.timeoutS;
    this.retryIntervalMs = Math.floor(this.timeoutMs / conf.attempts);
    const trailing = name.endsWith(".");
    const bare = trailing ? name.slice(0, -1) : name;
    if (countDots(name) < conf.ndots && !trailing)
      for (const suffix of conf.search) {
        if (suffix === "." || suffix === "") continue;
        if (suffix.length < MUSL_NAME_BUFFER_BYTES - bare.length - 1) this.stepNames.push(joinName(bare, suffix));
      }
    this.stepNames.push(bare);
  }
  conf;
  random;
  deadlineNs = -1;
  finished = false;
  out = [];
  stepNames = [];
  qtypes;
  step = -1;
  queries = [];
  replies = [];
  /** TCP socket per query after TC=1, or -1. */
  tcpSockets = [];
  socket = -1;
  nextSocket = 1;
  stepStartNs = 0;
  lastSendNs = 0;
  servfailRetries = 0;
  retryIntervalMs;
  timeoutMs;
  get plannedNames() {
    return this.stepNames;
  }
  start(nowNs) {
    this.out.length = 0;
    this.nextStep(nowNs);
    return this.out;
  }
  onReply(nowNs, socket, server, reply) {
    this.out.length = 0;
    if (this.finished || (reply.flags & DnsFlag.QR) === 0) return this.out;
    if (server < 0 || server >= this.conf.nameservers.length) return this.out;
    let i = -1;
    for (let j = 0; j < this.queries.length; j++) if (this.queries[j].id === reply.id) i = j;
    if (i < 0 || this.replies[i] !== null) return this.out;
    const viaTcp = this.tcpSockets[i] >= 0;
    if (viaTcp ? socket !== this.tcpSockets[i] : socket !== this.socket) return this.out;
    const rcode = reply.rcode;
    if (!viaTcp && rcode === Rcode.SERVFAIL) {
      if (this.servfailRetries > 0) {
        this.servfailRetries--;
        this.send(i, server);
      }
      return this.out;
    }
    if (rcode !== Rcode.NOERROR && rcode !== Rcode.NXDOMAIN) return this.out;
    if (!viaTcp && (reply.flags & DnsFlag.TC) !== 0) {
      const tcp = this.nextSocket++;
      this.tcpSockets[i] = tcp;
      this.out.push({ kind: "send", socket: tcp, transport: "tcp", server, query: this.queries[i] });
      return this.out;
    }
    this.replies[i] = reply;
    for (let j = 0; j < this.replies.length; j++) if (this.replies[j] === null) return this.out;
    this.finishStep(nowNs);
    return this.out;
  }
  onTimeout(nowNs) {
    this.out.length = 0;
    if (this.finished || this.deadlineNs < 0 || nowNs < this.deadlineNs) return this.out;
    if (nowNs - this.stepStartNs >= this.timeoutMs * NS_PER_MS) {
      this.finishStep(nowNs);
      return this.out;
    }
    this.sendRound(nowNs);
    return this.out;
  }
  nextStep(nowNs) {
    this.step++;
    this.queries = [];
    this.replies = [];
    this.tcpSockets = [];
    let id = this.random.intBelow(65536);
    for (const qtype of this.qtypes) {
      this.queries.push(dnsQuery(id, this.stepNames[this.step], qtype));
      this.replies.push(null);
      this.tcpSockets.push(-1);
      id = id + 256 & 65535;
    }
    this.socket = this.nextSocket++;
    this.stepStartNs = nowNs;
    this.sendRound(nowNs);
  }
  /** Every unanswered query to every nameserver; the next round after the retry interval. */
  sendRound(nowNs) {
    for (let i = 0; i < this.queries.length; i++)
      if (this.replies[i] === null && this.tcpSockets[i] < 0)
        for (let s = 0; s < this.conf.nameservers.length; s++) this.send(i, s);
    this.lastSendNs = nowNs;
    this.servfailRetries = 2 * this.queries.length;
    const nextRoundNs = this.lastSendNs + this.retryIntervalMs * NS_PER_MS;
    const endNs = this.stepStartNs + this.timeoutMs * NS_PER_MS;
    this.deadlineNs = Math.min(nextRoundNs, endNs);
  }
  send(i, server) {
    this.out.push({ kind: "send", socket: this.socket, transport: "udp", server, query: this.queries[i] });
  }
  closeStepSockets() {
    this.out.push({ kind: "close", socket: this.socket });
    for (const t of this.tcpSockets) if (t >= 0) this.out.push({ kind: "close", socket: t });
  }
  finishStep(nowNs) {
    this.closeStepSockets();
    this.deadlineNs = -1;
    for (let i = 0; i < this.replies.length; i++) {
      const r = this.replies[i];
      if (r === null || r.rcode === Rcode.SERVFAIL) return this.end("again", "timeout");
      if (r.rcode === Rcode.NXDOMAIN) {
        if (this.step + 1 < this.stepNames.length) this.nextStep(nowNs);
        else this.end("nxdomain", null);
        return;
      }
      if (r.rcode !== Rcode.NOERROR) return this.end("fail", null);
    }
    const addresses = [];
    for (const r of this.replies) if (r !== null) replyAddresses(r, addresses);
    if (addresses.length === 0) return this.end("nodata", null);
    this.finished = true;
    this.out.push(doneAction({ status: "answered", reason: null, addresses, answeredName: this.stepNames[this.step] }));
  }
  end(status, reason2) {
    this.finished = true;
    this.deadlineNs = -1;
    this.out.push(doneAction({ status, reason: reason2, addresses: NO_ADDRESSES, answeredName: null }));
  }
};

// src/dns/stub/lookup.ts
function createStubLookup(conf, name, random, options = {}) {
  const families = options.families ?? "A+AAAA";
  switch (conf.libc) {
    case "glibc":
      return new GlibcLookup(conf, name, families, options.glibcState ?? newGlibcResolverState(), random);
    case "musl":
      return new MuslLookup(conf, name, families, random);
    case "go":
      return new GoLookup(conf, name, families, random);
  }
}

// src/dns/stub-driver.ts
var DNS_PORT2 = 53;
var TCP_LENGTH_PREFIX_BYTES = 2;
function outcomeFailure(outcome) {
  switch (outcome.status) {
    case "answered":
      return outcome.addresses.some((a) => parseIpv4(a) !== void 0) ? null : "dns-nodata";
    case "nxdomain":
      return "nxdomain";
    case "nodata":
      return "dns-nodata";
    case "fail":
      return "dns-fail";
    case "again":
      return outcome.reason === "servfail" ? "dns-servfail" : outcome.reason === "refused" ? "dns-refused" : "dns-timeout";
  }
}
function firstIpv4(outcome) {
  for (const a of outcome.addresses) {
    const ip = parseIpv4(a);
    if (ip !== void 0) return ip;
  }
  return -1;
}
var StubDriver = class {
  constructor(scheduler, network, observer) {
    this.scheduler = scheduler;
    this.network = network;
    this.observer = observer;
    this.kindTimer = scheduler.registerKind("dns/stub-timer", this);
  }
  scheduler;
  network;
  observer;
  kindTimer;
  active = [];
  freeSlots = [];
  /** The resolver a client in `ns` uses for `name`: one lookup per call, through `conf`. */
  resolver(ns, conf, name, workload, random, glibcState) {
    const literal = parseIpv4(name);
    if (literal !== void 0) return { lookup: () => literal };
    const nameservers = conf.nameservers.map((s) => parseIpv4(s) ?? -1);
    return {
      lookup: (listener, token, nowNs) => {
        const lookup = createStubLookup(conf, name, random, { glibcState });
        const slot = this.freeSlots.length > 0 ? this.freeSlots.pop() : this.active.length;
        const a = new ActiveLookup(this, slot, ns, nameservers, lookup, listener, token, workload, nowNs);
        this.active[slot] = a;
        this.observer.onLookupStarted(workload, nowNs);
        a.apply(lookup.start(nowNs));
        return -1;
      }
    };
  }
  /** Lookups in progress (tests). */
  get inProgress() {
    return this.active.length - this.freeSlots.length;
  }
  armTimer(a, deadlineNs) {
    return this.scheduler.schedule(deadlineNs, this.kindTimer, a.slot, 0);
  }
  release(a) {
    this.active[a.slot] = null;
    this.freeSlots.push(a.slot);
  }
  handleEvent(_kind, a, _b, nowNs) {
    this.active[a]?.onTimer(nowNs);
  }
};
var ActiveLookup = class {
  constructor(driver, slot, ns, nameservers, lookup, listener, token, workload, startNs) {
    this.driver = driver;
    this.slot = slot;
    this.ns = ns;
    this.nameservers = nameservers;
    this.lookup = lookup;
    this.listener = listener;
    this.token = token;
    this.workload = workload;
    this.startNs = startNs;
  }
  driver;
  slot;
  ns;
  nameservers;
  lookup;
  listener;
  token;
  workload;
  startNs;
  udp = /* @__PURE__ */ new Map();
  tcp = /* @__PURE__ */ new Map();
  /** TCP messages written before the handshake completed, sent on connect. */
  tcpPending = /* @__PURE__ */ new Map();
  /** Query ids sent and not yet answered (ids are unique within a lookup). */
  outstanding = /* @__PURE__ */ new Set();
  timerHandle = -1;
  armedNs = -1;
  ended = false;
  apply(actions) {
    let outcome = null;
    for (const action of actions) {
      if (action.kind === "send") this.send(action.socket, action.transport, action.server, action.query);
      else if (action.kind === "close") this.closeSocket(action.socket);
      else outcome = action.outcome;
    }
    if (outcome !== null) {
      this.finish(outcome);
      return;
    }
    const deadlineNs = this.lookup.deadlineNs;
    if (deadlineNs !== this.armedNs) {
      if (this.timerHandle >= 0) this.driver.scheduler.cancel(this.timerHandle);
      this.timerHandle = deadlineNs >= 0 ? this.driver.armTimer(this, deadlineNs) : -1;
      this.armedNs = deadlineNs;
    }
  }
  onTimer(nowNs) {
    this.timerHandle = -1;
    this.armedNs = -1;
    if (this.ended) return;
    for (let i = 0; i < this.outstanding.size; i++) this.driver.observer.onQueryTimedOut(this.workload);
    this.outstanding.clear();
    this.apply(this.lookup.onTimeout(nowNs));
  }
  send(socket, transport, server, query) {
    const dst = this.nameservers[server] ?? -1;
    this.driver.observer.onQuerySent(this.workload, query.questions[0]?.type ?? 0);
    this.outstanding.add(query.id);
    if (dst < 0) return;
    if (transport === "udp") {
      let s = this.udp.get(socket);
      if (s === void 0) {
        const bound = this.driver.network.udpBind(this.ns, 0, 0, this);
        if (bound === null) return;
        s = bound;
        this.udp.set(socket, s);
      }
      s.sendTo(dst, DNS_PORT2, encodedLengthBytes(query), query.id, query, this.workload);
      return;
    }
    let conn = this.tcp.get(socket);
    if (conn === void 0) {
      conn = this.driver.network.tcp.connect(this.ns, dst, DNS_PORT2, this, this.workload);
      this.tcp.set(socket, conn);
      this.tcpPending.set(conn, []);
    }
    const pending = this.tcpPending.get(conn);
    if (pending !== void 0) pending.push(query);
    else conn.send(encodedLengthBytes(query) + TCP_LENGTH_PREFIX_BYTES, query.id, query);
  }
  closeSocket(socket) {
    const s = this.udp.get(socket);
    if (s !== void 0) {
      s.close();
      this.udp.delete(socket);
    }
    const conn = this.tcp.get(socket);
    if (conn !== void 0) {
      this.tcpPending.delete(conn);
      conn.close();
      this.tcp.delete(socket);
    }
  }
  reply(socketNumber, from, reply) {
    if (this.ended) return;
    const server = this.nameservers.indexOf(from);
    this.outstanding.delete(reply.id);
    this.driver.observer.onReply(this.workload, reply.rcode);
    this.apply(this.lookup.onReply(this.driver.scheduler.nowNs, socketNumber, server, reply));
  }
  finish(outcome) {
    this.ended = true;
    if (this.timerHandle >= 0) this.driver.scheduler.cancel(this.timerHandle);
    this.timerHandle = -1;
    for (const socket of [...this.udp.keys(), ...this.tcp.keys()]) this.closeSocket(socket);
    this.driver.release(this);
    const nowNs = this.driver.scheduler.nowNs;
    const failure = outcomeFailure(outcome);
    this.driver.observer.onLookupEnded(this.workload, nowNs - this.startNs, failure);
    this.listener.onResolved(this.token, failure === null ? firstIpv4(outcome) : -1, failure, nowNs);
  }
  // UdpListener
  onUdpMessage(socket, packet) {
    for (const [n, s] of this.udp) if (s === socket) return this.reply(n, packet.srcAddr, packet.appData);
  }
  onUdpError(_socket, _error, _remoteAddr, _remotePort, _appTag) {
  }
  // TcpConnectionListener
  onConnected(conn) {
    const pending = this.tcpPending.get(conn);
    if (pending === void 0) return;
    this.tcpPending.delete(conn);
    for (const q of pending) conn.send(encodedLengthBytes(q) + TCP_LENGTH_PREFIX_BYTES, q.id, q);
  }
  onMessage(conn, _bytes, _appTag, appData) {
    for (const [n, c] of this.tcp) if (c === conn) return this.reply(n, conn.remoteAddr, appData);
  }
  onPeerClosed(conn) {
    conn.close();
  }
  onClosed(_conn, _error) {
  }
};

// src/cluster/dns-runtime.ts
var COREDNS_REPLICAS = 2;
var COREDNS_IMAGE = "registry.k8s.io/coredns/coredns:v1.11.3";
var DnsCounts = class {
  started = 0;
  answered = 0;
  failed = 0;
  failedByReason = new NameCounter();
  sent = 0;
  timedOut = 0;
  byQtype = new NameCounter();
  byRcode = new NameCounter();
  latency = new Histogram();
  results() {
    return {
      lookups: {
        started: this.started,
        answered: this.answered,
        failed: this.failed,
        failedByReason: this.failedByReason.toRecord()
      },
      queries: {
        sent: this.sent,
        timedOut: this.timedOut,
        byQtype: this.byQtype.toRecord(),
        byRcode: this.byRcode.toRecord()
      },
      latencyNs: this.latency.summary()
    };
  }
};
var DnsRuntime = class {
  constructor(spec, seed, scheduler, network, store) {
    this.spec = spec;
    this.seed = seed;
    this.store = store;
    this.driver = new StubDriver(scheduler, network, this);
    this.byWorkload = spec.workloads.map(() => new DnsCounts());
  }
  spec;
  seed;
  store;
  driver;
  total = new DnsCounts();
  byWorkload;
  /** Objects to apply at t=0: the CoreDNS Deployment (and kube-dns when the control plane has none). */
  manifests() {
    const out = [];
    if (this.store.get("Service", "kube-system", "kube-dns") === void 0)
      out.push({
        object: {
          apiVersion: "v1",
          kind: "Service",
          metadata: {
            name: "kube-dns",
            namespace: "kube-system",
            labels: { "k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS" }
          },
          spec: {
            type: "ClusterIP",
            clusterIP: formatIpv4(cidrAddress(cidr(this.spec.cluster.serviceCIDR), 9)),
            selector: { "k8s-app": "kube-dns" },
            ports: [
              { name: "dns", port: 53, protocol: "UDP", targetPort: 53 },
              { name: "dns-tcp", port: 53, protocol: "TCP", targetPort: 53 },
              { name: "metrics", port: 9153, protocol: "TCP", targetPort: 9153 }
            ]
          }
        }
      });
    out.push({
      object: {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "coredns", namespace: "kube-system", labels: { "k8s-app": "kube-dns" } },
        spec: {
          replicas: COREDNS_REPLICAS,
          selector: { matchLabels: { "k8s-app": "kube-dns" } },
          template: {
            metadata: { labels: { "k8s-app": "kube-dns" } },
            spec: {
              dnsPolicy: "Default",
              containers: [
                {
                  name: "coredns",
                  image: COREDNS_IMAGE,
                  ports: [
                    { containerPort: 53, name: "dns", protocol: "UDP" },
                    { containerPort: 53, name: "dns-tcp", protocol: "TCP" },
                    { containerPort: 9153, name: "metrics", protocol: "TCP" }
                  ]
                }
              ]
            }
          }
        }
      }
    });
    return out;
  }
  /** The kube-dns VIP kubelet writes as `nameserver` (its --cluster-dns). */
  clusterDns() {
    const configured = this.spec.dns.clusterDNS;
    if (configured !== void 0 && configured !== null) return configured;
    const ip = this.store.get("Service", "kube-system", "kube-dns")?.spec.clusterIP;
    return ip === void 0 || ip === "" || ip === "None" ? null : ip;
  }
  /** True once kube-dns has a ready endpoint (a workload waits for it, as a user waits for CoreDNS). */
  ready() {
    for (const slice of this.store.endpointSlicesFor("kube-system", "kube-dns"))
      for (const e of slice.endpoints) if (e.conditions?.ready !== false) return true;
    return false;
  }
  /**
   * The resolver of a client running in `pod` (null = the static table: node and external sources,
   * and pods whose resolv.conf is not the cluster's, since the node's own resolver is not modelled).
   */
  resolverFor(pod, ns, host, workload, source) {
    if (pod === void 0) return null;
    const namespace = pod.metadata.namespace ?? "default";
    const input = {
      namespace,
      ...pod.spec.dnsPolicy !== void 0 ? { dnsPolicy: pod.spec.dnsPolicy } : {},
      ...pod.spec.hostNetwork !== void 0 ? { hostNetwork: pod.spec.hostNetwork } : {},
      ...pod.spec.dnsConfig !== void 0 ? { dnsConfig: pod.spec.dnsConfig } : {}
    };
    if (effectiveDnsPolicy(input) === "host") return null;
    const clusterDns = this.clusterDns();
    const conf = podResolvConf(input, {
      clusterDomain: this.spec.cluster.clusterDomain,
      clusterDNS: clusterDns === null ? [] : [clusterDns],
      // The node's resolv.conf: no search domains of its own (dns.md §2.5, H = 0).
      nodeResolvConf: ""
    });
    const libc = imageLibc(pod.spec.containers[0]?.image ?? "");
    const stub = parseStubConf(libc, renderResolvConf(conf));
    const random = Rng.stream(this.seed, `dns/${workload}/${source}`);
    return this.driver.resolver(ns, stub, host, workload, random, newGlibcResolverState());
  }
  // DnsClientObserver
  onLookupStarted(workload) {
    this.total.started++;
    this.byWorkload[workload].started++;
  }
  onLookupEnded(workload, latencyNs, failure) {
    for (const c of [this.total, this.byWorkload[workload]]) {
      if (failure === null) {
        c.answered++;
        c.latency.record(latencyNs);
      } else {
        c.failed++;
        c.failedByReason.add(failure);
      }
    }
  }
  onQuerySent(workload, qtype) {
    const name = typeMnemonic(qtype);
    for (const c of [this.total, this.byWorkload[workload]]) {
      c.sent++;
      c.byQtype.add(name);
    }
  }
  onQueryTimedOut(workload) {
    this.total.timedOut++;
    this.byWorkload[workload].timedOut++;
  }
  onReply(workload, rcode) {
    const name = rcodeName(rcode);
    this.total.byRcode.add(name);
    this.byWorkload[workload].byRcode.add(name);
  }
  workloadResults(workload) {
    return this.byWorkload[workload].results();
  }
  /** The results' `dns` section: totals and every CoreDNS pod's counters (servers that ran). */
  results(servers) {
    const out = {};
    for (const server of servers) {
      if (!(server instanceof CoreDnsServer)) continue;
      const c = server.counters;
      const sum = out[server.identity.name] ?? {
        received: 0,
        answered: 0,
        cacheHits: 0,
        cacheMisses: 0,
        forwarded: 0,
        refused: 0,
        dropped: 0
      };
      sum.received += c.received;
      sum.answered += c.answered;
      sum.cacheHits += c.cacheHits;
      sum.cacheMisses += c.cacheMisses;
      sum.forwarded += c.forwarded;
      sum.refused += c.refused;
      sum.dropped += c.dropped;
      out[server.identity.name] = sum;
    }
    return { ...this.total.results(), servers: sortedRecord(out) };
  }
};

// src/cluster/world.ts
var APPLY_NAMES_LISTED_MAX = 10;
var WORKLOAD_WAIT_STEP_NS = 10 * NS_PER_MS;
var World = class {
  constructor(spec, seed) {
    this.spec = spec;
    this.seed = seed;
    const scheduler = this.scheduler;
    this.network = new Network(scheduler, seed);
    this.kindTimeline = scheduler.registerKind("cluster/timeline", this);
    this.kindWorkloadStart = scheduler.registerKind("cluster/workload-start", this);
    this.kindFinishCheck = scheduler.registerKind("cluster/finish-check", this);
    this.collector = new Collector(spec.workloads.length);
    this.apps = new Apps(scheduler, this.network, this.collector);
    this.apps.listener = this;
    this.workloads = spec.workloads.map((w, index) => ({ spec: w, index, clients: [], service: null, started: false }));
    const c = spec.cluster;
    this.clusterNet = new ClusterNetwork(this.network, {
      cni: c.cni,
      network: c.network,
      nodeCidr: c.nodeCIDR,
      podCidr: c.podCIDR
    });
    this.controlPlane = new ControlPlane(
      scheduler,
      {
        seed,
        nodes: c.nodes,
        cni: c.cni,
        podCIDR: c.podCIDR,
        serviceCIDR: c.serviceCIDR,
        nodeCIDR: c.nodeCIDR,
        loadBalancerPool: spec.loadBalancer.pool,
        ...c.serviceNodePortRange !== void 0 ? { serviceNodePortRange: c.serviceNodePortRange } : {},
        ...c.systemServices !== void 0 ? { systemServices: c.systemServices } : {},
        ...c.maxPods !== void 0 ? { maxPods: c.maxPods } : {},
        ...c.controllerManager?.kubeApiQps !== void 0 ? { controllerClientQps: c.controllerManager.kubeApiQps } : {},
        ...c.controllerManager?.kubeApiBurst !== void 0 ? { controllerClientBurst: c.controllerManager.kubeApiBurst } : {},
        ...spec.limits.podsMax !== void 0 ? { podsMax: spec.limits.podsMax } : {}
      },
      [this]
    );
    this.dns = spec.dns.mode === "packets" ? new DnsRuntime(spec, seed, scheduler, this.network, this.controlPlane.store) : null;
    const issues = [...this.controlPlane.bootstrapIssues];
    for (const info of this.controlPlane.nodes()) this.addNode(info.name, info.zone, ipv4(info.ip));
    for (const host of spec.externalHosts) this.addExternal(host.name, host.ip, host.httpPorts);
    this.names = {
      store: this.controlPlane.store,
      clusterDomain: c.clusterDomain,
      nodeAddresses: new Map([...this.nodes.values()].map((n) => [n.name, n.net.ip])),
      externalAddresses: new Map([...this.externals.values()].map((h) => [h.name, h.ip]))
    };
    issues.push(...this.controlPlane.apply(spec.manifests));
    if (this.dns !== null) issues.push(...this.controlPlane.apply(this.dns.manifests()));
    if (spec.dns.nodeLocalEnabled) issues.push(...this.startNodeLocalDns());
    const errors = issues.filter((i) => i.severity === "error");
    if (errors.length > 0) throw new ScenarioIssues(errors);
    this.warnings.push(...issues.filter((i) => i.severity === "warning"));
    const lbNodes = [...this.nodes.values()];
    this.loadBalancers = new LoadBalancers(
      scheduler,
      this.network,
      this.clusterNet,
      this.controlPlane.store,
      lbNodes,
      spec.loadBalancer,
      seed,
      (atNs, description) => this.steps.push({ atNs, description }),
      (name, address, node) => this.identity(name, address, node)
    );
    for (const svc of this.controlPlane.store.list("Service"))
      this.loadBalancers.noteService(svc.metadata.namespace ?? "default", svc.metadata.name, svc);
    for (const node of lbNodes)
      node.proxy.syncListener = { onKubeProxySynced: () => this.loadBalancers.onKubeProxySynced(node) };
    for (const node of this.nodes.values()) node.proxy.start(0);
    spec.timeline.forEach((step, index) => scheduler.schedule(step.atNs, this.kindTimeline, index, 0));
    for (const w of this.workloads) scheduler.schedule(w.spec.startNs, this.kindWorkloadStart, w.index, 0);
    this.building = false;
    this.loadBalancers.reconcile(0);
  }
  spec;
  seed;
  scheduler = new Scheduler();
  network;
  clusterNet;
  controlPlane;
  apps;
  collector;
  /** LoadBalancer ingress IPs, externalIPs and kube-proxy's health check servers (lb/loadbalancer.ts). */
  loadBalancers;
  nodes = /* @__PURE__ */ new Map();
  pods = /* @__PURE__ */ new Map();
  externals = /* @__PURE__ */ new Map();
  workloads;
  steps = [];
  warnings = [];
  /** node-cache per node when dns.nodeLocal.enabled (apps/nodelocal-agent.ts). */
  nodeLocalDns = /* @__PURE__ */ new Map();
  /** dns.mode packets: CoreDNS pods and stub resolvers (null in dns.mode static). */
  dns;
  serverIdentities = [];
  names;
  kindTimeline;
  kindWorkloadStart;
  kindFinishCheck;
  timelineDone = 0;
  /** Last time an EndpointSlice or Service changed (for "endpoints programmed" waits). */
  lastServiceChangeNs = 0;
  building = true;
  // ------------------------------------------------------------------------------- building
  addNode(name, zone, ip) {
    const net = this.clusterNet.addNode(name, zone, ip);
    const kp = this.spec.kubeProxy;
    const nodeSpec = this.spec.cluster.nodes.find((n) => n.name === name);
    const sysctls = nodeConntrackSysctls(
      { ...kp.conntrack, kernelMax: kp.conntrack.max },
      nodeSpec?.cpus ?? this.spec.cluster.cpus ?? NODE_CPUS_DEFAULT
    );
    const filter = new NetfilterStack(net.ns, {
      rng: Rng.stream(this.seed, `node/${name}/netfilter`),
      conntrack: {
        max: sysctls.max,
        timeouts: sysctls.timeouts,
        // The kernel's UDP clash race (netfilter/conntrack.ts): a node's own setting, else the cluster's.
        ...nodeRaceOptions(nodeSpec?.conntrack, this.spec.cluster.conntrack),
        raceRng: Rng.stream(this.seed, `node/${name}/conntrack-race`)
      },
      ruleCostNs: kp.ruleCostNs
    });
    net.ns.filter = filter;
    const labels = this.spec.cluster.nodes.find((n) => n.name === name)?.labels ?? {};
    const proxyNode = { name, ips: [formatIpv4(ip)], zone, labels };
    const factory = PROXY_BACKENDS[kp.mode];
    if (factory === void 0) throw new Error(`kube-proxy mode ${kp.mode} has no backend`);
    const backend = factory({
      scheduler: this.scheduler,
      node: proxyNode,
      ns: net.ns,
      network: this.network,
      stack: filter,
      spec: kp,
      seed: this.seed,
      serviceCIDRs: [this.spec.cluster.serviceCIDR]
    });
    const proxy = new KubeProxyNode(this.scheduler, this.controlPlane.store, proxyNode, filter, kp, backend);
    const retryS = kp.syncPeriodNs / 1e9;
    proxy.onSyncFailed = (atNs) => this.steps.push({
      atNs,
      description: kp.mode === "ipvs" ? `kube-proxy on ${name}: iptables-restore failed; the sync's virtual servers, addresses and ipsets stay applied, its iptables rules and cleanup not; a full sync within ${retryS}s` : `kube-proxy on ${name}: ${kp.mode === "nftables" ? "nft -f" : "iptables-restore"} failed; nothing applied, a full sync within ${retryS}s`
    });
    this.nodes.set(name, { name, zone, net, filter, proxy });
  }
  addExternal(name, ip, httpPorts) {
    const host = this.clusterNet.addExternalHost(name, ipv4(ip));
    this.externals.set(name, host);
    if (httpPorts.length > 0) {
      const identity = this.identity(name, host.ip, "");
      this.apps.addServer(
        new HttpServer(
          this.apps,
          host.ns,
          identity,
          this.serviceTime(),
          Rng.stream(this.seed, `external/${name}/server`),
          httpPorts,
          GENERIC_RESPONSE_BYTES
        )
      );
    }
  }
  identity(name, address, node) {
    const identity = { index: this.serverIdentities.length, name, address, node };
    this.serverIdentities.push(identity);
    return identity;
  }
  serviceTime() {
    return { meanNs: this.spec.server.serviceTimeNs, distribution: this.spec.server.serviceTimeDistribution };
  }
  /** NodeLocal DNSCache: kube-dns-upstream, then node-cache on every node (apps/nodelocal-setup.ts). */
  startNodeLocalDns() {
    const c = this.spec.cluster;
    const { agents, issues } = startNodeLocalDns({
      seed: this.seed,
      address: this.spec.dns.nodeLocalAddress,
      proxyMode: this.spec.kubeProxy.mode,
      clusterDomain: c.clusterDomain,
      upstreamRttNs: 2 * c.network.externalLatencyNs,
      upstreamNames: new Map([...this.externals.values()].map((h) => [h.name.toLowerCase(), h.ip])),
      store: this.controlPlane.store,
      apply: (objects) => this.controlPlane.apply(objects),
      network: this.network,
      host: this.apps,
      identity: (name, address, node) => this.identity(name, address, node),
      scheduler: this.scheduler,
      startAtNs: (node) => this.nodes.get(node)?.proxy.runningSyncEndNs ?? 0,
      nodes: [...this.nodes.values()].map((n) => ({
        name: n.name,
        ns: n.net.ns,
        stack: n.filter,
        cpus: c.nodes.find((x) => x.name === n.name)?.cpus ?? c.cpus ?? NODE_CPUS_DEFAULT
      }))
    });
    this.nodeLocalDns = agents;
    return issues;
  }
  // ------------------------------------------------------------------------------- API watch
  onPodUpdated(pod) {
    this.syncPod(pod);
  }
  onPodAdded(pod) {
    this.syncPod(pod);
  }
  onPodDeleted(pod) {
    const key = podKey(pod);
    const runtime = this.pods.get(key);
    if (runtime === void 0) return;
    for (const server of runtime.servers) server.stop();
    if (runtime.net !== null) this.clusterNet.removePod(runtime.net);
    this.pods.delete(key);
  }
  onServiceChanged(namespace, name, service) {
    if (!this.building) this.loadBalancers.noteService(namespace, name, service);
    this.notifyProxies();
  }
  onEndpointSliceChanged() {
    this.notifyProxies();
  }
  notifyProxies() {
    if (this.building) return;
    const nowNs = this.scheduler.nowNs;
    this.lastServiceChangeNs = nowNs;
    for (const node of this.nodes.values()) node.proxy.onChange(nowNs);
    this.loadBalancers.reconcile(nowNs);
  }
  /** Creates the pod's network and servers when its containers start; stops them when they exit. */
  syncPod(pod) {
    const key = podKey(pod);
    const namespace = pod.metadata.namespace ?? "default";
    const running = this.controlPlane.isContainerRunning(namespace, pod.metadata.name);
    let runtime = this.pods.get(key);
    if (runtime === void 0 && pod.status?.podIP !== void 0 && pod.spec.nodeName !== void 0) {
      const node = this.nodes.get(pod.spec.nodeName);
      if (node === void 0) return;
      if (pod.spec.hostNetwork === true) {
        runtime = { key, net: null, ns: node.net.ns, ip: node.net.ip, node: node.name, servers: [] };
      } else {
        const net = this.clusterNet.addPod(node.net, pod.metadata.name, ipv4(pod.status.podIP));
        runtime = { key, net, ns: net.ns, ip: net.ip, node: node.name, servers: [] };
      }
      this.pods.set(key, runtime);
    }
    if (runtime === void 0) return;
    if (running && runtime.servers.length === 0) this.startServers(pod, runtime);
    else if (!running) for (const server of runtime.servers) server.stop();
  }
  /** The pod's servers, chosen by its images (apps/images.ts). */
  startServers(pod, runtime) {
    const identity = this.identity(pod.metadata.name, runtime.ip, runtime.node);
    const servers = startPodServers(
      {
        host: this.apps,
        ns: runtime.ns,
        identity,
        serviceTime: this.serviceTime(),
        rng: Rng.stream(this.seed, `pod/${runtime.key}/server`),
        dnsRng: () => Rng.stream(this.seed, `pod/${runtime.key}/coredns`),
        coreDns: () => this.coreDnsSetup(runtime.node)
      },
      pod.spec.containers
    );
    runtime.servers.push(...servers);
  }
  /**
   * kubeadm's CoreDNS on `node`: the node's CPUs (kubeadm's Deployment sets no CPU limit), the
   * upstream one external round trip away and answering the scenario's external host names.
   */
  coreDnsSetup(node) {
    const cpus = this.spec.cluster.nodes.find((n) => n.name === node)?.cpus ?? this.spec.cluster.cpus ?? NODE_CPUS_DEFAULT;
    const params = coreDnsParams(this.spec.cluster.clusterDomain, cpus, 2 * this.spec.cluster.network.externalLatencyNs);
    const upstreamNames = /* @__PURE__ */ new Map();
    for (const host of this.externals.values()) upstreamNames.set(host.name.toLowerCase(), host.ip);
    return { params, env: { store: this.controlPlane.store, upstreamNames } };
  }
  // ------------------------------------------------------------------------------- events
  handleEvent(kind, a, _b, nowNs) {
    if (kind === this.kindTimeline) this.runStep(a, nowNs);
    else if (kind === this.kindWorkloadStart) this.startWorkload(this.workloads[a], nowNs);
    else if (kind === this.kindFinishCheck) this.checkFinished();
  }
  runStep(index, nowNs) {
    const step = this.spec.timeline[index];
    const action = step.action;
    const cp = this.controlPlane;
    let description;
    let issues;
    if (action.kind === "scale") {
      issues = cp.scale(action.namespace, action.target, action.replicas);
      description = `scale ${action.target} --replicas=${action.replicas}`;
    } else if (action.kind === "delete") {
      issues = cp.delete(action.namespace, action.target);
      description = `delete ${action.target}`;
    } else if (action.kind === "failRestore") {
      issues = [];
      this.nodes.get(action.node)?.proxy.failRestores(action.count);
      description = `kube-proxy on ${action.node}: the next ${action.count === 1 ? "iptables-restore fails" : `${action.count} iptables-restore runs fail`}`;
    } else if (action.kind === "nodeLocalDns") {
      issues = [];
      description = nodeLocalDnsEvent(this.nodeLocalDns, action.node, action.event);
    } else {
      issues = cp.apply(action.objects);
      const names = action.objects.map((o) => `${o.object.kind.toLowerCase()}/${o.object.metadata.name}`);
      description = names.length > APPLY_NAMES_LISTED_MAX ? `apply ${names.length} objects: ${names.slice(0, 2).join(", ")}, ..., ${names[names.length - 1]}` : `apply ${names.join(", ")}`;
    }
    for (const issue of issues) description += ` (${issue.severity}: ${issue.message})`;
    this.steps.push({ atNs: nowNs, description });
    this.timelineDone++;
    this.scheduleFinishCheck();
  }
  /**
   * A workload starts at its start time once its sources run and its target is served, as a user
   * runs curl after `kubectl get pods` shows Running: every source pod's container is running and,
   * when the target is a Service with a selector, it has a ready endpoint that every node's
   * kube-proxy has programmed. Checked every WORKLOAD_WAIT_STEP_NS; past the scenario duration
   * the workload starts regardless (and its failures show why). With `waitFor: none` only the
   * sources are waited for.
   */
  workloadReady(spec, nowNs) {
    if (nowNs >= this.spec.durationNs) return true;
    const from = spec.from;
    if (from.kind === "deployment") {
      const deployment = this.controlPlane.store.get("Deployment", from.namespace, from.name);
      if (deployment !== void 0 && this.sources(spec).length < (deployment.spec.replicas ?? 1)) return false;
    } else if (this.sources(spec).length === 0) return false;
    if (spec.waitFor === "none") return true;
    if (this.dns !== null && !this.dns.ready()) return false;
    if (this.dns !== null)
      for (const node of this.nodes.values()) {
        const last = node.proxy.syncs[node.proxy.syncs.length - 1];
        if (last === void 0 || last.atNs < this.lastServiceChangeNs) return false;
      }
    const namespace = from.kind === "pod" || from.kind === "deployment" ? from.namespace : "default";
    const resolution = resolveHost(this.names, spec.to.host, spec.to.port, namespace);
    if (resolution !== null && !this.loadBalancers.ready(resolution.address)) return false;
    if (resolution === null || resolution.service === null) return true;
    const service = this.controlPlane.store.get("Service", resolution.service.namespace, resolution.service.name);
    if (service?.spec.selector === void 0) return true;
    let ready = 0;
    for (const slice of this.controlPlane.store.endpointSlicesFor(
      resolution.service.namespace,
      resolution.service.name
    )) {
      for (const e of slice.endpoints) if (e.conditions?.ready !== false) ready++;
    }
    const selector = service.spec.selector;
    const pods = this.controlPlane.store.list("Pod", resolution.service.namespace).filter(
      (pod) => pod.metadata.deletionTimestampNs === void 0 && matchesServiceSelector(selector, pod.metadata.labels ?? {})
    ).length;
    let replicas = 0;
    for (const d of this.controlPlane.store.list("Deployment", resolution.service.namespace)) {
      if (matchesServiceSelector(selector, d.spec.template.metadata?.labels ?? {})) replicas += d.spec.replicas ?? 1;
    }
    const selected = Math.max(pods, replicas);
    if (ready < selected) return false;
    for (const node of this.nodes.values()) {
      const last = node.proxy.syncs[node.proxy.syncs.length - 1];
      if (last === void 0 || last.atNs < this.lastServiceChangeNs) return false;
    }
    return true;
  }
  startWorkload(w, nowNs) {
    const spec = w.spec;
    if (!this.workloadReady(spec, nowNs)) {
      this.scheduler.schedule(nowNs + WORKLOAD_WAIT_STEP_NS, this.kindWorkloadStart, w.index, 0);
      return;
    }
    w.started = true;
    this.steps.push({ atNs: nowNs, description: `workload ${spec.name} starts` });
    const sources2 = this.sources(spec);
    const namespace = spec.from.kind === "pod" || spec.from.kind === "deployment" ? spec.from.namespace : "default";
    const resolution = resolveHost(this.names, spec.to.host, spec.to.port, namespace);
    w.service = resolution?.service ?? null;
    const stopNs = Math.min(
      this.spec.durationNs,
      spec.durationNs === null ? Number.MAX_SAFE_INTEGER : nowNs + spec.durationNs
    );
    if (resolution === null && this.dns === null) {
      const count = (spec.count ?? 0) * Math.max(1, sources2.length);
      for (let i = 0; i < count; i++) {
        this.collector.onRequestSent(w.index, nowNs);
        this.collector.onRequestFailed(w.index, FailureReason.UNRESOLVED, nowNs);
      }
      this.scheduleFinishCheck();
      return;
    }
    sources2.forEach((source, i) => {
      const pod = spec.from.kind === "pod" || spec.from.kind === "deployment" ? this.controlPlane.store.get("Pod", spec.from.namespace, source.name) : void 0;
      const resolver = this.dns?.resolverFor(pod, source.ns, spec.to.host, w.index, `${source.name}/${i}`) ?? null;
      if (resolution === null && resolver === null) {
        for (let n = 0; n < (spec.count ?? 0); n++) {
          this.collector.onRequestSent(w.index, nowNs);
          this.collector.onRequestFailed(w.index, FailureReason.UNRESOLVED, nowNs);
        }
        return;
      }
      const config = {
        workload: w.index,
        arrival: arrivalModel(spec),
        count: spec.count,
        startNs: nowNs,
        stopNs,
        timeoutNs: spec.timeoutNs,
        requestBytes: spec.requestBytes,
        responseBytes: spec.responseBytes,
        dstAddr: resolution?.address ?? 0,
        dstPort: spec.to.port,
        reuse: spec.connection === "keepAlive",
        ...resolver !== null ? { resolver } : {}
      };
      const rng = Rng.stream(this.seed, `workload/${spec.name}/${source.name}/${i}`);
      const client = spec.to.scheme === "udp" ? new UdpEchoClient(this.apps, source.ns, config, rng) : spec.to.scheme === "icmp" ? new PingClient(this.apps, source.ns, config, rng) : new HttpClient(this.apps, source.ns, config, rng);
      this.apps.addClient(client);
      w.clients.push(client);
      client.start();
    });
    this.scheduleFinishCheck();
  }
  sources(spec) {
    const from = spec.from;
    switch (from.kind) {
      case "pod": {
        const runtime = this.pods.get(`${from.namespace}/${from.name}`);
        return runtime === void 0 ? [] : [{ name: from.name, ns: runtime.ns }];
      }
      case "deployment": {
        const deployment = this.controlPlane.store.get("Deployment", from.namespace, from.name);
        if (deployment === void 0) return [];
        const out = [];
        for (const pod of this.controlPlane.store.list("Pod", from.namespace)) {
          if (!matchesSelector(deployment.spec.selector, pod.metadata.labels ?? {})) continue;
          const runtime = this.pods.get(podKey(pod));
          if (runtime !== void 0 && this.controlPlane.isContainerRunning(from.namespace, pod.metadata.name))
            out.push({ name: pod.metadata.name, ns: runtime.ns });
        }
        return out;
      }
      case "node": {
        const node = this.nodes.get(from.name);
        return node === void 0 ? [] : [{ name: from.name, ns: node.net.ns }];
      }
      case "external": {
        const host = this.externals.get(from.name);
        return host === void 0 ? [] : [{ name: from.name, ns: host.ns }];
      }
    }
  }
  onClientFinished() {
    this.scheduleFinishCheck();
  }
  /** Checks, after the current instant's events, whether the run can end early. */
  scheduleFinishCheck() {
    this.scheduler.schedule(this.scheduler.nowNs, this.kindFinishCheck, 0, 0);
  }
  checkFinished() {
    if (this.timelineDone < this.spec.timeline.length) return;
    for (const w of this.workloads) {
      if (!w.started) return;
      for (const client of w.clients) if (!client.finished) return;
    }
    this.scheduler.stop();
  }
  /** Endpoints the workload's target Service has now (pod names), for the expected shares. */
  expectedEndpoints(w) {
    if (w.service === null) return [];
    const names = /* @__PURE__ */ new Set();
    for (const slice of this.controlPlane.store.endpointSlicesFor(w.service.namespace, w.service.name)) {
      for (const endpoint of slice.endpoints) {
        if (endpoint.conditions?.ready === false) continue;
        const name = endpoint.targetRef?.name;
        if (name !== void 0) names.add(name);
        else {
          const external = [...this.externals.values()].find((h) => formatIpv4(h.ip) === endpoint.addresses[0]);
          if (external !== void 0) names.add(external.name);
        }
      }
    }
    return [...names].sort();
  }
};
function nodeRaceOptions(node, cluster) {
  const raceFix = node?.raceFix ?? cluster?.raceFix;
  const racePpm = node?.racePpm ?? cluster?.racePpm;
  return { ...raceFix !== void 0 ? { raceFix } : {}, ...racePpm !== void 0 ? { racePpm } : {} };
}
function arrivalModel(spec) {
  const a = spec.arrival;
  switch (a.kind) {
    case "poisson":
      return { kind: "poisson", meanIntervalNs: Math.max(1, Math.round(1e9 / a.ratePerSecond)) };
    case "every":
      return { kind: "every", intervalNs: a.intervalNs };
    case "closedLoop":
      return { kind: "closedLoop", concurrency: a.concurrency };
  }
}
function podKey(pod) {
  return `${pod.metadata.namespace ?? "default"}/${pod.metadata.name}`;
}

// src/cluster/index.ts
var PROGRESS_SLICE_NS = 100 * NS_PER_MS;
function runScenario(spec, options) {
  const wallStartMs = options.wallClockMs?.() ?? 0;
  const world = withLimits(() => new World(spec, options.seed));
  const endReason = withLimits(() => runUntil(world, spec.durationNs, options.onProgress));
  const wallSeconds = options.wallClockMs === void 0 ? 0 : (options.wallClockMs() - wallStartMs) / 1e3;
  return results(world, endReason, wallSeconds);
}
function withLimits(body) {
  try {
    return body();
  } catch (error) {
    if (error instanceof PodLimitExceeded) {
      const message = `${error.message} at ${formatDurationNs(error.atNs)} of simulated time; raise limits.pods or lower the replicas`;
      throw new ScenarioIssues([{ severity: "error", path: ["limits", "pods"], message }]);
    }
    throw error;
  }
}
function runUntil(world, untilNs, onProgress) {
  const scheduler = world.scheduler;
  let eventsLeft = world.spec.limits.eventCountMax;
  for (; ; ) {
    const sliceEndNs = Math.min(untilNs, scheduler.nowNs + PROGRESS_SLICE_NS);
    const outcome = scheduler.run({ timeNsMax: sliceEndNs, eventCountMax: eventsLeft });
    eventsLeft -= outcome.eventCount;
    if (outcome.reason === "stopped") return "completed";
    if (outcome.reason === "event-limit") return "event-limit";
    if (outcome.reason === "empty") return "completed";
    if (sliceEndNs >= untilNs) {
      scheduler.nowNs = untilNs;
      return "duration";
    }
    scheduler.nowNs = sliceEndNs;
    onProgress?.(sliceEndNs, untilNs);
  }
}
function results(world, endReason, wallSeconds) {
  const spec = world.spec;
  const nowNs = world.scheduler.nowNs;
  const workloads = {};
  for (const w of world.workloads) {
    workloads[w.spec.name] = world.collector.results(w.index, world.expectedEndpoints(w));
    if (world.dns !== null) workloads[w.spec.name].dns = world.dns.workloadResults(w.index);
  }
  const drops = {};
  world.network.counters.droppedByReason.forEach((count, reason2) => {
    if (count > 0) drops[dropReasonName(reason2)] = count;
  });
  const events = world.scheduler.eventCount;
  return {
    schemaVersion: SCHEMA_VERSION,
    scenario: spec.name,
    seed: world.seed,
    fingerprint: world.scheduler.fingerprint(),
    simulatedNs: nowNs,
    workloads: sortedRecord(workloads),
    drops: sortedRecord(drops),
    conntrack: conntrackResults(world, nowNs),
    dns: world.dns?.results(world.apps.servers) ?? {},
    pods: podResults(world),
    kubeProxy: {
      syncs: kubeProxySyncResults(
        [...world.nodes.values()].map((node) => ({
          node: node.name,
          syncs: node.proxy.syncs,
          failed: node.proxy.failedSyncs.length
        }))
      )
    },
    ...ipvsResults(world),
    steps: world.steps.map((s) => ({ atNs: s.atNs, description: s.description })),
    endReason,
    wall: { seconds: wallSeconds, events, eventsPerSecond: wallSeconds > 0 ? Math.round(events / wallSeconds) : 0 }
  };
}
function ipvsResults(world) {
  if (world.spec.kubeProxy.mode !== "ipvs") return {};
  const out = { peakConnections: 0, peakConnectionsByNode: {}, connectionsCreated: 0, virtualServers: {} };
  for (const node of world.nodes.values()) {
    const backend = node.proxy.backend;
    if (!(backend instanceof IpvsBackend)) continue;
    const r = backend.results();
    out.peakConnectionsByNode[node.name] = r.peakConnections;
    out.peakConnections = Math.max(out.peakConnections, r.peakConnections);
    out.connectionsCreated += r.connectionsCreated;
    for (const [key, vs] of Object.entries(r.virtualServers)) {
      const sum = out.virtualServers[key] ?? {
        conns: 0,
        inPkts: 0,
        outPkts: 0,
        inBytes: 0,
        outBytes: 0,
        realServers: {}
      };
      sum.conns += vs.conns;
      sum.inPkts += vs.inPkts;
      sum.outPkts += vs.outPkts;
      sum.inBytes += vs.inBytes;
      sum.outBytes += vs.outBytes;
      for (const [rs, conns] of Object.entries(vs.realServers)) sum.realServers[rs] = (sum.realServers[rs] ?? 0) + conns;
      out.virtualServers[key] = sum;
    }
  }
  return { ipvs: out };
}
function podResults(world) {
  const out = { total: 0, running: 0, pending: 0, unschedulable: 0, terminating: 0, failed: 0 };
  for (const pod of world.controlPlane.store.list("Pod")) {
    out.total++;
    const phase = pod.status?.phase ?? "Pending";
    if (phase === "Running") out.running++;
    else if (phase === "Pending") out.pending++;
    else if (phase === "Failed") out.failed++;
    if (pod.status?.conditions?.some((c) => c.type === "PodScheduled" && c.status === "False") === true)
      out.unschedulable++;
    if (pod.metadata.deletionTimestampNs !== void 0) out.terminating++;
  }
  return out;
}
function conntrackResults(world, nowNs) {
  const peakEntriesByNode = {};
  const entriesByState = {};
  let peakEntries = 0;
  let insertFailed = 0;
  let clashResolved = 0;
  const insertFailedByNode = {};
  let dropsTableFull = 0;
  for (const node of world.nodes.values()) {
    const stats = node.filter.conntrack.stats(nowNs);
    peakEntriesByNode[node.name] = stats.peak;
    peakEntries = Math.max(peakEntries, stats.peak);
    insertFailed += stats.insertFailed;
    insertFailedByNode[node.name] = stats.insertFailed;
    clashResolved += stats.clashResolved;
    dropsTableFull += stats.dropTableFull;
    for (const [state, count] of Object.entries(stats.byState))
      entriesByState[state] = (entriesByState[state] ?? 0) + count;
  }
  return {
    peakEntries,
    peakEntriesByNode: sortedRecord(peakEntriesByNode),
    entriesByState: sortedRecord(entriesByState),
    insertFailed,
    insertFailedByNode: sortedRecord(insertFailedByNode),
    clashResolved,
    dropsTableFull
  };
}

// src/scenario/load.ts
import { readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";

// src/scenario/issues.ts
function sortIssues(issues) {
  return issues.map((issue, index) => ({ issue, index })).sort((a, b) => {
    const pa = a.issue.position;
    const pb = b.issue.position;
    if (pa === void 0 || pb === void 0) return pa === pb ? a.index - b.index : pa === void 0 ? 1 : -1;
    if (pa.file !== pb.file) return pa.file < pb.file ? -1 : 1;
    return pa.line - pb.line || pa.column - pb.column || a.index - b.index;
  }).map((entry) => entry.issue);
}
function hasErrors(issues) {
  return issues.some((issue) => issue.severity === "error");
}

// src/scenario/manifests.ts
import { Schema as Schema2 } from "effect";

// src/scenario/address.ts
import { Address4, Address6 } from "ip-address";
var IPV6_NOT_MODELLED = "IPv6 is not modelled (the simulator is IPv4 single-stack)";
function isIpv62(text) {
  return text.includes(":") && Address6.isValid(text);
}
function ipv6NotModelled(text, what) {
  return `${what} "${text}" is IPv6: ${IPV6_NOT_MODELLED}`;
}
function ipv6Message(text, what) {
  return isIpv62(text) ? ipv6NotModelled(text, what) : void 0;
}
function reason(error) {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\.$/, "").replace(/^Invalid IPv4 address$/, "expected a dotted quad such as 10.96.0.10");
}
function parseAddress2(text, what = "IPv4 address") {
  const v6 = ipv6Message(text, what.replace(/^IPv4 /, ""));
  if (v6 !== void 0) return { ok: false, message: v6 };
  if (text.includes("/"))
    return { ok: false, message: `invalid ${what} "${text}": expected an address without a /prefix` };
  let address;
  try {
    address = new Address4(text);
  } catch (error) {
    return { ok: false, message: `invalid ${what} "${text}": ${reason(error)}` };
  }
  return { ok: true, value: Number(address.bigInt()) >>> 0 };
}
function parsePrefix(text, what = "CIDR", strict = true) {
  const v6 = ipv6Message(text, what);
  if (v6 !== void 0) return { ok: false, message: v6 };
  const slash = text.indexOf("/");
  if (slash < 0) return { ok: false, message: `invalid ${what} "${text}": expected ADDRESS/PREFIX, e.g. 10.96.0.0/12` };
  if (!/^(0|[1-9]\d?)$/.test(text.slice(slash + 1)))
    return { ok: false, message: `invalid ${what} "${text}": the prefix length must be 0 to 32` };
  let prefix2;
  try {
    prefix2 = new Address4(text);
  } catch (error) {
    const message = reason(error).replace(/^Invalid subnet mask$/, "the prefix length must be 0 to 32");
    return { ok: false, message: `invalid ${what} "${text}": ${message}` };
  }
  const prefixLength = prefix2.subnetMask;
  const mask = maskOf(prefixLength);
  const address = Number(prefix2.bigInt()) >>> 0;
  const network = (address & mask) >>> 0;
  if (strict && network !== address) {
    return {
      ok: false,
      message: `invalid ${what} "${text}": host bits are set (did you mean ${prefix2.startAddress().correctForm()}/${prefixLength}?)`
    };
  }
  return { ok: true, value: { address: network, prefixLength, mask } };
}

// src/scenario/schema-util.ts
import { Result, Schema, SchemaGetter, SchemaIssue } from "effect";

// src/scenario/units.ts
var DURATION_UNITS_NS = {
  ns: 1n,
  us: 1000n,
  \u00B5s: 1000n,
  ms: 1000000n,
  s: 1000000000n,
  m: 60000000000n,
  h: 3600000000000n
};
var BANDWIDTH_UNITS_BPS = {
  bps: 1n,
  Kbps: 1000n,
  kbps: 1000n,
  Mbps: 1000000n,
  Gbps: 1000000000n,
  Tbps: 1000000000000n
};
var BYTE_UNITS = {
  B: 1n,
  KB: 1000n,
  KiB: 1024n,
  MB: 1000000n,
  MiB: 1048576n
};
var RATE_PER_UNITS_NS = { s: 1e9, ms: 1e6, us: 1e3, m: 6e10, h: 36e11 };
var NUMBER_RE = "(\\d+)(?:\\.(\\d+))?";
function scaleExact(whole, fraction, unit) {
  const frac = fraction ?? "";
  const scaled = BigInt(whole + frac) * unit;
  const divisor = 10n ** BigInt(frac.length);
  if (scaled % divisor !== 0n) return void 0;
  return scaled / divisor;
}
function toSafe(value) {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : void 0;
}
function unitList(units) {
  return Object.keys(units).join(", ");
}
function parseDurationNs(text) {
  if (text === "0") return 0;
  const m = new RegExp(`^${NUMBER_RE}(ns|us|\xB5s|ms|s|m|h)$`).exec(text);
  if (m === null)
    return `invalid duration "${text}": expected a number followed by a unit (${unitList(DURATION_UNITS_NS)}), e.g. 250us, 10ms, 1.5s`;
  const ns = scaleExact(m[1], m[2], DURATION_UNITS_NS[m[3]]);
  if (ns === void 0) return `invalid duration "${text}": not a whole number of nanoseconds`;
  const safe = toSafe(ns);
  if (safe === void 0) return `invalid duration "${text}": too large (at most 2^53 ns, about 104 days)`;
  return safe;
}
function parseRatePerSecond(text) {
  const m = new RegExp(`^(\\d+(?:\\.\\d+)?)/(s|ms|us|m|h)$`).exec(text);
  if (m === null) return `invalid rate "${text}": expected COUNT/UNIT with unit s, ms, us, m or h, e.g. 200/s`;
  const count = Number(m[1]);
  const rate = count * 1e9 / RATE_PER_UNITS_NS[m[2]];
  if (!(rate > 0) || !Number.isFinite(rate)) return `invalid rate "${text}": must be greater than zero`;
  return rate;
}
function parseBandwidthBps(text) {
  const m = new RegExp(`^${NUMBER_RE}(bps|Kbps|kbps|Mbps|Gbps|Tbps)$`).exec(text);
  if (m === null)
    return `invalid bandwidth "${text}": expected a number followed by ${unitList(BANDWIDTH_UNITS_BPS)}, e.g. 10Gbps`;
  const bps = scaleExact(m[1], m[2], BANDWIDTH_UNITS_BPS[m[3]]);
  if (bps === void 0) return `invalid bandwidth "${text}": not a whole number of bits per second`;
  const safe = toSafe(bps);
  if (safe === void 0 || safe === 0) return `invalid bandwidth "${text}": must be between 1bps and 2^53 bps`;
  return safe;
}
function parseBytes(value) {
  if (typeof value === "number") {
    return Number.isSafeInteger(value) && value >= 0 ? value : `invalid size ${value}: expected a non-negative integer number of bytes`;
  }
  const m = new RegExp(`^${NUMBER_RE}(B|KB|KiB|MB|MiB)$`).exec(value);
  if (m === null)
    return `invalid size "${value}": expected bytes as an integer or with a unit (${unitList(BYTE_UNITS)}), e.g. 1500 or 64KiB`;
  const bytes = scaleExact(m[1], m[2], BYTE_UNITS[m[3]]);
  const safe = bytes === void 0 ? void 0 : toSafe(bytes);
  if (safe === void 0) return `invalid size "${value}": not a whole number of bytes`;
  return safe;
}
function parseLossPpm(value) {
  let ppm;
  if (typeof value === "number") {
    ppm = value * 1e6;
  } else {
    const percent = /^(\d+(?:\.\d+)?)%$/.exec(value);
    const parts = /^(\d+)ppm$/.exec(value);
    if (percent !== null) ppm = Number(percent[1]) * 1e4;
    else if (parts !== null) ppm = Number(parts[1]);
    else
      return `invalid loss "${value}": expected a probability (0.001), a percentage (0.1%) or parts per million (1000ppm)`;
  }
  if (!Number.isFinite(ppm) || ppm < 0 || ppm > 1e6)
    return `invalid loss ${JSON.stringify(value)}: must be between 0 and 1 (0% to 100%)`;
  return Math.round(ppm);
}

// src/scenario/schema-util.ts
function describeInput(input) {
  if (input === null) return "null";
  if (Array.isArray(input)) return "a list";
  if (typeof input === "object") return "a mapping";
  if (typeof input === "string") return JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}...` : input);
  return String(input);
}
var leafHook = (issue) => {
  switch (issue._tag) {
    case "UnexpectedKey":
      return "unknown field";
    case "MissingKey":
      return "missing required field";
    case "InvalidType": {
      const base = SchemaIssue.defaultLeafHook(issue).replace(/^Expected /, "expected ").replace(/, got .*$/, "").replace(/^expected object$/, "expected a mapping").replace(/^expected (ReadonlyArray<.*>|Array<.*>|array)$/, "expected a list");
      return SchemaIssue.hasInput(issue) ? `${base}, got ${describeInput(issue.input)}` : base;
    }
    default:
      return SchemaIssue.defaultLeafHook(issue).replace(/^Expected /, "expected ");
  }
};
var checkHook = (issue) => {
  const message = SchemaIssue.defaultCheckHook(issue);
  return message === void 0 ? void 0 : message.replace(/^Expected /, "expected ");
};
var formatter = SchemaIssue.makeFormatterStandardSchemaV1({ leafHook, checkHook });
function decodeAll(schema, input, strict) {
  const result = Schema.decodeUnknownResult(schema)(input, {
    errors: "all",
    onExcessProperty: strict ? "error" : "ignore",
    reportInput: true
  });
  if (Result.isSuccess(result)) return { ok: true, value: result.success };
  const issues = [];
  const seen = /* @__PURE__ */ new Set();
  for (const issue of formatter(result.failure.issue).issues) {
    const path = (issue.path ?? []).map((segment) => {
      const key = typeof segment === "object" && segment !== null && "key" in segment ? segment.key : segment;
      return typeof key === "number" ? key : String(key);
    });
    const dedupe = `${JSON.stringify(path)}\0${issue.message}`;
    if (seen.has(dedupe)) continue;
    seen.add(dedupe);
    issues.push({ path, message: issue.message, atKey: issue.message === "unknown field" });
  }
  return { ok: false, issues };
}
function parsedString(parse, title, example) {
  return Schema.Union([Schema.Number, Schema.String]).check(
    Schema.makeFilter(
      (value) => {
        if (typeof value === "number")
          return value === 0 && title === "duration" ? void 0 : `invalid ${title} ${value}: a ${title} needs a unit, e.g. ${example(value)}`;
        const parsed = parse(value);
        return typeof parsed === "string" ? parsed : void 0;
      },
      { title }
    )
  ).pipe(
    Schema.decodeTo(Schema.String, {
      decode: SchemaGetter.transform((value) => String(value)),
      encode: SchemaGetter.transform((value) => value)
    })
  );
}
var DurationString = parsedString(parseDurationNs, "duration", (n) => `${n}s or ${n}ms`);
var RateString = parsedString(parseRatePerSecond, "rate", (n) => `${n}/s`);
var BandwidthString = parsedString(parseBandwidthBps, "bandwidth", (n) => `${n}Mbps or ${n}Gbps`);
var Ipv4String = Schema.String.check(
  Schema.makeFilter(
    (text) => {
      const parsed = parseAddress2(text);
      return parsed.ok ? void 0 : parsed.message;
    },
    { title: "IPv4 address" }
  )
);
var CidrString = Schema.String.check(
  Schema.makeFilter(
    (text) => {
      const parsed = parsePrefix(text);
      return parsed.ok ? void 0 : parsed.message;
    },
    { title: "CIDR" }
  )
);
var BytesValue = Schema.Union([Schema.Number, Schema.String]).check(
  Schema.makeFilter(
    (value) => {
      const parsed = parseBytes(value);
      return typeof parsed === "string" ? parsed : void 0;
    },
    { title: "size" }
  )
);
var LossValue = Schema.Union([Schema.Number, Schema.String]).check(
  Schema.makeFilter(
    (value) => {
      const parsed = parseLossPpm(value);
      return typeof parsed === "string" ? parsed : void 0;
    },
    { title: "loss" }
  )
);
var NonNegativeInt = Schema.Number.check(
  Schema.isInt({ message: "expected an integer" }),
  Schema.isGreaterThanOrEqualTo(0, { message: "must not be negative" })
);
var PositiveInt = Schema.Number.check(
  Schema.isInt({ message: "expected an integer" }),
  Schema.isGreaterThanOrEqualTo(1, { message: "must be at least 1" })
);
var Port = Schema.Number.check(
  Schema.isInt({ message: "expected an integer" }),
  Schema.isBetween({ minimum: 1, maximum: 65535 }, { message: "must be a port number between 1 and 65535" })
);
function exactlyOneOf(keys) {
  return Schema.makeFilter((value) => {
    const present = keys.filter((key) => key in value && value[key] !== void 0);
    if (present.length === 1) return void 0;
    if (present.length === 0) return `expected one of ${keys.join(", ")}`;
    return `expected only one of ${keys.join(", ")}, got ${present.join(" and ")}`;
  });
}
function mustParse(parsed) {
  if (typeof parsed === "string") throw new Error(`internal: value passed the schema but not its parser: ${parsed}`);
  return parsed;
}

// src/scenario/manifests.ts
var opt = Schema2.optionalKey;
var Str = Schema2.String;
var StringMap = Schema2.Record(Schema2.String, Schema2.String);
var StringList = Schema2.Array(Schema2.String);
var Protocol2 = Schema2.Literals(["TCP", "UDP", "SCTP"]);
var Bool = Schema2.Boolean;
var Int = Schema2.Number.check(Schema2.isInt({ message: "expected an integer" }));
var IntOrString = Schema2.Union([Port, Schema2.String]);
var ObjectMeta = Schema2.Struct({
  name: Str,
  namespace: opt(Str),
  labels: opt(StringMap),
  annotations: opt(StringMap),
  generateName: opt(Str),
  uid: opt(Str)
});
var TemplateMeta = Schema2.Struct({
  name: opt(Str),
  namespace: opt(Str),
  labels: opt(StringMap),
  annotations: opt(StringMap),
  generateName: opt(Str)
});
var LabelSelector = Schema2.Struct({
  matchLabels: opt(StringMap),
  matchExpressions: opt(
    Schema2.Array(
      Schema2.Struct({
        key: Str,
        operator: Schema2.Literals(["In", "NotIn", "Exists", "DoesNotExist"]),
        values: opt(StringList)
      })
    )
  )
});
var Probe = Schema2.Struct({
  initialDelaySeconds: opt(NonNegativeInt),
  periodSeconds: opt(NonNegativeInt),
  timeoutSeconds: opt(NonNegativeInt),
  successThreshold: opt(NonNegativeInt),
  failureThreshold: opt(NonNegativeInt),
  httpGet: opt(Schema2.Struct({ path: opt(Str), port: IntOrString })),
  tcpSocket: opt(Schema2.Struct({ port: IntOrString })),
  exec: opt(Schema2.Struct({ command: StringList }))
});
var Container = Schema2.Struct({
  name: Str,
  image: Str,
  ports: opt(
    Schema2.Array(Schema2.Struct({ name: opt(Str), containerPort: Port, protocol: opt(Protocol2), hostPort: opt(Port) }))
  ),
  command: opt(StringList),
  args: opt(StringList),
  readinessProbe: opt(Probe),
  livenessProbe: opt(Probe)
});
var PodSpec = Schema2.Struct({
  containers: Schema2.Array(Container).check(
    Schema2.makeFilter(
      (list) => list.length > 0 ? void 0 : "at least one container is required"
    )
  ),
  nodeName: opt(Str),
  nodeSelector: opt(StringMap),
  hostNetwork: opt(Bool),
  dnsPolicy: opt(Schema2.Literals(["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"])),
  /** core/v1 PodDNSConfig: read by kubelet's resolv.conf in dns.mode packets (dns/resolv-conf.ts). */
  dnsConfig: opt(
    Schema2.Struct({
      nameservers: opt(Schema2.Array(Str)),
      searches: opt(Schema2.Array(Str)),
      options: opt(Schema2.Array(Schema2.Struct({ name: Str, value: opt(Str) })))
    })
  ),
  terminationGracePeriodSeconds: opt(NonNegativeInt),
  hostname: opt(Str),
  subdomain: opt(Str)
});
var Pod = Schema2.Struct({
  apiVersion: Schema2.Literal("v1"),
  kind: Schema2.Literal("Pod"),
  metadata: ObjectMeta,
  spec: PodSpec
});
var WorkloadSpec = Schema2.Struct({
  replicas: opt(NonNegativeInt),
  selector: LabelSelector,
  template: Schema2.Struct({ metadata: opt(TemplateMeta), spec: PodSpec })
});
var Deployment = Schema2.Struct({
  apiVersion: Schema2.Literal("apps/v1"),
  kind: Schema2.Literal("Deployment"),
  metadata: ObjectMeta,
  spec: WorkloadSpec
});
var ReplicaSet = Schema2.Struct({
  apiVersion: Schema2.Literal("apps/v1"),
  kind: Schema2.Literal("ReplicaSet"),
  metadata: ObjectMeta,
  spec: WorkloadSpec
});
var Namespace = Schema2.Struct({
  apiVersion: Schema2.Literal("v1"),
  kind: Schema2.Literal("Namespace"),
  metadata: ObjectMeta
});
function optionalAddress(what, alsoAllowed = [""]) {
  return Schema2.String.check(
    Schema2.makeFilter((text) => {
      if (alsoAllowed.includes(text)) return void 0;
      const parsed = parseAddress2(text, what);
      return parsed.ok ? void 0 : parsed.message;
    })
  );
}
var ClusterIP = optionalAddress("clusterIP", ["None", ""]);
var SourceRange = Schema2.String.check(
  Schema2.makeFilter((text) => {
    const parsed = parsePrefix(text.trim(), "source range", false);
    return parsed.ok ? void 0 : parsed.message;
  })
);
var ServicePort = Schema2.Struct({
  name: opt(Str),
  protocol: opt(Protocol2),
  port: Port,
  targetPort: opt(IntOrString),
  nodePort: opt(Port),
  appProtocol: opt(Str)
});
var ServiceSpec = Schema2.Struct({
  type: opt(Schema2.Literals(["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"])),
  selector: opt(StringMap),
  ports: opt(Schema2.Array(ServicePort)),
  clusterIP: opt(ClusterIP),
  clusterIPs: opt(Schema2.Array(ClusterIP)),
  externalIPs: opt(Schema2.Array(Ipv4String)),
  externalName: opt(Str),
  sessionAffinity: opt(Schema2.Literals(["None", "ClientIP"])),
  sessionAffinityConfig: opt(
    Schema2.Struct({
      clientIP: opt(
        Schema2.Struct({
          timeoutSeconds: opt(
            Schema2.Number.check(
              Schema2.isInt({ message: "expected an integer" }),
              Schema2.isBetween({ minimum: 1, maximum: 86400 }, { message: "must be between 1 and 86400" })
            )
          )
        })
      )
    })
  ),
  externalTrafficPolicy: opt(Schema2.Literals(["Cluster", "Local"])),
  internalTrafficPolicy: opt(Schema2.Literals(["Cluster", "Local"])),
  healthCheckNodePort: opt(Port),
  loadBalancerIP: opt(optionalAddress("loadBalancerIP")),
  loadBalancerSourceRanges: opt(Schema2.Array(SourceRange)),
  loadBalancerClass: opt(Str),
  publishNotReadyAddresses: opt(Bool),
  ipFamilies: opt(Schema2.Array(Schema2.Literals(["IPv4", "IPv6"]))),
  ipFamilyPolicy: opt(Schema2.Literals(["SingleStack", "PreferDualStack", "RequireDualStack"])),
  allocateLoadBalancerNodePorts: opt(Bool),
  trafficDistribution: opt(Schema2.Literals(["PreferClose", "PreferSameZone", "PreferSameNode"]))
});
var ServiceStatus = Schema2.Struct({
  loadBalancer: opt(
    Schema2.Struct({
      ingress: opt(
        Schema2.Array(
          Schema2.Struct({
            ip: opt(Ipv4String),
            hostname: opt(Str),
            ipMode: opt(Schema2.Literals(["VIP", "Proxy"])),
            ports: opt(Schema2.Unknown)
          })
        )
      )
    })
  ),
  conditions: opt(Schema2.Unknown)
});
var Service = Schema2.Struct({
  apiVersion: Schema2.Literal("v1"),
  kind: Schema2.Literal("Service"),
  metadata: ObjectMeta,
  spec: ServiceSpec,
  status: opt(ServiceStatus)
});
var TargetRef = Schema2.Struct({ kind: Str, name: Str, namespace: opt(Str), uid: opt(Str) });
var EndpointAddress = Schema2.Struct({
  ip: Ipv4String,
  nodeName: opt(Str),
  hostname: opt(Str),
  targetRef: opt(TargetRef)
});
var Endpoints = Schema2.Struct({
  apiVersion: Schema2.Literal("v1"),
  kind: Schema2.Literal("Endpoints"),
  metadata: ObjectMeta,
  subsets: opt(
    Schema2.Array(
      Schema2.Struct({
        addresses: opt(Schema2.Array(EndpointAddress)),
        notReadyAddresses: opt(Schema2.Array(EndpointAddress)),
        ports: opt(Schema2.Array(Schema2.Struct({ name: opt(Str), port: Port, protocol: opt(Protocol2) })))
      })
    )
  )
});
var EndpointSlice = Schema2.Struct({
  apiVersion: Schema2.Literal("discovery.k8s.io/v1"),
  kind: Schema2.Literal("EndpointSlice"),
  metadata: ObjectMeta,
  addressType: Schema2.Literals(["IPv4", "IPv6", "FQDN"]),
  endpoints: Schema2.Array(
    Schema2.Struct({
      addresses: StringList,
      conditions: opt(Schema2.Struct({ ready: opt(Bool), serving: opt(Bool), terminating: opt(Bool) })),
      nodeName: opt(Str),
      zone: opt(Str),
      hostname: opt(Str),
      targetRef: opt(TargetRef),
      hints: opt(
        Schema2.Struct({
          forZones: opt(Schema2.Array(Schema2.Struct({ name: Str }))),
          forNodes: opt(Schema2.Array(Schema2.Struct({ name: Str })))
        })
      )
    })
  ),
  ports: opt(
    Schema2.Array(Schema2.Struct({ name: opt(Str), port: opt(Port), protocol: opt(Protocol2), appProtocol: opt(Str) }))
  )
}).check(
  // The API server validates each address against the slice's addressType (IPv4 here: IPv6 slices
  // are left to the IPv4 proxier, which skips them as upstream's does).
  Schema2.makeFilter(
    (slice) => {
      if (slice.addressType !== "IPv4") return void 0;
      const issues = [];
      slice.endpoints.forEach(
        (endpoint, i) => endpoint.addresses.forEach((address, j) => {
          const parsed = parseAddress2(address, "endpoint address");
          if (!parsed.ok) issues.push({ path: ["endpoints", i, "addresses", j], issue: parsed.message });
        })
      );
      return issues;
    }
  )
);
var KINDS = {
  Namespace: { apiVersion: "v1", schema: Namespace },
  Pod: { apiVersion: "v1", schema: Pod },
  Service: { apiVersion: "v1", schema: Service },
  Endpoints: { apiVersion: "v1", schema: Endpoints },
  Deployment: { apiVersion: "apps/v1", schema: Deployment },
  ReplicaSet: { apiVersion: "apps/v1", schema: ReplicaSet },
  EndpointSlice: { apiVersion: "discovery.k8s.io/v1", schema: EndpointSlice }
};
function isKindName(kind) {
  return Object.hasOwn(KINDS, kind);
}
var IGNORED_FIELDS = /* @__PURE__ */ new Set([
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
  "metadata"
]);
var isEmpty = (value) => value === null || value === void 0 || value === false || value === 0 || value === "" || Array.isArray(value) && value.length === 0 || typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 0;
var NOT_MODELLED_FIELDS = /* @__PURE__ */ new Map([
  [
    "ownerReferences",
    {
      message: "ownerReferences from a manifest are not modelled (no garbage collection or controller adoption through them)",
      noEffect: isEmpty
    }
  ],
  [
    "finalizers",
    { message: "finalizers are not modelled: the object is deleted without waiting for them", noEffect: isEmpty }
  ],
  [
    "strategy",
    {
      message: "the rollout strategy is not modelled: a changed template replaces every pod at once (as type Recreate)",
      noEffect: (v) => isEmpty(v) || typeof v === "object" && v !== null && Object.keys(v).length === 1 && v.type === "Recreate"
    }
  ],
  [
    "minReadySeconds",
    { message: "minReadySeconds is not modelled: rollouts do not wait for pods to be available", noEffect: isEmpty }
  ],
  ["paused", { message: "paused is not modelled: template changes roll out at once", noEffect: isEmpty }],
  [
    "startupProbe",
    { message: "startupProbe is not modelled: readiness and liveness probes start without waiting for it" }
  ],
  [
    "lifecycle",
    {
      message: "lifecycle hooks are not modelled: postStart does not delay readiness and preStop does not delay termination",
      noEffect: isEmpty
    }
  ],
  [
    "restartPolicy",
    {
      message: "restartPolicy is not modelled: containers behave as with restartPolicy Always",
      noEffect: (v) => v === "Always"
    }
  ],
  [
    "initContainers",
    { message: "init containers are not run: the pod starts without waiting for them", noEffect: isEmpty }
  ],
  ["affinity", { message: "affinity is not modelled: the scheduler places the pod without it", noEffect: isEmpty }],
  [
    "topologySpreadConstraints",
    {
      message: "topologySpreadConstraints are not modelled: the scheduler places the pod without them",
      noEffect: isEmpty
    }
  ],
  [
    "schedulerName",
    {
      message: "schedulerName is not modelled: the default scheduler places the pod (a cluster without that scheduler leaves it Pending)",
      noEffect: (v) => v === "default-scheduler"
    }
  ],
  ["priorityClassName", { message: "pod priority and preemption are not modelled", noEffect: isEmpty }],
  ["priority", { message: "pod priority and preemption are not modelled", noEffect: isEmpty }],
  ["preemptionPolicy", { message: "pod priority and preemption are not modelled", noEffect: isEmpty }],
  [
    "readinessGates",
    {
      message: "readinessGates are not modelled: the pod is Ready from its probes alone (a real one waits for the gate conditions)",
      noEffect: isEmpty
    }
  ],
  [
    "schedulingGates",
    {
      message: "schedulingGates are not modelled: the pod is scheduled at once (a real one stays Pending until the gates are removed)",
      noEffect: isEmpty
    }
  ],
  [
    "resourceClaims",
    { message: "resource claims (DRA) are not modelled: the scheduler places the pod without them", noEffect: isEmpty }
  ],
  [
    "activeDeadlineSeconds",
    { message: "activeDeadlineSeconds is not modelled: the pod is not failed at the deadline" }
  ],
  [
    "hostAliases",
    { message: "hostAliases are not modelled: /etc/hosts entries do not change name resolution", noEffect: isEmpty }
  ],
  [
    "os",
    {
      message: "spec.os other than linux is not modelled: every node is a Linux node",
      noEffect: (v) => isEmpty(v) || typeof v === "object" && v !== null && v.name === "linux"
    }
  ],
  [
    "securityContext",
    {
      message: "sysctls are not modelled: the pod's network namespace keeps the node defaults",
      noEffect: (v) => typeof v !== "object" || v === null || isEmpty(v.sysctls)
    }
  ]
]);
var BUILTIN_NAMESPACES = /* @__PURE__ */ new Set(["default", "kube-system", "kube-public", "kube-node-lease"]);
function decodeManifest(doc, root, value, namespace, options = {}) {
  const out = { objects: [], issues: [] };
  if (value === null || value === void 0) return out;
  if (Array.isArray(value)) {
    value.forEach((item, index) => decodeOne(doc, [...root, index], item, namespace, out, options));
    return out;
  }
  decodeOne(doc, root, value, namespace, out, options);
  return out;
}
function decodeOne(doc, root, value, namespace, out, options) {
  const error = (path, message, atKey = false) => {
    const full = [...root, ...path];
    out.issues.push({
      severity: "error",
      path: full,
      message,
      position: atKey ? doc.locateKey(full) : doc.locate(full)
    });
  };
  const warning = (path, message, atKey = false) => {
    const full = [...root, ...path];
    out.issues.push({
      severity: "warning",
      path: full,
      message,
      position: atKey ? doc.locateKey(full) : doc.locate(full)
    });
  };
  if (value === null || value === void 0) return;
  if (typeof value !== "object" || Array.isArray(value)) {
    error([], "expected a Kubernetes object (a mapping with apiVersion, kind and metadata)");
    return;
  }
  const record = value;
  const apiVersion = record.apiVersion;
  const kind = record.kind;
  if (typeof apiVersion !== "string" || apiVersion === "") error(["apiVersion"], "apiVersion not set");
  if (typeof kind !== "string" || kind === "") error(["kind"], "kind not set");
  if (typeof apiVersion !== "string" || typeof kind !== "string" || apiVersion === "" || kind === "") return;
  if (kind === "List") {
    if (apiVersion !== "v1") error(["apiVersion"], `no matches for kind "List" in version "${apiVersion}"`);
    const items = record.items;
    if (!Array.isArray(items)) {
      error(["items"], "expected a list of objects");
      return;
    }
    items.forEach((item, index) => decodeOne(doc, [...root, "items", index], item, namespace, out, options));
    return;
  }
  if (!isKindName(kind)) {
    warning(["kind"], `kind ${kind} (${apiVersion}) is not simulated; object skipped`);
    return;
  }
  const expected = KINDS[kind];
  if (apiVersion !== expected.apiVersion) {
    error(
      ["apiVersion"],
      `no matches for kind "${kind}" in version "${apiVersion}" (the simulator serves ${kind} at ${expected.apiVersion})`
    );
    return;
  }
  const strict = decodeAll(expected.schema, value, true);
  let decoded;
  if (strict.ok) {
    decoded = strict.value;
  } else {
    const others = strict.issues.filter((issue) => !issue.atKey);
    for (const issue of strict.issues) {
      if (!issue.atKey) continue;
      const field = issue.path[issue.path.length - 1];
      if (typeof field === "string" && IGNORED_FIELDS.has(field)) continue;
      const notModelled = typeof field === "string" ? NOT_MODELLED_FIELDS.get(field) : void 0;
      if (notModelled !== void 0) {
        if (notModelled.noEffect?.(valueAt(value, issue.path)) !== true)
          warning(issue.path, `${notModelled.message} (field ignored)`, true);
        continue;
      }
      warning(issue.path, `unknown field "${String(field)}" (ignored)`, true);
    }
    for (const issue of others) error(issue.path, issue.message);
    if (others.length > 0) return;
    const lenient = decodeAll(expected.schema, value, false);
    if (!lenient.ok) {
      for (const issue of lenient.issues) error(issue.path, issue.message);
      return;
    }
    decoded = lenient.value;
  }
  const object = structuredClone(decoded);
  const before = out.issues.length;
  validateObject(object, error, options);
  warnNotModelled(object, warning);
  applyNamespace(object, namespace, error);
  if (out.issues.slice(before).some((issue) => issue.severity === "error")) return;
  out.objects.push({ object, locate: (path) => doc.locate([...root, ...path]) });
}
var DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
var DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
var DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
var LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
function validateObject(object, error, options) {
  const name = object.metadata.name;
  if (object.kind === "Service") {
    if (!(DNS1035_LABEL.test(name) && name.length <= 63)) {
      error(
        ["metadata", "name"],
        `invalid value "${name}": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character`
      );
    }
  } else if (object.kind === "Namespace") {
    if (!(DNS1123_LABEL.test(name) && name.length <= 63))
      error(
        ["metadata", "name"],
        `invalid value "${name}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character`
      );
  } else if (!(DNS1123_SUBDOMAIN.test(name) && name.length <= 253)) {
    error(
      ["metadata", "name"],
      `invalid value "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`
    );
  }
  for (const [key, value] of Object.entries(object.metadata.labels ?? {})) {
    if (!(LABEL_VALUE.test(value) && value.length <= 63))
      error(
        ["metadata", "labels", key],
        `invalid label value "${value}": must be 63 characters or less and consist of alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric`
      );
  }
  if (object.kind === "Deployment" || object.kind === "ReplicaSet") {
    const selector = object.spec.selector;
    const labels = object.spec.template.metadata?.labels ?? {};
    if ((selector.matchLabels === void 0 || Object.keys(selector.matchLabels).length === 0) && (selector.matchExpressions ?? []).length === 0) {
      error(["spec", "selector"], "empty selector is invalid for deployment");
    } else if (!matchesSelector(selector, labels)) {
      error(["spec", "template", "metadata", "labels"], "`selector` does not match template `labels`");
    }
  }
  if (object.kind === "Service") {
    const spec = object.spec;
    const ports = spec.ports ?? [];
    const type = spec.type ?? "ClusterIP";
    if (type !== "ExternalName" && ports.length === 0) error(["spec", "ports"], "Required value");
    if (type === "ExternalName" && (spec.externalName ?? "") === "") error(["spec", "externalName"], "Required value");
    if (ports.length > 1) {
      const seen = /* @__PURE__ */ new Set();
      ports.forEach((port, index) => {
        if (port.name === void 0 || port.name === "")
          error(["spec", "ports", index, "name"], "Required value (every port of a multi-port Service needs a name)");
        else if (seen.has(port.name)) error(["spec", "ports", index, "name"], `Duplicate value: "${port.name}"`);
        else seen.add(port.name);
      });
    }
    const nodePortMin = options.nodePortRange?.min ?? 3e4;
    const nodePortMax = options.nodePortRange?.max ?? 32767;
    ports.forEach((port, index) => {
      if (port.nodePort !== void 0) {
        if (type === "ClusterIP")
          error(["spec", "ports", index, "nodePort"], "may not be used when `type` is 'ClusterIP'");
        else if (options.nodePortRange !== null && (port.nodePort < nodePortMin || port.nodePort > nodePortMax))
          error(
            ["spec", "ports", index, "nodePort"],
            `Invalid value: ${port.nodePort}: provided port is not in the valid range. The range of valid ports is ${nodePortMin}-${nodePortMax}`
          );
      }
    });
    if (spec.clusterIP === "None" && (type === "NodePort" || type === "LoadBalancer")) {
      error(["spec", "clusterIP"], `Invalid value: "None": may not be set to 'None' for ${type} services`);
    }
    if (spec.externalTrafficPolicy !== void 0 && type !== "NodePort" && type !== "LoadBalancer") {
      error(
        ["spec", "externalTrafficPolicy"],
        "may only be set for externally-accessible services (type NodePort or LoadBalancer)"
      );
    }
    if (spec.allocateLoadBalancerNodePorts !== void 0 && type !== "LoadBalancer") {
      error(["spec", "allocateLoadBalancerNodePorts"], "Forbidden: may only be used when `type` is 'LoadBalancer'");
    }
    if (!(spec.clusterIP === "None" && spec.selector === void 0) && type !== "ExternalName") {
      const notSimulated = " (the simulator models IPv4 single-stack clusters only)";
      if (spec.ipFamilyPolicy === "RequireDualStack")
        error(
          ["spec", "ipFamilyPolicy"],
          `Invalid value: "RequireDualStack": this cluster is not configured for dual-stack services${notSimulated}`
        );
      (spec.ipFamilies ?? []).forEach((family, index) => {
        if (family !== "IPv4")
          error(
            ["spec", "ipFamilies", index],
            `Invalid value: "${family}": not configured on this cluster${notSimulated}`
          );
      });
    }
  }
}
function warnNotModelled(object, warning) {
  if (object.kind === "Pod") warnPodSpec(object.spec, ["spec"], warning);
  else if (object.kind === "Deployment" || object.kind === "ReplicaSet")
    warnPodSpec(object.spec.template.spec, ["spec", "template", "spec"], warning);
  if (object.kind !== "Service") return;
  const spec = object.spec;
  if (spec.trafficDistribution === "PreferSameNode") {
    warning(
      ["spec", "trafficDistribution"],
      "PreferSameNode sets node and zone hints, but the simulated kube-proxy (v1.33, feature gate PreferSameTrafficDistribution off) uses the zone hints only: traffic prefers the zone, not the node"
    );
  }
  if (Object.hasOwn(object.metadata.labels ?? {}, LABEL_SERVICE_PROXY_NAME)) {
    warning(
      ["metadata", "labels", LABEL_SERVICE_PROXY_NAME],
      "kube-proxy ignores a Service with this label (as upstream), and the proxy it names is not simulated: the Service has no data plane"
    );
  }
  if (spec.loadBalancerClass !== void 0 && spec.type === "LoadBalancer") {
    warning(
      ["spec", "loadBalancerClass"],
      "loadBalancerClass is not modelled: the scenario's load balancer serves this Service as if it had the default class"
    );
  }
}
function warnPodSpec(spec, at, warning) {
  const policy = spec.dnsPolicy ?? "ClusterFirst";
  if (spec.dnsConfig !== void 0)
    warning(
      [...at, "dnsConfig"],
      "dnsConfig is read only with dns.mode packets: in dns.mode static names resolve with the cluster's default search list"
    );
  if (policy === "Default") {
    warning(
      [...at, "dnsPolicy"],
      `dnsPolicy Default uses the node's resolv.conf, which is not modelled: names resolve as with ClusterFirst (static table), where a real pod would not resolve cluster names`
    );
  } else if (policy === "None") {
    warning(
      [...at, "dnsPolicy"],
      `dnsPolicy None is modelled only with dns.mode packets (resolv.conf from dnsConfig alone): in dns.mode static names resolve as with ClusterFirst`
    );
  } else if (policy === "ClusterFirst" && spec.hostNetwork === true) {
    warning(
      [...at, spec.dnsPolicy === void 0 ? "hostNetwork" : "dnsPolicy"],
      "a hostNetwork pod with dnsPolicy ClusterFirst uses the node's resolv.conf (kubelet falls back to Default; ClusterFirstWithHostNet keeps cluster DNS): the node's resolver is not modelled, names resolve as with cluster DNS (static table)"
    );
  }
  spec.containers.forEach((container, c) => {
    ;
    (container.ports ?? []).forEach((port, p) => {
      if (port.hostPort !== void 0 && spec.hostNetwork !== true) {
        warning(
          [...at, "containers", c, "ports", p, "hostPort"],
          "hostPort is not modelled (CNI portmap): the port is not opened on the node's address"
        );
      }
    });
  });
}
function valueAt(root, path) {
  let current = root;
  for (const key of path) {
    if (current === null || typeof current !== "object") return void 0;
    current = current[key];
  }
  return current;
}
function applyNamespace(object, namespace, error) {
  if (object.kind === "Namespace") {
    delete object.metadata.namespace;
    return;
  }
  const own = object.metadata.namespace;
  if (own !== void 0 && namespace !== void 0 && own !== namespace) {
    error(
      ["metadata", "namespace"],
      `the namespace from the provided object "${own}" does not match the namespace "${namespace}" of the manifest entry`
    );
    return;
  }
  object.metadata.namespace = own ?? namespace ?? "default";
}
function isBuiltinNamespace(name) {
  return BUILTIN_NAMESPACES.has(name);
}

// src/scenario/schema.ts
import { Schema as Schema3 } from "effect";
var opt2 = Schema3.optionalKey;
var Name = Schema3.String.check(
  Schema3.makeFilter(
    (text) => /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(text) && text.length <= 253 ? void 0 : `invalid name "${text}": lowercase letters, digits, "-" and ".", starting and ending with a letter or digit`
  )
);
var InstanceType = Schema3.String.check(
  Schema3.makeFilter(
    (text) => INSTANCE_TYPES[text] !== void 0 ? void 0 : `unknown instance type "${text}" (known: ${Object.keys(INSTANCE_TYPES).join(", ")}); set maxPods instead`
  )
);
var NodeConntrack = Schema3.Struct({
  /** Fixes of the UDP clash race at confirm time the kernel has (dns.md §4.1). */
  raceFix: opt2(Schema3.Literals(RACE_FIXES)),
  /** Share of same-flow UDP packets in the race window processed concurrently (0..1 or "N%"). */
  raceProbability: opt2(LossValue)
});
var NodeEntry = Schema3.Struct({
  name: Name,
  zone: opt2(Schema3.String),
  labels: opt2(Schema3.Record(Schema3.String, Schema3.String)),
  ip: opt2(Ipv4String),
  /** kubelet maxPods of this node. */
  maxPods: opt2(PositiveInt),
  instanceType: opt2(InstanceType),
  /** CPUs of this node (kube-proxy sizes nf_conntrack_max by them). */
  cpus: opt2(PositiveInt),
  conntrack: opt2(NodeConntrack)
});
var NodeCount = Schema3.Struct({
  /** At most limits.nodes (default 5,000, Kubernetes' own scalability threshold). */
  count: PositiveInt,
  zones: opt2(Schema3.Array(Schema3.String))
});
var Nodes = Schema3.Union([Schema3.Array(NodeEntry), NodeCount]);
var Network2 = Schema3.Struct({
  sameNodeLatency: opt2(DurationString),
  crossNodeLatency: opt2(DurationString),
  crossZoneLatency: opt2(DurationString),
  externalLatency: opt2(DurationString),
  bandwidth: opt2(BandwidthString),
  mtu: opt2(
    Schema3.Number.check(
      Schema3.isInt({ message: "expected an integer" }),
      Schema3.isBetween({ minimum: 576, maximum: 65535 }, { message: "must be between 576 and 65535" })
    )
  ),
  loss: opt2(LossValue),
  queue: opt2(PositiveInt)
});
var Cluster = Schema3.Struct({
  nodes: opt2(Nodes),
  cni: opt2(Schema3.Literals(["bridge", "aws-vpc"])),
  podCIDR: opt2(CidrString),
  serviceCIDR: opt2(CidrString),
  nodeCIDR: opt2(CidrString),
  clusterDomain: opt2(Schema3.String),
  network: opt2(Network2),
  /** kube-apiserver --service-node-port-range: "MIN-MAX", "BASE+OFFSET" or "PORT". */
  serviceNodePortRange: opt2(
    Schema3.String.check(
      Schema3.makeFilter(
        (text) => parsePortRange(text) !== void 0 ? void 0 : `invalid port range "${text}": expected MIN-MAX with ports between 1 and 65535, e.g. 30000-32767`
      )
    )
  ),
  /** Create the default/kubernetes and kube-system/kube-dns Services. */
  systemServices: opt2(Schema3.Boolean),
  /** kubelet maxPods of every node (a node's own maxPods wins). */
  maxPods: opt2(PositiveInt),
  /** Instance type of every node (a node's own instanceType wins). */
  instanceType: opt2(InstanceType),
  /** CPUs of every node (a node's own cpus wins). */
  cpus: opt2(PositiveInt),
  /** Kernel conntrack behaviour of every node (a node's own conntrack fields win). */
  conntrack: opt2(NodeConntrack),
  /** kube-controller-manager's API client: --kube-api-qps, --kube-api-burst. */
  controllerManager: opt2(Schema3.Struct({ kubeApiQps: opt2(PositiveInt), kubeApiBurst: opt2(PositiveInt) }))
});
var Conntrack2 = Schema3.Struct({
  max: opt2(PositiveInt),
  maxPerCore: opt2(NonNegativeInt),
  min: opt2(NonNegativeInt),
  tcpBeLiberal: opt2(Schema3.Boolean),
  tcpEstablishedTimeout: opt2(DurationString),
  tcpCloseWaitTimeout: opt2(DurationString),
  udpTimeout: opt2(DurationString),
  udpStreamTimeout: opt2(DurationString)
});
var ProxyModeName = Schema3.Literals(["iptables", "ipvs", "nftables", "userspace"]);
var Ipvs2 = Schema3.Struct({
  /** The kernel schedulers the simulator models (net/netfilter/ipvs/ip_vs_*.c). */
  scheduler: opt2(Schema3.Literals(["rr", "wrr", "lc", "wlc", "sh", "dh", "mh"])),
  strictARP: opt2(Schema3.Boolean),
  tcpTimeout: opt2(DurationString),
  tcpFinTimeout: opt2(DurationString),
  udpTimeout: opt2(DurationString),
  excludeCIDRs: opt2(Schema3.Array(CidrString)),
  /** Simulated duration of a sync in IPVS mode (proxy/sync-cost.ts IpvsSyncCost). */
  syncCost: opt2(
    Schema3.Struct({ fixed: opt2(DurationString), perOperation: opt2(DurationString), perObject: opt2(DurationString) })
  )
});
var KubeProxy = Schema3.Struct({
  mode: opt2(ProxyModeName),
  syncPeriod: opt2(DurationString),
  minSyncPeriod: opt2(DurationString),
  masqueradeAll: opt2(Schema3.Boolean),
  masqueradeBit: opt2(
    Schema3.Number.check(
      Schema3.isInt({ message: "expected an integer" }),
      Schema3.isBetween({ minimum: 0, maximum: 31 }, { message: "must be between 0 and 31" })
    )
  ),
  clusterCIDR: opt2(CidrString),
  localhostNodePorts: opt2(Schema3.Boolean),
  nfacct: opt2(Schema3.Boolean),
  randomFully: opt2(Schema3.Boolean),
  /** --nodeport-addresses: CIDRs, or [primary]. */
  nodePortAddresses: opt2(Schema3.Array(Schema3.String)),
  ruleCost: opt2(DurationString),
  /** Simulated duration of a sync, per mode (only iptables is simulated so far). */
  syncCost: opt2(
    Schema3.Struct({
      iptables: opt2(
        Schema3.Struct({ fixed: opt2(DurationString), perRule: opt2(DurationString), perLine: opt2(DurationString) })
      ),
      nftables: opt2(
        Schema3.Struct({
          fixed: opt2(DurationString),
          perCommand: opt2(DurationString),
          perObject: opt2(DurationString)
        })
      )
    })
  ),
  /** nftables mode: per-expression packet cost and the full-sync period. */
  nftables: opt2(
    Schema3.Struct({
      expressionCost: opt2(DurationString),
      lookupCost: opt2(DurationString),
      fullSyncPeriod: opt2(DurationString)
    })
  ),
  conntrack: opt2(Conntrack2),
  /** userspace mode (kube-proxy <= v1.25): proxy ports and the cost of copying through user space. */
  userspace: opt2(
    Schema3.Struct({
      proxyPortRange: opt2(Schema3.String),
      udpIdleTimeout: opt2(DurationString),
      connectCost: opt2(DurationString),
      copyCost: opt2(Schema3.Struct({ perMessage: opt2(DurationString), perKiB: opt2(DurationString) }))
    })
  ),
  /** KubeProxyIPVSConfiguration (mode ipvs). */
  ipvs: opt2(Ipvs2)
});
var Dns = Schema3.Struct({
  /** How workloads resolve names: `static` table (no packets) or `packets` (stub resolvers + CoreDNS pods). */
  mode: opt2(Schema3.Literals(["static", "packets"])),
  nodeLocal: opt2(Schema3.Struct({ enabled: opt2(Schema3.Boolean), address: opt2(Ipv4String) })),
  /** kubelet's --cluster-dns (the pods' `nameserver`); absent: the kube-dns Service's ClusterIP. */
  clusterDNS: opt2(Ipv4String)
});
var LoadBalancer = Schema3.Struct({
  pool: opt2(
    Schema3.Array(
      Schema3.String.check(
        Schema3.makeFilter((text) => {
          if (parsePoolRange(text) !== void 0) return void 0;
          const dash = text.indexOf("-");
          const parts = dash < 0 ? [text.trim()] : [text.slice(0, dash).trim(), text.slice(dash + 1).trim()];
          if (parts.some(isIpv62)) return ipv6NotModelled(text, "pool entry");
          if (dash >= 0) {
            for (const part of parts) {
              const bound = parseAddress2(part, "range bound");
              if (!bound.ok) return `invalid pool entry "${text}": ${bound.message}`;
            }
            return `invalid pool entry "${text}": expected a range FIRST-LAST of IPv4 addresses with FIRST <= LAST (192.168.1.240-192.168.1.250)`;
          }
          if (text.includes("/")) {
            const prefix2 = parsePrefix(text.trim(), "pool entry");
            if (!prefix2.ok) return prefix2.message;
          }
          return `invalid pool entry "${text}": expected a CIDR (192.168.1.240/28) or a range (192.168.1.240-192.168.1.250)`;
        })
      )
    )
  ),
  /** cloud: edge load balancer to NodePorts (default); l2: MetalLB layer-2 speaker election. */
  mode: opt2(Schema3.Literals(["cloud", "l2"])),
  /** Cloud health check of healthCheckNodePort (GCE provider defaults). */
  healthCheck: opt2(
    Schema3.Struct({
      interval: opt2(DurationString),
      timeout: opt2(DurationString),
      healthyThreshold: opt2(PositiveInt),
      unhealthyThreshold: opt2(PositiveInt)
    })
  )
});
var Server2 = Schema3.Struct({
  serviceTime: opt2(Schema3.Union([DurationString, Schema3.Struct({ exponential: DurationString })]))
});
var ExternalHost2 = Schema3.Struct({
  name: Name,
  ip: Ipv4String,
  httpPorts: opt2(Schema3.Array(Port))
});
var ManifestSource = Schema3.Struct({
  path: opt2(Schema3.String),
  inline: opt2(Schema3.Unknown),
  /** Namespace for objects that name none, like `kubectl apply -n NAMESPACE`. */
  namespace: opt2(Schema3.String)
}).check(exactlyOneOf(["path", "inline"]));
var Arrival = Schema3.Struct({
  poisson: opt2(RateString),
  every: opt2(DurationString),
  closedLoop: opt2(PositiveInt)
}).check(exactlyOneOf(["poisson", "every", "closedLoop"]));
var Workload = Schema3.Struct({
  name: Name,
  from: Schema3.String,
  namespace: opt2(Schema3.String),
  to: Schema3.String,
  arrival: opt2(Arrival),
  count: opt2(PositiveInt),
  /** A time (`start: 2s`), or `{ at: 0s, waitFor: none }` to skip the wait for the target. */
  start: opt2(
    Schema3.Union([
      DurationString,
      Schema3.Struct({ at: opt2(DurationString), waitFor: opt2(Schema3.Literals(["ready", "none"])) })
    ])
  ),
  duration: opt2(DurationString),
  connection: opt2(Schema3.Literals(["new", "keepAlive"])),
  requestBytes: opt2(BytesValue),
  responseBytes: opt2(BytesValue),
  timeout: opt2(DurationString)
});
var TimelineStep = Schema3.Struct({
  at: DurationString,
  scale: opt2(Schema3.String),
  replicas: opt2(NonNegativeInt),
  delete: opt2(Schema3.String),
  apply: opt2(ManifestSource),
  namespace: opt2(Schema3.String),
  /** kube-proxy's next `count` (default 1) iptables-restore runs on `node` fail. */
  failRestore: opt2(Schema3.Struct({ node: Schema3.String, count: opt2(PositiveInt) })),
  /**
   * The node-local-dns pod on `node` (absent: every node): `stop` = SIGTERM (node-cache tears its
   * rules and interface down), `crash` = killed without teardown, `start` = the pod runs again.
   */
  nodeLocalDns: opt2(Schema3.Struct({ node: opt2(Schema3.String), event: Schema3.Literals(["stop", "crash", "start"]) }))
}).check(exactlyOneOf(["scale", "delete", "apply", "failRestore", "nodeLocalDns"]));
var Expectation = Schema3.Struct({
  workload: Schema3.String,
  /** Only for runs in these kube-proxy modes (absent: every mode). */
  modes: opt2(Schema3.Array(ProxyModeName)),
  completedAtLeast: opt2(NonNegativeInt),
  failedAtMost: opt2(NonNegativeInt),
  sentAtLeast: opt2(NonNegativeInt),
  p50Below: opt2(DurationString),
  p99Below: opt2(DurationString),
  meanBelow: opt2(DurationString),
  maxBelow: opt2(DurationString),
  jainAtLeast: opt2(
    Schema3.Number.check(Schema3.isBetween({ minimum: 0, maximum: 1 }, { message: "must be between 0 and 1" }))
  ),
  endpointsAtLeast: opt2(NonNegativeInt),
  endpointsAtMost: opt2(NonNegativeInt),
  completedAtMost: opt2(NonNegativeInt),
  failedAtLeast: opt2(NonNegativeInt),
  /** A latency tail at least this long (e.g. DNS timeouts that must show). */
  p99AtLeast: opt2(DurationString),
  maxAtLeast: opt2(DurationString)
}).check(
  Schema3.makeFilter(
    (value) => Object.keys(value).filter((key) => key !== "modes").length > 1 ? void 0 : "expected at least one condition (completedAtLeast, completedAtMost, failedAtMost, failedAtLeast, sentAtLeast, p50Below, p99Below, meanBelow, maxBelow, jainAtLeast, endpointsAtLeast, endpointsAtMost, p99AtLeast, maxAtLeast)"
  )
);
var ScenarioFile = Schema3.Struct({
  apiVersion: Schema3.Literal("kube-netsim/v1"),
  kind: Schema3.Literal("Scenario"),
  metadata: Schema3.Struct({ name: Name, description: opt2(Schema3.String) }),
  seed: opt2(
    Schema3.Number.check(
      Schema3.isInt({ message: "expected an integer" }),
      Schema3.isBetween({ minimum: 0, maximum: 2 ** 32 - 1 }, { message: "must be between 0 and 4294967295" })
    )
  ),
  duration: opt2(DurationString),
  cluster: opt2(Cluster),
  kubeProxy: opt2(KubeProxy),
  dns: opt2(Dns),
  loadBalancer: opt2(LoadBalancer),
  server: opt2(Server2),
  externalHosts: opt2(Schema3.Array(ExternalHost2)),
  manifests: opt2(Schema3.Array(ManifestSource)),
  workloads: opt2(Schema3.Array(Workload)),
  timeline: opt2(Schema3.Array(TimelineStep)),
  expect: opt2(Schema3.Array(Expectation)),
  limits: opt2(
    Schema3.Struct({
      events: opt2(PositiveInt),
      nodes: opt2(PositiveInt),
      pods: opt2(PositiveInt),
      services: opt2(PositiveInt)
    })
  )
});

// src/scenario/source.ts
import { isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments } from "yaml";
function parseYamlFile(file, text) {
  const lineCounter = new LineCounter();
  const position = (offset) => {
    const p = lineCounter.linePos(offset);
    return { file, line: p.line, column: p.col };
  };
  const parsed = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true, merge: true });
  const docs = Array.isArray(parsed) ? parsed : [];
  const issues = [];
  const documents = [];
  for (const doc of docs) {
    for (const error of doc.errors) {
      issues.push({
        severity: "error",
        path: [],
        message: `YAML syntax error: ${firstLine(error.message)}`,
        position: position(error.pos[0])
      });
    }
    if (doc.errors.length > 0) continue;
    let value;
    try {
      value = doc.toJS({ maxAliasCount: 1e3 });
    } catch (error) {
      issues.push({
        severity: "error",
        path: [],
        message: `YAML error: ${error instanceof Error ? error.message : String(error)}`,
        position: position(doc.range[0])
      });
      continue;
    }
    const root = doc.contents;
    const docStart = doc.range[0];
    const nodeStart = (node, fallback) => {
      if (node !== null && typeof node === "object" && "range" in node) {
        const range = node.range;
        if (range !== void 0 && range !== null) return range[0];
      }
      return fallback;
    };
    const walk = (path, wantKey) => {
      let node = root;
      let offset = nodeStart(root, docStart);
      for (let i = 0; i < path.length; i++) {
        const segment = path[i];
        const last = i === path.length - 1;
        if (isMap(node)) {
          const pair = node.items.find(
            (item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment)
          );
          if (pair === void 0) return offset;
          const keyOffset = nodeStart(pair.key, offset);
          if (last && wantKey) return keyOffset;
          node = pair.value;
          offset = nodeStart(pair.value, keyOffset);
        } else if (isSeq(node) && typeof segment === "number") {
          const item = node.items[segment];
          if (item === void 0) return offset;
          node = item;
          offset = nodeStart(item, offset);
        } else {
          return offset;
        }
      }
      return offset;
    };
    documents.push({
      value,
      locate: (path) => position(walk(path, false)),
      locateKey: (path) => position(walk(path, true))
    });
  }
  return { file, documents, issues };
}
function firstLine(message) {
  const line = message.split("\n")[0];
  return line.replace(/ at line \d+, column \d+:?$/, "");
}

// src/scenario/load.ts
var readFileUtf8 = (path) => readFileSync(path, "utf8");
var DEFAULTS = {
  seed: 1,
  duration: "60s",
  nodeCount: 3,
  zone: "zone-a",
  cni: "bridge",
  podCIDR: "10.244.0.0/16",
  serviceCIDR: "10.96.0.0/12",
  nodeCIDR: "10.0.0.0/16",
  clusterDomain: "cluster.local",
  serviceNodePortRange: "30000-32767",
  systemServices: true,
  sameNodeLatency: "20us",
  crossNodeLatency: "250us",
  crossZoneLatency: "1ms",
  externalLatency: "5ms",
  bandwidth: "10Gbps",
  mtu: 1500,
  loss: 0,
  queue: 1e3,
  kubeProxyMode: "iptables",
  syncPeriod: "30s",
  minSyncPeriod: "1s",
  masqueradeAll: false,
  masqueradeBit: 14,
  localhostNodePorts: true,
  nfacct: false,
  randomFully: true,
  ruleCost: "50ns",
  // Measured on this project's machine (proxy/sync-cost.ts; MODEL.md "Sync cost").
  iptablesSyncFixed: `${DEFAULT_IPTABLES_SYNC_COST.fixedNs}ns`,
  iptablesSyncPerRule: `${DEFAULT_IPTABLES_SYNC_COST.perTableRuleNs}ns`,
  iptablesSyncPerLine: `${DEFAULT_IPTABLES_SYNC_COST.perInputLineNs}ns`,
  // userspace mode (proxy/userspace; MODEL.md "userspace mode").
  userspaceProxyPortRange: "",
  userspaceUdpIdleTimeout: "250ms",
  userspaceConnectCost: "20us",
  userspaceCopyPerMessage: "5us",
  userspaceCopyPerKiB: "250ns",
  // proxy/conntrack-sysctls.ts: kube-proxy's --conntrack-max-per-core / --conntrack-min defaults,
  // the kernel's own nf_conntrack_max, and the CPUs of a node (eksctl's default m5.large: 2 vCPUs).
  conntrackMaxPerCore: CONNTRACK_MAX_PER_CORE_DEFAULT,
  conntrackMin: CONNTRACK_MIN_DEFAULT,
  conntrackKernelMax: KERNEL_CONNTRACK_MAX_DEFAULT,
  conntrackTcpBeLiberal: false,
  nodeCpus: NODE_CPUS_DEFAULT,
  nftablesSyncFixed: `${DEFAULT_NFTABLES_SYNC_COST.fixedNs}ns`,
  nftablesSyncPerCommand: `${DEFAULT_NFTABLES_SYNC_COST.perCommandNs}ns`,
  nftablesSyncPerObject: `${DEFAULT_NFTABLES_SYNC_COST.perTableObjectNs}ns`,
  nftablesExpressionCost: `${DEFAULT_NFTABLES_MODE.expressionCostNs}ns`,
  nftablesLookupCost: `${DEFAULT_NFTABLES_MODE.lookupCostNs}ns`,
  nftablesFullSyncPeriod: `${DEFAULT_NFTABLES_MODE.fullSyncPeriodNs}ns`,
  // kube-proxy's ipvs defaults (pkg/proxy/apis/config/v1alpha1/defaults.go: scheduler "" = rr,
  // timeouts 0 = keep the kernel's) and the IPVS sync cost (proxy/sync-cost.ts).
  ipvsScheduler: "rr",
  ipvsStrictARP: false,
  ipvsTimeout: "0s",
  ipvsSyncFixed: `${DEFAULT_IPVS_SYNC_COST.fixedNs}ns`,
  ipvsSyncPerOperation: `${DEFAULT_IPVS_SYNC_COST.perNetlinkOperationNs}ns`,
  ipvsSyncPerObject: `${DEFAULT_IPVS_SYNC_COST.perObjectNs}ns`,
  tcpEstablishedTimeout: "24h",
  tcpCloseWaitTimeout: "1h",
  udpTimeout: "30s",
  udpStreamTimeout: "120s",
  nodeLocalAddress: "169.254.20.10",
  dnsMode: "packets",
  serviceTime: "100us",
  httpPort: 80,
  connection: "new",
  requestBytes: 100,
  responseBytes: 0,
  timeout: "5s",
  namespace: "default",
  eventCountMax: 1e8,
  /** Kubernetes' scalability thresholds (kubernetes/community sig-scalability thresholds.md). */
  nodesMax: 5e3,
  podsMax: 15e4,
  servicesMax: 1e4
};
function loadScenario(file, readFile = readFileUtf8) {
  let text;
  try {
    text = readFile(file);
  } catch (error) {
    return {
      ok: false,
      issues: [
        { severity: "error", path: [], message: `cannot read scenario file ${file}: ${readErrorMessage(error)}` }
      ]
    };
  }
  return decodeScenarioText(file, text, readFile);
}
function readErrorMessage(error) {
  const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : "";
  if (code === "ENOENT") return "no such file";
  if (code === "EISDIR") return "is a directory";
  if (code === "EACCES") return "permission denied";
  return error instanceof Error ? error.message : String(error);
}
function decodeScenarioText(file, text, readFile = readFileUtf8) {
  const yaml = parseYamlFile(file, text);
  if (yaml.issues.length > 0) return { ok: false, issues: sortIssues(yaml.issues) };
  const first = yaml.documents[0];
  if (first === void 0 || first.value === null || first.value === void 0) {
    return {
      ok: false,
      issues: [
        {
          severity: "error",
          path: [],
          message: "empty scenario file: expected apiVersion: kube-netsim/v1, kind: Scenario",
          position: { file, line: 1, column: 1 }
        }
      ]
    };
  }
  const issues = [];
  const doc = first;
  if (yaml.documents.length > 1) {
    issues.push({
      severity: "error",
      path: [],
      message: "a scenario file holds one YAML document (put Kubernetes manifests under manifests:)",
      position: yaml.documents[1].locate([])
    });
  }
  const context = new Context(file, doc, readFile, issues);
  const decoded = decodeAll(ScenarioFile, doc.value, true);
  if (!decoded.ok) {
    for (const issue of decoded.issues) context.error(issue.path, issue.message, issue.atKey);
    const raw = doc.value;
    if (typeof raw === "object" && raw !== null) context.manifestOptionsFromRaw(raw);
    if (typeof raw === "object" && raw !== null && "manifests" in raw && Array.isArray(raw.manifests)) {
      raw.manifests.forEach((entry, index) => {
        if (typeof entry === "object" && entry !== null && ("path" in entry || "inline" in entry))
          context.tryManifestSource(entry, ["manifests", index]);
      });
    }
    return { ok: false, issues: sortIssues(issues) };
  }
  const spec = context.build(decoded.value);
  if (hasErrors(issues) || spec === void 0) return { ok: false, issues: sortIssues(issues) };
  return {
    ok: true,
    scenario: {
      spec: spec.spec,
      expectations: spec.expectations,
      warnings: sortIssues(issues),
      locate: (path) => doc.locate(path)
    }
  };
}
var DURATION = (text) => mustParse(parseDurationNs(text));
function nodeConntrack(c) {
  return {
    ...c.raceFix !== void 0 ? { raceFix: c.raceFix } : {},
    ...c.raceProbability !== void 0 ? { racePpm: mustParse(parseLossPpm(c.raceProbability)) } : {}
  };
}
function nodePortBounds(text) {
  const range = parsePortRange(text);
  return range === void 0 ? null : { min: range.base, max: range.base + range.size - 1 };
}
var Context = class {
  constructor(file, doc, readFile, issues) {
    this.file = file;
    this.doc = doc;
    this.readFile = readFile;
    this.issues = issues;
  }
  file;
  doc;
  readFile;
  issues;
  manifestFiles = /* @__PURE__ */ new Map();
  /** API-server settings manifest validation uses (set from cluster: before manifests decode). */
  manifestOptions = {};
  error(path, message, atKey = false) {
    this.issues.push({
      severity: "error",
      path,
      message,
      position: atKey ? this.doc.locateKey(path) : this.doc.locate(path)
    });
  }
  warning(path, message) {
    this.issues.push({ severity: "warning", path, message, position: this.doc.locate(path) });
  }
  /** dns.mode (packets: cluster/dns-runtime.ts adds CoreDNS, and kube-dns when systemServices is off). */
  dnsMode(file) {
    return file.dns?.mode ?? DEFAULTS.dnsMode;
  }
  /**
   * dns.nodeLocal: node-cache binds its listen address on every node, so it must not be an address
   * the cluster already routes (node, pod and Service ranges, external hosts, explicit node IPs,
   * loopback); its cluster-zone upstream is a Service beside kube-dns, so the system Services must exist.
   */
  /**
   * dns.clusterDNS (kubelet --cluster-dns): a pod's nameserver must be something that answers: an
   * address of the Service range (the kube-dns VIP or another Service) or the NodeLocal DNSCache
   * address when the cache runs (kubespray's layout).
   */
  clusterDns(file, nodeLocal) {
    const text = file.dns?.clusterDNS;
    if (text === void 0) return null;
    const ip = parseIpv4(text);
    if (ip === void 0) return null;
    if (nodeLocal.enabled && text === nodeLocal.address) return text;
    const serviceCIDR = file.cluster?.serviceCIDR ?? DEFAULTS.serviceCIDR;
    const cidr2 = parseCidr(serviceCIDR);
    if (cidr2 !== void 0 && !cidrContains(cidr2, ip))
      this.error(
        ["dns", "clusterDNS"],
        `${text} is outside cluster.serviceCIDR ${serviceCIDR} and is not the NodeLocal DNSCache address${nodeLocal.enabled ? ` (${nodeLocal.address})` : " (dns.nodeLocal.enabled is false)"}`
      );
    return text;
  }
  nodeLocal(file) {
    const enabled = file.dns?.nodeLocal?.enabled ?? false;
    const address = file.dns?.nodeLocal?.address ?? DEFAULTS.nodeLocalAddress;
    if (!enabled) return { enabled, address };
    const ip = parseIpv4(address);
    if (ip === void 0) return { enabled, address };
    const path = file.dns?.nodeLocal?.address === void 0 ? ["dns", "nodeLocal", "enabled"] : ["dns", "nodeLocal", "address"];
    const c = file.cluster;
    const ranges = [
      ["cluster.nodeCIDR", c?.nodeCIDR ?? DEFAULTS.nodeCIDR],
      ["cluster.podCIDR", c?.podCIDR ?? DEFAULTS.podCIDR],
      ["cluster.serviceCIDR", c?.serviceCIDR ?? DEFAULTS.serviceCIDR],
      ["loopback", "127.0.0.0/8"]
    ];
    for (const [field, text] of ranges) {
      const cidr2 = parseCidr(text);
      if (cidr2 !== void 0 && cidrContains(cidr2, ip))
        this.error(
          path,
          `the NodeLocal DNSCache address ${address} is inside ${field} ${text}; use an unused link-local address such as 169.254.20.10`
        );
    }
    for (const host of file.externalHosts ?? []) {
      if (host.ip === address)
        this.error(path, `the NodeLocal DNSCache address ${address} is external host ${host.name}'s address`);
    }
    const nodes = c?.nodes;
    if (nodes !== void 0 && Array.isArray(nodes)) {
      for (const node of nodes) {
        if (node.ip === address)
          this.error(path, `the NodeLocal DNSCache address ${address} is node ${node.name}'s address`);
      }
    }
    if (c?.systemServices === false)
      this.error(
        ["dns", "nodeLocal", "enabled"],
        "NodeLocal DNSCache forwards to kube-dns's pods: it needs cluster.systemServices (the kube-dns Service)"
      );
    return { enabled, address };
  }
  /** loadBalancer: pool, mode and health check (absent fields: lb/loadbalancer.ts defaults). */
  loadBalancer(file) {
    const lb = file.loadBalancer;
    const hc = lb?.healthCheck;
    return {
      pool: [...lb?.pool ?? []],
      ...lb?.mode !== void 0 ? { mode: lb.mode } : {},
      ...hc !== void 0 ? {
        healthCheck: {
          ...hc.interval !== void 0 ? { intervalNs: DURATION(hc.interval) } : {},
          ...hc.timeout !== void 0 ? { timeoutNs: DURATION(hc.timeout) } : {},
          ...hc.healthyThreshold !== void 0 ? { healthyThreshold: hc.healthyThreshold } : {},
          ...hc.unhealthyThreshold !== void 0 ? { unhealthyThreshold: hc.unhealthyThreshold } : {}
        }
      } : {}
    };
  }
  build(file) {
    const cluster = this.cluster(file);
    const kubeProxy = this.kubeProxy(file);
    const manifests = [];
    (file.manifests ?? []).forEach(
      (entry, index) => manifests.push(...this.manifestSource(entry, ["manifests", index]))
    );
    const externalHosts = (file.externalHosts ?? []).map((host) => ({
      name: host.name,
      ip: host.ip,
      httpPorts: [...host.httpPorts ?? []]
    }));
    const timeline = (file.timeline ?? []).map((step, index) => this.timelineStep(step, index));
    const allObjects = [
      ...manifests,
      ...timeline.flatMap((step) => step.action.kind === "apply" ? step.action.objects : [])
    ];
    const workloads = (file.workloads ?? []).map((workload, index) => this.workload(workload, index));
    const durationNs = DURATION(file.duration ?? DEFAULTS.duration);
    this.checkUnique(
      cluster.nodes.map((node) => node.name),
      (index) => ["cluster", "nodes", index, "name"],
      "node"
    );
    this.checkUnique(
      workloads.map((w) => w.name),
      (index) => ["workloads", index, "name"],
      "workload"
    );
    this.checkUnique(
      externalHosts.map((h) => h.name),
      (index) => ["externalHosts", index, "name"],
      "external host"
    );
    this.checkReferences(
      workloads,
      timeline,
      allObjects,
      cluster,
      externalHosts.map((h) => h.name),
      durationNs
    );
    if (!(file.dns?.nodeLocal?.enabled ?? false))
      timeline.forEach((step, index) => {
        if (step.action.kind === "nodeLocalDns")
          this.error(["timeline", index, "nodeLocalDns"], "NodeLocal DNSCache is not enabled (dns.nodeLocal.enabled)");
      });
    this.checkObjects(manifests, allObjects);
    const expectations = (file.expect ?? []).flatMap(
      (entry, index) => this.expectation(
        entry,
        index,
        workloads.map((w) => w.name)
      )
    );
    const serviceTime = file.server?.serviceTime;
    const server = serviceTime === void 0 || typeof serviceTime === "string" ? { serviceTimeNs: DURATION(serviceTime ?? DEFAULTS.serviceTime), serviceTimeDistribution: "fixed" } : { serviceTimeNs: DURATION(serviceTime.exponential), serviceTimeDistribution: "exponential" };
    const spec = {
      name: file.metadata.name,
      file: this.file,
      seed: file.seed ?? DEFAULTS.seed,
      durationNs,
      cluster,
      kubeProxy,
      dns: (() => {
        const nodeLocal = this.nodeLocal(file);
        return {
          mode: this.dnsMode(file),
          nodeLocalEnabled: nodeLocal.enabled,
          nodeLocalAddress: nodeLocal.address,
          clusterDNS: this.clusterDns(file, nodeLocal)
        };
      })(),
      loadBalancer: this.loadBalancer(file),
      server,
      externalHosts,
      manifests,
      workloads,
      timeline,
      limits: this.limits(file, allObjects)
    };
    return { spec, expectations };
  }
  /**
   * limits: Services are counted here, nodes in cluster() (before any node is generated); pods
   * are counted while the run goes (cluster/ stops it with an error at limits.pods).
   */
  limits(file, objects) {
    const l = file.limits ?? {};
    const nodesMax = l.nodes ?? DEFAULTS.nodesMax;
    const servicesMax = l.services ?? DEFAULTS.servicesMax;
    const where = (key, fallback) => l[key] !== void 0 ? ["limits", key] : fallback;
    const services = objects.filter((o) => o.object.kind === "Service").length;
    if (services > servicesMax) {
      this.error(
        where("services", ["manifests"]),
        `the scenario defines ${services} Services, more than limits.services (${servicesMax})`
      );
    }
    return {
      eventCountMax: l.events ?? DEFAULTS.eventCountMax,
      nodesMax,
      podsMax: l.pods ?? DEFAULTS.podsMax,
      servicesMax
    };
  }
  cluster(file) {
    const c = file.cluster ?? {};
    const n = c.network ?? {};
    const nodesRaw = c.nodes ?? { count: DEFAULTS.nodeCount };
    const nodesMax = file.limits?.nodes ?? DEFAULTS.nodesMax;
    const nodeCount = Array.isArray(nodesRaw) ? nodesRaw.length : nodesRaw.count;
    let nodes;
    if (nodeCount > nodesMax) {
      const path = file.limits?.nodes !== void 0 ? ["limits", "nodes"] : Array.isArray(nodesRaw) ? ["cluster", "nodes"] : ["cluster", "nodes", "count"];
      this.error(path, `the cluster has ${nodeCount} nodes, more than limits.nodes (${nodesMax})`);
      nodes = [];
    } else if (Array.isArray(nodesRaw)) {
      nodes = nodesRaw.map((node) => ({
        name: node.name,
        zone: node.zone ?? DEFAULTS.zone,
        labels: { ...node.labels ?? {} },
        ...node.ip !== void 0 ? { ip: node.ip } : {},
        ...node.maxPods !== void 0 ? { maxPods: node.maxPods } : {},
        ...node.cpus !== void 0 ? { cpus: node.cpus } : {},
        ...node.conntrack !== void 0 ? { conntrack: nodeConntrack(node.conntrack) } : {},
        ...(node.instanceType ?? c.instanceType) !== void 0 ? { instanceType: node.instanceType ?? c.instanceType } : {}
      }));
      if (nodes.length === 0) this.error(["cluster", "nodes"], "a cluster needs at least one node");
      const subnet = parseCidr(c.nodeCIDR ?? DEFAULTS.nodeCIDR);
      nodes.forEach((node, i) => {
        if (node.ip === void 0 || subnet === void 0) return;
        const address = parseIpv4(node.ip);
        if (address === void 0) this.error(["cluster", "nodes", i, "ip"], `${node.ip} is not an IPv4 address`);
        else if (!cidrContains(subnet, address))
          this.error(
            ["cluster", "nodes", i, "ip"],
            `${node.ip} is outside cluster.nodeCIDR ${c.nodeCIDR ?? DEFAULTS.nodeCIDR}`
          );
      });
    } else {
      const { count, zones } = nodesRaw;
      const zoneList = zones !== void 0 && zones.length > 0 ? zones : [DEFAULTS.zone];
      const instanceType = c.instanceType === void 0 ? {} : { instanceType: c.instanceType };
      nodes = Array.from({ length: count }, (_, i) => ({
        name: `node-${i + 1}`,
        zone: zoneList[i % zoneList.length],
        labels: {},
        ...instanceType
      }));
    }
    if ((c.cni ?? DEFAULTS.cni) !== "aws-vpc" && nodes.some((node) => node.instanceType !== void 0)) {
      this.warning(
        c.instanceType !== void 0 ? ["cluster", "instanceType"] : ["cluster", "nodes"],
        "instanceType sets a node's maxPods only with cni: aws-vpc (its ENI limit); with bridge maxPods stays 110 unless set"
      );
    }
    this.checkAddressRoom(c, nodes.length);
    const serviceNodePortRange = c.serviceNodePortRange ?? DEFAULTS.serviceNodePortRange;
    this.manifestOptions = { nodePortRange: nodePortBounds(serviceNodePortRange) };
    return {
      nodes,
      cni: c.cni ?? DEFAULTS.cni,
      podCIDR: c.podCIDR ?? DEFAULTS.podCIDR,
      serviceCIDR: c.serviceCIDR ?? DEFAULTS.serviceCIDR,
      nodeCIDR: c.nodeCIDR ?? DEFAULTS.nodeCIDR,
      clusterDomain: c.clusterDomain ?? DEFAULTS.clusterDomain,
      serviceNodePortRange,
      systemServices: c.systemServices ?? DEFAULTS.systemServices,
      ...c.maxPods !== void 0 ? { maxPods: c.maxPods } : {},
      ...c.cpus !== void 0 ? { cpus: c.cpus } : {},
      ...c.conntrack !== void 0 ? { conntrack: nodeConntrack(c.conntrack) } : {},
      ...c.controllerManager !== void 0 ? { controllerManager: { ...c.controllerManager } } : {},
      network: {
        sameNodeLatencyNs: DURATION(n.sameNodeLatency ?? DEFAULTS.sameNodeLatency),
        crossNodeLatencyNs: DURATION(n.crossNodeLatency ?? DEFAULTS.crossNodeLatency),
        crossZoneLatencyNs: DURATION(n.crossZoneLatency ?? DEFAULTS.crossZoneLatency),
        externalLatencyNs: DURATION(n.externalLatency ?? DEFAULTS.externalLatency),
        bandwidthBitsPerSecond: mustParse(parseBandwidthBps(n.bandwidth ?? DEFAULTS.bandwidth)),
        mtuBytes: n.mtu ?? DEFAULTS.mtu,
        lossPartsPerMillion: mustParse(parseLossPpm(n.loss ?? DEFAULTS.loss)),
        queuePacketsMax: n.queue ?? DEFAULTS.queue
      }
    };
  }
  /**
   * Every node gets an address and (bridge) a pod subnet, as a cluster whose nodes all joined:
   * - bridge: kube-controller-manager's node IPAM cuts podCIDR into /24 blocks
   *   (--node-cidr-mask-size); it refuses to start with a cluster CIDR narrower than that, and a node
   *   left without a block never gets a working pod network (CIDRNotAvailable);
   * - nodeCIDR: bridge nodes take .2 up to broadcast-1 (.1 is the gateway); aws-vpc nodes take
   *   network+4 up to broadcast-1 (AWS reserves the others).
   */
  checkAddressRoom(c, nodeCount) {
    const cni = c.cni ?? DEFAULTS.cni;
    const podCidr = parseCidr(c.podCIDR ?? DEFAULTS.podCIDR);
    if (cni === "bridge" && podCidr !== void 0) {
      const text = c.podCIDR ?? DEFAULTS.podCIDR;
      if (podCidr.prefixLength > NODE_CIDR_MASK_SIZE_DEFAULT) {
        this.error(
          ["cluster", "podCIDR"],
          `${text} is narrower than the /${NODE_CIDR_MASK_SIZE_DEFAULT} pod subnet each node gets (kube-controller-manager --node-cidr-mask-size); use a /${NODE_CIDR_MASK_SIZE_DEFAULT} or wider`
        );
      } else {
        const blocks = 2 ** (NODE_CIDR_MASK_SIZE_DEFAULT - podCidr.prefixLength);
        if (blocks < nodeCount)
          this.error(
            ["cluster", "podCIDR"],
            `${text} has room for ${blocks} node pod subnet${blocks === 1 ? "" : "s"} (/${NODE_CIDR_MASK_SIZE_DEFAULT}) but the cluster has ${nodeCount} nodes`
          );
      }
    }
    const nodeCidr = parseCidr(c.nodeCIDR ?? DEFAULTS.nodeCIDR);
    if (nodeCidr !== void 0) {
      const size = 2 ** (32 - nodeCidr.prefixLength);
      const room = Math.max(0, cni === "aws-vpc" ? size - 5 : size - 3);
      if (room < nodeCount)
        this.error(
          ["cluster", "nodeCIDR"],
          `${c.nodeCIDR ?? DEFAULTS.nodeCIDR} has room for ${room} node address${room === 1 ? "" : "es"} (${cni === "aws-vpc" ? "AWS reserves 5 per subnet" : ".1 is the gateway"}) but the cluster has ${nodeCount} nodes`
        );
    }
  }
  kubeProxy(file) {
    const k = file.kubeProxy ?? {};
    const ct = k.conntrack ?? {};
    const syncPeriodNs = DURATION(k.syncPeriod ?? DEFAULTS.syncPeriod);
    const minSyncPeriodNs = DURATION(k.minSyncPeriod ?? DEFAULTS.minSyncPeriod);
    if (syncPeriodNs === 0) this.error(["kubeProxy", "syncPeriod"], "must be greater than 0");
    if (minSyncPeriodNs > syncPeriodNs)
      this.error(["kubeProxy", "minSyncPeriod"], "must be less than or equal to syncPeriod");
    if (k.nftables?.fullSyncPeriod !== void 0 && DURATION(k.nftables.fullSyncPeriod) === 0)
      this.error(["kubeProxy", "nftables", "fullSyncPeriod"], "must be greater than 0");
    if (k.mode !== void 0 && PROXY_BACKENDS[k.mode] === void 0)
      this.error(
        ["kubeProxy", "mode"],
        `kube-proxy mode ${k.mode} is not simulated yet (simulated: ${simulatedProxyModes().join(", ")})`
      );
    if (ct.max !== void 0 && ct.maxPerCore !== void 0 && ct.maxPerCore > 0)
      this.error(
        ["kubeProxy", "conntrack", "maxPerCore"],
        "max and maxPerCore are mutually exclusive (as kube-proxy's --conntrack-max and --conntrack-max-per-core were); set maxPerCore: 0 to keep max"
      );
    const cpusMax = Math.max(
      file.cluster?.cpus ?? DEFAULTS.nodeCpus,
      ...Array.isArray(file.cluster?.nodes) ? file.cluster.nodes.map((n) => n.cpus ?? 0) : []
    );
    const INT_MAX = 2 ** 31 - 1;
    if ((ct.maxPerCore ?? 0) * cpusMax > INT_MAX)
      this.error(
        ["kubeProxy", "conntrack", "maxPerCore"],
        `maxPerCore x ${cpusMax} CPUs exceeds nf_conntrack_max's limit ${INT_MAX}`
      );
    for (const field of ["max", "min"])
      if ((ct[field] ?? 0) > INT_MAX)
        this.error(["kubeProxy", "conntrack", field], `exceeds nf_conntrack_max's limit ${INT_MAX}`);
    if (k.nodePortAddresses !== void 0)
      for (const issue of validateNodePortAddresses(k.nodePortAddresses))
        this.error(
          ["kubeProxy", "nodePortAddresses", issue.index],
          `${JSON.stringify(k.nodePortAddresses[issue.index])}: ${issue.message} (e.g. 10.0.0.0/16, or primary alone)`
        );
    return {
      mode: k.mode ?? DEFAULTS.kubeProxyMode,
      nodePortAddresses: k.nodePortAddresses === void 0 ? null : [...k.nodePortAddresses],
      syncPeriodNs,
      minSyncPeriodNs,
      masqueradeAll: k.masqueradeAll ?? DEFAULTS.masqueradeAll,
      masqueradeBit: k.masqueradeBit ?? DEFAULTS.masqueradeBit,
      // kube-proxy's local-traffic detector (--cluster-cidr): the pod network. With aws-vpc,
      // pods take addresses from the VPC subnet, so the detector is the VPC CIDR (as EKS sets it).
      clusterCIDR: k.clusterCIDR ?? (file.cluster?.cni === "aws-vpc" ? file.cluster?.nodeCIDR ?? DEFAULTS.nodeCIDR : file.cluster?.podCIDR ?? DEFAULTS.podCIDR),
      localhostNodePorts: k.localhostNodePorts ?? DEFAULTS.localhostNodePorts,
      nfacct: k.nfacct ?? DEFAULTS.nfacct,
      randomFully: k.randomFully ?? DEFAULTS.randomFully,
      ruleCostNs: DURATION(k.ruleCost ?? DEFAULTS.ruleCost),
      syncCost: {
        iptables: {
          fixedNs: DURATION(k.syncCost?.iptables?.fixed ?? DEFAULTS.iptablesSyncFixed),
          perTableRuleNs: DURATION(k.syncCost?.iptables?.perRule ?? DEFAULTS.iptablesSyncPerRule),
          perInputLineNs: DURATION(k.syncCost?.iptables?.perLine ?? DEFAULTS.iptablesSyncPerLine)
        },
        nftables: {
          fixedNs: DURATION(k.syncCost?.nftables?.fixed ?? DEFAULTS.nftablesSyncFixed),
          perCommandNs: DURATION(k.syncCost?.nftables?.perCommand ?? DEFAULTS.nftablesSyncPerCommand),
          perTableObjectNs: DURATION(k.syncCost?.nftables?.perObject ?? DEFAULTS.nftablesSyncPerObject)
        }
      },
      nftables: {
        expressionCostNs: DURATION(k.nftables?.expressionCost ?? DEFAULTS.nftablesExpressionCost),
        lookupCostNs: DURATION(k.nftables?.lookupCost ?? DEFAULTS.nftablesLookupCost),
        fullSyncPeriodNs: DURATION(k.nftables?.fullSyncPeriod ?? DEFAULTS.nftablesFullSyncPeriod)
      },
      conntrack: {
        max: ct.max ?? DEFAULTS.conntrackKernelMax,
        // An absolute max given alone keeps its value: kube-proxy then leaves nf_conntrack_max.
        maxPerCore: ct.maxPerCore ?? (ct.max !== void 0 ? 0 : DEFAULTS.conntrackMaxPerCore),
        min: ct.min ?? DEFAULTS.conntrackMin,
        tcpBeLiberal: ct.tcpBeLiberal ?? DEFAULTS.conntrackTcpBeLiberal,
        tcpEstablishedTimeoutNs: DURATION(ct.tcpEstablishedTimeout ?? DEFAULTS.tcpEstablishedTimeout),
        tcpCloseWaitTimeoutNs: DURATION(ct.tcpCloseWaitTimeout ?? DEFAULTS.tcpCloseWaitTimeout),
        udpTimeoutNs: DURATION(ct.udpTimeout ?? DEFAULTS.udpTimeout),
        udpStreamTimeoutNs: DURATION(ct.udpStreamTimeout ?? DEFAULTS.udpStreamTimeout)
      },
      userspace: this.userspaceProxy(file),
      ipvs: this.ipvsSpec(k.ipvs ?? {})
    };
  }
  /** kubeProxy.userspace (read whatever the mode; used by userspace mode only). */
  userspaceProxy(file) {
    const u = file.kubeProxy?.userspace ?? {};
    const rangeText = u.proxyPortRange ?? DEFAULTS.userspaceProxyPortRange;
    const range = parseProxyPortRange(rangeText);
    if (typeof range === "string") this.error(["kubeProxy", "userspace", "proxyPortRange"], range);
    const udpIdleTimeoutNs = DURATION(u.udpIdleTimeout ?? DEFAULTS.userspaceUdpIdleTimeout);
    if (udpIdleTimeoutNs === 0) this.error(["kubeProxy", "userspace", "udpIdleTimeout"], "must be greater than 0");
    return {
      proxyPortRange: typeof range === "string" ? null : range,
      udpIdleTimeoutNs,
      connectCostNs: DURATION(u.connectCost ?? DEFAULTS.userspaceConnectCost),
      copyCostPerMessageNs: DURATION(u.copyCost?.perMessage ?? DEFAULTS.userspaceCopyPerMessage),
      copyCostPerKiBNs: DURATION(u.copyCost?.perKiB ?? DEFAULTS.userspaceCopyPerKiB)
    };
  }
  /** kubeProxy.ipvs; timeouts go to ipvsadm --set in whole seconds (`int(d.Seconds())`, NewProxier). */
  ipvsSpec(v) {
    const seconds = (text) => Math.floor(DURATION(text ?? DEFAULTS.ipvsTimeout) / 1e9);
    return {
      scheduler: v.scheduler ?? DEFAULTS.ipvsScheduler,
      strictARP: v.strictARP ?? DEFAULTS.ipvsStrictARP,
      tcpTimeoutS: seconds(v.tcpTimeout),
      tcpFinTimeoutS: seconds(v.tcpFinTimeout),
      udpTimeoutS: seconds(v.udpTimeout),
      excludeCIDRs: v.excludeCIDRs ?? [],
      syncCost: {
        fixedNs: DURATION(v.syncCost?.fixed ?? DEFAULTS.ipvsSyncFixed),
        perNetlinkOperationNs: DURATION(v.syncCost?.perOperation ?? DEFAULTS.ipvsSyncPerOperation),
        perObjectNs: DURATION(v.syncCost?.perObject ?? DEFAULTS.ipvsSyncPerObject)
      }
    };
  }
  /** The scenario failed to decode: check manifests against its node-port range if readable, else not at all. */
  manifestOptionsFromRaw(raw) {
    const cluster = "cluster" in raw ? raw.cluster : void 0;
    const text = typeof cluster === "object" && cluster !== null && "serviceNodePortRange" in cluster ? cluster.serviceNodePortRange : DEFAULTS.serviceNodePortRange;
    this.manifestOptions = { nodePortRange: typeof text === "string" ? nodePortBounds(text) : null };
  }
  /** Decodes a manifest source from an entry that may not have passed the scenario schema. */
  tryManifestSource(entry, path) {
    const record = entry;
    if (typeof record.path === "string" || "inline" in record) {
      const namespace = typeof record.namespace === "string" ? record.namespace : void 0;
      this.manifestSource(
        {
          ...typeof record.path === "string" ? { path: record.path } : { inline: record.inline },
          ...namespace !== void 0 ? { namespace } : {}
        },
        path
      );
    }
  }
  manifestSource(entry, path) {
    if (entry.path !== void 0) {
      const resolved = normalize(join(dirname(this.file), entry.path));
      const key = `${resolved}\0${entry.namespace ?? ""}`;
      const cached = this.manifestFiles.get(key);
      if (cached !== void 0) return cached.objects;
      let text;
      try {
        text = this.readFile(resolved);
      } catch (error) {
        this.error([...path, "path"], `cannot read manifest file ${resolved}: ${readErrorMessage(error)}`);
        return [];
      }
      const yaml = parseYamlFile(resolved, text);
      this.issues.push(...yaml.issues);
      const objects = [];
      for (const document of yaml.documents) {
        const result2 = decodeManifest(document, [], document.value, entry.namespace, this.manifestOptions);
        this.issues.push(...result2.issues);
        objects.push(...result2.objects);
      }
      this.manifestFiles.set(key, { objects });
      return objects;
    }
    const result = decodeManifest(this.doc, [...path, "inline"], entry.inline, entry.namespace, this.manifestOptions);
    this.issues.push(...result.issues);
    return result.objects;
  }
  workload(w, index) {
    const at = (field) => ["workloads", index, field];
    const namespace = w.namespace ?? DEFAULTS.namespace;
    const from = this.source(w.from, namespace, at("from"));
    const to = this.target(w.to, at("to"));
    let arrival = { kind: "closedLoop", concurrency: 1 };
    if (w.arrival?.poisson !== void 0)
      arrival = { kind: "poisson", ratePerSecond: mustParse(parseRatePerSecond(w.arrival.poisson)) };
    else if (w.arrival?.every !== void 0) {
      const intervalNs = DURATION(w.arrival.every);
      if (intervalNs === 0) this.error([...at("arrival"), "every"], "must be greater than 0");
      arrival = { kind: "every", intervalNs };
    } else if (w.arrival?.closedLoop !== void 0) arrival = { kind: "closedLoop", concurrency: w.arrival.closedLoop };
    const timeoutNs = DURATION(w.timeout ?? DEFAULTS.timeout);
    if (timeoutNs === 0) this.error(at("timeout"), "must be greater than 0");
    const requestBytes = mustParse(parseBytes(w.requestBytes ?? DEFAULTS.requestBytes));
    if (requestBytes === 0 && (to.scheme === "http" || to.scheme === "tcp"))
      this.error(
        at("requestBytes"),
        `must be at least 1 for ${to.scheme}:// targets (a request is bytes on the connection)`
      );
    return {
      name: w.name,
      from,
      to,
      arrival,
      count: w.count ?? null,
      startNs: w.start === void 0 ? 0 : typeof w.start === "string" ? DURATION(w.start) : w.start.at === void 0 ? 0 : DURATION(w.start.at),
      waitFor: w.start === void 0 || typeof w.start === "string" ? "ready" : w.start.waitFor ?? "ready",
      durationNs: w.duration === void 0 ? null : DURATION(w.duration),
      connection: w.connection ?? DEFAULTS.connection,
      requestBytes,
      responseBytes: mustParse(parseBytes(w.responseBytes ?? DEFAULTS.responseBytes)),
      timeoutNs,
      position: this.doc.locate(["workloads", index])
    };
  }
  source(text, namespace, path) {
    const m = /^(pod|deployment|node|external)\/([^/\s]+)$/.exec(text);
    if (m === null) {
      this.error(path, `invalid source "${text}": expected pod/NAME, deployment/NAME, node/NAME or external/NAME`);
      return { kind: "pod", name: text, namespace };
    }
    const kind = m[1];
    if (kind === "node" || kind === "external") return { kind, name: m[2] };
    return { kind, name: m[2], namespace };
  }
  target(text, path) {
    const fallback = { scheme: "http", host: text, port: DEFAULTS.httpPort, path: "/" };
    const bracketed = /^[a-z]+:\/\/\[([^\]]*)\]/.exec(text);
    if (bracketed !== null && isIpv62(bracketed[1])) {
      this.error(path, `invalid target "${text}": ${ipv6NotModelled(bracketed[1], "address")}`);
      return fallback;
    }
    const m = /^([a-z]+):\/\/([^/:?#\s]+)(?::(\d+))?(\/[^\s]*)?$/.exec(text);
    if (m === null) {
      this.error(
        path,
        `invalid target "${text}": expected SCHEME://HOST[:PORT][/PATH], e.g. http://my-svc/, http://my-svc.my-ns:8080/path, udp://10.96.0.10:53, icmp://10.0.0.2, tcp://host:5432`
      );
      return fallback;
    }
    const scheme = m[1];
    const host = m[2];
    if (/^[\d.]+$/.test(host)) {
      const address = parseAddress2(host, "address");
      if (!address.ok) {
        this.error(path, `invalid target "${text}": ${address.message}`);
        return fallback;
      }
    }
    const port = m[3] === void 0 ? void 0 : Number(m[3]);
    if (port !== void 0 && (port < 1 || port > 65535)) {
      this.error(path, `invalid target "${text}": port ${port} is not between 1 and 65535`);
      return fallback;
    }
    switch (scheme) {
      case "http":
        return { scheme, host, port: port ?? DEFAULTS.httpPort, path: m[4] ?? "/" };
      case "tcp":
      case "udp":
        if (port === void 0) {
          this.error(path, `invalid target "${text}": ${scheme} needs a port (${scheme}://HOST:PORT)`);
          return fallback;
        }
        if (m[4] !== void 0 && m[4] !== "/")
          this.error(path, `invalid target "${text}": ${scheme} targets have no path`);
        return { scheme, host, port, path: "" };
      case "icmp":
        if (port !== void 0 || m[4] !== void 0 && m[4] !== "/")
          this.error(path, `invalid target "${text}": icmp targets have no port or path (icmp://HOST)`);
        return { scheme, host, port: 0, path: "" };
      default:
        this.error(path, `invalid target "${text}": unknown scheme "${scheme}" (expected http, tcp, udp or icmp)`);
        return fallback;
    }
  }
  timelineStep(step, index) {
    const path = ["timeline", index];
    const atNs = DURATION(step.at);
    const position = this.doc.locate(path);
    const namespace = step.namespace ?? DEFAULTS.namespace;
    if (step.scale !== void 0) {
      if (step.replicas === void 0) this.error([...path, "scale"], "scale needs replicas: N");
      const m = /^(deployment|replicaset)\/([^/\s]+)$/.exec(step.scale);
      if (m === null)
        this.error(
          [...path, "scale"],
          `invalid scale target "${step.scale}": expected deployment/NAME or replicaset/NAME`
        );
      return { atNs, action: { kind: "scale", target: step.scale, namespace, replicas: step.replicas ?? 0 }, position };
    }
    if (step.replicas !== void 0) this.error([...path, "replicas"], "replicas belongs to a scale step");
    if (step.delete !== void 0) {
      const m = /^(pod|deployment|replicaset|service|endpoints|endpointslice)\/([^/\s]+)$/.exec(step.delete);
      if (m === null)
        this.error(
          [...path, "delete"],
          `invalid delete target "${step.delete}": expected KIND/NAME with KIND pod, deployment, replicaset, service, endpoints or endpointslice`
        );
      return { atNs, action: { kind: "delete", target: step.delete, namespace }, position };
    }
    if (step.failRestore !== void 0) {
      if (step.namespace !== void 0) this.error([...path, "namespace"], "a failRestore step has no namespace");
      return {
        atNs,
        action: { kind: "failRestore", node: step.failRestore.node, count: step.failRestore.count ?? 1 },
        position
      };
    }
    if (step.nodeLocalDns !== void 0) {
      if (step.namespace !== void 0) this.error([...path, "namespace"], "a nodeLocalDns step has no namespace");
      return {
        atNs,
        action: { kind: "nodeLocalDns", node: step.nodeLocalDns.node ?? null, event: step.nodeLocalDns.event },
        position
      };
    }
    if (step.namespace !== void 0)
      this.error(
        [...path, "namespace"],
        "the namespace of an apply step goes inside apply: (apply: {path: ..., namespace: ...})"
      );
    const objects = step.apply === void 0 ? [] : this.manifestSource(step.apply, [...path, "apply"]);
    return { atNs, action: { kind: "apply", objects }, position };
  }
  expectation(entry, index, workloadNames) {
    const path = ["expect", index];
    if (!workloadNames.includes(entry.workload))
      this.error([...path, "workload"], `no workload named "${entry.workload}"`);
    const out = [];
    const conditions = [
      "completedAtLeast",
      "failedAtMost",
      "sentAtLeast",
      "p50Below",
      "p99Below",
      "meanBelow",
      "maxBelow",
      "jainAtLeast",
      "endpointsAtLeast",
      "endpointsAtMost",
      "completedAtMost",
      "failedAtLeast",
      "p99AtLeast",
      "maxAtLeast"
    ];
    let modes;
    if (entry.modes !== void 0) {
      if (entry.modes.length === 0) this.error([...path, "modes"], "expected at least one kube-proxy mode");
      const seen = /* @__PURE__ */ new Set();
      entry.modes.forEach((mode, i) => {
        if (seen.has(mode)) this.error([...path, "modes", i], `duplicate mode "${mode}"`);
        seen.add(mode);
      });
      modes = [...entry.modes];
    }
    for (const condition of conditions) {
      const raw = entry[condition];
      if (raw === void 0) continue;
      const value = typeof raw === "string" ? DURATION(raw) : raw;
      out.push({
        workload: entry.workload,
        condition,
        value,
        text: `${condition}: ${raw}`,
        position: this.doc.locate([...path, condition]),
        ...modes === void 0 ? {} : { modes }
      });
    }
    return out;
  }
  checkUnique(names, pathOf, what) {
    const seen = /* @__PURE__ */ new Set();
    names.forEach((name, index) => {
      if (seen.has(name)) this.error(pathOf(index), `duplicate ${what} name "${name}"`);
      seen.add(name);
    });
  }
  checkReferences(workloads, timeline, objects, cluster, externalNames, durationNs) {
    const has = (kind, namespace, name) => objects.some(
      (o) => o.object.kind === kind && o.object.metadata.name === name && (o.object.metadata.namespace ?? "default") === namespace
    );
    const nodeNames = cluster.nodes.map((node) => node.name);
    workloads.forEach((w, index) => {
      const path = ["workloads", index, "from"];
      const from = w.from;
      switch (from.kind) {
        case "pod":
          if (!has("Pod", from.namespace, from.name)) {
            const viaDeployment = has("Deployment", from.namespace, from.name) || has("ReplicaSet", from.namespace, from.name);
            this.error(
              path,
              `no Pod "${from.name}" in namespace "${from.namespace}"${viaDeployment ? ` (to send from the replicas of Deployment ${from.name}, write deployment/${from.name})` : ""}`
            );
          }
          break;
        case "deployment":
          if (!has("Deployment", from.namespace, from.name))
            this.error(path, `no Deployment "${from.name}" in namespace "${from.namespace}"`);
          break;
        case "node":
          if (!nodeNames.includes(from.name))
            this.error(path, `no node "${from.name}" (nodes: ${nodeNames.join(", ")})`);
          break;
        case "external":
          if (!externalNames.includes(from.name))
            this.error(path, `no external host "${from.name}" (declare it under externalHosts:)`);
          break;
      }
      if (w.startNs > durationNs)
        this.warning(["workloads", index, "start"], "starts after the scenario ends (duration)");
    });
    timeline.forEach((step, index) => {
      if (step.atNs > durationNs) this.warning(["timeline", index, "at"], "happens after the scenario ends (duration)");
      if (step.action.kind === "scale") {
        const m = /^(deployment|replicaset)\/(.+)$/.exec(step.action.target);
        if (m !== null) {
          const kind = m[1] === "deployment" ? "Deployment" : "ReplicaSet";
          if (!has(kind, step.action.namespace, m[2]))
            this.error(["timeline", index, "scale"], `no ${kind} "${m[2]}" in namespace "${step.action.namespace}"`);
        }
      }
      if (step.action.kind === "nodeLocalDns") {
        if (step.action.node !== null && !nodeNames.includes(step.action.node))
          this.error(
            ["timeline", index, "nodeLocalDns", "node"],
            `no node "${step.action.node}" (nodes: ${nodeNames.join(", ")})`
          );
      }
      if (step.action.kind === "failRestore" && !nodeNames.includes(step.action.node)) {
        this.error(
          ["timeline", index, "failRestore", "node"],
          `no node "${step.action.node}" (nodes: ${nodeNames.join(", ")})`
        );
      }
    });
  }
  /** Namespaces exist, objects are unique, Services select something. */
  checkObjects(initial, all) {
    const namespaces = new Set(all.filter((o) => o.object.kind === "Namespace").map((o) => o.object.metadata.name));
    const seen = /* @__PURE__ */ new Map();
    for (const entry of initial) {
      const meta = entry.object.metadata;
      const id = `${entry.object.kind}/${meta.namespace ?? ""}/${meta.name}`;
      if (seen.has(id))
        this.issues.push({
          severity: "warning",
          path: ["metadata", "name"],
          message: `${entry.object.kind} ${meta.name} is declared twice; the later one replaces the earlier (kubectl apply)`,
          position: entry.locate(["metadata", "name"])
        });
      seen.set(id, entry);
    }
    for (const entry of all) {
      const object = entry.object;
      const namespace = object.metadata.namespace;
      if (namespace !== void 0 && !isBuiltinNamespace(namespace) && !namespaces.has(namespace)) {
        this.issues.push({
          severity: "error",
          path: ["metadata", "namespace"],
          message: `namespaces "${namespace}" not found (add a Namespace manifest)`,
          position: entry.locate(["metadata", "namespace"])
        });
      }
      if (object.kind !== "Service" || object.spec.selector === void 0 || Object.keys(object.spec.selector).length === 0)
        continue;
      const selector = object.spec.selector;
      const matches = all.some((other) => {
        const o = other.object;
        if ((o.metadata.namespace ?? "default") !== (namespace ?? "default")) return false;
        if (o.kind === "Pod") return matchesServiceSelector(selector, o.metadata.labels);
        if (o.kind === "Deployment" || o.kind === "ReplicaSet")
          return matchesServiceSelector(selector, o.spec.template.metadata?.labels);
        return false;
      });
      if (!matches) {
        const text = formatLabels(selector);
        this.issues.push({
          severity: "warning",
          path: ["spec", "selector"],
          message: `Service ${object.metadata.name} selects ${text} but no Pod or Deployment template in namespace "${namespace ?? "default"}" has these labels (it will have no endpoints)`,
          position: entry.locate(["spec", "selector"])
        });
      }
    }
  }
};

// bench/star.ts
var STAR_CONNECTIONS = ["keepAlive", "new"];
function starScenarioPath(connection) {
  const name = connection === "keepAlive" ? "star-udp-echo" : "star-udp-echo-new";
  return fileURLToPath(new URL(`../scenarios/bench/${name}.yaml`, import.meta.url));
}
function loadStar(connection, mode) {
  const path = starScenarioPath(connection);
  let loaded;
  if (mode === void 0) loaded = loadScenario(path);
  else {
    const text = readFileSync2(path, "utf8");
    if (/^kubeProxy:/m.test(text)) throw new Error(`${path}: has its own kubeProxy section; cannot override the mode`);
    loaded = decodeScenarioText(path, `${text}
kubeProxy: { mode: ${mode} }
`);
  }
  if (!loaded.ok) throw new Error(`scenario does not load: ${loaded.issues.map((i) => i.message).join("; ")}`);
  const spec = loaded.scenario.spec;
  const workload = spec.workloads[0];
  if (spec.workloads.length !== 1 || workload.connection !== connection)
    throw new Error(`${starScenarioPath(connection)}: expected one workload with connection ${connection}`);
  if (mode !== void 0 && spec.kubeProxy.mode !== mode)
    throw new Error(`${path}: kube-proxy mode ${spec.kubeProxy.mode}, expected ${mode}`);
  return spec;
}
var wallClockMs = () => Number(process.hrtime.bigint()) / 1e6;
function runStar(spec) {
  const cpuStart = process.cpuUsage();
  const wallStart = process.hrtime.bigint();
  const doc = runScenario(spec, { seed: spec.seed, wallClockMs });
  const wallSeconds = Number(process.hrtime.bigint() - wallStart) / 1e9;
  const cpu = process.cpuUsage(cpuStart);
  let echoes = 0;
  let sent = 0;
  for (const w of Object.values(doc.workloads)) {
    echoes += w.requests.completed;
    sent += w.requests.sent;
  }
  return {
    echoes,
    sent,
    events: doc.wall.events,
    wallSeconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    conntrackPeakEntries: doc.conntrack.peakEntries,
    fingerprint: doc.fingerprint,
    simulatedNs: doc.simulatedNs
  };
}
function argValue(argv2, name, fallback) {
  const i = argv2.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = argv2[i + 1];
  if (value === void 0 || value.startsWith("--")) throw new Error(`--${name} needs a value`);
  return value;
}
function connectionsArg(argv2) {
  const value = argValue(argv2, "connection", "both");
  if (value === "both") return [...STAR_CONNECTIONS];
  if (value === "keepAlive" || value === "new") return [value];
  throw new Error(`--connection: expected keepAlive, new or both, got ${value}`);
}
function modesArg(argv2) {
  const available = simulatedProxyModes();
  const value = argValue(argv2, "mode", "all");
  if (value === "all") return available;
  const modes = value.split(",");
  for (const m of modes)
    if (!available.includes(m))
      throw new Error(`--mode: ${m} is not a simulated kube-proxy mode (simulated: ${available.join(", ")})`);
  return modes;
}

// bench/prof-star.ts
var argv = process.argv.slice(2);
var runs = Number(argValue(argv, "runs", "1"));
for (const mode of modesArg(argv))
  for (const connection of connectionsArg(argv)) {
    const spec = loadStar(connection, mode);
    const cpu = [];
    let fingerprint = "";
    let echoes = 0;
    for (let i = 0; i < runs; i++) {
      const r = runStar(spec);
      cpu.push(Number(r.cpuSeconds.toFixed(3)));
      fingerprint = r.fingerprint;
      echoes = r.echoes;
    }
    console.log(JSON.stringify({ mode, connection, echoes, fingerprint, cpu }));
  }
