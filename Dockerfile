# logplane operator image.
#   docker build -t ghcr.io/logplane/logplane-operator:0.1.0 .
# Stage 1 builds the binaries on Debian 12 with the -dev packages; stage 2 is
# debian:12-slim with only the runtime libraries, running as the non-root uid
# 65532. Nothing is written to the root filesystem at run time (the chart
# mounts it read-only; /tmp is an emptyDir). The image also carries
# logplane-nofile, statically linked: the agents' init container copies it
# into the Fluent Bit pods (docs/delivery.md, "The open-files limit").

FROM debian:12 AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential pkg-config ca-certificates \
      libcurl4-openssl-dev libssl-dev libyaml-dev libjansson-dev \
      libwebsockets-dev libonig-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY pkg/ pkg/
COPY cmd/ cmd/
RUN make -j"$(nproc)" all OPT="-O2 -g" \
 && strip --strip-debug bin/logplane-operator bin/logplane bin/logplane-hub bin/logplane-nofile

FROM debian:12-slim AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libcurl4 libssl3 libyaml-0-2 libjansson4 libwebsockets17 libonig5 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*
COPY --from=build /src/bin/logplane-operator /usr/local/bin/logplane-operator
COPY --from=build /src/bin/logplane /usr/local/bin/logplane
# the live-tail hub runs from the same image (the chart's hub Deployment sets the command)
COPY --from=build /src/bin/logplane-hub /usr/local/bin/logplane-hub
# the open-files exec helper (no shared libraries: it runs inside any Fluent Bit image)
COPY --from=build /src/bin/logplane-nofile /usr/local/bin/logplane-nofile
LABEL org.opencontainers.image.title="logplane-operator" \
      org.opencontainers.image.description="Kubernetes operator for logging pipelines (Fluent Bit)" \
      org.opencontainers.image.licenses="Apache-2.0"
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/logplane-operator"]
