//! Where the admin clients go when the data client talks to the emulator.
//! The data client speaks gRPC to `SPANNER_EMULATOR_HOST`; the admin
//! clients speak REST, which the emulator serves on a second port.

/// The emulator's REST endpoint for the admin clients, or `None` when no
/// emulator is configured (`grpc_host` unset: real Cloud Spanner, whatever
/// `rest_host` says, so that admin and data clients never part ways).
/// `rest_host` (`SPANNER_EMULATOR_REST_HOST`) wins; otherwise it is the
/// gRPC host with the port plus 10, the emulator's own pairing (9010/9020).
pub fn admin_endpoint(
    grpc_host: Option<&str>,
    rest_host: Option<&str>,
) -> Result<Option<String>, String> {
    let with_scheme = |host: &str| {
        if host.contains("://") {
            host.trim_end_matches('/').to_owned()
        } else {
            format!("http://{host}")
        }
    };
    let Some(grpc) = grpc_host.filter(|h| !h.is_empty()) else {
        return Ok(None);
    };
    if let Some(rest) = rest_host.filter(|h| !h.is_empty()) {
        return Ok(Some(with_scheme(rest)));
    }
    let grpc = with_scheme(grpc);
    let (base, port) = grpc
        .rsplit_once(':')
        .and_then(|(base, port)| Some((base, port.parse::<u16>().ok()?)))
        .ok_or_else(|| {
            format!("SPANNER_EMULATOR_HOST={grpc:?} has no port; set SPANNER_EMULATOR_REST_HOST")
        })?;
    let rest_port = port.checked_add(10).ok_or_else(|| {
        format!(
            "SPANNER_EMULATOR_HOST port {port} + 10 is not a port; set SPANNER_EMULATOR_REST_HOST"
        )
    })?;
    Ok(Some(format!("{base}:{rest_port}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_spanner_needs_no_admin_endpoint() {
        assert_eq!(admin_endpoint(None, None), Ok(None));
        assert_eq!(admin_endpoint(Some(""), None), Ok(None));
        assert_eq!(admin_endpoint(None, Some("localhost:9020")), Ok(None));
    }

    #[test]
    fn the_rest_port_is_the_grpc_port_plus_ten() {
        assert_eq!(
            admin_endpoint(Some("localhost:9010"), None),
            Ok(Some("http://localhost:9020".into()))
        );
        assert_eq!(
            admin_endpoint(Some("127.0.0.1:41234"), None),
            Ok(Some("http://127.0.0.1:41244".into()))
        );
        assert_eq!(
            admin_endpoint(Some("http://emulator:9010/"), None),
            Ok(Some("http://emulator:9020".into()))
        );
    }

    #[test]
    fn an_explicit_rest_host_wins() {
        assert_eq!(
            admin_endpoint(Some("localhost:9010"), Some("localhost:7777")),
            Ok(Some("http://localhost:7777".into()))
        );
    }

    #[test]
    fn a_host_without_a_usable_port_says_what_to_set() {
        assert!(
            admin_endpoint(Some("emulator"), None)
                .unwrap_err()
                .contains("SPANNER_EMULATOR_REST_HOST")
        );
        assert!(admin_endpoint(Some("h:65530"), None).is_err());
    }
}
