#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# make fuzz-smoke: runs every libFuzzer harness of BUILD_DIR (built with
# ENCLAVE_FUZZ=ON) for FUZZ_SECONDS each, under ASan+UBSan, on a working copy
# of its checked-in seeds and regression inputs (BUILD_DIR/fuzz-corpus/<name>,
# kept between runs so that it grows). Prints one summary line per harness;
# exits non-zero when any harness crashed, leaked, hung or failed to run.
# A crashing input is left in BUILD_DIR/fuzz-artifacts/<name>/: fix the
# parser and add the input under tests/fuzz/regressions/<name>/.
set -u
build=${1:?usage: run_fuzz_smoke.sh BUILD_DIR [harness...]}
shift
seconds=${FUZZ_SECONDS:-60}
src=$(cd "$(dirname "$0")" && pwd)
names=${*:-"hi1_task hi1_deliver handover_xml ingest_json http_range lea_range config audit_bundle signed_note blob wrapped_key psk_file sim_delivery ltap http_request admin_json"}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$src/../lsan.supp}
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && [ -x /usr/lib/llvm-14/bin/llvm-symbolizer ]; then
    export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
fi

failed=0
summary=""
for name in $names; do
    exe="$build/tests/fuzz/fuzz_$name"
    corpus="$build/fuzz-corpus/$name"
    artifacts="$build/fuzz-artifacts/$name"
    log="$build/fuzz-logs/$name.log"
    mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
    for seeds in "$src/corpus/$name" "$src/regressions/$name"; do
        [ -d "$seeds" ] && cp -n "$seeds"/* "$corpus"/ 2>/dev/null
    done
    dict=""
    [ -f "$src/dict/$name.dict" ] && dict="-dict=$src/dict/$name.dict"
    if [ ! -x "$exe" ]; then
        line="fuzz_$name: FAILED (not built: $exe)"
        failed=1
    else
        before=$(ls "$artifacts" | wc -l)
        "$exe" -max_total_time="$seconds" -timeout=30 -print_final_stats=1 \
            -artifact_prefix="$artifacts/" $dict "$corpus" >"$log" 2>&1
        rc=$?
        after=$(ls "$artifacts" | wc -l)
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        done_line=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -n 1)
        cov=$(printf '%s\n' "$done_line" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
        ft=$(printf '%s\n' "$done_line" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
        units=$(ls "$corpus" | wc -l)
        crashes=$((after - before))
        if [ "$rc" -eq 0 ] && [ "$crashes" -eq 0 ]; then
            status=ok
        else
            status="FAILED (exit $rc, see $log)"
            failed=1
        fi
        line="fuzz_$name: $status execs=${execs:-?} cov=${cov:-?} ft=${ft:-?} corpus=$units new_crashes=$crashes time=${seconds}s"
    fi
    echo "$line"
    summary="$summary$line
"
done
echo "---- fuzz-smoke summary (${seconds}s per harness)"
printf '%s' "$summary"
exit $failed
