/**
 * The network namespaces `kube-netsim calibrate` measures in, and the processes it runs in them.
 *
 * Every namespace is named `kncal<pid>-<name>` (the pid keeps concurrent runs apart and lets a
 * later run remove what a killed one left behind); all of them are deleted when the calibration
 * ends, on an error, on process exit and on SIGINT/SIGTERM/SIGHUP. Namespaces are joined only to
 * each other: no packet reaches the host's namespace.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process"
import { existsSync, readdirSync } from "node:fs"
import { join } from "node:path"

export interface RunResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs a command with optional stdin, killing it after `timeoutMs`. Never throws. */
export function run(cmd: string, args: readonly string[], input = "", timeoutMs = 120_000): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c))
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c))
    child.on("error", (err) => {
      clearTimeout(timer)
      resolve({ code: -1, stdout, stderr: stderr + String(err) })
    })
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
    child.stdin.on("error", () => {})
    child.stdin.end(input)
  })
}

/** Runs a command and returns its stdout; throws with the command and its stderr on failure. */
export async function must(cmd: string, args: readonly string[], input = "", timeoutMs = 120_000): Promise<string> {
  const r = await run(cmd, args, input, timeoutMs)
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${r.code}): ${r.stderr.trim()}`)
  return r.stdout
}

/** Is `tool` on one of the usual system paths (root's PATH may lack /usr/sbin under sudo -E)? */
export function findTool(tool: string): string | undefined {
  for (const dir of ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin"]) {
    const path = join(dir, tool)
    if (existsSync(path)) return path
  }
  return undefined
}

const PREFIX = "kncal"

/** Deletes `kncal<pid>-*` namespaces whose process is gone (a run killed with SIGKILL). */
export function removeStaleNamespaces(): void {
  if (!existsSync("/var/run/netns")) return
  for (const name of readdirSync("/var/run/netns")) {
    const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(name)
    if (m === null) continue
    let alive = true
    try {
      process.kill(Number(m[1]), 0)
    } catch {
      alive = false
    }
    if (!alive) {
      try {
        execFileSync("ip", ["netns", "del", name], { stdio: "pipe", timeout: 10_000 })
      } catch {
        // Best effort: a namespace that cannot be deleted is reported by `ip netns` to the user.
      }
    }
  }
}

/** The set of namespaces and background processes of one calibration run. */
export class NamespaceSet {
  readonly prefix = `${PREFIX}${process.pid}-`
  private readonly created: string[] = []
  private readonly children = new Set<ChildProcess>()
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    this.teardownSync()
    // Conventional exit status for death by a signal (128 + number): SIGINT 130, SIGTERM 143.
    process.exit(128 + (signal === "SIGINT" ? 2 : signal === "SIGTERM" ? 15 : 1))
  }
  private readonly onExit = (): void => this.teardownSync()

  constructor() {
    process.on("exit", this.onExit)
    for (const s of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(s, this.onSignal)
  }

  /** Creates namespace `<prefix><name>` with lo up; returns its full name. */
  async add(name: string): Promise<string> {
    const full = `${this.prefix}${name}`
    await must("ip", ["netns", "add", full])
    this.created.push(full)
    await must("ip", ["-n", full, "link", "set", "lo", "up"])
    return full
  }

  /** Deletes one namespace of this set (a measurement that wants a fresh one). */
  async remove(full: string): Promise<void> {
    const i = this.created.indexOf(full)
    if (i >= 0) this.created.splice(i, 1)
    await run("ip", ["netns", "del", full])
  }

  /** `ip -n ns -batch -`: many iproute2 commands in one process. */
  async ip(ns: string, lines: readonly string[]): Promise<void> {
    await must("ip", ["-n", ns, "-batch", "-"], lines.join("\n") + "\n")
  }

  /** Runs `cmd` inside `ns` to completion. */
  exec(ns: string, cmd: string, args: readonly string[], input = "", timeoutMs = 120_000): Promise<RunResult> {
    return run("ip", ["netns", "exec", ns, cmd, ...args], input, timeoutMs)
  }

  async mustExec(ns: string, cmd: string, args: readonly string[], input = "", timeoutMs = 120_000): Promise<string> {
    return must("ip", ["netns", "exec", ns, cmd, ...args], input, timeoutMs)
  }

  /** Starts a long-running `cmd` in `ns` and waits for it to print READY (killed at teardown). */
  startServer(ns: string, cmd: string, args: readonly string[]): Promise<ChildProcess> {
    const child = spawn("ip", ["netns", "exec", ns, cmd, ...args], { stdio: ["ignore", "pipe", "pipe"] })
    this.children.add(child)
    return new Promise((resolve, reject) => {
      let out = ""
      let err = ""
      const timer = setTimeout(() => reject(new Error(`${cmd} in ${ns} not ready after 10 s: ${err}`)), 10_000)
      child.stderr?.setEncoding("utf8").on("data", (c: string) => (err += c))
      child.stdout?.setEncoding("utf8").on("data", (c: string) => {
        out += c
        if (out.includes("READY")) {
          clearTimeout(timer)
          resolve(child)
        }
      })
      child.on("close", (code) => {
        clearTimeout(timer)
        this.children.delete(child)
        reject(new Error(`${cmd} in ${ns} exited (${code}): ${err}`))
      })
    })
  }

  /** Kills the servers and deletes every namespace; removes the exit and signal hooks. */
  async teardown(): Promise<void> {
    for (const child of this.children) child.kill("SIGKILL")
    this.children.clear()
    await Promise.all(this.created.splice(0).map((name) => run("ip", ["netns", "del", name])))
    process.off("exit", this.onExit)
    for (const s of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.off(s, this.onSignal)
  }

  teardownSync(): void {
    for (const child of this.children) {
      try {
        child.kill("SIGKILL")
      } catch {
        // Already gone.
      }
    }
    this.children.clear()
    for (const name of this.created.splice(0)) {
      try {
        execFileSync("ip", ["netns", "del", name], { stdio: "pipe", timeout: 10_000 })
      } catch {
        // Best effort in an exit path; removeStaleNamespaces catches leftovers next time.
      }
    }
  }
}
