# Targets for agent-runner developers: thin wrappers over the stigmer CLI, which owns the
# logic (engine detection, build context packing, health checks). See docs/docker.md.
#
#   make build-image SOURCE=../stigmer/backend/services/agent-runner VERSION=0.2.0-dev
#   make run-local
#   make test-image SOURCE=../stigmer/backend/services/agent-runner
#   printf '%s\n' "$TOKEN" | make docker-login REGISTRY=ghcr.io USERNAME=me
#   make push-image VERSION=0.2.0

STIGMER ?= ./bin/run.js
# The agent-runner's source folder (the build context).
SOURCE ?= .
VERSION ?= 0.0.0-dev
REGISTRY ?=
USERNAME ?=

.DEFAULT_GOAL := help
.PHONY: help build-image run-local test-image docker-login push-image

help: ## List the targets
	@echo 'Targets (variables: STIGMER=$(STIGMER) SOURCE=$(SOURCE) VERSION=$(VERSION)):'
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build-image: ## Build the agent-runner image from SOURCE, tagged VERSION
	$(STIGMER) image build --source $(SOURCE) --version $(VERSION)

run-local: ## Start the agent-runner from the locally built image
	$(STIGMER) server start --use-local-image

test-image: build-image ## Build, start (JSON result), show status, then stop
	@status=0; \
	$(STIGMER) server start --use-local-image --json && $(STIGMER) server status || status=$$?; \
	$(STIGMER) server stop || true; \
	exit $$status

docker-login: ## Log in to REGISTRY as USERNAME; the password is read from stdin
	@test -n "$(REGISTRY)" || { echo 'usage: ... | make docker-login REGISTRY=host USERNAME=name' >&2; exit 2; }
	@test -n "$(USERNAME)" || { echo 'usage: ... | make docker-login REGISTRY=host USERNAME=name' >&2; exit 2; }
	$(STIGMER) image login $(REGISTRY) --username $(USERNAME) --password-stdin

push-image: ## Push the image tagged VERSION (VERSION must be given)
	@case "$(origin VERSION)" in command*|environment*) ;; \
	  *) echo 'push-image needs an explicit VERSION, e.g. make push-image VERSION=1.2.3' >&2; exit 2;; esac
	$(STIGMER) image push --version $(VERSION)
