#!/usr/bin/env bash
# Installs the Debian packages PHIGuard needs, when they are missing.
# Root uses apt-get directly, others sudo; if neither works it says what to run.
set -euo pipefail

# zbar-tools: a real QR decoder that reads back the terminal QR codes in the tests.
packages=(libsodium-dev libargon2-dev libqrencode-dev pkg-config postgresql sqlite3 python3-venv zbar-tools)
# The Debian `argon2` reference CLI is only needed by `make bench` (the comparison it reports).
[ "${PHIGUARD_WITH_BENCH_TOOLS:-0}" = 1 ] && packages+=(argon2)
# Debian's Chromium and its WebDriver are only needed by `make browser-tests` (scripts/browser-tests.sh).
[ "${PHIGUARD_WITH_BROWSER:-0}" = 1 ] && packages+=(chromium chromium-driver)

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
# python3-venv is only needed when the python3 on PATH cannot make a virtualenv by itself.
if [ ${#missing[@]} -gt 0 ] && command -v python3 >/dev/null && python3 -m venv --help >/dev/null 2>&1; then
    missing=("${missing[@]/python3-venv/}")
    read -r -a missing <<<"${missing[*]}"
fi
[ ${#missing[@]} -eq 0 ] && exit 0

echo "Installing missing packages: ${missing[*]}"
if [ "$(id -u)" = 0 ]; then
    apt_get=(apt-get)
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    apt_get=(sudo apt-get)
else
    echo "error: need root or password-less sudo to install: ${missing[*]}" >&2
    echo "       run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${apt_get[@]}" update -qq
"${apt_get[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "Installed: ${missing[*]}"
