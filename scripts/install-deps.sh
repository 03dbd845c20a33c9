#!/usr/bin/env bash
# Installs the Debian packages that the interop tests and benchmarks use: strongSwan
# (charon, swanctl and kernel-libipsec for userspace ESP), iperf3, tshark, nftables.
# Then it creates a Python virtual environment with ntc-templates and TextFSM, which
# check that the ASA parsers read rampart's show output (scripts/ntc_check.py).
# Safe to run again; does nothing for packages already present.
set -euo pipefail

packages=(strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-standard-plugins
  iperf3 tshark socat iputils-ping nftables tcpdump iproute2 python3-pip python3-venv)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages ${missing[*]}; run this script as root to install them" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Debian marks its Python as externally managed (PEP 668), so the PyPI packages go
# into their own environment. Versions are pinned to the ones the checks were
# written against; a newer template may parse differently.
pyenv="${RAMPART_PYENV:-/opt/rampart/pyenv}"
# Without PyPI the checks that need them print SKIP, so a failure here only warns.
if ! "$pyenv/bin/python3" -c 'import ntc_templates, textfsm' 2>/dev/null; then
  if ! { python3 -m venv "$pyenv" && "$pyenv/bin/pip" install --quiet ntc-templates==9.3.0 textfsm==2.1.0; }; then
    echo "install-deps: installing ntc-templates and textfsm into $pyenv failed; the ASA parser checks will be skipped" >&2
  fi
fi
