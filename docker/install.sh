#!/bin/sh
# Installs the agent-runner into the virtualenv at $VIRTUAL_ENV (/app/.venv), in two phases so
# the dependency layer survives a source change:
#
#   install.sh deps      the dependencies only (the project's manifests and its path
#                        dependencies are in place, its source is not)
#   install.sh project   the project itself, then the entry-point launcher
#
# Run by docker/Dockerfile's builder stage from the project folder (WORKDIR /app/$APP_DIR).
# Build arguments it reads (stigmer image build passes them; see docs/docker.md):
#   INSTALLER       poetry | uv | pip        (what the project's files call for)
#   PATH_DEPS       the path dependencies, relative to /app, space-separated
#   RUNNER_COMMAND  the entry point's argv, space-separated (no quoting needed: the CLI allows
#                   only [A-Za-z0-9_./:-] in it)
#   POETRY_VERSION  the Poetry to install when the builder image has none
set -eu

phase=${1:?usage: install.sh deps|project}
: "${INSTALLER:?INSTALLER is not set: pass --build-arg INSTALLER=poetry|uv|pip (stigmer image build does)}"
: "${VIRTUAL_ENV:?VIRTUAL_ENV is not set}"

say() { printf 'install: %s\n' "$*"; }
die() { printf 'install: error: %s\n' "$*" >&2; exit 1; }

ensure_poetry() {
    if ! command -v poetry >/dev/null 2>&1; then
        say "no poetry in the builder image: installing poetry==${POETRY_VERSION}"
        python3 -m pip install --no-cache-dir --prefix /opt/poetry "poetry==${POETRY_VERSION}"
        PATH=/opt/poetry/bin:$PATH
        PYTHONPATH=$(echo /opt/poetry/lib/python3*/site-packages)
        export PATH PYTHONPATH
    fi
    version=$(poetry --version 2>/dev/null | sed -n 's/.*version \([0-9][0-9.]*\).*/\1/p; s/^Poetry (\([0-9][0-9.]*\)).*/\1/p' | head -n 1)
    say "poetry ${version:-(version unknown)}"
    # PEP 621 metadata ([project]) with poetry.lock is Poetry 2's format; Poetry 1 ignores [project].
    if grep -q '^\[project\]' pyproject.toml && [ "${version%%.*}" = 1 ]; then
        die "pyproject.toml uses PEP 621 [project] metadata with poetry.lock, which needs Poetry 2 (the builder has ${version}). Use a builder image with Poetry 2, or --build-arg POETRY_VERSION=2.1.3 on a builder without Poetry."
    fi
}

ensure_uv() {
    command -v uv >/dev/null 2>&1 && return 0
    say "no uv in the builder image: trying to install it"
    python3 -m pip install --no-cache-dir --prefix /opt/uv uv >/dev/null 2>&1 || return 1
    PATH=/opt/uv/bin:$PATH
    export PATH
    command -v uv >/dev/null 2>&1
}

pip_install() {
    "$VIRTUAL_ENV/bin/python" -m pip install --no-cache-dir "$@"
}

case "$INSTALLER:$phase" in
    poetry:deps)
        ensure_poetry
        poetry install --only main --no-root --no-interaction --no-ansi
        ;;
    poetry:project)
        ensure_poetry
        # Installs the project itself (nothing for package-mode = false).
        poetry install --only main --no-interaction --no-ansi
        ;;
    uv:deps)
        if ensure_uv; then
            uv sync --frozen --no-dev --no-install-project --python "$VIRTUAL_ENV/bin/python"
        else
            say "uv is not available and cannot be installed: falling back to pip (uv.lock is not used)"
            # shellcheck disable=SC2086 # PATH_DEPS is a list
            [ -z "${PATH_DEPS:-}" ] || (cd /app && pip_install $PATH_DEPS)
        fi
        ;;
    uv:project)
        if command -v uv >/dev/null 2>&1 || [ -x /opt/uv/bin/uv ]; then
            PATH=/opt/uv/bin:$PATH
            uv sync --frozen --no-dev --python "$VIRTUAL_ENV/bin/python"
        else
            pip_install .
        fi
        ;;
    pip:deps)
        # The project's own dependencies are only known once its metadata is built: the path
        # dependencies now (so they resolve locally), everything else with the project.
        # shellcheck disable=SC2086 # PATH_DEPS is a list
        [ -z "${PATH_DEPS:-}" ] || (cd /app && pip_install $PATH_DEPS)
        ;;
    pip:project)
        pip_install .
        ;;
    *)
        die "unknown INSTALLER '$INSTALLER' or phase '$phase' (expected poetry, uv or pip; deps or project)"
        ;;
esac

if [ "$phase" = project ]; then
    : "${RUNNER_COMMAND:?RUNNER_COMMAND is not set: pass --build-arg RUNNER_COMMAND=... (stigmer image build finds it)}"
    # The launcher the image's ENTRYPOINT runs: exec, so the runner itself is PID 1 and gets
    # SIGTERM from the engine.
    mkdir -p /stage/bin
    printf '#!/bin/sh\n# The agent-runner entry point, chosen by stigmer image build.\nexec %s "$@"\n' "$RUNNER_COMMAND" >/stage/bin/agent-runner
    chmod 0755 /stage/bin/agent-runner
    first=${RUNNER_COMMAND%% *}
    [ -x "$first" ] || die "the entry point $first does not exist after the install (RUNNER_COMMAND=$RUNNER_COMMAND)"
    for arg in $RUNNER_COMMAND; do
        case "$arg" in *.py) [ -f "$arg" ] || die "the entry point's file $arg is not in the image" ;; esac
    done
    say "entry point: $RUNNER_COMMAND"
fi
