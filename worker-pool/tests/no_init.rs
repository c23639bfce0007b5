//! A program that never called `waitless_pool::init` cannot build a process pool: its pool
//! processes would re-execute `main` and run the whole program again. (libtest's generated `main`
//! calls no `init`, so this ordinary test target is such a program.)

use waitless_pool::{PoolError, ProcessPool};

#[test]
fn building_a_process_pool_without_init_fails() {
    match ProcessPool::builder().processes(1).build() {
        Err(PoolError::Spawn(e)) => assert!(e.to_string().contains("init"), "{e}"),
        other => panic!("expected a Spawn error, got {other:?}"),
    }
    assert!(!waitless_pool::is_pool_process());
}
