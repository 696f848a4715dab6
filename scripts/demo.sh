#!/usr/bin/env bash
# The main job, for real, on a fresh machine: set up what is missing, get an
# agent-runner image, `stigmer server start`, show it healthy with a few log lines,
# and leave it running. Usage: bash scripts/demo.sh [--runtime docker|podman]
set -euo pipefail
cd "$(dirname "$0")/.."
STIGMER=(node ./bin/run.js)
RUNTIME_ARGS=("$@")
say() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }
STANDIN_LOG=${TMPDIR:-/tmp}/stigmer-temporal-standin.log
STANDIN_PID=${TMPDIR:-/tmp}/stigmer-temporal-standin.pid
: >"$STANDIN_PID"

if [ ! -d node_modules ]; then
  say "Installing dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi
if [ ! -f dist/help.json ] || [ -n "$(find src -newer dist/help.json -name '*.ts' -print -quit)" ]; then
  say "Building the CLI"
  npm run build >/dev/null
fi

say "Looking for a container engine (stigmer doctor)"
set +e
"${STIGMER[@]}" doctor "${RUNTIME_ARGS[@]}"
doctor_rc=$?
set -e
if [ "$doctor_rc" -ge 10 ] && [ "$doctor_rc" -le 12 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "No usable engine: installing and starting Docker and Podman (scripts/lab.sh)"
    bash scripts/lab.sh >/dev/null
  else
    echo "Install Docker or Podman as shown above, then run this again." >&2
    exit "$doctor_rc"
  fi
fi

# --- Temporal: the agent-runner is ready only once it is connected to one ----------------
# A Temporal that answers (TEMPORAL_SERVICE_ADDRESS, default localhost:7233) is used as it is.
# Otherwise: `stigmer temporal start` (when the temporal plugin is installed: the real Temporal
# dev server image) when its registry answers; otherwise a STAND-IN built from Temporal's published protos
# (test/helpers/temporal-standin.ts), clearly labelled: it speaks Temporal's gRPC API to the
# runner but runs no workflows.
temporal_answers() {
  "${STIGMER[@]}" doctor --json "${RUNTIME_ARGS[@]}" 2>/dev/null |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{const r=JSON.parse(s);const c=(r.checks||[]).find(c=>c.id==="temporal");process.exit(c&&c.status==="ok"?0:1)}catch{process.exit(1)}})'
}
say "Looking for Temporal (${TEMPORAL_SERVICE_ADDRESS:-localhost:7233})"
TEMPORAL_KIND=yours
if temporal_answers; then
  echo "Temporal answers: using it." >&2
else
  TEMPORAL_KIND=
  if [ -z "${TEMPORAL_SERVICE_ADDRESS:-}" ]; then
    echo "No Temporal answers at localhost:7233." >&2
    if "${STIGMER[@]}" temporal --help >/dev/null 2>&1 \
      && timeout 120 "${STIGMER[@]}" temporal start "${RUNTIME_ARGS[@]}" >&2; then
      TEMPORAL_KIND="Temporal dev server (stigmer temporal start)"
    else
      echo "No Temporal from stigmer temporal start (the temporal plugin is not installed, or its image cannot be pulled here)." >&2
    fi
  fi
  if [ -z "$TEMPORAL_KIND" ]; then
    if [ -n "${TEMPORAL_SERVICE_ADDRESS:-}" ]; then
      echo "Nothing answers at TEMPORAL_SERVICE_ADDRESS=$TEMPORAL_SERVICE_ADDRESS: start it, or unset it to get a stand-in." >&2
      exit 40
    fi
    printf '\n\033[1;33m!!! STAND-IN: no real Temporal server can run here. Starting a Temporal STAND-IN on :7233\n' >&2
    printf '!!! (Temporal'"'"'s gRPC API from its published protos; it runs NO workflows). Log: %s\033[0m\n' "$STANDIN_LOG" >&2
    nohup node --import tsx test/helpers/temporal-standin-main.ts --port 7233 >"$STANDIN_LOG" 2>&1 &
    echo $! >"$STANDIN_PID"
    for _ in $(seq 1 50); do temporal_answers && break; sleep 0.3; done
    temporal_answers || { cat "$STANDIN_LOG" >&2; echo "The stand-in did not start." >&2; exit 40; }
    TEMPORAL_KIND="STAND-IN (not a real Temporal server)"
  fi
fi

# --- The agent-runner image -----------------------------------------------------------
pinned=$("${STIGMER[@]}" version --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).image.expected))')
start_args=()
say "Getting the agent-runner image $pinned"
if "${STIGMER[@]}" image pull "${RUNTIME_ARGS[@]}" --pull-timeout 60s 2>/dev/null; then
  :
else
  echo "The registry is not reachable from here: building the agent-runner image locally instead," >&2
  echo "from test/fixtures/stigmer-monorepo/backend/services/agent-runner (shaped like the real one:" >&2
  echo "Poetry, main.py, the stubs as a path dependency outside its folder)." >&2
  build_args=()
  # Offline machines have no python:3.11-slim: use the lab's local stand-ins when they exist.
  if [ -f /var/lib/stigmer-lab/lab.env ] || { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && bash scripts/lab.sh >/dev/null; }; then
    # shellcheck disable=SC1091
    . /var/lib/stigmer-lab/lab.env
    build_args=(--build-arg "BASE_IMAGE=$STIGMER_LAB_PYTHON" --build-arg "BUILDER_IMAGE=$STIGMER_LAB_PYTHON_BUILDER")
  fi
  "${STIGMER[@]}" image build --source test/fixtures/stigmer-monorepo/backend/services/agent-runner "${build_args[@]}" "${RUNTIME_ARGS[@]}"
  start_args=(--use-local-image)
fi

say "Starting the agent-runner (stigmer server start --wait-for registered)"
"${STIGMER[@]}" server start --wait-for registered "${start_args[@]}" "${RUNTIME_ARGS[@]}"

say "Status (stigmer server status)"
"${STIGMER[@]}" server status

sleep 2
say "Its latest log lines (stigmer server logs -n 8)"
"${STIGMER[@]}" server logs -n 8 2>&1

say "The agent-runner is running, connected to: $TEMPORAL_KIND"
echo "Follow it: ./bin/run.js server logs -f   Stop it: ./bin/run.js server stop" >&2
if [ -s "$STANDIN_PID" ]; then
  echo "Temporal STAND-IN: pid $(cat "$STANDIN_PID"), log $STANDIN_LOG. Stop it: kill \$(cat $STANDIN_PID)" >&2
fi
