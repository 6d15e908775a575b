/**
 * The normalisation kube-proxy's nftables unit tests apply before comparing a dump with the
 * expected text: pkg/proxy/nftables/helpers_test.go `sortNFTablesTransaction`, used by
 * `assertNFTablesTransactionEqual` (proxy-modes.md §2.0).
 *
 * Blank lines and lines starting with "#" are dropped; the rest is stable-sorted with upstream's
 * `less` (object type by objectOrder, then object name, rules keep their order within a chain,
 * everything else by whole line) and joined with "\n" (no trailing newline). The sort is Go's
 * `sort.SliceStable` algorithm (insertion-sorted blocks of 20, then SymMerge) step for step, so
 * even lines `less` cannot order (fewer than 5 words) end where Go puts them.
 */

const OBJECT_ORDER: Readonly<Record<string, number>> = {
  table: 10,
  chain: 9,
  rule: 8,
  set: 7,
  map: 6,
  element: 5,
}

function lessLines(li: string, wi: readonly string[], lj: string, wj: readonly string[]): boolean {
  if (wi.length < 5 || wj.length < 5) return false
  if (wi[1] !== wj[1]) return (OBJECT_ORDER[wi[1]] ?? 0) >= (OBJECT_ORDER[wj[1]] ?? 0)
  if (wi[4] !== wj[4]) return wi[4] < wj[4]
  if (wi[1] === "rule") return false
  return li < lj
}

interface Row {
  readonly line: string
  readonly words: readonly string[]
}

/** Go sort.SliceStable (sort/zsortfunc.go `stable_func`) over rows with `less`. */
function goStableSort(data: Row[], less: (a: Row, b: Row) => boolean): void {
  const lessAt = (i: number, j: number): boolean => less(data[i], data[j])
  const swap = (i: number, j: number): void => {
    const t = data[i]
    data[i] = data[j]
    data[j] = t
  }
  const insertionSort = (a: number, b: number): void => {
    for (let i = a + 1; i < b; i++) for (let j = i; j > a && lessAt(j, j - 1); j--) swap(j, j - 1)
  }
  const swapRange = (a: number, b: number, n: number): void => {
    for (let i = 0; i < n; i++) swap(a + i, b + i)
  }
  const rotate = (a: number, m: number, b: number): void => {
    let i = m - a
    let j = b - m
    while (i !== j) {
      if (i > j) {
        swapRange(m - i, m, j)
        i -= j
      } else {
        swapRange(m - i, m + j - i, i)
        j -= i
      }
    }
    swapRange(m - i, m, i)
  }
  const symMerge = (a: number, m: number, b: number): void => {
    if (m - a === 1) {
      let i = m
      let j = b
      while (i < j) {
        const h = (i + j) >>> 1
        if (lessAt(h, a)) i = h + 1
        else j = h
      }
      for (let k = a; k < i - 1; k++) swap(k, k + 1)
      return
    }
    if (b - m === 1) {
      let i = a
      let j = m
      while (i < j) {
        const h = (i + j) >>> 1
        if (!lessAt(m, h)) i = h + 1
        else j = h
      }
      for (let k = m; k > i; k--) swap(k, k - 1)
      return
    }
    const mid = (a + b) >>> 1
    const n = mid + m
    let start: number
    let r: number
    if (m > mid) {
      start = n - b
      r = mid
    } else {
      start = a
      r = m
    }
    const p = n - 1
    while (start < r) {
      const c = (start + r) >>> 1
      if (!lessAt(p - c, c)) start = c + 1
      else r = c
    }
    const end = n - start
    if (start < m && m < end) rotate(start, m, end)
    if (a < start && start < mid) symMerge(a, start, mid)
    if (mid < end && end < b) symMerge(mid, end, b)
  }

  const n = data.length
  let blockSize = 20
  let a = 0
  let b = blockSize
  while (b <= n) {
    insertionSort(a, b)
    a = b
    b += blockSize
  }
  insertionSort(a, n)
  while (blockSize < n) {
    a = 0
    b = 2 * blockSize
    while (b <= n) {
      symMerge(a, a + blockSize, b)
      a = b
      b += 2 * blockSize
    }
    const m = a + blockSize
    if (m < n) symMerge(a, m, n)
    blockSize *= 2
  }
}

/** `sortNFTablesTransaction(tx)`, byte for byte. */
export function sortNftablesTransaction(tx: string): string {
  const rows: Row[] = []
  for (const line of tx.split("\n")) {
    if (line === "" || line[0] === "#") continue
    rows.push({ line, words: line.split(" ") })
  }
  goStableSort(rows, (x, y) => lessLines(x.line, x.words, y.line, y.words))
  return rows.map((r) => r.line).join("\n")
}
