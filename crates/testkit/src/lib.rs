//! Simulated network and virtual clock for driving IKEv2 engines in tests.
