# Portcullis operator recipes. `just` loads .env first (see .env.example);
# recipes run in this directory, so a relative PORTCULLIS_DATA_DIR means ./data here.

set dotenv-load
set positional-arguments
set shell := ["bash", "-euo", "pipefail", "-c"]

# Where the local gateway keeps its state, pid file and log (same default as the gateway).
data_dir := if trim(env('PORTCULLIS_DATA_DIR', '')) == '' { 'data' } else { trim(env('PORTCULLIS_DATA_DIR')) }
api_port := if trim(env('API_PORT', '')) == '' { '9000' } else { trim(env('API_PORT')) }
api_bind := if trim(env('API_BIND', '')) == '' { '127.0.0.1' } else { trim(env('API_BIND')) }
# A wildcard bind is reached over loopback; an IPv6 literal needs brackets in a URL.
api_host := if api_bind == '0.0.0.0' { '127.0.0.1' } else if api_bind == '::' { '[::1]' } else if api_bind =~ ':' { '[' + api_bind + ']' } else { api_bind }
local_api := 'http://' + api_host + ':' + api_port

# The CLI talks to API_URL; unless it is set, point it at this gateway's API_PORT.
export API_URL := if trim(env('API_URL', '')) == '' { local_api } else { trim(env('API_URL')) }

binary := justfile_directory() / 'dist' / 'portcullis'
cli := if path_exists(binary) == 'true' { quote(binary) } else { 'bun ' + quote(justfile_directory() / 'src' / 'main.ts') }

# List the recipes
default:
    @just --justfile {{ quote(justfile()) }} --list --unsorted

# List the recipes
help:
    @just --justfile {{ quote(justfile()) }} --list --unsorted

# Install Bun, just and redis-server if missing, install dependencies, build
setup:
    ./scripts/setup

# Compile the single executable dist/portcullis
build:
    bun run build

# Build dist/portcullis when it is missing or older than the sources
[private]
build-if-stale:
    #!/usr/bin/env bash
    set -euo pipefail
    if [ ! -x dist/portcullis ]; then
        echo "dist/portcullis is missing: building it"
    elif [ -n "$(find src native-tls package.json bun.lock -newer dist/portcullis -print -quit 2>/dev/null)" ]; then
        echo "dist/portcullis is older than the sources: rebuilding it"
    else
        exit 0
    fi
    bun run build

# Run the gateway in the foreground (Ctrl-C stops it and its embedded Redis)
serve: build-if-stale
    exec dist/portcullis serve

# Start the gateway in the background (pid and log in the data dir)
up: build-if-stale
    #!/usr/bin/env bash
    set -euo pipefail
    umask 077
    data={{ quote(data_dir) }}
    pidfile="$data/portcullis.pid"
    log="$data/portcullis.log"
    running() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null && { [ ! -r "/proc/$1/cmdline" ] || tr '\0' ' ' <"/proc/$1/cmdline" | grep -q portcullis; }; }

    mkdir -p "$data"
    if [ -f "$pidfile" ]; then
        pid="$(cat "$pidfile")"
        if running "$pid"; then
            echo "portcullis is already running (pid $pid); \`just restart\` restarts it, \`just down\` stops it." >&2
            exit 1
        fi
        rm -f "$pidfile"
    fi

    touch "$log"
    offset="$(wc -c <"$log")"
    rm -f "$pidfile.new"
    # setsid: a Ctrl-C in this terminal later must not reach the gateway or its Redis.
    # The child writes its own pid (setsid may fork), then becomes the gateway.
    nohup setsid bash -c 'echo $$ >"$1"; exec "$2" serve' portcullis-up "$pidfile.new" "$PWD/dist/portcullis" \
        >>"$log" 2>&1 </dev/null &
    for _ in $(seq 50); do [ -s "$pidfile.new" ] && break; sleep 0.1; done
    pid="$(cat "$pidfile.new" 2>/dev/null || true)"
    [ -n "$pid" ] || { echo "portcullis did not start; see $log" >&2; exit 1; }
    mv "$pidfile.new" "$pidfile"

    health={{ quote(local_api + '/health') }}
    status=""
    for _ in $(seq 80); do
        if ! running "$pid"; then
            echo "portcullis exited during start-up. Last lines of $log:" >&2
            tail -c +"$((offset + 1))" "$log" | tail -n 25 >&2
            rm -f "$pidfile"
            exit 1
        fi
        status="$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$health" || true)"
        [ "$status" = 200 ] && break
        sleep 0.25
    done
    if [ "$status" != 200 ]; then
        echo "portcullis (pid $pid) is running but $health did not report healthy within 20 s (last status: ${status:-none})." >&2
        echo "Last lines of $log (\`just down\` stops it):" >&2
        tail -c +"$((offset + 1))" "$log" | tail -n 25 >&2
        exit 1
    fi

    echo "portcullis is up (pid $pid); API $health"
    echo "  log:         $log   (just gateway-log; JSON lines, never the admin token)"
    if [ -n "${ADMIN_TOKEN:-}" ]; then
        echo "  admin token: ADMIN_TOKEN from the environment"
    elif tail -c +"$((offset + 1))" "$log" | grep -q '"msg":"admin token generated'; then
        # The gateway writes a generated token only to the file; show it here, to the operator's terminal.
        echo "  admin token: generated on this first start, saved to $data/admin-token (mode 0600)"
        if [ -t 1 ] && [ -r "$data/admin-token" ]; then
            echo
            echo "    $(cat "$data/admin-token")"
            echo
            echo "  (shown once here; \`cat $data/admin-token\` shows it again; set ADMIN_TOKEN to choose your own)"
        else
            echo "               read it with: cat $data/admin-token"
        fi
    else
        echo "  admin token: $data/admin-token   (cat it to read it)"
    fi

# Stop the background gateway (it stops its embedded Redis itself)
down:
    #!/usr/bin/env bash
    set -euo pipefail
    pidfile={{ quote(data_dir / 'portcullis.pid') }}
    running() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null && { [ ! -r "/proc/$1/cmdline" ] || tr '\0' ' ' <"/proc/$1/cmdline" | grep -q portcullis; }; }
    if [ ! -f "$pidfile" ]; then
        echo "portcullis is not running (no $pidfile)"
        exit 0
    fi
    pid="$(cat "$pidfile")"
    if ! running "$pid"; then
        echo "portcullis is not running (stale pid file removed)"
        rm -f "$pidfile"
        exit 0
    fi
    kill -TERM "$pid"
    # Redis flushes its AOF on the way down; give it the time the gateway allows it.
    for _ in $(seq 300); do
        running "$pid" || { rm -f "$pidfile"; echo "portcullis stopped (pid $pid)"; exit 0; }
        sleep 0.1
    done
    echo "portcullis (pid $pid) is still running 30 s after SIGTERM; see {{ data_dir }}/portcullis.log" >&2
    exit 1

# Restart the background gateway: without downtime when its supervisor runs (PORTCULLIS_WORKERS ≥ 1; rebuilds a stale binary first), else down + up
restart:
    #!/usr/bin/env bash
    set -euo pipefail
    data={{ quote(data_dir) }}
    pid="$(cat "$data/portcullis.pid" 2>/dev/null || true)"
    running() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null && { [ ! -r "/proc/$1/cmdline" ] || tr '\0' ' ' <"/proc/$1/cmdline" | grep -q portcullis; }; }
    if running "$pid" && grep -q "\"supervisor_pid\": $pid," "$data/workers.json" 2>/dev/null; then
        if [ -n "$(find src native-tls package.json bun.lock -newer dist/portcullis -print -quit 2>/dev/null)" ]; then
            echo "dist/portcullis is older than the sources: rebuilding it"
            # Built aside and renamed into place: the running workers keep executing the old file.
            bun scripts/build.ts --outfile dist/portcullis.new
            [ ! -f dist/portcullis.new.map ] || mv -f dist/portcullis.new.map dist/portcullis.map
            mv -f dist/portcullis.new dist/portcullis
        fi
        exec dist/portcullis restart
    fi
    {{ quote(just_executable()) }} --justfile {{ quote(justfile()) }} down
    exec {{ quote(just_executable()) }} --justfile {{ quote(justfile()) }} up

# Is the background gateway running, and is it healthy?
status:
    #!/usr/bin/env bash
    set -euo pipefail
    pidfile={{ quote(data_dir / 'portcullis.pid') }}
    pid="$(cat "$pidfile" 2>/dev/null || true)"
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then echo "running (pid $pid)"; else echo "not running"; fi
    curl -s -m 5 -w '\n' {{ quote(local_api + '/health') }} || { echo "no answer from {{ local_api }}/health"; exit 1; }

# Follow the background gateway's own process log (one JSON record per line: `just gateway-log | jq`); the request log is `just logs`
gateway-log lines="50":
    tail -n {{ quote(lines) }} -F {{ quote(data_dir / 'portcullis.log') }}

# Save your configuration (proxies, routes, certificates, external and Docker services, resources) as YAML: portcullis export
config-save filename="portcullis-config.yaml" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} export > {{ quote(filename) }} && echo "saved {{ filename }}"

# Apply a configuration file (force=true also deletes what the file leaves out): portcullis apply -f
config-load filename force="false" token="":
    @{{ if force == 'true' { '' } else if force == 'false' { '' } else { error('force: expected true or false, got ' + quote(force)) } }}{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} apply -f {{ quote(filename) }} {{ if force == 'true' { '--prune' } else { '' } }}

# Run the test suite (bun test); arguments pass through, e.g. `just test tests/cli`
test *args:
    bun test --timeout 30000 "$@"

# The gateway at a glance through the API: health, counts of what you can see, certificates by expiry
overview token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} status

# The CLI's version and the git commit it was built from
version:
    @{{ cli }} version

# Print a shell completion script (bash, zsh or fish), e.g. `source <(just completion bash)`
completion shell:
    @{{ cli }} completion {{ quote(shell) }}

# Show the API's /health (Redis reachability, version, uptime)
health:
    #!/usr/bin/env bash
    set -euo pipefail
    url="$API_URL/health"
    body="$(mktemp)"
    trap 'rm -f "$body"' EXIT
    code="$(curl -sS -m 10 -o "$body" -w '%{http_code}' "$url")" || { echo "no answer from $url (is the gateway up? \`just up\`)" >&2; exit 1; }
    if command -v jq >/dev/null; then jq . "$body" 2>/dev/null || cat "$body"; else cat "$body"; echo; fi
    [ "$code" = 200 ] || { echo "$url answered HTTP $code" >&2; exit 1; }

# Show the gateway's Prometheus /metrics; with a pattern, only the series whose lines match it (grep -E)
metrics pattern='':
    #!/usr/bin/env bash
    set -euo pipefail
    url="$API_URL/metrics"
    body="$(mktemp)"
    trap 'rm -f "$body"' EXIT
    code="$(curl -sS -m 10 -o "$body" -w '%{http_code}' "$url")" || { echo "no answer from $url (is the gateway up? \`just up\`)" >&2; exit 1; }
    [ "$code" = 200 ] || { echo "$url answered HTTP $code" >&2; exit 1; }
    if [ -z {{ quote(pattern) }} ]; then cat "$body"; else grep -E -- {{ quote(pattern) }} "$body" || { echo "no series match {{ pattern }}" >&2; exit 1; }; fi

# redis-cli on the gateway's Redis: the master REDIS_SENTINELS name, REDIS_URL, or the embedded server's socket
redis-cli *args:
    #!/usr/bin/env bash
    set -euo pipefail
    # The password goes through REDISCLI_AUTH, never argv where `ps` shows it.
    if [ -n "${REDIS_URL:-}" ] || [ -n "${REDIS_SENTINELS:-}" ]; then
        url="${REDIS_URL:-}" user="" pass="${REDIS_PASSWORD:-}"
        # Take user:password out of the URL (percent-decoded), as the gateway reads it.
        if [[ "$url" =~ ^(rediss?://)([^@/]*)@(.*)$ ]]; then
            url="${BASH_REMATCH[1]}${BASH_REMATCH[3]}"
            userinfo="${BASH_REMATCH[2]}"
            if [[ "$userinfo" == *:* ]]; then
                user="${userinfo%%:*}"
                raw="${userinfo#*:}"
                pass="$(printf '%b' "${raw//%/\\x}")"
            else
                user="$userinfo"
            fi
        fi
        if [ -n "${REDIS_SENTINELS:-}" ]; then
            # As the gateway does: the master the sentinels name now, in REDIS_URL's database (its host is not used).
            db=0
            if [[ "$url" =~ ^rediss?://[^/]*/([0-9]+)$ ]]; then db="${BASH_REMATCH[1]}"; fi
            master_host="" master_port=""
            for sentinel in ${REDIS_SENTINELS//,/ }; do
                if [[ "$sentinel" =~ ^\[(.+)\](:([0-9]+))?$ ]] || [[ "$sentinel" =~ ^([^:]+)(:([0-9]+))?$ ]]; then
                    reply="$(env -u REDISCLI_AUTH ${REDIS_SENTINEL_PASSWORD:+REDISCLI_AUTH="$REDIS_SENTINEL_PASSWORD"} \
                        redis-cli --no-auth-warning -h "${BASH_REMATCH[1]}" -p "${BASH_REMATCH[3]:-26379}" --raw \
                        SENTINEL get-master-addr-by-name "${REDIS_SENTINEL_NAME:-}" 2>/dev/null)" || reply=""
                    if [[ "$reply" =~ ^([^[:space:]]+)[[:space:]]+([0-9]+)[[:space:]]*$ ]]; then
                        master_host="${BASH_REMATCH[1]}" master_port="${BASH_REMATCH[2]}"
                        break
                    fi
                fi
            done
            if [ -z "$master_port" ]; then
                echo "no sentinel in REDIS_SENTINELS named the master of \"${REDIS_SENTINEL_NAME:-}\" (REDIS_SENTINEL_NAME, REDIS_SENTINEL_PASSWORD?)" >&2
                exit 1
            fi
            if [ -n "$pass" ]; then export REDISCLI_AUTH="$pass"; fi
            exec redis-cli -h "$master_host" -p "$master_port" -n "$db" ${user:+--user "$user"} "$@"
        fi
        if [ -n "$pass" ]; then export REDISCLI_AUTH="$pass"; fi
        exec redis-cli -u "$url" ${user:+--user "$user"} "$@"
    fi
    dir={{ quote(data_dir / 'redis') }}
    if [ -n "${REDIS_PASSWORD:-}" ]; then
        REDISCLI_AUTH="$REDIS_PASSWORD"
    elif [ -r "$dir/password" ]; then
        REDISCLI_AUTH="$(cat "$dir/password")"
    else
        echo "no $dir/password: has the gateway run with this data dir? (or set REDIS_URL)" >&2
        exit 1
    fi
    export REDISCLI_AUTH
    exec redis-cli -s "$dir/redis.sock" "$@"

# Back up this machine's gateway to one archive (Redis snapshot, secrets.key, admin-token; mode 0600: it holds secrets)
backup file:
    @{{ cli }} backup {{ quote(if file =~ '^/' { file } else { invocation_directory() / file }) }}

# Restore a backup into this data dir and Redis, with the gateway stopped; force=true replaces what is there
restore file force="":
    @{{ cli }} restore {{ quote(if file =~ '^/' { file } else { invocation_directory() / file }) }} \
        {{ if force == 'true' { '--force' } else if force == 'false' { '' } else if force == '' { '' } else { error('force: expected true or false, got ' + quote(force)) } }}

# Create a token (admin only) and print it in full
token-generate name email="" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} token generate {{ quote(name) }} {{ if email != '' { quote(email) } else { '' } }}

# Create a token (admin only) with a role: service-owner (default), viewer (read-only) or admin; print it in full
token-create name role="service-owner" email="" token="":
    @{{ if role =~ '^(admin|service-owner|viewer|user)$' { '' } else { error('role: expected admin, service-owner or viewer, got ' + quote(role)) } }}{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} token create {{ quote(name) }} --role {{ quote(role) }}{{ if email != '' { ' --email ' + quote(email) } else { '' } }}

# Create a cluster API key (admin only; shown once); cluster defaults to the gateway's CLUSTER_NAME
cluster-key-create name cluster="" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} cluster key create {{ quote(name) }}{{ if cluster != '' { ' --cluster ' + quote(cluster) } else { '' } }}

# List the cluster API keys (previews, never the keys)
cluster-key-list token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} cluster key list

# Delete a cluster API key: it stops working at once on every node
cluster-key-delete name token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} cluster key delete {{ quote(name) }}

# Print a token in full (owner or admin)
token-show name token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} token show {{ quote(name) }}

# List the tokens you can see
token-list token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} token list

# Delete a token and every resource it owns (lists them and asks first; yes=true skips the question)
token-delete name token="" yes="":
    @{{ if yes == 'true' { '' } else if yes == 'false' { '' } else if yes == '' { '' } else { error('yes: expected true or false, got ' + quote(yes)) } }}{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} token delete {{ quote(name) }}{{ if yes == 'true' { ' --yes' } else { '' } }}

# Set the certificate email of a token
token-email name email token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} token email {{ quote(name) }} {{ quote(email) }}

# Put the portcullis command on PATH: /usr/local/bin when writable (root), else ~/.local/bin; or the directory given
install dir="": build-if-stale
    #!/usr/bin/env bash
    set -euo pipefail
    dir={{ quote(dir) }}
    if [ -z "$dir" ]; then
        if [ -w /usr/local/bin ]; then dir=/usr/local/bin; else dir="$HOME/.local/bin"; fi
    fi
    mkdir -p "$dir"
    # A copy, not a link: `just build` replacing dist/portcullis never changes a running installed binary under it.
    install -m 0755 dist/portcullis "$dir/portcullis.new"
    mv -f "$dir/portcullis.new" "$dir/portcullis"
    echo "installed $dir/portcullis"
    case ":$PATH:" in
        *":$dir:"*) ;;
        *) echo "note: $dir is not on your PATH; add it (e.g. echo 'export PATH=\"$dir:\$PATH\"' >> ~/.bashrc) or run $dir/portcullis" ;;
    esac

# Install as a systemd service: binary, user, /var/lib/portcullis, env file, unit
install-systemd: build-if-stale
    #!/usr/bin/env bash
    set -euo pipefail
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "install-systemd needs root (or sudo)" >&2; exit 1; }
        sudo="sudo"
    fi
    echo "==> /usr/local/bin/portcullis"
    # Aside, then renamed: the running workers keep the old file; the next ones start from the new one.
    $sudo install -m 0755 dist/portcullis /usr/local/bin/portcullis.new
    $sudo mv -f /usr/local/bin/portcullis.new /usr/local/bin/portcullis
    if id -u portcullis >/dev/null 2>&1; then
        echo "==> user portcullis exists"
    else
        echo "==> creating system user portcullis"
        $sudo useradd --system --home /var/lib/portcullis --shell /usr/sbin/nologin --user-group portcullis
    fi
    echo "==> /var/lib/portcullis (portcullis, 0700)"
    $sudo install -d -m 0700 -o portcullis -g portcullis /var/lib/portcullis
    $sudo install -d -m 0755 /etc/portcullis
    if $sudo test -e /etc/portcullis/portcullis.env; then
        echo "==> /etc/portcullis/portcullis.env exists: left as it is"
    else
        echo "==> /etc/portcullis/portcullis.env (root:portcullis, 0640): edit it, then restart the service"
        $sudo install -m 0640 -o root -g portcullis docs/systemd/portcullis.env /etc/portcullis/portcullis.env
    fi
    echo "==> /etc/sysctl.d/60-portcullis.conf (net.ipv4.tcp_migrate_req = 1: fast HTTPS certificate swaps)"
    $sudo install -m 0644 docs/systemd/60-portcullis.conf /etc/sysctl.d/60-portcullis.conf
    $sudo sysctl -q -w net.ipv4.tcp_migrate_req=1 || echo "    could not set it now (kernel older than 5.14?); HTTPS still works, through a relay"
    echo "==> /etc/systemd/system/portcullis.service"
    $sudo install -m 0644 docs/systemd/portcullis.service /etc/systemd/system/portcullis.service
    if [ -d /run/systemd/system ]; then
        $sudo systemctl daemon-reload
        if $sudo systemctl is-active --quiet portcullis; then
            # An upgrade: new workers start from the new binary before the old ones drain (docs/operations.md).
            $sudo systemctl reload portcullis
            echo "portcullis was running: reloaded (zero-downtime restart onto the new binary)"
        fi
        $sudo systemctl enable --now portcullis
        echo "portcullis is enabled and started: systemctl status portcullis; journalctl -u portcullis"
        echo "The admin token (if generated) is in /var/lib/portcullis/admin-token."
    else
        echo "systemd is not running here; once it is, run:"
        echo "  systemctl daemon-reload && systemctl enable --now portcullis"
    fi

# Build the container image portcullis (needs a Docker engine)
docker-build:
    docker build -t portcullis .

# Benchmark direct vs nginx vs Portcullis over loopback (needs wrk, nginx); rewrites docs/benchmarks.md. E.g. `just bench --duration 5`
bench *args: build-if-stale
    bun bench/run.ts "$@"

# How close minimal Bun proxies and Portcullis get to nginx, with each proxy's CPU per request (prints only). E.g. `just bench-ceiling --rounds 5`
bench-ceiling *args: build-if-stale
    bun bench/ceiling.ts "$@"

# The PROXY protocol path's cost in the gateway's CPU per request: nginx stream to HTTP_PORT vs to PROXY_PROTOCOL_PORT, alternating rounds (prints only). E.g. `just bench-proxy-protocol --rounds 10`
bench-proxy-protocol *args: build-if-stale
    bun bench/proxy-protocol-cpu.ts "$@"

# One environment setting's (or, with --base-binary, one build's) effect on the gateway's CPU and page faults per request: two gateways in alternating rounds, scenario (a) or --scenario e (prints only). E.g. `just bench-setting --base MIMALLOC_PURGE_DELAY=10 --candidate MIMALLOC_PURGE_DELAY=-1 --rounds 12 --pin`
bench-setting *args: build-if-stale
    bun bench/setting-ab.ts "$@"

# HTTPS keep-alive and new TLS handshakes, Portcullis vs nginx with the same certificate (prints only). E.g. `just bench-https --rounds 3`
bench-https *args: build-if-stale
    bun bench/https.ts "$@"

# What the request log costs: the same proxy with REQUEST_LOG=false vs the default, gateway and Redis CPU µs per request, Redis memory per million records (prints only). E.g. `just bench-request-log --rounds 5`
bench-request-log *args: build-if-stale
    bun bench/request-log.ts "$@"

# The request log's cost per record in one process, no HTTP: the request path (draft, queue push) and the flush to Redis apart, plus Redis CPU (prints only). E.g. `just bench-request-log-cost --batch 256` (default 1024, the writer's own flush size)
bench-request-log-cost *args:
    bun bench/request-log-cost.ts "$@"

# What the MCP edge costs on an authenticated tools/call: auth only vs per-tool policy vs policy + rate limit vs 2026-07-28 header checks, CPU µs per request (prints only). E.g. `just bench-mcp --rounds 3`
bench-mcp *args: build-if-stale
    bun bench/mcp-profile.ts "$@"

# What legacy MCP session affinity costs: a tools/call without a session vs with a sealed Mcp-Session-Id, CPU µs per request (prints only). E.g. `just bench-mcp-sessions --rounds 3`
bench-mcp-sessions *args: build-if-stale
    bun bench/mcp-sessions.ts "$@"

# ---- Proxy targets and routes (wrap `portcullis proxy …` and `portcullis route …`) ----
# Booleans are "true" or "false"; "" leaves the server's default.

# `just proxy create …`, `just proxy auth-show …`, …: the proxy-* recipes spelled as subcommands
mod proxy 'just/proxy.just'

# Create a proxy target; staging and email are for the certificate the gateway requests for it
proxy-create hostname target-url staging="" preserve-host="" enable-http="" enable-https="" email="" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} proxy create {{ quote(hostname) }} {{ quote(target-url) }} \
        {{ if staging == 'true' { '--staging' } else if staging == 'false' { '--no-staging' } else if staging == '' { '' } else { error('staging: expected true or false, got ' + quote(staging)) } }} \
        {{ if preserve-host == 'true' { '--preserve-host' } else if preserve-host == 'false' { '--no-preserve-host' } else if preserve-host == '' { '' } else { error('preserve-host: expected true or false, got ' + quote(preserve-host)) } }} \
        {{ if enable-http == 'true' { '--enable-http' } else if enable-http == 'false' { '--no-enable-http' } else if enable-http == '' { '' } else { error('enable-http: expected true or false, got ' + quote(enable-http)) } }} \
        {{ if enable-https == 'true' { '--enable-https' } else if enable-https == 'false' { '--no-enable-https' } else if enable-https == '' { '' } else { error('enable-https: expected true or false, got ' + quote(enable-https)) } }} \
        {{ if email != '' { '--email ' + quote(email) } else { '' } }}

# List the proxies you can see
proxy-list token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} proxy list

# Show every setting of a proxy
proxy-show hostname token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} proxy show {{ quote(hostname) }}

# Delete a proxy; delete-cert also deletes its certificate, force even if other proxies use it
proxy-delete hostname delete-cert="" force="" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} proxy delete {{ quote(hostname) }} \
        {{ if delete-cert == 'true' { '--delete-cert' } else if delete-cert == 'false' { '' } else if delete-cert == '' { '' } else { error('delete-cert: expected true or false, got ' + quote(delete-cert)) } }} \
        {{ if force == 'true' { '--force' } else if force == 'false' { '' } else if force == '' { '' } else { error('force: expected true or false, got ' + quote(force)) } }}

# List the routes you can see, highest priority first
route-list token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} route list

# Show a route in JSON
route-show route-id token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} --format json route show {{ quote(route-id) }}

# Create a route (scope: the server default, global); target-type is url or service
route-create path target-type target-value priority="50" methods="" is-regex="false" description="" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} route create {{ quote(path) }} {{ quote(target-type) }} {{ quote(target-value) }} \
        {{ if priority != '' { '--priority ' + quote(priority) } else { '' } }} \
        {{ if methods != '' { '--methods ' + quote(methods) } else { '' } }} \
        {{ if is-regex == 'true' { '--regex' } else if is-regex == 'false' { '' } else if is-regex == '' { '' } else { error('is-regex: expected true or false, got ' + quote(is-regex)) } }} \
        {{ if description != '' { '--description ' + quote(description) } else { '' } }}

# Delete a route
route-delete route-id token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} route delete {{ quote(route-id) }}

# Create a global route: it applies to every proxy (admin only)
route-create-global path target-type target-value priority="50" methods="" is-regex="false" description="" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} route create {{ quote(path) }} {{ quote(target-type) }} {{ quote(target-value) }} --scope global \
        {{ if priority != '' { '--priority ' + quote(priority) } else { '' } }} \
        {{ if methods != '' { '--methods ' + quote(methods) } else { '' } }} \
        {{ if is-regex == 'true' { '--regex' } else if is-regex == 'false' { '' } else if is-regex == '' { '' } else { error('is-regex: expected true or false, got ' + quote(is-regex)) } }} \
        {{ if description != '' { '--description ' + quote(description) } else { '' } }}

# Create a route for the proxies listed (comma-separated hostnames)
route-create-proxy path target-type target-value proxies priority="50" methods="" is-regex="false" description="" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} route create {{ quote(path) }} {{ quote(target-type) }} {{ quote(target-value) }} --scope proxy --proxies {{ quote(proxies) }} \
        {{ if priority != '' { '--priority ' + quote(priority) } else { '' } }} \
        {{ if methods != '' { '--methods ' + quote(methods) } else { '' } }} \
        {{ if is-regex == 'true' { '--regex' } else if is-regex == 'false' { '' } else if is-regex == '' { '' } else { error('is-regex: expected true or false, got ' + quote(is-regex)) } }} \
        {{ if description != '' { '--description ' + quote(description) } else { '' } }}

# List routes filtered by scope: all, global or proxy
route-list-by-scope scope="all" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} route list --scope {{ quote(scope) }}

# ---- Docker services (wrap `portcullis service …`) ----

# List Docker services (owned-only=true: only the ones your token created)
service-list owned-only="false" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} service list {{ if owned-only == 'true' { '--owned-only' } else if owned-only == 'false' { '' } else if owned-only == '' { '' } else { error('owned-only: expected true or false, got ' + quote(owned-only)) } }}

# Show a Docker service in JSON
service-show name token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} --format json service show {{ quote(name) }}

# Create and start a Docker service from an image the engine has, or built from a Dockerfile inside the gateway's DOCKER_BUILD_DIR (dockerfile=PATH; give one of image and dockerfile); auto-proxy=true then runs service proxy-create
service-create name image="" dockerfile="" port="" memory="" cpu="" auto-proxy="false" token="":
    @{{ if image == '' { if dockerfile == '' { error('image, dockerfile: give one (an image the engine has, or a Dockerfile path inside the DOCKER_BUILD_DIR of the gateway)') } else { '' } } else if dockerfile != '' { error('image, dockerfile: give one of them, not both') } else { '' } }}{{ if auto-proxy == 'true' { '' } else if auto-proxy == 'false' { '' } else if auto-proxy == '' { '' } else { error('auto-proxy: expected true or false, got ' + quote(auto-proxy)) } }}{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} service create {{ quote(name) }} {{ if image != '' { quote(image) } else { '--dockerfile ' + quote(dockerfile) } }} \
        {{ if port != '' { '--port ' + quote(port) } else { '' } }} \
        {{ if memory != '' { '--memory ' + quote(memory) } else { '' } }} \
        {{ if cpu != '' { '--cpu ' + quote(cpu) } else { '' } }} \
        {{ if auto-proxy == 'true' { '&& ' + cli + (if token != '' { ' --token ' + quote(token) } else { '' }) + ' service proxy-create ' + quote(name) } else { '' } }}

# Create and start a Docker service with its port published on a host port the gateway allocates (exposed range 11000-65535); see service-port-list
service-create-exposed name image port bind-address="" memory="" cpu="" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} service create {{ quote(name) }} {{ quote(image) }} --port {{ quote(port) }} --expose \
        {{ if bind-address != '' { '--bind-address ' + quote(bind-address) } else { '' } }} \
        {{ if memory != '' { '--memory ' + quote(memory) } else { '' } }} \
        {{ if cpu != '' { '--cpu ' + quote(cpu) } else { '' } }}

# Delete a Docker service and its container (force=true: even while it runs or routes use it; delete-proxy=true: also your own proxies to it)
service-delete name force="false" delete-proxy="false" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} service delete {{ quote(name) }} \
        {{ if force == 'true' { '--force' } else if force == 'false' { '' } else if force == '' { '' } else { error('force: expected true or false, got ' + quote(force)) } }} \
        {{ if delete-proxy == 'true' { '--delete-proxy' } else if delete-proxy == 'false' { '' } else if delete-proxy == '' { '' } else { error('delete-proxy: expected true or false, got ' + quote(delete-proxy)) } }}

# Print a Docker service's last lines of output (default 100; timestamps=true: with the engine's timestamps)
service-logs name lines="100" timestamps="false" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} service logs {{ quote(name) }} \
        {{ if lines != '' { '--lines ' + quote(lines) } else { '' } }} \
        {{ if timestamps == 'true' { '--timestamps' } else if timestamps == 'false' { '' } else if timestamps == '' { '' } else { error('timestamps: expected true or false, got ' + quote(timestamps)) } }}

# One resource sample of a running Docker service (CPU %, memory, network and block I/O)
service-stats name token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} service stats {{ quote(name) }}

# Create a proxy to a Docker service: {name}.{BASE_DOMAIN} unless hostname is given (enable-https=false: HTTP only)
service-proxy-create name hostname="" enable-https="true" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} service proxy-create {{ quote(name) }} \
        {{ if hostname != '' { '--hostname ' + quote(hostname) } else { '' } }} \
        {{ if enable-https == 'true' { '--https' } else if enable-https == 'false' { '--no-https' } else if enable-https == '' { '' } else { error('enable-https: expected true or false, got ' + quote(enable-https)) } }}

# Remove orphaned Docker service containers (labelled portcullis.managed=true, no service) and services whose container is gone (admin)
service-cleanup token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} service cleanup

# Start a Docker service's container
service-start name token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} service start {{ quote(name) }}

# Stop a Docker service's container
service-stop name token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} service stop {{ quote(name) }}

# Restart a Docker service's container
service-restart name token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} service restart {{ quote(name) }}

# Update a Docker service: its container is recreated with the new image and/or limits (ports and proxies kept; for env, command, networks: portcullis service update)
service-update name image="" memory="" cpu="" token="":
    @{{ if image == '' { if memory == '' { if cpu == '' { error('service-update: give image, memory or cpu') } else { '' } } else { '' } } else { '' } }}{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} service update {{ quote(name) }} \
        {{ if image != '' { '--image ' + quote(image) } else { '' } }} \
        {{ if memory != '' { '--memory ' + quote(memory) } else { '' } }} \
        {{ if cpu != '' { '--cpu ' + quote(cpu) } else { '' } }}

# ---- Certificates (wrap `portcullis cert …`) ----

# Request a certificate for a domain (ACME, issued in the background); staging is true or false
cert-create name domain staging="" email="" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} cert create {{ quote(name) }} {{ quote(domain) }} \
        {{ if staging == 'true' { '--staging' } else if staging == 'false' { '--no-staging' } else if staging == '' { '' } else { error('staging: expected true or false, got ' + quote(staging)) } }} \
        {{ if email != '' { '--email ' + quote(email) } else { '' } }}

# List the certificates you can see
cert-list token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} cert list

# Show a certificate and its chain; pem=true also prints the private key
cert-show name pem="" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} cert show {{ quote(name) }} \
        {{ if pem == 'true' { '--pem' } else if pem == 'false' { '' } else if pem == '' { '' } else { error('pem: expected true or false, got ' + quote(pem)) } }}

# Show where a certificate's issuance or renewal stands
cert-status name token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} cert status {{ quote(name) }}

# Renew a certificate now (in the background; cert-status follows it)
cert-renew name token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} cert renew {{ quote(name) }}

# Delete a certificate; force=true even if proxies use it (they fall back to the default certificate)
cert-delete name force="" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} cert delete {{ quote(name) }} \
        {{ if force == 'true' { '--force' } else if force == 'false' { '' } else if force == '' { '' } else { error('force: expected true or false, got ' + quote(force)) } }}

# Print the local CA's root certificate (PEM) that signs certificates for internal names: `just cert-root > portcullis-root.pem`, then trust it
cert-root token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} cert root

# ---- OAuth (wrap `portcullis oauth …` and `portcullis proxy oauth-server-…|github-oauth-…`) ----
# The OAuth admin API needs the admin token. Lists are comma-separated; booleans are "true" or "false"; "" leaves a value as it is.

# Print a new signing key for OAUTH_JWT_PRIVATE_KEY_B64 (made locally: no gateway or token needed): RS256 (RSA-2048) or ES256 (EC P-256)
oauth-key-generate algorithm="RS256":
    @{{ cli }} oauth key-generate --algorithm {{ quote(algorithm) }}

# Show the current signing key's kid and the published JWKS
oauth-keys token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} oauth keys

# Make a new signing key current on every node (a key from OAUTH_JWT_PRIVATE_KEY_B64 is rotated by changing it)
oauth-key-rotate token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} oauth key-rotate

# Create the global routes (priority 95) that send /authorize, /token, … on every proxy to auth.<domain>; safe to run again. Optional: proxies with auth on or a resource_endpoint serve them already
oauth-routes-setup domain token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} oauth routes-setup {{ quote(domain) }}

# Register an OAuth client (default redirect URI http://127.0.0.1/callback); its secret is shown only now
oauth-client-register name redirect-uri="" scope="" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} oauth client-register {{ quote(name) }} \
        {{ if redirect-uri != '' { '--redirect-uri ' + quote(redirect-uri) } else { '' } }} \
        {{ if scope != '' { '--scope ' + quote(scope) } else { '' } }}

# List OAuth clients; active-only=true leaves out expired ones
oauth-clients-list active-only="" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} oauth clients-list \
        {{ if active-only == 'true' { '--active-only' } else if active-only == 'false' { '' } else if active-only == '' { '' } else { error('active-only: expected true or false, got ' + quote(active-only)) } }}

# Show one OAuth client
oauth-client-show client-id token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} oauth client-show {{ quote(client-id) }}

# Delete an OAuth client and revoke its sessions
oauth-client-delete client-id token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} oauth client-delete {{ quote(client-id) }}

# List active sessions (logins and their refresh tokens)
oauth-sessions-list token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} oauth sessions-list

# Revoke a session: its refresh token and every access token it issued
oauth-session-revoke session-id token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} oauth session-revoke {{ quote(session-id) }}

# Mint an access token for an MCP server (its URL becomes the token's audience) and print a curl that uses it
oauth-test-tokens server-url token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} oauth test-tokens {{ quote(server-url) }}

# The authorization server at a glance: issuer, upstream, signing key, counts
oauth-status token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} oauth status

# Can the authorization server work (signing key, upstream credentials, Redis)? Fails when degraded
oauth-health token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} oauth health

# Set some of a proxy's authorization server metadata; fields left "" keep their values
proxy-oauth-server-set hostname issuer="" scopes="" grant-types="" response-types="" token-auth-methods="" claims="" pkce-required="" custom-metadata="" override-defaults="" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} proxy oauth-server-set {{ quote(hostname) }} \
        {{ if issuer != '' { '--issuer ' + quote(issuer) } else { '' } }} \
        {{ if scopes != '' { '--scopes ' + quote(scopes) } else { '' } }} \
        {{ if grant-types != '' { '--grant-types ' + quote(grant-types) } else { '' } }} \
        {{ if response-types != '' { '--response-types ' + quote(response-types) } else { '' } }} \
        {{ if token-auth-methods != '' { '--token-auth-methods ' + quote(token-auth-methods) } else { '' } }} \
        {{ if claims != '' { '--claims ' + quote(claims) } else { '' } }} \
        {{ if pkce-required == 'true' { '--pkce-required' } else if pkce-required == 'false' { '--no-pkce-required' } else if pkce-required == '' { '' } else { error('pkce-required: expected true or false, got ' + quote(pkce-required)) } }} \
        {{ if custom-metadata != '' { '--custom-metadata ' + quote(custom-metadata) } else { '' } }} \
        {{ if override-defaults == 'true' { '--override-defaults' } else if override-defaults == 'false' { '--no-override-defaults' } else if override-defaults == '' { '' } else { error('override-defaults: expected true or false, got ' + quote(override-defaults)) } }}

# Show a proxy's authorization server settings and the metadata they produce
proxy-oauth-server-show hostname token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} proxy oauth-server-show {{ quote(hostname) }}

# Reset a proxy's authorization server settings to the defaults
proxy-oauth-server-clear hostname token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} proxy oauth-server-clear {{ quote(hostname) }}

# Give a proxy its own GitHub OAuth app; client-secret "-" reads it from stdin (out of shell history)
proxy-github-oauth-set hostname client-id client-secret token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} proxy github-oauth-set {{ quote(hostname) }} {{ quote(client-id) }} {{ quote(client-secret) }}

# Show a proxy's GitHub OAuth app (client ID, and whether a secret is set; never the secret)
proxy-github-oauth-show hostname token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} proxy github-oauth-show {{ quote(hostname) }}

# Remove a proxy's own GitHub OAuth app (its users log in through the default app)
proxy-github-oauth-clear hostname token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} proxy github-oauth-clear {{ quote(hostname) }}

# List the proxies with their own GitHub OAuth app
proxy-github-oauth-list token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} proxy github-oauth-list

# ---- Edge authentication and protected resources (wrap `portcullis proxy auth-…|resource-…` and `portcullis resource …`) ----
# Lists are comma-separated; booleans are "true" or "false"; "" leaves a value as it is.

# Require OAuth tokens on a proxy; mode is forward, redirect or passthrough (auth-proxy default: the gateway's own)
proxy-auth-enable hostname auth-proxy="" mode="" allowed-scopes="" allowed-audiences="" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} proxy auth-enable {{ quote(hostname) }} \
        {{ if auth-proxy != '' { '--auth-proxy ' + quote(auth-proxy) } else { '' } }} \
        {{ if mode == 'forward' { '--mode forward' } else if mode == 'redirect' { '--mode redirect' } else if mode == 'passthrough' { '--mode passthrough' } else if mode == '' { '' } else { error('mode: expected forward, redirect or passthrough, got ' + quote(mode)) } }} \
        {{ if allowed-scopes != '' { '--allowed-scopes ' + quote(allowed-scopes) } else { '' } }} \
        {{ if allowed-audiences != '' { '--allowed-audiences ' + quote(allowed-audiences) } else { '' } }}

# Stop requiring tokens on a proxy (its auth settings are kept)
proxy-auth-disable hostname token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} proxy auth-disable {{ quote(hostname) }}

# Who may get in: users ("*" = everyone; all arguments "" = back to OAUTH_ALLOWED_GITHUB_USERS), emails (*@domain), groups, scopes, audiences
proxy-auth-config hostname users="" emails="" groups="" allowed-scopes="" allowed-audiences="" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} proxy auth-config {{ quote(hostname) }} \
        {{ if users != '' { '--users ' + quote(users) } else if emails + groups + allowed-scopes + allowed-audiences == '' { "--users ''" } else { '' } }} \
        {{ if emails != '' { '--emails ' + quote(emails) } else { '' } }} \
        {{ if groups != '' { '--groups ' + quote(groups) } else { '' } }} \
        {{ if allowed-scopes != '' { '--allowed-scopes ' + quote(allowed-scopes) } else { '' } }} \
        {{ if allowed-audiences != '' { '--allowed-audiences ' + quote(allowed-audiences) } else { '' } }}

# Show a proxy's auth settings and the users they let in
proxy-auth-show hostname token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} proxy auth-show {{ quote(hostname) }}

# Set a proxy's protected resource metadata (RFC 9728); server-info and custom-metadata are JSON objects; hacker-one-research sets the X-HackerOne-Research response header
proxy-resource-set hostname endpoint="" scopes="" stateful="" override-backend="" bearer-methods="" doc-suffix="" server-info="" custom-metadata="" hacker-one-research="" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} proxy resource-set {{ quote(hostname) }} \
        {{ if endpoint != '' { '--endpoint ' + quote(endpoint) } else { '' } }} \
        {{ if scopes != '' { '--scopes ' + quote(scopes) } else { '' } }} \
        {{ if stateful == 'true' { '--stateful' } else if stateful == 'false' { '--no-stateful' } else if stateful == '' { '' } else { error('stateful: expected true or false, got ' + quote(stateful)) } }} \
        {{ if override-backend == 'true' { '--override-backend' } else if override-backend == 'false' { '--no-override-backend' } else if override-backend == '' { '' } else { error('override-backend: expected true or false, got ' + quote(override-backend)) } }} \
        {{ if bearer-methods != '' { '--bearer-methods ' + quote(bearer-methods) } else { '' } }} \
        {{ if doc-suffix != '' { '--doc-suffix ' + quote(doc-suffix) } else { '' } }} \
        {{ if server-info != '' { '--server-info ' + quote(server-info) } else { '' } }} \
        {{ if custom-metadata != '' { '--custom-metadata ' + quote(custom-metadata) } else { '' } }} \
        {{ if hacker-one-research != '' { '--hacker-one-research ' + quote(hacker-one-research) } else { '' } }}

# Clear a proxy's protected resource metadata
proxy-resource-clear hostname token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} proxy resource-clear {{ quote(hostname) }}

# Show a proxy's protected resource settings and the metadata document clients get
proxy-resource-show hostname token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} proxy resource-show {{ quote(hostname) }}

# List the proxies that serve protected resource metadata
proxy-resource-list token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} proxy resource-list

# What the edge enforces at a proxy's MCP endpoint: tool-scopes and method-scopes as "whoami=mcp:admin;delete_*=files:write", filter-tools true or false, allowed-origins a list of origins, rate-limits as "search=60/minute;method:resources/read=10/second"
proxy-mcp-set hostname tool-scopes="" method-scopes="" filter-tools="" allowed-origins="" rate-limits="" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} proxy mcp-set {{ quote(hostname) }} \
        {{ if tool-scopes != '' { '--tool-scopes ' + quote(tool-scopes) } else { '' } }} \
        {{ if method-scopes != '' { '--method-scopes ' + quote(method-scopes) } else { '' } }} \
        {{ if filter-tools == 'true' { '--filter-tools' } else if filter-tools == 'false' { '--no-filter-tools' } else if filter-tools == '' { '' } else { error('filter-tools: expected true or false, got ' + quote(filter-tools)) } }} \
        {{ if allowed-origins != '' { '--allowed-origins ' + quote(allowed-origins) } else { '' } }} \
        {{ if rate-limits != '' { '--rate-limits ' + quote(rate-limits) } else { '' } }}

# Show a proxy's MCP endpoint policy, where it is enforced, and the scopes it names
proxy-mcp-show hostname token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} proxy mcp-show {{ quote(hostname) }}

# Clear a proxy's MCP endpoint policy (Origin checks stay on)
proxy-mcp-clear hostname token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} proxy mcp-clear {{ quote(hostname) }}

# List the registered protected resources
resource-list token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} resource list

# Show one registered protected resource
resource-show uri token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} resource show {{ quote(uri) }}

# Register a protected resource; proxy is the hostname that serves it, scopes comma-separated
resource-register uri name="" proxy="" scopes="" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} resource register {{ quote(uri) }} \
        {{ if name != '' { '--name ' + quote(name) } else { '' } }} \
        {{ if proxy != '' { '--proxy ' + quote(proxy) } else { '' } }} \
        {{ if scopes != '' { '--scopes ' + quote(scopes) } else { '' } }}

# Remove a protected resource from the registry
resource-delete uri token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} resource delete {{ quote(uri) }}

# Is an access token good for a resource? ("-" reads it from stdin); fails when it is not
resource-validate-token uri access-token token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} resource validate-token {{ quote(uri) }} {{ quote(access-token) }}

# Register one resource per proxy with a resource endpoint or auth on (again: brings them up to date)
resource-auto-register token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} resource auto-register

# ---- External services and the service registry (wrap `portcullis service …`) ----

# Register an external service: routes (target_type service) and proxies (target_url service:<name>) resolve the name to target-url
service-register name target-url description="" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} service register {{ quote(name) }} {{ quote(target-url) }} \
        {{ if description != '' { '--description ' + quote(description) } else { '' } }}

# List the external services you can see
service-list-external token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} service list-external

# Show one external service
service-show-external name token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} service show-external {{ quote(name) }}

# Point an external service at a new URL (routes and proxies using it follow at once); description "" keeps it
service-update-external name target-url description="" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} service update-external {{ quote(name) }} {{ quote(target-url) }} \
        {{ if description != '' { '--description ' + quote(description) } else { '' } }}

# Delete an external service; refused while routes or proxies use it unless force is true
service-unregister name token="" force="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} service unregister {{ quote(name) }} \
        {{ if force == 'true' { '--force' } else if force == 'false' { '' } else if force == '' { '' } else { error('force: expected true or false, got ' + quote(force)) } }}

# Register the OAuth server (OAUTH_ISSUER, else https://auth.<BASE_DOMAIN>) as external service "oauth"
service-register-oauth token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} service register oauth {{ quote(env('OAUTH_ISSUER', 'https://auth.' + env('BASE_DOMAIN', 'localhost'))) }} \
        --description 'OAuth 2.1 authorization server'

# List every service you can see (Docker, external, internal); type: docker, external or internal
service-list-all type="" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} service list-all \
        {{ if type == '' { '' } else if type == 'docker' { '--type docker' } else if type == 'external' { '--type external' } else if type == 'internal' { '--type internal' } else { error('type: expected docker, external or internal, got ' + quote(type)) } }}

# ---- Request log (wrap `portcullis logs …`): every request the gateway answered, newest first ----
# Times are UTC; hours count back from now; "" leaves a filter out. Non-admin tokens see only their own proxies' requests.

# Recent requests: the last hours (default 1), optionally for one hostname
logs hours="1" hostname="" limit="100" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} logs search --hours {{ quote(hours) }} --limit {{ quote(limit) }} \
        {{ if hostname != '' { '--host ' + quote(hostname) } else { '' } }}

# Requests from one client IP address
logs-ip ip hours="24" limit="100" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} logs ip {{ quote(ip) }} --hours {{ quote(hours) }} --limit {{ quote(limit) }}

# Requests for one hostname (a proxy's, wildcards too)
logs-host hostname hours="24" limit="100" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} logs host {{ quote(hostname) }} --hours {{ quote(hours) }} --limit {{ quote(limit) }}

# Requests of one OAuth client (client_id)
logs-client client-id hours="24" limit="100" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} logs client {{ quote(client-id) }} --hours {{ quote(hours) }} --limit {{ quote(limit) }}

# Search with key=value filters, e.g. just logs-search "status=5xx method=POST path=/api/*" (keys: ip host user client status method path errors slow)
logs-search query="" hours="24" hostname="" limit="100" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} logs search {{ quote(query) }} --hours {{ quote(hours) }} --limit {{ quote(limit) }} \
        {{ if hostname != '' { '--host ' + quote(hostname) } else { '' } }}

# Failed requests (status 400 and above)
logs-errors hours="24" limit="100" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} logs errors --hours {{ quote(hours) }} --limit {{ quote(limit) }}

# Failed requests as full JSON records (every field: error, auth outcome, backend, timings, trace id); include-warnings=false keeps only 5xx
logs-errors-debug hours="24" include-warnings="true" limit="50" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} --format json logs errors --hours {{ quote(hours) }} --limit {{ quote(limit) }} \
        {{ if include-warnings == 'false' { '--status 5xx' } else if include-warnings == 'true' { '' } else { error('include-warnings: expected true or false, got ' + quote(include-warnings)) } }}

# Request statistics: totals, status classes, error rate, hourly counts, unique clients, p50/p95/p99 per proxy
logs-stats hours="24" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} logs events --hours {{ quote(hours) }}

# Delete the whole request log from Redis (admin only)
logs-clear token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} logs clear

# Live tail of new requests (Ctrl-C stops), optionally one hostname and a status or class (502, 5xx)
logs-follow hostname="" status="" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} logs follow \
        {{ if hostname != '' { '--host ' + quote(hostname) } else { '' } }} \
        {{ if status != '' { '--status ' + quote(status) } else { '' } }}

# The logging recipes, one line each
logs-help:
    @# just --list puts a long recipe's comment on the line above it: awk joins them back onto one line.
    @{{ quote(just_executable()) }} --justfile {{ quote(justfile()) }} --list --unsorted | awk '/^ +# /{ doc = $0; sub(/^ +# /, "", doc); next } /^ +(logs|gateway-log)([ -]|$)/{ line = $0; sub(/^ +/, "", line); if (doc != "" && line !~ / # /) line = line "  # " doc; print line } { doc = "" }'

# OAuth sign-ins from one client address: one line per flow, how far it got and why it was refused (admin)
logs-oauth ip hours="" limit="" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} logs oauth --ip {{ quote(ip) }} \
        {{ if hours != '' { '--hours ' + quote(hours) } else { '' } }} \
        {{ if limit != '' { '--limit ' + quote(limit) } else { '' } }}

# The same flows in full: every step's event as JSON (admin)
logs-oauth-debug ip hours="" limit="" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} --format json logs oauth --ip {{ quote(ip) }} \
        {{ if hours != '' { '--hours ' + quote(hours) } else { '' } }} \
        {{ if limit != '' { '--limit ' + quote(limit) } else { '' } }}

# The latest sign-in of a client and/or a user, step by step from /authorize to the token (admin)
logs-oauth-flow client-id="" username="" hours="" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} logs oauth-flow \
        {{ if client-id != '' { '--client-id ' + quote(client-id) } else { '' } }} \
        {{ if username != '' { '--user ' + quote(username) } else { '' } }} \
        {{ if client-id == '' { if username == '' { error('logs-oauth-flow: give a client-id or a username') } else { '' } } else { '' } }} \
        {{ if hours != '' { '--hours ' + quote(hours) } else { '' } }}

# The audit log: every API write, who made it and what changed; by = a token name, path = an API path or prefix* (admin)
logs-audit by="" hours="" path="" limit="" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} logs audit \
        {{ if by != '' { '--token ' + quote(by) } else { '' } }} \
        {{ if hours != '' { '--hours ' + quote(hours) } else { '' } }} \
        {{ if path != '' { '--path ' + quote(path) } else { '' } }} \
        {{ if limit != '' { '--limit ' + quote(limit) } else { '' } }}

# ---- Service ports (wrap `portcullis service ports|port-check|port-list|port-add|port-remove`) ----

# Could a host port be allocated now? bind-address 127.0.0.1 (default) or 0.0.0.0; fails with the reason when it cannot
service-port-check port bind-address="" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} service port-check {{ quote(port) }} \
        {{ if bind-address != '' { '--bind ' + quote(bind-address) } else { '' } }}

# Add a port to a Docker service: host port = container port = <port>, named port-<port>; the container is recreated (with a source-token the gateway serves the port and requires it)
service-port-add name port bind-address="" source-token="" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} service port-add {{ quote(name) }} {{ quote(port) }} --host {{ quote(port) }} \
        {{ if bind-address != '' { '--bind ' + quote(bind-address) } else { '' } }} \
        {{ if source-token != '' { '--source-token ' + quote(source-token) } else { '' } }}

# Remove a port from a Docker service by its name (see service-port-list); the container is recreated without it
service-port-remove name port-name token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} service port-remove {{ quote(name) }} {{ quote(port-name) }}

# Change a port of a Docker service: bind address (recreates the container), source token ("" removes it)
service-port-update name port-name bind-address="" source-token="" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} service port-update {{ quote(name) }} {{ quote(port-name) }} {{ if bind-address != '' { '--bind ' + quote(bind-address) } else { '' } }} {{ if source-token != '' { '--source-token ' + quote(source-token) } else { '' } }}

# The ports allocated to one Docker service
service-port-list name token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} service port-list {{ quote(name) }}

# Port allocations across all services (an admin sees all, other tokens their own); available-only=true lists the free ports per range
service-ports-global available-only="" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} service ports \
        {{ if available-only == 'true' { '--available' } else if available-only == 'false' { '' } else if available-only == '' { '' } else { error('available-only: expected true or false, got ' + quote(available-only)) } }}

# ---- Cluster (wrap `portcullis cluster …`) ----

# The gateway nodes on this Redis: up, down (no heartbeat for CLUSTER_NODE_DOWN_SECONDS) or stopped; with an id, that node's whole entry (admin)
cluster-nodes id="" token="":
    @{{ cli }} {{ if token != '' { '--token ' + quote(token) } else { '' } }} cluster {{ if id != '' { 'node ' + quote(id) } else { 'nodes' } }}
