//! RFC 6238 time-based one-time passwords as authenticator apps compute them: HMAC-SHA-1, 30 s
//! steps from the Unix epoch, 6 digits (RFC 4226's dynamic truncation), and the `otpauth://`
//! URI and its QR code (SVG) that enrol an app.
//!
//! The HMAC is RustCrypto's (`hmac`, `sha1`); base32 is `data-encoding`'s; the QR code is the
//! `qrcode` crate's SVG renderer. What is here is the arithmetic of the two RFCs around them.

use hmac::{Hmac, Mac};
use sha1::Sha1;

/// Seconds per step.
pub const STEP_SECS: i64 = 30;
/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Steps either side of the current one that are accepted (clock drift, typing time).
pub const WINDOW: i64 = 1;
/// Bytes of a new secret: 160 bits, RFC 4226's recommendation for HMAC-SHA-1.
pub const SECRET_BYTES: usize = 20;

/// The step that contains `epoch` (seconds).
pub fn step_at(epoch: i64) -> i64 {
    epoch.div_euclid(STEP_SECS)
}

/// The code of `secret` for step `step`, `DIGITS` digits with leading zeros.
pub fn code_for_step(secret: &[u8], step: i64) -> String {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret).expect("HMAC takes keys of any size");
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    format!(
        "{:0width$}",
        binary % 10u32.pow(DIGITS),
        width = DIGITS as usize
    )
}

/// The code of `secret` at `epoch` (seconds).
pub fn code_at(secret: &[u8], epoch: i64) -> String {
    code_for_step(secret, step_at(epoch))
}

/// The step whose code `code` is, within [`WINDOW`] steps of `epoch`'s; the latest one when
/// two match. Compared in constant time per step.
pub fn matching_step(secret: &[u8], code: &str, epoch: i64) -> Option<i64> {
    let code = code.trim();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_at(epoch);
    (now - WINDOW..=now + WINDOW)
        .rev()
        .find(|step| super::secrets::constant_time_eq(&code_for_step(secret, *step), code))
}

/// RFC 4648 base32 without padding: how `otpauth://` URIs and people carry the secret.
pub fn base32(secret: &[u8]) -> String {
    data_encoding::BASE32_NOPAD.encode(secret)
}

/// The secret back from [`base32`] (case and spaces forgiven, as apps print it in groups).
pub fn from_base32(text: &str) -> Option<Vec<u8>> {
    let cleaned: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    data_encoding::BASE32_NOPAD.decode(cleaned.as_bytes()).ok()
}

/// The `otpauth://totp/` URI of Google's key-URI format: `issuer:account` as the label, the
/// secret, the issuer again, and the parameters spelt out (SHA1, 6 digits, 30 s).
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let enc = |s: &str| percent_encoding::utf8_percent_encode(s, URI_COMPONENT).to_string();
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        enc(issuer),
        enc(account),
        base32(secret),
        enc(issuer),
    )
}

/// Everything but unreserved characters is percent-encoded in the label and the issuer.
const URI_COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The URI as a QR code, an SVG document (black on white, with the quiet zone).
pub fn qr_svg(uri: &str) -> Option<String> {
    let code =
        qrcode::QrCode::with_error_correction_level(uri.as_bytes(), qrcode::EcLevel::M).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B's SHA-1 seed; its 8-digit codes end in these 6 digits.
    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc_6238_test_vectors() {
        for (time, eight_digits) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(code_at(RFC_SECRET, time), eight_digits[2..], "T = {time}");
        }
    }

    #[test]
    fn the_window_is_one_step_either_side() {
        let now = 1_000_000_020; // 10 s into its step
        let step = step_at(now);
        for (offset, accepted) in [(-2, false), (-1, true), (0, true), (1, true), (2, false)] {
            let code = code_for_step(RFC_SECRET, step + offset);
            assert_eq!(
                matching_step(RFC_SECRET, &code, now),
                accepted.then_some(step + offset),
                "offset {offset}"
            );
        }
        assert_eq!(matching_step(RFC_SECRET, "12345", now), None);
        assert_eq!(matching_step(RFC_SECRET, "abcdef", now), None);
    }

    #[test]
    fn base32_round_trips_and_the_uri_carries_it() {
        let encoded = base32(RFC_SECRET);
        assert_eq!(encoded, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(from_base32(&encoded.to_lowercase()).unwrap(), RFC_SECRET);
        let uri = otpauth_uri("Accounts", "jane doe", RFC_SECRET);
        assert_eq!(
            uri,
            "otpauth://totp/Accounts:jane%20doe?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Accounts&algorithm=SHA1&digits=6&period=30"
        );
        let svg = qr_svg(&uri).unwrap();
        assert!(svg.starts_with("<?xml") && svg.contains("<svg"), "{svg}");
    }
}
