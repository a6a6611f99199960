#!/usr/bin/env bash
# Builds the Go binaries the tests run against (kube-apiserver, kubectl, etcd,
# kube-controller-manager, kube-scheduler, kwok), and optionally upstream opm and helm,
# from their Go modules. Binaries are cached outside the repo, keyed by version, and rebuilt
# only on a miss.
#
# Prints the directory holding the binaries (KUBEBUILDER_ASSETS layout) on stdout; for
# `helm`, the path of the helm binary.
#
# Usage: scripts/build-go-tools.sh [kube|etcd|kwok|opm|rukpak|rukpak-convert|helm|all]   (default: kube etcd kwok)
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
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
# The newest helm v3 release approved here (v3.22.0 is served but not approved).
HELM_VERSION="${HELM_VERSION:-v3.21.4}"
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

# Every binary of the k8s.io/kubernetes module the tests run. A cache missing any of them (one
# from before the controller-manager and scheduler were added) is completed, not reused as is.
KUBE_CMDS=(kube-apiserver kubectl kube-controller-manager kube-scheduler)

build_kube() {
  local out="$CACHE_ROOT/kube/$KUBE_VERSION"
  local missing=() cmd
  for cmd in "${KUBE_CMDS[@]}"; do
    [[ -x "$out/bin/$cmd" ]] || missing+=("$cmd")
  done
  if ((${#missing[@]} == 0)); then
    log "kube $KUBE_VERSION: cached in $out/bin"
    return
  fi
  need_go "${missing[*]}"
  local start=$SECONDS
  local work="$out/module"
  mkdir -p "$out/bin"
  # The wrapper module of an earlier build is reused: only its tools.go changes.
  if ! grep -qs "k8s.io/kubernetes $KUBE_VERSION" "$work/go.mod"; then
    kube_module "$work"
  fi
  cd "$work"
  {
    printf '//go:build tools\n\npackage tools\n\nimport (\n'
    for cmd in "${KUBE_CMDS[@]}"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$cmd"; done
    printf ')\n'
  } > tools.go
  go mod tidy -e >/dev/null 2>&1 || true
  local minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
  local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  # Built under a temporary name and moved into place: other runs may be executing the old binary.
  for cmd in "${missing[@]}"; do
    CGO_ENABLED=0 go build -tags tools -trimpath -o "$out/bin/$cmd.tmp" -ldflags "$ldflags" "k8s.io/kubernetes/cmd/$cmd"
    mv "$out/bin/$cmd.tmp" "$out/bin/$cmd"
  done
  log "kube $KUBE_VERSION: built ${missing[*]} in $((SECONDS - start))s"
  echo "$((SECONDS - start)) ${missing[*]}" > "$out/build-seconds"
}

# A wrapper module requiring k8s.io/kubernetes, with the release's staging modules replaced by
# their published versions (the release's own go.mod points them at ./staging).
kube_module() {
  local work="$1"
  rm -rf "$work" && mkdir -p "$work"
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
  local n=0 mod
  while read -r mod; do
    go mod edit -replace="$mod=$mod@$staging_ver"
    n=$((n + 1))
  done < <(sed -n 's#^[[:space:]]*\(k8s.io/[^[:space:]]*\)[[:space:]]*=>[[:space:]]*\./staging/src/.*#\1#p' "$gomod" | sort -u)
  log "kube $KUBE_VERSION: $n staging modules replaced at $staging_ver"
  go mod edit -require="k8s.io/kubernetes@$KUBE_VERSION"
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

# kwok simulates nodes and their kubelets: pods bound to a fake node go Running and Ready.
# Its module has no replace lines, so `go install module@version` builds it as released.
build_kwok() {
  local out="$CACHE_ROOT/kwok/$KWOK_VERSION"
  if [[ -x "$out/bin/kwok" && -f "$out/stages.yaml" ]]; then
    log "kwok $KWOK_VERSION: cached in $out"
    return
  fi
  need_go kwok
  local start=$SECONDS
  mkdir -p "$out/bin"
  go_install "$out/bin" kwok "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "-s -w"
  kwok_stages "$out/stages.yaml"
  log "kwok $KWOK_VERSION: built in $((SECONDS - start))s"
  echo "$((SECONDS - start))" > "$out/build-seconds"
}

# The standalone kwok binary has no built-in Stages (kwokctl supplies them). These are the ones
# kwokctl uses for a node with a lease, read from the release's own module: a node becomes
# Ready and heartbeats; a bound pod becomes Running and Ready, completes, and is deleted.
kwok_stages() {
  local dest="$1" dir
  dir="$(GOFLAGS= go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)",*/\1/p')"
  local stage first=1
  : > "$dest.tmp"
  for stage in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
    pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
    [[ -f "$dir/kustomize/stage/$stage.yaml" ]] || { log "kwok $KWOK_VERSION: no stage $stage in $dir"; exit 1; }
    ((first)) || echo "---" >> "$dest.tmp"
    first=0
    cat "$dir/kustomize/stage/$stage.yaml" >> "$dest.tmp"
  done
  mv "$dest.tmp" "$dest"
}

# helm, for the helm provisioner's `helm template`. A separate target: only some tests need it.
build_helm() {
  local out="$CACHE_ROOT/helm/$HELM_VERSION"
  if [[ -x "$out/bin/helm" ]]; then
    log "helm $HELM_VERSION: cached in $out/bin"
    return
  fi
  need_go helm
  local start=$SECONDS
  mkdir -p "$out/bin"
  # What helm's Makefile stamps for a release: its version, and the Kubernetes version its
  # client-go stands for (v0.36 -> 1.36), the default of `.Capabilities.KubeVersion`.
  local gomod kver
  gomod="$(GOFLAGS= go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')"
  kver="$(sed -n 's#^[[:space:]]*k8s.io/client-go v0\.\([0-9]*\)\..*#\1#p' "$gomod")"
  [[ -n "$kver" ]] || { log "helm $HELM_VERSION: no k8s.io/client-go in its go.mod"; exit 1; }
  local pkg ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.metadata="
  for pkg in pkg/lint/rules pkg/chartutil; do
    ldflags+=" -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$kver"
  done
  go_install "$out/bin" helm "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" "$ldflags"
  log "helm $HELM_VERSION: built in $((SECONDS - start))s"
  echo "$((SECONDS - start))" > "$out/build-seconds"
}

# `go install <pkg>@<version>` into a temporary GOBIN, then moved into <bin-dir>/<name>.
# GOFLAGS is cleared: -mod=mod does not apply outside a main module.
go_install() {
  local bin="$1" name="$2" pkg="$3" ldflags="$4"
  local tmp="$bin/.install.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  GOFLAGS= GOBIN="$tmp" CGO_ENABLED=0 go install -trimpath -ldflags "$ldflags" "$pkg"
  mv "$tmp/$name" "$bin/$name"
  rm -rf "$tmp"
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
  local cmd
  for cmd in "${KUBE_CMDS[@]}"; do
    ln -sf "$CACHE_ROOT/kube/$KUBE_VERSION/bin/$cmd" "$assets/$cmd"
  done
  ln -sf "$CACHE_ROOT/kwok/$KWOK_VERSION/bin/kwok" "$assets/kwok"
  ln -sf "$CACHE_ROOT/kwok/$KWOK_VERSION/stages.yaml" "$assets/kwok-stages.yaml"
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
  kwok) build_kwok ;;
  helm) build_helm; echo "$CACHE_ROOT/helm/$HELM_VERSION/bin/helm" ;;
  default) build_etcd; build_kube; build_kwok; assemble ;;
  all) build_etcd; build_kube; build_kwok; build_opm; assemble ;;
  *) echo "usage: $0 [kube|etcd|kwok|opm|rukpak|rukpak-convert|helm|all]" >&2; exit 2 ;;
esac
