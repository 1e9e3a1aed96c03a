#!/bin/bash -eu
# ClusterFuzzLite / OSS-Fuzz build script for wirecheck.
#
# Runs inside the base-builder image (.clusterfuzzlite/Dockerfile), which
# sets CC, CFLAGS (sanitizer + -fsanitize=fuzzer-no-link), LIB_FUZZING_ENGINE
# (-fsanitize=fuzzer for libFuzzer), OUT, SRC, WORK and SANITIZER (address
# and undefined in .github/workflows/cflite_{pr,batch}.yml, coverage in
# cflite_cron.yml; fuzz/test-cflite-build --sanitizer S runs each). For every
# fuzz/<target>.c that defines LLVMFuzzerTestOneInput (except the planted-bug
# demo) it writes
#   $OUT/fuzz-<target>                   the fuzzer
#   $OUT/fuzz-<target>_seed_corpus.zip   fuzz/corpus/<target>/
#   $OUT/fuzz-<target>.dict              fuzz/<target>.dict
# The project's libraries (core/, conformance/) are compiled with the same
# $CC $CFLAGS, so the sanitizer and the coverage instrumentation see inside
# them. No network: libpcap comes from apt in the Dockerfile. No CMake
# either (the base image's may be older than the project needs); the source
# lists mirror core/CMakeLists.txt and conformance/CMakeLists.txt: every .c
# in core/, every .c in conformance/ except wirecheck.c (the CLI's main).
#
# Locally, without Docker (what fuzz/test-cflite-build does):
#   CC=clang CFLAGS="-O1 -fno-omit-frame-pointer -gline-tables-only -fsanitize=address \
#     -fsanitize-address-use-after-scope -fsanitize=fuzzer-no-link" \
#   LIB_FUZZING_ENGINE=-fsanitize=fuzzer OUT=$(mktemp -d) SRC=/work SANITIZER=address \
#   .clusterfuzzlite/build.sh

# The repository: this script's parent directory, or, when the Dockerfile
# copied the script to $SRC/build.sh, the working directory ($SRC/wirecheck).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ -f $here/../core/sockio.h ]]; then
    root=$(cd "$here/.." && pwd)
elif [[ -f $PWD/core/sockio.h ]]; then
    root=$PWD
else
    root=${SRC:?}/wirecheck
fi
: "${CC:?}" "${CFLAGS:?}" "${LIB_FUZZING_ENGINE:?}" "${OUT:?}"
# Object files go to $WORK (the engine's scratch dir) or a temporary one;
# never into the source tree.
if [[ -n ${WORK:-} && -d ${WORK:-} && -w ${WORK:-} && $WORK != "$root"* ]]; then
    obj=$WORK/wirecheck-obj
else
    obj=$(mktemp -d)
    trap 'rm -rf "$obj"' EXIT
fi
rm -rf "$obj/core" "$obj/conformance" "$obj/fuzz"
mkdir -p "$obj/core" "$obj/judge" "$obj/fuzz" "$OUT"

# The project's own flags (CMakeLists.txt): C11 with the Linux socket API.
# Warnings are not errors here: the engine's flags are not ours to vet.
proj=(-std=c11 -D_GNU_SOURCE -I"$root/core" -I"$root/conformance/judge" -I"$root/fuzz")
read -r -a pcap_cflags <<<"$(pkg-config --cflags libpcap 2>/dev/null || true)"
read -r -a pcap_libs <<<"$(pkg-config --libs libpcap 2>/dev/null || echo -lpcap)"
# The runner image (base-runner) has no libpcap: the shared libraries a
# fuzzer needs beyond glibc are copied to $OUT/lib and found through
# DT_RPATH $ORIGIN/lib (RPATH, not RUNPATH, so it also serves libpcap's own
# dependencies: libdbus-1, libsystemd, ...).
# shellcheck disable=SC2054  # commas inside one linker flag
rpath=("-Wl,--disable-new-dtags" "-Wl,-rpath,\$ORIGIN/lib")
# The link driver: OSS-Fuzz asks for $CXX $CXXFLAGS (a libFuzzer/AFL++/
# honggfuzz engine library may need the C++ runtime); plain clang with
# $CFLAGS is fine for -fsanitize=fuzzer, so that when no $CXX is set.
read -r -a cflags <<<"$CFLAGS"
if [[ -n ${CXX:-} ]]; then
    link=$CXX
    read -r -a ldflags <<<"${CXXFLAGS:-$CFLAGS}"
else
    link=$CC
    ldflags=("${cflags[@]}")
fi

compile() { # source object
    "$CC" "${cflags[@]}" "${proj[@]}" "${pcap_cflags[@]}" -c "$1" -o "$2"
}

libobjs=()
# The harnesses need the core and the judge (conformance/judge): nothing
# live, and not the programs' shell (cli.c, netsock.c: wirecheck_shell).
for src in "$root"/core/*.c "$root"/conformance/judge/*.c; do
    case ${src##*/} in cli.c|netsock.c) continue ;; esac
    o=$obj/$(basename "$(dirname "$src")")/$(basename "${src%.c}").o
    compile "$src" "$o"
    libobjs+=("$o")
done
# One static archive: each fuzzer pulls in only the objects it uses.
ar rcs "$obj/libwirecheck.a" "${libobjs[@]}"

built=()
for src in "$root"/fuzz/*.c; do
    t=$(basename "${src%.c}")
    case $t in planted_bug|replay_main|make_corpus) continue ;; esac
    grep -q 'LLVMFuzzerTestOneInput' "$src" || continue
    compile "$src" "$obj/fuzz/$t.o"
    # shellcheck disable=SC2086  # LIB_FUZZING_ENGINE may be several words
    "$link" "${ldflags[@]}" "$obj/fuzz/$t.o" -o "$OUT/fuzz-$t" $LIB_FUZZING_ENGINE \
        "$obj/libwirecheck.a" "${pcap_libs[@]}" "${rpath[@]}"
    if [[ -d $root/fuzz/corpus/$t ]] && [[ -n $(ls -A "$root/fuzz/corpus/$t") ]]; then
        rm -f "$OUT/fuzz-${t}_seed_corpus.zip"
        (cd "$root/fuzz/corpus/$t" && zip -q -j "$OUT/fuzz-${t}_seed_corpus.zip" ./*)
    fi
    if [[ -f $root/fuzz/$t.dict ]]; then
        cp "$root/fuzz/$t.dict" "$OUT/fuzz-$t.dict"
    fi
    built+=("fuzz-$t")
done
bundle() { # fuzzer: copy its non-glibc shared libraries to $OUT/lib
    local line lib
    while read -r line; do
        lib=$(awk '$2 == "=>" && $3 ~ /^\// {print $3}' <<<"$line")
        [[ -n $lib ]] || continue
        case ${lib##*/} in
            libc.so.*|libm.so.*|libdl.so.*|librt.so.*|libpthread.so.*|ld-linux*|libgcc_s.so.*|libstdc++.so.*) continue ;;
        esac
        mkdir -p "$OUT/lib"
        [[ -f $OUT/lib/${lib##*/} ]] || cp -L "$lib" "$OUT/lib/"
    done < <(ldd "$1" 2>/dev/null || true)
}
for f in "${built[@]}"; do bundle "$OUT/$f"; done

[[ ${#built[@]} -gt 0 ]] || { echo "build.sh: no harness found in $root/fuzz" >&2; exit 1; }
echo "build.sh: built ${built[*]} in $OUT (SANITIZER=${SANITIZER:-unset})"
