# Portcullis container image: one compiled executable plus redis-server.
#
#   docker build -t portcullis .
#   docker run -d --name portcullis --stop-timeout 30 \
#     -p 80:80 -p 443:443 -p 127.0.0.1:9000:9000 -v portcullis-data:/data portcullis
#   docker exec portcullis cat /data/admin-token   # the admin token generated on the first start
#   docker exec portcullis portcullis token list   # the CLI finds /data/admin-token
#
# Without REDIS_URL the gateway runs its own redis-server in /data/redis (that is
# why the image carries Debian's redis-server); with REDIS_URL it is not used.
# --stop-timeout gives Redis time to flush its AOF on `docker stop`.

# ---- build ------------------------------------------------------------------
FROM oven/bun:1.4.5 AS build
WORKDIR /src
COPY package.json bun.lock bunfig.toml ./
RUN bun install --frozen-lockfile
COPY . .
# The image has no .git: `docker build --build-arg PORTCULLIS_BUILD_COMMIT=$(git rev-parse --short=12 HEAD) .` names the commit for `portcullis version`.
ARG PORTCULLIS_BUILD_COMMIT=""
RUN bun run build

# ---- runtime ----------------------------------------------------------------
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home /data --shell /usr/sbin/nologin portcullis \
 && install -d -m 0700 -o portcullis -g portcullis /data
COPY --from=build /src/dist/portcullis /usr/local/bin/portcullis

# API_BIND: the API binds to loopback by default, which inside a container is
# unreachable from outside it; publish port 9000 only where you trust the network
# (e.g. -p 127.0.0.1:9000:9000). Ports 80/443 as a non-root user work because
# Docker lets containers bind low ports (net.ipv4.ip_unprivileged_port_start=0);
# elsewhere set HTTP_PORT/HTTPS_PORT above 1023.
# ACCESS_LOG: in a container one line per request on stdout is what log
# collectors expect (the binary's default is off).
ENV PORTCULLIS_DATA_DIR=/data \
    API_BIND=0.0.0.0 \
    SERVER_HOST=0.0.0.0 \
    ACCESS_LOG=json

USER portcullis
WORKDIR /data
VOLUME ["/data"]
EXPOSE 80 443 9000
ENTRYPOINT ["portcullis"]
CMD ["serve"]
