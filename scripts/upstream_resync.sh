#!/usr/bin/env bash
# Re-syncing the fork with a new upstream hyper release, step by step (UPSTREAM.md, "Re-syncing").
#
#   scripts/upstream_resync.sh diff NEW [OLD]    what changed in upstream's src/ since the base
#   scripts/upstream_resync.sh bump NEW          point the fork, its lock files and tests at NEW
#   scripts/upstream_resync.sh api [VERSION]     public API of the fork vs VERSION, per feature set
#   scripts/upstream_resync.sh behaviour         which pinned behaviours of upstream moved
#
# VERSION defaults to the release `hyper_upstream` is pinned to in Cargo.toml. Everything
# fetched lands under target/resync/ (never committed).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$root/target/resync
mkdir -p "$work"

# The feature sets whose public API must equal upstream's (ffi/capi are out of scope).
feature_sets=(client,server,http1,http2 client,http1 server,http1 client,http2 server,http2 client server http1 http2)

base_version() {
    sed -n 's/^hyper_upstream = { package = "hyper", version = "=\([0-9.]*\)".*/\1/p' Cargo.toml
}

# Has cargo unpack hyper VERSION into the registry and prints its directory.
fetch() {
    local version=$1 dir=$work/fetch-$1
    mkdir -p "$dir/src"
    cat >"$dir/Cargo.toml" <<EOF
[package]
name = "fetch-hyper"
version = "0.0.0"
edition = "2021"
publish = false
[workspace]
[dependencies]
hyper = { version = "=$version", features = ["full"] }
EOF
    : >"$dir/src/lib.rs"
    cargo fetch --quiet --manifest-path "$dir/Cargo.toml"
    local src
    src=$(cargo metadata --quiet --format-version 1 --manifest-path "$dir/Cargo.toml" |
        python3 -c 'import json,sys; m=json.load(sys.stdin); print(next(p["manifest_path"] for p in m["packages"] if p["name"]=="hyper"))')
    dirname "$src"
}

cmd_diff() {
    local new=${1:?usage: diff NEW [OLD]}
    local old=${2:-$(base_version)}
    local a b
    a=$(fetch "$old")
    b=$(fetch "$new")
    local out=$work/src-$old-$new.diff
    (cd "$(dirname "$a")" && diff -ru "$(basename "$a")/src" "$(basename "$b")/src" >"$out" || true)
    echo "upstream src/ $old -> $new: full diff in ${out#"$root"/}"
    echo
    echo "changed files (lines added/removed):"
    (cd "$(dirname "$a")" && diff -ruq "$(basename "$a")/src" "$(basename "$b")/src" || true) |
        sed -n 's|^Files [^ ]*/src/\([^ ]*\) and .*|\1|p; s|^Only in \(.*\): \(.*\)|\1/\2 (only in one)|p' |
        while read -r f rest; do
            if [ -f "$a/src/$f" ] && [ -f "$b/src/$f" ]; then
                local plus minus
                plus=$(diff -u "$a/src/$f" "$b/src/$f" | grep -c '^+[^+]' || true)
                minus=$(diff -u "$a/src/$f" "$b/src/$f" | grep -c '^-[^-]' || true)
                printf '  %-40s +%-4s -%s\n' "$f" "$plus" "$minus"
            else
                printf '  %s %s\n' "$f" "$rest"
            fi
        done
    echo
    echo "Cargo.toml (features, dependencies):"
    local manifest
    manifest=$(diff -u "$a/Cargo.toml.orig" "$b/Cargo.toml.orig" | grep '^[-+][^-+]' | grep -v '^[-+]version' || true)
    echo "${manifest:-  unchanged}"
}

cmd_bump() {
    local new=${1:?usage: bump NEW}
    local old
    old=$(base_version)
    local major minor patch
    IFS=. read -r major minor patch <<<"$new"
    local fork_version="$major.$minor.$((patch + 1))"
    sed -i "s/^version = \"[0-9.]*\"/version = \"$fork_version\"/" Cargo.toml
    sed -i "s/version = \"=$old\"/version = \"=$new\"/" Cargo.toml tests/api_parity/Cargo.toml
    cargo update --quiet -p "hyper@$old" --precise "$new"
    (cd tests/api_parity && cargo update --quiet -p "hyper@$old" --precise "$new")
    for app in tests/downstream/*/; do
        (cd "$app" && cargo update --quiet -p hyper)
    done
    echo "fork $fork_version, upstream dev-dependency =$new; lock files updated."
    echo "Mentions of $old left to review:"
    grep -rn --include='*.rs' --include='*.md' --include='*.toml' -F "$old" \
        src tests benches examples README.md UPSTREAM.md TESTING.md Cargo.toml |
        grep -v '^tests/downstream/.*Cargo.lock' || echo "  none"
}

cmd_api() {
    local version=${1:-$(base_version)}
    if ! cargo semver-checks --version >/dev/null 2>&1; then
        echo "cargo-semver-checks is missing: cargo install cargo-semver-checks --locked" >&2
        exit 2
    fi
    # The reverse check builds upstream's crate as the "current" side; its dev-dependencies
    # are not needed for that and may not resolve offline, so they are dropped from a copy.
    local up copy=$work/upstream-$version
    up=$(fetch "$version")
    rm -rf "$copy" && cp -r "$up" "$copy" && rm -f "$copy/Cargo.lock"
    python3 - "$copy/Cargo.toml" <<'EOF'
import sys
path = sys.argv[1]
keep, out = True, []
for line in open(path).read().splitlines():
    if line.startswith("["):
        keep = not line.startswith(("[dev-dependencies", "[[test]]", "[[bench]]", "[[example]]"))
    if keep:
        out.append(line)
open(path, "w").write("\n".join(out) + "\n")
EOF
    local failed=0
    for set in "${feature_sets[@]}"; do
        # Upstream's items missing from the fork, then the fork's extra items.
        local missing extra
        missing=$(cargo semver-checks check-release --baseline-version "$version" \
            --only-explicit-features --features "$set" 2>&1 |
            sed -n '/^Failed in:/,/^$/p' | grep -v '^Failed in:' | grep -vE 'feature (ffi|capi) ' | sed '/^\s*$/d' || true)
        extra=$(cargo semver-checks check-release --manifest-path "$copy/Cargo.toml" \
            --baseline-root "$root" --only-explicit-features --features "$set" 2>&1 |
            sed -n '/^Failed in:/,/^$/p' | grep -v '^Failed in:' | sed '/^\s*$/d' || true)
        if [ -z "$missing$extra" ]; then
            echo "[$set] same public API as $version"
        else
            failed=1
            echo "[$set]"
            [ -n "$missing" ] && echo "  in $version, not in the fork:" && echo "$missing" | sed 's/^/    /'
            [ -n "$extra" ] && echo "  in the fork, not in $version:" && echo "$extra" | sed 's/^/    /'
        fi
    done
    return $failed
}

cmd_behaviour() {
    # The suites that compare the fork with upstream, or assert upstream's side of a
    # documented difference. A failure names the script or scenario whose upstream side moved.
    local log=$work/behaviour.log
    cargo test --features full --no-fail-fast \
        --test differential --test client_differential --test upstream_differences \
        --test client_connection_lifecycle --test client_response_parsing --test auto_traits \
        --test differential_fuzz \
        >"$log" 2>&1 || true
    echo "full log: ${log#"$root"/}"
    grep -E '^test .* FAILED$|^  - script|^test result' "$log" || true
}

case "${1:-}" in
diff) shift && cmd_diff "$@" ;;
bump) shift && cmd_bump "$@" ;;
api) shift && cmd_api "$@" ;;
behaviour) shift && cmd_behaviour "$@" ;;
*)
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
