# One image for every service: they share one dependency tree and one build, so a Raspberry Pi pulls and stores
# it once; the command names the service (`docker run IMAGE broker`, `… sys-collector`, `… all-in-one`).
# Node 22 (LTS), not 24: better-sqlite3 12 (the newest that runs on the Node 20 the project also supports) aborts
# the process on Node 24 when a prepared statement is garbage-collected (`Assertion failed: (env) != nullptr` in
# Statement::~Statement; WiseLibs/better-sqlite3#1515). The recorder crashed within seconds on node:24.
# Nothing here is architecture-specific: `npm ci` fetches or compiles the native addons (better-sqlite3,
# classic-level) for whatever platform builds it, amd64 or arm64.

FROM node:22-bookworm-slim AS build
# Compilers for native addons that have no prebuilt binary for the platform (skipped where the base has them).
RUN command -v g++ >/dev/null && command -v make >/dev/null && command -v python3 >/dev/null \
  || (apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*)
WORKDIR /src
COPY package.json package-lock.json ./
COPY packages/contracts/package.json packages/contracts/
COPY packages/service-kit/package.json packages/service-kit/
COPY packages/storage/package.json packages/storage/
COPY services/alerter/package.json services/alerter/
COPY services/all-in-one/package.json services/all-in-one/
COPY services/broker/package.json services/broker/
COPY services/docker-collector/package.json services/docker-collector/
COPY services/docker-proxy/package.json services/docker-proxy/
COPY services/gateway/package.json services/gateway/
COPY services/ollama-collector/package.json services/ollama-collector/
COPY services/probe-collector/package.json services/probe-collector/
COPY services/recorder/package.json services/recorder/
COPY services/sys-collector/package.json services/sys-collector/
COPY services/systemd-collector/package.json services/systemd-collector/
COPY web/package.json web/
RUN npm ci --no-audit --no-fund
COPY tsconfig.base.json tsconfig.json ./
COPY packages packages
COPY services services
COPY web web
COPY scripts scripts
# Keep only what runs: the bundles import their npm dependencies; better-sqlite3's sources and object files
# (~27 MB) are not needed once its addon is built.
RUN node scripts/build.mjs && npm prune --omit=dev --no-audit --no-fund \
  && rm -rf node_modules/@homelab node_modules/.cache node_modules/better-sqlite3/deps node_modules/better-sqlite3/src \
    node_modules/better-sqlite3/build/deps node_modules/better-sqlite3/build/Release/obj \
    node_modules/better-sqlite3/build/Release/obj.target node_modules/better-sqlite3/build/Release/.deps \
  && test -f node_modules/better-sqlite3/build/Release/better_sqlite3.node \
  && for d in services/*/dist; do mkdir -p "/out/$d" && cp -r "$d/." "/out/$d/"; done

FROM node:22-bookworm-slim
# journalctl, which the systemd-collector runs to read a unit's logs from the host's journal (Debian ships it only
# in the systemd package: ~26 MB; nothing of it runs but journalctl, and only while someone reads logs); ping, for
# the probe-collector's ICMP probes (Node has no raw sockets); smartctl, for the sys-collector's disk health (~2 MB,
# run every 30 minutes).
RUN apt-get update && apt-get install -y --no-install-recommends systemd iputils-ping smartmontools \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    HOMELAB_DATA_DIR=/data \
    HOMELAB_WEB_DIR=/app/web/dist \
    HOMELAB_HEALTH_FILE=/tmp/health
# A user of its own (not root); /data is its volume. Fixed ids, so compose can name them (uid:gid 10001:10001).
RUN groupadd --system --gid 10001 homelab \
  && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home homelab \
  && mkdir -p /data /app && chown homelab:homelab /data
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules node_modules
COPY --from=build /out/services services
COPY --from=build /src/web/dist web/dist
COPY scripts/run-service.mjs scripts/healthcheck.sh scripts/
USER homelab
VOLUME ["/data"]
EXPOSE 8080 1883
# Each service writes HOMELAB_HEALTH_FILE while it is connected; compose overrides this for the broker (its port)
# and the gateway (/healthz).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["bash", "/app/scripts/healthcheck.sh", "file", "/tmp/health"]
# V8 sized for a small box (the same flags as `npm start`): a 1 MB young generation instead of 16 MB (short-lived
# garbage is collected sooner, a few MB less resident in each service) and one V8 worker thread, not one per core.
ENTRYPOINT ["node", "--max-semi-space-size=1", "--v8-pool-size=1", "/app/scripts/run-service.mjs"]
CMD ["all-in-one"]
