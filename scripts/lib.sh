# Shared shell helpers for scripts/run.sh, scripts/test.sh and perf/. Sourced, not executed.

# Installs the Debian packages named in "$@" that are missing; runs apt-get update at most once.
ensure_packages() {
    local missing=()
    local pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing packages: ${missing[*]} (run as root, or install them)" >&2
        return 1
    fi
    echo "installing: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    if [ -z "${BRICKD_APT_UPDATED:-}" ]; then
        apt-get update -qq
        export BRICKD_APT_UPDATED=1
    fi
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The oldest rustc that builds the workspace with its locked dependencies (Cargo.toml's
# rust-version; clippy's incompatible_msrv lint holds our own code to it).
rust_version_needed() {
    sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' "$(dirname "${BASH_SOURCE[0]}")/../Cargo.toml" | head -1
}

# True if version $1 >= version $2 (dotted numbers).
version_at_least() {
    [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -1)" = "$2" ]
}

# The rustc on PATH's version ("1.88.0"), or nothing.
rustc_version() {
    command -v rustc >/dev/null 2>&1 && command -v cargo >/dev/null 2>&1 || return 0
    rustc --version 2>/dev/null | awk '{print $2}'
}

# Makes sure a Rust toolchain that builds the workspace is on PATH, and says which one it uses.
# "$@" names extra components: clippy, rustfmt.
#
# A toolchain older than rust-version (Debian 12's packaged rustc is 1.63) or none at all:
#   - with rustup, `rustup toolchain install stable` (and make it the default);
#   - without rustup (or if rustup cannot reach its server), Debian's rustc-web and cargo-web,
#     which Debian 12 updates to a current Rust for its browsers, with its clippy and rustfmt.
ensure_rust() {
    local need have components=("$@")
    need=$(rust_version_needed)
    [ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
    have=$(rustc_version)
    if [ -n "$have" ] && version_at_least "$have" "$need"; then
        if command -v rustup >/dev/null 2>&1 && [ ${#components[@]} -gt 0 ]; then
            local c
            for c in "${components[@]}"; do
                rustup component list --installed 2>/dev/null | grep -q "^$c" ||
                    rustup component add "$c" >&2 || true
            done
        fi
        _rust_components_present "${components[@]}" || _rust_from_debian "$need" "${components[@]}" || return 1
        echo "rust: rustc $have at $(command -v rustc) (the workspace needs $need or newer)" >&2
        return 0
    fi
    if [ -n "$have" ]; then
        echo "rust: rustc $have is older than $need, which the workspace needs" >&2
    else
        echo "rust: no rustc and cargo on PATH; the workspace needs Rust $need or newer" >&2
    fi
    if command -v rustup >/dev/null 2>&1; then
        echo "rust: rustup toolchain install stable" >&2
        if rustup toolchain install stable --profile minimal ${components[@]/#/--component } >&2 &&
            rustup default stable >&2; then
            hash -r
            have=$(rustc_version)
            if [ -n "$have" ] && version_at_least "$have" "$need"; then
                echo "rust: installed rustc $have with rustup" >&2
                return 0
            fi
        fi
        echo "rust: rustup could not install a new enough toolchain" >&2
        return 1
    fi
    _rust_from_debian "$need" "${components[@]}"
}

# True if every component named in "$@" answers on PATH.
_rust_components_present() {
    local c
    for c in "$@"; do
        case "$c" in
        clippy) cargo clippy --version >/dev/null 2>&1 || return 1 ;;
        rustfmt) cargo fmt --version >/dev/null 2>&1 || return 1 ;;
        esac
    done
}

# Installs Debian's rustc-web toolchain (with the components in "${@:2}") if its version is at
# least $1.
_rust_from_debian() {
    local need=$1 candidate pkgs=(rustc-web cargo-web) c
    shift
    for c in "$@"; do
        case "$c" in
        clippy) pkgs+=(rust-web-clippy) ;;
        rustfmt) pkgs+=(rustfmt-web) ;;
        esac
    done
    if [ "$(id -u)" -ne 0 ]; then
        echo "rust: install Rust $need or newer (rustup, or as root Debian's ${pkgs[*]})" >&2
        return 1
    fi
    if [ -z "${BRICKD_APT_UPDATED:-}" ]; then
        apt-get update -qq
        export BRICKD_APT_UPDATED=1
    fi
    candidate=$(apt-cache policy rustc-web 2>/dev/null | sed -n 's/^ *Candidate: *\([0-9.]*\).*/\1/p')
    if [ -z "$candidate" ] || ! version_at_least "$candidate" "$need"; then
        echo "rust: Debian's rustc-web is ${candidate:-not available}, older than $need; install Rust $need or newer with rustup" >&2
        return 1
    fi
    echo "rust: installing Debian's ${pkgs[*]} $candidate" >&2
    ensure_packages "${pkgs[@]}" || return 1
    hash -r
    echo "rust: installed rustc $(rustc_version) at $(command -v rustc)" >&2
}
