# Zhiku's image. `docker compose up` (compose.yaml) runs it with PostgreSQL + pgvector.
#
# The build stage does what `make build` does (the Makefile is the one place the build is
# written down); the runtime stage is the same Debian release with what the binary needs at
# run time, and runs as an unprivileged user.

# The Go release of go.mod's go line, on the Debian release of the runtime stage: the binary
# links the C++ jieba segmenter (cgo), so it needs the same glibc and libstdc++ at run time.
FROM golang:1.26-bookworm AS build
# gojieba is C++ built through cgo, with the image's gcc/g++.
ENV CGO_ENABLED=1
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN make build
# jieba's dictionaries live in gojieba's module source, which the runtime image does not
# have: ship them beside the binary (ZHIKU_JIEBA_DICT_DIR below).
RUN mkdir -p /out \
 && cp bin/zhiku /out/zhiku \
 && cp -r "$(go list -m -f '{{.Dir}}' github.com/yanyiwu/gojieba)/deps/cppjieba/dict" /out/jieba-dict

FROM debian:bookworm-slim
# pdftotext (poppler-utils) reads PDFs; ca-certificates for https embedding, chat and rerank
# providers; curl for compose's health check.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends poppler-utils ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
# A numeric unprivileged user, so runtimes that require non-root (Kubernetes runAsNonRoot)
# can check it. /var/lib/zhiku is its home: compose keeps the generated admin key there.
RUN groupadd --system --gid 10001 zhiku \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/zhiku --create-home --shell /usr/sbin/nologin zhiku
COPY --from=build /out/zhiku /usr/local/bin/zhiku
COPY --from=build /out/jieba-dict /usr/share/zhiku/jieba
ENV ZHIKU_JIEBA_DICT_DIR=/usr/share/zhiku/jieba \
    ZHIKU_ADDR=:8080
USER 10001:10001
WORKDIR /var/lib/zhiku
EXPOSE 8080
ENTRYPOINT ["zhiku"]
CMD ["serve"]
