# The Coupa connector as a self-hosted service (coupa-cli's coupa-service), built without the
# simulator (`--no-default-features`) in the stripped `dist` profile.
#
#   docker build -t coupa-service .
#   docker run -p 8080:8080 -v coupa-data:/data \
#     -e SERVICE_TOKEN=... -e COUPA_DOMAIN=acme -e COUPA_CLIENT_ID=... -e COUPA_CLIENT_SECRET=... \
#     coupa-service

FROM rust:1.89.0-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --profile dist --locked -p coupa-cli --bin coupa-service --no-default-features \
 && cp target/dist/coupa-service /coupa-service

FROM debian:12.12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --create-home coupa
COPY --from=build /coupa-service /usr/local/bin/coupa-service
# glibc keeps what a thread freed in that thread's arena (up to eight per core): two arenas keep
# a sync task's peak RSS near its heap (docs/conductorone.md, "Measured").
ENV MALLOC_ARENA_MAX=2
USER 10001
WORKDIR /data
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/coupa-service", "--listen", "0.0.0.0:8080", "--out", "/data/coupa.db", "--log-format", "json"]
