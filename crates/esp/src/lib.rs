//! ESP (RFC 4303) security association database and packet transforms.
