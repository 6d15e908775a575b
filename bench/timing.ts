/**
 * One benny measurement of a whole-run function, as sample times: benny rounds ops/s to an integer
 * (1-2 ops/s for a whole run), so the benchmarks derive their rates from the mean sample time.
 */
import b from "benny"

export interface Timing {
  readonly secondsMean: number
  readonly secondsMedian: number
  readonly samples: number
  readonly relativeMarginOfErrorPercent: number
}

export async function timeRuns(
  suite: string,
  name: string,
  fn: () => void,
  options: { minSamples: number; maxTime: number; initCount?: number },
): Promise<Timing> {
  let timing: Timing = { secondsMean: 0, secondsMedian: 0, samples: 0, relativeMarginOfErrorPercent: 0 }
  await b.suite(
    suite,
    b.add(name, fn, options),
    b.cycle(),
    b.complete((summary) => {
      const result = summary.results[0]
      timing = {
        secondsMean: result.details.mean,
        secondsMedian: result.details.median,
        samples: result.samples,
        relativeMarginOfErrorPercent: Number(result.details.relativeMarginOfError.toFixed(2)),
      }
    }),
  )
  return timing
}
