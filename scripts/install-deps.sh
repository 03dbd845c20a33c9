#!/usr/bin/env bash
# Installs the Debian packages that the interop tests and benchmarks use: strongSwan
# (charon, swanctl and kernel-libipsec for userspace ESP), iperf3, tshark, nftables.
# Safe to run again; does nothing for packages already present.
set -euo pipefail

packages=(strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-standard-plugins
  iperf3 tshark socat iputils-ping nftables tcpdump iproute2 python3-pip)
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
