#!/usr/bin/env bash
# The main job, for real, on a fresh machine: set up what is missing, get an
# agent-runner image, `stigmer server start`, show it healthy with a few log lines,
# and leave it running. Usage: bash scripts/demo.sh [--runtime docker|podman]
set -euo pipefail
cd "$(dirname "$0")/.."
STIGMER=(node ./bin/run.js)
RUNTIME_ARGS=("$@")
say() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }

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

pinned=$("${STIGMER[@]}" version --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).image.expected))')
start_args=()
say "Getting the agent-runner image $pinned"
if "${STIGMER[@]}" image pull "${RUNTIME_ARGS[@]}" --pull-timeout 60s 2>/dev/null; then
  :
else
  echo "The registry is not reachable from here: building the agent-runner image locally instead." >&2
  build_args=()
  # Offline machines have no python:3.11-slim: use the lab's local stand-ins when they exist.
  if [ -f /var/lib/stigmer-lab/lab.env ] || { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && bash scripts/lab.sh >/dev/null; }; then
    # shellcheck disable=SC1091
    . /var/lib/stigmer-lab/lab.env
    build_args=(--build-arg "BASE_IMAGE=$STIGMER_LAB_PYTHON" --build-arg "BUILDER_IMAGE=$STIGMER_LAB_PYTHON_BUILDER")
  fi
  "${STIGMER[@]}" image build --source test/fixtures/agent-runner "${build_args[@]}" "${RUNTIME_ARGS[@]}"
  start_args=(--use-local-image)
fi

say "Starting the agent-runner (stigmer server start)"
"${STIGMER[@]}" server start "${start_args[@]}" "${RUNTIME_ARGS[@]}"

say "Status (stigmer server status)"
"${STIGMER[@]}" server status

sleep 2
say "Its latest log lines (stigmer server logs -n 8)"
"${STIGMER[@]}" server logs -n 8 2>&1

say "The agent-runner is running. Follow it: ./bin/run.js server logs -f   Stop it: ./bin/run.js server stop"
