#!/usr/bin/env python3
"""The ciscoconfparse2 side of the config benchmark: parse FILE with ASA syntax and
collect the children of every crypto map and access-list line, the work rampart's
parser does before its checks. Prints the counts so the work cannot be skipped."""

import sys

from ciscoconfparse2 import CiscoConfParse


def main():
    parse = CiscoConfParse(sys.argv[1], syntax="asa")
    crypto = parse.find_objects(r"^crypto map")
    acls = parse.find_objects(r"^access-list")
    children = sum(len(o.children) for o in crypto) + sum(len(o.children) for o in acls)
    print(f"crypto map lines {len(crypto)}, access-list lines {len(acls)}, children {children}")


if __name__ == "__main__":
    main()
