# rmap-sim container image.
#   docker build -t rmap-sim .
#   docker build --build-arg NODE_VERSION=22 -t rmap-sim .   (another maintained LTS line)
#   docker run --rm -p 3000:3000 rmap-sim
# Configuration is by environment variables only (src/config.ts); HOST and PORT are set below so the
# server listens on every interface inside the container.

# Major version of the Node.js LTS line used by both stages.
ARG NODE_VERSION=24

# ---- build: every dependency, TypeScript compiled to dist/ ----
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY routes ./routes
COPY schemas ./schemas
RUN npm run build

# ---- runtime: production dependencies and the compiled server only ----
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The files stay owned by root: the server only reads them.
USER node
EXPOSE 3000
# Liveness through Node's built-in fetch (the slim image has no curl).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM starts a graceful shutdown (close-with-grace, SHUTDOWN_GRACE_MS); node runs as PID 1 without
# npm in between, so the signal reaches it.
STOPSIGNAL SIGTERM
# The node flags are npm start's (see README, Performance): a 4 MiB young generation and optimizing
# compiles on the main thread keep 1,000 idle sessions under 100 MB (at some cost to large batches).
CMD ["node", "--max-semi-space-size=4", "--no-concurrent-recompilation", "dist/src/server.js"]
