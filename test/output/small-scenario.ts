/** A small two-node scenario shared by the output tests (time series, request records, pcap). */
export function smallScenario(options: { count?: number; workload?: string; dns?: "static" | "packets" } = {}): string {
  return `
apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: outputs-small }
seed: 5
duration: 3s
cluster: { nodes: { count: 2 } }
dns: { mode: ${options.dns ?? "static"} }
manifests:
  - inline:
      - apiVersion: apps/v1
        kind: Deployment
        metadata: { name: web }
        spec:
          replicas: 3
          selector: { matchLabels: { app: web } }
          template:
            metadata: { labels: { app: web } }
            spec: { containers: [ { name: web, image: kube-netsim/http-go, ports: [ { containerPort: 8080 } ] } ] }
      - apiVersion: v1
        kind: Service
        metadata: { name: web }
        spec: { selector: { app: web }, ports: [ { port: 80, targetPort: 8080 } ] }
      - apiVersion: v1
        kind: Pod
        metadata: { name: client }
        spec: { containers: [ { name: c, image: busybox } ] }
workloads:
${
  options.workload ??
  `  - name: get
    from: pod/client
    to: http://web/
    arrival: { every: 20ms }
    count: ${options.count ?? 30}`
}
timeline:
  - { at: 2500ms, scale: deployment/web, replicas: 4 }
`
}
