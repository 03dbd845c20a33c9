#!/usr/bin/env bash
# Path MTU discovery on the outside path, as the ASA's "#PMTUs rcvd". A router namespace
# between gw and the WAN forwards without NAT, and its route to the WAN has MTU 1300
# while gw's outside interface has 1500. The first large ping with DF from the inside
# host makes gw send an ESP packet the router cannot forward, and the router returns
# ICMP fragmentation needed (MTU 1300). After that gw itself returns fragmentation needed
# for large DF pings, with a next-hop MTU that leaves room for the ESP overhead. A large
# ping without DF arrives at srv in fragments, and `show crypto ipsec sa` shows the
# learned path MTU and PMTUs received. A TCP transfer then adapts to the lower MTU.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
lab_begin pmtu
rampart_require
need_tool tshark python3 iperf3

ROUTER_MTU=1300
# Inner IPv4 packet of 1428 bytes: with ESP in UDP it exceeds 1300, without it fits 1500.
PING_SIZE=1400

# router_insert: namespace "rtr" routes between gw (198.18.0.2/24) and the WAN bridge
# (198.51.100.1/24), without NAT; the edges reach gw through it. The WAN route carries
# MTU ROUTER_MTU as a route metric, which limits forwarding toward the WAN only: a
# lower link MTU would also make the veth drop the large ESP packets coming back.
router_insert() {
  local rtr
  rtr="$(ns rtr)"
  ip netns add "$rtr" || fail "cannot create namespace $rtr"
  LAB_EXTRA_NS="${LAB_EXTRA_NS:-} $rtr"
  ip -n "$rtr" link set lo up
  ip netns exec "$rtr" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
    net.ipv4.conf.default.rp_filter=0
  ip -n "$(ns gw)" link del wan0   # also removes the bridge port "gw" in wan
  ip -n "$(ns gw)" link add wan0 type veth peer name in0 netns "$rtr"
  ip -n "$rtr" link add out0 type veth peer name rtr netns "$(ns wan)"
  ip -n "$(ns wan)" link set rtr master br0 up
  ip -n "$(ns gw)" addr add 198.18.0.2/24 dev wan0
  ip -n "$(ns gw)" link set wan0 up
  ip -n "$(ns gw)" route replace default via 198.18.0.1
  ip -n "$rtr" addr add 198.18.0.1/24 dev in0
  ip -n "$rtr" addr add 198.51.100.1/24 dev out0
  ip -n "$rtr" link set in0 up
  ip -n "$rtr" link set out0 up
  ip -n "$rtr" route replace 198.51.100.0/24 dev out0 proto kernel scope link src 198.51.100.1 \
    mtu "$ROUTER_MTU" || fail "cannot set the route MTU in $rtr"
  local edge
  for edge in edge1 edge2; do ip -n "$(ns "$edge")" route replace 198.18.0.0/24 via 198.51.100.1; done
}

# ping_big DF COUNT: large pings host -> srv, DF set (do) or not (dont); prints ping's output.
ping_big() {
  nx host ping -n -c "$2" -i 0.5 -W 1 -M "$1" -s "$PING_SIZE" "$SRV_ADDR" 2>&1
}

# sa_field FIELD: the field of the first child in `show crypto ipsec sa`.
sa_field() {
  rampart_ctl gw "show crypto ipsec sa" | python3 -c '
import json, sys
children = json.load(sys.stdin).get("children", [])
print(children[0].get(sys.argv[1]) if children else "")' "$1"
}

# ping_nodf: three large pings without DF; true when a reply arrived.
ping_nodf() { ping_big dont 3 >"$LAB_STATE/ping-nodf.txt"; }

# path_mtu_is N: the first child's learned path MTU is N.
path_mtu_is() { [ "$(sa_field path_mtu)" = "$1" ]; }

router_insert
cfg="$LAB_STATE/gw.cfg"
gw_config "$cfg"
sed -i 's/ip address 198\.51\.100\.1 255\.255\.255\.0/ip address 198.18.0.2 255.255.255.0/' "$cfg"
sed -i 's/^route outside 0\.0\.0\.0 0\.0\.0\.0 .*/route outside 0.0.0.0 0.0.0.0 198.18.0.1 1/' "$cfg"
gw_up "$cfg"
rampart_ctl gw "show crypto ipsec sa" >/dev/null || skip "rampart has no control socket, so PMTUs received cannot be read"

# The first large DF ping leaves gw as an ESP packet over 1300 bytes; the router drops it
# and returns fragmentation needed to gw.
first=$(ping_big do 1)
log "first DF ping: $(echo "$first" | grep 'packets transmitted')"
expect "rampart learned the router's MTU" wait_for 10 "path MTU $ROUTER_MTU in show crypto ipsec sa" path_mtu_is "$ROUTER_MTU"
pmtus=$(sa_field pmtus_rcvd)
log "show crypto ipsec sa: path_mtu $(sa_field path_mtu), pmtus_rcvd $pmtus"
expect "show crypto ipsec sa counts PMTUs received" [ "${pmtus:-0}" -gt 0 ]
expect "rampart logged the lowered path MTU" rampart_log_has gw "path MTU lowered"

# Now gw itself returns fragmentation needed for large DF packets, with its MTU for
# inner packets, below the router's.
second=$(ping_big do 3)
echo "$second" >"$LAB_STATE/ping-df.txt"
inner_mtu=$(echo "$second" | grep -o 'mtu *= *[0-9]*' | head -n 1 | grep -o '[0-9]*$')
log "gw's fragmentation needed reports next-hop MTU ${inner_mtu:-none}"
expect "gw answers the DF ping with fragmentation needed" [ -n "$inner_mtu" ]
expect "the reported MTU leaves room for ESP below $ROUTER_MTU" [ "${inner_mtu:-9999}" -lt "$ROUTER_MTU" ]
expect "the reported MTU is not below 1200 (ESP overhead under 100 bytes)" [ "${inner_mtu:-0}" -gt 1200 ]
expect "the fragmentation needed came from gw's inside address" grep -q 'From 198\.18\.1\.1' "$LAB_STATE/ping-df.txt"
sent=$(sa_field pmtus_sent)
log "show crypto ipsec sa: pmtus_sent $sent"
expect "show crypto ipsec sa counts PMTUs sent" [ "${sent:-0}" -gt 0 ]

# Without DF gw fragments before encryption. The host's route cache is flushed first,
# so that gw, not the host, splits the packet.
nx host ip route flush cache
capture_start srv br0 "$LAB_STATE/srv.pcapng" 30 icmp
frags0=$(sa_field fragments_created)
expect "a large ping without DF gets replies" ping_nodf
capture_stop
frags1=$(sa_field fragments_created)
log "fragments created by gw: $((${frags1:-0} - ${frags0:-0}))"
expect "gw fragmented before encryption" [ "$((${frags1:-0} - ${frags0:-0}))" -gt 0 ]
fragments=$(capture_count "$LAB_STATE/srv.pcapng" "ip.src == $HOST_ADDR && ip.flags.mf == 1")
log "fragments of the host's pings seen on srv: $fragments"
expect "the ping arrives at srv in fragments" [ "${fragments:-0}" -gt 0 ]

# A TCP transfer after the path MTU dropped. The host's TCP starts with segments too big
# for the tunnel, which reach gw as TSO super-packets. gw replies to each oversized segment
# with fragmentation needed, and the host's TCP continues with smaller segments.
nx host ip route flush cache
iperf_server_start
expect "iperf3 TCP 3 s through the lowered path MTU" iperf_run 3 1 "$LAB_STATE/iperf.json"
mbps=$(iperf_mbps "$LAB_STATE/iperf.json")
log "iperf3 through the lowered path MTU: $mbps Mbit/s"
expect "the transfer through the lowered path MTU moved data" [ "${mbps:-0}" -gt 0 ]
expect "rampart still runs" rampart_alive gw
finish
