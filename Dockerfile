# websocket-service: Socket.IO relay for 2-IMMERSE multi-screen apps.
#
#   docker build -t websocket-service .
#   docker run -p 3000:3000 websocket-service              # HTTP on port 3000
#   docker run -p 3000:3000 websocket-service --https -v   # arguments go to dist/server.js
#
# Options can also be set from the environment (WEBSOCKET_SERVICE_PORT, WEBSOCKET_SERVICE_HTTPS, WEBSOCKET_SERVICE_CORS_ORIGIN, ...; see
# README.md). Flags and environment work alike for the health check: the server writes the URL it
# listens on to /tmp/websocket-service.url and the check reads it.
#
# Node 24: the active LTS (Node 20 reached end of life in April 2026); package.json `engines` still
# allows 20 and 22 for those running from source.

# ---- build: compile the TypeScript sources to dist/ ----
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the package's prepare script builds dist/, before the sources are here (and in
# the runtime stage without the compiler); no dependency has an install script.
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies and dist/ only ----
FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    WEBSOCKET_SERVICE_HOST=0.0.0.0
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY LICENSE AUTHORS ./
# --https reads certs/server.pem and certs/server.crt, and writes a self-signed pair there when
# they are missing: the folder must be writable by the user the service runs as. Mount real
# certificates over /app/certs (or point WEBSOCKET_SERVICE_KEY and WEBSOCKET_SERVICE_CERT elsewhere) in production.
COPY certs/README.md ./certs/README.md
RUN chown node:node /app/certs
USER node
EXPOSE 3000
# No curl in the slim image: a small node script asks /healthcheck at the URL the server wrote
# (falling back to WEBSOCKET_SERVICE_PORT and WEBSOCKET_SERVICE_HTTPS). While starting it probes every second, so a node is
# healthy, and Traefik routes to it, about a second after it listens. With --read-only, mount a
# tmpfs on /tmp so that the URL can be written.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --start-interval=1s --retries=3 \
    CMD ["node", "dist/healthcheck.js"]
# tini forwards SIGTERM/SIGINT so the service closes its connections and exits cleanly.
# Arguments after the image name are appended: `docker run IMAGE --https -v`.
ENTRYPOINT ["/usr/bin/tini", "--", "node", "dist/server.js"]
