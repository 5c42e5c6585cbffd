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
#
# What it installs and why (see README "Installation"):
#   torch 2.14.1 + torchvision 0.29.1 (unless the env already has both),
#   setuptools<81, numpy<2, ftfy, regex, mmengine 0.10.7,
#   mmcv 2.1.0 WITH compiled ops built from its source distribution,
#   mmsegmentation 1.2.2, mmdet 3.3.0, mmpretrain 1.2.0, mmrotate-dev 1.0.1,
#   faiss-cpu, pytest, and s5_mm itself in editable mode.
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
# to a release mmseg rejects, or numpy to 2.x).
CONSTRAINTS="$VENV/s5_mm-constraints.txt"
cat > "$CONSTRAINTS" <<EOF
mmcv==$MMCV_VERSION
numpy<2
setuptools<81
EOF

step "base build tools (pip, setuptools<81, wheel, ninja, numpy<2)"
"${PIP[@]}" -q -c "$CONSTRAINTS" -U pip "setuptools<81" wheel ninja "numpy<2" packaging

step "torch + torchvision"
if "$PY" -c "import torch, torchvision" >/dev/null 2>&1; then
  log "keeping installed $("$PY" -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__)')"
else
  "${PIP[@]}" -q -c "$CONSTRAINTS" "torch==2.14.1" "torchvision==0.29.1"
fi
TORCH_VER=$("$PY" -c 'import torch; print(torch.__version__.replace("+", "_"))')

step "runtime requirements"
"${PIP[@]}" -q -c "$CONSTRAINTS" -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/tests.txt" \
  "mmengine==0.10.7" psutil

step "mmcv $MMCV_VERSION with compiled ops"
if "$PY" -c "import mmcv, mmcv.ops; from mmcv.utils import ext_loader; ext_loader.load_ext('_ext', ['nms_rotated']); assert mmcv.__version__ == '$MMCV_VERSION'" >/dev/null 2>&1; then
  log "mmcv $MMCV_VERSION with ops already installed"
else
  WHEEL_DIR="$CACHE/torch-$TORCH_VER"
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
    PATH="$WRAP:$VENV/bin:$PATH" CC="$WRAP/gcc" CXX="$WRAP/c++" \
      MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS="${MAX_JOBS:-$(nproc)}" CFLAGS="-g0" CXXFLAGS="-g0" \
      "$PY" -m pip wheel --no-build-isolation --no-deps -w "$BUILD_DIR" "mmcv==$MMCV_VERSION"
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

step "s5_mm (editable)"
"${PIP[@]}" -q -c "$CONSTRAINTS" --no-deps --no-build-isolation -e "$ROOT"

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
