//! Task counts are process-wide, so this check lives in its own test binary (own process).

use ballast_core::parallel::{for_each_task, pool_size, set_thread_limit, take_task_counts};

#[test]
fn pool_tasks_are_counted_per_thread() {
    take_task_counts();
    for_each_task(64, |_| std::thread::sleep(std::time::Duration::from_millis(1)));
    let counts = take_task_counts();
    assert_eq!(counts.iter().sum::<u64>(), 64);
    if pool_size() > 1 {
        assert_eq!(counts[0], 0, "the caller is not a pool thread and only waits");
        assert!(counts.iter().filter(|&&c| c > 0).count() > 1, "{counts:?}");
    }
    set_thread_limit(Some(1));
    for_each_task(8, |_| {});
    assert_eq!(take_task_counts()[0], 8, "with one thread the caller runs every task");
    set_thread_limit(None);
}
