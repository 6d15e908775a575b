/**
 * effect/cli wiring of `sweep` and `merge` (their work is in sweep-command.ts), kept apart from
 * app.ts so that the commands other helpers add there do not collide with these.
 */
import { Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import type { CliIo, Runtime } from "./commands.ts"
import { mergeCommand, sweepCommand } from "./sweep-command.ts"

export function sweepCommands(io: CliIo, runtime: Runtime, setExit: (code: number) => void, version = "latest") {
  const sweep = Command.make(
    "sweep",
    {
      sweep: Argument.String("sweep").pipe(
        Argument.withDescription("path of the sweep file (YAML, apiVersion kube-netsim/v1, kind Sweep; docs/sweep.md)"),
      ),
      jobs: Flag.Int("jobs").pipe(
        Flag.withDescription("run the points' seeds on J worker threads (default 1); results identical to serial"),
        Flag.withDefault(1),
      ),
      shard: Flag.String("shard").pipe(
        Flag.withDescription(
          "run only shard I of N (points k with k mod N = I, I from 0); auto/N takes I from JOB_COMPLETION_INDEX (an Indexed Job's pods)",
        ),
        Flag.optional,
      ),
      out: Flag.String("out").pipe(
        Flag.withDescription(
          "directory for point-NNNN.json per point, sweep.json, sweep.csv and summary.txt (a shard: its points and shard-I-of-N.json)",
        ),
        Flag.optional,
      ),
      report: Flag.String("report").pipe(
        Flag.withDescription(
          "also write a self-contained HTML page of the metrics per point with their confidence intervals (docs/report.md)",
        ),
        Flag.optional,
      ),
      json: Flag.Boolean("json").pipe(
        Flag.withDescription("print the sweep document (sweep.json) instead of the table"),
        Flag.withDefault(false),
      ),
      quiet: Flag.Boolean("quiet").pipe(
        Flag.withDescription("no table, warnings or progress line; errors only"),
        Flag.withDefault(false),
      ),
      jobManifest: Flag.Boolean("job-manifest").pipe(
        Flag.withDescription(
          "print a ConfigMap (the sweep's files), a PersistentVolumeClaim (results) and an Indexed Job running one shard per pod, for kubectl apply; --shard auto/N sets the completions (default one per point)",
        ),
        Flag.withDefault(false),
      ),
      image: Flag.String("image").pipe(
        Flag.withDescription(
          "with --job-manifest: the container image (default kube-netsim:VERSION, built from the Dockerfile)",
        ),
        Flag.optional,
      ),
      parallelism: Flag.Int("parallelism").pipe(
        Flag.withDescription("with --job-manifest: pods running at once (default min(completions, 10))"),
        Flag.optional,
      ),
    },
    (options) =>
      Effect.sync(() =>
        setExit(
          sweepCommand(io, runtime, {
            sweep: options.sweep,
            jobs: options.jobs,
            shard: Option.getOrUndefined(options.shard),
            out: Option.getOrUndefined(options.out),
            json: options.json,
            report: Option.getOrUndefined(options.report),
            quiet: options.quiet,
            jobManifest: options.jobManifest,
            image: Option.getOrUndefined(options.image),
            parallelism: Option.getOrUndefined(options.parallelism),
            version,
          }),
        ),
      ),
  ).pipe(
    Command.withDescription(
      "Run a base scenario at every point of a grid (or list) of field overrides, each under every seed; print a table of the chosen metrics per point with 95% confidence intervals across seeds (Student's t). Exit 0 ok, 2 invalid input (file:line:column: path: message), 3 internal error. Scenario expectations are not checked. See docs/sweep.md.",
    ),
    Command.withExamples([
      { command: "kube-netsim sweep sweeps/proxy-modes-x-replicas.yaml", description: "every point, the table" },
      {
        command: "kube-netsim sweep sweeps/proxy-modes-x-replicas.yaml --jobs 4 --out results/",
        description: "4 threads; point documents, sweep.json and sweep.csv in results/",
      },
      {
        command:
          "kube-netsim sweep sweeps/proxy-modes-x-replicas.yaml --job-manifest --image registry.example/kube-netsim:0.1.0 | kubectl apply -f -",
        description: "the same sweep as a Kubernetes Indexed Job, one point per pod",
      },
      {
        command: "kube-netsim sweep sweeps/proxy-modes-x-replicas.yaml --shard 1/3 --out shard-1/",
        description: "only shard 1 of 3 (points 1, 4, 7, ...); join with kube-netsim merge",
      },
    ]),
  )

  const merge = Command.make(
    "merge",
    {
      dirs: Argument.String("dir").pipe(
        Argument.withDescription("directories holding shards' outputs (sweep --shard I/N --out DIR)"),
        Argument.variadic({ min: 1 }),
      ),
      out: Flag.String("out").pipe(
        Flag.withDescription("directory to write the merged sweep into (default: the first DIR)"),
        Flag.optional,
      ),
      report: Flag.String("report").pipe(
        Flag.withDescription(
          "also write a self-contained HTML page of the metrics per point with their confidence intervals (docs/report.md)",
        ),
        Flag.optional,
      ),
      json: Flag.Boolean("json").pipe(
        Flag.withDescription("print the sweep document instead of the table"),
        Flag.withDefault(false),
      ),
      quiet: Flag.Boolean("quiet").pipe(Flag.withDescription("print nothing but errors"), Flag.withDefault(false)),
    },
    (options) =>
      Effect.sync(() =>
        setExit(
          mergeCommand(io, {
            dirs: options.dirs,
            out: Option.getOrUndefined(options.out),
            json: options.json,
            report: Option.getOrUndefined(options.report),
            quiet: options.quiet,
          }),
        ),
      ),
  ).pipe(
    Command.withDescription(
      "Join the outputs of a sweep's shards into exactly the files a single-machine sweep writes (point documents, sweep.json, sweep.csv, summary.txt); checks that they are of one sweep and hold every point once. Exit 0 ok, 2 a point missing or shards of different sweeps.",
    ),
    Command.withExamples([
      {
        command: "kube-netsim merge shard-0/ shard-1/ shard-2/ --out results/",
        description: "three shards into results/",
      },
      { command: "kube-netsim merge /results", description: "an Indexed Job's shared output volume, in place" },
    ]),
  )

  return { sweep, merge }
}
