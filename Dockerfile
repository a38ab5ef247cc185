# syntax=docker/dockerfile:1
# One image for both roles, chosen by the command: `api` (the default) or `worker`.
#   docker build -t ods-instance-manager .
#   docker run … ods-instance-manager            # the API
#   docker run … ods-instance-manager worker     # a worker
# See docs/deployment.md.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: all dependencies, compile TypeScript to dist/ ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
# Sources (what .dockerignore lets through); `npm run build` compiles api, worker and shared
# only (tsconfig.build.json), never the tests or benchmarks, and the browser code (web/src).
COPY . .
RUN npm run build

# ---- runtime: production dependencies and the compiled API, worker and shared code only ----
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/api ./dist/api
COPY --from=build /app/dist/worker ./dist/worker
COPY --from=build /app/dist/shared ./dist/shared
# The web UI and /docs: pages and stylesheets as written, scripts as built (swagger-ui-dist is a
# production dependency, served from node_modules).
COPY --from=build /app/dist/web ./dist/web
COPY --from=build /app/web/docs/index.html /app/web/docs/docs.css ./web/docs/
COPY --from=build /app/web/public ./web/public
# The code stays root-owned and read-only to the process; only DATA_DIR is writable
# (a named volume mounted there starts with this owner and mode).
RUN mkdir -p /data && chown node:node /data && chmod 0700 /data
# METRICS_*: each process's own Prometheus listener (the worker's also answers /health/live and
# /health/ready); in a container it listens on every interface, and is published only if you say so.
ENV DATA_DIR=/data \
    HOST=0.0.0.0 \
    PORT=3000 \
    METRICS_HOST=0.0.0.0 \
    METRICS_PORT=9464
# The `node` user (uid 1000) of the official image.
USER node
EXPOSE 3000 9464
# The entry point checks the role's configuration (the API refuses the worker's secrets; a
# production worker needs ODS_SERVER_URL), then runs the role in its own process: no shell between
# the orchestrator's SIGTERM and the role's graceful shutdown.
ENTRYPOINT ["node", "dist/shared/entrypoint.js"]
CMD ["api"]
# Role-aware: the API's /health/ready on PORT, a worker's /health/live on METRICS_PORT.
# (Kubernetes ignores HEALTHCHECK and uses the probes in deploy/kubernetes.)
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["node", "dist/shared/healthcheck.js"]
