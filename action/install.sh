#!/usr/bin/env bash
# Installs one prefect-apply release, as action.yml's first step: downloads
# the archive for this runner and SHA256SUMS from <base-url>/<version>/ (a
# GitHub release's download layout, written by make release), refuses the
# archive unless its SHA-256 is the one SHA256SUMS lists for it, unpacks the
# binary into a directory of its own and puts that directory on GITHUB_PATH.
#
# Environment:
#   PREFECT_APPLY_VERSION   the release tag, e.g. v1.2.3 (required)
#   PREFECT_APPLY_BASE_URL  default https://github.com/prefect-apply/prefect-apply/releases/download
#   PREFECT_APPLY_BIN_DIR   where the binary goes; default under RUNNER_TEMP (or a temp dir)
#   RUNNER_OS, RUNNER_ARCH  set by GitHub (Linux|macOS|Windows, X64|ARM64); else from uname
#   GITHUB_PATH, GITHUB_OUTPUT  set by GitHub; the bin directory and `bin=<dir>` go there
set -euo pipefail

fail() { echo "prefect-apply install: $*" >&2; exit 1; }

version=${PREFECT_APPLY_VERSION:-}
[ -n "$version" ] || fail "no version: set the action's version input (a release tag such as v1.2.3)"
case $version in */* | *' '*) fail "version ${version@Q} is not a release tag" ;; esac
base_url=${PREFECT_APPLY_BASE_URL:-https://github.com/prefect-apply/prefect-apply/releases/download}
base_url=${base_url%/}

os=${RUNNER_OS:-$(uname -s)}
case $os in
Linux) os=linux ;;
macOS | Darwin) os=darwin ;;
Windows | MINGW* | MSYS* | CYGWIN*) os=windows ;;
*) fail "no release for the operating system ${os@Q}" ;;
esac
arch=${RUNNER_ARCH:-$(uname -m)}
case $arch in
X64 | x86_64 | amd64) arch=amd64 ;;
ARM64 | aarch64 | arm64) arch=arm64 ;;
*) fail "no release for the architecture ${arch@Q}" ;;
esac

archive=prefect-apply_${version}_${os}_${arch}.tar.gz
exe=prefect-apply
if [ "$os" = windows ]; then
	archive=prefect-apply_${version}_${os}_${arch}.zip
	exe=prefect-apply.exe
fi

tmp=${RUNNER_TEMP:-${TMPDIR:-/tmp}}
bin_dir=${PREFECT_APPLY_BIN_DIR:-$tmp/prefect-apply/$version/bin}
download=$(mktemp -d "$tmp/prefect-apply-download.XXXXXX")
trap 'rm -rf "$download"' EXIT

fetch() {
	curl -fsSL --retry 3 --retry-connrefused -o "$download/$1" "$base_url/$version/$1" ||
		fail "downloading $base_url/$version/$1 did not work (is $version released, with an archive for $os/$arch?)"
}
echo "prefect-apply install: $version for $os/$arch from $base_url" >&2
fetch SHA256SUMS
fetch "$archive"

sha256() {
	if command -v sha256sum > /dev/null; then
		sha256sum "$1" | cut -d' ' -f1
	else
		shasum -a 256 "$1" | cut -d' ' -f1
	fi
}
# sha256sum's format: "<hex>  <name>" (or "<hex> *<name>" in binary mode).
want=$(awk -v f="$archive" '$2 == f || $2 == "*" f { print $1; exit }' "$download/SHA256SUMS")
[ -n "$want" ] || fail "checksum missing: SHA256SUMS of $version does not list $archive"
got=$(sha256 "$download/$archive")
[ "$got" = "$want" ] || fail "checksum mismatch for $archive: SHA256SUMS says $want, the download has $got; not installed"

mkdir -p "$bin_dir"
if [ "$os" = windows ]; then
	if command -v unzip > /dev/null; then
		unzip -qo "$download/$archive" "$exe" -d "$bin_dir"
	else
		powershell -NoProfile -Command "Expand-Archive -Force -LiteralPath '$download/$archive' -DestinationPath '$bin_dir'"
	fi
else
	tar -xzf "$download/$archive" -C "$bin_dir" "$exe"
	chmod 0755 "$bin_dir/$exe"
fi

[ -z "${GITHUB_PATH:-}" ] || echo "$bin_dir" >> "$GITHUB_PATH"
[ -z "${GITHUB_OUTPUT:-}" ] || echo "bin=$bin_dir" >> "$GITHUB_OUTPUT"
echo "prefect-apply install: $bin_dir/$exe" >&2
