#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets) for SECONDS each (default 10), starting from the
# committed seeds (fuzz/seeds/<target>) and the corpus earlier runs grew (fuzz/corpus, not
# committed). Needs cargo-fuzz (`cargo install cargo-fuzz --locked`); builds on the stable
# toolchain without a sanitizer (-s none: panics and failed assertions are what is caught;
# with a nightly toolchain drop `-s none` to add AddressSanitizer). A finding is written to
# fuzz/artifacts/<target>/ and makes this script fail.
#
#   scripts/fuzz.sh            # 10 s per target
#   scripts/fuzz.sh 600 inci   # one target for ten minutes
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-10}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
cargo fuzz build -s none >/dev/null
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  runs=$(cargo fuzz run -s none "$t" "corpus/$t" "seeds/$t" -- -max_total_time="$seconds" 2>&1 | tee "target/fuzz-$t.log" | grep -Eo '^Done [0-9]+ runs' || true)
  if grep -qE 'panicked|SUMMARY: libFuzzer|ERROR: libFuzzer' "target/fuzz-$t.log"; then
    echo "fuzz: $t FAILED (see fuzz/target/fuzz-$t.log and fuzz/artifacts/$t/)" >&2
    exit 1
  fi
  echo "fuzz: $t ok (${runs:-no runs counted} in ${seconds} s)"
done
