/**
 * The command line (effect/cli): `run`, `validate`, `rules`, `trace`, with help text and examples. `runCli`
 * parses `argv`, runs one command and resolves to its exit code; it never exits the process and
 * never throws, so tests call it in-process with a stub runtime and captured output.
 *
 * The runtime is injected (`Runtime`): by default cluster/index.ts, which the lead owns; plugging
 * the real simulator in needs no change here.
 */
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from "node:fs"
import * as NodeChildProcessSpawner from "@effect/platform-node-shared/NodeChildProcessSpawner"
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import * as NodePath from "@effect/platform-node-shared/NodePath"
import * as NodeStdio from "@effect/platform-node-shared/NodeStdio"
import * as NodeTerminal from "@effect/platform-node-shared/NodeTerminal"
import { Cause, Effect, Exit, Layer, Option } from "effect"
import { Argument, CliError, CliOutput, Command, Flag } from "effect/cli"
import * as cluster from "../cluster/index.ts"
import { traceScenario } from "../trace/engine.ts"
import { checkCommand } from "./check-command.ts"
import { readFileUtf8 } from "../scenario/load.ts"
import {
  EXIT_INTERNAL_ERROR,
  EXIT_INVALID_INPUT,
  EXIT_OK,
  compareCommand,
  rulesCommand,
  runCommand,
  traceCommand,
  validateCommand,
  type CliIo,
  type Runtime,
} from "./commands.ts"
import { sweepCommands } from "./sweep-app.ts"
import { calibrateCommand } from "./calibrate.ts"

export type { CliIo, Runtime } from "./commands.ts"

/**
 * The Node services effect/cli runs on: the layer @effect/platform-node's NodeServices composes,
 * built from @effect/platform-node-shared directly, because every @effect/platform-node 4.x pulls
 * in undici 8, which requires Node >= 22.19 (npm ci on Node 20 warned EBADENGINE).
 */
const nodeServices = Layer.provideMerge(
  NodeChildProcessSpawner.layer,
  Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeStdio.layer, NodeTerminal.layer),
)

export const defaultRuntime: Runtime = {
  runScenario: cluster.runScenario,
  validateScenario: cluster.validateScenario,
  renderRules: cluster.renderRules,
  traceScenario,
}

/** The real process: stdout/stderr, the file system, the wall clock, the environment. */
export function processIo(): CliIo {
  return {
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    stderrIsTTY: process.stderr.isTTY === true,
    env: process.env,
    readFile: readFileUtf8,
    writeFile: (path, text) => writeFileSync(path, text),
    mkdir: (path) => void mkdirSync(path, { recursive: true }),
    wallClockMs: () => Date.now(),
    openWrite: (path) => {
      const fd = openSync(path, "w")
      return {
        write: (data) => {
          if (typeof data === "string") writeSync(fd, data)
          else writeSync(fd, data)
        },
        close: () => closeSync(fd),
      }
    },
  }
}

function version(): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"))
    if (typeof pkg === "object" && pkg !== null && "version" in pkg && typeof pkg.version === "string")
      return pkg.version
  } catch {
    // Fall through: the version is cosmetic.
  }
  return "0.0.0"
}

const scenarioArgument = Argument.String("scenario").pipe(
  Argument.withDescription("path of the scenario file (YAML, apiVersion kube-netsim/v1)"),
)

const reportFlag = Flag.String("report").pipe(
  Flag.withDescription(
    "also write a self-contained HTML report with charts to this file, its directory created if missing (docs/report.md)",
  ),
  Flag.optional,
)

function commands(io: CliIo, runtime: Runtime, setExit: (code: number) => void) {
  const run = Command.make(
    "run",
    {
      scenario: scenarioArgument,
      seed: Flag.Int("seed").pipe(Flag.withDescription("seed to use instead of the scenario's seed"), Flag.optional),
      runs: Flag.Int("runs").pipe(
        Flag.withDescription("run seeds SEED..SEED+R-1 and report each metric as mean and 95% confidence interval"),
        Flag.withDefault(1),
      ),
      jobs: Flag.Int("jobs").pipe(
        Flag.withDescription(
          "run the seeds on J worker threads (default 1); results are identical to a serial run, only wall differs",
        ),
        Flag.withDefault(1),
      ),
      out: Flag.String("out").pipe(
        Flag.withDescription("directory to write results.json into (created if missing)"),
        Flag.optional,
      ),
      json: Flag.Boolean("json").pipe(
        Flag.withDescription("print the results document (JSON) instead of the summary"),
        Flag.withDefault(false),
      ),
      quiet: Flag.Boolean("quiet").pipe(
        Flag.withDescription("no summary, warnings or progress line; errors and failed expectations only"),
        Flag.withDefault(false),
      ),
      interval: Flag.String("interval").pipe(
        Flag.withDescription(
          "interval of the time series (results `timeseries`, timeseries.csv in --out), simulated time, e.g. 10ms; default 100ms",
        ),
        Flag.optional,
      ),
      requests: Flag.Boolean("requests").pipe(
        Flag.withDescription(
          "write one JSON record per request sent, failed and unfinished ones included (client, times, resolved address, endpoint, node path, outcome) to requests.jsonl in --out",
        ),
        Flag.withDefault(false),
      ),
      pcap: Flag.String("pcap").pipe(
        Flag.withDescription(
          "write the run's packets as pcapng into DIR: one file per node (its interfaces and its pods'), simulated ns timestamps; see docs/outputs.md",
        ),
        Flag.optional,
      ),
      pcapFilter: Flag.String("pcap-filter").pipe(
        Flag.withDescription(
          "capture only matching interfaces: node=GLOB,pod=GLOB,iface=GLOB (keys AND, repeated keys OR), e.g. node=node-1,iface=eth0",
        ),
        Flag.optional,
      ),
      report: reportFlag,
    },
    (options) =>
      Effect.sync(() =>
        setExit(
          runCommand(io, runtime, {
            scenario: options.scenario,
            seed: Option.getOrUndefined(options.seed),
            runs: options.runs,
            jobs: options.jobs,
            out: Option.getOrUndefined(options.out),
            json: options.json,
            quiet: options.quiet,
            interval: Option.getOrUndefined(options.interval),
            requests: options.requests,
            pcap: Option.getOrUndefined(options.pcap),
            pcapFilter: Option.getOrUndefined(options.pcapFilter),
            report: Option.getOrUndefined(options.report),
          }),
        ),
      ),
  ).pipe(
    Command.withDescription(
      "Simulate a scenario and print its statistics. Exit 0 ok, 1 an expectation failed, 2 invalid input, 3 internal error.",
    ),
    Command.withExamples([
      { command: "kube-netsim run scenarios/quickstart.yaml", description: "simulate and print the summary" },
      {
        command: "kube-netsim run scenarios/quickstart.yaml --seed 7 --json",
        description: "print the results document for seed 7",
      },
      {
        command: "kube-netsim run scenarios/seed-001-http-go-scale.yaml --runs 10 --out results/",
        description: "10 seeds, mean and 95% CI, files in results/",
      },
      {
        command: "kube-netsim run scenarios/quickstart.yaml --runs 8 --jobs 2",
        description: "8 seeds on 2 worker threads, the same output as serially (docs/sweep.md)",
      },
    ]),
  )

  const validate = Command.make("validate", { scenario: scenarioArgument }, (options) =>
    Effect.sync(() => setExit(validateCommand(io, runtime, options.scenario))),
  ).pipe(
    Command.withDescription(
      "Decode and compile a scenario without running it; print every error as file:line:column: path: message.",
    ),
    Command.withExamples([
      { command: "kube-netsim validate scenarios/quickstart.yaml", description: "check a scenario and its manifests" },
    ]),
  )

  const rules = Command.make(
    "rules",
    {
      scenario: scenarioArgument,
      node: Flag.String("node").pipe(Flag.withDescription("node whose dataplane configuration to print")),
      at: Flag.String("at").pipe(
        Flag.withDescription("simulated time to print the rules at (e.g. 10s; default 0)"),
        Flag.optional,
      ),
      sorted: Flag.Boolean("sorted").pipe(
        Flag.withDescription("order rules as kube-proxy's unit tests do before comparing"),
        Flag.withDefault(false),
      ),
    },
    (options) =>
      Effect.sync(() =>
        setExit(
          rulesCommand(io, runtime, {
            scenario: options.scenario,
            node: options.node,
            at: Option.getOrUndefined(options.at),
            sorted: options.sorted,
          }),
        ),
      ),
  ).pipe(
    Command.withDescription(
      "Print a node's dataplane configuration as the real tool prints it (iptables-save in iptables mode).",
    ),
    Command.withExamples([
      {
        command: "kube-netsim rules scenarios/quickstart.yaml --node node-1",
        description: "iptables-save output of node-1 at time 0",
      },
      {
        command: "kube-netsim rules scenarios/seed-001-http-go-scale.yaml --node node-2 --at 15s --sorted",
        description: "after the scale-up, sorted",
      },
    ]),
  )

  const trace = Command.make(
    "trace",
    {
      scenario: scenarioArgument,
      from: Flag.String("from").pipe(
        Flag.withDescription(
          "sender: pod/NAME, pod/NAMESPACE/NAME, deployment/NAME (its first running replica), node/NAME or external/NAME",
        ),
      ),
      to: Flag.String("to").pipe(
        Flag.withDescription(
          "destination HOST:PORT[/tcp|udp] or HOST/icmp (default tcp); HOST a Service name (resolved as the runtime does), a ClusterIP, a node IP with a NodePort, an LB or external IP, a pod IP",
        ),
      ),
      at: Flag.String("at").pipe(
        Flag.withDescription(
          "simulated time to send the packet at (e.g. 5s; default: once every pod is ready and every kube-proxy has synced)",
        ),
        Flag.optional,
      ),
      seed: Flag.Int("seed").pipe(Flag.withDescription("seed to use instead of the scenario's seed"), Flag.optional),
      verbose: Flag.Boolean("verbose").pipe(
        Flag.withDescription("also list every rule evaluated without matching"),
        Flag.withDefault(false),
      ),
      json: Flag.Boolean("json").pipe(
        Flag.withDescription("print the trace events as a JSON array instead of text"),
        Flag.withDefault(false),
      ),
    },
    (options) =>
      Effect.sync(() =>
        setExit(
          traceCommand(io, runtime, {
            scenario: options.scenario,
            from: options.from,
            to: options.to,
            at: Option.getOrUndefined(options.at),
            seed: Option.getOrUndefined(options.seed),
            verbose: options.verbose,
            json: options.json,
          }),
        ),
      ),
  ).pipe(
    Command.withDescription(
      "Walk one packet (TCP SYN, UDP datagram or ICMP echo request) through every hook, table, chain and rule on every namespace it crosses: matches, DNAT/SNAT, conntrack entries, verdict, and the reply path back. Exit 0 when traced (whatever the fate), 2 for invalid input. See docs/trace.md.",
    ),
    Command.withExamples([
      {
        command: "kube-netsim trace scenarios/quickstart.yaml --from pod/busybox --to http-go-svc:80",
        description: "ClusterIP: DNAT to an endpoint, un-NAT of the SYN-ACK",
      },
      {
        command: "kube-netsim trace scenarios/etp-local-vs-cluster.yaml --from external/client --to 10.0.0.13:31001",
        description: "NodePort, externalTrafficPolicy Local, no local endpoint: DROP",
      },
      {
        command:
          "kube-netsim trace scenarios/quickstart.yaml --from pod/busybox --to kube-dns.kube-system:53/udp --verbose",
        description: "every rule evaluated; REJECT and ICMP port unreachable back",
      },
      {
        command: "kube-netsim trace scenarios/quickstart.yaml --from node/node-1 --to 10.96.0.1:443 --at 5s --json",
        description: "the trace events as JSON",
      },
    ]),
  )

  const compare = Command.make(
    "compare",
    {
      scenario: scenarioArgument,
      modes: Flag.String("modes").pipe(
        Flag.withDescription(
          "comma-separated kube-proxy modes to run the scenario under (iptables, ipvs, nftables, userspace); default: every simulated mode",
        ),
        Flag.optional,
      ),
      seed: Flag.Int("seed").pipe(Flag.withDescription("seed to use instead of the scenario's seed"), Flag.optional),
      runs: Flag.Int("runs").pipe(
        Flag.withDescription("run seeds SEED..SEED+R-1 under each mode; cells show mean ± 95% CI half-width"),
        Flag.withDefault(1),
      ),
      json: Flag.Boolean("json").pipe(
        Flag.withDescription(
          "print the compare document {compareVersion, scenario, seed, runs, modes: [{mode, results}]} instead of the table",
        ),
        Flag.withDefault(false),
      ),
      report: reportFlag,
    },
    (options) =>
      Effect.sync(() =>
        setExit(
          compareCommand(io, runtime, {
            scenario: options.scenario,
            modes: Option.getOrUndefined(options.modes),
            seed: Option.getOrUndefined(options.seed),
            runs: options.runs,
            json: options.json,
            report: Option.getOrUndefined(options.report),
          }),
        ),
      ),
  ).pipe(
    Command.withDescription(
      "Run a scenario under several kube-proxy modes and print one side-by-side table: latency percentiles, per-endpoint split and fairness, conntrack/IPVS peaks, sync durations, kernel objects per node, failures and drops by reason. Exit 0 ok, 1 an expectation failed (for its mode), 2 invalid input (e.g. a mode not simulated), 3 internal error.",
    ),
    Command.withExamples([
      {
        command: "kube-netsim compare scenarios/proxy-modes.yaml",
        description: "every simulated mode, the scenario's seed",
      },
      {
        command: "kube-netsim compare scenarios/ipvs-rr-unevenness.yaml --modes iptables,ipvs --runs 5",
        description: "two modes, 5 seeds each, mean ± spread",
      },
      {
        command: "kube-netsim compare scenarios/proxy-modes.yaml --seed 7 --json",
        description: "one results document per mode",
      },
    ]),
  )

  const { sweep, merge } = sweepCommands(io, runtime, setExit, version())

  const check = Command.make(
    "check",
    {
      property: Argument.String("property").pipe(
        Argument.withDescription("path of the property file (YAML, apiVersion kube-netsim/v1, kind Property)"),
      ),
      runs: Flag.Int("runs").pipe(
        Flag.withDescription("cases to generate (default: the file's runs:, else 30)"),
        Flag.optional,
      ),
      seed: Flag.Int("seed").pipe(
        Flag.withDescription(
          "fast-check seed: the same seed generates the same cases (default: the file's seed:, else 1)",
        ),
        Flag.optional,
      ),
      out: Flag.String("out").pipe(
        Flag.withDescription("directory for check.json and, on failure, counterexample.yaml (created if missing)"),
        Flag.optional,
      ),
      report: reportFlag,
      json: Flag.Boolean("json").pipe(
        Flag.withDescription("print the check report (JSON) instead of the summary"),
        Flag.withDefault(false),
      ),
    },
    (options) =>
      Effect.sync(() =>
        setExit(
          checkCommand(io, runtime, {
            property: options.property,
            runs: Option.getOrUndefined(options.runs),
            seed: Option.getOrUndefined(options.seed),
            out: Option.getOrUndefined(options.out),
            report: Option.getOrUndefined(options.report),
            json: options.json,
          }),
        ),
      ),
  ).pipe(
    Command.withDescription(
      "Check a property over generated variants of a scenario (fast-check): simulate each case, shrink a failure to the smallest scenario and write it as a runnable counterexample. Exit 0 holds, 1 counterexample, 2 invalid input, 3 internal error. See docs/properties.md.",
    ),
    Command.withExamples([
      { command: "kube-netsim check properties/iptables-uniform.yaml", description: "holds: prints the cases run" },
      {
        command: "kube-netsim check properties/keepalive-after-scale.yaml --out ce/",
        description: "fails: shrinks and writes ce/counterexample.yaml",
      },
      {
        command: "kube-netsim check properties/affinity-few-clients.yaml --runs 50 --seed 7 --json",
        description: "50 cases from seed 7, the report as JSON",
      },
    ]),
  )

  const calibrate = Command.make(
    "calibrate",
    {
      out: Flag.String("out").pipe(
        Flag.withDescription("write the calibration profile (YAML, kind CalibrationProfile) to this file"),
        Flag.optional,
      ),
      quick: Flag.Boolean("quick").pipe(
        Flag.withDescription("fewer samples and rule counts: under a minute instead of several"),
        Flag.withDefault(false),
      ),
    },
    (options) =>
      Effect.promise(async () =>
        setExit(await calibrateCommand(io, { out: Option.getOrUndefined(options.out), quick: options.quick })),
      ),
  ).pipe(
    Command.withDescription(
      "Measure this machine's kernel in network namespaces it creates and removes (root): veth and bridge hop latency distributions, per-rule iptables costs (filter, nat for new flows), conntrack new/lookup, nft expression and set lookup, iptables-restore / nft -f time by rule count. Prints a table and writes a calibration profile. Exit 0 ok, 2 cannot run here (not root, a tool missing), 3 a measurement failed.",
    ),
    Command.withExamples([
      { command: "sudo kube-netsim calibrate --quick", description: "measure (under a minute) and print the table" },
      {
        command: "sudo kube-netsim calibrate --out profiles/my-machine.yaml",
        description: "the full measurement, written as a profile",
      },
    ]),
  )

  return Command.make("kube-netsim").pipe(
    Command.withDescription(
      "Deterministic packet-level simulator of the Kubernetes Service data plane. Scenario reference: docs/scenario.md",
    ),
    Command.withSubcommands([run, validate, rules, trace, compare, check, sweep, merge, calibrate]),
  )
}

/** Help goes to stdout, usage errors (with the help) to stderr, through the injected io. */
function presenter(io: CliIo): CliOutput.Presenter {
  const formatter = CliOutput.defaultFormatter({ colors: false })
  return {
    present: (event) =>
      Effect.sync(() => {
        switch (event._tag) {
          case "Help":
            io.stdout(`${formatter.formatHelpDoc(event.helpDoc)}\n`)
            return
          case "InvalidInvocation":
            io.stderr(`${formatter.formatErrors(event.errors)}\n\n${formatter.formatHelpDoc(event.helpDoc)}\n`)
            return
          case "Version":
            io.stdout(`${formatter.formatVersion(event.name, event.version)}\n`)
            return
        }
      }),
  }
}

/** Parses `argv` (without node and script), runs the command, resolves to the exit code. */
export async function runCli(
  argv: readonly string[],
  io: CliIo = processIo(),
  runtime: Runtime = defaultRuntime,
): Promise<number> {
  let exitCode: number | undefined
  const root = commands(io, runtime, (code) => {
    exitCode = code
  })
  const program = Command.runWith(root, { version: version() })(argv).pipe(
    Effect.provide(Layer.mergeAll(nodeServices, CliOutput.layerPresenter(presenter(io)))),
  )
  try {
    const exit = await Effect.runPromiseExit(program)
    if (exitCode !== undefined) return exitCode
    if (Exit.isSuccess(exit)) return EXIT_OK
    const failure = Cause.findErrorOption(exit.cause)
    if (Option.isSome(failure) && CliError.isCliError(failure.value)) {
      const error = failure.value
      // `kube-netsim` alone shows the help: not an error.
      if (error._tag === "ShowHelp" && error.errors.length === 0) return EXIT_OK
      return EXIT_INVALID_INPUT
    }
    io.stderr(`kube-netsim: internal error: ${Cause.pretty(exit.cause).split("\n")[0]}\n`)
    return EXIT_INTERNAL_ERROR
  } catch (error) {
    io.stderr(`kube-netsim: internal error: ${error instanceof Error ? error.message : String(error)}\n`)
    return EXIT_INTERNAL_ERROR
  }
}
