# Keyhouse in a container. The build stage installs from the lockfile, builds and drops the dev
# dependencies: the same RUN steps test/platform/production-build.spec.ts runs (it reads them from
# here), then starts the result as a non-root user. See docs/deploy.md.
ARG NODE_VERSION=22

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build
RUN npm prune --omit=dev

FROM node:${NODE_VERSION}-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    MANAGEMENT_HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/package.json /app/LICENSE /app/NOTICE ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/console/dist ./console/dist
# The embedded database (and its generated KEY_HASH_SECRET) when DATABASE_URL is unset: mount a volume here.
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
# 8080: the API, /docs, /console and health; 9464: /metrics and health (the management listener).
EXPOSE 8080 9464
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Migrations as a deploy step instead of on start: docker run ... node dist/src/migrate.js (with MIGRATIONS_RUN=false here).
CMD ["node", "dist/src/main.js"]
