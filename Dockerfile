# syntax=docker/dockerfile:1
# The one Petrel image. The operator and every bot run from it; Node.js 26 runs the TypeScript sources
# as they are (type stripping), so nothing is compiled. The default command is the operator:
#
#   node operator/src/controller/main.ts                      the operator (ENTRYPOINT node + CMD)
#   node bot-runtime/src/runtime/main.ts --config FILE        a bot process (or its config as JSON in
#                                                             PETREL_BOT_CONFIG instead of --config)
#   node operator/bin/petrelctl.js …                          petrelctl, e.g. with kubectl exec
#
# In a Pod, `args: [bot-runtime/src/runtime/main.ts, --config, FILE]` keeps the ENTRYPOINT, and
# `command: [node, …]` works too: `node` is on the PATH. The runtime stage has no shell and no npm.
#   docker build -t petrel .
#   docker run --rm petrel bot-runtime/src/runtime/main.ts --config /etc/petrel/bot.json
#
# Building downloads Shadowserver's report schema (see the shadowserver-schema stage), so it needs network
# access to interchange.shadowserver.org, or --build-arg SHADOWSERVER_SCHEMA_URL=… naming a copy.

# Production dependencies only, from the lockfile. The one install script in the lockfile belongs to the
# `node` devDependency (the Node.js 26 that development uses), which is not installed here.
FROM node:26-trixie-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# Shadowserver's report schema for the Shadowserver parser. Petrel does not bundle it (Shadowserver
# publishes it for IntelMQ installations to download), so the image carries the one current when the
# image is built, downloaded and validated by `petrelctl shadowserver update-schema`. A failed download
# fails the build. SHADOWSERVER_SCHEMA_URL may name a mirror (an HTTP(S) URL serving the same document);
# HTTPS_PROXY/HTTP_PROXY build args are honoured. Docker caches this step while the sources are
# unchanged: `--no-cache-filter shadowserver-schema` downloads the current schema again.
FROM node:26-trixie-slim AS shadowserver-schema
ARG SHADOWSERVER_SCHEMA_URL=https://interchange.shadowserver.org/intelmq/v1/schema
WORKDIR /app
ENV NODE_USE_ENV_PROXY=1
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bot-runtime/src ./bot-runtime/src
COPY bots ./bots
COPY operator/src ./operator/src
COPY operator/bin ./operator/bin
RUN node operator/bin/petrelctl.js shadowserver update-schema --url "$SHADOWSERVER_SCHEMA_URL" \
        -o /var/lib/petrel/shadowserver/schema.json \
    || { echo "ERROR: the Petrel image needs Shadowserver's report schema, and downloading it from $SHADOWSERVER_SCHEMA_URL failed (see above). Build with network access, or serve a copy of the schema and pass --build-arg SHADOWSERVER_SCHEMA_URL=<its URL>." >&2; exit 1; }

# Runtime: distroless Node.js 26 on Debian 13 (glibc, like the deps stage), no shell, no package manager.
FROM gcr.io/distroless/nodejs26-debian13:nonroot
WORKDIR /app
ENV NODE_ENV=production \
    PATH=/nodejs/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PETREL_SHADOWSERVER_SCHEMA=/var/lib/petrel/shadowserver/schema.json
# Files stay owned by root and read-only for the process user; nothing under /app is written at run time.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bot-runtime/src ./bot-runtime/src
COPY bots ./bots
COPY operator/src ./operator/src
COPY operator/bin ./operator/bin
# The Shadowserver parser reads it through PETREL_SHADOWSERVER_SCHEMA (read-only, like /app).
COPY --from=shadowserver-schema /var/lib/petrel/shadowserver/schema.json /var/lib/petrel/shadowserver/schema.json
# 65532 = distroless "nonroot"; the chart and the operator's Pods run as this uid (runAsNonRoot needs a number).
USER 65532:65532
ENTRYPOINT ["node"]
CMD ["operator/src/controller/main.ts"]
