//! The allocator settings foley's kernels run (and are measured) with.

/// Keeps freed tensor memory in the process for the next tensor of the same size. glibc's
/// default serves allocations over 128 KiB with fresh `mmap`s and returns them on free, so every
/// large tensor an encoder makes is a new run of pages the kernel must fault in and zero (14 % of
/// `foley generate`'s profile). Heap-served up to 32 MiB (glibc's largest threshold) and no
/// trimming: the demo's features stage 3.19 -> 2.85 s, 14 MB more peak memory (BENCHMARKS).
/// EfficientNet-Lite0's batch of 16 expansions (77 MB each) is over any threshold, so work that
/// runs the encoders (`heap_only`) turns mmap off altogether: the demo's page faults 147 k ->
/// 79 k, CPU time -5..-15 %, peak -30 MB. Training keeps mmap for its multi-GB datasets, whose
/// preparation copies are then returned to the system.
///
/// Call it first thing in `main`, before any other thread exists. glibc only; a no-op elsewhere.
pub fn keep_freed_memory(heap_only: bool) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; the caller runs it before other threads.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        if heap_only {
            libc::mallopt(libc::M_MMAP_MAX, 0);
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = heap_only;
}
