# websocket-service: Socket.IO relay for 2-IMMERSE multi-screen apps.
#
#   docker build -t websocket-service .
#   docker run -p 3000:3000 websocket-service              # HTTP on port 3000
#   docker run -p 3000:3000 websocket-service --https -v   # arguments go to dist/server.js
#
# Options can also be set from the environment (WS_PORT, WS_HTTPS, WS_CORS_ORIGIN, ...; see
# README.md). The health check reads WS_PORT and WS_HTTPS, so set those rather than -p / --https.

# ---- build: compile the TypeScript sources to dist/ ----
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies and dist/ only ----
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    WS_HOST=0.0.0.0
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY LICENSE AUTHORS ./
# --https reads certs/server.pem and certs/server.crt, and writes a self-signed pair there when
# they are missing: the folder must be writable by the user the service runs as. Mount real
# certificates over /app/certs (or point WS_KEY and WS_CERT elsewhere) in production.
COPY certs/README.md ./certs/README.md
RUN chown node:node /app/certs
USER node
EXPOSE 3000
# No curl in the slim image: a small node script asks /healthcheck on WS_PORT (HTTPS when WS_HTTPS
# is set), so configure a container through the environment rather than flags.
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 CMD ["node", "dist/healthcheck.js"]
# tini forwards SIGTERM/SIGINT so the service closes its connections and exits cleanly.
# Arguments after the image name are appended: `docker run IMAGE --https -v`.
ENTRYPOINT ["/usr/bin/tini", "--", "node", "dist/server.js"]
