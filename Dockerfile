# Static flashgate binary in a distroless image.
#   docker build -t flashgate .
#   docker run -p 8080:8080 -v /path/to/conf:/etc/flashgate:ro \
#     -e FLASHGATE_SERVER_LISTEN=0.0.0.0:8080 -e FLASHGATE_ADMIN_TOKEN=... flashgate
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/flashgate ./cmd/flashgate

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/flashgate /usr/local/bin/flashgate
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/flashgate"]
CMD ["serve", "--config", "/etc/flashgate/flashgate.yaml"]
