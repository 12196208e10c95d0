//! A function in a commercial region gives the SDK the commercial partition alone, and every
//! endpoint it resolves stays what the SDK's own table gives (`partitions_default`).

mod common;

#[test]
fn a_commercial_region_narrows_the_table_and_keeps_its_endpoints() {
    // SAFETY: the only test of this binary, before it starts any runtime: no other thread
    // reads the environment.
    unsafe {
        std::env::set_var("AWS_REGION", "eu-west-1");
        std::env::remove_var(accounts::aws::PARTITION_TABLE_VAR);
    }
    // SAFETY: as above.
    let narrowed = unsafe { accounts_lambda::narrow_endpoint_partitions() }.unwrap();
    assert!(narrowed);

    let path = std::env::var(accounts::aws::PARTITION_TABLE_VAR).unwrap();
    assert!(path.starts_with("/proc/self/fd/"), "{path}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        accounts::aws::COMMERCIAL_PARTITION_TABLE
    );
    // The variable is named now, so a second call leaves it alone.
    // SAFETY: as above.
    assert!(!unsafe { accounts_lambda::narrow_endpoint_partitions() }.unwrap());
    assert_eq!(
        std::env::var(accounts::aws::PARTITION_TABLE_VAR).unwrap(),
        path
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        assert_eq!(
            common::endpoints::commercial_endpoints().await,
            common::endpoints::COMMERCIAL_ENDPOINTS
        );
        // The table in use is the narrowed one: it knows no China partition, so a China
        // region resolves as a commercial one (why only commercial regions narrow).
        assert_eq!(
            common::endpoints::endpoints("cn-north-1", false, false).await,
            "https://dynamodb.cn-north-1.amazonaws.com https://email.cn-north-1.amazonaws.com https://events.cn-north-1.amazonaws.com"
        );
    });
}
