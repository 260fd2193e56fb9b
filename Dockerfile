# The verifier image, built with Docker (or `ko build`, see .ko.yaml):
#   docker build -t registry.example.com/milvusgen-verifier:v0.1.0 .
# A static binary on distroless, running as the non-root UID 65532.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/verifier ./cmd/verifier

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/verifier /verifier
USER 65532:65532
ENTRYPOINT ["/verifier"]
