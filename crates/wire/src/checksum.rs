//! Placeholder: filled in by the packet-views work.
