# The kube-netsim image for sweeps on a Kubernetes cluster (`kube-netsim sweep --job-manifest`,
# docs/sweep.md). The CLI runs its TypeScript sources through tsx, a runtime dependency, so the
# image needs no build step: production dependencies and the sources.
#   docker build -t registry.example/kube-netsim:0.1.0 . && docker push registry.example/kube-netsim:0.1.0
FROM node:20-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY bin ./bin
COPY src ./src
COPY scenarios ./scenarios
COPY sweeps ./sweeps
# Runs as the image's unprivileged user; the Job mounts /sweep (read-only) and /results.
USER node
ENTRYPOINT ["node", "/app/bin/kube-netsim.js"]
CMD ["--help"]
