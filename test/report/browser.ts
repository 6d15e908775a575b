/**
 * Opens a report page in headless Chromium (Debian's `chromium`, driven by playwright-core) and
 * reports what a reader would see: console errors, requests other than the page itself, each
 * chart's state and its number of drawn marks. Used by the browser tests and `npm run report:png`.
 */
import { existsSync } from "node:fs"
import { pathToFileURL } from "node:url"
import { chromium, type Browser } from "playwright-core"

/** The Chromium binary: KUBE_NETSIM_CHROMIUM, else the first of the usual paths that exists. */
export function findChromium(): string | undefined {
  const fromEnv = process.env.KUBE_NETSIM_CHROMIUM
  if (fromEnv !== undefined && fromEnv !== "") return existsSync(fromEnv) ? fromEnv : undefined
  return ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].find((p) => existsSync(p))
}

export interface ChartState {
  readonly id: string
  readonly rendered: boolean
  readonly error: string | null
  /** Data marks drawn (children of Vega's `role-mark` groups: bars, lines, areas, rules, texts). */
  readonly marks: number
}

export interface PageState {
  readonly status: string | null
  readonly kind: string | null
  readonly consoleErrors: readonly string[]
  readonly pageErrors: readonly string[]
  /** Requests for anything but the page's own file. */
  readonly requests: readonly string[]
  readonly charts: readonly ChartState[]
}

export async function launch(executablePath: string): Promise<Browser> {
  return chromium.launch({
    executablePath,
    headless: true,
    // As root (CI containers) Chromium refuses to start with its sandbox.
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  })
}

/** Loads `file` and waits until every chart is drawn or failed. Optionally saves a PNG of the page. */
export async function inspectReport(
  browser: Browser,
  file: string,
  options: { png?: string; width?: number; timeoutMs?: number } = {},
): Promise<PageState> {
  const page = await browser.newPage({ viewport: { width: options.width ?? 1400, height: 900 } })
  const url = pathToFileURL(file).href
  const consoleErrors: string[] = []
  const pageErrors: string[] = []
  const requests: string[] = []
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text())
  })
  page.on("pageerror", (error) => pageErrors.push(error.message))
  page.on("request", (request) => {
    if (request.url() !== url) requests.push(request.url())
  })
  try {
    await page.goto(url, { waitUntil: "load" })
    // Page-side code as strings: the project compiles without the DOM library.
    await page.waitForFunction('document.body.getAttribute("data-report-status") !== "rendering"', undefined, {
      timeout: options.timeoutMs ?? 30_000,
    })
    const state = (await page.evaluate(`({
      status: document.body.getAttribute("data-report-status"),
      kind: document.body.getAttribute("data-report"),
      charts: [...document.querySelectorAll("figure[data-chart]")].map((figure) => ({
        id: figure.getAttribute("data-chart") ?? "",
        rendered: figure.getAttribute("data-rendered") === "true",
        error: figure.getAttribute("data-error"),
        marks: figure.querySelectorAll("svg g.role-mark > *").length,
      })),
    })`)) as Pick<PageState, "status" | "kind" | "charts">
    if (options.png !== undefined) await page.screenshot({ path: options.png, fullPage: true })
    return { ...state, consoleErrors, pageErrors, requests }
  } finally {
    await page.close()
  }
}
