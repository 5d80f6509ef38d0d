# syntax=docker/dockerfile:1
# rag-longctx: one image for the API (node dist/services/main.js) and the queue workers
# (node dist/services/workers/main.js). Models and data live on volumes, not in the image.

FROM node:20-slim AS build
WORKDIR /app
# hnswlib-node compiles a native addon.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
# onnxruntime-node's postinstall only fetches optional CUDA binaries from outside the npm registry.
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json .npmrc ./
# `npm install` against the committed lockfile installs the locked versions; `npm ci` refuses this lockfile
# (it lists only linux-x64 builds of optional native packages; see the README).
RUN npm install --no-audit --no-fund
COPY tsconfig.json ./
COPY infra infra
COPY model model
COPY generator generator
COPY services services
COPY indexer indexer
COPY retriever retriever
COPY compressor compressor
COPY reranker reranker
COPY eval eval
COPY bench bench
COPY test test
RUN npm run build && npm prune --omit=dev

FROM node:20-slim
WORKDIR /app
ENV NODE_ENV=production \
    PORT=8080 \
    DATA_DIR=/data \
    MODELS_DIR=/models
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
RUN mkdir -p /data /models && chown node:node /data /models
USER node
VOLUME ["/data", "/models"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Not `npm start`: that rebuilds, and npm does not forward SIGTERM reliably; node handles it (graceful drain).
CMD ["node", "dist/services/main.js"]
