#!/usr/bin/env bash
# Release helpers for the repository's Go modules, tagged as contrib tags
# its modules: the shared module (the repository root) as vX.Y.Z and every
# other released module as <dir>/vX.Y.Z, all at one version.
#
#   scripts/release.sh set-version VERSION
#       names VERSION in every requirement between this repository's
#       modules, in builder-config.yaml, in the README's builder lines and
#       as the image tag of deploy/kubernetes and deploy/helm (then run
#       `make generate` and commit);
#   scripts/release.sh tags VERSION DIR...
#       checks that the tree is clean and that every such requirement names
#       VERSION, then creates an annotated tag per module DIR on HEAD.
#
# Nothing is pushed.
set -euo pipefail
cd "$(dirname "$0")/.."

MODULE=github.com/otel-evidence/otel-evidence
cmd=${1:-} version=${2:-}
if [[ ! "$version" =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
	echo "usage: $0 set-version|tags vX.Y.Z [DIR...]   (got version '${version}')" >&2
	exit 2
fi
shift 2

# go.mod files of the repository (the tools module requires none of ours).
gomods() { git ls-files -- '*go.mod' ':!internal/tools/go.mod'; }

# Lines requiring one of this repository's modules at another version.
stale() {
	local f
	for f in $(gomods); do
		grep -HnE "^[[:space:]]*(require[[:space:]]+)?${MODULE//./\\.}(/[^[:space:]]+)?[[:space:]]+v[^[:space:]]+" "$f" |
			grep -v "[[:space:]]${version//./\\.}\([[:space:]]\|$\)" || true
	done
	grep -HnE "gomod: ${MODULE//./\\.}/[^[:space:]]+ v" builder-config.yaml README.md |
		grep -v " ${version//./\\.}$" || true
}

case "$cmd" in
set-version)
	for f in $(gomods); do
		sed -i -E "s#^([[:space:]]*(require[[:space:]]+)?${MODULE//./\\.}(/[^[:space:]]+)?[[:space:]]+)v[^[:space:]]+#\1${version}#" "$f"
	done
	sed -i -E "s#(gomod: ${MODULE//./\\.}/[^[:space:]]+ )v[^[:space:]]+\$#\1${version}#" builder-config.yaml README.md
	sed -i -E "s#^(  version: ).*#\1${version#v}#" builder-config.yaml
	# The image tag the Kubernetes base and the Helm values deploy.
	sed -i -E "s#^(    newTag: ).*#\1${version#v}#" deploy/kubernetes/kustomization.yaml
	sed -i -E "s#^(  tag: ).*#\1\"${version#v}\"#" deploy/helm/values.yaml
	echo "set ${version}; now run 'make generate' and commit"
	;;
tags)
	if [[ $# -eq 0 ]]; then
		echo "$0 tags: name the module directories to tag" >&2
		exit 2
	fi
	if [[ -n "$(git status --porcelain)" ]]; then
		echo "the work tree has changes: commit them before tagging" >&2
		exit 1
	fi
	if [[ -n "$(stale)" ]]; then
		stale >&2
		echo "these name another version than ${version}: run 'scripts/release.sh set-version ${version}', 'make generate', commit, then tag" >&2
		exit 1
	fi
	tags=()
	for dir in "$@"; do
		dir=${dir%/}
		[[ -f "$dir/go.mod" ]] || { echo "$dir is not a module" >&2; exit 1; }
		if [[ "$dir" == "." ]]; then tags+=("$version"); else tags+=("$dir/$version"); fi
	done
	for t in "${tags[@]}"; do
		if git rev-parse -q --verify "refs/tags/$t" >/dev/null; then
			echo "tag $t exists already" >&2
			exit 1
		fi
	done
	for t in "${tags[@]}"; do
		git tag -a "$t" -m "$t"
		echo "tagged $t at $(git rev-parse --short HEAD)"
	done
	echo "nothing was pushed"
	;;
*)
	echo "usage: $0 set-version|tags vX.Y.Z [DIR...]" >&2
	exit 2
	;;
esac
