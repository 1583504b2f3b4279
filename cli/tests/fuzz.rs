//! Fuzzing the CLI's parsers (issue 19) with structured mutation of valid
//! seeds (`testkit::fuzz`): spreadsheet rows (CSV, UTF-8 and GBK, every
//! kind's columns) and yuan amounts. No input may panic or hang, no
//! amount read is past 2^53-1 fen (it was, for a 20-digit yuan amount:
//! a row the node would have refused instead of a row error here), and no
//! fund or need id read is outside SPEC §6's pattern (a `/` or `?` in one
//! was looked up at another URL and aborted the import).
//!
//! `FUZZ_CASES` sets the cases per target (default 512; the long form is
//! 100,000).

use cli::import::{read_rows, yuan_to_fen};
use ledger::domain::Kind;
use proptest::prelude::*;
use testkit::fuzz::{config, mutated};

fn csv_seeds() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = ["disbursements-gbk.csv", "disbursements-en.csv"]
        .iter()
        .chain(["households-gbk.csv"].iter())
        .map(|f| std::fs::read(format!("{}/samples/{f}", env!("CARGO_MANIFEST_DIR"))).unwrap())
        .collect();
    out.push(
        "身份证号,资金编号,类别,致困原因,金额（元）,发放方式,区划代码,发放日期,凭证号\n\
         11010519491231002X,MZ-2026-MED,assisted,illness,1200.50,cash,321181,2026-03-01,DSB-1\n\
         11010519491231002X,MZ-2026-MED,assisted,illness,90071992547409.91,cash,321181,2026-03-01,DSB-2\n\
         11010519491231002X,MZ-2026-MED,assisted,illness,90071992547409.92,cash,321181,2026-03-01,DSB-3\n"
            .as_bytes()
            .to_vec(),
    );
    out
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn spreadsheet_rows(input in mutated(csv_seeds()), kind in 0usize..9) {
        let kind = [
            Kind::Disbursement, Kind::FundReceive, Kind::CreditAward, Kind::NeedPublish,
            Kind::HouseholdMonitor, Kind::HouseholdVisit, Kind::HouseholdClose, Kind::FundRecover,
            Kind::NeedReview,
        ][kind];
        for encoding in ["auto", "utf-8", "gbk"] {
            if let Ok(mut rows) = read_rows(&input, encoding, kind) {
                // The pseudonym service's part, stood in for: one a domain.
                rows.pseudonymise(&|d, ids| Ok(vec![format!("{}_{}", d.label(), "0".repeat(64)); ids.len()]))
                    .unwrap();
                // Every amount read is one an entry may hold.
                for (row, body) in &rows.bodies {
                    if let Some(amount) = body.get("amount") {
                        prop_assert!(amount.as_u64().is_some_and(|a| a < 1 << 53), "row {row}: amount {amount}");
                    }
                    // Every fund or need id read is one (SPEC §6): nothing
                    // that would change the URL it is looked up at.
                    for field in ["fund", "need"] {
                        if let Some(id) = body.get(field) {
                            let ok = id.as_str().is_some_and(|s| {
                                (1..=96).contains(&s.len())
                                    && s.bytes().all(|b| b.is_ascii_alphanumeric() || b".-_:".contains(&b))
                            });
                            prop_assert!(ok, "row {row}: {field} {id}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn yuan_amounts(input in mutated(vec![b"1200.50".to_vec(), "１,２００.５".as_bytes().to_vec(), b"0.01".to_vec()])) {
        if let Ok(text) = std::str::from_utf8(&input) {
            if let Ok(fen) = yuan_to_fen(text) {
                prop_assert!(fen < 1u64 << 53, "{text} gave {fen}");
            }
        }
    }
}

/// Valid evaluation requests (SPEC §6.3) signed now, as seeds.
fn request_seeds() -> Vec<Vec<u8>> {
    let key = ed25519_dalek::SigningKey::from_bytes(&[2; 32]);
    [1usize, 3]
        .iter()
        .map(|n| {
            let inputs = (0..*n).map(|i| vec![b'a' + i as u8]).collect();
            let elements = ledger::oprf::blind(&mut rand_core::OsRng, inputs).elements;
            let at = ledger::entry::format_timestamp(std::time::SystemTime::now());
            let r = ledger::oprf::Request::sign(&key, "CN-USCI-53440300MJ0000018R", at, &elements)
                .unwrap();
            serde_json::to_vec(&r).unwrap()
        })
        .collect()
}

proptest! {
    #![proptest_config(config(512))]

    /// The pseudonym service's request parser: no input panics; what it
    /// takes is signed, fresh and of 1 to 1,000 elements of 32 bytes; what
    /// it refuses, it refuses with one of the codes §6.3 gives it.
    #[test]
    fn pseudonym_requests(input in mutated(request_seeds())) {
        use cli::pseudonym::service::{check_request, WINDOW};
        use ledger::code::Code;
        let now = std::time::SystemTime::now();
        match check_request(&input, now) {
            Ok((request, elements)) => {
                prop_assert!(request.verify().is_ok());
                prop_assert!((1..=1_000).contains(&elements.len()));
                let at = ledger::entry::parse_timestamp(&request.issued_at).unwrap();
                let off = now.duration_since(at).or_else(|_| at.duration_since(now)).unwrap();
                prop_assert!(off <= WINDOW);
            }
            Err((code, message)) => {
                prop_assert!(
                    matches!(code, Code::MalformedJson | Code::TooLarge | Code::SchemaViolation | Code::BadSignature),
                    "{code:?}: {message}"
                );
                prop_assert!(!message.is_empty());
            }
        }
    }
}
