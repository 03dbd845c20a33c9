//! rampart's algorithm names (the strongSwan spelling that `Encr::name` and friends
//! return) mapped to the tokens that ASA output uses.

/// Cipher family for `show crypto ikev2 sa`'s `Encr:` field.
pub fn ike_encr(encr: &str) -> &'static str {
    if encr.starts_with("AES_CBC") {
        "AES-CBC"
    } else if encr.starts_with("AES_GCM") {
        "AES-GCM"
    } else {
        "NULL"
    }
}

/// Integrity algorithm as the ASA's `Hash:` and `esp_hmac:` fields print it. The
/// truncation length is part of the name for the 96-bit MACs (`SHA96`, `MD596`).
// NOTE: AES-GCM has no integrity transform; ASA 9.x prints `N/A` there as far as the
// Cisco configuration examples show, but no primary source lists every value.
pub fn ike_hash(integ: Option<&str>) -> &'static str {
    match integ {
        Some("HMAC_MD5_96") => "MD596",
        Some("HMAC_SHA1_96") => "SHA96",
        Some("HMAC_SHA2_256_128") => "SHA256",
        Some("HMAC_SHA2_384_192") => "SHA384",
        Some("HMAC_SHA2_512_256") => "SHA512",
        Some(_) => "Unknown",
        None => "N/A",
    }
}

/// Returns the `transform:` pair of `show crypto ipsec sa`, such as `esp-aes-256
/// esp-sha-hmac`. AES-GCM has no separate integrity algorithm and prints `esp-null-hmac`.
pub fn esp_transform(encr: &str, key_bits: u16, integ: Option<&str>) -> (String, &'static str) {
    let cipher = if encr.starts_with("AES_CBC") {
        aes_token("esp-aes", key_bits)
    } else if encr.starts_with("AES_GCM") {
        aes_token("esp-aes-gcm", key_bits)
    } else {
        "esp-null".to_string()
    };
    let mac = match integ {
        Some("HMAC_MD5_96") => "esp-md5-hmac",
        Some("HMAC_SHA1_96") => "esp-sha-hmac",
        Some("HMAC_SHA2_256_128") => "esp-sha-256-hmac",
        Some("HMAC_SHA2_384_192") => "esp-sha-384-hmac",
        Some("HMAC_SHA2_512_256") => "esp-sha-512-hmac",
        Some(_) => "esp-unknown-hmac",
        None => "esp-null-hmac",
    };
    (cipher, mac)
}

/// Appends the key length to an AES token, except for AES-128: the ASA prints
/// `esp-aes` and `esp-aes-gcm` there, as its `protocol esp encryption aes` keyword does.
fn aes_token(base: &str, key_bits: u16) -> String {
    match key_bits {
        192 | 256 => format!("{base}-{key_bits}"),
        _ => base.to_string(),
    }
}

/// IV length in octets: 16 for AES-CBC (RFC 3602), 8 for AES-GCM (RFC 4106 section
/// 3.1), none for NULL.
pub fn iv_size(encr: &str) -> u32 {
    if encr.starts_with("AES_CBC") {
        16
    } else if encr.starts_with("AES_GCM") {
        8
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transform_aes_cbc_256_sha1() {
        assert_eq!(esp_transform("AES_CBC-256", 256, Some("HMAC_SHA1_96")), ("esp-aes-256".to_string(), "esp-sha-hmac"));
    }

    #[test]
    fn transform_aes_128_has_no_length() {
        assert_eq!(esp_transform("AES_CBC-128", 128, Some("HMAC_SHA2_256_128")).0, "esp-aes");
    }

    #[test]
    fn transform_gcm_has_null_hmac() {
        assert_eq!(esp_transform("AES_GCM_16-256", 256, None), ("esp-aes-gcm-256".to_string(), "esp-null-hmac"));
    }

    #[test]
    fn transform_null_md5() {
        assert_eq!(esp_transform("NULL", 0, Some("HMAC_MD5_96")), ("esp-null".to_string(), "esp-md5-hmac"));
    }

    #[test]
    fn hash_names() {
        assert_eq!(ike_hash(Some("HMAC_SHA1_96")), "SHA96");
        assert_eq!(ike_hash(Some("HMAC_SHA2_512_256")), "SHA512");
        assert_eq!(ike_hash(None), "N/A");
    }

    #[test]
    fn iv_sizes() {
        assert_eq!(iv_size("AES_CBC-256"), 16);
        assert_eq!(iv_size("AES_GCM_16-128"), 8);
        assert_eq!(iv_size("NULL"), 0);
    }
}
