#!/usr/bin/env bash
# Builds the eight sample rules to wasm32 from a git revision (or the work
# tree: WORKTREE) with a given guest stack, into OUT/<crate>.wasm, so that the
# `variants` bench can compare guest builds side by side in one run.
#
#   tests/benches/build-variant.sh REV STACK_BYTES OUT [extra rustc flags...]
#
# Example, the guest build before issue 5 against the current one:
#   tests/benches/build-variant.sh b72fa26 65536 target/variants/before
#   tests/benches/build-variant.sh WORKTREE 32768 target/variants/now
set -euo pipefail
rev=$1 stack=$2 out=$3
shift 3
root=$(git rev-parse --show-toplevel)
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
paths=(Cargo.toml Cargo.lock rust-toolchain.toml rules-sdk sample-rules)
if [ "$rev" = WORKTREE ]; then
  (cd "$root" && tar -c "${paths[@]}") | tar -x -C "$src"
else
  git -C "$root" archive "$rev" "${paths[@]}" | tar -x -C "$src"
fi
# Only the guest crates are in the copy.
sed -i -e 's|^members = .*|members = ["rules-sdk", "sample-rules/*"]|' \
  -e 's|^default-members = .*|default-members = ["rules-sdk", "sample-rules/*"]|' "$src/Cargo.toml"
flags="-Clink-arg=-zstack-size=$stack"
for f in "$@"; do flags="$flags"$'\x1f'"$f"; done
crates=()
for d in "$src"/sample-rules/*/; do crates+=(-p "$(basename "$d")"); done
env -u RUSTFLAGS -u CARGO_TARGET_DIR CARGO_ENCODED_RUSTFLAGS="$flags" \
  cargo build --manifest-path "$src/Cargo.toml" --target wasm32-unknown-unknown \
  --profile rules --target-dir "$root/target/variants/build" "${crates[@]}"
mkdir -p "$out"
for d in "$src"/sample-rules/*/; do
  name=$(basename "$d")
  cp "$root/target/variants/build/wasm32-unknown-unknown/rules/${name//-/_}.wasm" "$out/$name.wasm"
done
ls -l "$out"
