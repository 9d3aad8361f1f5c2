#!/usr/bin/env bash
# `make engine`: builds the Pulumi engine pieces this project tests with, from Go modules, into
# .engine/bin (git-ignored). Test equipment: production uses the released Pulumi CLI and providers.
#
#   pulumi                      the real CLI (github.com/pulumi/pulumi/pkg/v3/cmd/pulumi), unless a
#                               `pulumi` is already on PATH, which is then used as it is
#   pulumi-resource-kubernetes  the real Kubernetes provider (pulumi-kubernetes/provider/v4)
#   pulumi-language-python-exec, pulumi-resource-pulumi-python
#                               the real scripts the Python language host and dynamic providers run,
#                               copied from the github.com/pulumi/pulumi/sdk/v3 module
#   pulumi-language-python      a stand-in written in Python (tests/engine/language_host.py): the Go
#                               module github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3
#                               is not served by the module proxy here (403 for every version tried)
#   pulumi-language-yaml        the real YAML language host (github.com/pulumi/pulumi-yaml), for examples/yaml
#   pulumi-language-nodejs      a stand-in written in Python (tests/engine/nodejs_language_host.py), for
#                               examples/typescript: the module sdk/nodejs/cmd/pulumi-language-nodejs/v3 is
#                               not served (403 for every version); programs run under @pulumi/pulumi's own
#                               cmd/run from npm
#   pulumi-gen-nodejs           Pulumi's Node.js SDK generator (pkg/v3/codegen/nodejs, engine/cli/gen-nodejs),
#                               which that stand-in runs for `pulumi package add`
#   ../fakes/pulumi-resource-tls, ../fakes/pulumi-resource-alicloud
#                               provider plugins in Python (tests/engine/) playing the Terraform-bridged
#                               providers, whose Go modules the proxy does not serve; kept out of
#                               .engine/bin so that a `pulumi` run from there never picks them up
#
# Idempotent: each Go binary is rebuilt only when its wrapper module changed; Go's module and build
# caches ($GOMODCACHE, $GOCACHE) make a rebuild after a change fast too.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.engine/bin"
fakes="$root/.engine/fakes"   # provider doubles: only the engine tests put this folder on PATH
venv="${VENV:-$root/.venv}"
mkdir -p "$bin" "$fakes"

# The Pulumi release nearest to the Python SDK pinned in requirements.txt that the proxy serves:
# requirements.txt pins pulumi==3.272.0; the proxy refuses pkg/v3 v3.272.0 and v3.273.0 and serves v3.274.0.
PULUMI_VERSION=v3.274.0
# pulumi-kubernetes v4.25.0's release commit (provider/v4 has no tags of its own).
KUBERNETES_VERSION=v4.25.0

stamp() { cat "$@" | sha256sum | cut -c1-16; }

# build NAME DIR PACKAGE LDFLAGS TAGS: go build in wrapper module DIR unless its inputs are unchanged.
build() {
  local name=$1 dir=$2 package=$3 ldflags=$4 tags=$5
  local want have="" sources=("$dir"/*.go)
  [[ $package == ./?* ]] && sources+=("$dir/$package"/*.go)   # a command of the wrapper module's own
  want=$(stamp "$dir"/go.mod "$dir"/go.sum "${sources[@]}" <(echo "$ldflags $tags $(go version)"))
  [ -f "$bin/.$name.stamp" ] && have=$(cat "$bin/.$name.stamp")
  if [ -x "$bin/$name" ] && [ "$want" = "$have" ]; then
    echo "engine: $name is up to date"
    return
  fi
  echo "engine: building $name ($package)"
  local started=$SECONDS
  (cd "$dir" && go build -tags "$tags" -ldflags "$ldflags" -o "$bin/$name" "$package")
  echo "$want" > "$bin/.$name.stamp"
  echo "engine: built $name in $((SECONDS - started)) s"
}

# The module's directory in the module cache, downloading it first (`go list -m` alone leaves Dir empty for a
# module not yet in the cache: a cold cache).
module_dir() { (cd "$1" && go mod download "$2" && go list -m -f '{{.Dir}}' "$2"); }

# 1. The CLI.
if existing=$(PATH=$(echo "$PATH" | tr ':' '\n' | grep -vx "$bin" | paste -sd:) command -v pulumi); then
  echo "engine: using the installed $existing"
  ln -sf "$existing" "$bin/pulumi"
else
  [ -L "$bin/pulumi" ] && rm -f "$bin/pulumi"
  build pulumi "$root/engine/cli" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
    "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" osusergo,grpcnotrace
fi

# 2. The scripts of the Python language host and of dynamic providers, from the sdk/v3 module.
sdk=$(module_dir "$root/engine/cli" github.com/pulumi/pulumi/sdk/v3)
install -m 0755 "$sdk/python/cmd/pulumi-language-python-exec" "$bin/pulumi-language-python-exec"
install -m 0755 "$sdk/python/dist/pulumi-resource-pulumi-python" "$bin/pulumi-resource-pulumi-python"

# 3. The Kubernetes provider, with the schema files its module commits.
k8s=$(module_dir "$root/engine/kubernetes" github.com/pulumi/pulumi-kubernetes/provider/v4)
for f in schema.json terraform-mapping.json; do
  cmp -s "$k8s/cmd/pulumi-resource-kubernetes/$f" "$root/engine/kubernetes/$f" ||
    install -m 0644 "$k8s/cmd/pulumi-resource-kubernetes/$f" "$root/engine/kubernetes/$f"
done
build pulumi-resource-kubernetes "$root/engine/kubernetes" . \
  "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$KUBERNETES_VERSION" ""

# 4. The YAML language host (examples/yaml runs with it), from the github.com/pulumi/pulumi-yaml module.
build pulumi-language-yaml "$root/engine/yaml" github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml "" ""

# 5. Pulumi's Node.js SDK generator (pkg/v3/codegen/nodejs), which the Node.js language host stand-in calls
#    for GeneratePackage (`pulumi package add` from examples/typescript); same module and versions as the CLI.
build pulumi-gen-nodejs "$root/engine/cli" ./gen-nodejs "" ""

# 6. Plugins written in Python: launchers that run them with the project's virtualenv.
launcher() {
  local dir=$1 name=$2 module=$3
  cat > "$dir/$name" <<EOF
#!/bin/sh
# Test equipment generated by engine/build.sh: runs $module with the project's virtualenv.
PYTHONPATH="$root\${PYTHONPATH:+:\$PYTHONPATH}" exec "$venv/bin/python" -u -m $module "\$@"
EOF
  chmod 0755 "$dir/$name"
}
launcher "$bin" pulumi-language-python tests.engine.language_host
launcher "$bin" pulumi-language-nodejs tests.engine.nodejs_language_host
launcher "$fakes" pulumi-resource-tls tests.engine.tls_plugin
launcher "$fakes" pulumi-resource-alicloud tests.engine.alicloud_plugin

echo "engine: versions in $bin"
echo "  pulumi                      $("$bin/pulumi" version)"
echo "  pulumi-resource-kubernetes  $KUBERNETES_VERSION ($(cd "$root/engine/kubernetes" && go list -m -f '{{.Version}}' github.com/pulumi/pulumi-kubernetes/provider/v4))"
echo "  language host scripts       sdk/v3 $(cd "$root/engine/cli" && go list -m -f '{{.Version}}' github.com/pulumi/pulumi/sdk/v3)"
echo "  pulumi-language-python      Python stand-in (tests/engine/language_host.py)"
echo "  pulumi-language-nodejs      Python stand-in (tests/engine/nodejs_language_host.py), node $(node --version 2>/dev/null || echo 'not installed')"
echo "  pulumi-gen-nodejs           pkg/v3 $PULUMI_VERSION codegen/nodejs"
echo "  pulumi-language-yaml        $(cd "$root/engine/yaml" && go list -m -f '{{.Version}}' github.com/pulumi/pulumi-yaml)"
echo "  fakes/pulumi-resource-tls   Python plugin (tests/engine/tls_plugin.py)"
echo "  fakes/pulumi-resource-alicloud Python plugin (tests/engine/alicloud_plugin.py)"
