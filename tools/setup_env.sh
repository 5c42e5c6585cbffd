#!/usr/bin/env bash
# One-command set-up of s5_mm on a CPU machine (also fine on a GPU node).
#
#   bash tools/setup_env.sh            # creates ./.venv and installs everything
#
# Environment variables:
#   S5_MM_VENV=PATH          where the virtual environment goes (default: ./.venv)
#   S5_MM_SYSTEM_SITE=1      create the venv with --system-site-packages, so a
#                            cluster's own torch/torchvision (CUDA build) is kept
#   S5_MM_WHEEL_CACHE=DIR    where the built mmcv wheel is cached
#                            (default: ~/.cache/s5_mm/wheels); works without it
#   MAX_JOBS=N               parallel compile jobs for mmcv (default: nproc)
#   S5_MM_MMCV_CUDA=1|0      build mmcv with CUDA ops (1) or CPU ops only (0);
#                            default: CUDA ops when nvcc is found, torch is a
#                            CUDA build and a GPU is visible
#   TORCH_CUDA_ARCH_LIST=... GPU architectures of a CUDA build of mmcv (default:
#                            the visible GPUs', else a list for the nvcc version)
#   S5_MM_MIN_FREE_MB=N      free disk the set-up insists on before it installs
#                            (default: about 9.4 GB while torch is missing,
#                            2.5 GB after; 0 skips the check)
#
#   bash tools/setup_env.sh --check-disk
#                            only check the free disk and exit
#   bash tools/setup_env.sh --print-mmcv-build
#                            only print how mmcv would be built (environment and
#                            command, CUDA ops when nvcc is found) and exit
#
# What it installs and why (see README "Installation"):
#   torch 2.14.1 + torchvision 0.29.1 (unless the env already has both),
#   setuptools<81, numpy<2, ftfy, regex, mmengine 0.10.7,
#   mmcv 2.1.0 WITH compiled ops built from its source distribution,
#   mmsegmentation 1.2.2, mmdet 3.3.0, mmpretrain 1.2.0, mmrotate-dev 1.0.1,
#   faiss-cpu, pytest, openmim (without openxlab, which would downgrade
#   setuptools/rich/tqdm/requests) and s5_mm itself in editable mode.
#   See docs/install.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${S5_MM_VENV:-$ROOT/.venv}"
CACHE="${S5_MM_WHEEL_CACHE:-$HOME/.cache/s5_mm/wheels}"
PYTHON_BIN="${PYTHON:-python3}"
MMCV_VERSION=2.1.0
T0=$(date +%s)
STEP=""

log() { printf '[setup_env %4ss] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }
fail() {
  printf '\n[setup_env] FAILED at step: %s\n' "$STEP" >&2
  printf '[setup_env] fix the error above and run `bash tools/setup_env.sh` again;\n' >&2
  printf '[setup_env] finished steps are not redone (pip skips what is installed).\n' >&2
  exit 1
}
trap fail ERR
step() { STEP="$*"; log "==> $*"; }

# How mmcv is built: with CUDA ops when nvcc is found (PATH or $CUDA_HOME/bin),
# torch is a CUDA build and a GPU is visible (or S5_MM_MMCV_CUDA=1, e.g. on a
# GPU-less build node), else CPU ops only. Sets MMCV_ENV (VAR=value words for
# `env`) and MMCV_FLAVOUR (suffix of the wheel-cache folder), MMCV_TORCH (torch version).
mmcv_build_env() {
  local nvcc torch_cuda gpu_archs nvcc_ver archs want
  nvcc=$(command -v nvcc || true)
  if [ -z "$nvcc" ] && [ -n "${CUDA_HOME:-}" ] && [ -x "$CUDA_HOME/bin/nvcc" ]; then
    nvcc="$CUDA_HOME/bin/nvcc"
  fi
  # one python start: torch's CUDA version and the visible GPUs' capabilities
  read -r torch_cuda gpu_archs MMCV_TORCH < <("$PY" -c 'import torch
caps = sorted({"%d.%d" % torch.cuda.get_device_capability(i) for i in range(torch.cuda.device_count())}) if torch.cuda.is_available() else []
print(torch.version.cuda or "-", ";".join(caps) or "-", torch.__version__.replace("+", "_"))')
  [ "$torch_cuda" != "-" ] || torch_cuda=""
  [ "$gpu_archs" != "-" ] || gpu_archs=""
  want="${S5_MM_MMCV_CUDA:-}"
  if [ -z "$want" ] && [ -n "$nvcc" ] && [ -n "$torch_cuda" ]; then
    if [ -n "$gpu_archs" ]; then want=1; else
      want=0
      log "nvcc found but no GPU visible: mmcv gets CPU ops (S5_MM_MMCV_CUDA=1 builds CUDA ops anyway)"
    fi
  fi
  MMCV_ENV=(MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" CFLAGS=-g0 CXXFLAGS=-g0)
  MMCV_FLAVOUR=""
  if [ "$want" = "1" ] && [ -n "$nvcc" ] && [ -n "$torch_cuda" ]; then
    nvcc_ver=$("$nvcc" --version | sed -n 's/.*release \([0-9]*\.[0-9]*\).*/\1/p' | head -n 1)
    archs="${TORCH_CUDA_ARCH_LIST:-$gpu_archs}"
    if [ -z "$archs" ]; then
      case "${nvcc_ver%%.*}" in
        10) archs="6.0;6.1;7.0;7.5+PTX" ;;
        11) archs="6.0;6.1;7.0;7.5;8.0;8.6+PTX" ;;
        12) archs="7.0;7.5;8.0;8.6;8.9;9.0+PTX" ;;
        *) archs="7.5;8.0;8.6;8.9;9.0;10.0;12.0+PTX" ;;
      esac
    fi
    MMCV_ENV+=(FORCE_CUDA=1 CUDA_HOME="$(dirname "$(dirname "$nvcc")")" TORCH_CUDA_ARCH_LIST="$archs")
    MMCV_FLAVOUR="-cuda$nvcc_ver"
    if [ "${nvcc_ver%%.*}" != "${torch_cuda%%.*}" ]; then
      log "warning: nvcc $nvcc_ver and torch's CUDA $torch_cuda differ in the major version; torch refuses to build such extensions"
    fi
  else
    MMCV_ENV+=(FORCE_CUDA=0)
    if [ "$want" = "1" ] && [ -z "$nvcc" ]; then
      log "S5_MM_MMCV_CUDA=1 but no nvcc on PATH or in \$CUDA_HOME/bin: mmcv gets CPU ops"
    elif [ -n "$nvcc" ] && [ -z "$torch_cuda" ]; then
      log "nvcc found but torch is a CPU build: mmcv gets CPU ops only"
    fi
  fi
}

# pip's resolver reports "ERROR: pip's dependency resolver ..." and "openmim
# 0.3.9 requires opendatalab, which is not installed." after the openmim
# steps: opendatalab is left out on purpose (below). That one report becomes
# one line of ours; every other line pip prints passes unchanged.
explain_openmim_conflict() {
  awk '
    /^ERROR: pip.s dependency resolver does not currently take into account/ { held = $0; next }
    held != "" && /^openmim [0-9.]+ requires opendatalab, which is not installed\.$/ { seen = 1; next }
    held != "" { print held; held = "" }
    { print }
    END {
      if (held != "" && !seen) print held
      if (seen) print "[setup_env] note: pip reports openmim'"'"'s dependency opendatalab as missing: it is left out on purpose (it would pull openxlab and downgrade setuptools, rich, tqdm and requests; mim never imports it), not an error"
    }'
}
openmim_pip() {
  local err rc=0
  err=$(mktemp)
  "${PIP[@]}" "$@" 2>"$err" || rc=$?
  explain_openmim_conflict <"$err" >&2
  rm -f "$err"
  return $rc
}

# Free disk before anything is installed: a full disk in the middle of pip
# leaves a half-installed venv and an OSError 28 far from its cause. The CUDA
# build of torch 2.14.1 is 2.8 GB of wheels (downloaded to $TMPDIR, not kept in
# pip's cache: --no-cache-dir below) and 5.6 GB once installed; the finished
# venv is 6.2 GB (measured on x86_64, Python 3.11).
torch_ok() { [ -x "$1" ] && "$1" -c "import torch, torchvision" >/dev/null 2>&1; }

check_disk() {
  local need_venv need_tmp dir tmp free_venv free_tmp
  if torch_ok "$VENV/bin/python"; then need_venv=2000; need_tmp=500
  else need_venv=6500; need_tmp=2900; fi
  if [ -n "${S5_MM_MIN_FREE_MB:-}" ]; then
    case "$S5_MM_MIN_FREE_MB" in
      *[!0-9]*) printf '[setup_env] S5_MM_MIN_FREE_MB must be a whole number of MB (0 skips the check), got %s\n' "$S5_MM_MIN_FREE_MB" >&2; exit 1 ;;
    esac
    need_venv=$S5_MM_MIN_FREE_MB; need_tmp=0
  fi
  [ "$need_venv" != "0" ] || return 0
  dir="$VENV"; while [ ! -d "$dir" ]; do dir=$(dirname "$dir"); done
  tmp="${TMPDIR:-/tmp}"
  [ -d "$tmp" ] || { printf '[setup_env] TMPDIR=%s is not a folder: pip downloads there; create it or unset TMPDIR\n' "$tmp" >&2; exit 1; }
  read -r free_venv free_tmp < <(df -Pm "$dir" "$tmp" | awk 'NR > 1 {printf "%s ", $4} END {print ""}')
  if [ "$(stat -c %d "$dir")" = "$(stat -c %d "$tmp")" ]; then
    need_venv=$(( need_venv + need_tmp )); need_tmp=0
  fi
  if [ "$free_venv" -lt "$need_venv" ]; then
    printf '[setup_env] not enough free disk for the venv at %s: %s MB free, about %s MB needed\n' "$VENV" "$free_venv" "$need_venv" >&2
    printf '[setup_env] free some space, or set S5_MM_VENV (and TMPDIR) to a disk with room, or reuse a cluster torch with S5_MM_SYSTEM_SITE=1 (S5_MM_MIN_FREE_MB=0 skips this check)\n' >&2
    exit 1
  fi
  if [ "$free_tmp" -lt "$need_tmp" ]; then
    printf '[setup_env] not enough free disk for pip downloads in %s: %s MB free, about %s MB needed; set TMPDIR to a disk with room\n' "$tmp" "$free_tmp" "$need_tmp" >&2
    exit 1
  fi
  log "disk: $free_venv MB free at $dir, about $need_venv MB needed"
}

if [ "${1:-}" = "--check-disk" ]; then
  check_disk
  exit 0
fi

if [ "${1:-}" = "--print-mmcv-build" ]; then
  PY="$VENV/bin/python"
  [ -x "$PY" ] || { echo "no python at $PY: run bash tools/setup_env.sh first (or set S5_MM_VENV)" >&2; exit 1; }
  mmcv_build_env
  echo "env ${MMCV_ENV[*]} $PY -m pip wheel --no-cache-dir --no-build-isolation --no-deps mmcv==$MMCV_VERSION"
  echo "wheel cache: $CACHE/torch-$MMCV_TORCH$MMCV_FLAVOUR"
  exit 0
fi

check_disk
step "create virtual environment at $VENV"
if [ ! -x "$VENV/bin/python" ]; then
  if [ "${S5_MM_SYSTEM_SITE:-0}" = "1" ]; then
    "$PYTHON_BIN" -m venv --system-site-packages "$VENV"
  else
    "$PYTHON_BIN" -m venv "$VENV"
  fi
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip install --disable-pip-version-check)
# Pins that every later pip call must respect (never let pip "upgrade" mmcv
# to a release mmseg rejects, numpy to 2.x, setuptools past pkg_resources).
CONSTRAINTS="$ROOT/requirements/constraints.txt"

step "base build tools (pip, setuptools<81, wheel, ninja, numpy<2)"
"${PIP[@]}" -q -c "$CONSTRAINTS" -U pip "setuptools<81" wheel ninja "numpy<2" packaging

step "torch + torchvision"
if torch_ok "$PY"; then
  log "keeping installed $("$PY" -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__)')"
else
  # --no-cache-dir: pip's cache would keep a second copy of the 2.8 GB of wheels
  "${PIP[@]}" -q --no-cache-dir -c "$CONSTRAINTS" "torch==2.14.1" "torchvision==0.29.1"
fi
TORCH_VER=$("$PY" -c 'import torch; print(torch.__version__.replace("+", "_"))')

step "runtime requirements"
"${PIP[@]}" -q -c "$CONSTRAINTS" -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/tests.txt" \
  "mmengine==0.10.7" psutil

step "mmcv $MMCV_VERSION with compiled ops"
if "$PY" -c "import mmcv, mmcv.ops; from mmcv.utils import ext_loader; ext_loader.load_ext('_ext', ['nms_rotated']); assert mmcv.__version__ == '$MMCV_VERSION'" >/dev/null 2>&1; then
  log "mmcv $MMCV_VERSION with ops already installed"
else
  mmcv_build_env
  WHEEL_DIR="$CACHE/torch-$TORCH_VER$MMCV_FLAVOUR"
  WHEEL=$(ls "$WHEEL_DIR"/mmcv-$MMCV_VERSION-*.whl 2>/dev/null | head -n 1 || true)
  if [ -n "$WHEEL" ] && "${PIP[@]}" -q --no-deps --force-reinstall "$WHEEL"; then
    log "installed cached wheel $WHEEL"
  else
    log "building mmcv from its source distribution (about 7 min on 2 cores)"
    # torch >= 2.13's headers need C++20, mmcv's setup.py forces -std=c++14/17:
    # a compiler wrapper swaps the flag (mmcv then builds with warnings only).
    WRAP="$VENV/s5_mm-cc-wrap"
    mkdir -p "$WRAP"
    for name in c++ g++ gcc cc; do
      real=$(command -v "$name" || true)
      [ -n "$real" ] || continue
      cat > "$WRAP/$name" <<EOF
#!/usr/bin/env bash
args=()
for a in "\$@"; do
  case "\$a" in
    -std=c++14|-std=c++17|-std=gnu++14|-std=gnu++17) args+=("-std=c++20") ;;
    *) args+=("\$a") ;;
  esac
done
exec "$real" "\${args[@]}"
EOF
      chmod +x "$WRAP/$name"
    done
    BUILD_DIR=$(mktemp -d)
    log "mmcv build: ${MMCV_ENV[*]}"
    env PATH="$WRAP:$VENV/bin:$PATH" CC="$WRAP/gcc" CXX="$WRAP/c++" "${MMCV_ENV[@]}" \
      "$PY" -m pip wheel --no-cache-dir --no-build-isolation --no-deps -w "$BUILD_DIR" "mmcv==$MMCV_VERSION"
    WHEEL=$(ls "$BUILD_DIR"/mmcv-*.whl | head -n 1)
    "${PIP[@]}" -q --no-deps --force-reinstall "$WHEEL"
    if mkdir -p "$WHEEL_DIR" 2>/dev/null && cp "$WHEEL" "$WHEEL_DIR/"; then
      log "cached $WHEEL_DIR/$(basename "$WHEEL")"
    else
      log "could not write the wheel cache $WHEEL_DIR (continuing without it)"
    fi
    rm -rf "$BUILD_DIR"
  fi
  # mmcv's own dependencies (addict, yapf, opencv, ...), now that mmcv itself is in.
  "${PIP[@]}" -q -c "$CONSTRAINTS" addict yapf opencv-python packaging Pillow pyyaml
fi

step "OpenMMLab libraries (mmseg, mmdet, mmpretrain, mmrotate) and faiss"
"${PIP[@]}" -q -c "$CONSTRAINTS" "mmsegmentation==1.2.2" "mmdet==3.3.0" "mmpretrain==1.2.0"
# mmrotate-dev declares loose requirements; --no-deps keeps pip away from mmcv.
"${PIP[@]}" -q -c "$CONSTRAINTS" --no-deps "mmrotate-dev==1.0.1"

step "albumentations (S4P strong views), without opencv-python-headless"
# its opencv-python-headless would replace mmcv's opencv-python in cv2/
# (requirements/albumentations.txt)
"${PIP[@]}" -q --no-deps "albumentations==2.0.8" "albucore==0.0.24"
"${PIP[@]}" -q -c "$CONSTRAINTS" -r "$ROOT/requirements/albumentations.txt"

step "openmim (mim train / mim test), without openxlab"
# openmim's declared opendatalab -> openxlab would downgrade setuptools, rich,
# tqdm and requests; mim never imports them (requirements/openmim.txt).
openmim_pip -q --no-deps "openmim==0.3.9"
openmim_pip -q -c "$CONSTRAINTS" -r "$ROOT/requirements/openmim.txt"

step "s5_mm (editable, in the layout mim finds)"
# mim 0.3.9 looks for <pkg_resources location>/s5_mm/.mim/tools/train.py. A
# PEP 660 editable install keeps its metadata in site-packages, so mim would
# look in site-packages/s5_mm, which does not exist. This is the layout
# `setup.py develop` wrote before setuptools 80: metadata in the source tree
# (s5_mm.egg-info), site-packages/s5_mm.egg-link and easy-install.pth
# pointing at it; pip lists and uninstalls it as an editable project.
SITE=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
if "$PY" -m pip show -q s5_mm >/dev/null 2>&1 && [ ! -f "$SITE/s5_mm.egg-link" ]; then
  "$PY" -m pip uninstall -y -q s5_mm   # a PEP 660 install of an earlier set-up
fi
(cd "$ROOT" && "$PY" setup.py -q egg_info > "$VENV/s5_mm-egg_info.log" 2>&1) || { cat "$VENV/s5_mm-egg_info.log"; false; }
(cd "$ROOT" && "$PY" -c 'from setup import add_mim_extension; add_mim_extension("symlink")')
printf '%s\n.' "$ROOT" > "$SITE/s5_mm.egg-link"
touch "$SITE/easy-install.pth"
grep -qxF "$ROOT" "$SITE/easy-install.pth" || echo "$ROOT" >> "$SITE/easy-install.pth"

step "check the stack"
"$PY" - <<'EOF'
import torch, mmcv, mmengine, mmseg, mmdet, mmpretrain, mmrotate, faiss
from mmcv.ops import nms_rotated  # noqa: F401  (compiled ops load)
import s5_mm
print('torch', torch.__version__, '| mmcv', mmcv.__version__, '| mmengine', mmengine.__version__,
      '| mmseg', mmseg.__version__, '| mmdet', mmdet.__version__, '| mmpretrain', mmpretrain.__version__,
      '| mmrotate', mmrotate.__version__, '| faiss', faiss.__version__, '| s5_mm', s5_mm.__version__)
EOF
log "done. Activate with: source $VENV/bin/activate"
