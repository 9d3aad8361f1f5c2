#!/usr/bin/env bash
# Part of `make engine` (engine/build.sh runs it): a Kubernetes control plane built from Go modules into
# .engine/bin, for the live-cluster tests. Test equipment: production runs on ACK.
#
#   kube-apiserver, kube-controller-manager, kube-scheduler
#                   k8s.io/kubernetes v1.36.3 (wrapper module engine/kube: every staging module replaced
#                   with its published v0.36.3), with upstream's build flags (hack/lib/golang.sh)
#   etcd            go.etcd.io/etcd/server/v3 v3.6.8, the version k8s v1.36.3 pins, same module
#   kwok            sigs.k8s.io/kwok v0.8.0 (wrapper module engine/kwok), which plays the nodes; its stage
#                   definitions are copied from its module into .engine/kwok/stages
#
# A binary already installed is used instead, as for `pulumi`: found on PATH, or (kube-apiserver and etcd,
# which controller-runtime's envtest ships) in $KUBEBUILDER_ASSETS. Idempotent: each binary carries a stamp
# of its inputs; Go's module and build caches make a rebuild after a change fast.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.engine/bin"
stages="$root/.engine/kwok/stages"
mkdir -p "$bin" "$stages"

KUBERNETES_VERSION=v1.36.3

stamp() { cat "$@" | sha256sum | cut -c1-16; }

# installed NAME: the path of an installed NAME (PATH without .engine/bin, then $KUBEBUILDER_ASSETS), if any.
installed() {
  local found
  if found=$(PATH=$(echo "$PATH" | tr ':' '\n' | grep -vx "$bin" | paste -sd:) command -v "$1"); then
    echo "$found"
  elif [ -n "${KUBEBUILDER_ASSETS:-}" ] && [ -x "$KUBEBUILDER_ASSETS/$1" ]; then
    echo "$KUBEBUILDER_ASSETS/$1"
  else
    return 1
  fi
}

# build DIR LDFLAGS TAGS NAME=PACKAGE…: one `go build` in wrapper module DIR for the names not installed
# and not up to date (one command, so the packages they share are compiled once).
build() {
  local dir=$1 ldflags=$2 tags=$3
  shift 3
  local want todo=() names=() pair name package existing started=$SECONDS
  want=$(stamp "$dir"/go.mod "$dir"/go.sum "$dir"/*.go <(echo "$ldflags $tags $(go version)"))
  for pair in "$@"; do
    name=${pair%%=*} package=${pair#*=}
    if existing=$(installed "$name"); then
      echo "engine: using the installed $existing"
      ln -sf "$existing" "$bin/$name"
    elif [ -x "$bin/$name" ] && [ ! -L "$bin/$name" ] && [ "$(cat "$bin/.$name.stamp" 2>/dev/null)" = "$want" ]; then
      echo "engine: $name is up to date"
    else
      rm -f "$bin/$name"
      todo+=("$package") names+=("$name")
    fi
  done
  [ "${#todo[@]}" -eq 0 ] && return
  echo "engine: building ${names[*]}"
  local out
  out=$(mktemp -d)
  (cd "$dir" && CGO_ENABLED=0 go build -trimpath -tags "$tags" -ldflags "$ldflags" -o "$out/" "${todo[@]}")
  for name in "${names[@]}"; do
    # go build names a command after its package path (etcd's module root: `server`); one package, one file.
    built="$out/$name"
    [ "${#todo[@]}" -eq 1 ] && built=$(find "$out" -maxdepth 1 -type f)
    mv "$built" "$bin/$name"
    echo "$want" > "$bin/.$name.stamp"
  done
  rm -rf "$out"
  echo "engine: built ${names[*]} in $((SECONDS - started)) s"
}

version_flags() { # -X flags that make /version report the release, as upstream's build does
  local version=$1 minor
  minor=$(echo "$version" | cut -d. -f2)
  local flags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  done
  echo "$flags"
}

# etcd first, alone: its module root is a main package named after the module's last element.
build "$root/engine/kube" "-s -w" "" etcd=go.etcd.io/etcd/server/v3
build "$root/engine/kube" "$(version_flags $KUBERNETES_VERSION)" selinux,notest,grpcnotrace \
  kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver \
  kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager \
  kube-scheduler=k8s.io/kubernetes/cmd/kube-scheduler
build "$root/engine/kwok" "-s -w" "" kwok=sigs.k8s.io/kwok/cmd/kwok

# kwok's stages (without them it exits "no stages found"): node initialisation and lease heartbeat, and the
# pod lifecycle (ready, complete, delete: deleted pods must go away for `destroy` and namespace deletion).
kwok_dir=$(cd "$root/engine/kwok" && go mod download sigs.k8s.io/kwok && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
for stage in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
  pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
  install -m 0644 "$kwok_dir/kustomize/stage/$stage.yaml" "$stages/$(basename "$stage").yaml"
done

echo "engine: control plane in $bin"
for name in kube-apiserver kube-controller-manager kube-scheduler; do
  echo "  $name $("$bin/$name" --version 2>&1 | head -1)"
done
echo "  etcd $("$bin/etcd" --version 2>&1 | head -1)"
echo "  kwok $("$bin/kwok" --version 2>&1 | head -1)"
