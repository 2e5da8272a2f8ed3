# qmpd: QMP block daemon with its HTTP/WebSocket API.
#
#   docker build -t qmpd .
#   docker run -d -e QMPD_HTTP_TOKEN="$(openssl rand -base64 32 | tr -d '/=')" \
#     -p 127.0.0.1:9797:9797 -v qmpd-data:/var/lib/qmpd qmpd
#
# The HTTP API listens on all container addresses, so qmpd refuses to start
# without a token: pass QMPD_HTTP_TOKEN, or mount a secret and override CMD with
# --http-token-file /run/secrets/qmpd_token before --http. The QMP unix socket
# is /var/lib/qmpd/qmp.sock; put images under /var/lib/qmpd/images.

FROM node:20-bookworm-slim AS build
WORKDIR /app
# Dependencies first, so the layer is reused while only sources change.
# --ignore-scripts: `prepare` would build before the sources are copied; no dependency has install scripts.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json ./
COPY src ./src
COPY schema ./schema
RUN npm run build && npm prune --omit=dev --ignore-scripts

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The JSON Schemas are read at start (argument validation, /api/v1/schema, OpenAPI).
COPY --from=build /app/schema ./schema
RUN mkdir -p /var/lib/qmpd/images && chown -R node:node /var/lib/qmpd
# The official image's unprivileged user (uid 1000).
USER node
VOLUME ["/var/lib/qmpd"]
EXPOSE 9797
# /healthz needs no token; node's fetch avoids installing curl in a slim image.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9797/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# qmpd handles SIGTERM itself (closes exports and nodes, removes its sockets), even as PID 1.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/dist/cli.js"]
CMD ["--chardev", "socket,id=qmp0,path=/var/lib/qmpd/qmp.sock,server=on,wait=off", \
     "--monitor", "chardev=qmp0", \
     "--http", "0.0.0.0:9797"]
