#!/usr/bin/env bash
# The GPU device check: a search step (and the reference net's training step) on tfjs-webgpu
# through Dawn and NVIDIA's Vulkan driver, against the same steps on tfjs-wasm on the same machine,
# in one run. The GPU machine this targets has no Node and nothing can be installed there, so
# everything travels as a payload built here:
#
#   .cache/gpu-check/node.xz       this machine's node binary, stripped
#   .cache/gpu-check/app.tar.xz    exactly the files the check loads, found by tracing a dry run
#                                  (packages/*/dist, node_modules: the tfjs bundles, the wasm
#                                  binaries, a stripped dawn.node; the workspace links; these tools)
#   .cache/gpu-check/libs.tar.xz   vulkan/: the Vulkan loader and the X11 libraries NVIDIA's Vulkan
#                                  driver needs; glibc/: this machine's loader, libc and libstdc++,
#                                  used only if the device's are too old for dawn.node (glibc >= 2.34,
#                                  GLIBCXX_3.4.30)
#
# Usage
#   tools/gpu-search-step.sh pack       here: build the payload (needs `npm run build` done, strace,
#                                       xz, and the lavapipe driver of tools/setup-vulkan.sh)
#   tools/gpu-search-step.sh run        on the GPU machine, from a copy of the repository with
#                                       .cache/gpu-check carried beside it (allow about 330 s)
#   tools/gpu-search-step.sh --dry-run  here: pack, then the device part from the unpacked payload on
#                                       lavapipe (CPU Vulkan) with tiny shapes, once with this
#                                       machine's glibc and once through the carried one. It checks
#                                       the script and the payload, not the GPU: lavapipe is ~12x
#                                       slower than wasm, so its ratios mean nothing.
#                                       `--dry-run --no-pack` reuses the payload.
#
# Output: one JSON line per phase as it finishes, then the summary (last line): adapter and limits,
# the gradient check (webgpu and wasm against the cpu backend), per configuration the webgpu and
# wasm step times and webgpu_speedup = wasm ms / webgpu ms, Dawn validation errors per phase.
# Everything also lands in $OUT/gpu-check when $OUT is set (the device tool brings it back).
#
# Budget: the device allowance is 15 minutes per task, machine start included. The run phase stops
# starting new phases after QUANTNAS_GPU_BUDGET seconds (default 270) and each phase has its own
# timeout, so `timeout_s=330` leaves room for the start and one rerun.
#
# Env: QUANTNAS_GPU_BUDGET (seconds), QUANTNAS_GPU_LOADER=system|carried (default: try system),
#      QUANTNAS_WEBGPU_ADDN=raw (tfjs-webgpu's own AddN instead of @quantnas/core-ops' chunked one,
#      which shows its validation failure; the adapter phase's backend.detail says which runs),
#      QUANTNAS_GPU_CHECK_DIR (payload directory, default <repo>/.cache/gpu-check),
#      QUANTNAS_GPU_WORK (where to unpack, default <repo>/.cache), QUANTNAS_GPU_KEEP=1 (keep the
#      unpacked payload and the phases' output there).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
payload=${QUANTNAS_GPU_CHECK_DIR:-$repo/.cache/gpu-check}
max_payload_mib=56 # the device tool carries 64 MiB in all, the repository's own files included

log() { echo "gpu-search-step: $*" >&2; }
die() {
  echo "gpu-search-step: error: $*" >&2
  exit 1
}

# The commands the device part runs, as "phase-name|timeout|node args...". Dry runs use tiny shapes.
phases_device=(
  "adapter|40|tools/gpu-search-step.mjs adapter"
  "gradients|70|tools/gpu-search-step.mjs gradients rfdn 12 1 16"
  "search-quick-webgpu|70|packages/cli/bin/quantnas.js bench search-step --backend webgpu --kernels fused --modes noise --batch 8 --size 16 --steps 3 --warmup 1 --json"
  "search-quick-wasm|40|packages/cli/bin/quantnas.js bench search-step --backend wasm --modes noise --batch 8 --size 16 --steps 3 --warmup 1 --json"
  "train-b16s32-webgpu|45|packages/cli/bin/quantnas.js bench train-step --backend webgpu --batch 16 --size 32 --steps 5 --warmup 2 --json"
  "train-b16s32-wasm|30|packages/cli/bin/quantnas.js bench train-step --backend wasm --batch 16 --size 32 --steps 3 --warmup 1 --json"
  "search-b16s32-webgpu|60|packages/cli/bin/quantnas.js bench search-step --backend webgpu --kernels fused --modes noise --batch 16 --size 32 --steps 2 --warmup 1 --json"
  "search-b16s32-wasm|60|packages/cli/bin/quantnas.js bench search-step --backend wasm --modes noise --batch 16 --size 32 --steps 2 --warmup 1 --json"
)
phases_dry=(
  "adapter|60|tools/gpu-search-step.mjs adapter"
  "gradients|120|tools/gpu-search-step.mjs gradients basic 6 1 8"
  "search-tiny-webgpu|120|packages/cli/bin/quantnas.js bench search-step --backend webgpu --kernels fused --space basic --channels 6 --modes noise --batch 2 --size 8 --steps 1 --warmup 0 --json"
  "search-tiny-wasm|60|packages/cli/bin/quantnas.js bench search-step --backend wasm --space basic --channels 6 --modes noise --batch 2 --size 8 --steps 1 --warmup 0 --json"
  "train-tiny-webgpu|60|packages/cli/bin/quantnas.js bench train-step --backend webgpu --batch 1 --size 8 --steps 1 --warmup 0 --json"
  "train-tiny-wasm|60|packages/cli/bin/quantnas.js bench train-step --backend wasm --batch 1 --size 8 --steps 1 --warmup 0 --json"
)

dawn_rel=node_modules/webgpu/dist/linux-x64/dawn.node
x11_libs=(libX11.so.6 libX11-xcb.so.1 libXext.so.6 libxcb.so.1 libXau.so.6 libXdmcp.so.6 libbsd.so.0 libmd.so.0)
glibc_libs=(ld-linux-x86-64.so.2 libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 librt.so.1 libstdc++.so.6 libgcc_s.so.1)

# A shared library by soname: the lavapipe cache first (its Vulkan loader), then the system.
find_lib() {
  local name=$1 dir
  for dir in "${vulkan_libdir:-}" /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu /lib64; do
    [ -n "$dir" ] && [ -e "$dir/$name" ] && {
      readlink -f "$dir/$name"
      return 0
    }
  done
  ldconfig -p 2>/dev/null | awk -v n="$name" '$1 == n && /x86-64/ { print $NF; exit }' | grep . || return 1
}

lavapipe_env() {
  local env_lines
  env_lines=$("$repo/tools/setup-vulkan.sh") || die "tools/setup-vulkan.sh failed: the trace and the dry run need lavapipe"
  eval "$env_lines"
  vulkan_libdir=${LD_LIBRARY_PATH%%:*}
}

pack() {
  command -v strace > /dev/null || die "pack traces the files the check opens with strace, which is not installed"
  command -v xz > /dev/null || die "pack needs xz"
  [ -f "$repo/packages/cli/dist/main.js" ] && [ -f "$repo/packages/search/dist/index.js" ] || die "build the packages first (npm run build)"
  [ -f "$repo/$dawn_rel" ] || die "$dawn_rel is missing: npm ci installs it (the webgpu package)"
  local stage trace list phase spec timeout cmd
  stage=$(mktemp -d)
  trap 'rm -rf "$stage"' RETURN
  (lavapipe_env
    export XDG_RUNTIME_DIR=$stage/xdg
    mkdir -p "$XDG_RUNTIME_DIR"
    # Trace the dry run's commands in the repository: every file they open is a file the check needs.
    log "tracing the check's commands (lavapipe, tiny shapes)"
    for spec in "${phases_dry[@]}"; do
      IFS='|' read -r phase timeout cmd <<< "$spec"
      # shellcheck disable=SC2086
      (cd "$repo" && timeout "$timeout" strace -f -qq -e trace=openat,open -e status=successful -o "$stage/trace.$phase" \
        node $cmd > "$stage/out.$phase" 2> "$stage/err.$phase") ||
        die "traced phase $phase failed: $(tail -n 5 "$stage/err.$phase")"
    done
    cat "$stage"/trace.* > "$stage/trace"
  ) || exit 1
  list=$stage/files
  {
    # Files opened inside the repository, stored at their real paths (some are opened through the
    # workspace links, which are added as links below).
    grep -o '"[^"]*"' "$stage/trace" | tr -d '"' | grep "^$repo/" | sort -u | while read -r f; do
      [ -f "$f" ] || continue
      f=$(realpath -e "$f")
      case $f in "$repo"/*) echo "${f#"$repo"/}" ;; esac
    done
    # The workspace links that resolution walks through, the wasm backend's binaries (it picks one by
    # CPU features), and the scripts themselves.
    (cd "$repo" && find node_modules packages/*/node_modules -maxdepth 2 -type l -not -path '*/.bin/*' 2> /dev/null)
    (cd "$repo" && ls node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm)
    echo tools/gpu-search-step.sh
    echo tools/gpu-search-step.mjs
    echo packages/cli/bin/quantnas.js
  } | sort -u > "$list"
  grep -qx "$dawn_rel" "$list" || die "the trace did not open $dawn_rel: was webgpu really used?"
  mkdir -p "$stage/app"
  (cd "$repo" && xargs -d '\n' cp -P --parents -t "$stage/app" < "$list")
  strip --strip-unneeded "$stage/app/$dawn_rel" 2> /dev/null || log "note: could not strip dawn.node"

  mkdir -p "$stage/libs/vulkan" "$stage/libs/glibc"
  (lavapipe_env
    for lib in libvulkan.so.1 "${x11_libs[@]}"; do
      src=$(find_lib "$lib") || die "$lib not found here (Debian: libvulkan1, libx11-6, libx11-xcb1, libxext6, libxcb1, libxau6, libxdmcp6, libbsd0, libmd0)"
      cp -L "$src" "$stage/libs/vulkan/$lib"
    done
  ) || exit 1
  for lib in "${glibc_libs[@]}"; do
    src=$(vulkan_libdir='' find_lib "$lib") || die "$lib not found here"
    cp -L "$src" "$stage/libs/glibc/$lib"
  done

  mkdir -p "$payload.new"
  log "compressing node ($(node --version))"
  strip -o "$stage/node" "$(readlink -f "$(command -v node)")" 2> /dev/null || cp "$(readlink -f "$(command -v node)")" "$stage/node"
  xz -T0 -6 -c "$stage/node" > "$payload.new/node.xz"
  tar -C "$stage/app" -cf - . | xz -T0 -9 -c > "$payload.new/app.tar.xz"
  tar -C "$stage/libs" -cf - . | xz -T0 -9 -c > "$payload.new/libs.tar.xz"
  cat > "$payload.new/manifest.json" << EOF
{"node":"$(node --version)","files":$(wc -l < "$list"),"commit":"$(git -C "$repo" rev-parse --short HEAD 2> /dev/null || echo unknown)","glibc":"$(ldd --version | head -n 1 | awk '{ print $NF }')","packed":"$(date -u +%Y-%m-%dT%H:%M:%SZ)"}
EOF
  rm -rf "$payload"
  mv "$payload.new" "$payload"
  local mib
  mib=$(du -sm "$payload" | cut -f1)
  log "payload: $payload, ${mib} MiB ($(wc -l < "$list") files in app.tar.xz)"
  [ "$mib" -le "$max_payload_mib" ] || die "the payload (${mib} MiB) exceeds ${max_payload_mib} MiB: the device tool carries 64 MiB in all"
}

# xz -dc, or Python's lzma where xz is not installed (the device image has Python).
unxz() {
  if command -v xz > /dev/null; then
    xz -dc "$1"
  else
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1"
  fi
}

# The device part. $1: device | dry-run.
run_check() {
  local mode=$1 start budget work res app libs phase timeout cmd spec left rc
  start=$(date +%s)
  budget=${QUANTNAS_GPU_BUDGET:-$([ "$mode" = dry-run ] && echo 900 || echo 270)}
  for f in node.xz app.tar.xz libs.tar.xz; do
    [ -f "$payload/$f" ] || die "$payload/$f is missing: run 'tools/gpu-search-step.sh pack' here and carry .cache/gpu-check"
  done
  # Unpacked beside the payload (in the repository copy) rather than in /tmp, which may be noexec.
  mkdir -p "${QUANTNAS_GPU_WORK:-$repo/.cache}"
  work=$(mktemp -d "${QUANTNAS_GPU_WORK:-$repo/.cache}/gpu-run.XXXXXX")
  res=$work/results
  app=$work/app
  libs=$work/libs
  mkdir -p "$res" "$app" "$libs" "$work/xdg"
  chmod 700 "$work/xdg"
  export XDG_RUNTIME_DIR=$work/xdg
  unxz "$payload/node.xz" > "$work/node" && chmod +x "$work/node"
  unxz "$payload/app.tar.xz" | tar -C "$app" -xf -
  unxz "$payload/libs.tar.xz" | tar -C "$libs" -xf -
  log "unpacked into $work in $(($(date +%s) - start)) s"

  # The Vulkan driver: NVIDIA's on the device, lavapipe in a dry run.
  local icd driver_libdir
  if [ "$mode" = dry-run ]; then
    lavapipe_env
    icd=$VK_ICD_FILENAMES
    driver_libdir=$vulkan_libdir
  else
    icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    if [ ! -f "$icd" ]; then
      for alt in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json /usr/local/share/vulkan/icd.d/nvidia_icd.json; do
        [ -f "$alt" ] && icd=$alt && break
      done
    fi
    driver_libdir=/usr/local/nvidia/lib64
  fi
  export VK_ICD_FILENAMES=$icd VK_DRIVER_FILES=$icd
  local libpath=$libs/vulkan:$driver_libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

  # What the machine offers (the known risks: the driver's graphics libraries, glibc, libstdc++).
  local glibc_here glx spirv smi
  glibc_here=$(getconf GNU_LIBC_VERSION 2> /dev/null | awk '{ print $2 }' || echo unknown)
  glx=$(ls "$driver_libdir"/libGLX_nvidia.so.0 2> /dev/null || ldconfig -p 2> /dev/null | awk '/libGLX_nvidia.so.0/ { print $NF; exit }' || true)
  spirv=$(ls "$driver_libdir"/libnvidia-glvkspirv.so.* 2> /dev/null | head -n 1 || ldconfig -p 2> /dev/null | awk '/libnvidia-glvkspirv/ { print $NF; exit }' || true)
  smi=$(timeout 10 nvidia-smi -L 2> /dev/null | head -n 2 | tr '\n' ';' || true)

  # Node with the machine's glibc if dawn.node loads that way, else through the carried loader.
  local loader=${QUANTNAS_GPU_LOADER:-}
  export loader libs libpath work
  qnode() {
    if [ "$loader" = carried ]; then
      LD_LIBRARY_PATH=$libs/glibc:$libpath "$libs/glibc/ld-linux-x86-64.so.2" --library-path "$libs/glibc:$libpath" "$work/node" "$@"
    else
      LD_LIBRARY_PATH=$libpath "$work/node" "$@"
    fi
  }
  export -f qnode # for the phases' `timeout bash -c`
  local dlopen_check="process.dlopen({ exports: {} }, '$app/$dawn_rel')"
  if [ -z "$loader" ]; then
    loader=system
    if ! (cd "$app" && qnode -e "$dlopen_check") > "$res/loader.err" 2>&1; then
      log "dawn.node does not load with this machine's libraries ($(head -c 300 "$res/loader.err")); using the carried glibc"
      loader=carried
    fi
  fi
  (cd "$app" && qnode -e "$dlopen_check") > "$res/loader.err" 2>&1 || log "warning: dawn.node does not load with the $loader loader either: $(head -c 300 "$res/loader.err")"
  local json_escape='s/\\/\\\\/g; s/"/\\"/g'
  printf '{"mode":"%s","loader":"%s","glibc":"%s","icd":"%s","icd_exists":%s,"libGLX_nvidia":"%s","glvkspirv":"%s","nvidia_smi":"%s","node":"%s"}\n' \
    "$mode" "$loader" "$glibc_here" "$icd" "$([ -f "$icd" ] && echo true || echo false)" "$glx" "$spirv" \
    "$(echo "$smi" | sed "$json_escape")" "$(cd "$app" && qnode --version 2> /dev/null || echo none)" > "$res/host.json"
  echo 0 > "$res/host.rc"
  cat "$res/host.json"
  [ -n "$glx" ] || [ "$mode" = dry-run ] || log "warning: libGLX_nvidia.so.0 is not on this machine: NVIDIA's Vulkan driver cannot load (the first known risk)"

  local phases=("${phases_device[@]}")
  [ "$mode" = dry-run ] && phases=("${phases_dry[@]}")
  : > "$res/skipped.txt"
  local adapter_found=true
  for spec in "${phases[@]}"; do
    IFS='|' read -r phase timeout cmd <<< "$spec"
    left=$((budget - ($(date +%s) - start)))
    if [ "$left" -lt 10 ]; then
      echo "$phase (budget of ${budget} s spent)" >> "$res/skipped.txt"
      continue
    fi
    if [ "$adapter_found" = false ] && [[ $phase == *webgpu* || $phase == gradients ]]; then
      echo "$phase (no WebGPU adapter)" >> "$res/skipped.txt"
      continue
    fi
    [ "$timeout" -le "$left" ] || timeout=$left
    log "$phase (timeout ${timeout} s)"
    rc=0
    # shellcheck disable=SC2086
    (cd "$app" && timeout -k 5 "$timeout" bash -c 'qnode "$@"' qnode $cmd) \
      > "$res/$phase.json" 2> "$res/$phase.err" || rc=$?
    echo "$rc" > "$res/$phase.rc"
    if [ "$rc" -ne 0 ]; then
      log "$phase exited with $rc: $(grep -v '^Warning: maxDynamic' "$res/$phase.err" | tail -n 3 | cut -c1-300)"
      [ -s "$res/$phase.json" ] || echo "{\"phase\":\"$phase\",\"exit\":$rc}" > "$res/$phase.json"
    fi
    echo "{\"phase\":\"$phase\",\"exit\":$rc,\"result\":$(tail -n 1 "$res/$phase.json" | grep '^{' || echo null)}"
    if [ "$phase" = adapter ] && ! grep -q '"found":true' "$res/adapter.json"; then adapter_found=false; fi
  done
  local seconds=$(($(date +%s) - start))
  (cd "$app" && qnode tools/gpu-search-step.mjs summary "$res" "$mode" "$seconds") | tee "$res/summary.json"
  if [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ]; then
    mkdir -p "$OUT/gpu-check" && cp "$res"/* "$OUT/gpu-check/" 2> /dev/null || true
  fi
  if [ -n "${QUANTNAS_GPU_KEEP:-}" ]; then log "kept $work"; else rm -rf "$work"; fi
}

case ${1:-} in
  pack) pack ;;
  run) run_check device ;;
  --dry-run | dry-run)
    [ "${2:-}" = --no-pack ] || pack
    QUANTNAS_GPU_LOADER=${QUANTNAS_GPU_LOADER:-system} run_check dry-run
    # The carried-glibc path too (the device falls back to it when its glibc is too old).
    log "dry run again through the carried glibc loader (adapter only)"
    phases_dry=("${phases_dry[0]}")
    QUANTNAS_GPU_LOADER=carried run_check dry-run
    ;;
  *)
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
