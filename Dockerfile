# flashgate: static binaries in distroless images (no shell, no package
# manager, user 65532 "nonroot"), about 15 MB.
#   docker build -t flashgate .                               the gateway
#   docker build --target demo-backend -t flashgate-demo-backend .
#   docker run -p 8080:8080 -v /path/to/conf:/etc/flashgate:ro \
#     -e FLASHGATE_ADMIN_TOKEN=... flashgate
# deploy/compose.yaml runs a whole sale with these images (README: Deploying).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/flashgate ./cmd/flashgate \
 && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/demo-backend ./cmd/demo-backend

# The demo order backend, for deploy/compose.yaml and trials.
FROM gcr.io/distroless/static-debian12:nonroot AS demo-backend
COPY --from=build /out/demo-backend /usr/local/bin/demo-backend
USER nonroot:nonroot
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/demo-backend"]
CMD ["-listen", "0.0.0.0:9090"]

# The gateway (the default target). The image has no curl: its health
# check is the binary's own `flashgate health`, which reads server.listen.
FROM gcr.io/distroless/static-debian12:nonroot AS flashgate
COPY --from=build /out/flashgate /usr/local/bin/flashgate
USER nonroot:nonroot
EXPOSE 8080 8081
HEALTHCHECK --interval=5s --timeout=3s --retries=3 \
  CMD ["/usr/local/bin/flashgate", "health", "--config", "/etc/flashgate/flashgate.yaml"]
ENTRYPOINT ["/usr/local/bin/flashgate"]
CMD ["serve", "--config", "/etc/flashgate/flashgate.yaml"]
