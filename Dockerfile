# syntax=docker/dockerfile:1
# Multi-stage build: compile with the official Swift 6 image, run on Debian slim.
# The runtime needs libcurl (our HTTP client) and CA certificates; the Swift standard
# library and Foundation are linked statically, so no Swift runtime is installed.

ARG SWIFT_VERSION=6.3
FROM swift:${SWIFT_VERSION}-bookworm AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       libcurl4-openssl-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Resolve dependencies in their own layer so source edits do not refetch them.
COPY Package.swift ./
RUN swift package resolve
COPY Sources ./Sources
COPY Tests ./Tests
# The commit for --version and node_ipam_controller_build_info
# (docker build --build-arg GIT_COMMIT=$(git rev-parse --short HEAD) .).
ARG GIT_COMMIT=unknown
RUN printf '// Stamped by the image build.\nlet buildCommit = "%s"\n' "$GIT_COMMIT" \
       > Sources/NodeIPAMController/Generated/BuildCommit.swift
# The controller, and for the node agent DaemonSet (chart value cni.enabled) node-ipam-agent and
# the node-ipam CNI plugin it copies into the host's /opt/cni/bin (its Swift runtime is linked
# in by Package.swift, so it runs on any node).
RUN for product in node-ipam-controller node-ipam-agent node-ipam; do \
      swift build -c release --product "$product" --static-swift-stdlib \
      && install -D -m 0755 "$(swift build -c release --show-bin-path)/$product" "/out/$product" \
      && strip "/out/$product" || exit 1; \
    done

FROM debian:bookworm-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       libcurl4 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/node-ipam-controller /out/node-ipam-agent /out/node-ipam /usr/local/bin/
# Same non-root identity as the reference image (distroless "nonroot").
USER 65532:65532
EXPOSE 8081
ENTRYPOINT ["/usr/local/bin/node-ipam-controller"]
