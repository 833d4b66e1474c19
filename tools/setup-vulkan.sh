#!/usr/bin/env bash
# Makes a CPU Vulkan driver (Mesa's lavapipe) available to Dawn, so the WebGPU tests run on machines
# without a GPU. Debian 12's own mesa-vulkan-drivers (22.3) is rejected by Dawn; the backports build
# (25.0.x) works. Nothing is installed system-wide and no binary is committed: the .deb files are
# fetched with a private apt state and unpacked with `dpkg -x` into a cache directory.
#
# Usage:  eval "$(tools/setup-vulkan.sh)"
# stdout: the `export` lines to use (VK_ICD_FILENAMES, VK_DRIVER_FILES, LD_LIBRARY_PATH); they are
#         also written to <cache>/env.sh. Progress goes to stderr.
# Cache:  $QUANTNAS_VULKAN_DIR, default <repo>/.cache/vulkan (ignored by git). A second run with
#         the cache in place does no network access. Set QUANTNAS_VULKAN_REFRESH=1 to rebuild it.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${QUANTNAS_VULKAN_DIR:-$repo/.cache/vulkan}
root=$cache/root
env_file=$cache/env.sh
icd_file=$cache/lvp_icd.json

log() { echo "setup-vulkan: $*" >&2; }
die() { echo "setup-vulkan: error: $*" >&2; exit 1; }

# Dawn reports no adapter rather than an error when the driver is broken, so check it end to end.
verify_adapter() {
  if [ ! -d "$repo/node_modules/webgpu" ]; then
    log "note: node_modules/webgpu is not installed; skipped the adapter check"
    return 0
  fi
  local out
  out=$(cd "$repo" && VK_ICD_FILENAMES=$icd_file VK_DRIVER_FILES=$icd_file \
    LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} node --input-type=module -e "
      import { create, globals } from 'webgpu';
      Object.assign(globalThis, globals);
      const adapter = await create([]).requestAdapter();
      if (!adapter) { console.log('NO_ADAPTER'); process.exit(3); }
      console.log(adapter.info.description || adapter.info.device || 'unnamed adapter');
      process.exit(0);
    " 2>/dev/null) || die "Dawn found no Vulkan adapter with $icd_file (output: ${out:-none})"
  log "adapter: $out"
}

print_env() {
  cat "$env_file"
}

multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
libdir=$root/usr/lib/$multiarch

if [ -z "${QUANTNAS_VULKAN_REFRESH:-}" ] && [ -f "$env_file" ] && [ -f "$icd_file" ] && [ -f "$libdir/libvulkan_lvp.so" ]; then
  log "using the cached driver in $cache"
  verify_adapter
  print_env
  exit 0
fi

command -v apt-get > /dev/null && command -v dpkg > /dev/null || die "needs apt-get and dpkg (a Debian system)"
machine_sources=/etc/apt/sources.list.d/debian.sources
[ -f "$machine_sources" ] || die "$machine_sources not found: cannot derive the backports source from the machine's own Debian mirror"
# shellcheck disable=SC1091
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -n "$codename" ] || die "cannot read VERSION_CODENAME from /etc/os-release"
backports=$codename-backports

rm -rf "$cache/apt" "$cache/debs" "$root" "$env_file" "$icd_file"
mkdir -p "$cache/apt/sources.list.d" "$cache/apt/lists/partial" "$cache/apt/cache/archives/partial" "$cache/debs" "$root"

# The machine's own entries, plus a copy of its main-archive entry with the suite changed to
# backports: the project never names a repository host.
cp "$machine_sources" "$cache/apt/sources.list.d/debian.sources"
awk -v codename="$codename" -v suite="$backports" '
  BEGIN { RS = ""; ORS = "\n\n" }
  {
    n = split($0, lines, "\n"); keep = 0
    for (i = 1; i <= n; i++) if (lines[i] ~ /^Suites:/) {
      m = split(lines[i], words, /[ \t]+/)
      for (j = 2; j <= m; j++) if (words[j] == codename) keep = 1
    }
    if (!keep) next
    out = ""
    for (i = 1; i <= n; i++) {
      line = lines[i]
      if (line ~ /^Suites:/) line = "Suites: " suite
      out = out line "\n"
    }
    printf "%s\n", out
  }' "$machine_sources" > "$cache/apt/sources.list.d/backports.sources"
grep -q "^Suites: $backports" "$cache/apt/sources.list.d/backports.sources" ||
  die "no entry for suite '$codename' in $machine_sources to derive $backports from"

apt_opts=(
  -o "Dir::Etc::SourceList=/dev/null"
  -o "Dir::Etc::SourceParts=$cache/apt/sources.list.d"
  -o "Dir::State::Lists=$cache/apt/lists"
  -o "Dir::Cache=$cache/apt/cache"
  -o "APT::Sandbox::User=root"
  -o "Debug::NoLocking=1"
)
log "apt-get update ($codename + $backports, private state in $cache/apt)"
apt-get "${apt_opts[@]}" -q update > "$cache/apt-update.log" 2>&1 || { cat "$cache/apt-update.log" >&2; die "apt-get update failed"; }

mesa_version=$(apt-cache "${apt_opts[@]}" madison mesa-vulkan-drivers | awk -F'|' -v s="$backports" '$3 ~ s { gsub(/ /, "", $2); print $2; exit }')
[ -n "$mesa_version" ] || die "mesa-vulkan-drivers is not available from $backports"
case $mesa_version in
  2[5-9].*|[3-9][0-9].*) ;;
  *) die "mesa-vulkan-drivers $mesa_version from $backports is older than 25.0, which Dawn needs" ;;
esac

# Fetch the driver and every dependency the machine lacks or has too old, following the
# dependencies of what is fetched. Only the first alternative of a dependency is considered.
declare -A seen=()
queue=("mesa-vulkan-drivers=$mesa_version")
fetch=()
while [ ${#queue[@]} -gt 0 ]; do
  item=${queue[0]}; queue=("${queue[@]:1}")
  fetch+=("$item")
  depends=$(apt-cache "${apt_opts[@]}" show "$item" | awk '/^Depends:/ { sub(/^Depends: */, ""); print; exit }')
  IFS=',' read -ra deps <<< "$depends"
  for dep in "${deps[@]}"; do
    dep=${dep%%|*}
    name=$(echo "$dep" | awk '{ print $1 }'); name=${name%%:*}
    constraint=$(echo "$dep" | sed -n 's/.*(\(.*\)).*/\1/p')
    op=$(echo "$constraint" | awk '{ print $1 }'); want=$(echo "$constraint" | awk '{ print $2 }')
    [ -n "$name" ] && [ -z "${seen[$name]:-}" ] || continue
    seen[$name]=1
    have=$(dpkg-query -W -f='${db:Status-Status} ${Version}' "$name" 2>/dev/null | awk '$1 == "installed" { print $2 }' || true)
    if [ -n "$have" ] && { [ -z "$op" ] || dpkg --compare-versions "$have" "$op" "$want"; }; then continue; fi
    best=$(apt-cache "${apt_opts[@]}" madison "$name" | awk -F'|' '{ gsub(/ /, "", $2); print $2 }' | sort -V -r | head -n 1 || true)
    [ -n "$best" ] || die "dependency $name is not available from the machine's sources or $backports"
    if [ -n "$op" ] && ! dpkg --compare-versions "$best" "$op" "$want"; then
      die "dependency $name ($op $want) is needed but only $best is available"
    fi
    case $name in
      libc6|libgcc-s1|libstdc++6) die "the machine's $name (${have:-missing}) is too old for $dep; it cannot be replaced locally" ;;
    esac
    queue+=("$name=$best")
  done
done
log "downloading: ${fetch[*]}"
(cd "$cache/debs" && apt-get "${apt_opts[@]}" -q download "${fetch[@]}" > "$cache/apt-download.log" 2>&1) ||
  { cat "$cache/apt-download.log" >&2; die "apt-get download failed"; }
for deb in "$cache"/debs/*.deb; do dpkg -x "$deb" "$root"; done

[ -f "$libdir/libvulkan_lvp.so" ] || die "libvulkan_lvp.so not found in the unpacked packages (looked in $libdir)"
missing=$(LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} ldd "$libdir/libvulkan_lvp.so" | grep -E 'not found' || true)
[ -z "$missing" ] || die "libvulkan_lvp.so still lacks libraries: $missing"
if [ ! -e "$libdir/libvulkan.so.1" ] && ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1 '; then
  die "no Vulkan loader (libvulkan.so.1) on the machine or among the unpacked packages"
fi

api_version=$(sed -n 's/.*"api_version": *"\([^"]*\)".*/\1/p' "$root/usr/share/vulkan/icd.d/lvp_icd.json" 2>/dev/null || true)
cat > "$icd_file" <<EOF
{
    "file_format_version": "1.0.0",
    "ICD": {
        "library_path": "$libdir/libvulkan_lvp.so",
        "api_version": "${api_version:-1.3.0}"
    }
}
EOF
cat > "$env_file" <<EOF
export VK_ICD_FILENAMES='$icd_file'
export VK_DRIVER_FILES='$icd_file'
export LD_LIBRARY_PATH='$libdir'\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}
EOF
rm -rf "$cache/apt" "$cache/debs"
log "mesa-vulkan-drivers $mesa_version unpacked into $root"
verify_adapter
print_env
