#!/usr/bin/env bash
# scripts/lab.sh: provision the stigmer container test lab (see scripts/README.md).
#
#   scripts/lab.sh              set up (idempotent) and print the lab env to stdout
#   scripts/lab.sh --self-test  same, then an end-to-end check (login/push/pull, health checks)
#   scripts/lab.sh --rebuild    rebuild the base images and their caches, re-tag in place
#   scripts/lab.sh --down       stop the services this script started
#
# Root on Debian/Ubuntu: installs and starts Docker Engine, the Podman API service, an
# htpasswd-protected registry on 127.0.0.1:5000, qemu binfmt, local base images and a test
# user. Not root: uses whatever is already there and says what it skipped.
# CI=true: anything that cannot be set up is a hard failure.
set -euo pipefail

# ---------------------------------------------------------------- constants

readonly REGISTRY_ADDR=127.0.0.1:5000
readonly REGISTRY_USER=stigmer-lab
readonly IMG_BUSYBOX=localhost/stigmer-lab/busybox:latest
readonly IMG_BUSYBOX_ARM64=localhost/stigmer-lab/busybox:arm64
readonly IMG_PYTHON=localhost/stigmer-lab/python:3.11-slim
# The builder also has hatchling and an offline wheelhouse of build backends (see build_python_tarballs).
readonly IMG_PYTHON_BUILDER=localhost/stigmer-lab/python-builder:3.11-wheels
readonly TEST_USER=stigmer-test
readonly TEST_UID=1500
readonly PODMAN_GROUP=stigmer-podman
readonly DEBIAN_SUITE=bookworm
readonly DEBIAN_MIRROR=${STIGMER_LAB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
readonly IMAGE_PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin
# docker-compose and catatonit (the pause process `podman kube play` builds its infra image
# with): the export engine suite runs exported Compose files and Kubernetes manifests.
readonly APT_PACKAGES=(docker.io podman runc docker-registry apache2-utils busybox-static
  debootstrap qemu-user-static binfmt-support curl debian-archive-keyring docker-compose catatonit)

if [[ $(id -u) -eq 0 ]]; then
  IS_ROOT=1
  LAB_LIB=/var/lib/stigmer-lab
  LAB_RUN=/run/stigmer-lab
  LAB_LOG=/var/log/stigmer-lab
  LAB_CACHE=/var/cache/stigmer-lab
  PODMAN_SOCK=/run/podman/podman.sock
else
  IS_ROOT=0
  LAB_LIB=${XDG_STATE_HOME:-$HOME/.local/state}/stigmer-lab
  LAB_RUN=${XDG_RUNTIME_DIR:-$LAB_LIB/run}/stigmer-lab
  LAB_LOG=$LAB_LIB/log
  LAB_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/stigmer-lab
  PODMAN_SOCK=${XDG_RUNTIME_DIR:-$LAB_LIB/run}/podman/podman.sock
fi
readonly DOCKER_SOCK=/var/run/docker.sock
readonly REG_DIR=$LAB_LIB/registry
REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO_DIR
readonly REG_PASSWORD_FILE=$REG_DIR/password
readonly ENV_FILE=$LAB_LIB/lab.env
readonly PY_TARBALL=$LAB_CACHE/python-rootfs.tar.gz
readonly PY_BUILDER_TARBALL=$LAB_CACHE/python-builder-wheels-rootfs.tar.gz
readonly ARM64_BUSYBOX_DEB=$LAB_CACHE/busybox-static_arm64.deb

case ${CI:-} in true | TRUE | True | 1) STRICT=1 ;; *) STRICT=0 ;; esac

START_SECONDS=$SECONDS
FAILURES=()
DOCKER_UP=0
PODMAN_UP=0
REGISTRY_UP=0
QEMU_OK=0
TEST_USER_OK=0
DOCKER_ARM64=0
BUILD_DIR=
RESTART_PODMAN=0
REBUILD=0

# ---------------------------------------------------------------- helpers

say() { printf 'lab: %s\n' "$*" >&2; }
warn() { printf 'lab: WARNING: %s\n' "$*" >&2; }
die() {
  printf 'lab: ERROR: %s\n' "$*" >&2
  exit 1
}

# problem COMPONENT REASON: a hard failure under CI, a loud warning otherwise.
problem() {
  FAILURES+=("$1: $2")
  if ((STRICT)); then
    printf 'lab: ERROR: %s: %s\n' "$1" "$2" >&2
  else
    warn "$1 not available: $2"
  fi
}

have() { command -v "$1" >/dev/null 2>&1; }

dk() { docker -H "unix://$DOCKER_SOCK" "$@"; }

sock_ping() { # SOCKET -> 0 if a Docker-API daemon answers _ping
  [[ -S $1 ]] && curl -fsS --max-time 3 --unix-socket "$1" http://d/_ping >/dev/null 2>&1
}

wait_for() { # SECONDS COMMAND...
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.3
  done
}

pid_alive() { # NAME -> 0 if the pid file names a live process
  local pid
  [[ -f $LAB_RUN/$1.pid ]] || return 1
  pid=$(<"$LAB_RUN/$1.pid")
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

# start_bg NAME LOGFILE COMMAND...: start a daemon detached from this script (own session,
# stdin closed, lock fd closed) and record its pid.
start_bg() {
  local name=$1 log=$2
  shift 2
  mkdir -p "$(dirname "$log")"
  printf '\n=== %s: %s\n' "$(date -Is)" "$*" >>"$log"
  # From /, not the caller's folder: a daemon whose working directory is deleted later (a
  # checkout removed after a test run) breaks Podman's conmon ("Failed to get working directory").
  (cd / && exec setsid nohup "$@" </dev/null >>"$log" 2>&1 9>&-) &
  echo $! >"$LAB_RUN/$name.pid"
}

stop_bg() { # NAME EXPECTED_COMM
  local name=$1 comm=$2 pid i cmdline
  if ! pid_alive "$name"; then
    rm -f "$LAB_RUN/$name.pid"
    return 0
  fi
  pid=$(<"$LAB_RUN/$name.pid")
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)
  if [[ $cmdline != *"$comm"* ]]; then
    warn "$name: pid $pid is not $comm any more; leaving it alone"
    rm -f "$LAB_RUN/$name.pid"
    return 0
  fi
  say "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    warn "$name did not stop in 20 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$LAB_RUN/$name.pid"
}

cleanup() {
  local m
  if [[ -n $BUILD_DIR && -d $BUILD_DIR ]]; then
    # debootstrap may leave proc/sys mounted if it failed half way
    while read -r m; do
      umount -l "$m" 2>/dev/null || true
    done < <(awk -v d="$BUILD_DIR/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r)
    rm -rf --one-file-system "$BUILD_DIR"
  fi
  BUILD_DIR=
}
trap cleanup EXIT

build_dir() {
  if [[ -z $BUILD_DIR ]]; then
    mkdir -p "$LAB_CACHE"
    BUILD_DIR=$(mktemp -d "$LAB_CACHE/build.XXXXXX")
  fi
}

usage() {
  sed -n '2,12s/^# \{0,1\}//p' "$0"
}

# ---------------------------------------------------------------- packages

pkg_present() { # PACKAGE -> 0 if what we need from it is already on the machine
  case $1 in
    docker.io) have docker && { ((!IS_ROOT)) || have dockerd; } ;;
    podman) have podman ;;
    runc) have runc ;;
    docker-registry) have docker-registry || have registry ;;
    apache2-utils) have htpasswd ;;
    busybox-static) [[ $(dpkg-query -W -f='${db:Status-Status}' busybox-static 2>/dev/null) == installed ]] ;;
    debootstrap) have debootstrap || [[ -x /usr/sbin/debootstrap ]] ;;
    qemu-user-static) [[ -x /usr/bin/qemu-aarch64-static ]] ;;
    binfmt-support) have update-binfmts || [[ -x /usr/sbin/update-binfmts ]] ;;
    curl) have curl ;;
    debian-archive-keyring) [[ -f /usr/share/keyrings/debian-archive-keyring.gpg ]] ;;
    *) return 1 ;;
  esac
}

ensure_packages() {
  local p missing=()
  for p in "${APT_PACKAGES[@]}"; do
    pkg_present "$p" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  if ((!IS_ROOT)); then
    warn "not root: not installing ${missing[*]}; skipping whatever needs them"
    return 0
  fi
  if ! have apt-get; then
    warn "no apt-get (not Debian/Ubuntu): cannot install ${missing[*]}"
    return 0
  fi
  say "installing ${missing[*]} (apt)"
  local log=$LAB_LOG/apt.log
  if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"; } >>"$log" 2>&1; then
    warn "apt-get failed (see $log)"
  fi
  hash -r
}

# ---------------------------------------------------------------- docker

# clear_stale_pidfile FILE: removes FILE when the process it names is not running.
clear_stale_pidfile() {
  local file=$1 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file" 2>/dev/null || true)
  if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
    say "removing stale $file${pid:+ (pid $pid is gone)}"
    rm -f "$file"
  fi
}

ensure_docker() {
  if ! have docker; then
    problem docker "no docker client installed"
    return 0
  fi
  if ! sock_ping "$DOCKER_SOCK"; then
    if ((!IS_ROOT)); then
      problem docker "$DOCKER_SOCK does not answer and not root: cannot start dockerd"
      return 0
    fi
    if ! have dockerd; then
      problem docker "dockerd is not installed"
      return 0
    fi
    getent group docker >/dev/null || groupadd --system docker
    # A dockerd killed without a chance to clean up (the end of a session, kill -9)
    # leaves its pid files behind, and a new dockerd refuses to start over them.
    clear_stale_pidfile /var/run/docker.pid
    clear_stale_pidfile /var/run/docker/containerd/containerd.pid
    say "starting dockerd (log: $LAB_LOG/dockerd.log)"
    start_bg dockerd "$LAB_LOG/dockerd.log" dockerd --host "unix://$DOCKER_SOCK"
    if ! wait_for 30 sock_ping "$DOCKER_SOCK"; then
      problem docker "dockerd did not answer on $DOCKER_SOCK within 30 s (see $LAB_LOG/dockerd.log)"
      return 0
    fi
  fi
  if ! dk version >/dev/null 2>&1; then
    problem docker "$DOCKER_SOCK answers but 'docker version' fails (permission? not in the docker group?)"
    return 0
  fi
  DOCKER_UP=1
  say "docker: up (engine $(dk version -f '{{.Server.Version}}' 2>/dev/null))"
}

# ---------------------------------------------------------------- podman

# Lab-only fixes for these VMs (see LAB.md): crun refuses hybrid cgroups; rlimits cannot be raised.
podman_conf_has_fixes() {
  local f=/etc/containers/containers.conf
  [[ -f $f ]] &&
    grep -Eq '^[[:space:]]*runtime[[:space:]]*=[[:space:]]*"runc"' "$f" &&
    grep -Eq '^[[:space:]]*default_ulimits[[:space:]]*=.*nofile=1024:1024' "$f"
}

write_podman_conf() {
  local f=/etc/containers/containers.conf ulimits='default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]'
  mkdir -p /etc/containers
  podman_conf_has_fixes && return 0
  say "writing lab fixes to $f (runc runtime, low default_ulimits)"
  RESTART_PODMAN=1
  if [[ ! -f $f ]]; then
    printf '%s\n' '# Written by stigmer scripts/lab.sh: test-lab fixes for this VM, not for users.' \
      '[containers]' "$ulimits" '' '[engine]' 'runtime = "runc"' >"$f"
    return 0
  fi
  cp -p "$f" "$f.stigmer-lab.bak"
  awk -v ulimits="$ulimits" '
    /^[[:space:]]*\[containers\][[:space:]]*$/ { print; print ulimits; sec = "c"; seen_c = 1; next }
    /^[[:space:]]*\[engine\][[:space:]]*$/     { print; print "runtime = \"runc\""; sec = "e"; seen_e = 1; next }
    /^[[:space:]]*\[/                          { sec = "" }
    skip { if ($0 ~ /\]/) skip = 0; next }
    sec == "c" && /^[[:space:]]*default_ulimits[[:space:]]*=/ { if ($0 !~ /\]/) skip = 1; next }
    sec == "e" && /^[[:space:]]*runtime[[:space:]]*=/ { next }
    { print }
    END {
      if (!seen_c) { print ""; print "[containers]"; print ulimits }
      if (!seen_e) { print ""; print "[engine]"; print "runtime = \"runc\"" }
    }' "$f.stigmer-lab.bak" >"$f"
}

write_registries_conf() {
  local dir f tmp
  if ((IS_ROOT)); then dir=/etc/containers/registries.conf.d; else dir=${XDG_CONFIG_HOME:-$HOME/.config}/containers/registries.conf.d; fi
  f=$dir/stigmer-lab.conf
  mkdir -p "$dir"
  tmp=$(mktemp)
  cat >"$tmp" <<EOF
# Written by stigmer scripts/lab.sh: the test-lab registry speaks plain HTTP on loopback.
[[registry]]
location = "127.0.0.1:5000"
insecure = true

[[registry]]
location = "localhost:5000"
insecure = true
EOF
  if cmp -s "$tmp" "$f"; then
    rm -f "$tmp"
  else
    mv "$tmp" "$f"
    chmod 644 "$f"
    RESTART_PODMAN=1
  fi
}

ensure_podman() {
  if ! have podman; then
    problem podman "podman is not installed"
    return 0
  fi
  if ((IS_ROOT)); then write_podman_conf; fi
  write_registries_conf
  if ((RESTART_PODMAN)) && pid_alive podman; then
    say "podman config changed: restarting the API service"
    stop_bg podman "podman"
  fi
  if ! sock_ping "$PODMAN_SOCK"; then
    mkdir -p "$(dirname "$PODMAN_SOCK")"
    [[ -S $PODMAN_SOCK ]] && rm -f "$PODMAN_SOCK"
    say "starting podman API service on $PODMAN_SOCK (log: $LAB_LOG/podman.log)"
    start_bg podman "$LAB_LOG/podman.log" podman system service --time=0 "unix://$PODMAN_SOCK"
    if ! wait_for 30 sock_ping "$PODMAN_SOCK"; then
      problem podman "API service did not answer on $PODMAN_SOCK within 30 s (see $LAB_LOG/podman.log)"
      return 0
    fi
  fi
  if ! podman version >/dev/null 2>&1; then
    problem podman "'podman version' fails"
    return 0
  fi
  if ((IS_ROOT)); then
    # Let the test user reach rootful Podman like the docker group reaches dockerd (lab only:
    # this is root-equivalent, exactly as the docker group is).
    getent group "$PODMAN_GROUP" >/dev/null || groupadd --system "$PODMAN_GROUP"
    chgrp "$PODMAN_GROUP" "$PODMAN_SOCK" && chmod 660 "$PODMAN_SOCK"
  fi
  PODMAN_UP=1
  say "podman: up ($(podman version -f '{{.Client.Version}}' 2>/dev/null), API $PODMAN_SOCK)"
}

# ---------------------------------------------------------------- registry

registry_code() { # [CURL_CONFIG_ON_STDIN] -> HTTP status of /v2/ (000 if nothing answers)
  curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$@" "http://$REGISTRY_ADDR/v2/" 2>/dev/null || true
}

registry_code_auth() {
  printf 'user = "%s:%s"\n' "$REGISTRY_USER" "$(<"$REG_PASSWORD_FILE")" | registry_code -K -
}

registry_answers() { [[ $(registry_code) != 000 ]]; }

ensure_registry() {
  local bin code htpw
  if have docker-registry; then bin=docker-registry; elif have registry; then bin=registry; else bin=; fi
  mkdir -p "$REG_DIR/data"
  chmod 700 "$REG_DIR"
  if [[ ! -s $REG_PASSWORD_FILE ]]; then
    (
      umask 077
      head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | cut -c1-32 >"$REG_PASSWORD_FILE"
    )
  fi
  chmod 600 "$REG_PASSWORD_FILE"
  htpw=$REG_DIR/htpasswd
  if have htpasswd; then
    if [[ ! -s $htpw ]] || ! htpasswd -vi "$htpw" "$REGISTRY_USER" <"$REG_PASSWORD_FILE" >/dev/null 2>&1; then
      (
        umask 077
        htpasswd -Bin "$REGISTRY_USER" <"$REG_PASSWORD_FILE" >"$htpw.tmp" 2>/dev/null
      )
      mv "$htpw.tmp" "$htpw"
      # a running registry reads htpasswd at start-up: restart ours
      if pid_alive registry; then stop_bg registry "registry"; fi
    fi
  elif [[ ! -s $htpw ]]; then
    problem registry "htpasswd (apache2-utils) is not installed"
    return 0
  fi
  cat >"$REG_DIR/config.yml.tmp" <<EOF
# Written by stigmer scripts/lab.sh: test-lab registry, loopback only, htpasswd auth.
version: 0.1
log:
  level: info
  fields:
    service: stigmer-lab-registry
storage:
  filesystem:
    rootdirectory: $REG_DIR/data
  delete:
    enabled: true
http:
  addr: $REGISTRY_ADDR
  secret: stigmer-lab-not-a-secret
  headers:
    X-Content-Type-Options: [nosniff]
auth:
  htpasswd:
    realm: stigmer-lab
    path: $htpw
EOF
  if cmp -s "$REG_DIR/config.yml.tmp" "$REG_DIR/config.yml"; then
    rm -f "$REG_DIR/config.yml.tmp"
  else
    mv "$REG_DIR/config.yml.tmp" "$REG_DIR/config.yml"
    if pid_alive registry; then stop_bg registry "registry"; fi
  fi
  chmod 600 "$REG_DIR/config.yml"

  if ! registry_answers; then
    if [[ -z $bin ]]; then
      problem registry "docker-registry is not installed"
      return 0
    fi
    say "starting registry on $REGISTRY_ADDR (log: $LAB_LOG/registry.log)"
    start_bg registry "$LAB_LOG/registry.log" "$bin" serve "$REG_DIR/config.yml"
    if ! wait_for 15 registry_answers; then
      problem registry "nothing answers on $REGISTRY_ADDR within 15 s (see $LAB_LOG/registry.log)"
      return 0
    fi
  fi
  code=$(registry_code)
  if [[ $code != 401 ]]; then
    problem registry "http://$REGISTRY_ADDR/v2/ without credentials gave $code, expected 401 (another registry on :5000?)"
    return 0
  fi
  code=$(registry_code_auth)
  if [[ $code != 200 ]]; then
    problem registry "http://$REGISTRY_ADDR/v2/ rejects the lab credentials in $REG_PASSWORD_FILE (HTTP $code): is :5000 someone else's registry?"
    return 0
  fi
  REGISTRY_UP=1
  say "registry: up on $REGISTRY_ADDR (htpasswd auth: 401 without, 200 with credentials)"
}

# ---------------------------------------------------------------- qemu / binfmt

ensure_qemu() {
  local f=/proc/sys/fs/binfmt_misc/qemu-aarch64
  if [[ $(uname -m) == aarch64 ]]; then return 0; fi
  if [[ ! -e $f ]] || ! grep -qx enabled "$f" 2>/dev/null; then
    if ((!IS_ROOT)); then
      warn "not root: qemu-aarch64 binfmt is not registered; arm64 containers will not run"
      return 0
    fi
    if ! mountpoint -q /proc/sys/fs/binfmt_misc; then
      mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null ||
        warn "cannot mount binfmt_misc"
    fi
    if have update-binfmts; then
      update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || update-binfmts --enable >/dev/null 2>&1 || true
    fi
    if [[ ! -e $f ]] || ! grep -qx enabled "$f" 2>/dev/null; then
      warn "qemu-aarch64 binfmt could not be enabled; arm64 containers will not run"
    fi
  fi
}

# ---------------------------------------------------------------- base images

# Image lists are read once per engine (`podman image exists` costs ~0.2 s a call) and
# re-read after images_changed.
DK_IMAGES=
PM_IMAGES=
IMAGES_STALE=1
images_changed() { IMAGES_STALE=1; }
refresh_images() {
  ((IMAGES_STALE)) || return 0
  DK_IMAGES=
  PM_IMAGES=
  if ((DOCKER_UP)); then DK_IMAGES=$(dk images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null || true); fi
  if ((PODMAN_UP)); then PM_IMAGES=$(podman images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null || true); fi
  IMAGES_STALE=0
}
docker_has() {
  ((DOCKER_UP)) || return 1
  refresh_images
  grep -qxF -- "$1" <<<"$DK_IMAGES"
}
podman_has() {
  ((PODMAN_UP)) || return 1
  refresh_images
  grep -qxF -- "$1" <<<"$PM_IMAGES"
}

# import_image NAME TARBALL ARCH CHANGES...: import into every engine that is up and lacks it
import_image() {
  local name=$1 tarball=$2 arch=$3 changes=() c
  shift 3
  for c in "$@"; do changes+=(--change "$c"); done
  images_changed
  if ((DOCKER_UP)) && { ((REBUILD)) || ! docker_has "$name"; }; then
    if [[ $arch == amd64 ]]; then
      dk import "${changes[@]}" "$tarball" "$name" >/dev/null
    else
      dk import --platform "linux/$arch" "${changes[@]}" "$tarball" "$name" >/dev/null
    fi
  fi
  if ((PODMAN_UP)) && { ((REBUILD)) || ! podman_has "$name"; }; then
    podman import --quiet --arch "$arch" "${changes[@]}" "$tarball" "$name" >/dev/null
  fi
  images_changed
}

# image_ok NAME [ARCH_IN_DOCKER]: the image is in every engine that is up, else a problem
image_ok() {
  local name=$1 docker_optional=${2:-0} missing=()
  if ((DOCKER_UP)) && ! docker_has "$name" && ((!docker_optional)); then missing+=(docker); fi
  if ((PODMAN_UP)) && ! podman_has "$name"; then missing+=(podman); fi
  if ((${#missing[@]})); then
    problem "image $name" "missing in ${missing[*]}${3:+ ($3)}"
    return 1
  fi
  return 0
}

need_image() { # NAME -> 0 if some engine that is up lacks it
  { ((DOCKER_UP)) && ! docker_has "$1"; } || { ((PODMAN_UP)) && ! podman_has "$1"; }
}

# copy_image NAME: if one engine has it and the other lacks it, copy it over (save | load)
copy_image() {
  ((DOCKER_UP && PODMAN_UP)) || return 0
  if docker_has "$1" && ! podman_has "$1"; then
    say "copying $1 from docker to podman"
    dk save "$1" | podman load -q >/dev/null 2>&1 || true
  elif podman_has "$1" && ! docker_has "$1"; then
    say "copying $1 from podman to docker"
    podman save --format docker-archive "$1" 2>/dev/null | dk load -q >/dev/null 2>&1 || true
  fi
  images_changed
}

# make_busybox_rootfs BUSYBOX_BINARY DIR: busybox + applet links, passwd/group, tmp 1777
make_busybox_rootfs() {
  local bb=$1 root=$2 p
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,root,home/stigmer,tmp,var/tmp,proc,sys,dev,run}
  install -m 755 "$bb" "$root/bin/busybox"
  # the applet list comes from the host busybox-static (same Debian version for both arches)
  while read -r p; do
    [[ -n $p && $p != bin/busybox && ! -e $root/$p ]] && ln -s /bin/busybox "$root/$p"
  done < <(/bin/busybox --list-full)
  [[ -e $root/bin/sh ]] || ln -s /bin/busybox "$root/bin/sh"
  chmod 1777 "$root/tmp" "$root/var/tmp"
  chmod 700 "$root/root"
  printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' \
    'stigmer:x:1000:1000:stigmer:/home/stigmer:/bin/sh' \
    'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$root/etc/passwd"
  printf '%s\n' 'root:x:0:' 'stigmer:x:1000:' 'nobody:x:65534:' >"$root/etc/group"
  if ((IS_ROOT)); then chown 1000:1000 "$root/home/stigmer"; else chmod 1777 "$root/home/stigmer"; fi
}

tar_rootfs() { # DIR OUT
  if ((IS_ROOT)); then
    tar --numeric-owner -C "$1" -cf "$2" .
  else
    tar --numeric-owner --owner=0 --group=0 -C "$1" -cf "$2" .
  fi
}

ensure_busybox() {
  if ((!REBUILD)); then
    need_image "$IMG_BUSYBOX" && copy_image "$IMG_BUSYBOX"
    need_image "$IMG_BUSYBOX" || { image_ok "$IMG_BUSYBOX"; return 0; }
  fi
  if [[ ! -x /bin/busybox ]] || ! pkg_present busybox-static; then
    problem "image $IMG_BUSYBOX" "busybox-static is not installed"
    return 0
  fi
  say "building $IMG_BUSYBOX"
  build_dir
  make_busybox_rootfs /bin/busybox "$BUILD_DIR/busybox"
  tar_rootfs "$BUILD_DIR/busybox" "$BUILD_DIR/busybox.tar"
  import_image "$IMG_BUSYBOX" "$BUILD_DIR/busybox.tar" amd64 'CMD ["sh"]' || true
  image_ok "$IMG_BUSYBOX" || true
}

# The arm64 .deb comes from a private apt state (no `dpkg --add-architecture` on the host).
fetch_arm64_busybox() {
  [[ -s $ARM64_BUSYBOX_DEB ]] && return 0
  build_dir
  local a=$BUILD_DIR/apt
  mkdir -p "$a/lists/partial" "$a/cache/archives/partial" "$a/dl"
  : >"$a/status"
  printf 'deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' \
    "$DEBIAN_MIRROR" "$DEBIAN_SUITE" >"$a/sources.list"
  local opts=(-o "Dir::Etc::SourceList=$a/sources.list" -o Dir::Etc::SourceParts=/nonexistent
    -o "Dir::State::Lists=$a/lists" -o "Dir::State::status=$a/status" -o "Dir::Cache=$a/cache"
    -o APT::Architecture=arm64 -o APT::Architectures::=arm64 -o Debug::NoLocking=1
    -o APT::Sandbox::User=root -q)
  (cd "$a/dl" && apt-get "${opts[@]}" update && apt-get "${opts[@]}" download busybox-static:arm64) \
    >>"$LAB_LOG/apt.log" 2>&1 || return 1
  mkdir -p "$LAB_CACHE"
  mv "$a"/dl/busybox-static_*_arm64.deb "$ARM64_BUSYBOX_DEB"
}

# docker_load_rootfs TAR NAME ARCH CMD_JSON: a one-layer docker-archive with the given
# architecture in its config, fed to `docker load`.
docker_load_rootfs() {
  local tar=$1 name=$2 arch=$3 cmd=$4 d diff cfg now
  build_dir
  d=$(mktemp -d "$BUILD_DIR/load.XXXXXX")
  cp "$tar" "$d/layer.tar"
  diff=$(sha256sum "$d/layer.tar" | cut -d' ' -f1)
  now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  printf '{"architecture":"%s","os":"linux","created":"%s","config":{"Env":["PATH=%s"],"Cmd":%s},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"%s","created_by":"stigmer scripts/lab.sh"}]}' \
    "$arch" "$now" "$IMAGE_PATH" "$cmd" "$diff" "$now" >"$d/config.json"
  cfg=$(sha256sum "$d/config.json" | cut -d' ' -f1)
  mv "$d/config.json" "$d/$cfg.json"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["layer.tar"]}]' "$cfg" "$name" >"$d/manifest.json"
  tar -C "$d" -cf - manifest.json "$cfg.json" layer.tar | dk load -q >/dev/null
}

docker_arm64_ok() {
  docker_has "$IMG_BUSYBOX_ARM64" &&
    [[ $(dk image inspect -f '{{.Architecture}}' "$IMG_BUSYBOX_ARM64" 2>/dev/null) == arm64 ]]
}

ensure_busybox_arm64() {
  local docker_needs=0 podman_needs=0 x
  if ((REBUILD)); then
    docker_needs=$DOCKER_UP
    podman_needs=$PODMAN_UP
  else
    need_image "$IMG_BUSYBOX_ARM64" && copy_image "$IMG_BUSYBOX_ARM64"
    if ((DOCKER_UP)) && ! docker_arm64_ok; then docker_needs=1; fi
    if ((PODMAN_UP)) && ! podman_has "$IMG_BUSYBOX_ARM64"; then podman_needs=1; fi
  fi
  if ((docker_needs || podman_needs)); then
    if ! have apt-get || ! have dpkg-deb || [[ ! -x /bin/busybox ]]; then
      problem "image $IMG_BUSYBOX_ARM64" "needs apt-get, dpkg-deb and busybox-static"
      return 0
    fi
    say "building $IMG_BUSYBOX_ARM64"
    if ! fetch_arm64_busybox; then
      problem "image $IMG_BUSYBOX_ARM64" "could not download busybox-static:arm64 (see $LAB_LOG/apt.log)"
      return 0
    fi
    build_dir
    images_changed
    x=$BUILD_DIR/bb-arm64-deb
    dpkg-deb -x "$ARM64_BUSYBOX_DEB" "$x"
    if [[ -f $x/bin/busybox ]]; then x=$x/bin/busybox; else x=$x/usr/bin/busybox; fi
    make_busybox_rootfs "$x" "$BUILD_DIR/busybox-arm64"
    tar_rootfs "$BUILD_DIR/busybox-arm64" "$BUILD_DIR/busybox-arm64.tar"
    if ((podman_needs)); then
      podman import --quiet --arch arm64 --change 'CMD ["sh"]' "$BUILD_DIR/busybox-arm64.tar" "$IMG_BUSYBOX_ARM64" >/dev/null || true
    fi
    if ((docker_needs)); then
      dk rmi "$IMG_BUSYBOX_ARM64" >/dev/null 2>&1 || true
      dk import --platform linux/arm64 --change 'CMD ["sh"]' "$BUILD_DIR/busybox-arm64.tar" "$IMG_BUSYBOX_ARM64" >/dev/null 2>&1 || true
      if [[ $(dk image inspect -f '{{.Architecture}}' "$IMG_BUSYBOX_ARM64" 2>/dev/null) != arm64 ]]; then
        # Docker 20.10 accepts `import --platform` but ignores the architecture (the image
        # comes out amd64). `docker load` of a hand-made docker-archive keeps it.
        say "docker: 'import --platform linux/arm64' ignores the architecture on this engine; using 'docker load'"
        dk rmi "$IMG_BUSYBOX_ARM64" >/dev/null 2>&1 || true
        docker_load_rootfs "$BUILD_DIR/busybox-arm64.tar" "$IMG_BUSYBOX_ARM64" arm64 '["sh"]' || true
      fi
      if [[ $(dk image inspect -f '{{.Architecture}}' "$IMG_BUSYBOX_ARM64" 2>/dev/null) != arm64 ]]; then
        dk rmi "$IMG_BUSYBOX_ARM64" >/dev/null 2>&1 || true
        warn "docker: could not make an arm64 image; $IMG_BUSYBOX_ARM64 is podman-only"
      fi
    fi
  fi
  images_changed
  if ((DOCKER_UP)) && { ((!docker_needs)) || docker_arm64_ok; }; then DOCKER_ARM64=1; fi
  image_ok "$IMG_BUSYBOX_ARM64" || true
}

# check_engines_run: an engine whose API answers may still be unable to run a container
# (rootless podman without /dev/net/tun, say): such an engine is not "up".
check_engines_run() {
  local out err=$LAB_RUN/run-check.err
  if ((DOCKER_UP)) && docker_has "$IMG_BUSYBOX"; then
    out=$(dk run --rm "$IMG_BUSYBOX" echo ok 2>"$err" || true)
    if [[ $out != ok ]]; then
      DOCKER_UP=0
      problem docker "cannot run a container: $(head -c 300 "$err")"
    fi
  fi
  if ((PODMAN_UP)) && podman_has "$IMG_BUSYBOX"; then
    out=$(podman run --rm "$IMG_BUSYBOX" echo ok 2>"$err" || true)
    if [[ $out != ok ]]; then
      PODMAN_UP=0
      problem podman "cannot run a container: $(head -c 300 "$err")"
    fi
  fi
  rm -f "$err"
}

check_arm64_runs() {
  local out=
  if [[ $(uname -m) == aarch64 ]]; then
    QEMU_OK=1
    return 0
  fi
  if ((PODMAN_UP)) && podman_has "$IMG_BUSYBOX_ARM64"; then
    out=$(podman run --rm --arch arm64 "$IMG_BUSYBOX_ARM64" uname -m 2>/dev/null || true)
  elif ((DOCKER_ARM64)); then
    out=$(dk run --rm --platform linux/arm64 "$IMG_BUSYBOX_ARM64" uname -m 2>/dev/null || true)
  fi
  if [[ $out == aarch64 ]]; then
    QEMU_OK=1
    say "qemu: arm64 containers run (uname -m = aarch64)"
  else
    warn "qemu: arm64 containers do not run (got '${out:-nothing}'); STIGMER_LAB_QEMU=0"
  fi
}

# prune_python_rootfs DIR [KEEP_PYC]: make a debootstrap tree about as small as
# python:3.11-slim (which ships no .pyc either). The builder keeps its .pyc files: without
# them every `poetry` run recompiles Poetry (1.5 s instead of 0.6 s for `poetry --version`).
prune_python_rootfs() {
  local r=$1 keep_pyc=${2:-0}
  rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/* "$r"/var/cache/debconf/*-old \
    "$r"/usr/share/doc/* "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/usr/share/locale/* \
    "$r"/usr/share/lintian "$r"/usr/share/linda "$r"/usr/share/groff \
    "$r"/usr/lib/python3.11/test "$r"/usr/lib/python3.11/idlelib "$r"/usr/lib/python3.11/tkinter \
    "$r"/usr/lib/python3.11/lib2to3/tests "$r"/usr/lib/python3.11/unittest/test \
    "$r"/usr/lib/python3.11/ctypes/test "$r"/usr/lib/python3.11/sqlite3/test
  find "$r"/var/log -type f -delete
  if ((!keep_pyc)); then find "$r"/usr -depth -type d -name __pycache__ -exec rm -rf {} +; fi
  # Like the official image: no PEP 668 marker (pip installs of local wheels work).
  rm -f "$r"/usr/lib/python3*/EXTERNALLY-MANAGED
  # Keep later `apt-get install`s in derived images slim too (what debian:*-slim does).
  mkdir -p "$r/etc/dpkg/dpkg.cfg.d"
  printf 'path-exclude %s\n' '/usr/share/doc/*' '/usr/share/man/*' '/usr/share/info/*' \
    '/usr/share/locale/*' '/usr/share/groff/*' '/usr/share/lintian/*' '/usr/share/linda/*' \
    >"$r/etc/dpkg/dpkg.cfg.d/stigmer-lab-slim"
  # Engine-managed files; debootstrap copied the host's.
  rm -f "$r/etc/resolv.conf" "$r/etc/hostname"
  : >"$r/etc/hostname"
  # Same apt sources as the official image.
  rm -f "$r/etc/apt/sources.list"
  cat >"$r/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  mkdir -p "$r/usr/local/bin"
  ln -sfn /usr/bin/python3 "$r/usr/local/bin/python"
  chmod 1777 "$r/tmp" "$r/var/tmp"
}

build_python_tarballs() {
  local need_slim=$1 need_builder=$2 root=$BUILD_DIR/py log=$LAB_LOG/debootstrap.log
  say "debootstrap $DEBIAN_SUITE + python3 (about a minute; log: $log)"
  if ! debootstrap --variant=minbase --include=python3,python3-venv "$DEBIAN_SUITE" "$root" "$DEBIAN_MIRROR" >>"$log" 2>&1; then
    return 1
  fi
  if ((need_builder)); then
    say "adding python3-poetry, python3-pip, python3-hatchling and a wheelhouse for the builder image"
    cp -a "$root" "$BUILD_DIR/pyb"
    cp /etc/resolv.conf "$BUILD_DIR/pyb/etc/resolv.conf"
    if ! chroot "$BUILD_DIR/pyb" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -q --no-install-recommends python3-poetry python3-pip python3-hatchling >>"$log" 2>&1; then
      return 1
    fi
    # PyPI is out of reach: pip's isolated builds (pip install . of a hatchling project, of a
    # poetry-core path dependency) find their build backends in this wheelhouse instead,
    # through PIP_FIND_LINKS and PIP_NO_INDEX set on the builder image (ensure_python).
    cp "$REPO_DIR/scripts/lab-wheelhouse.py" "$BUILD_DIR/pyb/tmp/wheelhouse.py"
    if ! chroot "$BUILD_DIR/pyb" /usr/bin/python3 /tmp/wheelhouse.py /opt/wheels \
      hatchling packaging pathspec pluggy poetry-core >>"$log" 2>&1; then
      return 1
    fi
    rm -f "$BUILD_DIR/pyb/tmp/wheelhouse.py"
    prune_python_rootfs "$BUILD_DIR/pyb" 1
    tar --numeric-owner -C "$BUILD_DIR/pyb" -czf "$PY_BUILDER_TARBALL.tmp" . && mv "$PY_BUILDER_TARBALL.tmp" "$PY_BUILDER_TARBALL"
  fi
  if ((need_slim)); then
    prune_python_rootfs "$root"
    tar --numeric-owner -C "$root" -czf "$PY_TARBALL.tmp" . && mv "$PY_TARBALL.tmp" "$PY_TARBALL"
  fi
}

ensure_python() {
  local need_slim=0 need_builder=0
  local changes=('CMD ["python3"]' "ENV PATH=$IMAGE_PATH" 'ENV LANG=C.UTF-8')
  if ((REBUILD)); then
    need_slim=1
    need_builder=1
  else
    need_image "$IMG_PYTHON" && copy_image "$IMG_PYTHON"
    need_image "$IMG_PYTHON_BUILDER" && copy_image "$IMG_PYTHON_BUILDER"
    need_image "$IMG_PYTHON" && [[ ! -s $PY_TARBALL ]] && need_slim=1
    need_image "$IMG_PYTHON_BUILDER" && [[ ! -s $PY_BUILDER_TARBALL ]] && need_builder=1
  fi
  if ((need_slim || need_builder)); then
    if ((!IS_ROOT)) || ! have debootstrap; then
      ((need_slim)) && problem "image $IMG_PYTHON" "no cached $PY_TARBALL and debootstrap needs root"
      ((need_builder)) && problem "image $IMG_PYTHON_BUILDER" "no cached $PY_BUILDER_TARBALL and debootstrap needs root"
      return 0
    fi
    build_dir
    mkdir -p "$LAB_CACHE"
    if ! build_python_tarballs "$need_slim" "$need_builder"; then
      problem "python images" "debootstrap/apt failed (see $LAB_LOG/debootstrap.log)"
      return 0
    fi
  fi
  if { ((REBUILD)) || need_image "$IMG_PYTHON"; } && [[ -s $PY_TARBALL ]]; then
    say "importing $IMG_PYTHON"
    import_image "$IMG_PYTHON" "$PY_TARBALL" amd64 "${changes[@]}" || true
  fi
  if { ((REBUILD)) || need_image "$IMG_PYTHON_BUILDER"; } && [[ -s $PY_BUILDER_TARBALL ]]; then
    say "importing $IMG_PYTHON_BUILDER"
    import_image "$IMG_PYTHON_BUILDER" "$PY_BUILDER_TARBALL" amd64 "${changes[@]}" \
      'ENV PIP_FIND_LINKS=/opt/wheels' 'ENV PIP_NO_INDEX=1' || true
  fi
  image_ok "$IMG_PYTHON" || true
  image_ok "$IMG_PYTHON_BUILDER" || true
}

# ---------------------------------------------------------------- test user

ensure_test_user() {
  local uid gid
  if ((!IS_ROOT)); then
    if id "$TEST_USER" >/dev/null 2>&1; then TEST_USER_OK=1; else warn "not root: no test user $TEST_USER"; fi
    return 0
  fi
  getent group docker >/dev/null || groupadd --system docker
  if ! getent group "$TEST_USER" >/dev/null; then
    if getent group "$TEST_UID" >/dev/null; then
      problem "test user" "gid $TEST_UID is taken by group $(getent group "$TEST_UID" | cut -d: -f1)"
      return 0
    fi
    groupadd -g "$TEST_UID" "$TEST_USER"
  fi
  if ! id "$TEST_USER" >/dev/null 2>&1; then
    if getent passwd "$TEST_UID" >/dev/null; then
      problem "test user" "uid $TEST_UID is taken by $(getent passwd "$TEST_UID" | cut -d: -f1)"
      return 0
    fi
    say "creating user $TEST_USER (uid/gid $TEST_UID, group docker)"
    useradd -m -u "$TEST_UID" -g "$TEST_USER" -G docker -s /bin/bash "$TEST_USER"
  fi
  uid=$(id -u "$TEST_USER")
  gid=$(id -g "$TEST_USER")
  if [[ $uid != "$TEST_UID" || $gid != "$TEST_UID" ]]; then
    problem "test user" "$TEST_USER exists with uid/gid $uid/$gid, expected $TEST_UID/$TEST_UID"
    return 0
  fi
  local groups g
  groups=" $(id -nG "$TEST_USER") "
  for g in docker "$PODMAN_GROUP"; do
    if [[ $groups != *" $g "* ]] && getent group "$g" >/dev/null; then usermod -aG "$g" "$TEST_USER"; fi
  done
  TEST_USER_OK=1
}

# ---------------------------------------------------------------- env file

write_env() {
  local engines=() tmp
  ((DOCKER_UP)) && engines+=(docker)
  ((PODMAN_UP)) && engines+=(podman)
  # an image is listed only if every engine that is up has it
  img() { if ! need_image "$1" && ((DOCKER_UP || PODMAN_UP)); then printf '%s' "$1"; fi; }
  tmp=$(mktemp "$LAB_LIB/lab.env.XXXXXX")
  {
    printf '# stigmer test lab, written by scripts/lab.sh. Empty value = not available.\n'
    printf 'STIGMER_LAB_DOCKER_SOCK=%s\n' "$( ((DOCKER_UP)) && printf '%s' "$DOCKER_SOCK")"
    printf 'STIGMER_LAB_PODMAN_SOCK=%s\n' "$( ((PODMAN_UP)) && printf '%s' "$PODMAN_SOCK")"
    printf 'STIGMER_LAB_REGISTRY=%s\n' "$( ((REGISTRY_UP)) && printf '%s' "$REGISTRY_ADDR")"
    printf 'STIGMER_LAB_REGISTRY_USER=%s\n' "$REGISTRY_USER"
    printf 'STIGMER_LAB_REGISTRY_PASSWORD_FILE=%s\n' "$REG_PASSWORD_FILE"
    printf 'STIGMER_LAB_BUSYBOX=%s\n' "$(img "$IMG_BUSYBOX")"
    printf 'STIGMER_LAB_BUSYBOX_ARM64=%s\n' "$(img "$IMG_BUSYBOX_ARM64")"
    printf 'STIGMER_LAB_PYTHON=%s\n' "$(img "$IMG_PYTHON")"
    printf 'STIGMER_LAB_PYTHON_BUILDER=%s\n' "$(img "$IMG_PYTHON_BUILDER")"
    printf 'STIGMER_LAB_ENGINES="%s"\n' "${engines[*]}"
    printf 'STIGMER_LAB_TEST_USER=%s\n' "$( ((TEST_USER_OK)) && printf '%s' "$TEST_USER")"
    printf 'STIGMER_LAB_QEMU=%s\n' "$QEMU_OK"
  } >"$tmp"
  chmod 640 "$tmp"
  if ((IS_ROOT)) && getent group docker >/dev/null; then chgrp docker "$tmp"; fi
  mv "$tmp" "$ENV_FILE"
  # Nothing in the file is secret (the password stays in its own file): print all of it.
  grep -v '^#' "$ENV_FILE"
}

# ---------------------------------------------------------------- self-test

self_test() {
  local fails=0 tmp name ref auth code digest st i
  tmp=$(mktemp -d)
  ref=$REGISTRY_ADDR/stigmer-lab/selftest:$$
  name=stigmer-lab-selftest-$$
  say "self-test: start"
  if ((REGISTRY_UP && DOCKER_UP)) && docker_has "$IMG_BUSYBOX"; then
    if DOCKER_CONFIG=$tmp/docker dk login -u "$REGISTRY_USER" --password-stdin "$REGISTRY_ADDR" <"$REG_PASSWORD_FILE" >/dev/null 2>&1 &&
      dk tag "$IMG_BUSYBOX" "$ref" && DOCKER_CONFIG=$tmp/docker dk push "$ref" >/dev/null; then
      say "self-test: docker login + push $ref ok"
    else
      warn "self-test: docker login/push failed"
      fails=$((fails + 1))
    fi
    DOCKER_CONFIG=$tmp/docker dk logout "$REGISTRY_ADDR" >/dev/null 2>&1 || true
    dk rmi "$ref" >/dev/null 2>&1 || true
    if ((PODMAN_UP)); then
      # registries.conf.d marks the registry insecure: no --tls-verify=false needed
      if podman login --authfile "$tmp/auth.json" -u "$REGISTRY_USER" --password-stdin "$REGISTRY_ADDR" <"$REG_PASSWORD_FILE" >/dev/null 2>&1 &&
        podman pull --quiet --authfile "$tmp/auth.json" "$ref" >/dev/null &&
        [[ $(podman run --rm "$ref" sh -c 'echo ok') == ok ]]; then
        say "self-test: podman login + pull + run ok"
      else
        warn "self-test: podman login/pull failed"
        fails=$((fails + 1))
      fi
      podman logout --authfile "$tmp/auth.json" "$REGISTRY_ADDR" >/dev/null 2>&1 || true
      podman rmi "$ref" >/dev/null 2>&1 || true
      # and through the API service (what dockerode does), credentials in X-Registry-Auth
      auth=$(printf '{"username":"%s","password":"%s","serveraddress":"%s"}' "$REGISTRY_USER" "$(<"$REG_PASSWORD_FILE")" "$REGISTRY_ADDR" | base64 -w0 | tr '+/' '-_')
      code=$(printf 'header = "X-Registry-Auth: %s"\n' "$auth" |
        curl -s -K - -o "$tmp/pull.out" -w '%{http_code}' --max-time 60 --unix-socket "$PODMAN_SOCK" \
          -X POST "http://d/v1.41/images/create?fromImage=${ref%:*}&tag=${ref##*:}" || true)
      if [[ $code == 200 ]] && ! grep -q '"error"' "$tmp/pull.out" && podman image exists "$ref"; then
        say "self-test: podman API service pull ok"
      else
        warn "self-test: podman API service pull failed ($code: $(head -c 300 "$tmp/pull.out"))"
        fails=$((fails + 1))
      fi
      podman rmi "$ref" >/dev/null 2>&1 || true
    fi
    # delete the test image from the registry again
    digest=$(printf 'user = "%s:%s"\n' "$REGISTRY_USER" "$(<"$REG_PASSWORD_FILE")" |
      curl -s -K - -I -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
        "http://$REGISTRY_ADDR/v2/stigmer-lab/selftest/manifests/${ref##*:}" |
      tr -d '\r' | awk -F': ' 'tolower($1) == "docker-content-digest" {print $2}')
    if [[ -n $digest ]]; then
      printf 'user = "%s:%s"\n' "$REGISTRY_USER" "$(<"$REG_PASSWORD_FILE")" |
        curl -s -K - -o /dev/null -X DELETE "http://$REGISTRY_ADDR/v2/stigmer-lab/selftest/manifests/$digest" || true
    fi
  fi
  if ((DOCKER_UP)) && docker_has "$IMG_BUSYBOX"; then
    dk run -d --name "$name" --health-cmd 'test -e /tmp' --health-interval 1s "$IMG_BUSYBOX" sleep 60 >/dev/null
    st=
    for ((i = 0; i < 40; i++)); do
      st=$(dk inspect -f '{{.State.Health.Status}}' "$name" 2>/dev/null || true)
      [[ $st == healthy ]] && break
      sleep 0.25
    done
    dk rm -f "$name" >/dev/null 2>&1 || true
    if [[ $st == healthy ]]; then say "self-test: docker health check ok"; else
      warn "self-test: docker health check: $st"
      fails=$((fails + 1))
    fi
  fi
  if ((PODMAN_UP)) && podman_has "$IMG_BUSYBOX"; then
    podman run -d --name "$name" --health-cmd 'test -e /tmp' --health-interval 1s "$IMG_BUSYBOX" sleep 60 >/dev/null 2>&1 || true
    # no systemd here: nothing runs the check periodically, so run it once by hand
    podman healthcheck run "$name" >/dev/null 2>&1 || true
    st=$(podman inspect -f '{{.State.Health.Status}}' "$name" 2>/dev/null || podman inspect -f '{{.State.Healthcheck.Status}}' "$name" 2>/dev/null || true)
    podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
    if [[ $st == healthy ]]; then say "self-test: podman health check ok"; else
      warn "self-test: podman health check: ${st:-no status}"
      fails=$((fails + 1))
    fi
  fi
  rm -rf "$tmp"
  if ((fails)); then
    problem self-test "$fails check(s) failed"
  else
    say "self-test: all ok"
  fi
}

# ---------------------------------------------------------------- main

down() {
  mkdir -p "$LAB_RUN"
  stop_bg registry "registry"
  stop_bg podman "podman"
  stop_bg dockerd "dockerd"
  say "down (images, registry data and the password are kept)"
}

main() {
  local mode=up want_self_test=0 arg
  for arg in "$@"; do
    case $arg in
      --down) mode=down ;;
      --self-test) want_self_test=1 ;;
      --rebuild) REBUILD=1 ;;
      -h | --help)
        usage
        return 0
        ;;
      *) die "unknown argument: $arg (try --help)" ;;
    esac
  done
  [[ $(uname -s) == Linux ]] || die "the test lab is Linux-only"
  mkdir -p "$LAB_RUN" "$LAB_LOG" "$LAB_LIB" "$LAB_CACHE"
  exec 9>"$LAB_RUN/lock"
  flock -w 900 9 || die "another lab.sh is running (lock $LAB_RUN/lock)"
  if [[ $mode == down ]]; then
    down
    return 0
  fi
  ((IS_ROOT)) || say "not root: using what is already installed and running"
  ensure_packages
  have curl || die "curl is required"
  ensure_docker
  ensure_podman
  ensure_registry
  ensure_qemu
  ensure_busybox
  check_engines_run
  ensure_busybox_arm64
  check_arm64_runs
  ensure_python
  ensure_test_user
  if ((DOCKER_UP)) && docker_has "$IMG_PYTHON"; then
    say "python image size in docker: $(dk image inspect -f '{{.Size}}' "$IMG_PYTHON" | awk '{printf "%.0f MB", $1 / 1e6}')"
  fi
  cleanup # removing the build trees takes a while on a slow disk: count it
  ((want_self_test)) && self_test
  write_env
  if ((${#FAILURES[@]})); then
    if ((STRICT)); then
      printf 'lab: ERROR: CI=true and the lab is incomplete:\n' >&2
      printf 'lab:   - %s\n' "${FAILURES[@]}" >&2
      exit 1
    fi
    warn "lab is incomplete (${#FAILURES[@]} problem(s) above); tests needing those parts will skip"
  fi
  say "ready in $((SECONDS - START_SECONDS)) s; env: $ENV_FILE"
}

main "$@"
