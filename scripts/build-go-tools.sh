#!/usr/bin/env bash
# Builds the Go binaries the tests run against (kube-apiserver, kubectl, etcd),
# and optionally upstream opm, from their Go modules. Binaries are cached
# outside the repo, keyed by version, and rebuilt only on a miss.
#
# Prints the directory holding the binaries (KUBEBUILDER_ASSETS layout) on stdout.
#
# Usage: scripts/build-go-tools.sh [kube|etcd|opm|rukpak|rukpak-convert|all]   (default: kube etcd)
# `rukpak` (upstream rukpak's cmd/core, for bench/rukpak) is built only when asked for.
# `rukpak-convert` (upstream's registry+v1 conversion behind a small harness, for the
# differential test of crates/registry-convert) prints the harness binary's path.
set -euo pipefail

# v1.36.3 is the newest 1.36 patch the Go module proxy serves here (v1.36.6 answers 403).
KUBE_VERSION="${KUBE_VERSION:-v1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.5.21}"
OPM_VERSION="${OPM_VERSION:-v1.73.0}"
RUKPAK_VERSION="${RUKPAK_VERSION:-v0.16.0}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_ROOT="${OLMRS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/olm-rs}"
export GOFLAGS="${GOFLAGS:--mod=mod}"
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"

log() { echo "build-go-tools: $*" >&2; }

need_go() {
  if ! command -v go >/dev/null 2>&1; then
    log "no Go toolchain on PATH; cannot build $1"
    exit 3
  fi
}

build_kube() {
  local out="$CACHE_ROOT/kube/$KUBE_VERSION"
  if [[ -x "$out/bin/kube-apiserver" && -x "$out/bin/kubectl" ]]; then
    log "kube $KUBE_VERSION: cached in $out/bin"
    return
  fi
  need_go kube-apiserver
  local start=$SECONDS
  local work="$out/module"
  rm -rf "$work" && mkdir -p "$work" "$out/bin"
  cd "$work"
  go mod init local/kubebin >/dev/null 2>&1
  # The staging list is read from the release's own go.mod: it changes between releases.
  local info gomod
  info="$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" || true)"
  gomod="$(sed -n 's/.*"GoMod": "\(.*\)",*/\1/p' <<<"$info")"
  if [[ ! -f "$gomod" ]]; then
    log "could not download k8s.io/kubernetes@$KUBE_VERSION: $(sed -n 's/.*"Error": "\(.*\)".*/\1/p' <<<"$info")"
    exit 1
  fi
  local staging_ver="v0.${KUBE_VERSION#v1.}"
  local n=0
  while read -r mod; do
    go mod edit -replace="$mod=$mod@$staging_ver"
    n=$((n + 1))
  done < <(sed -n 's#^[[:space:]]*\(k8s.io/[^[:space:]]*\)[[:space:]]*=>[[:space:]]*\./staging/src/.*#\1#p' "$gomod" | sort -u)
  log "kube $KUBE_VERSION: $n staging modules replaced at $staging_ver"
  go mod edit -require="k8s.io/kubernetes@$KUBE_VERSION"
  cat > tools.go <<GO
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  go mod tidy -e >/dev/null 2>&1 || true
  local minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
  local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  for cmd in kube-apiserver kubectl; do
    CGO_ENABLED=0 go build -tags tools -trimpath -o "$out/bin/$cmd.tmp" -ldflags "$ldflags" "k8s.io/kubernetes/cmd/$cmd"
    mv "$out/bin/$cmd.tmp" "$out/bin/$cmd"
  done
  log "kube $KUBE_VERSION: built in $((SECONDS - start))s"
  echo "$((SECONDS - start))" > "$out/build-seconds"
}

build_etcd() {
  local out="$CACHE_ROOT/etcd/$ETCD_VERSION"
  if [[ -x "$out/bin/etcd" ]]; then
    log "etcd $ETCD_VERSION: cached in $out/bin"
    return
  fi
  need_go etcd
  local start=$SECONDS
  local work="$out/module"
  rm -rf "$work" && mkdir -p "$work" "$out/bin"
  cd "$work"
  # etcd's server module has replace lines, so `go install` fails; a wrapper module works.
  go mod init local/etcdbin >/dev/null 2>&1
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null 2>&1
  cat > tools.go <<GO
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO
  go mod tidy -e >/dev/null 2>&1 || true
  CGO_ENABLED=0 go build -tags tools -trimpath -ldflags "-s -w" -o "$out/bin/etcd.tmp" go.etcd.io/etcd/server/v3
  mv "$out/bin/etcd.tmp" "$out/bin/etcd"
  log "etcd $ETCD_VERSION: built in $((SECONDS - start))s"
  echo "$((SECONDS - start))" > "$out/build-seconds"
}

build_opm() {
  local out="$CACHE_ROOT/opm/$OPM_VERSION"
  if [[ -x "$out/bin/opm" ]]; then
    log "opm $OPM_VERSION: cached in $out/bin"
    return
  fi
  need_go opm
  local start=$SECONDS
  local work="$out/module"
  rm -rf "$work" && mkdir -p "$work" "$out/bin"
  cd "$work"
  go mod init local/opmbin >/dev/null 2>&1
  go get "github.com/operator-framework/operator-registry@$OPM_VERSION" >/dev/null 2>&1
  cat > tools.go <<GO
//go:build tools

package tools

import _ "github.com/operator-framework/operator-registry/cmd/opm"
GO
  go mod tidy -e >/dev/null 2>&1 || true
  # mattn/go-sqlite3 needs cgo.
  CGO_ENABLED=1 go build -tags "tools json1 containers_image_openpgp" -trimpath -ldflags "-s -w" -o "$out/bin/opm.tmp" github.com/operator-framework/operator-registry/cmd/opm
  mv "$out/bin/opm.tmp" "$out/bin/opm"
  log "opm $OPM_VERSION: built in $((SECONDS - start))s"
  echo "$((SECONDS - start))" > "$out/build-seconds"
}

# Upstream rukpak's `core` (Bundle controller, git and configMaps unpacking in-process), the
# baseline of bench/rukpak. Its go.mod pins 2023 dependencies; `go mod tidy` keeps them.
build_rukpak() {
  local out="$CACHE_ROOT/rukpak/$RUKPAK_VERSION"
  if [[ -x "$out/bin/core" ]]; then
    log "rukpak $RUKPAK_VERSION: cached in $out/bin"
    return
  fi
  need_go rukpak
  local start=$SECONDS
  local work="$out/module"
  rm -rf "$work" && mkdir -p "$work" "$out/bin"
  cd "$work"
  go mod init local/rukpakbin >/dev/null 2>&1
  go get "github.com/operator-framework/rukpak@$RUKPAK_VERSION" >/dev/null 2>&1
  cat > tools.go <<GO
//go:build tools

package tools

import _ "github.com/operator-framework/rukpak/cmd/core"
GO
  go mod tidy -e >/dev/null 2>&1 || true
  go build -tags tools -trimpath -ldflags "-s -w" -o "$out/bin/core.tmp" github.com/operator-framework/rukpak/cmd/core
  mv "$out/bin/core.tmp" "$out/bin/core"
  log "rukpak $RUKPAK_VERSION: built in $((SECONDS - start))s"
  echo "$((SECONDS - start))" > "$out/build-seconds"
}

# Upstream's `internal/convert.RegistryV1ToPlain` behind our harness
# (scripts/go/rukpak-convert-harness). Go forbids importing `internal/` from another module, so
# the harness is built inside a writable copy of the rukpak module's own tree. The cache key is
# the version plus the harness source's digest, so editing the harness rebuilds it.
build_rukpak_convert() {
  local out="$CACHE_ROOT/rukpak/$RUKPAK_VERSION"
  local harness="$REPO_ROOT/scripts/go/rukpak-convert-harness/main.go"
  local digest bin
  digest="$(sha256sum "$harness" | cut -c1-12)"
  bin="$out/bin/convert-harness"
  if [[ -x "$bin" && "$(cat "$out/convert-harness.digest" 2>/dev/null)" == "$digest" ]]; then
    log "rukpak $RUKPAK_VERSION convert harness: cached in $bin"
    echo "$bin"
    return
  fi
  need_go rukpak-convert
  local start=$SECONDS
  local info dir
  info="$(go mod download -json "github.com/operator-framework/rukpak@$RUKPAK_VERSION" || true)"
  dir="$(sed -n 's/.*"Dir": "\(.*\)",*/\1/p' <<<"$info")"
  if [[ ! -d "$dir" ]]; then
    log "could not download github.com/operator-framework/rukpak@$RUKPAK_VERSION: $(sed -n 's/.*"Error": "\(.*\)".*/\1/p' <<<"$info")"
    exit 1
  fi
  local work="$out/convert-module"
  rm -rf "$work" && mkdir -p "$work" "$out/bin"
  cp -R "$dir/." "$work/"
  chmod -R u+w "$work"
  mkdir -p "$work/cmd/olmrs-convert-harness"
  cp "$harness" "$work/cmd/olmrs-convert-harness/main.go"
  (cd "$work" && go build -trimpath -ldflags "-s -w" -o "$bin.tmp" ./cmd/olmrs-convert-harness)
  mv "$bin.tmp" "$bin"
  echo "$digest" > "$out/convert-harness.digest"
  log "rukpak $RUKPAK_VERSION convert harness: built in $((SECONDS - start))s"
  echo "$bin"
}

# Assemble one KUBEBUILDER_ASSETS-style directory of links.
assemble() {
  local assets="$CACHE_ROOT/assets"
  mkdir -p "$assets"
  ln -sf "$CACHE_ROOT/kube/$KUBE_VERSION/bin/kube-apiserver" "$assets/kube-apiserver"
  ln -sf "$CACHE_ROOT/kube/$KUBE_VERSION/bin/kubectl" "$assets/kubectl"
  ln -sf "$CACHE_ROOT/etcd/$ETCD_VERSION/bin/etcd" "$assets/etcd"
  if [[ -x "$CACHE_ROOT/opm/$OPM_VERSION/bin/opm" ]]; then
    ln -sf "$CACHE_ROOT/opm/$OPM_VERSION/bin/opm" "$assets/opm"
  fi
  echo "$assets"
}

what="${1:-default}"
case "$what" in
  kube) build_kube ;;
  etcd) build_etcd ;;
  opm) build_opm ;;
  rukpak) build_rukpak ;;
  rukpak-convert) build_rukpak_convert ;;
  default) build_etcd; build_kube; assemble ;;
  all) build_etcd; build_kube; build_opm; assemble ;;
  *) echo "usage: $0 [kube|etcd|opm|rukpak|rukpak-convert|all]" >&2; exit 2 ;;
esac
